//! State that survives the machine: with `--state s3://BUCKET/PREFIX` the journal and the run
//! lock live in S3 instead of the local state directory, as Terraform's S3 backend does with a
//! lock file (docs/state.md).
//!
//! - Each run is the object `PREFIX/runs/RUN.jsonl`, rewritten whole after every entry (the
//!   first write with `If-None-Match: *`, the next ones with `If-Match` on the last ETag), so
//!   an Intent is in S3 before its change is made and a run rewritten by someone else between
//!   two entries stops the writer.
//! - The journal's HMAC key is `PREFIX/journal.key`, made once with `If-None-Match: *`.
//! - The lock is `PREFIX/lock`, taken with `If-None-Match: *`, its body naming the holder,
//!   deleted with `If-Match` at the end; a stale one is taken over only with `--force-unlock`.
//! - Before first use the bucket is checked: this account's (in its ListBuckets, and every call
//!   passes `ExpectedBucketOwner`), versioning enabled, default encryption on.
//!
//! The journal and the lock are synchronous (a local fsync blocks the same way); the S3 calls
//! are made with `block_in_place` on the multi-thread runtime the binary runs on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::aws::{AwsContext, AwsError};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The bucket is not fit to hold state (what to fix is in the message).
    #[error("state bucket '{bucket}' {message}; nothing was changed")]
    Unfit { bucket: String, message: String },
    #[error("S3 state {url}: {source}")]
    Aws {
        url: String,
        #[source]
        source: AwsError,
    },
    #[error("S3 state {url}: {message}")]
    Other { url: String, message: String },
}

/// `s3://BUCKET/PREFIX`, checked before any call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing slashes; may be empty.
    pub prefix: String,
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix.is_empty() {
            true => write!(f, "s3://{}", self.bucket),
            false => write!(f, "s3://{}/{}", self.bucket, self.prefix),
        }
    }
}

impl std::str::FromStr for S3Location {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| {
            format!("'{s}' is not an S3 location: expected s3://BUCKET/PREFIX (local state: --state-dir)")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let ok_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && bucket
                .bytes()
                .last()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok_bucket {
            return Err(format!(
                "'{bucket}' in {s} is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.contains("//")
            || prefix.chars().any(char::is_control)
        {
            return Err(format!(
                "'{prefix}' in {s} is not a usable key prefix (no empty, '.' or '..' parts)"
            ));
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl S3Location {
    /// The object key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        match self.prefix.is_empty() {
            true => name.to_string(),
            false => format!("{}/{name}", self.prefix),
        }
    }

    pub fn url_of(&self, name: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(name))
    }
}

/// Run `f` to completion from synchronous code inside the runtime (the calling worker hands
/// its other tasks over while it waits). Outside a multi-thread runtime: an error, no panic.
pub fn block_on<F: Future>(f: F) -> Result<F::Output, String> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| "S3 state is used outside the async runtime".to_string())?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err("S3 state needs the multi-thread runtime".into());
    }
    Ok(tokio::task::block_in_place(|| handle.block_on(f)))
}

/// A connected, checked S3 state.
#[derive(Debug)]
pub struct S3State {
    pub loc: S3Location,
    /// The caller's account: the bucket's expected owner.
    pub owner: String,
    client: aws_sdk_s3::Client,
    /// The journal key, once read or made.
    key: Mutex<Option<Vec<u8>>>,
    /// Objects this process has read or written, by key: read once per run.
    seen: Mutex<HashMap<String, String>>,
}

/// The state of this process, per location (one in practice).
static OPEN: Mutex<Vec<Arc<S3State>>> = Mutex::new(Vec::new());

/// The S3 state at `loc`, reached through `caller` (the run's own connection: its account is
/// the bucket's expected owner) and checked on first use in this process; later uses share it
/// (the checks are made once).
pub fn open(loc: &S3Location, caller: &AwsContext) -> Result<Arc<S3State>, StateError> {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = open.iter().find(|s| s.loc == *loc) {
        return Ok(s.clone());
    }
    let other = |message: String| StateError::Other {
        url: loc.to_string(),
        message,
    };
    let state = block_on(check(loc, caller)).map_err(other)??;
    let state = Arc::new(state);
    open.push(state.clone());
    Ok(state)
}

