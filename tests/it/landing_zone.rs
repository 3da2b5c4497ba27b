//! Landing zones and organizations (issue 15, items 4 and 5), against moto:
//! - a Control Tower-shaped account (its aws-controltower-BaselineCloudTrail trail, the
//!   aws-controltower-BaselineConfigRecorder recorder and channel, the AWSControlTowerExecution
//!   role with full admin rights, and roles a stack set or the accelerator made, known by
//!   their tags) shows them compliant where they satisfy a control and manual
//!   where they do not, and `apply --yes` sends no write to them (checked at the proxy and by
//!   re-reading them);
//! - a write an SCP denies is reported as "denied by an SCP: p-…" (the AccessDenied is
//!   injected by the proxy: moto has no SCP enforcement), and a denied read likewise;
//! - the organization-level controls (CIS 7.0 2.1.x) from the management account, from a
//!   member and from a standalone account.

use aws_sdk_config::types::{ConfigurationRecorder, DeliveryChannel, RecordingGroup};
use aws_sdk_organizations::types::PolicyType;

use crate::harness::{endpoint, plan_item, plan_json, statuses, Output, TestAccount};
use crate::proxy::{self, Fault, FaultRule};

const CT_TRAIL: &str = "aws-controltower-BaselineCloudTrail";
const CT_RECORDER: &str = "aws-controltower-BaselineConfigRecorder";
const CT_CHANNEL: &str = "aws-controltower-BaselineConfigDeliveryChannel";
const CT_ROLE: &str = "AWSControlTowerExecution";
const REGION: &str = crate::harness::REGION;

