//! Network ACLs without admin ports open to the internet (v5.0 5.2), and the check-only
//! VPC peering routes control (v5.0 5.6).
//!
//! moto gives every VPC a default NACL with allow-all entries (rule 100, protocol -1,
//! 0.0.0.0/0) in both directions: that is itself an offending entry, so these tests make
//! their own NACL (moto creates it with no entries at all; AWS would add the 32767 deny
//! rules) and pick their items out of the plan by its id. The default NACL is changed and
//! undone by the same runs, and checked too.

use aws_sdk_ec2::types::{NetworkAclEntry, PortRange, RuleAction};
use serde_json::Value;

use crate::harness::{plan_json, TestAccount, REGION};

const SLUG: &str = "nacl-no-admin-ports-ingress";

struct Fixture {
    acct: TestAccount,
    vpc: String,
    acl: String,
    default_acl: String,
}

async fn default_vpc(acct: &TestAccount) -> String {
    acct.ec2(REGION)
        .describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id())
        .expect("default VPC")
        .to_string()
}

async fn add(
    acct: &TestAccount,
    acl: &str,
    n: i32,
    egress: bool,
    proto: &str,
    cidr: &str,
    ports: Option<(i32, i32)>,
) {
    let v6 = cidr.contains(':');
    acct.ec2(REGION)
        .create_network_acl_entry()
        .network_acl_id(acl)
        .rule_number(n)
        .egress(egress)
        .rule_action(RuleAction::Allow)
        .protocol(proto)
        .set_cidr_block((!v6).then(|| cidr.to_string()))
        .set_ipv6_cidr_block(v6.then(|| cidr.to_string()))
        .set_port_range(ports.map(|(f, t)| PortRange::builder().from(f).to(t).build()))
        .send()
        .await
        .unwrap();
}

/// A fresh account with a NACL of our own in the default VPC: ingress 100 tcp 22 and
/// 110 tcp 443 from 0.0.0.0/0, egress 100 all traffic to 0.0.0.0/0.
async fn fixture() -> Fixture {
    let acct = TestAccount::new().await;
    let vpc = default_vpc(&acct).await;
    let ec2 = acct.ec2(REGION);
    let acl = ec2
        .create_network_acl()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .network_acl()
        .and_then(|a| a.network_acl_id())
        .unwrap()
        .to_string();
    add(&acct, &acl, 100, false, "6", "0.0.0.0/0", Some((22, 22))).await;
    add(&acct, &acl, 110, false, "6", "0.0.0.0/0", Some((443, 443))).await;
    add(&acct, &acl, 100, true, "-1", "0.0.0.0/0", None).await;
    let default_acl = ec2
        .describe_network_acls()
        .send()
        .await
        .unwrap()
        .network_acls()
        .iter()
        .find(|a| a.vpc_id() == Some(&vpc) && a.is_default() == Some(true))
        .and_then(|a| a.network_acl_id())
        .expect("default NACL")
        .to_string();
    Fixture {
        acct,
        vpc,
        acl,
        default_acl,
    }
}

/// The entries of `acl`, in a stable order (moto reorders them on replace).
async fn entries(acct: &TestAccount, acl: &str) -> Vec<NetworkAclEntry> {
    let mut out = acct
        .ec2(REGION)
        .describe_network_acls()
        .network_acl_ids(acl)
        .send()
        .await
        .unwrap()
        .network_acls()[0]
        .entries()
        .to_vec();
    out.sort_by_key(|e| (e.egress(), e.rule_number()));
    out
}

fn entry(es: &[NetworkAclEntry], egress: bool, n: i32) -> Option<&NetworkAclEntry> {
    es.iter()
        .find(|e| e.egress() == Some(egress) && e.rule_number() == Some(n))
}

/// The plan item of `control` whose target names `needle`.
fn item<'a>(doc: &'a Value, control: &str, needle: &str) -> &'a Value {
    doc["plan"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["control"] == control && i["target"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("no {control} item for {needle}: {doc:#}"))
}