/// Check the bucket (this account's, versioned, encrypted) and make the state's client.
async fn check(loc: &S3Location, aws: &AwsContext) -> Result<S3State, StateError> {
    let url = loc.to_string();
    let aws_e = |source: AwsError| StateError::Aws {
        url: url.clone(),
        source,
    };
    let owner = aws.account.id.clone();
    let unfit = |message: String| StateError::Unfit {
        bucket: loc.bucket.clone(),
        message,
    };
    let b = &loc.bucket;
    // Where the bucket is (the home region's client first).
    let home = aws.s3(&aws.home_region);
    let region = match home
        .head_bucket()
        .bucket(b)
        .expected_bucket_owner(&owner)
        .send()
        .await
    {
        Ok(out) => out.bucket_region().map(str::to_string),
        Err(e) => {
            let e = AwsError::from_sdk("s3:HeadBucket", e);
            return Err(match e.code.as_deref() {
                Some("NotFound" | "NoSuchBucket") => unfit(format!(
                    "does not exist: create it in account {owner} with versioning and default encryption (docs/state.md)"
                )),
                Some("Forbidden" | "AccessDenied" | "403") => unfit(format!(
                    "cannot be reached by account {owner} ({e}): it belongs to another account, or the caller lacks s3:ListBucket on it"
                )),
                _ => aws_e(e),
            });
        }
    };
    let client = match region {
        Some(r) if r != aws.home_region => aws.s3(&r),
        _ => home,
    };
    // Owned by this account: moto accepts ExpectedBucketOwner without enforcing it, so the
    // caller's own bucket list is asked too (where that is allowed).
    match client.list_buckets().send().await {
        Ok(out) => {
            if !out.buckets().iter().any(|x| x.name() == Some(b.as_str())) {
                return Err(unfit(format!(
                    "is not owned by account {owner} (the caller's; it is not in its ListBuckets): keep state in a bucket of this account"
                )));
            }
        }
        Err(e) => {
            let e = AwsError::from_sdk("s3:ListAllMyBuckets", e);
            if e.kind != crate::aws::ErrorKind::AccessDenied {
                return Err(aws_e(e));
            }
            tracing::info!(error = %e, "cannot list this account's buckets; the owner is checked by ExpectedBucketOwner alone");
        }
    }
    let status = match client
        .get_bucket_versioning()
        .bucket(b)
        .expected_bucket_owner(&owner)
        .send()
        .await
    {
        Ok(v) => v.status().map(|s| s.as_str().to_string()),
        // moto 5.2.5 names its answer's root element GetBucketVersioningResponse, which the
        // SDK does not parse: a 200 answer is read for its Status element then.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
            let body = e
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .unwrap_or_default();
            ["Enabled", "Suspended"]
                .into_iter()
                .find(|s| body.contains(&format!("<Status>{s}</Status>")))
                .map(str::to_string)
        }
        Err(e) => return Err(aws_e(AwsError::from_sdk("s3:GetBucketVersioning", e))),
    };
    if status.as_deref() != Some("Enabled") {
        return Err(unfit(format!(
            "has versioning {}: turn it on (aws s3api put-bucket-versioning --bucket {b} --versioning-configuration Status=Enabled)",
            status.as_deref().map_or("off".to_string(), str::to_lowercase)
        )));
    }
    let no_encryption = || {
        unfit(format!(
            "has no default encryption: turn it on (aws s3api put-bucket-encryption --bucket {b} --server-side-encryption-configuration '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"aws:kms\"}}}}]}}')"
        ))
    };
    match client
        .get_bucket_encryption()
        .bucket(b)
        .expected_bucket_owner(&owner)
        .send()
        .await
    {
        Ok(out) => {
            let rules = out
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default();
            if !rules
                .iter()
                .any(|r| r.apply_server_side_encryption_by_default().is_some())
            {
                return Err(no_encryption());
            }
        }
        Err(e) => {
            let e = AwsError::from_sdk("s3:GetEncryptionConfiguration", e);
            if e.is_code("ServerSideEncryptionConfigurationNotFoundError") {
                return Err(no_encryption());
            }
            return Err(aws_e(e));
        }
    }
    tracing::info!(state = %loc, owner = %owner, "S3 state checked: this account's, versioned, encrypted");
    Ok(S3State {
        loc: loc.clone(),
        owner,
        client,
        key: Mutex::new(None),
        seen: Mutex::new(HashMap::new()),
    })
}

