//! Security-group controls against the emulator: default group lockdown with blast radius
//! (5.5), admin ports from the internet (5.3 / 5.4) and CIFS (5.1.2).

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, UserIdGroupPair};

use crate::harness::{plan_json, TestAccount, REGION};

const REGIONS: [&str; 2] = ["--regions", REGION];

/// The group's rules as comparable strings (ids left out: undo re-creates rules with new ids).
async fn rules(acct: &TestAccount, gid: &str) -> Vec<String> {
    let out = acct
        .ec2(REGION)
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(gid).build())
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = out
        .security_group_rules()
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?}-{:?} v4={:?} v6={:?} ref={:?}",
                if r.is_egress().unwrap() {
                    "egress"
                } else {
                    "ingress"
                },
                r.ip_protocol().unwrap(),
                r.from_port(),
                r.to_port(),
                r.cidr_ipv4(),
                r.cidr_ipv6(),
                r.referenced_group_info().and_then(|g| g.group_id())
            )
        })
        .collect();
    v.sort();
    v
}

async fn default_group(acct: &TestAccount) -> String {
    let out = acct
        .ec2(REGION)
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.security_groups()[0].group_id().unwrap().to_string()
}

/// Make the default group look like AWS's (self-referencing ingress) plus IPv6 egress.
async fn aws_like_default(acct: &TestAccount, gid: &str) {
    let ec2 = acct.ec2(REGION);
    ec2.authorize_security_group_ingress()
        .group_id(gid)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(gid).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_egress()
        .group_id(gid)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn item_for<'a>(doc: &'a serde_json::Value, control: &str, gid: &str) -> &'a serde_json::Value {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["control"] == control && i["target"].as_str().unwrap().contains(gid))
        .unwrap_or_else(|| panic!("no {control} item for {gid}: {doc}"))
}

#[tokio::test]
async fn default_group_lockdown_removes_every_rule_and_undo_restores_them() {
    let acct = TestAccount::new().await;
    let gid = default_group(&acct).await;
    aws_like_default(&acct, &gid).await;
    let original = rules(&acct, &gid).await;
    assert_eq!(original.len(), 3, "{original:?}");

    let sel = [&["--control", "5.5"][..], &REGIONS].concat();
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let item = item_for(&doc, "default-security-group-closed", &gid);
    assert_eq!(item["status"], "change");
    assert_eq!(item["destructive"], true);
    assert!(item.get("in_use").is_none(), "unused group: {item}");
    let calls: Vec<&str> = item["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        [
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress"
        ]
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        rules(&acct, &gid).await.is_empty(),
        "IPv4, IPv6 and self-referencing rules all gone"
    );
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(rules(&acct, &gid).await, original);
}

#[tokio::test]
async fn default_group_in_use_is_skipped_under_yes_and_shows_the_instance() {
    let acct = TestAccount::new().await;
    let gid = default_group(&acct).await;
    let run = acct
        .ec2(REGION)
        .run_instances()
        .image_id("ami-12345678")
        .min_count(1)
        .max_count(1)
        .security_group_ids(&gid)
        .send()
        .await
        .unwrap();
    let instance = run.instances()[0].instance_id().unwrap().to_string();
    let original = rules(&acct, &gid).await;
    let sel = [
        &["--control", "default-security-group-closed"][..],
        &REGIONS,
    ]
    .concat();

    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let doc = plan_json(&plan);
    let item = item_for(&doc, "default-security-group-closed", &gid);
    assert_eq!(item["risk"], "high");
    let users = item["in_use"].as_array().expect("blast radius");
    assert!(
        users
            .iter()
            .any(|u| u.as_str().unwrap().contains(&instance)),
        "{users:?}"
    );
    let text = acct.run(&[&["plan"][..], &sel].concat());
    assert!(
        text.stdout.contains("IN USE") && text.stdout.contains(&instance),
        "{}",
        text.stdout
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("--force-in-use"), "{}", out.stdout);
    assert_eq!(
        rules(&acct, &gid).await,
        original,
        "nothing revoked without confirmation"
    );

    let forced = acct.run(
        &[
            &["apply", "--yes", "--force-in-use", "--allow-destructive"][..],
            &sel,
        ]
        .concat(),
    );
    assert_eq!(forced.code, 0, "{}\n{}", forced.stdout, forced.stderr);
    assert!(rules(&acct, &gid).await.is_empty());
}

