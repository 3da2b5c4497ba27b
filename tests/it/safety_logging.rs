//! Issue 13, "safe on a production account", for the logging section: cis-fix never uses a
//! bucket another account owns (3.3, 3.7, 3.1, 3.4), never reuses a role whose trust is not
//! what it would write (3.1, 3.7), and undo deletes only what the run created.
//!
//! The emulator accepts `ExpectedBucketOwner` but does not enforce it (a request naming the
//! wrong owner succeeds, see EMULATOR.md), and bucket names are global across its accounts.
//! So the foreign-bucket tests create the bucket from a second emulated account first and
//! assert cis-fix's own refusal (it decides ownership from this account's ListBuckets), and
//! the header itself is asserted on the wire through the recording proxy.

use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

use crate::harness::{endpoint, plan_json, TestAccount, REGION};
use crate::proxy;

fn plan(acct: &TestAccount, args: &[&str]) -> Value {
    let out = acct.run(&[&["plan", "--format", "json"][..], args].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    plan_json(&out)
}

fn items<'a>(doc: &'a Value, control: &str) -> Vec<&'a Value> {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["control"] == control)
        .collect()
}

async fn bucket_policy(acct: &TestAccount, bucket: &str) -> Option<String> {
    match acct
        .s3(REGION)
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(p) => p.policy().map(str::to_string),
        Err(e) => {
            let e = e.into_service_error();
            assert_eq!(e.meta().code(), Some("NoSuchBucketPolicy"), "{e:?}");
            None
        }
    }
}