/// A conditional write's outcome.
pub enum Put {
    Done {
        etag: Option<String>,
    },
    /// The condition did not hold (412).
    Precondition,
}

impl S3State {
    fn err(&self, source: AwsError) -> StateError {
        StateError::Aws {
            url: self.loc.to_string(),
            source,
        }
    }

    fn run<F: Future<Output = Result<T, StateError>>, T>(&self, f: F) -> Result<T, StateError> {
        block_on(f).map_err(|message| StateError::Other {
            url: self.loc.to_string(),
            message,
        })?
    }

    /// The object `name` (under the prefix) and its ETag; `None` when there is none.
    pub fn get(&self, name: &str) -> Result<Option<(String, Option<String>)>, StateError> {
        let key = self.loc.key(name);
        self.run(async {
            match self
                .client
                .get_object()
                .bucket(&self.loc.bucket)
                .key(&key)
                .expected_bucket_owner(&self.owner)
                .send()
                .await
            {
                Ok(out) => {
                    let etag = out.e_tag().map(str::to_string);
                    let bytes = out.body.collect().await.map_err(|e| StateError::Other {
                        url: self.loc.url_of(name),
                        message: format!("reading it: {e}"),
                    })?;
                    let text =
                        String::from_utf8(bytes.to_vec()).map_err(|_| StateError::Other {
                            url: self.loc.url_of(name),
                            message: "it is not UTF-8 text".into(),
                        })?;
                    Ok(Some((text, etag)))
                }
                Err(e) => {
                    let e = AwsError::from_sdk("s3:GetObject", e);
                    if e.is_code("NoSuchKey") {
                        Ok(None)
                    } else {
                        Err(self.err(e))
                    }
                }
            }
        })
    }

