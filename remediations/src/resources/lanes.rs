//! Work spread over regions: each region has its own request budget (S3, CloudTrail, KMS, …),
//! and resources sorted by name often come a region at a time (`logs-eu-west-1-…`), so one
//! queue for all would spend one region's budget while the others idle. Each region gets a
//! lane of its own; the lanes run side by side.

use std::collections::BTreeMap;
use std::future::Future;

use futures::stream::{self, StreamExt};

/// Run each (region, future), `at_once` at a time in each region and the regions side by
/// side; the results in the order given.
pub async fn per_region<T, Fut>(work: Vec<(&str, Fut)>, at_once: usize) -> Vec<T>
where
    Fut: Future<Output = T>,
{
    let n = work.len();
    let mut lanes: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (i, (region, fut)) in work.into_iter().enumerate() {
        lanes.entry(region).or_default().push(indexed(i, fut));
    }
    let lanes = lanes
        .into_values()
        .map(|lane| stream::iter(lane).buffered(at_once).collect::<Vec<_>>());
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for (i, t) in futures::future::join_all(lanes).await.into_iter().flatten() {
        out[i] = Some(t);
    }
    out.into_iter().flatten().collect()
}

async fn indexed<T>(i: usize, fut: impl Future<Output = T>) -> (usize, T) {
    (i, fut.await)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nine reads in one region wait until the one read in another region has run: with one
    /// queue for all, in name order, the first eight would hold every slot and never finish.
    #[tokio::test]
    async fn each_region_reads_in_its_own_lane_and_results_keep_their_order() {
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let mut work = Vec::new();
        for i in 0..9 {
            let gate = gate.clone();
            let fut: std::pin::Pin<Box<dyn std::future::Future<Output = String>>> =
                Box::pin(async move {
                    let _ = gate.acquire().await.unwrap();
                    format!("a{i}")
                });
            work.push(("eu-west-1", fut));
        }
        let opener = gate.clone();
        work.push((
            "us-east-1",
            Box::pin(async move {
                opener.add_permits(100);
                "b".to_string()
            }),
        ));
        let out = tokio::time::timeout(std::time::Duration::from_secs(5), per_region(work, 8))
            .await
            .expect("the other region's read was never started");
        let want: Vec<String> = (0..9)
            .map(|i| format!("a{i}"))
            .chain(["b".to_string()])
            .collect();
        assert_eq!(out, want);
    }
}
