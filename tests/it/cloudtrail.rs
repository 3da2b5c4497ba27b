//! The CloudTrail controls of the logging section (v5.0 3.1, 3.2, 3.4, 3.5, 3.8, 3.9):
//! plan → apply → re-read with the SDK → plan again → undo, against moto. Three accounts:
//! one where cis-fix creates the trail (in a region other than the run's), one with an
//! existing single-region trail that is upgraded in place and keeps its selectors, one with
//! a logging multi-region trail homed in another region that is recognised as it is.

use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType, Trail,
};
use aws_sdk_cloudtrail::Client as CloudTrail;

use crate::harness::{call_actions, plan_item, plan_json, statuses, TestAccount};

/// The trail `name`, re-read in its home region.
async fn read_trail(home: &CloudTrail, name: &str) -> Trail {
    home.get_trail()
        .name(name)
        .send()
        .await
        .unwrap()
        .trail
        .unwrap()
}

async fn read_selectors(home: &CloudTrail, name: &str) -> GetEventSelectorsOutput {
    home.get_event_selectors()
        .trail_name(name)
        .send()
        .await
        .unwrap()
}

async fn is_logging(home: &CloudTrail, name: &str) -> Option<bool> {
    home.get_trail_status()
        .name(name)
        .send()
        .await
        .unwrap()
        .is_logging()
}

fn status_of(doc: &serde_json::Value, control: &str) -> Vec<String> {
    statuses(doc)
        .into_iter()
        .filter(|s| s.0 == control)
        .map(|s| s.2)
        .collect()
}