    /// A journal object's text, read once per process (later asks get what was read or
    /// written).
    pub fn read_cached(&self, name: &str) -> Result<Option<String>, StateError> {
        if let Some(t) = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(Some(t.clone()));
        }
        let got = self.get(name)?.map(|(t, _)| t);
        if let Some(t) = &got {
            self.remember(name, t);
        }
        Ok(got)
    }

    fn remember(&self, name: &str, text: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), text.to_string());
    }

    /// Write `name`: only if absent (`if_none_match`), only over `if_match`, or unconditionally.
    pub fn put(
        &self,
        name: &str,
        body: &str,
        if_none_match: bool,
        if_match: Option<&str>,
    ) -> Result<Put, StateError> {
        let key = self.loc.key(name);
        let put = self.run(async {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.loc.bucket)
                .key(&key)
                .expected_bucket_owner(&self.owner)
                .content_type("text/plain; charset=utf-8")
                .body(ByteStream::from(body.as_bytes().to_vec()));
            if if_none_match {
                req = req.if_none_match("*");
            }
            if let Some(t) = if_match {
                req = req.if_match(t);
            }
            match req.send().await {
                Ok(out) => Ok(Put::Done {
                    etag: out.e_tag().map(str::to_string),
                }),
                Err(e) => {
                    let e = AwsError::from_sdk("s3:PutObject", e);
                    if e.is_code("PreconditionFailed") || e.is_code("ConditionalRequestConflict") {
                        Ok(Put::Precondition)
                    } else {
                        Err(self.err(e))
                    }
                }
            }
        })?;
        if matches!(put, Put::Done { .. }) {
            self.remember(name, body);
        }
        Ok(put)
    }

    /// Delete `name` if its ETag is still `etag`; `false` when it changed (or is gone).
    pub fn delete_if_match(&self, name: &str, etag: &str) -> Result<bool, StateError> {
        let key = self.loc.key(name);
        self.run(async {
            match self
                .client
                .delete_object()
                .bucket(&self.loc.bucket)
                .key(&key)
                .expected_bucket_owner(&self.owner)
                .if_match(etag)
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e) => {
                    let e = AwsError::from_sdk("s3:DeleteObject", e);
                    if e.is_code("PreconditionFailed") || e.is_code("NoSuchKey") {
                        Ok(false)
                    } else {
                        Err(self.err(e))
                    }
                }
            }
        })
    }

    /// The names (relative to the prefix) of the objects under `dir/`.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, StateError> {
        let base = self.loc.key(dir) + "/";
        let strip = match self.loc.prefix.is_empty() {
            true => 0,
            false => self.loc.prefix.len() + 1,
        };
        self.run(async {
            let mut names = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.loc.bucket)
                    .prefix(&base)
                    .expected_bucket_owner(&self.owner)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| self.err(AwsError::from_sdk("s3:ListBucket", e)))?;
                names.extend(
                    out.contents()
                        .iter()
                        .filter_map(|o| o.key())
                        .map(|k| k[strip.min(k.len())..].to_string()),
                );
                match out.next_continuation_token() {
                    Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
            Ok(names)
        })
    }

    /// The journal's HMAC key (`PREFIX/journal.key`, 64 hex digits); made with
    /// `If-None-Match: *` when `create` and there is none (a run making it at the same moment
    /// wins, and its key is used).
    pub fn journal_key(&self, create: bool) -> Result<Option<Vec<u8>>, StateError> {
        let mut cached = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cached.as_ref() {
            return Ok(Some(k.clone()));
        }
        let bad = || {
            StateError::Other {
            url: self.loc.url_of(KEY_OBJECT),
            message: "the journal key is not 64 hex digits; it was edited: restore its previous version (the bucket is versioned)".into(),
        }
        };
        let parse = |t: &str| match hex::decode(t.trim()) {
            Ok(k) if k.len() == 32 => Ok(k),
            _ => Err(bad()),
        };
        let key = match self.get(KEY_OBJECT)? {
            Some((t, _)) => parse(&t)?,
            None if !create => return Ok(None),
            None => {
                let mut fresh = [0u8; 32];
                use std::io::Read;
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut fresh))
                    .map_err(|e| StateError::Other {
                        url: self.loc.to_string(),
                        message: format!("/dev/urandom: {e}"),
                    })?;
                match self.put(KEY_OBJECT, &(hex::encode(fresh) + "\n"), true, None)? {
                    Put::Done { .. } => fresh.to_vec(),
                    Put::Precondition => match self.get(KEY_OBJECT)? {
                        Some((t, _)) => parse(&t)?,
                        None => return Err(bad()),
                    },
                }
            }
        };
        *cached = Some(key.clone());
        Ok(Some(key))
    }
}

const KEY_OBJECT: &str = "journal.key";
const LOCK_OBJECT: &str = "lock";

/// What the lock object says about its holder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    /// The id `--force-unlock` takes; a single-account apply or undo journals under it.
    pub run: String,
    pub what: String,
    pub host: String,
    pub pid: u32,
    pub at: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {}: {} on host {}, pid {}",
            self.run, self.what, self.host, self.pid
        )
    }
}

