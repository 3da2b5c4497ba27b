//! The password-policy controls (v5.0 1.7 and 1.8) end to end: plan, apply, re-read, undo.

use crate::harness::{plan_json, statuses, TestAccount};
use crate::proxy;

const BOTH: &[&str] = &["--control", "1.7", "--control", "1.8"];

fn args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

#[tokio::test]
async fn plan_on_fresh_account_shows_both_changes_and_exits_2() {
    let acct = TestAccount::new().await;
    let out = acct.run(&args(
        &["plan", "--format", "json", "--detailed-exitcode"],
        BOTH,
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    let doc = plan_json(&out);
    assert_eq!(doc["plan"]["account"]["id"], acct.id.as_str());
    let st = statuses(&doc);
    assert_eq!(
        st,
        vec![
            ("password-min-length".into(), None, "change".into()),
            ("password-reuse-prevention".into(), None, "change".into())
        ]
    );
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["action"], "create");
    assert_eq!(item["after"]["MinimumPasswordLength"], 14);
    assert_eq!(
        item["calls"][0]["action"],
        "iam:UpdateAccountPasswordPolicy"
    );
    // The text diff names every field, old → new (folded, fields set from nothing read
    // `sets: MinimumPasswordLength=14, …`).
    let text = acct.run(&args(&["plan"], BOTH));
    assert_eq!(text.code, 0);
    // Not a terminal: no progress bar, no log noise.
    assert_eq!(text.stderr, "", "stderr must stay empty off a terminal");
    assert!(
        text.stdout.contains("(none) → 14")
            || text.stdout.contains("sets: ") && text.stdout.contains("MinimumPasswordLength=14"),
        "{}",
        text.stdout
    );
    assert!(
        acct.password_policy().await.is_none(),
        "plan must not create a policy"
    );
}

#[tokio::test]
async fn apply_keeps_stricter_and_unrelated_fields_then_plan_is_empty() {
    let acct = TestAccount::new().await;
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(20)
        .max_password_age(90)
        .require_symbols(true)
        .send()
        .await
        .unwrap();
    let out = acct.run(&args(&["apply", "--yes"], BOTH));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("applied, verified"), "{}", out.stdout);

    let p = acct.password_policy().await.expect("policy exists");
    assert_eq!(
        p.minimum_password_length(),
        Some(20),
        "stricter minimum kept"
    );
    assert_eq!(p.max_password_age(), Some(90), "unrelated max age kept");
    assert!(p.require_symbols(), "unrelated flag kept");
    assert_eq!(p.password_reuse_prevention(), Some(24));

    let again = acct.run(&args(
        &["plan", "--detailed-exitcode", "--format", "json"],
        BOTH,
    ));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(statuses(&plan_json(&again))
        .iter()
        .all(|s| s.2 == "compliant"));
}

#[tokio::test]
async fn undo_restores_the_exact_previous_policy() {
    let acct = TestAccount::new().await;
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .max_password_age(90)
        .password_reuse_prevention(5)
        .require_numbers(true)
        .allow_users_to_change_password(true)
        .send()
        .await
        .unwrap();
    let original = acct.password_policy().await.unwrap();
    assert_eq!(acct.run(&args(&["apply", "--yes"], BOTH)).code, 0);
    let applied = acct.password_policy().await.unwrap();
    assert_eq!(applied.minimum_password_length(), Some(14));
    assert_eq!(applied.password_reuse_prevention(), Some(24));

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(
        undo.stdout.contains("restored, verified"),
        "{}",
        undo.stdout
    );
    assert_eq!(acct.password_policy().await.unwrap(), original);

    // Undo is journaled: a second undo has nothing left to do and changes nothing.
    let again = acct.run(&["undo", "--yes"]);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("Nothing to undo"), "{}", again.stdout);
    assert_eq!(acct.password_policy().await.unwrap(), original);
}

#[tokio::test]
async fn undo_restores_no_policy_at_all() {
    let acct = TestAccount::new().await;
    assert_eq!(acct.run(&args(&["apply", "--yes"], BOTH)).code, 0);
    assert!(acct.password_policy().await.is_some());
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(
        acct.password_policy().await.is_none(),
        "policy deleted again"
    );
}