fn plan(acct: &TestAccount, args: &[&str]) -> serde_json::Value {
    let out = acct.run(&[&["plan", "--format", "json"][..], args].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    plan_json(&out)
}

fn ok(out: crate::harness::Output) -> crate::harness::Output {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

#[tokio::test]
async fn creates_a_trail_in_another_region_with_its_dependents_and_undoes_it() {
    let acct = TestAccount::new().await;
    let id = acct.id.clone();
    let bucket = format!("cis-fix-cloudtrail-{id}");
    let set = ["--set", "trail_region=us-east-1"];

    // Fresh account: 3.2 waits for 3.1, naming it.
    let doc = plan(&acct, &[&["-c", "3.2"][..], &set].concat());
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["status"], "blocked", "{item}");
    assert_eq!(
        item["needs"],
        serde_json::json!(["cloudtrail-multi-region"])
    );

    // 3.1 plans the creation, every call in order.
    let doc = plan(&acct, &[&["-c", "3.1"][..], &set].concat());
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["status"], "change", "{item}");
    assert_eq!(item["action"], "create");
    assert_eq!(
        call_actions(item),
        [
            "s3:CreateBucket",
            "s3:PutBucketPolicy",
            "s3:PutPublicAccessBlock",
            "s3:PutBucketVersioning",
            "s3:PutBucketEncryption",
            "logs:CreateLogGroup",
            "logs:PutRetentionPolicy",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "cloudtrail:CreateTrail",
            "cloudtrail:StartLogging",
        ]
    );
    assert_eq!(item["calls"][9]["params"]["Region"], "us-east-1");
    let notes = item["notes"].to_string();
    assert!(notes.contains("are kept because they hold logs"), "{notes}");

    // Applying 3.2 alone changes nothing and says what it waits for and how to include it.
    let alone = acct.run(&[&["apply", "--yes", "-c", "3.2"][..], &set].concat());
    assert_eq!(alone.code, 0, "{}\n{}", alone.stdout, alone.stderr);
    assert!(
        alone.stdout.contains("waits for: cloudtrail-multi-region")
            && alone.stdout.contains("--with-dependencies")
            && alone.stdout.contains("Nothing to apply"),
        "{}",
        alone.stdout
    );
    let none = acct
        .cloudtrail("us-east-1")
        .describe_trails()
        .send()
        .await
        .unwrap();
    assert!(none.trail_list().is_empty(), "{none:?}");

    // Applying 3.2 with its dependencies creates the trail (with validation on), then
    // plans 3.2 again, which is then already satisfied.
    ok(acct.run(
        &[
            &["apply", "--yes", "-c", "3.2", "--with-dependencies"][..],
            &set,
        ]
        .concat(),
    ));

    let home = acct.cloudtrail("us-east-1");
    let trail = read_trail(&home, "cis-fix-trail").await;
    assert!(
        trail.trail_arn().unwrap().contains(":us-east-1:"),
        "{trail:?}"
    );
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.include_global_service_events(), Some(true));
    assert_eq!(trail.log_file_validation_enabled(), Some(true));
    assert_eq!(trail.s3_bucket_name(), Some(bucket.as_str()));
    assert_eq!(
        trail.cloud_watch_logs_log_group_arn(),
        Some(format!("arn:aws:logs:us-east-1:{id}:log-group:cis-fix-cloudtrail:*").as_str())
    );
    assert_eq!(is_logging(&home, "cis-fix-trail").await, Some(true));
    // Seen from the run's region as a shadow trail.
    let shadow = acct
        .cloudtrail("eu-west-1")
        .describe_trails()
        .send()
        .await
        .unwrap();
    assert_eq!(shadow.trail_list().len(), 1);

    let b = acct.s3("us-east-1");
    let policy = b.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let trail_arn = format!("arn:aws:cloudtrail:us-east-1:{id}:trail/cis-fix-trail");
    let statements = policy["Statement"].as_array().unwrap();
    let (allows, denies): (Vec<_>, Vec<_>) =
        statements.iter().partition(|s| s["Effect"] == "Allow");
    // Only this trail may write: every Allow is for CloudTrail, scoped to the trail's ARN.
    assert_eq!(allows.len(), 2, "{policy}");
    assert!(
        allows.iter().all(|s| {
            s["Principal"]["Service"] == "cloudtrail.amazonaws.com"
                && s["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn.as_str()
        }),
        "{policy}"
    );
    // And the bucket passes CIS 2.1.1 from the start.
    assert_eq!(denies.len(), 1, "{policy}");
    assert_eq!(
        denies[0]["Condition"]["Bool"]["aws:SecureTransport"], "false",
        "{policy}"
    );
    let bpa = acct.public_access_block("us-east-1", &bucket).await;
    assert_eq!(
        (
            bpa.block_public_acls(),
            bpa.ignore_public_acls(),
            bpa.block_public_policy(),
            bpa.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    // moto 5.2.5 names the root element of its GetBucketVersioning answer
    // GetBucketVersioningResponse, which the Rust SDK refuses to parse; read the raw body then.
    match b.get_bucket_versioning().bucket(&bucket).send().await {
        Ok(v) => assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled")),
        Err(e) => {
            let body = e
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            assert!(body.contains("<Status>Enabled</Status>"), "{e:?}");
        }
    }
    let enc = b
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        enc.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "AES256"
    );
    let groups = acct.log_groups("us-east-1", "cis-fix-cloudtrail").await;
    assert_eq!(groups[0].retention_in_days(), Some(365));

    // Everything 3.1 and 3.2 check now passes, and a second apply does nothing.
    let sel = [&["-c", "3.1", "-c", "3.2"][..], &set].concat();
    let doc = plan(&acct, &sel);
    assert!(
        statuses(&doc).iter().all(|s| s.2 == "compliant"),
        "{:?}",
        statuses(&doc)
    );
    let again = ok(acct.run(&[&["apply", "--yes"][..], &sel].concat()));
    assert!(
        again.stdout.contains("Nothing to apply"),
        "{}",
        again.stdout
    );

    // 3.4, 3.5 and 3.8 on the new trail, in one run.
    let sel = [&["-c", "3.4", "-c", "3.5", "-c", "3.8"][..], &set].concat();
    let doc = plan(&acct, &sel);
    assert_eq!(
        status_of(&doc, "cloudtrail-bucket-access-logging"),
        ["change"]
    );
    assert_eq!(status_of(&doc, "cloudtrail-kms-encryption"), ["change"]);
    assert_eq!(status_of(&doc, "s3-object-write-logging"), ["change"]);
    ok(acct.run(&[&["apply", "--yes"][..], &sel].concat()));
    // The trail had no selectors (the service default): the default is written out
    // explicitly next to the new one, so management events keep being recorded.
    // Written in the shape the service returns: `DataResources: []` included.
    let es = read_selectors(&home, "cis-fix-trail").await;
    assert_eq!(
        es.event_selectors(),
        canonical(&[
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .build(),
            basic(
                ReadWriteType::WriteOnly,
                false,
                "AWS::S3::Object",
                &["arn:aws:s3"]
            ),
        ])
    );
    let logging = b.get_bucket_logging().bucket(&bucket).send().await.unwrap();
    let le = logging.logging_enabled().expect("access logging on");
    assert_eq!(le.target_bucket(), format!("cis-fix-access-logs-{id}"));
    let key = read_trail(&home, "cis-fix-trail")
        .await
        .kms_key_id
        .expect("KMS key set");
    let kms = acct.kms("us-east-1");
    let rotation = kms
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(rotation.key_rotation_enabled());
    let kp = kms
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(kp.policy().unwrap().contains("cloudtrail.amazonaws.com"));
    let doc = plan(&acct, &sel);
    assert!(
        statuses(&doc).iter().all(|s| s.2 == "compliant"),
        "{:?}",
        statuses(&doc)
    );

    // Undo 3.4/3.5/3.8: logging off, key removed from the trail (the key stays), the
    // default selector back.
    ok(acct.run(&["undo", "--yes"]));
    let logging = b.get_bucket_logging().bucket(&bucket).send().await.unwrap();
    assert!(logging.logging_enabled().is_none());
    let es = read_selectors(&home, "cis-fix-trail").await;
    assert_eq!(es.event_selectors().len(), 1, "{es:?}");
    assert_eq!(
        es.event_selectors()[0].read_write_type(),
        Some(&ReadWriteType::All)
    );
    let t = read_trail(&home, "cis-fix-trail").await;
    assert!(t.kms_key_id().unwrap_or("").is_empty(), "{t:?}");
    let k = kms.describe_key().key_id(&key).send().await.unwrap();
    assert!(k.key_metadata().unwrap().enabled(), "the key is kept");

    // Undo the creation: trail and role gone, bucket and log group kept.
    ok(acct.run(&["undo", "--yes"]));
    assert!(home.get_trail().name("cis-fix-trail").send().await.is_err());
    assert!(b.head_bucket().bucket(&bucket).send().await.is_ok());
    let iam = acct.iam();
    assert!(iam
        .get_role()
        .role_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .is_err());
    let groups = acct.log_groups("us-east-1", "cis-fix-cloudtrail").await;
    assert_eq!(groups.len(), 1, "log group kept");
}

fn basic(rw: ReadWriteType, mgmt: bool, ty: &str, values: &[&str]) -> EventSelector {
    EventSelector::builder()
        .read_write_type(rw)
        .include_management_events(mgmt)
        .data_resources(
            DataResource::builder()
                .r#type(ty)
                .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                .build(),
        )
        .build()
}

/// Selectors in the shape GetEventSelectors returns on AWS: every list present. (moto echoes
/// what was written, so a selector written without a list reads back without it.)
fn canonical(sel: &[EventSelector]) -> Vec<EventSelector> {
    sel.iter()
        .map(|s| {
            let mut s = s.clone();
            s.data_resources.get_or_insert_with(Vec::new);
            s.exclude_management_event_sources
                .get_or_insert_with(Vec::new);
            s
        })
        .collect()
}

#[tokio::test]
async fn existing_trail_is_upgraded_in_place_and_keeps_its_selectors() {
    let acct = TestAccount::new().await;
    let bucket = acct.create_bucket("eu-west-1", "own-trail-logs").await;
    let home = acct.cloudtrail("eu-west-1");
    home.create_trail()
        .name("own")
        .s3_bucket_name(&bucket)
        .send()
        .await
        .unwrap();
    let original = vec![
        basic(
            ReadWriteType::All,
            true,
            "AWS::Lambda::Function",
            &["arn:aws:lambda"],
        ),
        basic(
            ReadWriteType::WriteOnly,
            false,
            "AWS::S3::Object",
            &["arn:aws:s3:::some-bucket/"],
        ),
    ];
    home.put_event_selectors()
        .trail_name("own")
        .set_event_selectors(Some(original.clone()))
        .send()
        .await
        .unwrap();

    // 3.1: the single-region, stopped trail is upgraded, not duplicated.
    let doc = plan(&acct, &["-c", "3.1"]);
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["action"], "update", "{item}");
    assert_eq!(item["before"]["IsMultiRegionTrail"], false);
    assert_eq!(item["after"]["IsMultiRegionTrail"], true);
    ok(acct.run(&["apply", "--yes", "-c", "3.1"]));
    let t = read_trail(&home, "own").await;
    assert_eq!(t.is_multi_region_trail(), Some(true));
    assert_eq!(is_logging(&home, "own").await, Some(true));
    // Now recognised as it is: compliant, and still the only trail.
    let doc = plan(&acct, &["-c", "3.1"]);
    assert_eq!(status_of(&doc, "cloudtrail-multi-region"), ["compliant"]);
    assert_eq!(
        home.describe_trails()
            .send()
            .await
            .unwrap()
            .trail_list()
            .len(),
        1
    );

    // 3.2, 3.8 and 3.9 in one run; the two selector controls share one target.
    let sel = ["-c", "3.2", "-c", "3.8", "-c", "3.9"];
    let doc = plan(&acct, &sel);
    assert!(
        statuses(&doc).iter().all(|s| s.2 == "change"),
        "{:?}",
        statuses(&doc)
    );
    ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    let t = read_trail(&home, "own").await;
    assert_eq!(t.log_file_validation_enabled(), Some(true));
    let now = read_selectors(&home, "own").await;
    let now = canonical(now.event_selectors());
    // 3.8 and 3.9 together: one ReadWriteType All selector, not a WriteOnly + ReadOnly pair;
    // every selector written back in the shape the service returns (empty lists present).
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(now
        .iter()
        .all(|s| s.exclude_management_event_sources.is_some()));
    assert_eq!(
        &now[..2],
        &canonical(&original)[..],
        "existing selectors kept exactly"
    );
    assert_eq!(
        now[2],
        canonical(&[basic(
            ReadWriteType::All,
            false,
            "AWS::S3::Object",
            &["arn:aws:s3"]
        )])[0]
    );
    let doc = plan(&acct, &sel);
    assert!(
        statuses(&doc).iter().all(|s| s.2 == "compliant"),
        "{:?}",
        statuses(&doc)
    );
    let again = ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    assert!(
        again.stdout.contains("Nothing to apply"),
        "{}",
        again.stdout
    );

    // Undo that run: selectors exactly as they were, validation off.
    ok(acct.run(&["undo", "--yes"]));
    let back = read_selectors(&home, "own").await;
    assert_eq!(canonical(back.event_selectors()), canonical(&original));
    let t = read_trail(&home, "own").await;
    assert_eq!(t.log_file_validation_enabled(), Some(false));

    // Undo the upgrade: single-region and stopped again.
    ok(acct.run(&["undo", "--yes"]));
    let t = read_trail(&home, "own").await;
    assert_eq!(t.is_multi_region_trail(), Some(false));
    assert_eq!(is_logging(&home, "own").await, Some(false));
}

