//! Bad input: one clear line on stderr, the documented exit code, no panic, nothing changed.

use crate::harness::{base_command, endpoint, run, TestAccount};

#[tokio::test]
async fn apply_without_terminal_or_yes_refuses_with_exit_4() {
    let acct = TestAccount::new().await;
    let out = acct.run(&["apply", "--control", "1.7"]);
    out.assert_one_line_error(4, "--yes");
    assert!(acct.password_policy().await.is_none(), "nothing changed");
}

#[tokio::test]
async fn unknown_control_names_close_matches() {
    let acct = TestAccount::new().await;
    acct.run(&["plan", "--control", "password-min-lenght"])
        .assert_one_line_error(1, "did you mean 1.7 (password-min-length)");
    acct.run(&["plan", "--control", "9.9"])
        .assert_one_line_error(1, "unknown control '9.9' in CIS 5.0.0");
}

#[tokio::test]
async fn id_from_another_version_explains_itself() {
    let acct = TestAccount::new().await;
    let out = acct.run(&["plan", "--benchmark", "6.0", "--control", "3.1"]);
    out.assert_one_line_error(1, "'3.1' is a section of CIS 6.0.0");
    assert!(
        out.stderr
            .contains("'cloudtrail-multi-region' (4.1 in 6.0.0)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn bad_regions_are_usage_errors() {
    let acct = TestAccount::new().await;
    acct.run(&["plan", "--control", "5.1.1", "--regions", "eu-wast-1"])
        .assert_one_line_error(1, "did you mean eu-west-1?");
    acct.run(&["plan", "--region", "nowhere"])
        .assert_one_line_error(1, "not a region name");
    // clap rejects a malformed list before anything runs.
    let out = acct.run(&["plan", "--regions", "eu-west-1,mars"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("'mars' is not a region name"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_credentials_is_one_line() {
    let mut cmd = base_command();
    cmd.env("AWS_ENDPOINT_URL", endpoint());
    run(cmd, &["plan"]).assert_one_line_error(1, "no AWS credentials found");
}

#[test]
fn missing_region_is_one_line() {
    let mut cmd = base_command();
    cmd.env_remove("AWS_REGION")
        .env("AWS_ENDPOINT_URL", endpoint());
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    run(cmd, &["plan"]).assert_one_line_error(1, "no AWS region configured");
}

#[tokio::test]
async fn malformed_plan_file_and_unknown_run() {
    let acct = TestAccount::new().await;
    let file = acct.state_dir().join("junk.json");
    std::fs::write(&file, "this is not a plan").unwrap();
    acct.run(&["apply", file.to_str().unwrap(), "--yes"])
        .assert_one_line_error(1, "not a valid cis-fix plan");
    acct.run(&["apply", "/nonexistent/plan.json", "--yes"])
        .assert_one_line_error(1, "plan file /nonexistent/plan.json does not exist");
    acct.run(&["undo", "20990101T000000Z-beef", "--yes"])
        .assert_one_line_error(1, "no run '20990101T000000Z-beef'");
}

#[tokio::test]
async fn unwritable_state_dir_stops_apply_before_any_change() {
    let acct = TestAccount::new().await;
    let blocker = acct.state_dir().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let mut cmd = acct.command(&endpoint());
    cmd.env("CIS_FIX_STATE_DIR", &blocker);
    run(cmd, &["apply", "--control", "1.7", "--yes"])
        .assert_one_line_error(1, "nothing was changed");
    assert!(acct.password_policy().await.is_none(), "nothing changed");
}

#[test]
fn controls_lists_the_catalog() {
    let out = run(base_command(), &["controls", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = doc["controls"].as_array().unwrap();
    assert_eq!(rows.len(), 63);
    let min = rows
        .iter()
        .find(|r| r["slug"] == "password-min-length")
        .unwrap();
    assert_eq!(min["id"], "1.7");
    assert_eq!(min["cis_fix"], "fixes");
    let root = rows.iter().find(|r| r["slug"] == "root-mfa").unwrap();
    assert_eq!(root["cis_fix"], "checks");
    let v7 = run(
        base_command(),
        &["controls", "--benchmark", "7.0", "--section", "2.1"],
    );
    assert_eq!(v7.code, 0);
    assert!(v7.stdout.contains("2.1.1"), "{}", v7.stdout);
}

#[test]
fn closed_stdout_does_not_panic() {
    let mut cmd = base_command();
    cmd.args(["controls", "--benchmark", "7.0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Close the read end before the child has started printing, like `| head -0`.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[tokio::test]
async fn settings_file_is_read_validated_and_overridden_by_flags() {
    let acct = TestAccount::new().await;
    let cfg = acct.state_dir().join("cis-fix.toml");
    let c = cfg.to_str().unwrap();
    std::fs::write(
        &cfg,
        "regions = [\"us-east-1\"]\ntrusted_cidrs = [\"10.0.0.0/8\"]\nmax_rps = 50\n",
    )
    .unwrap();
    let out = acct.run(&["plan", "--config", c, "-c", "5.3", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = crate::harness::plan_json(&out);
    assert_eq!(doc["plan"]["regions"], serde_json::json!(["us-east-1"]));
    assert_eq!(
        doc["plan"]["params"]["trusted_cidrs"],
        serde_json::json!(["10.0.0.0/8"])
    );
    let out = acct.run(&[
        "plan",
        "--config",
        c,
        "-c",
        "5.3",
        "--regions",
        "eu-west-1",
        "--format",
        "json",
    ]);
    let doc = crate::harness::plan_json(&out);
    assert_eq!(
        doc["plan"]["regions"],
        serde_json::json!(["eu-west-1"]),
        "the flag wins"
    );

    std::fs::write(&cfg, "regions = [\"us-east-1\"\n").unwrap();
    acct.run(&["plan", "--config", c])
        .assert_one_line_error(1, "cis-fix.toml: line ");
    std::fs::write(&cfg, "max_rps = \"fast\"\n").unwrap();
    acct.run(&["plan", "--config", c])
        .assert_one_line_error(1, "line 1: invalid type");
    std::fs::write(&cfg, "rate_limits = { iamm = 20 }\n").unwrap();
    acct.run(&["plan", "--config", c])
        .assert_one_line_error(1, "rate_limits: 'iamm' is not a service cis-fix budgets");
    std::fs::write(&cfg, "trusted_cidr = [\"10.0.0.0/8\"]\n").unwrap();
    acct.run(&["apply", "--config", c, "-c", "1.7", "--yes"])
        .assert_one_line_error(
            1,
            "unknown parameter 'trusted_cidr' (did you mean trusted_cidrs?)",
        );
    acct.run(&["plan", "--config", "/nonexistent/cis-fix.toml"])
        .assert_one_line_error(1, "cannot read it");
    assert!(acct.password_policy().await.is_none(), "nothing changed");
}

/// The state directory fills up: the file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so a
/// write just fails) stands in for a full disk.
fn with_file_size_limit(cmd: &mut std::process::Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[tokio::test]
async fn a_full_state_dir_stops_apply_before_any_change() {
    let acct = TestAccount::new().await;
    // Room for the lock but not for the run's first journal entry.
    let mut cmd = acct.command(&endpoint());
    with_file_size_limit(&mut cmd, 100);
    run(cmd, &["apply", "-c", "1.7", "--yes"]).assert_one_line_error(1, "nothing was changed");
    assert!(acct.password_policy().await.is_none(), "nothing changed");

    // Room for the start of the run, not for the change's entry: the write is never sent.
    let mut cmd = acct.command(&endpoint());
    with_file_size_limit(&mut cmd, 600);
    let out = run(cmd, &["apply", "-c", "1.7", "--yes"]);
    out.assert_one_line_error(3, "stopped before the next change");
    assert!(acct.password_policy().await.is_none(), "nothing changed");
}

#[test]
fn bad_parameters_are_one_line_before_any_aws_call() {
    // No credentials and no endpoint: a parameter error must come first.
    let bad = |args: &[&str], want: &str| {
        let out = run(base_command(), &[&["plan"][..], args].concat());
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
    };
    bad(&["--set", "trail_nme=x"], "did you mean trail_name?");
    bad(
        &["--set", "log_retention_days=42"],
        "not a CloudWatch Logs retention",
    );
    bad(&["--set", "flow_log_traffic=ACCEPT"], "must be REJECT");
    bad(
        &["--set", "trail_bucket=Not_A_Bucket"],
        "not a valid S3 bucket name",
    );
    bad(&["--alarm-email", "nobody"], "not an e-mail address");
    bad(
        &["--set", "security_contact={ name = \"x\", mail = \"y\" }"],
        "unknown field `mail`",
    );
    bad(&["--set", "no-equals-sign"], "is not KEY=VALUE");
}