pub(crate) async fn open_group(acct: &TestAccount) -> String {
    let ec2 = acct.ec2(REGION);
    let vpc = ec2.describe_vpcs().send().await.unwrap().vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let gid = ec2
        .create_security_group()
        .group_name("web")
        .description("web")
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    // One permission entry holding a world-open and a private source for SSH, plus
    // world-open RDP over IPv6, HTTPS, and SMB.
    ec2.authorize_security_group_ingress()
        .group_id(&gid)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .ip_ranges(IpRange::builder().cidr_ip("192.168.0.0/16").build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(3389)
                .to_port(3389)
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(445)
                .to_port(445)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    gid
}

#[tokio::test]
async fn open_admin_ports_and_cifs_are_revoked_rule_by_rule_and_undone() {
    let acct = TestAccount::new().await;
    let gid = open_group(&acct).await;
    let original = rules(&acct, &gid).await;
    let sel = [&["-c", "5.3", "-c", "5.4", "-c", "5.1.2"][..], &REGIONS].concat();

    let doc = plan_json(&acct.run(&[&["plan", "--format", "json"][..], &sel].concat()));
    for c in [
        "sg-no-admin-ports-ipv4",
        "sg-no-admin-ports-ipv6",
        "cifs-restricted",
    ] {
        assert_eq!(item_for(&doc, c, &gid)["status"], "change", "{c}");
    }
    let out = acct.run(&[&["apply", "--yes", "--allow-destructive"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let now = rules(&acct, &gid).await;
    assert!(
        now.iter()
            .any(|r| r.contains("Some(22)") && r.contains("192.168.0.0/16")),
        "private SSH kept: {now:?}"
    );
    assert!(
        now.iter().any(|r| r.contains("Some(443)")),
        "HTTPS kept: {now:?}"
    );
    assert!(!now.iter().any(|r| r.contains("0.0.0.0/0") && (r.contains("Some(22)") || r.contains("Some(445)"))), "{now:?}");
    assert!(!now.iter().any(|r| r.contains("::/0")), "{now:?}");
    assert_eq!(
        now.len(),
        original.len() - 3,
        "exactly three rules revoked: {now:?}"
    );

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(
        rules(&acct, &gid).await,
        original,
        "undo re-authorizes exactly"
    );
}

#[tokio::test]
async fn trusted_cidr_is_authorized_before_the_open_rule_goes() {
    let acct = TestAccount::new().await;
    let gid = open_group(&acct).await;
    let original = rules(&acct, &gid).await;
    let sel = [&["-c", "5.3", "--trusted-cidr", "10.0.0.0/8"][..], &REGIONS].concat();
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let doc = plan_json(&plan);
    assert_eq!(doc["plan"]["params"]["trusted_cidrs"][0], "10.0.0.0/8");
    let calls = &item_for(&doc, "sg-no-admin-ports-ipv4", &gid)["calls"];
    assert_eq!(
        calls[0]["action"], "ec2:AuthorizeSecurityGroupIngress",
        "{calls}"
    );
    assert_eq!(
        calls[1]["action"], "ec2:RevokeSecurityGroupIngress",
        "{calls}"
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let now = rules(&acct, &gid).await;
    assert!(
        now.iter()
            .any(|r| r.contains("Some(22)") && r.contains("10.0.0.0/8")),
        "trusted SSH: {now:?}"
    );
    assert!(
        !now.iter()
            .any(|r| r.contains("Some(22)") && r.contains("0.0.0.0/0")),
        "{now:?}"
    );
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(rules(&acct, &gid).await, original);
}