#[tokio::test]
async fn a_logging_trail_homed_elsewhere_is_recognised_and_changed_in_its_home_region() {
    let acct = TestAccount::new().await;
    let bucket = acct
        .create_bucket("ap-southeast-2", "other-trail-logs")
        .await;
    let home = acct.cloudtrail("ap-southeast-2");
    home.create_trail()
        .name("homed-elsewhere")
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    home.start_logging()
        .name("homed-elsewhere")
        .send()
        .await
        .unwrap();
    let mgmt = vec![AdvancedEventSelector::builder()
        .name("management")
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("eventCategory")
                .equals("Management")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()];
    home.put_event_selectors()
        .trail_name("homed-elsewhere")
        .set_advanced_event_selectors(Some(mgmt.clone()))
        .send()
        .await
        .unwrap();

    // The run's region is eu-west-1: the trail is seen there as a shadow trail and counts.
    let sel = ["-c", "3.1", "-c", "3.2", "-c", "3.9"];
    let doc = plan(&acct, &sel);
    let t31 = plan_item(&doc, "cloudtrail-multi-region");
    assert_eq!(t31["status"], "compliant", "{t31}");
    assert!(t31["summary"].as_str().unwrap().contains("homed-elsewhere"));
    let t32 = plan_item(&doc, "cloudtrail-log-validation");
    assert_eq!(t32["status"], "change", "{t32}");
    assert_eq!(t32["calls"][0]["params"]["Region"], "ap-southeast-2");

    ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    let trails = home.describe_trails().send().await.unwrap();
    assert_eq!(trails.trail_list().len(), 1, "no second trail");
    assert_eq!(
        trails.trail_list()[0].log_file_validation_enabled(),
        Some(true)
    );
    // Advanced selectors stay advanced: one for S3 read events is added.
    let es = read_selectors(&home, "homed-elsewhere").await;
    let adv = es.advanced_event_selectors();
    assert_eq!(adv.len(), 2, "{es:?}");
    assert_eq!(adv[0], mgmt[0]);
    assert!(adv[1]
        .field_selectors()
        .iter()
        .any(|f| f.field() == "readOnly" && f.equals() == ["true"]));
    ok(acct.run(&["undo", "--yes"]));
    let es = read_selectors(&home, "homed-elsewhere").await;
    assert_eq!(es.advanced_event_selectors(), &mgmt[..]);
    let t = read_trail(&home, "homed-elsewhere").await;
    assert_eq!(t.log_file_validation_enabled(), Some(false));
}