#[tokio::test]
async fn open_ssh_rule_is_deleted_and_undo_restores_the_entries() {
    let fx = fixture().await;
    let acct = &fx.acct;
    let original = entries(acct, &fx.acl).await;
    let original_default = entries(acct, &fx.default_acl).await;
    let sel = ["--control", "5.2", "--regions", REGION];

    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let it = item(&doc, SLUG, &fx.acl);
    assert_eq!(it["status"], "change", "{it:#}");
    assert_eq!(it["target"], format!("network ACL {} ({})", fx.acl, fx.vpc));
    assert_eq!(it["destructive"], true);
    assert_eq!(it["risk"], "medium");
    assert!(
        it["summary"]
            .as_str()
            .unwrap()
            .contains("rule 100 (allow tcp 22 from 0.0.0.0/0)"),
        "{it:#}"
    );
    assert_eq!(
        it["calls"],
        serde_json::json!([{
            "action": "ec2:DeleteNetworkAclEntry",
            "params": {"NetworkAclId": fx.acl, "RuleNumber": 100, "Egress": false}
        }])
    );
    assert_eq!(it["before"].as_object().unwrap().len(), 3, "{it:#}");
    assert!(it["after"].get("ingress 100").is_none());
    assert_eq!(it["after"]["ingress 110"], it["before"]["ingress 110"]);
    assert_eq!(it["after"]["egress 100"], it["before"]["egress 100"]);
    // moto's default NACL allows all traffic from 0.0.0.0/0: protocol -1 covers 22.
    let def = item(&doc, SLUG, &fx.default_acl);
    assert_eq!(def["status"], "change", "{def:#}");
    let notes = def["notes"].to_string();
    assert!(notes.contains("Associated subnets: subnet-"), "{notes}");
    assert!(notes.contains("default network ACL"), "{notes}");
    assert!(
        notes.contains("admits more than the admin ports and stays"),
        "{notes}"
    );
    // Deny entries added before the allow-all rule take nothing away: not destructive.
    assert_eq!(def["destructive"], false, "{def:#}");
    // The allow-all rule stays; denies for tcp/udp 22 and 3389 go just before it.
    let def_calls: Vec<&str> = def["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(def_calls, ["ec2:CreateNetworkAclEntry"; 4], "{def:#}");

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let now = entries(acct, &fx.acl).await;
    assert!(
        entry(&now, false, 100).is_none(),
        "open SSH rule deleted: {now:?}"
    );
    assert_eq!(entry(&now, false, 110), entry(&original, false, 110));
    assert_eq!(entry(&now, true, 100), entry(&original, true, 100));
    assert_eq!(now.len(), 2, "{now:?}");
    let def_now = entries(acct, &fx.default_acl).await;
    assert_eq!(
        entry(&def_now, false, 100),
        entry(&original_default, false, 100),
        "allow-all kept"
    );
    for n in 96..=99 {
        let e = entry(&def_now, false, n).unwrap_or_else(|| panic!("deny {n}: {def_now:?}"));
        assert!(format!("{e:?}").contains("Deny"), "{e:?}");
    }
    assert!(entry(&def_now, false, 32767).is_some(), "default rule kept");
    assert_eq!(
        entry(&def_now, true, 100),
        entry(&original_default, true, 100)
    );

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(entries(acct, &fx.acl).await, original);
    assert_eq!(entries(acct, &fx.default_acl).await, original_default);
}

#[tokio::test]
async fn trusted_cidr_replaces_the_open_range_in_place() {
    let fx = fixture().await;
    let acct = &fx.acct;
    // RDP open to all of IPv6: no trusted IPv6 range is given, so it is deleted.
    add(acct, &fx.acl, 120, false, "6", "::/0", Some((3389, 3389))).await;
    let original = entries(acct, &fx.acl).await;
    let sel = [
        "--control",
        "5.2",
        "--regions",
        REGION,
        "--trusted-cidr",
        "10.0.0.0/8",
    ];

    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let it = item(&doc, SLUG, &fx.acl);
    assert_eq!(it["status"], "change", "{it:#}");
    let calls: Vec<&str> = it["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        ["ec2:ReplaceNetworkAclEntry", "ec2:DeleteNetworkAclEntry"]
    );
    assert_eq!(it["calls"][0]["params"]["CidrBlock"], "10.0.0.0/8");
    assert_eq!(it["after"]["ingress 100"]["CidrBlock"], "10.0.0.0/8");
    assert!(
        it["notes"]
            .to_string()
            .contains("No trusted IPv6 range was given"),
        "{it:#}"
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let now = entries(acct, &fx.acl).await;
    let ssh = entry(&now, false, 100).expect("rule 100 kept");
    assert_eq!(ssh.cidr_block(), Some("10.0.0.0/8"));
    assert_eq!(ssh.protocol(), Some("6"));
    assert_eq!(ssh.rule_action(), Some(&RuleAction::Allow));
    let ports = ssh.port_range().unwrap();
    assert_eq!((ports.from(), ports.to()), (Some(22), Some(22)));
    assert!(entry(&now, false, 120).is_none(), "open IPv6 RDP deleted");
    assert_eq!(entry(&now, false, 110), entry(&original, false, 110));
    assert_eq!(entry(&now, true, 100), entry(&original, true, 100));

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(entries(acct, &fx.acl).await, original);
}

#[tokio::test]
async fn undo_refuses_a_nacl_changed_after_apply() {
    let fx = fixture().await;
    let acct = &fx.acct;
    let sel = ["--control", "5.2", "--regions", REGION];
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // Someone adds a rule by hand after cis-fix ran.
    add(acct, &fx.acl, 200, false, "6", "10.0.0.0/8", Some((80, 80))).await;
    let undo = acct.run(&["undo", "--yes"]);
    assert!(
        undo.stdout.contains("ingress 200"),
        "the refusal names the moved entry:\n{}\n{}",
        undo.stdout,
        undo.stderr
    );
    assert!(
        entry(&entries(acct, &fx.acl).await, false, 100).is_none(),
        "refused: nothing restored"
    );
}

#[tokio::test]
async fn peering_routes_are_listed_for_review() {
    let acct = TestAccount::new().await;
    let sel = ["--control", "5.6", "--regions", REGION];
    let slug = "vpc-peering-least-access";

    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let it = item(&doc, slug, &format!("route tables ({REGION})"));
    assert_eq!(it["status"], "compliant", "{it:#}");
    assert_eq!(it["summary"], "no routes via VPC peering");
    assert_eq!(doc["plan"]["items"].as_array().unwrap().len(), 1);

    // moto builds peering connections and routes through them.
    let ec2 = acct.ec2(REGION);
    let vpc = default_vpc(&acct).await;
    let peer = ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_string();
    let pcx = ec2
        .create_vpc_peering_connection()
        .vpc_id(&vpc)
        .peer_vpc_id(&peer)
        .send()
        .await
        .unwrap()
        .vpc_peering_connection()
        .and_then(|p| p.vpc_peering_connection_id())
        .unwrap()
        .to_string();
    let rtb = ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .route_table_id()
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(&rtb)
        .destination_cidr_block("10.1.0.0/16")
        .vpc_peering_connection_id(&pcx)
        .send()
        .await
        .unwrap();

    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let it = item(&doc, slug, &rtb);
    assert_eq!(it["status"], "manual", "{it:#}");
    assert_eq!(it["target"], format!("route table {rtb} ({vpc})"));
    assert!(
        it["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("10.1.0.0/16 → {pcx}")),
        "{it:#}"
    );
    assert_eq!(it["before"]["PeeringRoutes"]["10.1.0.0/16"], pcx.as_str());
    assert!(!it["manual_steps"].as_array().unwrap().is_empty());
    assert!(it.get("calls").is_none(), "check-only: no calls");
    let statuses: Vec<&str> = doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["manual"],
        "no compliant region item once a route exists"
    );
}
