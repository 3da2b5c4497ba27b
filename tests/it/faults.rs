//! Faults between cis-fix and AWS, injected by the proxy: throttling and 5xx that retries
//! ride out, AccessDenied in one region, failures that outlast retries, interruption.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::{endpoint, plan_json, statuses, TestAccount};
use crate::proxy::{self, Fault, FaultRule};

const EBS_TWO_REGIONS: [&str; 4] = ["--control", "5.1.1", "--regions", "eu-west-1,us-east-1"];

fn status_in<'a>(st: &'a [(String, Option<String>, String)], region: &str) -> &'a str {
    &st.iter()
        .find(|s| s.1.as_deref() == Some(region))
        .unwrap()
        .2
}

/// Start `cis-fix ARGS` in the background with `operation` (in `region`, or any) held up by
/// `delay` at the proxy, and return once that write is in flight.
async fn spawn_with_slow_write(
    acct: &TestAccount,
    p: &proxy::Recorder,
    operation: &str,
    region: Option<&str>,
    delay: Duration,
    args: &[&str],
    output: fn() -> Stdio,
) -> std::process::Child {
    p.inject(FaultRule::new(
        operation,
        region,
        Fault::Delay(delay),
        Some(1),
    ));
    let mut cmd = acct.command(&p.url);
    cmd.args(args).stdout(output()).stderr(output());
    let child = cmd.spawn().unwrap();
    p.wait_for(acct.creds.access_key_id(), operation).await;
    child
}

#[tokio::test]
async fn transient_throttling_and_5xx_are_retried_to_a_correct_plan() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "GetAccountPasswordPolicy",
        None,
        Fault::Throttle,
        Some(2),
    ));
    p.inject(FaultRule::new(
        "GetEbsEncryptionByDefault",
        Some("eu-west-1"),
        Fault::Status(503),
        Some(1),
    ));
    p.inject(FaultRule::new(
        "GetEbsEncryptionByDefault",
        Some("us-east-1"),
        Fault::Throttle,
        Some(1),
    ));
    let args = [
        &[
            "plan",
            "--format",
            "json",
            "--max-attempts",
            "4",
            "-c",
            "1.7",
        ][..],
        &EBS_TWO_REGIONS,
    ]
    .concat();
    let out = acct.run_via(&p.url, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let st = statuses(&plan_json(&out));
    assert!(st.iter().all(|s| s.2 == "change"), "{st:?}");
    let key = acct.creds.access_key_id();
    assert_eq!(
        p.count(key, "GetAccountPasswordPolicy"),
        3,
        "two throttled attempts, then success"
    );
    assert_eq!(p.count(key, "GetEbsEncryptionByDefault"), 4);
}

#[tokio::test]
async fn access_denied_in_one_region_is_reported_not_compliant_and_the_rest_runs() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "GetEbsEncryptionByDefault",
        Some("us-east-1"),
        Fault::AccessDenied,
        None,
    ));
    let out = acct.run_via(
        &p.url,
        &[&["plan", "--format", "json"][..], &EBS_TWO_REGIONS].concat(),
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    let doc = plan_json(&out);
    let st = statuses(&doc);
    assert_eq!(status_in(&st, "eu-west-1"), "change");
    assert_eq!(status_in(&st, "us-east-1"), "error");
    let denied = doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["region"] == "us-east-1")
        .unwrap();
    let summary = denied["summary"].as_str().unwrap();
    assert!(
        summary.contains("could not read")
            && summary.contains("missing permission ec2:GetEbsEncryptionByDefault"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_write_that_keeps_failing_is_reported_and_the_others_are_applied() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "EnableEbsEncryptionByDefault",
        Some("us-east-1"),
        Fault::Status(500),
        None,
    ));
    let out = acct.run_via(
        &p.url,
        &[
            &["apply", "--yes", "--max-attempts", "2"][..],
            &EBS_TWO_REGIONS,
        ]
        .concat(),
    );
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("failed"), "{}", out.stdout);
    assert!(acct.ebs_default("eu-west-1").await);
    assert!(!acct.ebs_default("us-east-1").await);
    // The failed change is journaled as failed; undo puts back only what was applied.
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(!acct.ebs_default("eu-west-1").await);
}

#[tokio::test]
async fn sigint_finishes_the_change_in_flight_and_starts_no_other() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    // Interrupt once the slow write has reached the proxy.
    let child = spawn_with_slow_write(
        &acct,
        &p,
        "EnableEbsEncryptionByDefault",
        Some("eu-west-1"),
        Duration::from_secs(3),
        &[&["apply", "--yes"][..], &EBS_TWO_REGIONS].concat(),
        Stdio::piped,
    )
    .await;
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("not started (interrupted)"), "{stdout}");
    assert!(
        acct.ebs_default("eu-west-1").await,
        "the change in flight completed"
    );
    assert!(
        !acct.ebs_default("us-east-1").await,
        "no new change started"
    );
    let hist: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(hist[0]["changes"], 1);
    assert_eq!(hist[0]["complete"], true);
}

