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
        &[&["apply", "--yes", "--force-in-use"][..], ALL_FIXERS].concat(),
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

    let before_second = p.calls_by(key).len();
    let second = acct.run_via(
        &p.url,
        &[&["apply", "--yes", "--force-in-use"][..], ALL_FIXERS].concat(),
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
