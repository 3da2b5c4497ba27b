//! Safe on a production account (issue 13): an explicit `--profile` wins over credentials in
//! the environment and an unknown one is an error; the header says where the credentials came
//! from; Ctrl-C inside `guide` ends the session cleanly (journal finished, summary, exit 3,
//! terminal restored, no stale lock); the SDK's own trace logs never show the credentials.

use std::time::{Duration, Instant};

use crate::harness::{endpoint, plan_json, run, TestAccount, REGION};
use crate::proxy::{self, Fault, FaultRule};
use crate::tmux::{cis_fix_line, Tmux};

/// A shared credentials file holding `profile` with `acct`'s (assumed-role) credentials.
fn credentials_file(dir: &std::path::Path, profile: &str, acct: &TestAccount) -> String {
    let path = dir.join("credentials");
    std::fs::write(
        &path,
        format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
            acct.creds.access_key_id(),
            acct.creds.secret_access_key(),
            acct.creds.session_token().unwrap_or_default()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn profile_flag_wins_over_environment_credentials() {
    let a = TestAccount::new().await;
    let b = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path(), "prod-admin", &b);
    let with_file = || {
        let mut cmd = a.command(&endpoint());
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", &file);
        cmd
    };

    // Environment credentials are A's; the profile is B's: the run is on B.
    let json = run(
        with_file(),
        &[
            "plan",
            "--profile",
            "prod-admin",
            "-c",
            "1.7",
            "--format",
            "json",
        ],
    );
    assert_eq!(json.code, 0, "{}\n{}", json.stdout, json.stderr);
    assert_eq!(
        plan_json(&json)["plan"]["account"]["id"],
        b.id.as_str(),
        "the plan is for the profile's account"
    );
    let text = run(
        with_file(),
        &["plan", "--profile", "prod-admin", "-c", "1.7"],
    );
    assert_eq!(text.code, 0, "{}\n{}", text.stdout, text.stderr);
    let header: Vec<&str> = text.stdout.lines().take(3).collect();
    assert!(
        header[0].contains(&format!("account {}", b.id)),
        "{}",
        text.stdout
    );
    assert!(
        header
            .iter()
            .any(|l| l.contains("credentials: profile prod-admin")),
        "the header names the profile: {}",
        text.stdout
    );

    // Without --profile, the environment's credentials, and the header says so.
    let env = run(with_file(), &["plan", "-c", "1.7"]);
    assert_eq!(env.code, 0, "{}\n{}", env.stdout, env.stderr);
    assert!(
        env.stdout.contains(&format!("account {}", a.id)),
        "{}",
        env.stdout
    );
    assert!(
        env.stdout.contains("credentials: environment"),
        "{}",
        env.stdout
    );

    // apply changes the profile's account, and only it.
    let apply = run(
        with_file(),
        &["apply", "--profile", "prod-admin", "-c", "1.7", "--yes"],
    );
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("credentials: profile prod-admin"),
        "{}",
        apply.stdout
    );
    assert_eq!(
        b.password_policy()
            .await
            .and_then(|p| p.minimum_password_length()),
        Some(14)
    );
    assert!(a.password_policy().await.is_none(), "A is untouched");
}

#[tokio::test]
async fn an_unknown_profile_is_one_line_naming_the_files_before_any_aws_call() {
    let a = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path(), "prod-admin", &a);
    let config = dir.path().join("config").display().to_string();
    for args in [
        &["plan", "--profile", "nope", "-c", "1.7"][..],
        &["apply", "--profile", "nope", "-c", "1.7", "--yes"][..],
    ] {
        let mut cmd = a.command(&p.url);
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", &file)
            .env("AWS_CONFIG_FILE", &config);
        let out = run(cmd, args);
        out.assert_one_line_error(1, "profile 'nope'");
        assert!(out.stderr.contains(&file), "{}", out.stderr);
        assert!(out.stderr.contains(&config), "{}", out.stderr);
    }
    // `profile` in cis-fix.toml is the same as --profile.
    let settings = dir.path().join("cis-fix.toml");
    std::fs::write(&settings, "profile = \"nope\"\n").unwrap();
    let mut cmd = a.command(&p.url);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", &file)
        .env("AWS_CONFIG_FILE", &config);
    let out = run(
        cmd,
        &[
            "plan",
            "--config",
            &settings.display().to_string(),
            "-c",
            "1.7",
        ],
    );
    out.assert_one_line_error(1, "profile 'nope'");
    assert!(
        p.calls_by(a.creds.access_key_id()).is_empty(),
        "no AWS call: {:?}",
        p.calls_by(a.creds.access_key_id())
    );
}

/// The credentials never reach stderr, whichever SDK targets RUST_LOG turns up.
#[tokio::test]
async fn sdk_trace_logs_never_show_the_credentials() {
    let a = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path(), "prod-admin", &a);
    let secrets = [
        a.creds.access_key_id().to_string(),
        a.creds.secret_access_key().to_string(),
        a.creds.session_token().unwrap_or_default().to_string(),
    ];
    for filter in [
        "trace",
        "aws_sigv4=trace,aws_credential_types=trace,aws_config=trace,aws_smithy_runtime=trace,aws_smithy_runtime_api=trace",
        "aws_sigv4::http_request=trace,aws_smithy_runtime::client::orchestrator=trace,aws_smithy_runtime::client::orchestrator::auth=trace,aws_smithy_runtime::client::orchestrator::endpoints=trace,aws_smithy_runtime::client::identity=trace",
    ] {
        for profile in [false, true] {
            let mut cmd = a.command(&endpoint());
            cmd.env("RUST_LOG", filter);
            let mut args = vec!["plan", "-c", "1.7"];
            if profile {
                cmd.env("AWS_SHARED_CREDENTIALS_FILE", &file);
                args.extend(["--profile", "prod-admin"]);
            }
            let out = run(cmd, &args);
            assert_eq!(out.code, 0, "{filter}: {}", out.stderr);
            assert!(
                out.stderr.contains("DEBUG") || out.stderr.contains("TRACE"),
                "{filter}: the SDK's logs are on: {}",
                out.stderr
            );
            for s in &secrets {
                if let Some(line) = out.stderr.lines().find(|l| l.contains(s.as_str())) {
                    panic!("RUST_LOG={filter} (profile: {profile}) shows a credential: {line}");
                }
            }
        }
    }
}

