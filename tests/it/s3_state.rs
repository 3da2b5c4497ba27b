//! State that survives the machine (#15, item 6): `--state s3://BUCKET/PREFIX` keeps the
//! journal and the run lock in S3. Two applies with one S3 state exclude each other; a
//! SIGKILLed apply leaves its journal (and its lock) in S3, where a second machine (an empty
//! state directory of its own) reads and undoes it after `--force-unlock RUN`; a bucket that is
//! not versioned, not encrypted or not this account's is refused before any change.
//!
//! moto accepts `ExpectedBucketOwner` but does not enforce it: the other-account test creates
//! the bucket from another emulated account and asserts cis-fix's own ownership check; the
//! header itself is asserted on the requests the recording proxy saw.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{
    BucketVersioningStatus, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

use super::harness::{endpoint, TestAccount, REGION};
use super::proxy::{self, Fault, FaultRule};

const WRITE: &str = "UpdateAccountPasswordPolicy";

/// A bucket of `acct` for state, versioned and encrypted as asked.
async fn state_bucket(acct: &TestAccount, name: &str, versioned: bool, encrypted: bool) -> String {
    let b = acct.create_bucket(REGION, name).await;
    let s3 = acct.s3(REGION);
    if versioned {
        s3.put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    if encrypted {
        s3.put_bucket_encryption()
            .bucket(&b)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    b
}

/// The keys under `prefix` in `bucket`, re-read.
async fn keys(acct: &TestAccount, bucket: &str, prefix: &str) -> Vec<String> {
    acct.s3(REGION)
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

async fn object(acct: &TestAccount, bucket: &str, key: &str) -> String {
    let out = acct
        .s3(REGION)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap()
}

/// The binary for `acct` as if on another machine: its own (empty) state directory and its
/// own user state dir (where the per-account machine lock lives).
struct Machine {
    state: tempfile::TempDir,
    xdg: tempfile::TempDir,
}

impl Machine {
    fn new() -> Machine {
        Machine {
            state: tempfile::tempdir().unwrap(),
            xdg: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, acct: &TestAccount, endpoint: &str) -> std::process::Command {
        let mut cmd = acct.command(endpoint);
        cmd.env("CIS_FIX_STATE_DIR", self.state.path())
            .env("XDG_STATE_HOME", self.xdg.path());
        cmd
    }

    fn run(&self, acct: &TestAccount, args: &[&str]) -> super::harness::Output {
        super::harness::run(self.command(acct, &endpoint()), args)
    }

    fn spawn(&self, acct: &TestAccount, endpoint: &str, args: &[&str]) -> Child {
        self.command(acct, endpoint)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cis-fix")
    }
}

/// Wait (up to 60 s) until the proxy has seen `operation` from `key`, while `child` runs.
async fn wait_for(p: &proxy::Recorder, key: &str, operation: &str, child: &mut Child) {
    let start = Instant::now();
    while p.count(key, operation) == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("cis-fix ended ({status}) before {operation}: {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {operation} reached the proxy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn finish(child: Child) -> super::harness::Output {
    let out = child.wait_with_output().unwrap();
    super::harness::Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Two applies on one account with one S3 state, from two machines: while the first holds the
/// lock (its write held up by the proxy), the second is refused (exit 4) naming the holder's
/// run, host and pid; the first then finishes, releases the lock, and journals in S3. Every
/// S3 call but ListBuckets names this account as the expected bucket owner.
#[tokio::test]
async fn two_applies_with_one_s3_state_exclude_each_other() {
    let acct = TestAccount::new().await;
    let bucket = state_bucket(&acct, "state", true, true).await;
    let state = format!("s3://{bucket}/team/prod");
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        WRITE,
        None,
        Fault::Delay(Duration::from_secs(4)),
        Some(1),
    ));
    let (one, two) = (Machine::new(), Machine::new());
    let mut first = one.spawn(
        &acct,
        &p.url,
        &["--state", &state, "apply", "--yes", "-c", "1.7"],
    );
    let pid = first.id();
    let key = acct.creds.access_key_id().to_string();
    wait_for(&p, &key, WRITE, &mut first).await;

    let lock = object(&acct, &bucket, "team/prod/lock").await;
    let holder: serde_json::Value = serde_json::from_str(&lock).unwrap();
    let run = holder["run"].as_str().unwrap().to_string();
    let second = two.run(&acct, &["--state", &state, "apply", "--yes", "-c", "1.7"]);
    second.assert_one_line_error(4, "holds the state lock");
    for want in [run.as_str(), &format!("pid {pid}"), "--force-unlock"] {
        assert!(second.stderr.contains(want), "{want}: {}", second.stderr);
    }

    let first = finish(first);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains(&format!("Run {run} is journaled")));
    assert_eq!(
        acct.password_policy()
            .await
            .unwrap()
            .minimum_password_length(),
        Some(14)
    );
    let objects = keys(&acct, &bucket, "team/prod/").await;
    assert!(
        !objects.contains(&"team/prod/lock".to_string()),
        "released: {objects:?}"
    );
    assert!(objects.contains(&format!("team/prod/runs/{run}.jsonl")));
    assert!(objects.contains(&"team/prod/journal.key".to_string()));
    // Nothing local: the run is in S3 only.
    assert!(!one.state.path().join("runs").exists());
    // The state is reached through the run's own connection: one identity check in all.
    assert_eq!(
        p.count(&key, "GetCallerIdentity"),
        1,
        "sts:GetCallerIdentity calls of one apply with S3 state"
    );

    for c in p.calls_by(&key).iter().filter(|c| c.service == "s3") {
        if c.operation == "GET /" {
            continue; // ListBuckets: no bucket to name
        }
        assert_eq!(
            c.expected_bucket_owner.as_deref(),
            Some(acct.id.as_str()),
            "{} {}",
            c.operation,
            c.path
        );
    }

    // The lock was released: the second machine runs now (nothing left to do) and reads the
    // first machine's run from S3.
    let again = two.run(&acct, &["--state", &state, "apply", "--yes", "-c", "1.7"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let history = two.run(&acct, &["--state", &state, "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert!(history.stdout.contains(&run), "{}", history.stdout);
}

/// An apply killed (SIGKILL) after its second Intent reached S3, while that change's write
/// (EBS default encryption) is held up by the proxy; the first change (the password policy)
/// was made and journaled. The journal and the lock stay in S3. From a second machine with an
/// empty state directory, `history` shows the run; `undo` is refused on the lock, refused with
/// the wrong `--force-unlock` id, and with the holder's id takes the lock over and restores the
/// account (re-read), then releases the lock.
#[tokio::test]
async fn a_killed_apply_leaves_its_journal_in_s3_for_another_machine_to_undo() {
    let acct = TestAccount::new().await;
    assert!(acct.password_policy().await.is_none());
    assert!(!acct.ebs_default(REGION).await);
    let bucket = state_bucket(&acct, "state", true, true).await;
    let state = format!("s3://{bucket}/cis-fix");
    let p = proxy::start(&endpoint());
    let ebs_write = "EnableEbsEncryptionByDefault";
    p.inject(FaultRule::new(
        ebs_write,
        None,
        Fault::Delay(Duration::from_secs(30)),
        Some(1),
    ));
    let one = Machine::new();
    let args = [
        "--state",
        &state,
        "apply",
        "--yes",
        "-c",
        "1.7",
        "-c",
        "5.1.1",
        "--regions",
        REGION,
    ];
    let mut child = one.spawn(&acct, &p.url, &args);
    let key = acct.creds.access_key_id().to_string();
    wait_for(&p, &key, ebs_write, &mut child).await;
    child.kill().unwrap(); // SIGKILL: no Drop, no End entry
    let killed = finish(child);
    assert_eq!(killed.code, -1, "killed by a signal");
    // The proxy drops the held write with its connection: it never reaches the account.
    assert_eq!(
        acct.password_policy()
            .await
            .unwrap()
            .minimum_password_length(),
        Some(14),
        "the first change was made"
    );
    assert!(!acct.ebs_default(REGION).await);

    let objects = keys(&acct, &bucket, "cis-fix/").await;
    let run_key = objects
        .iter()
        .find(|k| k.starts_with("cis-fix/runs/"))
        .unwrap_or_else(|| panic!("no run in S3: {objects:?}"));
    let run = run_key
        .trim_start_matches("cis-fix/runs/")
        .trim_end_matches(".jsonl")
        .to_string();
    let journal = object(&acct, &bucket, run_key).await;
    assert_eq!(
        journal.matches("\"type\":\"intent\"").count(),
        2,
        "{journal}"
    );
    assert_eq!(
        journal.matches("\"type\":\"outcome\"").count(),
        1,
        "{journal}"
    );
    assert!(!journal.contains("\"type\":\"end\""), "{journal}");
    let lock = object(&acct, &bucket, "cis-fix/lock").await;
    assert!(lock.contains(&run), "the lock names the run: {lock}");

    let two = Machine::new();
    let history = two.run(&acct, &["--state", &state, "history", &run]);
    assert_eq!(history.code, 0, "{}\n{}", history.stdout, history.stderr);
    assert!(
        history.stdout.contains("1.7") && history.stdout.contains("5.1.1"),
        "{}",
        history.stdout
    );

    let refused = two.run(&acct, &["--state", &state, "undo", &run, "--yes"]);
    refused.assert_one_line_error(4, &format!("--force-unlock {run}"));
    let wrong = two.run(
        &acct,
        &[
            "--state",
            &state,
            "--force-unlock",
            "20200101T000000.000Z-0000",
            "undo",
            &run,
            "--yes",
        ],
    );
    wrong.assert_one_line_error(4, "does not name the holder");
    assert!(acct.password_policy().await.is_some(), "nothing undone yet");

    let undo = two.run(
        &acct,
        &[
            "--state",
            &state,
            "--force-unlock",
            &run,
            "undo",
            &run,
            "--yes",
        ],
    );
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(
        undo.stdout.contains("apply was interrupted"),
        "{}",
        undo.stdout
    );
    assert!(
        acct.password_policy().await.is_none(),
        "restored: {}",
        undo.stdout
    );
    assert!(!acct.ebs_default(REGION).await, "{}", undo.stdout);
    let after = keys(&acct, &bucket, "cis-fix/").await;
    assert!(!after.contains(&"cis-fix/lock".to_string()), "{after:?}");
    assert_eq!(
        after.iter().filter(|k| k.contains("/runs/")).count(),
        2,
        "the apply and its undo: {after:?}"
    );
    assert!(!two.state.path().join("runs").exists());
}

/// A bucket without versioning, without default encryption, or of another account is refused
/// (exit 4, one line saying what to fix) before anything in the account changes or any lock
/// or journal object is written.
#[tokio::test]
async fn a_state_bucket_that_fails_its_checks_is_refused_before_any_change() {
    let acct = TestAccount::new().await;
    let other = TestAccount::new().await;
    let unversioned = state_bucket(&acct, "nover", false, true).await;
    let unencrypted = state_bucket(&acct, "noenc", true, false).await;
    let theirs = state_bucket(&other, "theirs", true, true).await;
    let cases = [
        (&unversioned, "has versioning off: turn it on".to_string()),
        (
            &unencrypted,
            "has no default encryption: turn it on".to_string(),
        ),
        (&theirs, format!("is not owned by account {}", acct.id)),
    ];
    for (bucket, want) in cases {
        let state = format!("s3://{bucket}/p");
        let out = acct.run(&["--state", &state, "apply", "--yes", "-c", "1.7"]);
        out.assert_one_line_error(4, &want);
        assert!(out.stderr.contains("nothing was changed"), "{}", out.stderr);
        let s3 = if bucket == &theirs { &other } else { &acct };
        assert!(keys(s3, bucket, "").await.is_empty(), "{bucket}");
    }
    assert!(acct.password_policy().await.is_none(), "nothing applied");

    // The same state in cis-fix.toml; the flag wins over it.
    let cfg = acct.state_dir().join("cis-fix.toml");
    std::fs::write(&cfg, format!("state = \"s3://{unversioned}/p\"\n")).unwrap();
    let cfg = cfg.display().to_string();
    let out = acct.run(&["--config", &cfg, "history"]);
    out.assert_one_line_error(4, "has versioning off");
    let good = state_bucket(&acct, "good", true, true).await;
    let out = acct.run(&[
        "--config",
        &cfg,
        "--state",
        &format!("s3://{good}"),
        "history",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// Bad values are one line before any AWS call.
#[test]
fn bad_state_flags_are_one_line_errors() {
    let out = super::harness::run(
        super::harness::base_command(),
        &["--state", "/tmp/state", "history"],
    );
    out.assert_one_line_error(1, "not an S3 location");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = super::harness::base_command();
    cmd.env("CIS_FIX_STATE_DIR", dir.path());
    let out = super::harness::run(cmd, &["--force-unlock", "x", "undo", "--yes"]);
    out.assert_one_line_error(1, "--force-unlock takes over a lock in S3 state");
}

/// A multi-account apply with S3 state: each account's part is `PREFIX/runs/GROUP.ACCOUNT.jsonl`
/// in the caller's bucket, the one lock is released at the end, and `undo GROUP` from another
/// machine restores both accounts (re-read).
#[tokio::test]
async fn a_multi_account_run_is_journaled_in_s3_per_account_and_undone_from_elsewhere() {
    let caller = TestAccount::new().await;
    let member = TestAccount::new().await;
    let bucket = state_bucket(&caller, "state", true, true).await;
    let state = format!("s3://{bucket}/org");
    let ids = format!("{},{}", caller.id, member.id);
    let one = Machine::new();
    let out = one.run(
        &caller,
        &[
            "--state",
            &state,
            "apply",
            "--accounts",
            &ids,
            "--yes",
            "-c",
            "1.7",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for a in [&caller, &member] {
        assert_eq!(
            a.password_policy().await.unwrap().minimum_password_length(),
            Some(14),
            "{}",
            a.id
        );
    }
    let objects = keys(&caller, &bucket, "org/").await;
    assert!(!objects.contains(&"org/lock".to_string()), "{objects:?}");
    let part = objects
        .iter()
        .find(|k| k.ends_with(&format!(".{}.jsonl", member.id)))
        .unwrap_or_else(|| panic!("no run part of {}: {objects:?}", member.id));
    let group = part
        .trim_start_matches("org/runs/")
        .trim_end_matches(&format!(".{}.jsonl", member.id))
        .to_string();
    assert!(objects.contains(&format!("org/runs/{group}.{}.jsonl", caller.id)));

    let two = Machine::new();
    let undo = two.run(&caller, &["--state", &state, "undo", &group, "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    for a in [&caller, &member] {
        assert!(
            a.password_policy().await.is_none(),
            "{}: {}",
            a.id,
            undo.stdout
        );
    }
    assert!(!keys(&caller, &bucket, "org/lock")
        .await
        .iter()
        .any(|k| k == "org/lock"));
}
