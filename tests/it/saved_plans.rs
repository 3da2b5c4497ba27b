//! Saved plans: applied exactly, refused when stale, for another account, or altered.

use crate::harness::{plan_json, TestAccount};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn saved_plan_applies_exactly_that_plan() {
    let acct = TestAccount::new().await;
    let file = acct.state_dir().join("plan.json");
    let f = file.to_str().unwrap();
    let plan = acct.run(&["plan", "-c", "1.7", "-o", f]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(&format!("cis-fix apply {f}")),
        "{}",
        plan.stdout
    );
    let out = acct.run(&["apply", f, "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let p = acct.password_policy().await.expect("a password policy");
    assert_eq!(p.minimum_password_length(), Some(14));
}

#[tokio::test]
async fn stale_saved_plan_is_refused_and_changes_nothing() {
    let acct = TestAccount::new().await;
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    let file = acct.state_dir().join("plan.json");
    let f = file.to_str().unwrap();
    assert_eq!(
        acct.run(&["plan", "-c", "1.7", "-c", "1.8", "-o", f]).code,
        0
    );
    // The policy changes behind the plan's back.
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(10)
        .send()
        .await
        .unwrap();
    let out = acct.run(&["apply", f, "--yes"]);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("refused (stale)"), "{}", out.stdout);
    let p = acct.password_policy().await.expect("a password policy");
    assert_eq!(p.minimum_password_length(), Some(10), "nothing applied");
    assert_eq!(p.password_reuse_prevention(), None, "nothing applied");
}

#[tokio::test]
async fn json_output_is_a_valid_saved_plan() {
    let acct = TestAccount::new().await;
    let out = acct.run(&["plan", "-c", "1.8", "--format", "json"]);
    let doc = plan_json(&out);
    assert_eq!(doc["format"], "cis-fix-plan");
    assert_eq!(doc["schema_version"], 1);
    let file = acct.state_dir().join("from-stdout.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let applied = acct.run(&["apply", file.to_str().unwrap(), "--yes"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
}

#[tokio::test]
async fn plan_for_another_account_is_refused() {
    let a = TestAccount::new().await;
    let b = TestAccount::new().await;
    let file = a.state_dir().join("plan.json");
    let f = file.to_str().unwrap();
    assert_eq!(a.run(&["plan", "-c", "1.7", "-o", f]).code, 0);
    let out = b.run(&["apply", f, "--yes"]);
    out.assert_one_line_error(4, &format!("is a plan for account {}", a.id));
    assert!(b.password_policy().await.is_none(), "b untouched");
}

#[tokio::test]
async fn altered_or_truncated_saved_plans_are_rejected() {
    let acct = TestAccount::new().await;
    let file = acct.state_dir().join("plan.json");
    let f = file.to_str().unwrap();
    assert_eq!(acct.run(&["plan", "-c", "1.7", "-o", f]).code, 0);
    let text = read(&file);

    std::fs::write(
        &file,
        text.replace(
            "\"MinimumPasswordLength\": 14",
            "\"MinimumPasswordLength\": 6",
        ),
    )
    .unwrap();
    acct.run(&["apply", f, "--yes"])
        .assert_one_line_error(1, "integrity hash mismatch");

    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    acct.run(&["apply", f, "--yes"])
        .assert_one_line_error(1, "not a valid cis-fix plan");

    std::fs::write(
        &file,
        text.replace("\"schema_version\": 1,", "\"schema_version\": 7,"),
    )
    .unwrap();
    acct.run(&["apply", f, "--yes"])
        .assert_one_line_error(1, "plan schema 7");

    assert!(acct.password_policy().await.is_none(), "nothing applied");
}