#[tokio::test]
async fn undo_refuses_a_policy_changed_after_apply_unless_forced() {
    let acct = TestAccount::new().await;
    assert_eq!(
        acct.run(&args(&["apply", "--yes"], &["--control", "1.7"]))
            .code,
        0
    );
    // Someone edits the policy after cis-fix applied it.
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(30)
        .send()
        .await
        .unwrap();
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 4, "{}\n{}", undo.stdout, undo.stderr);
    assert!(undo.stdout.contains("refused"), "{}", undo.stdout);
    assert_eq!(
        acct.password_policy()
            .await
            .unwrap()
            .minimum_password_length(),
        Some(30),
        "left alone"
    );

    let forced = acct.run(&["undo", "--yes", "--force"]);
    assert_eq!(forced.code, 0, "{}\n{}", forced.stdout, forced.stderr);
    assert!(acct.password_policy().await.is_none());
}

#[tokio::test]
async fn plan_sends_only_read_calls_and_reads_shared_data_once() {
    let acct = TestAccount::new().await;
    let rec = proxy::start(&crate::harness::endpoint());
    let out = acct.run_via(&rec.url, &["plan", "--regions", "eu-west-1,us-east-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let calls = rec.calls_by(acct.creds.access_key_id());
    assert!(calls.len() >= 6, "the proxy saw too few calls: {calls:?}");
    let writes: Vec<_> = calls
        .iter()
        .filter(|c| !crate::idempotency::is_read(&c.operation))
        .collect();
    assert!(writes.is_empty(), "plan sent write calls: {writes:?}");
    let count = |op: &str, region: Option<&str>| {
        calls
            .iter()
            .filter(|c| c.operation == op && region.is_none_or(|r| c.region == r))
            .count()
    };
    // Two controls read the password policy, three the account summary: once each.
    assert_eq!(count("GetAccountPasswordPolicy", None), 1, "{calls:?}");
    assert_eq!(count("GetAccountSummary", None), 1, "{calls:?}");
    assert_eq!(count("DescribeRegions", None), 1, "{calls:?}");
    // The user list feeds the key, MFA and admin-attachment controls; the trails every
    // logging and monitoring control (one DescribeTrails per region of the run: a
    // single-region trail is listed only in its own region).
    assert_eq!(count("ListUsers", None), 1, "{calls:?}");
    assert_eq!(count("DescribeTrails", Some("eu-west-1")), 1, "{calls:?}");
    assert_eq!(count("DescribeTrails", Some("us-east-1")), 1, "{calls:?}");
    assert_eq!(count("DescribeTrails", None), 2, "{calls:?}");
    assert_eq!(count("GetEbsEncryptionByDefault", Some("eu-west-1")), 1);
    assert_eq!(count("GetEbsEncryptionByDefault", Some("us-east-1")), 1);
    assert_eq!(
        count("GetEbsEncryptionByDefault", None),
        2,
        "only the selected regions"
    );
    assert!(calls
        .iter()
        .filter(|c| c.operation == "GetEbsEncryptionByDefault")
        .all(|c| c.service == "ec2"));
}

#[tokio::test]
async fn second_control_on_the_same_policy_is_already_satisfied_and_journaled_once() {
    let acct = TestAccount::new().await;
    let out = acct.run(&args(&["apply", "--yes"], BOTH));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // With no policy, the first write creates one meeting both controls.
    assert!(out.stdout.contains("already satisfied"), "{}", out.stdout);
    // The summary counts both: one written and verified, one already satisfied.
    let row = |what: &str| {
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with(what) && l.split_whitespace().any(|w| w == "1"))
    };
    assert!(
        row("applied, verified") && row("already satisfied"),
        "{}",
        out.stdout
    );
    let hist: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(hist[0]["changes"], 1);
}

#[tokio::test]
async fn undo_without_run_id_picks_this_accounts_latest_run() {
    let a = TestAccount::new().await;
    let b = TestAccount::new().await;
    let shared = a.state_dir().to_path_buf();
    assert_eq!(a.run(&args(&["apply", "--yes"], BOTH)).code, 0);
    let mut cmd = b.command(&crate::harness::endpoint());
    cmd.env("CIS_FIX_STATE_DIR", &shared);
    assert_eq!(
        crate::harness::run(cmd, &args(&["apply", "--yes"], BOTH)).code,
        0
    );
    // A's undo, with B's run newer in the same journal.
    let undo = a.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(a.password_policy().await.is_none(), "a restored");
    assert!(b.password_policy().await.is_some(), "b untouched");
}
