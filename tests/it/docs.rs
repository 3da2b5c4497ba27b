//! Generated documents, the commands that print them, and what must never reach the logs.
//!
//! The committed docs (`docs/controls.md`, `docs/iam/*.json`, `docs/cis-fix.1`) are generated
//! from the code by `cis_fix::docs`. `CIS_FIX_UPDATE_DOCS=1 cargo test --test it docs` rewrites
//! them; without the variable, a stale file fails the test.

use std::path::{Path, PathBuf};

use crate::harness::{base_command, run, TestAccount};

const UPDATE_VAR: &str = "CIS_FIX_UPDATE_DOCS";

/// Every generated document: its path under the repository and its expected content.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut files = vec![(
        docs.join("controls.md"),
        cis_fix::docs::controls_markdown().into_bytes(),
    )];
    for (name, doc) in cis_fix::docs::iam_policies() {
        files.push((
            docs.join("iam").join(name),
            cis_fix::docs::policy_text(&doc).into_bytes(),
        ));
    }
    files.push((docs.join("cis-fix.1"), cis_fix::docs::man_page()));
    files
}

#[test]
fn generated_docs_are_up_to_date() {
    let update = std::env::var_os(UPDATE_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    let mut stale = Vec::new();
    for (path, want) in generated() {
        let have = std::fs::read(&path).ok();
        if have.as_deref() == Some(want.as_slice()) {
            continue;
        }
        if update {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap();
            }
            std::fs::write(&path, &want)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            eprintln!("updated {}", path.display());
        } else {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "generated docs are out of date: {}. Run `{}` and commit the result.",
        stale.join(", "),
        cis_fix::docs::UPDATE_COMMAND
    );
}

#[test]
fn iam_policy_docs_match_the_command() {
    // docs/iam/plan.json and apply.json are what `cis-fix iam-policy` prints for the whole
    // catalog: its selection defaults to every control of 5.0, and the v7-only ones (the
    // organization-level controls of 7.0 2.1) come with `--benchmark 7.0`; each statement of
    // the document holds the union of the two.
    for (name, doc) in cis_fix::docs::iam_policies() {
        let purpose = name.trim_end_matches(".json");
        let mut union: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for bench in ["5.0", "7.0"] {
            let out = run(
                base_command(),
                &["iam-policy", "--for", purpose, "--benchmark", bench],
            );
            assert_eq!(out.code, 0, "{}", out.stderr);
            for st in policy(&out)["Statement"].as_array().unwrap() {
                union
                    .entry(st["Sid"].as_str().unwrap().to_string())
                    .or_default()
                    .extend(
                        st["Action"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap().to_string()),
                    );
            }
        }
        let want: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = doc
            ["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| {
                (
                    st["Sid"].as_str().unwrap().to_string(),
                    st["Action"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(union, want, "{name}");
    }
}

fn policy(out: &crate::harness::Output) -> serde_json::Value {
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("iam-policy output is not JSON: {e}\n{}", out.stdout))
}

fn actions(doc: &serde_json::Value) -> Vec<String> {
    doc["Statement"]
        .as_array()
        .expect("Statement list")
        .iter()
        .flat_map(|s| s["Action"].as_array().expect("Action list").iter())
        .map(|a| a.as_str().expect("action").to_string())
        .collect()
}

#[test]
fn iam_policy_for_plan_is_read_only() {
    let out = run(
        base_command(),
        &["iam-policy", "--for", "plan", "-c", "1.7"],
    );
    let doc = policy(&out);
    assert_eq!(doc["Version"], "2012-10-17");
    let acts = actions(&doc);
    for needed in [
        "iam:GetAccountPasswordPolicy",
        "sts:GetCallerIdentity",
        "ec2:DescribeRegions",
    ] {
        assert!(acts.iter().any(|a| a == needed), "{needed} in {acts:?}");
    }
    assert!(
        !acts
            .iter()
            .any(|a| a.contains("Update") || a.contains("Delete")),
        "{acts:?}"
    );
    assert_eq!(doc["Statement"][0]["Sid"], "CisFixPlan");
    assert_eq!(doc["Statement"][0]["Resource"], "*");
    assert!(out.stderr.trim().is_empty(), "{}", out.stderr);
}

#[test]
fn iam_policy_for_apply_adds_the_writes() {
    let out = run(
        base_command(),
        &["iam-policy", "--for", "apply", "-c", "1.7"],
    );
    let doc = policy(&out);
    let acts = actions(&doc);
    assert!(
        acts.iter().any(|a| a == "iam:UpdateAccountPasswordPolicy"),
        "{acts:?}"
    );
    assert!(
        acts.iter().any(|a| a == "iam:GetAccountPasswordPolicy"),
        "{acts:?}"
    );
    let sids: Vec<&str> = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["CisFixPlan", "CisFixApply"]);
}

#[test]
fn iam_policy_whole_benchmark_is_json_and_notes_what_is_not_covered() {
    let out = run(base_command(), &["iam-policy"]);
    let doc = policy(&out);
    let acts = actions(&doc);
    let mut sorted = acts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(acts.len(), sorted.len(), "duplicates in {acts:?}");
    // 1.1 (account contact details) is not implemented: listed in a one-line note.
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("note: ") && lines[0].contains("1.1,"),
        "{}",
        lines[0]
    );
}

#[test]
fn iam_policy_bad_selection_is_one_line() {
    run(base_command(), &["iam-policy", "-c", "9.9"])
        .assert_one_line_error(1, "unknown control '9.9'");
    let out = run(base_command(), &["iam-policy", "--for", "destroy"]);
    out.assert_one_line_error(1, "destroy");
}

#[test]
fn completions_bash_is_a_script() {
    let out = run(base_command(), &["completions", "bash"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("cis-fix"), "{}", out.stdout);
    assert!(out.stdout.contains("complete "), "{}", out.stdout);
    assert!(
        out.stdout.contains("iam-policy"),
        "subcommands are completed"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(base_command(), &["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains("cis-fix"), "{shell}");
    }
}

#[test]
fn completions_unknown_shell_is_one_line() {
    let out = run(base_command(), &["completions", "tcsh"]);
    out.assert_one_line_error(1, "unknown shell 'tcsh'");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(out.stderr.contains(shell), "{shell}: {}", out.stderr);
    }
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

/// The most verbose logs cis-fix can produce (`-vvv`, and `-vv` as JSON) must not carry the
/// credentials it runs with.
#[tokio::test]
async fn secrets_never_appear_in_logs() {
    let acct = TestAccount::new().await;
    let secret = acct.creds.secret_access_key().to_string();
    let token = acct
        .creds
        .session_token()
        .expect("the test account has a session token")
        .to_string();
    assert!(
        secret.len() >= 16 && token.len() >= 16,
        "real-looking credentials"
    );
    let key = acct.creds.access_key_id().to_string();
    for (args, rust_log) in [
        (&["plan", "-vvv"][..], None),
        (&["plan", "--log-format", "json", "-vv"][..], None),
        // Even when the user asks the SDK for everything.
        (
            &["plan", "-c", "1.7", "-c", "5.1.1", "--regions", "eu-west-1"][..],
            Some("trace"),
        ),
    ] {
        // Without RUST_LOG the verbosity flags alone choose the level (base_command clears
        // the environment).
        let mut cmd = acct.command(&crate::harness::endpoint());
        if let Some(l) = rust_log {
            cmd.env("RUST_LOG", l);
        }
        let out = crate::harness::run(cmd, args);
        assert!(
            !out.stderr.is_empty(),
            "{args:?}: expected log output on stderr"
        );
        assert!(
            out.code == 0 || out.code == 3,
            "{args:?}: exit {}\n{}",
            out.code,
            out.stderr
        );
        for (what, value) in [
            ("secret access key", &secret),
            ("session token", &token),
            ("access key id", &key),
        ] {
            assert!(
                !out.stdout.contains(value.as_str()),
                "{args:?}: the {what} is on stdout"
            );
            assert!(
                !out.stderr.contains(value.as_str()),
                "{args:?}: the {what} is in the logs on stderr"
            );
        }
    }
}