fn ok(out: Output) -> Output {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

fn config(acct: &TestAccount) -> aws_sdk_config::Client {
    aws_sdk_config::Client::new(&acct.sdk_in(REGION))
}

/// Seeds what Control Tower deploys into an enrolled account: its trail (multi-region,
/// logging; log file validation as `validation`), its Config recorder and delivery channel
/// (recording as `recording`), and its execution role with full admin rights (a local `*:*`
/// policy: moto's AWS-managed AdministratorAccess needs the managed policies loaded).
async fn control_tower_account(validation: bool, recording: bool) -> TestAccount {
    let acct = TestAccount::new().await;
    let bucket = acct.create_bucket(REGION, "aws-controltower-logs").await;
    let ct = acct.cloudtrail(REGION);
    ct.create_trail()
        .name(CT_TRAIL)
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(validation)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(CT_TRAIL).send().await.unwrap();
    let cfg = config(&acct);
    cfg.put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name(CT_RECORDER)
                .role_arn(format!(
                    "arn:aws:iam::{}:role/aws-controltower-ConfigRecorderRole",
                    acct.id
                ))
                .recording_group(
                    RecordingGroup::builder()
                        .all_supported(true)
                        .include_global_resource_types(true)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    cfg.put_delivery_channel()
        .delivery_channel(
            DeliveryChannel::builder()
                .name(CT_CHANNEL)
                .s3_bucket_name(&bucket)
                .build(),
        )
        .send()
        .await
        .unwrap();
    if recording {
        cfg.start_configuration_recorder()
            .configuration_recorder_name(CT_RECORDER)
            .send()
            .await
            .unwrap();
    }
    let iam = acct.iam();
    iam.create_role()
        .role_name(CT_ROLE)
        .assume_role_policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let admin = iam
        .create_policy()
        .policy_name("ct-admin")
        .policy_document(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    // Roles a stack set or the accelerator made, known by their tags only.
    for (role, key, value) in TAGGED_ROLES {
        iam.create_role()
            .role_name(role)
            .assume_role_policy_document(
                serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
                .to_string(),
            )
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    for role in [CT_ROLE, TAGGED_ROLES[0].0, TAGGED_ROLES[1].0] {
        iam.attach_role_policy()
            .role_name(role)
            .policy_arn(&admin)
            .send()
            .await
            .unwrap();
    }
    acct
}

const TAGGED_ROLES: [(&str, &str, &str); 2] = [
    (
        "baseline-roles-admin",
        "aws:cloudformation:stack-name",
        "StackSet-AWSControlTowerBP-BASELINE-ROLES-0123",
    ),
    ("pipeline-admin", "Accelerator", "AWSAccelerator"),
];

/// What the tests re-read of the landing zone's resources: (trail log validation, trail
/// logging, recorder name, recording, channel name, role's attached policies).
async fn landing_zone_state(acct: &TestAccount) -> (bool, bool, String, bool, String, Vec<String>) {
    let ct = acct.cloudtrail(REGION);
    let trail = ct
        .get_trail()
        .name(CT_TRAIL)
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    let logging = ct
        .get_trail_status()
        .name(CT_TRAIL)
        .send()
        .await
        .unwrap()
        .is_logging()
        .unwrap_or(false);
    let cfg = config(acct);
    let recs = cfg.describe_configuration_recorders().send().await.unwrap();
    let rec = recs.configuration_recorders()[0]
        .name()
        .unwrap()
        .to_string();
    let status = cfg
        .describe_configuration_recorder_status()
        .send()
        .await
        .unwrap();
    let recording = status.configuration_recorders_status()[0].recording();
    let chans = cfg.describe_delivery_channels().send().await.unwrap();
    let chan = chans.delivery_channels()[0].name().unwrap().to_string();
    let mut attached = Vec::new();
    for role in [CT_ROLE, TAGGED_ROLES[0].0, TAGGED_ROLES[1].0] {
        attached.extend(
            acct.iam()
                .list_attached_role_policies()
                .role_name(role)
                .send()
                .await
                .unwrap()
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_name().map(|n| format!("{role}:{n}"))),
        );
    }
    (
        trail.log_file_validation_enabled().unwrap_or(false),
        logging,
        rec,
        recording,
        chan,
        attached,
    )
}

/// The controls that touch the landing zone's trail, recorder and role.
const CT_CONTROLS: [&str; 10] = [
    "-c",
    "cloudtrail-multi-region",
    "-c",
    "cloudtrail-log-validation",
    "-c",
    "config-all-regions",
    "-c",
    "no-full-admin-policies",
    "-c",
    "cloudtrail-kms-encryption",
];

fn items_of<'a>(doc: &'a serde_json::Value, control: &str) -> Vec<&'a serde_json::Value> {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["control"] == control)
        .collect()
}

/// The writes (anything but Describe/Get/List/Lookup reads) `key` sent through the proxy.
fn writes(p: &proxy::Recorder, key: &str) -> Vec<String> {
    p.calls_by(key)
        .into_iter()
        .map(|c| c.operation)
        .filter(|o| {
            !["Describe", "Get", "List", "Lookup", "GET ", "HEAD "]
                .iter()
                .any(|r| o.starts_with(r))
        })
        .collect()
}

/// The plan of the landing-zone controls (`CT_CONTROLS`) as JSON, made before an `apply --yes`
/// of them through the proxy; the apply must exit 0 having sent no write (as the proxy saw
/// it) and left the landing zone's resources as they were.
async fn plan_then_apply_writing_nothing(acct: &TestAccount) -> serde_json::Value {
    let before = landing_zone_state(acct).await;
    let out = ok(acct.run(
        &[
            &["plan", "--format", "json", "--regions", REGION][..],
            &CT_CONTROLS,
        ]
        .concat(),
    ));
    let doc = plan_json(&out);
    let p = proxy::start(&endpoint());
    let out = acct.run_via(
        &p.url,
        &[&["apply", "--yes", "--regions", REGION][..], &CT_CONTROLS].concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let w = writes(&p, acct.creds.access_key_id());
    assert!(
        w.is_empty(),
        "apply wrote to a Control Tower account: {w:?}\n{}",
        out.stdout
    );
    assert_eq!(landing_zone_state(acct).await, before);
    doc
}

#[tokio::test]
async fn a_control_tower_account_is_compliant_and_apply_writes_nothing_to_its_resources() {
    let acct = control_tower_account(true, true).await;
    let doc = plan_then_apply_writing_nothing(&acct).await;
    for control in [
        "cloudtrail-multi-region",
        "cloudtrail-log-validation",
        "config-all-regions",
    ] {
        let item = plan_item(&doc, control);
        assert_eq!(item["status"], "compliant", "{control}: {item}");
    }
    assert!(plan_item(&doc, "cloudtrail-multi-region")["summary"]
        .as_str()
        .unwrap()
        .contains(CT_TRAIL));
    // The execution role's full admin rights: the landing zone needs them.
    for (name, owner) in [
        (
            CT_ROLE,
            "owned by Control Tower: change it in the landing zone, not here",
        ),
        (TAGGED_ROLES[0].0, "owned by Control Tower"),
        (TAGGED_ROLES[1].0, "owned by the Landing Zone Accelerator"),
    ] {
        let role = items_of(&doc, "no-full-admin-policies")
            .into_iter()
            .find(|i| {
                i["target"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("role {name}"))
            })
            .unwrap_or_else(|| panic!("no item for {name}: {doc}"));
        assert_eq!(role["status"], "manual", "{role}");
        assert!(role["summary"].as_str().unwrap().contains(owner), "{role}");
    }
    // 3.5: the CT trail is not KMS-encrypted here: manual, never an UpdateTrail.
    let kms = plan_item(&doc, "cloudtrail-kms-encryption");
    assert_eq!(kms["status"], "manual", "{kms}");
}

#[tokio::test]
async fn a_control_tower_trail_and_recorder_that_fail_are_manual_and_left_alone() {
    let acct = control_tower_account(false, false).await;
    let before = landing_zone_state(&acct).await;
    assert!(!before.0 && !before.3, "seeded failing: {before:?}");
    let doc = plan_then_apply_writing_nothing(&acct).await;
    for control in ["cloudtrail-log-validation", "config-all-regions"] {
        let item = plan_item(&doc, control);
        assert_eq!(item["status"], "manual", "{control}: {item}");
        assert!(
            item["summary"]
                .as_str()
                .unwrap()
                .contains("owned by Control Tower: change it in the landing zone, not here"),
            "{control}: {item}"
        );
        assert!(
            item.get("calls")
                .is_none_or(|c| c.as_array().unwrap().is_empty()),
            "{item}"
        );
    }
    assert!(
        !statuses(&doc).iter().any(|s| s.2 == "change"),
        "no change may be planned: {:?}",
        statuses(&doc)
    );
    // No second trail of cis-fix's next to the landing zone's.
    let trails = acct
        .cloudtrail(REGION)
        .describe_trails()
        .send()
        .await
        .unwrap();
    assert_eq!(trails.trail_list().len(), 1, "{trails:?}");
}

const SCP_MESSAGE: &str = "User: arn:aws:sts::111122223333:assumed-role/Admin/cis-fix is not authorized to perform: iam:UpdateAccountPasswordPolicy on resource: * with an explicit deny in a service control policy: arn:aws:organizations::999988887777:policy/o-abcdef1234/service_control_policy/p-denypwd1";

#[tokio::test]
async fn a_write_an_scp_denies_is_reported_as_denied_by_an_scp() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "UpdateAccountPasswordPolicy",
        None,
        Fault::AccessDeniedWith(SCP_MESSAGE.to_string()),
        None,
    ));
    let out = acct.run_via(&p.url, &["apply", "--yes", "-c", "password-min-length"]);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("denied by an SCP: p-denypwd1"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(!out.stdout.contains("missing permission"), "{}", out.stdout);
    assert!(
        acct.password_policy().await.is_none(),
        "nothing was written"
    );

    // A read the SCP denies, without naming the policy: undetermined, not a tool error.
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "GetAccountPasswordPolicy",
        None,
        Fault::AccessDeniedWith(
            "User: arn:aws:iam::1:user/x is not authorized to perform: iam:GetAccountPasswordPolicy with an explicit deny in a service control policy".into(),
        ),
        None,
    ));
    let out = acct.run_via(
        &p.url,
        &["plan", "--format", "json", "-c", "password-min-length"],
    );
    let doc = plan_json(&out);
    let item = plan_item(&doc, "password-min-length");
    assert_eq!(item["status"], "unknown", "{item}");
    assert!(
        item["summary"]
            .as_str()
            .unwrap()
            .starts_with("denied by an SCP: policy not named"),
        "{item}"
    );
}

