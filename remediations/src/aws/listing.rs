//! Paginated listings streamed into the reads that follow them.
//!
//! A listing whose items each need a read of their own (KMS keys, then each key's rotation)
//! must not wait for its last page before the first item is read, nor walk the collected
//! pages a second time: on an account with thousands of items the pages alone take seconds.
//! [`read_each`] asks for the next page as soon as one arrives and starts each item's read as
//! soon as its page is in; the budgets pace both.

use std::error::Error as StdError;
use std::fmt::Debug;
use std::future::Future;

use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::{channel::mpsc, Stream, StreamExt, TryStreamExt};

use super::AwsError;

/// A paginator's pages (`into_paginator().send()`) as a stream, each page turned into its
/// items by `items`, an error named as `action` (`kms:ListKeys`).
pub fn pages<P, E, R, I>(
    action: &'static str,
    mut pager: PaginationStream<Result<P, SdkError<E, R>>>,
    mut items: impl FnMut(P) -> Vec<I>,
) -> impl Stream<Item = Result<Vec<I>, AwsError>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    futures::stream::poll_fn(move |c| pager.poll_next(c)).map(move |page| match page {
        Ok(p) => Ok(items(p)),
        Err(e) => Err(AwsError::from_sdk(action, e)),
    })
}

/// `read` of every item of a paginated listing (`pages`: each page's items, or the error that
/// ended the listing), at most `at_once` reads in flight, while the next pages are asked for.
/// The answers come in listing order; the first error, a page's or a read's, ends it.
pub async fn read_each<I, O, Fut>(
    pages: impl Stream<Item = Result<Vec<I>, AwsError>>,
    at_once: usize,
    read: impl FnMut(I) -> Fut,
) -> Result<Vec<O>, AwsError>
where
    Fut: Future<Output = Result<O, AwsError>>,
{
    let (tx, rx) = mpsc::unbounded();
    let list = async move {
        let mut pages = std::pin::pin!(pages);
        while let Some(page) = pages.next().await {
            for item in page? {
                // The receiver is gone only once a read has failed, which ends it anyway.
                let _ = tx.unbounded_send(item);
            }
        }
        // `tx` is dropped here: the reads end with the last item.
        Ok::<(), AwsError>(())
    };
    let reads = rx.map(read).buffered(at_once.max(1)).try_collect();
    let ((), out) = futures::try_join!(list, reads)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ErrorKind;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::sync::Notify;

    fn err(what: &str) -> AwsError {
        AwsError::new(ErrorKind::Service, "test:List", what.to_string())
    }

    /// The second page is given only once the first page's item is being read: a listing
    /// read to its end before its items would never finish (the timeout says so).
    #[tokio::test]
    async fn an_item_is_read_before_the_next_page_arrives() {
        let reading = Arc::new(Notify::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let pages = {
            let (reading, log) = (reading.clone(), log.clone());
            futures::stream::unfold(0, move |n| {
                let (reading, log) = (reading.clone(), log.clone());
                async move {
                    match n {
                        0 => Some((Ok(vec!["a", "b"]), 1)),
                        1 => {
                            reading.notified().await;
                            log.lock().unwrap().push("page 2".to_string());
                            Some((Ok(vec!["c"]), 2))
                        }
                        _ => None,
                    }
                }
            })
        };
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            read_each(pages, 4, |item: &str| {
                let (reading, log) = (reading.clone(), log.clone());
                async move {
                    log.lock().unwrap().push(format!("read {item}"));
                    reading.notify_one();
                    tokio::task::yield_now().await;
                    Ok(item.to_uppercase())
                }
            }),
        )
        .await
        .expect("the first page's items must be read before the listing ends")
        .unwrap();
        assert_eq!(out, ["A", "B", "C"], "answers in listing order");
        let log = log.lock().unwrap();
        assert_eq!(log.first().map(String::as_str), Some("read a"), "{log:?}");
        assert_eq!(log.len(), 4, "each item read once: {log:?}");
    }

    /// A page that fails ends the listing with its error, whatever was read before it.
    #[tokio::test]
    async fn a_failing_page_is_the_answer() {
        let pages = futures::stream::iter(vec![Ok(vec![1, 2]), Err(err("page 2 refused"))]);
        let out = read_each(pages, 2, |i: i32| async move { Ok(i) }).await;
        assert_eq!(out.unwrap_err().message, "page 2 refused");
    }

    /// A read that fails ends it too; the items after it are not all read.
    #[tokio::test]
    async fn a_failing_read_is_the_answer() {
        let pages = futures::stream::iter(vec![Ok((1..=100).collect::<Vec<i32>>())]);
        let read = Arc::new(Mutex::new(0));
        let out = read_each(pages, 1, |i: i32| {
            let read = read.clone();
            async move {
                *read.lock().unwrap() += 1;
                if i == 2 {
                    Err(err("no"))
                } else {
                    Ok(i)
                }
            }
        })
        .await;
        assert_eq!(out.unwrap_err().message, "no");
        assert!(*read.lock().unwrap() < 100);
    }
}