async fn object_keys(acct: &TestAccount, bucket: &str) -> Vec<String> {
    acct.s3(REGION)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// Another account created `cis-fix-config-<A>` and `cis-fix-flow-logs-<A>` first (the
/// names are predictable): A's plan refuses both, naming the bucket, and A's apply writes
/// nothing into them and creates no recorder, channel or flow log pointing there.
#[tokio::test]
async fn buckets_another_account_owns_are_refused_for_config_and_flow_logs() {
    let a = TestAccount::new().await;
    let b = TestAccount::new().await;
    let config_bucket = format!("cis-fix-config-{}", a.id);
    let flow_bucket = format!("cis-fix-flow-logs-{}", a.id);
    for name in [&config_bucket, &flow_bucket] {
        b.s3(REGION)
            .create_bucket()
            .bucket(name)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let args = [
        "-c",
        "config-all-regions",
        "-c",
        "vpc-flow-logs",
        "--regions",
        REGION,
        "--set",
        "flow_log_destination=s3",
    ];
    let doc = plan(&a, &args);
    for (control, bucket) in [
        ("config-all-regions", &config_bucket),
        ("vpc-flow-logs", &flow_bucket),
    ] {
        let found = items(&doc, control);
        assert!(!found.is_empty(), "{doc}");
        for item in found {
            assert_ne!(item["status"], "change", "{item}");
            let text = item.to_string();
            assert!(
                text.contains(bucket.as_str()) && text.contains("another account"),
                "the refusal names the bucket and why: {item}"
            );
        }
    }

    let out = a.run(&[&["apply", "--yes"][..], &args[..]].concat());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);

    // Nothing was written into B's buckets (re-read as B).
    for bucket in [&config_bucket, &flow_bucket] {
        assert_eq!(bucket_policy(&b, bucket).await, None, "{bucket}");
        assert!(object_keys(&b, bucket).await.is_empty(), "{bucket}");
    }
    // And A points nothing at them.
    let cfg = aws_sdk_config::Client::new(&a.sdk_in(REGION));
    let recs = cfg.describe_configuration_recorders().send().await.unwrap();
    assert!(recs.configuration_recorders().is_empty(), "{recs:?}");
    let chans = cfg.describe_delivery_channels().send().await.unwrap();
    assert!(chans.delivery_channels().is_empty(), "{chans:?}");
    let fls = a.ec2(REGION).describe_flow_logs().send().await.unwrap();
    assert!(fls.flow_logs().is_empty(), "{fls:?}");
}

/// Every S3 request cis-fix sends about a bucket it creates or reuses carries
/// `x-amz-expected-bucket-owner` = the account (CreateBucket, which has no such parameter,
/// excepted). The emulator ignores the header, so it is checked on the wire.
#[tokio::test]
async fn expected_bucket_owner_is_sent_on_every_request_to_cis_fix_buckets() {
    let a = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let args = [
        "-c",
        "cloudtrail-multi-region",
        "-c",
        "cloudtrail-bucket-access-logging",
        "-c",
        "config-all-regions",
        "-c",
        "vpc-flow-logs",
        "--regions",
        REGION,
        "--set",
        "flow_log_destination=s3",
        "--with-dependencies",
    ];
    let out = a.run_via(&p.url, &[&["apply", "--yes"][..], &args[..]].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // A second plan reads the buckets again (3.4 reads the trail bucket's logging).
    let out = a.run_via(&p.url, &[&["plan"][..], &args[..]].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let buckets = [
        format!("cis-fix-cloudtrail-{}", a.id),
        format!("cis-fix-access-logs-{}", a.id),
        format!("cis-fix-config-{}", a.id),
        format!("cis-fix-flow-logs-{}", a.id),
    ];
    let key = a.creds.access_key_id().to_string();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for r in p.calls_by(&key).iter().filter(|r| r.service == "s3") {
        let path = r.path.split('?').next().unwrap_or("");
        let Some(bucket) = buckets
            .iter()
            .find(|b| path == format!("/{b}") || path.starts_with(&format!("/{b}/")))
        else {
            continue;
        };
        let create = r.operation == format!("PUT {path}") && !r.path.contains('?');
        if create {
            continue;
        }
        *seen.entry(bucket.clone()).or_default() += 1;
        assert_eq!(
            r.expected_bucket_owner.as_deref(),
            Some(a.id.as_str()),
            "{} {} has no x-amz-expected-bucket-owner",
            r.operation,
            r.path
        );
    }
    assert_eq!(seen.len(), 4, "requests to every cis-fix bucket: {seen:?}");
}

/// A role named `cis-fix-cloudtrail-logs` already exists, trusted by another account: 3.1
/// names the foreign trust and does not create the trail with it; apply leaves the role's
/// trust and inline policy as they were; undo leaves the role in place.
#[tokio::test]
async fn a_log_role_trusted_by_another_account_is_not_reused_and_undo_keeps_it() {
    let a = TestAccount::new().await;
    let other = "210987654321";
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{other}:root") },
            "Action": "sts:AssumeRole",
        }],
    });
    let theirs = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "logs:*", "Resource": "*" }],
    });
    let iam = a.iam();
    iam.create_role()
        .role_name("cis-fix-cloudtrail-logs")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("cis-fix-cloudtrail-logs")
        .policy_name("cis-fix-cloudtrail-logs")
        .policy_document(theirs.to_string())
        .send()
        .await
        .unwrap();

    let args = ["-c", "cloudtrail-multi-region"];
    let doc = plan(&a, &args);
    let item = items(&doc, "cloudtrail-multi-region")[0];
    assert_ne!(item["status"], "change", "{item}");
    let text = item.to_string();
    assert!(
        text.contains("cis-fix-cloudtrail-logs") && text.contains(&format!("{other}:root")),
        "the plan names the role and the foreign trust: {item}"
    );

    let out = a.run(&[&["apply", "--yes"][..], &args[..]].concat());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let role = iam
        .get_role()
        .role_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let doc = role.assume_role_policy_document().unwrap();
    let got = decode(doc);
    assert_eq!(got, trust, "the trust policy is untouched");
    let inline = iam
        .get_role_policy()
        .role_name("cis-fix-cloudtrail-logs")
        .policy_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .unwrap();
    assert_eq!(
        decode(inline.policy_document()),
        theirs,
        "the inline policy is untouched"
    );
    let trails = a.cloudtrail(REGION).describe_trails().send().await.unwrap();
    assert!(trails.trail_list().is_empty(), "{trails:?}");

    let out = a.run(&["undo", "--yes"]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(
        iam.get_role()
            .role_name("cis-fix-cloudtrail-logs")
            .send()
            .await
            .is_ok(),
        "undo keeps a role it did not create"
    );
}

