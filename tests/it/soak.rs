//! Reliability under repetition and faults: every fixing control applied through 30%
//! throttling and connection resets ends as it does without faults; repeated plan → apply →
//! undo cycles end exactly as seeded; and an apply killed at arbitrary points is undone back
//! to the seeded account.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_ec2::types::Filter;

use crate::harness::{endpoint, TestAccount, REGION};
use crate::idempotency::{seed_misconfigured, ALL_FIXERS};
use crate::proxy::{self, Fault, FaultRule};

/// Everything the fixing controls touch, with account-specific ids left out so two accounts
/// can be compared: groups by name, ACLs by their entries, instances by their options.
async fn snapshot(acct: &TestAccount) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let policy = acct.iam().get_account_password_policy().send().await.ok();
    s.insert(
        "password policy".into(),
        format!("{:?}", policy.and_then(|p| p.password_policy)),
    );
    let ec2 = acct.ec2(REGION);
    let ebs = ec2.get_ebs_encryption_by_default().send().await.unwrap();
    s.insert(
        "ebs default".into(),
        format!("{:?}", ebs.ebs_encryption_by_default()),
    );
    let groups = ec2.describe_security_groups().send().await.unwrap();
    for g in groups.security_groups() {
        let rules = ec2
            .describe_security_group_rules()
            .filters(
                Filter::builder()
                    .name("group-id")
                    .values(g.group_id().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut r: Vec<String> = rules
            .security_group_rules()
            .iter()
            .map(|r| {
                let peer = r
                    .referenced_group_info()
                    .and_then(|x| x.group_id())
                    .map(|_| "self-or-group");
                format!(
                    "{:?} {:?} {:?}-{:?} {:?} {:?} {:?}",
                    r.is_egress(),
                    r.ip_protocol(),
                    r.from_port(),
                    r.to_port(),
                    r.cidr_ipv4(),
                    r.cidr_ipv6(),
                    peer
                )
            })
            .collect();
        r.sort();
        s.insert(format!("sg {}", g.group_name().unwrap()), r.join("\n"));
    }
    let acls = ec2.describe_network_acls().send().await.unwrap();
    let mut acl_states: Vec<String> = acls
        .network_acls()
        .iter()
        .map(|a| {
            let mut e: Vec<String> = a
                .entries()
                .iter()
                .map(|e| {
                    format!(
                        "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                        e.rule_number(),
                        e.egress(),
                        e.rule_action(),
                        e.protocol(),
                        e.cidr_block(),
                        e.ipv6_cidr_block(),
                        e.port_range()
                    )
                })
                .collect();
            e.sort();
            format!("default={:?} {}", a.is_default(), e.join(" | "))
        })
        .collect();
    acl_states.sort();
    s.insert("nacls".into(), acl_states.join("\n"));
    let instances = ec2.describe_instances().send().await.unwrap();
    let mut md: Vec<String> = instances
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| {
            let m = i.metadata_options();
            format!(
                "{:?} {:?}",
                m.and_then(|m| m.http_tokens()),
                m.and_then(|m| m.http_endpoint())
            )
        })
        .collect();
    md.sort();
    s.insert("instances".into(), md.join("\n"));
    s
}

fn apply_args() -> Vec<&'static str> {
    [
        &["apply", "--yes", "--force-in-use", "--allow-destructive"][..],
        ALL_FIXERS,
    ]
    .concat()
}

#[tokio::test]
async fn every_fixer_under_throttling_and_resets_ends_as_without_faults() {
    let (clean, faulty) = (TestAccount::new().await, TestAccount::new().await);
    seed_misconfigured(&clean).await;
    seed_misconfigured(&faulty).await;
    assert_eq!(
        snapshot(&clean).await,
        snapshot(&faulty).await,
        "identical seeds"
    );

    let out = clean.run(&apply_args());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let p = proxy::start(&endpoint());
    // The emulator lacks this call (HTTP 500, which retries would wait out for half a
    // minute): answer it as AWS would, so the run measures the faults below.
    p.inject(FaultRule::new(
        "GetInstanceMetadataDefaults",
        None,
        Fault::FakeOk("<GetInstanceMetadataDefaultsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><accountLevel><httpTokens>required</httpTokens></accountLevel></GetInstanceMetadataDefaultsResponse>"),
        None,
    ));
    p.inject(FaultRule::sometimes(Fault::Throttle, 15));
    p.inject(FaultRule::sometimes(Fault::Reset, 15));
    let out = faulty.run_via(
        &p.url,
        &[&apply_args()[..], &["--max-attempts", "10"]].concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let key = faulty.creds.access_key_id().to_string();
    assert!(
        p.calls_by(&key).len() > 40,
        "faults were injected into a real run"
    );

    assert_eq!(snapshot(&faulty).await, snapshot(&clean).await);
    let again = faulty.run(&[&["plan", "--detailed-exitcode"][..], ALL_FIXERS].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);
}

#[tokio::test]
async fn repeated_plan_apply_undo_cycles_end_exactly_as_seeded() {
    let acct = TestAccount::new().await;
    seed_misconfigured(&acct).await;
    let seeded = snapshot(&acct).await;
    for cycle in 1..=2 {
        let plan = acct.run(&[&["plan", "--detailed-exitcode"][..], ALL_FIXERS].concat());
        assert_eq!(plan.code, 2, "cycle {cycle}: {}", plan.stdout);
        let apply = acct.run(&apply_args());
        assert_eq!(
            apply.code, 0,
            "cycle {cycle}: {}\n{}",
            apply.stdout, apply.stderr
        );
        assert_ne!(
            snapshot(&acct).await,
            seeded,
            "cycle {cycle}: apply changed the account"
        );
        let clean = acct.run(&[&["plan", "--detailed-exitcode"][..], ALL_FIXERS].concat());
        assert_eq!(clean.code, 0, "cycle {cycle}: {}", clean.stdout);
        let undo = acct.run(&["undo", "--yes"]);
        assert_eq!(
            undo.code, 0,
            "cycle {cycle}: {}\n{}",
            undo.stdout, undo.stderr
        );
        assert_eq!(
            snapshot(&acct).await,
            seeded,
            "cycle {cycle}: undo restored everything"
        );
    }
}

#[tokio::test]
async fn an_apply_killed_at_any_point_is_undone_back_to_the_seed() {
    let acct = TestAccount::new().await;
    seed_misconfigured(&acct).await;
    let seeded = snapshot(&acct).await;
    let p = proxy::start(&endpoint());
    // Slow every call down so kills land in the middle of the run, at different points.
    p.inject(FaultRule::sometimes(
        Fault::Delay(Duration::from_millis(150)),
        100,
    ));
    for (round, after_ms) in [350u64, 900, 1600].into_iter().enumerate() {
        let mut cmd = acct.command(&p.url);
        cmd.args(apply_args())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        let _ = child.kill();
        child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Whatever was done is journaled (possibly with an unknown last change): undo puts
        // the account back, run after run.
        loop {
            let undo = acct.run(&["undo", "--yes"]);
            assert_eq!(
                undo.code, 0,
                "round {round}: {}\n{}",
                undo.stdout, undo.stderr
            );
            if undo.stdout.contains("Nothing to undo") {
                break;
            }
        }
        assert_eq!(
            snapshot(&acct).await,
            seeded,
            "round {round} (killed after {after_ms} ms)"
        );
    }
}