/// The S3 lock, held while the value lives (deleted on drop if it is still this one).
#[derive(Debug)]
pub struct S3Lock {
    state: Arc<S3State>,
    etag: Option<String>,
    pub info: LockInfo,
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        let Some(etag) = &self.etag else { return };
        match self.state.delete_if_match(LOCK_OBJECT, etag) {
            Ok(true) => tracing::debug!(lock = %self.state.loc.url_of(LOCK_OBJECT), "released"),
            Ok(false) => {
                tracing::warn!(lock = %self.state.loc.url_of(LOCK_OBJECT), "the lock was taken over by another run (--force-unlock); left as it is")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not release the S3 lock: `--force-unlock {}` frees it", self.info.run)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3LockError {
    #[error("another cis-fix run holds the state lock {url} ({holder}, since {since}); wait for it to finish, or if that run is dead, take the lock over with --force-unlock {run}")]
    Held {
        url: String,
        holder: String,
        since: String,
        run: String,
    },
    #[error(
        "--force-unlock {given} does not name the holder of {url} ({holder}); nothing was changed"
    )]
    WrongRun {
        url: String,
        given: String,
        holder: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer this function owns.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl S3State {
    /// Take the lock for `what` under the id `run`; with `force_unlock`, take over a lock whose
    /// holder is that run (and only that one).
    pub fn lock(
        self: &Arc<Self>,
        run: &str,
        what: &str,
        force_unlock: Option<&str>,
    ) -> Result<S3Lock, S3LockError> {
        let url = self.loc.url_of(LOCK_OBJECT);
        let info = LockInfo {
            run: run.to_string(),
            what: what.to_string(),
            host: hostname(),
            pid: std::process::id(),
            at: crate::plan::now_rfc3339(),
        };
        let body = serde_json::to_string(&info).unwrap_or_default() + "\n";
        let held = |text: &str| -> LockInfo {
            serde_json::from_str(text).unwrap_or_else(|_| LockInfo {
                run: "?".into(),
                what: format!("unreadable lock body: {}", text.trim()),
                host: "?".into(),
                pid: 0,
                at: "?".into(),
            })
        };
        let etag = match self.put(LOCK_OBJECT, &body, true, None)? {
            Put::Done { etag } => {
                if let Some(id) = force_unlock {
                    tracing::warn!(lock = %url, "--force-unlock {id}: the lock was free; taken normally");
                }
                etag
            }
            Put::Precondition => {
                let Some((text, their_etag)) = self.get(LOCK_OBJECT)? else {
                    // Released between the two calls: try once more.
                    return match self.put(LOCK_OBJECT, &body, true, None)? {
                        Put::Done { etag } => Ok(S3Lock {
                            state: self.clone(),
                            etag,
                            info,
                        }),
                        Put::Precondition => Err(S3LockError::Held {
                            url,
                            holder: "another run, just now".into(),
                            since: info.at.clone(),
                            run: "?".into(),
                        }),
                    };
                };
                let h = held(&text);
                match force_unlock {
                    None => {
                        return Err(S3LockError::Held {
                            url,
                            holder: h.to_string(),
                            since: h.at.clone(),
                            run: h.run.clone(),
                        })
                    }
                    Some(id) if id != h.run => {
                        return Err(S3LockError::WrongRun {
                            url,
                            given: id.to_string(),
                            holder: h.to_string(),
                        })
                    }
                    Some(_) => {}
                }
                // Replace exactly the stale lock that was read: a run that took it meanwhile
                // keeps it.
                let Some(their) = their_etag else {
                    return Err(StateError::Other {
                        url,
                        message: "the lock object has no ETag to take it over with".into(),
                    }
                    .into());
                };
                match self.put(LOCK_OBJECT, &body, false, Some(&their))? {
                    Put::Done { etag } => {
                        tracing::warn!(lock = %url, stale = %h, "took over a stale lock (--force-unlock)");
                        etag
                    }
                    Put::Precondition => {
                        return Err(S3LockError::Held {
                            url,
                            holder: "another run that took it over just now".into(),
                            since: info.at.clone(),
                            run: "?".into(),
                        })
                    }
                }
            }
        };
        Ok(S3Lock {
            state: self.clone(),
            etag,
            info,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_name_their_keys() {
        let l: S3Location = "s3://my-state.bucket/team/prod/".parse().unwrap();
        assert_eq!(l.bucket, "my-state.bucket");
        assert_eq!(l.prefix, "team/prod");
        assert_eq!(l.key("lock"), "team/prod/lock");
        assert_eq!(l.to_string(), "s3://my-state.bucket/team/prod");
        let bare: S3Location = "s3://abc".parse().unwrap();
        assert_eq!(bare.key("runs/x.jsonl"), "runs/x.jsonl");
        for bad in [
            "/tmp/state",
            "s3://",
            "s3://AB",
            "s3://Upper/x",
            "s3://ok-bucket/a/../b",
            "s3://-bad/x",
        ] {
            assert!(bad.parse::<S3Location>().is_err(), "{bad}");
        }
    }

    #[test]
    fn outside_a_multi_thread_runtime_it_is_an_error_not_a_panic() {
        assert!(block_on(async { 1 }).is_err());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(async { block_on(async { 1 }) }).is_err());
    }
}
