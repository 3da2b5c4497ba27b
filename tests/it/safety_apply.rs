//! Issue 13, defects 5 and 9: `--yes` answers the batch question only, never the dangerous
//! ones; parameters that would widen trust are refused.
//!
//! Written first against the pre-fix main (the tests ran against its binary through
//! `CIS_FIX_TEST_BIN`): `--yes` detached AdministratorAccess from a role another account
//! trusts and from a break-glass role and revoked a bastion's SSH rule, exit 0;
//! `--trusted-cidr 0.0.0.0/1` and `support_role_trust = "*"` were accepted.

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};

use crate::harness::{endpoint, TestAccount, REGION};
use crate::proxy::{self, Fault, FaultRule};

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

async fn role_trusted_by(acct: &TestAccount, name: &str, account: &str) {
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    acct.iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    acct.iam()
        .attach_role_policy()
        .role_name(name)
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
}

async fn has_admin(acct: &TestAccount, role: &str) -> bool {
    acct.iam()
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .any(|p| p.policy_arn() == Some(ADMIN))
}

/// A "bastion" group in the default VPC with SSH open to the world; its group id.
async fn bastion(acct: &TestAccount) -> String {
    let ec2 = acct.ec2(REGION);
    let vpc = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .unwrap()
        .vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let gid = ec2
        .create_security_group()
        .group_name("bastion")
        .description("bastion")
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&gid)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    gid
}

async fn ssh_open(acct: &TestAccount, gid: &str) -> bool {
    acct.ec2(REGION)
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(gid).build())
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .any(|r| {
            r.is_egress() == Some(false)
                && r.from_port() == Some(22)
                && r.cidr_ipv4() == Some("0.0.0.0/0")
        })
}

#[tokio::test]
async fn yes_skips_high_risk_cross_account_and_break_glass_changes_unless_allowed() {
    let acct = TestAccount::new().await;
    role_trusted_by(&acct, "OrganizationAccountAccessRole", "999988887777").await;
    role_trusted_by(&acct, "break-glass", &acct.id).await;
    role_trusted_by(&acct, "ops-admin", &acct.id).await;
    let gid = bastion(&acct).await;
    let sel = ["-c", "1.15", "-c", "5.3", "--regions", REGION];

    // The plan says which changes are asked separately, and why.
    let plan = acct.run(&[&["plan"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    // The text plan wraps at 100 columns: read it with the line breaks taken out.
    let flat = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "which another account can assume (arn:aws:iam::999988887777:root)",
        "named like a break-glass principal",
        "destructive and high risk",
    ] {
        assert!(flat.contains(want), "{want}:\n{}", plan.stdout);
    }

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout
            .matches("pass --allow-destructive to apply it with --yes")
            .count(),
        4,
        "{}",
        out.stdout
    );
    // Re-read: every admin detach is destructive and high risk, so nothing was detached.
    assert!(has_admin(&acct, "OrganizationAccountAccessRole").await);
    assert!(has_admin(&acct, "break-glass").await);
    assert!(has_admin(&acct, "ops-admin").await);
    assert!(
        ssh_open(&acct, &gid).await,
        "bastion SSH revoked under --yes"
    );

    // With --allow-destructive, the rest goes too; undo puts every one back.
    let out = acct.run(&[&["apply", "--yes", "--allow-destructive"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!has_admin(&acct, "OrganizationAccountAccessRole").await);
    assert!(!has_admin(&acct, "break-glass").await);
    assert!(!has_admin(&acct, "ops-admin").await);
    assert!(!ssh_open(&acct, &gid).await);
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(has_admin(&acct, "OrganizationAccountAccessRole").await);
    assert!(has_admin(&acct, "break-glass").await);
    assert!(has_admin(&acct, "ops-admin").await);
    assert!(ssh_open(&acct, &gid).await);
}

#[tokio::test]
async fn a_trusted_range_of_half_the_internet_or_broader_than_a_slash_8_is_refused() {
    let acct = TestAccount::new().await;
    for (args, want) in [
        (
            &["plan", "-c", "5.3", "--trusted-cidr", "0.0.0.0/1"][..],
            "half the internet",
        ),
        (
            &["plan", "-c", "5.3", "--trusted-cidr", "::/1"][..],
            "half the internet",
        ),
        (
            &["plan", "-c", "5.3", "--set", "trusted_cidrs=10.0.0.0/7"][..],
            "broader than a /8",
        ),
    ] {
        let out = acct.run(args);
        assert_ne!(out.code, 0, "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[tokio::test]
async fn support_role_trusts_only_this_account_unless_cross_account_trust_is_allowed() {
    let acct = TestAccount::new().await;
    let role = |acct: &TestAccount| {
        let iam = acct.iam();
        async move {
            iam.get_role()
                .role_name("cis-fix-support")
                .send()
                .await
                .ok()
                .and_then(|r| {
                    r.role()
                        .and_then(|r| r.assume_role_policy_document().map(str::to_string))
                })
        }
    };
    let bad = acct.run(&["plan", "-c", "1.16", "--set", "support_role_trust=*"]);
    bad.assert_one_line_error(1, "not an IAM principal");

    let foreign = "support_role_trust=arn:aws:iam::999988887777:root";
    let out = acct.run(&["apply", "-c", "1.16", "--yes", "--set", foreign]);
    out.assert_one_line_error(1, "--allow-cross-account-trust");
    assert_eq!(role(&acct).await, None, "a role was created");

    let out = acct.run(&[
        "apply",
        "-c",
        "1.16",
        "--yes",
        "--set",
        foreign,
        "--allow-cross-account-trust",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let trust = role(&acct).await.expect("role created");
    assert!(trust.contains("999988887777"), "{trust}");
}

/// Issue 13 defect 1 (partial changes), for 1.16: when attaching AWSSupportAccess fails after
/// the role was created, the role goes again. (Failing first: the role stayed.)
#[tokio::test]
async fn a_failed_support_role_apply_leaves_no_role_behind() {
    let acct = TestAccount::new().await;
    let proxy = proxy::start(&endpoint());
    proxy.inject(FaultRule::new(
        "AttachRolePolicy",
        None,
        Fault::AccessDenied,
        None,
    ));
    let out = acct.run_via(&proxy.url, &["apply", "-c", "1.16", "--yes"]);
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        proxy.count(acct.creds.access_key_id(), "AttachRolePolicy"),
        1
    );
    let role = acct
        .iam()
        .get_role()
        .role_name("cis-fix-support")
        .send()
        .await;
    assert!(
        role.is_err(),
        "the role created by the failed apply is still there"
    );
}