#[tokio::test]
async fn after_sigkill_mid_write_plan_shows_what_remains_and_undo_is_safe() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let mut child = spawn_with_slow_write(
        &acct,
        &p,
        "UpdateAccountPasswordPolicy",
        None,
        Duration::from_secs(2),
        &["apply", "--yes", "-c", "1.7", "-c", "1.8"],
        Stdio::null,
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    // Let the delayed request land (or not) before looking.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let hist = acct.run(&["history", "--json"]);
    let runs: serde_json::Value = serde_json::from_str(&hist.stdout).unwrap();
    let run_id = runs[0]["run_id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["complete"], false, "{runs}");
    let detail: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", &run_id, "--json"]).stdout).unwrap();
    assert_eq!(
        detail["changes"][0]["state"], "unknown (interrupted)",
        "{detail}"
    );

    // A new plan says exactly what remains, whichever way the write went.
    let plan = acct.run(&["plan", "-c", "1.7", "-c", "1.8", "--detailed-exitcode"]);
    let written = acct.password_policy().await.is_some();
    assert_eq!(plan.code, if written { 0 } else { 2 }, "{}", plan.stdout);

    // Undo handles the unknown entry: the account ends with no policy, as before.
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(acct.password_policy().await.is_none(), "back to no policy");
}

#[tokio::test]
async fn a_second_apply_on_the_same_state_dir_is_refused_while_the_first_runs() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let mut child = spawn_with_slow_write(
        &acct,
        &p,
        "UpdateAccountPasswordPolicy",
        None,
        Duration::from_secs(2),
        &["apply", "--yes", "-c", "1.7"],
        Stdio::null,
    )
    .await;
    let second = acct.run(&["apply", "--yes", "-c", "5.1.1", "--regions", "eu-west-1"]);
    second.assert_one_line_error(4, "another cis-fix run holds");
    assert!(
        second.stderr.contains("cis-fix apply since"),
        "{}",
        second.stderr
    );
    assert!(child.wait().unwrap().success());
    // The lock is gone with the first run.
    let third = acct.run(&["apply", "--yes", "-c", "5.1.1", "--regions", "eu-west-1"]);
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
}

#[tokio::test]
async fn the_rate_budget_spaces_requests() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let out = acct.run_via(
        &p.url,
        &[
            "plan",
            "--max-rps",
            "5",
            "-c",
            "5.1.1",
            "-c",
            "1.7",
            "--regions",
            "eu-west-1,us-east-1,eu-central-1",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let calls = p.calls_by(acct.creds.access_key_id());
    assert!(calls.len() >= 6, "{calls:?}");
    // At 5 requests per second, any six consecutive requests span at least a second
    // (less a little for the hop through the proxy).
    for w in calls.windows(6) {
        let span = w[5].at - w[0].at;
        assert!(
            span >= Duration::from_millis(900),
            "six requests within {span:?}: {w:?}"
        );
    }
}

#[tokio::test]
async fn connection_resets_are_retried() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "GetAccountPasswordPolicy",
        None,
        Fault::Reset,
        Some(1),
    ));
    p.inject(FaultRule::new(
        "UpdateAccountPasswordPolicy",
        None,
        Fault::Reset,
        Some(1),
    ));
    let out = acct.run_via(
        &p.url,
        &["apply", "--yes", "--max-attempts", "3", "-c", "1.7"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let p2 = acct.password_policy().await.expect("a password policy");
    assert_eq!(p2.minimum_password_length(), Some(14));
}

#[tokio::test]
async fn a_write_that_claims_success_but_changed_nothing_is_not_verified() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "EnableEbsEncryptionByDefault",
        None,
        Fault::FakeOk("<EnableEbsEncryptionByDefaultResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>fake</requestId><ebsEncryptionByDefault>true</ebsEncryptionByDefault></EnableEbsEncryptionByDefaultResponse>"),
        None,
    ));
    let out = acct.run_via(
        &p.url,
        &["apply", "--yes", "-c", "5.1.1", "--regions", "eu-west-1"],
    );
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("applied, not verified"),
        "{}",
        out.stdout
    );
    let runs: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", "--json"]).stdout).unwrap();
    let run_id = runs[0]["run_id"].as_str().unwrap();
    let detail: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", run_id, "--json"]).stdout).unwrap();
    assert_eq!(detail["changes"][0]["state"], "applied, not verified");
}

#[test]
fn invalid_flag_values_are_one_line_usage_errors() {
    let cases: &[&[&str]] = &[
        &["plan", "--regions", "mars"],
        &["plan", "--regions", ""],
        &["plan", "--level", "3"],
        &["plan", "--benchmark", "2.0"],
        &["plan", "--format", "yaml"],
        &["plan", "--concurrency", "0"],
        &["plan", "--max-rps", "0"],
        &["plan", "--rate-limit", "nope=5"],
        &["plan", "--rate-limit", "iam=0"],
        &["plan", "--rate-limit", "iam"],
        &["plan", "--max-attempts", "99"],
        &["plan", "--retry-mode", "eager"],
        &["plan", "--log-format", "xml"],
        &["plan", "--trusted-cidr", "0.0.0.0/0"],
        &["plan", "--trusted-cidr", "10.0.0.0"],
        &["apply", "--trusted-cidr", "300.0.0.0/8", "--yes"],
        &["undo", "--change", "x", "--yes"],
        &["plan", "--bogus"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = crate::harness::run(crate::harness::base_command(), args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", out.stderr);
        assert!(lines[0].starts_with("error: "), "{args:?}: {}", out.stderr);
    }
}

#[tokio::test]
async fn a_second_apply_on_the_same_account_is_refused_even_with_another_state_dir() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let mut child = spawn_with_slow_write(
        &acct,
        &p,
        "UpdateAccountPasswordPolicy",
        None,
        Duration::from_secs(2),
        &["apply", "--yes", "-c", "1.7"],
        Stdio::null,
    )
    .await;
    let other = tempfile::tempdir().unwrap();
    let mut second = acct.command(&endpoint());
    second.env("CIS_FIX_STATE_DIR", other.path());
    let out = crate::harness::run(
        second,
        &["apply", "--yes", "-c", "5.1.1", "--regions", "eu-west-1"],
    );
    out.assert_one_line_error(4, &format!("account {}", acct.id));
    assert!(child.wait().unwrap().success());
    assert!(
        !acct.ebs_default("eu-west-1").await,
        "the refused run changed nothing"
    );
}
