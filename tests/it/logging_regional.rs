//! The regional logging controls (v5.0 3.3 AWS Config, 3.6 KMS rotation, 3.7 VPC flow
//! logs), each in two regions: plan → apply → re-read with the SDK → plan compliant → second
//! apply is a no-op → undo → the original state.
//!
//! The emulator lacks DescribeDeliveryChannelStatus (HTTP 500): the Config control reads it
//! only for a note, and its absence is covered by a replayed answer in the unit tests
//! (`config_all_regions::tests`). The emulator cannot create AWS-managed KMS keys; that case
//! is covered by a replayed ListKeys/DescribeKey in `kms_key_rotation::tests`.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use serde_json::Value;

use crate::harness::{call_actions, plan_item, plan_json, statuses, TestAccount};

const REGIONS: &str = "eu-west-1,us-east-1";
/// The run's home region (the harness's AWS_REGION): global resource types go there only.
const HOME: &str = "eu-west-1";
const AWAY: &str = "us-east-1";

fn config(acct: &TestAccount, region: &str) -> aws_sdk_config::Client {
    aws_sdk_config::Client::new(&acct.sdk_in(region))
}

fn sel<'a>(controls: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::new();
    for c in controls {
        v.extend(["--control", c]);
    }
    v.extend(["--regions", REGIONS]);
    v.extend(extra);
    v
}

/// The plan JSON document of `plan --format json` with `args`.
fn plan_doc(acct: &TestAccount, args: &[&str]) -> Value {
    plan_json(&acct.run(&[&["plan", "--format", "json"][..], args].concat()))
}

fn run_ok(acct: &TestAccount, args: &[&str]) -> String {
    let out = acct.run(args);
    assert_eq!(out.code, 0, "{args:?}\n{}\n{}", out.stdout, out.stderr);
    out.stdout
}