/// `cis-fix guide ARGS` in tmux with `acct`'s credentials against `endpoint`.
fn guide(acct: &TestAccount, endpoint: &str, args: &str, name: &str) -> Tmux {
    let line = cis_fix_line(
        acct,
        endpoint,
        &std::env::temp_dir(),
        &format!("guide {args}"),
        "GUIDE_EXIT",
    );
    let cmd = format!("trap 'true' INT; {line}");
    Tmux::start(&format!("cis-fix-{name}-{}", acct.id), &cmd)
}

/// What must hold after an interrupted session: one finished run whose changes are all
/// applied and verified, and a next run that finds no lock to take over.
fn assert_clean_end(acct: &TestAccount, t: &Tmux, screen: &str) {
    assert!(screen.contains("GUIDE_EXIT=3"), "{screen}");
    assert!(screen.contains("Summary"), "{screen}");
    assert!(t.cursor_visible(), "the cursor is visible again:\n{screen}");
    let hist: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(hist.as_array().unwrap().len(), 1, "{hist}");
    assert_eq!(hist[0]["complete"], true, "the run is finished: {hist}");
    let id = hist[0]["run_id"].as_str().unwrap();
    let detail: serde_json::Value =
        serde_json::from_str(&acct.run(&["history", id, "--json"]).stdout).unwrap();
    for c in detail["changes"].as_array().unwrap() {
        assert_eq!(c["state"], "applied, verified", "{detail}");
    }
    let next = acct.run(&["apply", "--yes", "-c", "1.7"]);
    assert_eq!(next.code, 0, "{}\n{}", next.stdout, next.stderr);
    assert!(
        !next.stderr.contains("lock"),
        "no stale lock: {}",
        next.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_a_guide_prompt_quits_with_a_finished_run_and_the_terminal_restored() {
    let acct = TestAccount::new().await;
    let t = guide(
        &acct,
        &endpoint(),
        &format!("-c 1.7 -c 5.1.1 --regions {REGION}"),
        "ctrlc-prompt",
    );
    let s = t.wait_for("What now?", 1);
    assert!(s.contains("credentials environment"), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("to confirm", 1);
    // Choosing apply was the confirmation: no second yes/no for a reversible change.
    t.keys(&[&acct.id, "Enter"]);
    // 5.1.1: Ctrl-C at the menu.
    t.wait_for("What now?", 2);
    t.keys(&["C-c"]);
    let s = t.wait_for("GUIDE_EXIT=", 1);
    // The counted summary (as apply's): one change applied and verified.
    assert!(s.contains("applied, verified              1"), "{s}");
    assert_clean_end(&acct, &t, &s);
    assert!(!acct.ebs_default(REGION).await, "5.1.1 was not applied");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_a_yes_no_question_of_the_guide_changes_nothing_and_restores_the_terminal() {
    let acct = TestAccount::new().await;
    let t = guide(
        &acct,
        &endpoint(),
        &format!("-c 1.7 --regions {REGION}"),
        "ctrlc-confirm",
    );
    t.wait_for("What now?", 1);
    t.keys(&["Enter"]);
    // The typed question of 1.7 is the account confirmation: Ctrl-C there.
    t.wait_for("to confirm", 1);
    t.keys(&["C-c"]);
    let s = t.wait_for("GUIDE_EXIT=", 1);
    assert!(s.contains("GUIDE_EXIT=3"), "{s}");
    assert!(s.contains("Nothing was changed."), "{s}");
    assert!(t.cursor_visible(), "cursor hidden:\n{s}");
    assert!(acct.password_policy().await.is_none());
    let next = acct.run(&["apply", "--yes", "-c", "1.7"]);
    assert_eq!(next.code, 0, "{}\n{}", next.stdout, next.stderr);
    assert!(!next.stderr.contains("lock"), "{}", next.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_guide_apply_finishes_the_change_in_flight_and_stops() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::new(
        "UpdateAccountPasswordPolicy",
        None,
        Fault::Delay(Duration::from_secs(3)),
        Some(1),
    ));
    let t = guide(
        &acct,
        &p.url,
        &format!("-c 1.7 -c 5.1.1 --regions {REGION}"),
        "ctrlc-apply",
    );
    t.wait_for("What now?", 1);
    t.keys(&["Enter"]);
    t.wait_for("to confirm", 1);
    t.keys(&[&acct.id, "Enter"]);
    let key = acct.creds.access_key_id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.count(key, "UpdateAccountPasswordPolicy") == 0 {
        assert!(Instant::now() < deadline, "the write never came");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.keys(&["C-c"]);
    let s = t.wait_for("GUIDE_EXIT=", 1);
    // The counted summary (as apply's): one change applied and verified.
    assert!(s.contains("applied, verified              1"), "{s}");
    assert_eq!(
        s.matches("What now?").count(),
        1,
        "5.1.1 is not offered: {s}"
    );
    assert_eq!(
        acct.password_policy()
            .await
            .and_then(|p| p.minimum_password_length()),
        Some(14),
        "the change in flight completed"
    );
    assert_clean_end(&acct, &t, &s);
    assert!(!acct.ebs_default(REGION).await, "nothing new started");
}