/// A member account of `mgmt`'s organization, reached as the management account does
/// (AssumeRole into OrganizationAccountAccessRole), with its own journal directory.
async fn member_of(mgmt: &TestAccount, id: &str) -> TestAccount {
    let c = aws_sdk_sts::Client::new(&mgmt.sdk)
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{id}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("cis-fix-test")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "moto-member",
    );
    let sdk = mgmt
        .sdk
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(creds.clone()),
        )
        .build();
    TestAccount {
        id: id.to_string(),
        creds,
        sdk,
        state: tempfile::tempdir().unwrap(),
    }
}

const ORG_CONTROLS: [&str; 14] = [
    "--benchmark",
    "7.0",
    "--format",
    "json",
    "-c",
    "org-guardrail-policies",
    "-c",
    "org-ou-structure",
    "-c",
    "org-delegated-service-admins",
    "-c",
    "org-centralized-root-access",
    "-c",
    "org-delegated-policy-admin",
];

fn org_plan(acct: &TestAccount) -> serde_json::Value {
    let out = acct.run(&[&["plan"][..], &ORG_CONTROLS].concat());
    assert!(
        out.code == 0 || out.code == 2,
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    plan_json(&out)
}

fn status_summary(doc: &serde_json::Value, control: &str) -> (String, String) {
    let i = plan_item(doc, control);
    (
        i["status"].as_str().unwrap().to_string(),
        i["summary"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn organization_controls_plan_from_the_management_account_and_say_so_elsewhere() {
    let mgmt = TestAccount::new().await;
    let org = aws_sdk_organizations::Client::new(&mgmt.sdk);
    let org_id = org
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap()
        .organization
        .unwrap()
        .id
        .unwrap();
    let req = org
        .create_account()
        .email(format!("member-{}@example.com", mgmt.id))
        .account_name("member")
        .send()
        .await
        .unwrap()
        .create_account_status
        .unwrap()
        .id
        .unwrap();
    let member_id = org
        .describe_create_account_status()
        .create_account_request_id(req)
        .send()
        .await
        .unwrap()
        .create_account_status
        .unwrap()
        .account_id
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();

    // A fresh organization: only FullAWSAccess, no OU, nobody delegated.
    let doc = org_plan(&mgmt);
    let (st, sum) = status_summary(&doc, "org-guardrail-policies");
    assert_eq!(st, "manual", "{sum}");
    let (st, sum) = status_summary(&doc, "org-ou-structure");
    assert_eq!(st, "manual", "{sum}");
    assert!(sum.contains("no organizational units"), "{sum}");
    let (st, _) = status_summary(&doc, "org-delegated-service-admins");
    assert_eq!(st, "manual");
    // moto has neither IAM's ListOrganizationsFeatures nor DescribeResourcePolicy.
    assert_eq!(
        status_summary(&doc, "org-centralized-root-access").0,
        "unknown"
    );
    assert_eq!(
        status_summary(&doc, "org-delegated-policy-admin").0,
        "unknown"
    );
    assert_eq!(
        doc["plan"]["items"].as_array().unwrap().len(),
        5,
        "one finding each"
    );

    // A guardrail on the root, the member in an OU, a delegated administrator.
    org.enable_policy_type()
        .root_id(&root)
        .policy_type(PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let scp = org
        .create_policy()
        .name("deny-leave-org")
        .description("guardrail")
        .r#type(PolicyType::ServiceControlPolicy)
        .content(
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                "Action": "organizations:LeaveOrganization", "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .policy_summary
        .unwrap()
        .id
        .unwrap();
    org.attach_policy()
        .policy_id(&scp)
        .target_id(&root)
        .send()
        .await
        .unwrap();
    let ou = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("Workloads")
        .send()
        .await
        .unwrap()
        .organizational_unit
        .unwrap()
        .id
        .unwrap();
    org.move_account()
        .account_id(&member_id)
        .source_parent_id(&root)
        .destination_parent_id(&ou)
        .send()
        .await
        .unwrap();
    org.register_delegated_administrator()
        .account_id(&member_id)
        .service_principal("guardduty.amazonaws.com")
        .send()
        .await
        .unwrap();
    let doc = org_plan(&mgmt);
    let (st, sum) = status_summary(&doc, "org-guardrail-policies");
    assert_eq!(st, "compliant", "{sum}");
    assert!(sum.contains(&scp) && sum.contains(&root), "{sum}");
    let (st, sum) = status_summary(&doc, "org-ou-structure");
    assert_eq!(st, "compliant", "{sum}");
    let (st, sum) = status_summary(&doc, "org-delegated-service-admins");
    assert_eq!(st, "compliant", "{sum}");
    assert!(sum.contains(&member_id), "{sum}");

    // From the member: one clear not-applicable finding per control, naming the management
    // account.
    let member = member_of(&mgmt, &member_id).await;
    let doc = org_plan(&member);
    for s in statuses(&doc) {
        let (st, sum) = status_summary(&doc, &s.0);
        assert_eq!(st, "skipped", "{}: {sum}", s.0);
        assert!(
            sum.contains("planned from the management account")
                && sum.contains(&mgmt.id)
                && sum.contains(&org_id),
            "{}: {sum}",
            s.0
        );
    }

    // A standalone account: the controls need an organization.
    let alone = TestAccount::new().await;
    let doc = org_plan(&alone);
    for s in statuses(&doc) {
        let (st, sum) = status_summary(&doc, &s.0);
        assert_eq!(st, "manual", "{}: {sum}", s.0);
        assert!(sum.contains("not in an AWS Organization"), "{sum}");
    }
}
