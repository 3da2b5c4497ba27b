//! Speed at account scale, as far as a test can say it without timing anything (figures are
//! the benchmark's, scripts/bench): no request is sent twice for the same data in a run, and
//! throttling slows only the budget of the service and region that was throttled.

use std::collections::HashMap;

use serde_json::Value;

use crate::harness::{endpoint, TestAccount};
use crate::idempotency::seed_misconfigured;
use crate::proxy::{self, Fault, FaultRule, Recorded, Recorder};

/// Requests that repeat by design: the credential report is polled until IAM has made it.
const POLLED: &[&str] = &["GenerateCredentialReport"];

/// A JSON `plan` through a recording proxy (exit 0 or 2): the proxy, for its counts, the
/// plan, and the caller's calls.
fn plan_calls(acct: &TestAccount, args: &[&str]) -> (Recorder, Value, Vec<Recorded>) {
    let p = proxy::start(&endpoint());
    let out = acct.run_via(&p.url, &[&["plan", "--format", "json"][..], args].concat());
    assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
    let calls = p.calls_by(acct.creds.access_key_id());
    (p, crate::harness::plan_json(&out), calls)
}

#[tokio::test]
async fn a_plan_of_every_control_never_sends_the_same_request_twice() {
    let acct = TestAccount::new().await;
    seed_misconfigured(&acct).await;
    let (_, _, calls) = plan_calls(&acct, &["--regions", "eu-west-1,us-east-1"]);
    assert!(calls.len() > 50, "too few calls seen: {}", calls.len());
    let mut seen: HashMap<(String, String, String, String, String), usize> = HashMap::new();
    for c in &calls {
        if POLLED.contains(&c.operation.as_str()) {
            continue;
        }
        *seen
            .entry((
                c.service.clone(),
                c.region.clone(),
                c.operation.clone(),
                c.path.clone(),
                c.body.clone(),
            ))
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:#?}");
}

#[tokio::test]
async fn throttling_in_one_region_backs_off_that_budget_and_the_plan_completes() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    // EC2 in eu-west-1 answers "RequestLimitExceeded" three times.
    p.inject(FaultRule::new(
        "DescribeSecurityGroups",
        Some("eu-west-1"),
        Fault::Throttle,
        Some(3),
    ));
    let out = acct.run_via(
        &p.url,
        &[
            "plan",
            "-v",
            "-c",
            "5.4",
            "--regions",
            "eu-west-1,us-east-1",
            "--max-attempts",
            "5",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // `-v` names the budget that backed off, and only that one.
    assert!(
        out.stderr.contains("ec2/eu-west-1"),
        "no budget named in the log: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("ec2/us-east-1"), "{}", out.stderr);
}

/// 1.21 (and 1.15, which shares the reader) lists attached pairs only: an account with many
/// principals does not get a compliant line for each; a detach is verified by the pair no
/// longer being listed, and undo attaches it again.
#[tokio::test]
async fn policy_attachment_controls_list_attached_pairs_only() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    let arn = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess";
    for i in 0..6 {
        let name = format!("p{i}");
        iam.create_user().user_name(&name).send().await.unwrap();
    }
    iam.attach_user_policy()
        .user_name("p3")
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
    let sel = ["-c", "cloudshell-full-access-restricted"];
    let items = |out: &crate::harness::Output| -> Vec<(String, String)> {
        crate::harness::plan_json(out)["plan"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["target"].as_str().unwrap().to_string(),
                    i["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(
        items(&plan),
        vec![(
            "AWSCloudShellFullAccess attached to user p3".to_string(),
            "change".to_string()
        )]
    );
    let out = acct.run(&[&["apply", "--yes", "--allow-destructive"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let attached = || async {
        iam.list_attached_user_policies()
            .user_name("p3")
            .send()
            .await
            .unwrap()
            .attached_policies()
            .len()
    };
    assert_eq!(
        attached().await,
        0,
        "detached, and verified: {}",
        out.stdout
    );
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(
        items(&plan),
        vec![(
            "AWSCloudShellFullAccess (managed policy)".to_string(),
            "compliant".to_string()
        )]
    );
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(attached().await, 1, "attached again");
}

/// `--rate-limit` and `rate_limits` in cis-fix.toml replace one service's default budget (the
/// run's figures, `CIS_FIX_STATS`, show the budget each request was paced by); the flag wins
/// over the file, service by service, and the other services keep their defaults.
#[tokio::test]
async fn a_rate_limit_replaces_that_service_budget_only() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cis-fix.toml");
    std::fs::write(&cfg, "rate_limits = { iam = 4, s3 = \"7/9\" }\n").unwrap();
    let stats = dir.path().join("stats.json");
    let mut cmd = acct.command(&endpoint());
    cmd.env("CIS_FIX_STATS", &stats);
    let out = crate::harness::run(
        cmd,
        &[
            "plan",
            "--config",
            cfg.to_str().unwrap(),
            "--rate-limit",
            "iam=3",
            "--control",
            "1.7",
            "--control",
            "2.1.4",
            "--control",
            "5.1.1",
            "--regions",
            "eu-west-1",
        ],
    );
    assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let budget = |name: &str| {
        doc["budgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| {
                b["budget"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{name}/"))
            })
            .unwrap_or_else(|| panic!("no {name} budget in {doc}"))
            .clone()
    };
    assert_eq!(budget("iam")["rate"], 3.0, "the flag wins");
    assert_eq!(budget("iam")["burst"], 6.0);
    assert_eq!(budget("s3")["rate"], 7.0, "from the file");
    assert_eq!(budget("s3")["burst"], 9.0);
    assert_eq!(budget("ec2")["rate"], 5.0, "the default");
}

/// apply keeps the trails it read from one change to the next until a change writes through
/// CloudTrail: the metric filters, which all build on the trail, do not each list the trails
/// of every region again before and after their write (they did: 1,140 DescribeTrails in an
/// apply of the demo account over 20 regions, 160 now).
#[tokio::test]
async fn apply_reads_the_trails_again_only_after_a_cloudtrail_write() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let out = acct.run_via(
        &p.url,
        &[
            "apply",
            "--yes",
            "--regions",
            "eu-west-1",
            "--alarm-email",
            "sec@example.com",
            "--control",
            "3.1",
            "--control",
            "4.1",
            "--control",
            "4.2",
            "--control",
            "4.3",
            "--control",
            "4.4",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.matches("applied, verified").count() >= 5,
        "{}",
        out.stdout
    );
    // The trail is created (its check, its verification: two reads of the two regions),
    // the metric filters are planned again (one), and their four changes with their checks
    // and verifications share one read: at most 8 lists of 2 regions' trails, against 4 per
    // metric filter before.
    let me = acct.creds.access_key_id();
    let n = p.count(me, "DescribeTrails");
    assert!(n <= 2 * 5, "DescribeTrails {n} times");
    // And the account is as the changes say: four metric filters on the trail's log group.
    let filters = acct
        .logs(crate::harness::REGION)
        .describe_metric_filters()
        .send()
        .await
        .unwrap();
    assert!(
        filters.metric_filters().len() >= 4,
        "{:?}",
        filters.metric_filters()
    );
}

/// Where S3 names no bucket's region (the emulator gives no BucketRegion), a plan of two
/// regions over more buckets than that learns each bucket's region from one listing per
/// region filtered by BucketRegion, and asks GetBucketLocation only for a bucket in neither;
/// every bucket's own calls then go to its region.
#[tokio::test]
async fn bucket_regions_come_from_one_listing_per_region_of_the_run() {
    let acct = TestAccount::new().await;
    let mut buckets = Vec::new();
    for (region, prefix) in [
        ("eu-west-1", "lr-a"),
        ("eu-west-1", "lr-b"),
        ("us-east-1", "lr-c"),
        ("us-east-1", "lr-d"),
        ("ap-southeast-2", "lr-e"),
    ] {
        buckets.push((acct.create_bucket(region, prefix).await, region));
    }
    let (_, _, calls) = plan_calls(
        &acct,
        &[
            "-c",
            "s3-mfa-delete",
            // A regional control: a plan of global controls alone covers no regions.
            "-c",
            "ebs-default-encryption",
            "--regions",
            "eu-west-1,us-east-1",
        ],
    );
    let listings: Vec<&str> = calls
        .iter()
        .filter(|c| c.service == "s3" && c.path.starts_with("/?"))
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(listings.len(), 3, "{listings:#?}");
    for r in ["eu-west-1", "us-east-1"] {
        assert!(
            listings
                .iter()
                .any(|l| l.contains(&format!("bucket-region={r}"))),
            "no listing of {r}: {listings:#?}"
        );
    }
    let located: Vec<&str> = calls
        .iter()
        .filter(|c| c.path.contains("location"))
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(located.len(), 1, "{located:#?}");
    assert!(located[0].starts_with(&format!("/{}", buckets[4].0)));
    for (name, region) in &buckets {
        let versioning: Vec<&str> = calls
            .iter()
            .filter(|c| c.path.starts_with(&format!("/{name}")) && c.path.contains("versioning"))
            .map(|c| c.region.as_str())
            .collect();
        assert_eq!(versioning, vec![*region], "{name}");
    }
}

/// A plan takes a key's last use from the credential report (it previews; the report can be
/// four hours old), so a user with two active keys costs no GetAccessKeyLastUsed. apply asks
/// IAM live before it deactivates one, and the account is re-read after.
#[tokio::test]
async fn a_plan_takes_key_use_from_the_credential_report_and_apply_asks_iam() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    iam.create_user().user_name("kate").send().await.unwrap();
    for _ in 0..2 {
        iam.create_access_key()
            .user_name("kate")
            .send()
            .await
            .unwrap();
    }
    let key = acct.creds.access_key_id().to_string();
    let sel = ["-c", "one-active-access-key"];
    let (p, plan, _) = plan_calls(&acct, &sel);
    let changes = plan["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "change")
        .count();
    assert_eq!(changes, 1, "{plan}");
    assert_eq!(p.count(&key, "GetAccessKeyLastUsed"), 0);
    assert_eq!(p.count(&key, "ListAccessKeys"), 1);

    let out = acct.run_via(
        &p.url,
        &[&["apply", "--yes", "--force-in-use"][..], &sel].concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        p.count(&key, "GetAccessKeyLastUsed") >= 2,
        "apply re-reads both keys' use live"
    );
    let keys = iam
        .list_access_keys()
        .user_name("kate")
        .send()
        .await
        .unwrap();
    let active = keys
        .access_key_metadata()
        .iter()
        .filter(|k| k.status() == Some(&aws_sdk_iam::types::StatusType::Active))
        .count();
    assert_eq!(active, 1);
}

/// Listings ask for the largest page each call takes: IAM's 1,000 items, EC2's MaxResults.
#[tokio::test]
async fn listings_ask_for_their_largest_page() {
    let acct = TestAccount::new().await;
    let (_, _, calls) = plan_calls(&acct, &["--regions", "eu-west-1"]);
    for (op, param) in [
        ("ListUsers", "MaxItems=1000"),
        ("GetAccountAuthorizationDetails", "MaxItems=1000"),
        ("DescribeSecurityGroups", "MaxResults=1000"),
        ("DescribeNetworkAcls", "MaxResults=100"),
        ("DescribeInstances", "MaxResults=1000"),
    ] {
        let sent: Vec<&str> = calls
            .iter()
            .filter(|c| c.operation == op)
            .map(|c| c.body.as_str())
            .collect();
        assert!(!sent.is_empty(), "{op} not sent");
        assert!(
            sent.iter().all(|b| b.contains(param)),
            "{op} without {param}: {sent:?}"
        );
    }
}

/// apply re-reads only the bucket or key it changes, before and after its write: its calls
/// grow with the changes, not with the changes times the buckets (every bucket was located and
/// read again around each change before). Undo locates each bucket once for the run. The
/// account is re-read after each.
#[tokio::test]
async fn apply_rereads_only_the_bucket_or_key_it_changes() {
    const REGION: &str = "eu-west-1";
    let acct = TestAccount::new().await;
    let mut buckets = Vec::new();
    for (i, region) in ["us-east-1", REGION]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        buckets.push((acct.create_bucket(region, &format!("ar-{i}")).await, region));
    }
    let kms = acct.kms(REGION);
    let mut keys = Vec::new();
    for _ in 0..4 {
        let k = kms.create_key().send().await.unwrap();
        keys.push(k.key_metadata.unwrap().key_id().to_string());
    }
    let p = proxy::start(&endpoint());
    let out = acct.run_via(
        &p.url,
        &[
            "apply",
            "--yes",
            "-c",
            "s3-deny-http",
            "-c",
            "kms-key-rotation",
            "--regions",
            REGION,
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let key = acct.creds.access_key_id();
    let calls = p.calls_by(key);
    let ours = |c: &&Recorded| {
        buckets
            .iter()
            .any(|(b, _)| c.path.starts_with(&format!("/{b}")))
    };
    let policy_reads = calls
        .iter()
        .filter(ours)
        .filter(|c| c.operation.starts_with("GET ") && c.path.ends_with("?policy"))
        .count();
    let located = calls
        .iter()
        .filter(ours)
        .filter(|c| c.path.ends_with("?location"))
        .count();
    // The plan reads each bucket once; its change reads it again before and after the write.
    assert_eq!(policy_reads, 3 * buckets.len(), "{calls:#?}");
    // The plan locates each bucket; the change's first re-read does, and the run keeps it.
    assert!(located <= 2 * buckets.len(), "{located} locations");
    assert_eq!(p.count(key, "GetKeyRotationStatus"), 3 * keys.len());

    for (b, region) in &buckets {
        let policy = crate::storage::policy(&acct, region, b)
            .await
            .unwrap()
            .to_string();
        assert!(policy.contains("aws:SecureTransport"), "{b}: {policy}");
    }
    for k in &keys {
        assert!(
            crate::logging_regional::rotation(&acct, REGION, k).await,
            "{k}"
        );
    }

    // Undo locates each bucket once for the whole run, not before and after each change.
    let p = proxy::start(&endpoint());
    let out = acct.run_via(&p.url, &["undo", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let calls = p.calls_by(key);
    let located = calls
        .iter()
        .filter(ours)
        .filter(|c| c.path.ends_with("?location"))
        .count();
    assert!(located <= buckets.len(), "{located} locations: {calls:#?}");
    for (b, region) in &buckets {
        let policy = crate::storage::policy(&acct, region, b).await;
        assert!(policy.is_none(), "{b}: {policy:?}");
    }
    for k in &keys {
        assert!(
            !crate::logging_regional::rotation(&acct, REGION, k).await,
            "{k}"
        );
    }
}

/// A trail's change (here, log validation on five trails) re-reads that trail's status and
/// selectors alone, before and after its write, in apply and in undo, and lists the trails
/// of its own region and the home region only: not every trail of every region each time.
/// Apply reads each trail three times (plan, check, verification), undo twice (before,
/// after).
#[tokio::test]
async fn a_trails_change_rereads_that_trail_alone() {
    // Not the home region (the harness's eu-west-1).
    const REGION: &str = "eu-central-1";
    let acct = TestAccount::new().await;
    let bucket = acct.create_bucket(REGION, "tr-logs").await;
    let ct = acct.cloudtrail(REGION);
    let names: Vec<String> = (0..5).map(|i| format!("tr-{i}")).collect();
    for n in &names {
        ct.create_trail()
            .name(n)
            .s3_bucket_name(&bucket)
            .send()
            .await
            .unwrap();
    }
    let validation = |ct: aws_sdk_cloudtrail::Client| async move {
        let out = ct.describe_trails().send().await.unwrap();
        out.trail_list()
            .iter()
            .map(|t| t.log_file_validation_enabled().unwrap_or(false))
            .collect::<Vec<_>>()
    };
    let p = proxy::start(&endpoint());
    let key = acct.creds.access_key_id();
    // The home region and one more region the run covers have no trail: a re-read lists
    // only the trail's region and the home region.
    let args = [
        "-c",
        "cloudtrail-log-validation",
        "--regions",
        "eu-west-1,eu-central-1,ap-southeast-2",
    ];
    let out = acct.run_via(&p.url, &[&["apply", "--yes"][..], &args].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let applied = p.count(key, "GetTrailStatus");
    assert_eq!(applied, 3 * names.len(), "{:#?}", p.calls_by(key));
    assert_eq!(p.count(key, "GetEventSelectors"), applied);
    // The plan lists the three regions; the first check lists two, and so does each
    // verification (the next change's check keeps what the verification before it listed:
    // no write in between).
    let listed = p.count(key, "DescribeTrails");
    assert_eq!(listed, 3 + 2 + 2 * names.len(), "{listed} listings");
    assert_eq!(validation(ct.clone()).await, vec![true; names.len()]);

    let out = acct.run_via(&p.url, &["undo", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(p.count(key, "GetTrailStatus") - applied, 2 * names.len());
    // Undo carries nothing from one change to the next: two listings before, two after.
    assert_eq!(p.count(key, "DescribeTrails") - listed, 4 * names.len());
    assert_eq!(validation(ct).await, vec![false; names.len()]);
}

/// A key's change re-reads that key's user alone, before and after its write, in apply and
/// in undo: not the keys of every user the credential report cannot settle (here, six users
/// with two active keys each; every one of them used to be listed again around each change).
#[tokio::test]
async fn a_keys_change_rereads_that_user_alone() {
    const USERS: usize = 6;
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    for i in 0..USERS {
        let name = format!("two-keys-{i}");
        iam.create_user().user_name(&name).send().await.unwrap();
        for _ in 0..2 {
            iam.create_access_key()
                .user_name(&name)
                .send()
                .await
                .unwrap();
        }
    }
    let active = |name: String| {
        let iam = acct.iam();
        async move {
            iam.list_access_keys()
                .user_name(name)
                .send()
                .await
                .unwrap()
                .access_key_metadata()
                .iter()
                .filter(|k| k.status() == Some(&aws_sdk_iam::types::StatusType::Active))
                .count()
        }
    };
    let key = acct.creds.access_key_id();
    let sel = ["-c", "one-active-access-key"];
    let p = proxy::start(&endpoint());
    let out = acct.run_via(
        &p.url,
        &[&["apply", "--yes", "--force-in-use"][..], &sel].concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // The plan lists each user's keys; each change lists its user's before and after.
    let listed = p.count(key, "ListAccessKeys");
    assert!(listed <= 3 * USERS, "apply listed keys {listed} times");
    for i in 0..USERS {
        assert_eq!(active(format!("two-keys-{i}")).await, 1, "user {i}");
    }

    let p = proxy::start(&endpoint());
    let out = acct.run_via(&p.url, &["undo", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let listed = p.count(key, "ListAccessKeys");
    assert!(listed <= 2 * USERS, "undo listed keys {listed} times");
    for i in 0..USERS {
        assert_eq!(active(format!("two-keys-{i}")).await, 2, "user {i}");
    }
}

/// A bucket's tags are read once, for the exceptions of every control that judges it, and are
/// charged to "exception tags" (`CIS_FIX_STATS`' calls per control): `s3-deny-http` then
/// costs one call per bucket it judges, plus the listings, and `s3-block-public-access` two
/// (its setting, and who would lose public access). The tags were charged to whichever
/// control asked first, which showed two calls per bucket for `s3-deny-http`.
#[tokio::test]
async fn a_buckets_tags_are_read_once_for_every_controls_exceptions() {
    let acct = TestAccount::new().await;
    let mut names = Vec::new();
    for (i, region) in ["eu-west-1", "eu-west-1", "us-east-1", "us-east-1"]
        .iter()
        .enumerate()
    {
        names.push(acct.create_bucket(region, &format!("xt{i}")).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let mut cmd = acct.command(&endpoint());
    cmd.env("CIS_FIX_STATS", &stats);
    let out = crate::harness::run(
        cmd,
        &[
            "plan",
            "--format",
            "json",
            "-c",
            "s3-deny-http",
            "-c",
            "s3-block-public-access",
            // A regional control, so that the buckets' regions come from a listing per
            // region of the run (S3 on AWS names them in ListBuckets; the emulator does not).
            "-c",
            "ebs-default-encryption",
            "--regions",
            "eu-west-1,us-east-1",
        ],
    );
    assert!(out.code == 0 || out.code == 2, "{}", out.stderr);
    let plan = crate::harness::plan_json(&out);
    // The buckets each control would change (block public access also changes the
    // account's setting, which is not a bucket).
    let failing = |slug: &str| {
        plan["plan"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["control"] == slug
                    && i["status"] == "change"
                    && i["target"].as_str().unwrap().starts_with("bucket ")
            })
            .count()
    };
    assert_eq!(failing("s3-deny-http"), 4, "{plan}");
    assert_eq!(failing("s3-block-public-access"), 4, "{plan}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let calls = |k: &str| doc["per_control"][k].as_u64().unwrap_or(0);
    assert_eq!(calls("exception tags"), 4, "once per bucket: {doc}");
    // The listings: ListBuckets, and one per region of the run for the buckets' regions.
    let listings = 3;
    assert!(
        calls("s3-deny-http") <= 4 + listings,
        "{} calls for 4 buckets: {doc}",
        calls("s3-deny-http")
    );
    // GetPublicAccessBlock and GetBucketAcl per bucket, and the account's setting once.
    assert!(
        calls("s3-block-public-access") <= 2 * 4 + 1 + listings,
        "{} calls for 4 buckets: {doc}",
        calls("s3-block-public-access")
    );
}
