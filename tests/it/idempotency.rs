//! Every fixing control at once on a thoroughly misconfigured account: one apply fixes all of
//! it, and a second apply finds nothing to do and sends no write.

use crate::harness::{endpoint, TestAccount, REGION};
use crate::proxy;

pub(crate) const ALL_FIXERS: &[&str] = &[
    "-c",
    "1.7",
    "-c",
    "1.8",
    "-c",
    "5.1.1",
    "-c",
    "5.1.2",
    "-c",
    "5.2",
    "-c",
    "5.3",
    "-c",
    "5.4",
    "-c",
    "5.5",
    "-c",
    "5.7",
    "--regions",
    REGION,
];

/// Whether an operation, as the proxy names it, only reads. Query and JSON protocols name the
/// operation (`GetAccountSummary`); REST protocols show up as `METHOD /path`, where reads are
/// GET/HEAD, or a POST to a `get…`/`list…` path (`/getAlternateContact`, `/standards/get`).
pub(crate) fn is_read(op: &str) -> bool {
    let rest_read = match op.split_once(' ') {
        Some(("GET" | "HEAD", _)) => true,
        Some(("POST", path)) => path.split('/').any(|seg| {
            let seg = seg.to_ascii_lowercase();
            seg.starts_with("get") || seg.starts_with("list") || seg.starts_with("describe")
        }),
        _ => false,
    };
    rest_read
        || ["Get", "List", "Describe"]
            .iter()
            .any(|p| op.starts_with(p))
        || op == "GenerateCredentialReport"
}

/// An account failing every control cis-fix fixes: a weak password policy, a group with SSH,
/// RDP over IPv6 and SMB open to the world, a NACL with SSH open, an instance on IMDSv1, EBS
/// default encryption off, and the default groups' allow-all egress.
pub(crate) async fn seed_misconfigured(acct: &TestAccount) {
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    crate::security_groups::open_group(acct).await;
    let ec2 = acct.ec2(REGION);
    ec2.run_instances()
        .image_id("ami-12345678")
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let vpc = ec2.describe_vpcs().send().await.unwrap().vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let acl = ec2.create_network_acl().vpc_id(vpc).send().await.unwrap();
    let acl = acl
        .network_acl()
        .unwrap()
        .network_acl_id()
        .unwrap()
        .to_string();
    ec2.create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(100)
        .protocol("6")
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .egress(false)
        .cidr_block("0.0.0.0/0")
        .port_range(
            aws_sdk_ec2::types::PortRange::builder()
                .from(22)
                .to(22)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_apply_is_a_no_op_for_every_control() {
    let acct = TestAccount::new().await;
    seed_misconfigured(&acct).await;
    let p = proxy::start(&endpoint());
    let first = acct.run_via(
        &p.url,
        &[
            &["apply", "--yes", "--force-in-use", "--allow-destructive"][..],
            ALL_FIXERS,
        ]
        .concat(),
    );
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        !first.stdout.contains("NOT verified") && !first.stdout.contains("failed"),
        "{}",
        first.stdout
    );
    let key = acct.creds.access_key_id();
    let writes_first = p
        .calls_by(key)
        .iter()
        .filter(|c| !is_read(&c.operation))
        .count();
    assert!(
        writes_first >= 8,
        "the first apply wrote: {:?}",
        p.calls_by(key)
    );

    assert_second_apply_writes_nothing(&acct, &p, ALL_FIXERS);
}

/// Apply `selection` again through the proxy: it must find nothing to do and send no write.
fn assert_second_apply_writes_nothing(acct: &TestAccount, p: &proxy::Recorder, selection: &[&str]) {
    let key = acct.creds.access_key_id();
    let before_second = p.calls_by(key).len();
    let second = acct.run_via(
        &p.url,
        &[
            &["apply", "--yes", "--force-in-use", "--allow-destructive"][..],
            selection,
        ]
        .concat(),
    );
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("Nothing to apply"),
        "{}",
        second.stdout
    );
    let writes: Vec<String> = p.calls_by(key)[before_second..]
        .iter()
        .filter(|c| !is_read(&c.operation))
        .map(|c| c.operation.clone())
        .collect();
    assert!(writes.is_empty(), "the second apply wrote {writes:?}");
}

/// Every fixer of the identity, storage, logging and monitoring sections, on one account.
const SECTION_FIXERS: &[&str] = &[
    "-c", "1.2", "-c", "1.9", "-c", "1.15", "-c", "1.16", "-c", "1.21", "-c", "2.1.1", "-c",
    "2.1.4", "-c", "2.2.2", "-c", "2.2.3", "--section", "3", "--section", "4", "--regions",
    REGION, "--alarm-email", "sec@example.com", "--set",
    "security_contact={ name = \"Sec\", title = \"CISO\", email = \"sec@example.com\", phone = \"+15550100\" }",
];

/// An account failing them: a console user without MFA, a role with AdministratorAccess, a
/// group with AWSCloudShellFullAccess, a bucket without a policy, a customer key without
/// rotation, a public database without minor upgrades; no trail, recorder, flow logs,
/// filters, Security Hub, support role or security contact.
async fn seed_sections(acct: &TestAccount) {
    let iam = acct.iam();
    iam.create_user()
        .user_name("console-user")
        .send()
        .await
        .unwrap();
    iam.create_login_profile()
        .user_name("console-user")
        .password("Initial-Password-1!")
        .send()
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("too-powerful")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("too-powerful")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    iam.create_group()
        .group_name("shell-users")
        .send()
        .await
        .unwrap();
    iam.attach_group_policy()
        .group_name("shell-users")
        .policy_arn("arn:aws:iam::aws:policy/AWSCloudShellFullAccess")
        .send()
        .await
        .unwrap();
    acct.create_bucket(REGION, "idempotency-data").await;
    aws_sdk_kms::Client::new(&acct.sdk)
        .create_key()
        .send()
        .await
        .unwrap();
    aws_sdk_rds::Client::new(&acct.sdk)
        .create_db_instance()
        .db_instance_identifier("orders")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("dbadmin")
        .master_user_password("not-a-real-password-1")
        .allocated_storage(20)
        .publicly_accessible(true)
        .auto_minor_version_upgrade(false)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_section_applies_once_then_a_second_apply_is_a_no_op() {
    let acct = TestAccount::new().await;
    seed_sections(&acct).await;
    let p = proxy::start(&endpoint());
    let first = acct.run_via(
        &p.url,
        &[
            &["apply", "--yes", "--force-in-use", "--allow-destructive"][..],
            SECTION_FIXERS,
        ]
        .concat(),
    );
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let bad: Vec<&str> = first
        .stdout
        .lines()
        .filter(|l| {
            l.starts_with("  failed") || l.starts_with("  refused") || l.contains("NOT verified")
        })
        .collect();
    assert!(bad.is_empty(), "{bad:?}\n{}", first.stdout);
    // The trail's dependents (3.2–3.9, the fifteen filters) waited for 3.1 and were planned
    // again within the same run.
    assert!(
        first.stdout.contains("planning what waited"),
        "{}",
        first.stdout
    );

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], SECTION_FIXERS].concat());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    assert_second_apply_writes_nothing(&acct, &p, SECTION_FIXERS);
}