#[tokio::test]
async fn all_six_on_a_fresh_account_apply_once_then_nothing_then_undo() {
    let acct = TestAccount::new().await;
    let sel = [
        "-c", "3.1", "-c", "3.2", "-c", "3.4", "-c", "3.5", "-c", "3.8", "-c", "3.9",
    ];
    let doc = plan(&acct, &sel);
    let st = statuses(&doc);
    assert_eq!(st.iter().filter(|s| s.2 == "blocked").count(), 5, "{st:?}");
    // The five that wait are planned again once the trail exists, and applied.
    let out = ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    assert!(!out.stdout.contains("not verified"), "{}", out.stdout);
    let doc = plan(&acct, &sel);
    assert!(
        statuses(&doc).iter().all(|s| s.2 == "compliant"),
        "{:?}",
        statuses(&doc)
    );
    let again = ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    assert!(
        again.stdout.contains("Nothing to apply"),
        "{}",
        again.stdout
    );
    let undo = ok(acct.run(&["undo", "--yes"]));
    assert!(!undo.stdout.contains("NOT verified"), "{}", undo.stdout);
    let trails = acct
        .cloudtrail("eu-west-1")
        .describe_trails()
        .send()
        .await
        .unwrap();
    assert!(trails.trail_list().is_empty());
}