/// A role with cis-fix's name and exactly cis-fix's trust, there before the run (an earlier
/// run's role whose undo did not finish, say): it is reused, and this run's undo keeps it,
/// because this run did not create it. A role this run created is tagged and deleted.
#[tokio::test]
async fn undo_deletes_only_the_log_role_this_run_created() {
    let a = TestAccount::new().await;
    let iam = a.iam();
    // First run: cis-fix creates the role (tagged) and undo deletes it.
    let args = ["-c", "cloudtrail-multi-region"];
    let out = a.run(&[&["apply", "--yes"][..], &args[..]].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let tags = iam
        .list_role_tags()
        .role_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "cis-fix:created-by" && t.value() == "cis-fix"),
        "{tags:?}"
    );
    let trust = iam
        .get_role()
        .role_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .assume_role_policy_document()
        .map(decode)
        .unwrap();
    let out = a.run(&["undo", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(iam
        .get_role()
        .role_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .is_err());

    // The same role made by someone else (with the tag copied, even): reused, and kept.
    iam.create_role()
        .role_name("cis-fix-cloudtrail-logs")
        .assume_role_policy_document(trust.to_string())
        .tags(
            Tag::builder()
                .key("cis-fix:created-by")
                .value("cis-fix")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let doc = plan(&a, &args);
    let item = items(&doc, "cloudtrail-multi-region")[0];
    assert_eq!(item["status"], "change", "{item}");
    let out = a.run(&[&["apply", "--yes"][..], &args[..]].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let out = a.run(&["undo", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        iam.get_role()
            .role_name("cis-fix-cloudtrail-logs")
            .send()
            .await
            .is_ok(),
        "a role that was there before the run is kept"
    );
}

/// The flow-log delivery role trusted by another account: 3.7 to CloudWatch Logs refuses.
#[tokio::test]
async fn a_flow_log_role_trusted_by_another_account_is_refused() {
    let a = TestAccount::new().await;
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::210987654321:root" },
            "Action": "sts:AssumeRole",
        }],
    });
    a.iam()
        .create_role()
        .role_name("cis-fix-flow-logs")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let args = ["-c", "vpc-flow-logs", "--regions", REGION];
    let doc = plan(&a, &args);
    for item in items(&doc, "vpc-flow-logs") {
        assert_ne!(item["status"], "change", "{item}");
        assert!(item.to_string().contains("210987654321:root"), "{item}");
    }
    let out = a.run(&[&["apply", "--yes"][..], &args[..]].concat());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let fls = a.ec2(REGION).describe_flow_logs().send().await.unwrap();
    assert!(fls.flow_logs().is_empty(), "{fls:?}");
    assert!(a
        .iam()
        .list_role_policies()
        .role_name("cis-fix-flow-logs")
        .send()
        .await
        .unwrap()
        .policy_names()
        .is_empty());
}

/// An IAM policy document as IAM returns it (URL-encoded on AWS, plain from the emulator).
pub fn decode(doc: &str) -> Value {
    serde_json::from_str(doc).unwrap_or_else(|_| {
        let mut out = Vec::new();
        let b = doc.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() + 1 {
                out.push(u8::from_str_radix(&doc[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
        serde_json::from_slice(&out).unwrap()
    })
}

/// 3.5 with an existing `alias/cis-fix-cloudtrail` whose key another account may use: the
/// plan names the extra grant and does not use the key; apply leaves the trail unencrypted.
#[tokio::test]
async fn a_kms_alias_whose_key_allows_another_account_is_not_reused() {
    let a = TestAccount::new().await;
    let out = a.run(&["apply", "--yes", "-c", "cloudtrail-multi-region"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Sid": "Admin", "Effect": "Allow",
              "Principal": { "AWS": format!("arn:aws:iam::{}:root", a.id) },
              "Action": "kms:*", "Resource": "*" },
            { "Sid": "Theirs", "Effect": "Allow",
              "Principal": { "AWS": "arn:aws:iam::210987654321:root" },
              "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*" },
        ],
    });
    let kms = a.kms(REGION);
    let key = kms
        .create_key()
        .policy(policy.to_string())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.create_alias()
        .alias_name("alias/cis-fix-cloudtrail")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let args = ["-c", "cloudtrail-kms-encryption"];
    let doc = plan(&a, &args);
    let item = items(&doc, "cloudtrail-kms-encryption")[0];
    assert_ne!(item["status"], "change", "{item}");
    let text = item.to_string();
    assert!(
        text.contains("210987654321") && text.contains("alias/cis-fix-cloudtrail"),
        "{item}"
    );
    assert!(
        item["prerequisites"]["KmsAlias"]["TargetKeyArn"]
            .as_str()
            .is_some_and(|k| k.ends_with(&key)),
        "{item}"
    );
    let out = a.run(&[&["apply", "--yes"][..], &args[..]].concat());
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    let t = a
        .cloudtrail(REGION)
        .get_trail()
        .name("cis-fix-trail")
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    assert!(t.kms_key_id().unwrap_or("").is_empty(), "{t:?}");
}