/// Plan JSON items of one control: (region, target, status).
fn items(acct: &TestAccount, args: &[&str], control: &str) -> Vec<(String, String, String)> {
    let out = acct.run(&[&["plan", "--format", "json"][..], args].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = plan_json(&out);
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["control"] == control)
        .map(|i| {
            (
                i["region"].as_str().unwrap_or("").to_string(),
                i["target"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (name, all_supported, include_global, resource types, recording) of the region's recorder.
async fn recorder(
    acct: &TestAccount,
    region: &str,
) -> Option<(String, bool, bool, Vec<String>, bool)> {
    let c = config(acct, region);
    let recs = c.describe_configuration_recorders().send().await.unwrap();
    let r = recs.configuration_recorders().first()?.clone();
    let name = r.name().unwrap().to_string();
    let g = r.recording_group().unwrap();
    let st = c
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap();
    let recording = st
        .configuration_recorders_status()
        .iter()
        .any(|s| s.name() == Some(name.as_str()) && s.recording());
    Some((
        name,
        g.all_supported(),
        g.include_global_resource_types(),
        g.resource_types()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        recording,
    ))
}

async fn channel_bucket(acct: &TestAccount, region: &str) -> Option<String> {
    config(acct, region)
        .describe_delivery_channels()
        .send()
        .await
        .unwrap()
        .delivery_channels()
        .first()
        .map(|c| c.s3_bucket_name().unwrap().to_string())
}

pub(crate) async fn rotation(acct: &TestAccount, region: &str, key: &str) -> bool {
    acct.kms(region)
        .get_key_rotation_status()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_rotation_enabled()
}

async fn new_key(acct: &TestAccount, region: &str, spec: KeySpec) -> String {
    let mut req = acct.kms(region).create_key().key_spec(spec.clone());
    if spec != KeySpec::SymmetricDefault {
        req = req.key_usage(KeyUsageType::SignVerify);
    }
    req.send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id()
        .to_string()
}

/// (vpc, traffic, destination type, destination) of every flow log in the region.
async fn flow_logs(acct: &TestAccount, region: &str) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = acct
        .ec2(region)
        .describe_flow_logs()
        .send()
        .await
        .unwrap()
        .flow_logs()
        .iter()
        .map(|f| {
            (
                f.resource_id().unwrap().to_string(),
                f.traffic_type().unwrap().as_str().to_string(),
                f.log_destination_type().unwrap().as_str().to_string(),
                f.log_destination()
                    .or(f.log_group_name())
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn vpcs(acct: &TestAccount, region: &str) -> Vec<String> {
    let mut v: Vec<String> = acct
        .ec2(region)
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .map(|v| v.vpc_id().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn fresh_account_all_three_in_two_regions_apply_idempotent_undo() {
    let acct = TestAccount::new().await;
    let home_key = new_key(&acct, HOME, KeySpec::SymmetricDefault).await;
    let away_key = new_key(&acct, AWAY, KeySpec::SymmetricDefault).await;
    // Customer-managed keys that are not rotation targets.
    let asym = new_key(&acct, HOME, KeySpec::Rsa2048).await;
    let disabled = new_key(&acct, HOME, KeySpec::SymmetricDefault).await;
    acct.kms(HOME)
        .disable_key()
        .key_id(&disabled)
        .send()
        .await
        .unwrap();
    let controls = ["config-all-regions", "kms-key-rotation", "vpc-flow-logs"];
    let args = sel(&controls, &[]);

    // Plan: one change per region for Config, per symmetric key, per VPC.
    let cfg = items(&acct, &args, "config-all-regions");
    assert_eq!(cfg.len(), 2, "{cfg:?}");
    assert!(cfg
        .iter()
        .all(|i| i.1 == "AWS Config recorder" && i.2 == "change"));
    let keys = items(&acct, &args, "kms-key-rotation");
    let status_of = |k: &str| {
        keys.iter()
            .find(|i| i.1 == format!("KMS key {k}"))
            .unwrap_or_else(|| panic!("{k} in {keys:?}"))
            .2
            .clone()
    };
    assert_eq!(status_of(&home_key), "change");
    assert_eq!(status_of(&away_key), "change");
    assert_eq!(status_of(&asym), "skipped");
    assert_eq!(status_of(&disabled), "skipped");
    let fl = items(&acct, &args, "vpc-flow-logs");
    let vpc_home = vpcs(&acct, HOME).await;
    let vpc_away = vpcs(&acct, AWAY).await;
    assert_eq!(fl.len(), vpc_home.len() + vpc_away.len(), "{fl:?}");
    assert!(fl.iter().all(|i| i.2 == "change"), "{fl:?}");

    run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());

    // Config: recording everything, global types in the home region only, channel to the
    // Config bucket, which exists with Block Public Access.
    let bucket = format!("cis-fix-config-{}", acct.id);
    let (name, all, global, _, on) = recorder(&acct, HOME).await.expect("home recorder");
    assert_eq!(
        (name.as_str(), all, global, on),
        ("default", true, true, true)
    );
    let (_, all, global, _, on) = recorder(&acct, AWAY).await.expect("away recorder");
    assert_eq!((all, global, on), (true, false, true));
    assert_eq!(channel_bucket(&acct, HOME).await.as_deref(), Some(&*bucket));
    assert_eq!(channel_bucket(&acct, AWAY).await.as_deref(), Some(&*bucket));
    let pab = acct.public_access_block(HOME, &bucket).await;
    assert_eq!(pab.block_public_policy(), Some(true));
    let policy = acct
        .s3(HOME)
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert!(policy.contains("config.amazonaws.com"), "{policy}");
    assert!(
        policy.contains(&format!("AWSLogs/{}/Config/*", acct.id)),
        "{policy}"
    );
    // The service-linked role.
    let slr = acct
        .iam()
        .list_roles()
        .path_prefix("/aws-service-role/config.amazonaws.com/")
        .send()
        .await
        .unwrap();
    assert_eq!(slr.roles().len(), 1);

    // KMS: rotation on for the two targets only.
    assert!(rotation(&acct, HOME, &home_key).await);
    assert!(rotation(&acct, AWAY, &away_key).await);
    assert!(
        !rotation(&acct, HOME, &disabled).await,
        "disabled key untouched"
    );

    // Flow logs: one per VPC, REJECT, to the region's cis-fix log group.
    for (region, vpcs) in [(HOME, &vpc_home), (AWAY, &vpc_away)] {
        let got = flow_logs(&acct, region).await;
        let want: Vec<_> = vpcs
            .iter()
            .map(|v| {
                (
                    v.clone(),
                    "REJECT".to_string(),
                    "cloud-watch-logs".to_string(),
                    "cis-fix-vpc-flow-logs".to_string(),
                )
            })
            .collect();
        assert_eq!(got, want, "{region}");
        let groups = acct.log_groups(region, "cis-fix-vpc-flow-logs").await;
        assert_eq!(groups[0].retention_in_days(), Some(365));
    }
    let role = acct
        .iam()
        .get_role()
        .role_name("cis-fix-flow-logs")
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert!(
        role.assume_role_policy_document()
            .unwrap_or_default()
            .contains("vpc-flow-logs.amazonaws.com"),
        "{role:?}"
    );

    // Second plan: compliant; second apply: nothing to do.
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &args].concat());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let doc = plan_doc(&acct, &args);
    let st = statuses(&doc);
    assert!(
        st.iter().all(|s| s.2 == "compliant" || s.2 == "skipped"),
        "{st:?}"
    );
    // The emulator lacks DescribeDeliveryChannelStatus: the compliant finding says the
    // status is unknown instead of failing the plan.
    let cfg_item = plan_item(&doc, "config-all-regions");
    assert_eq!(cfg_item["status"], "compliant");
    assert!(
        cfg_item["notes"]
            .to_string()
            .contains("Delivery channel status unknown"),
        "{cfg_item}"
    );
    let second = run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());
    assert!(second.contains("Nothing to apply"), "{second}");

    // Undo: no recorder or channel, rotation off, no flow logs; the bucket and log groups
    // (which hold logs) are kept.
    let undo = run_ok(&acct, &["undo", "--yes"]);
    for region in [HOME, AWAY] {
        assert!(recorder(&acct, region).await.is_none(), "{region}\n{undo}");
        assert_eq!(channel_bucket(&acct, region).await, None, "{region}");
        assert!(flow_logs(&acct, region).await.is_empty(), "{region}");
        let groups = acct.log_groups(region, "cis-fix-vpc-flow-logs").await;
        assert_eq!(groups.len(), 1, "log group kept in {region}");
    }
    assert!(!rotation(&acct, HOME, &home_key).await);
    assert!(!rotation(&acct, AWAY, &away_key).await);
    acct.s3(HOME)
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the Config bucket is kept");
}

/// Put a recorder (and, when `channel`, a delivery channel) in place without starting it.
async fn seed_recorder(
    acct: &TestAccount,
    region: &str,
    group: aws_sdk_config::types::RecordingGroup,
    channel: bool,
) {
    use aws_sdk_config::types::{ConfigurationRecorder, DeliveryChannel};
    let c = config(acct, region);
    c.put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name("mine")
                .role_arn(format!("arn:aws:iam::{}:role/my-config-role", acct.id))
                .recording_group(group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    if channel {
        c.put_delivery_channel()
            .delivery_channel(
                DeliveryChannel::builder()
                    .name("my-channel")
                    .s3_bucket_name(format!("my-config-{}", acct.id))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn stopped_recorder_is_started_in_place_and_undo_stops_it() {
    use aws_sdk_config::types::RecordingGroup;
    let acct = TestAccount::new().await;
    for (region, global) in [(HOME, true), (AWAY, false)] {
        let g = RecordingGroup::builder()
            .all_supported(true)
            .include_global_resource_types(global)
            .build();
        seed_recorder(&acct, region, g, true).await;
    }
    let args = sel(&["config-all-regions"], &[]);
    let doc = plan_doc(&acct, &args);
    for item in doc["plan"]["items"].as_array().unwrap() {
        assert_eq!(item["status"], "change");
        assert_eq!(item["action"], "update");
        assert_eq!(item["destructive"], false);
        assert_eq!(
            call_actions(item),
            ["config:StartConfigurationRecorder"],
            "{item}"
        );
        assert!(
            item["summary"]
                .as_str()
                .unwrap()
                .contains("recorder 'mine' is stopped"),
            "{item}"
        );
    }
    run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());
    for region in [HOME, AWAY] {
        let (name, _, _, _, on) = recorder(&acct, region).await.unwrap();
        assert_eq!((name.as_str(), on), ("mine", true), "{region}");
        let ch = channel_bucket(&acct, region).await.unwrap();
        assert_eq!(ch, format!("my-config-{}", acct.id), "channel kept");
    }
    let second = run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());
    assert!(second.contains("Nothing to apply"), "{second}");

    run_ok(&acct, &["undo", "--yes"]);
    for region in [HOME, AWAY] {
        let (name, _, _, _, on) = recorder(&acct, region).await.expect("recorder kept");
        assert_eq!((name.as_str(), on), ("mine", false), "{region}");
        assert!(
            channel_bucket(&acct, region).await.is_some(),
            "channel kept"
        );
    }
}

#[tokio::test]
async fn narrow_recorder_is_widened_in_place_with_a_diff_and_undo_restores_it() {
    use aws_sdk_config::types::{RecordingGroup, ResourceType};
    let acct = TestAccount::new().await;
    for region in [HOME, AWAY] {
        let g = RecordingGroup::builder()
            .all_supported(false)
            .include_global_resource_types(false)
            .resource_types(ResourceType::Instance)
            .build();
        // No channel either: cis-fix adds one to its bucket, and starts the recorder.
        seed_recorder(&acct, region, g, false).await;
    }
    let args = sel(&["config-all-regions"], &[]);
    let doc = plan_doc(&acct, &args);
    for item in doc["plan"]["items"].as_array().unwrap() {
        let summary = item["summary"].as_str().unwrap();
        assert_eq!(item["action"], "update", "{item}");
        assert_eq!(item["destructive"], true, "{item}");
        assert!(
            summary.contains("recorder 'mine' records too little"),
            "{summary}"
        );
        assert!(summary.contains("allSupported false → true"), "{summary}");
        assert!(
            summary.contains("resourceTypes [AWS::EC2::Instance] → []"),
            "{summary}"
        );
        assert_eq!(
            summary.contains("includeGlobalResourceTypes false → true"),
            item["region"] == HOME,
            "{summary}"
        );
    }
    run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());
    let (name, all, global, types, on) = recorder(&acct, HOME).await.unwrap();
    assert_eq!(
        (name.as_str(), all, global, types.len(), on),
        ("mine", true, true, 0, true)
    );
    let (name, all, global, _, on) = recorder(&acct, AWAY).await.unwrap();
    assert_eq!(
        (name.as_str(), all, global, on),
        ("mine", true, false, true)
    );
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &args].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    run_ok(&acct, &["undo", "--yes"]);
    for region in [HOME, AWAY] {
        let (name, all, global, types, on) = recorder(&acct, region).await.unwrap();
        assert_eq!(
            (name.as_str(), all, global, on),
            ("mine", false, false, false),
            "{region}"
        );
        assert_eq!(types, ["AWS::EC2::Instance"], "{region}");
        assert_eq!(channel_bucket(&acct, region).await, None, "{region}");
    }
}

#[tokio::test]
async fn flow_logs_all_traffic_to_s3_and_undo() {
    let acct = TestAccount::new().await;
    let args = sel(
        &["vpc-flow-logs"],
        &[
            "--set",
            "flow_log_traffic=ALL",
            "--set",
            "flow_log_destination=s3",
        ],
    );
    let doc = plan_doc(&acct, &args);
    let items = doc["plan"]["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let bucket = format!("cis-fix-flow-logs-{}", acct.id);
    for item in items {
        assert_eq!(item["status"], "change");
        let create = item["calls"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(create["action"], "ec2:CreateFlowLogs");
        assert_eq!(create["params"]["TrafficType"], "ALL");
        assert_eq!(
            create["params"]["LogDestination"],
            format!("arn:aws:s3:::{bucket}")
        );
        let notes = item["notes"].to_string();
        assert!(
            notes.contains("per GB") && notes.contains("never the bucket"),
            "{notes}"
        );
    }
    run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());
    for region in [HOME, AWAY] {
        let got = flow_logs(&acct, region).await;
        let want: Vec<_> = vpcs(&acct, region)
            .await
            .into_iter()
            .map(|v| {
                (
                    v,
                    "ALL".to_string(),
                    "s3".to_string(),
                    format!("arn:aws:s3:::{bucket}"),
                )
            })
            .collect();
        assert_eq!(got, want, "{region}");
    }
    let loc = acct
        .s3(HOME)
        .get_bucket_location()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        loc.location_constraint().map(|l| l.as_str()),
        Some(HOME),
        "one bucket, in the home region"
    );
    let second = run_ok(&acct, &[&["apply", "--yes"][..], &args].concat());
    assert!(second.contains("Nothing to apply"), "{second}");

    run_ok(&acct, &["undo", "--yes"]);
    for region in [HOME, AWAY] {
        assert!(flow_logs(&acct, region).await.is_empty(), "{region}");
    }
    acct.s3(HOME)
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the flow-log bucket is kept");
}

#[tokio::test]
async fn existing_reject_flow_log_is_compliant_and_no_keys_is_compliant() {
    let acct = TestAccount::new().await;
    // A VPC already logging rejected traffic to its owner's bucket.
    let bucket = acct.create_bucket(HOME, "own-flow-logs").await;
    let vpc = vpcs(&acct, HOME).await.remove(0);
    acct.ec2(HOME)
        .create_flow_logs()
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .resource_ids(&vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::Reject)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::S3)
        .log_destination(format!("arn:aws:s3:::{bucket}"))
        .send()
        .await
        .unwrap();
    let fl = items(
        &acct,
        &["--control", "vpc-flow-logs", "--regions", HOME],
        "vpc-flow-logs",
    );
    let mine = fl.iter().find(|i| i.1 == format!("VPC {vpc}")).unwrap();
    assert_eq!(mine.2, "compliant", "{fl:?}");

    let keys = items(
        &acct,
        &["--control", "kms-key-rotation", "--regions", REGIONS],
        "kms-key-rotation",
    );
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.1 == "customer-managed KMS keys" && k.2 == "compliant"),
        "{keys:?}"
    );
}
