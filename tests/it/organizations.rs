//! Every account of an AWS Organization (#15): `--org`, `--ou`, `--accounts`,
//! `--exclude-accounts`, `--shard` and `report merge`, multi-account saved plans, and undo of
//! a multi-account run. moto serves Organizations per calling account, and AssumeRole into
//! `OrganizationAccountAccessRole` of any id returns that account's credentials (the role
//! need not exist: moto does not check it, so a refused AssumeRole is emulated with the
//! fault-injecting proxy, scoped to that account).
//!
//! Each test makes its own organization under its own fresh management account. The controls
//! used are cheap and account-scoped: 1.8 (password reuse, IAM, global) and 5.1.1 (EBS
//! default encryption, EC2, regional).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::Value;

use super::harness::{endpoint, statuses, TestAccount, REGION};
use super::proxy::{self, Fault, FaultRule};

const CONTROLS: &[&str] = &["-c", "1.8", "-c", "5.1.1", "--regions", REGION];

struct Org {
    mgmt: TestAccount,
    ous: Vec<String>,
    /// Member ids, in the order created; member `i` is in OU `i % ous.len()`.
    members: Vec<String>,
}

impl Org {
    /// An organization of `ous` OUs and `n` members under a fresh management account.
    async fn new(n: usize, ous: usize) -> Org {
        let mgmt = TestAccount::new().await;
        let org = aws_sdk_organizations_client(&mgmt.sdk);
        org.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .expect("create organization");
        let root = org.list_roots().send().await.unwrap().roots()[0]
            .id()
            .unwrap()
            .to_string();
        let mut ou_ids = Vec::new();
        for i in 0..ous {
            let ou = org
                .create_organizational_unit()
                .parent_id(&root)
                .name(format!("ou{i}"))
                .send()
                .await
                .unwrap();
            ou_ids.push(ou.organizational_unit().unwrap().id().unwrap().to_string());
        }
        let mut members = Vec::new();
        for i in 0..n {
            let id = create_member(&org, &format!("member{i}")).await;
            move_member(&org, &id, &root, &ou_ids[i % ous]).await;
            members.push(id);
        }
        Org {
            mgmt,
            ous: ou_ids,
            members,
        }
    }

    /// The member's SDK configuration, through its OrganizationAccountAccessRole.
    async fn member_sdk(&self, id: &str) -> SdkConfig {
        let c = aws_sdk_sts::Client::new(&self.mgmt.sdk)
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{id}:role/OrganizationAccountAccessRole"
            ))
            .role_session_name("cis-fix-test-seed")
            .send()
            .await
            .unwrap()
            .credentials
            .unwrap();
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint())
            .credentials_provider(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "seed",
            ))
            .load()
            .await
    }

    /// Every account's (password reuse setting, EBS default encryption), re-read.
    async fn state(&self) -> Vec<(String, Option<i32>, bool)> {
        let mut out = Vec::new();
        let mut all = vec![self.mgmt.id.clone()];
        all.extend(self.members.iter().cloned());
        for id in all {
            let sdk = if id == self.mgmt.id {
                self.mgmt.sdk.clone()
            } else {
                self.member_sdk(&id).await
            };
            let reuse = aws_sdk_iam::Client::new(&sdk)
                .get_account_password_policy()
                .send()
                .await
                .ok()
                .and_then(|p| {
                    p.password_policy()
                        .and_then(|p| p.password_reuse_prevention())
                });
            let ebs = aws_sdk_ec2::Client::new(&sdk)
                .get_ebs_encryption_by_default()
                .send()
                .await
                .unwrap()
                .ebs_encryption_by_default()
                .unwrap_or(false);
            out.push((id, reuse, ebs));
        }
        out.sort();
        out
    }

    /// Seed member `i` differently by `i`: a compliant password policy on every third, EBS
    /// default encryption on every other.
    async fn seed(&self) {
        for (i, id) in self.members.iter().enumerate() {
            let sdk = self.member_sdk(id).await;
            if i % 3 == 0 {
                aws_sdk_iam::Client::new(&sdk)
                    .update_account_password_policy()
                    .password_reuse_prevention(24)
                    .minimum_password_length(14)
                    .send()
                    .await
                    .unwrap();
            }
            if i % 2 == 0 {
                aws_sdk_ec2::Client::new(&sdk)
                    .enable_ebs_encryption_by_default()
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

fn aws_sdk_organizations_client(sdk: &SdkConfig) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(sdk)
}

fn org_doc(out: &super::harness::Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("org plan JSON: {e}\n{}\n{}", out.stdout, out.stderr))
}

fn doc_accounts(doc: &Value) -> Vec<String> {
    doc["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["account"].as_str().unwrap().to_string())
        .collect()
}

/// The plan's statuses for one account of an org document.
fn account_statuses(doc: &Value, id: &str) -> Vec<(String, String)> {
    let a = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == id)
        .unwrap_or_else(|| panic!("account {id} not in the document"));
    statuses(&a["plan"])
        .into_iter()
        .map(|(c, _, s)| (c, s))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The run id of the multi-account apply, from its closing line (each account's part has
/// a line of its own before it).
fn group_of(stdout: &str) -> String {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Run "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no run id in:\n{stdout}"))
        .to_string()
}

#[tokio::test]
async fn an_organization_is_planned_applied_and_undone_account_by_account() {
    let org = Org::new(12, 3).await;
    org.seed().await;
    let before = org.state().await;
    let mut everyone = org.members.clone();
    everyone.push(org.mgmt.id.clone());

    // --org: every account, each judged on its own state.
    let mut args = vec!["plan", "--org", "--format", "json"];
    args.extend(CONTROLS);
    let out = org.mgmt.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let doc = org_doc(&out);
    assert_eq!(doc_accounts(&doc), sorted(everyone.clone()));
    for (i, id) in org.members.iter().enumerate() {
        let st = account_statuses(&doc, id);
        let of = |c: &str| st.iter().find(|(x, _)| x == c).map(|(_, s)| s.as_str());
        let pw = if i % 3 == 0 { "compliant" } else { "change" };
        let ebs = if i % 2 == 0 { "compliant" } else { "change" };
        assert_eq!(
            of("password-reuse-prevention"),
            Some(pw),
            "member {i}: {st:?}"
        );
        assert_eq!(
            of("ebs-default-encryption"),
            Some(ebs),
            "member {i}: {st:?}"
        );
    }

    // --ou narrows to that OU (recursively); --exclude-accounts takes one out.
    let in_ou0: Vec<String> = org.members.iter().step_by(3).cloned().collect();
    let mut args = vec!["plan", "--ou", &org.ous[0], "--format", "json"];
    args.extend(CONTROLS);
    let doc = org_doc(&org.mgmt.run(&args));
    assert_eq!(doc_accounts(&doc), sorted(in_ou0.clone()));
    let mut args = vec![
        "plan",
        "--org",
        "--exclude-accounts",
        &org.members[1],
        "--format",
        "json",
    ];
    args.extend(CONTROLS);
    let doc = org_doc(&org.mgmt.run(&args));
    let expected: Vec<String> = everyone
        .iter()
        .filter(|a| **a != org.members[1])
        .cloned()
        .collect();
    assert_eq!(doc_accounts(&doc), sorted(expected));

    // The text plan: one section per account, then the table with a line each.
    let mut args = vec!["plan", "--org"];
    args.extend(CONTROLS);
    let out = org.mgmt.run(&args);
    for id in &everyone {
        assert!(
            out.stdout.contains(&format!("━━ account {id}")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(id.as_str())),
            "no table line for {id}:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("13 accounts · none failed"),
        "{}",
        out.stdout
    );

    // apply --org --yes, then the plan has nothing left (exit 0 with --detailed-exitcode).
    let mut args = vec!["apply", "--org", "--yes"];
    args.extend(CONTROLS);
    let out = org.mgmt.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (id, reuse, ebs) in org.state().await {
        assert_eq!(reuse, Some(24), "{id}");
        assert!(ebs, "{id}");
    }
    let mut args = vec!["plan", "--org", "--detailed-exitcode", "-q"];
    args.extend(CONTROLS);
    let again = org.mgmt.run(&args);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);

    // undo of the run restores every account exactly; each account's part is a run of its own.
    let group = group_of(&out.stdout);
    let history = org.mgmt.run(&["history", "--json"]);
    let h: Value = serde_json::from_str(&history.stdout).expect("history json");
    let parts = h
        .as_array()
        .or_else(|| h["runs"].as_array())
        .expect("runs")
        .iter()
        .filter(|r| {
            r["run_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("{group}.")))
        })
        .count();
    // Accounts seeded compliant on both controls got no change, so no run part.
    assert!(parts >= 8, "{parts} parts of {group}:\n{}", history.stdout);
    let undo = org.mgmt.run(&["undo", &group, "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(org.state().await, before);
}

#[tokio::test]
async fn undo_of_a_multi_account_run_can_be_narrowed_to_some_accounts() {
    let org = Org::new(3, 1).await;
    let before = org.state().await;
    let mut args = vec!["apply", "--org", "--yes"];
    args.extend(CONTROLS);
    let out = org.mgmt.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let group = group_of(&out.stdout);
    let one = &org.members[0];
    let undo = org.mgmt.run(&["undo", &group, "--accounts", one, "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    for (id, reuse, ebs) in org.state().await {
        let was = before.iter().find(|(b, _, _)| *b == id).unwrap();
        if id == *one {
            assert_eq!((reuse, ebs), (was.1, was.2), "{id} restored");
        } else {
            assert_eq!((reuse, ebs), (Some(24), true), "{id} left applied");
        }
    }
    // history narrowed to that account: its part of the apply and its undo, nothing else.
    let h = org.mgmt.run(&["history", "--accounts", one, "--json"]);
    let rows: Value = serde_json::from_str(&h.stdout).expect("history json");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", h.stdout);
    assert!(
        rows.iter().all(|r| r["account_id"] == one.as_str()),
        "{}",
        h.stdout
    );
    org.mgmt
        .run(&["history", "--org"])
        .assert_one_line_error(1, "narrow it with --accounts");
    // An account the run did not touch is named.
    let other = org
        .mgmt
        .run(&["undo", &group, "--accounts", "999999999999", "--yes"]);
    other.assert_one_line_error(1, "did not change account 999999999999");
}

/// The numbers on the closing table's line that starts with `first` (an account id, or
/// `total`).
fn table_line(stdout: &str, first: &str) -> Vec<usize> {
    let line = stdout
        .lines()
        .map(str::trim_start)
        .rfind(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no table line for {first}:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{line}")))
        .collect()
}

#[tokio::test]
async fn the_undo_table_counts_each_accounts_changes() {
    // Two accounts (the management account and one member), two changes each.
    let org = Org::new(1, 1).await;
    let mut args = vec!["apply", "--org", "--yes"];
    args.extend(CONTROLS);
    let out = org.mgmt.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // verified, failed, declined, skipped, stale
    assert_eq!(
        table_line(&out.stdout, "total"),
        [4, 0, 0, 0, 0],
        "{}",
        out.stdout
    );
    let undo = org.mgmt.run(&["undo", &group_of(&out.stdout), "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    // undone, failed, refused: changes, not accounts.
    for id in [&org.mgmt.id, &org.members[0]] {
        assert_eq!(table_line(&undo.stdout, id), [2, 0, 0], "{}", undo.stdout);
    }
    assert_eq!(
        table_line(&undo.stdout, "total"),
        [4, 0, 0],
        "{}",
        undo.stdout
    );
    for (id, reuse, ebs) in org.state().await {
        assert_eq!((reuse, ebs), (None, false), "{id} restored");
    }
}

#[tokio::test]
async fn stats_of_a_multi_account_plan_sum_every_account() {
    // The management account and two members: the caller's context and two reached by role.
    let org = Org::new(2, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stats.json");
    let mut cmd = org.mgmt.command(&endpoint());
    cmd.env("CIS_FIX_STATS", &file);
    let mut args = vec!["plan", "--org", "-q"];
    args.extend(CONTROLS);
    let out = super::harness::run(cmd, &args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(st["accounts"], 3, "{st}");
    let sum = |m: &Value| -> u64 {
        m.as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    let calls = st["calls"].as_u64().unwrap();
    assert_eq!(sum(&st["per_operation"]), calls, "{st}");
    assert_eq!(sum(&st["per_control"]), calls, "{st}");
    // One identity check per account (the members' through their assumed role).
    assert_eq!(st["per_operation"]["sts:GetCallerIdentity"], 3, "{st}");
    assert_eq!(st["per_operation"]["organizations:ListAccounts"], 1, "{st}");
    // Each account reads its EBS default once: three accounts, three reads.
    assert_eq!(
        st["per_operation"]["ec2:GetEbsEncryptionByDefault"], 3,
        "{st}"
    );
    assert!(st["median_round_trip_ms"].as_f64().unwrap() > 0.0, "{st}");
    assert!(st["first_call_ms"].as_f64().is_some(), "{st}");
    // Each account's budgets are there (the caller's, and one set per member); every logged
    // call went through one (the AssumeRole calls too, which the call log does not count).
    let budgets = st["budgets"].as_array().unwrap();
    let iam = budgets
        .iter()
        .filter(|b| b["budget"] == "iam/global")
        .count();
    assert_eq!(iam, 3, "{st}");
    let sent: u64 = budgets.iter().map(|b| b["sent"].as_u64().unwrap()).sum();
    assert_eq!(sent, calls + 2, "{st}");
}

#[tokio::test]
async fn a_refused_role_and_a_denied_account_are_reported_and_the_rest_applied() {
    let org = Org::new(4, 2).await;
    let refused = org.members[0].clone();
    let denied = org.members[1].clone();
    let p = proxy::start(&endpoint());
    p.inject(FaultRule::for_account(
        &refused,
        Some("AssumeRole"),
        Fault::AccessDenied,
    ));
    // Every call in the account denied (as an SCP denying everything would).
    p.inject(FaultRule::for_account(&denied, None, Fault::AccessDenied));
    let mut args = vec!["apply", "--org", "--yes"];
    args.extend(CONTROLS);
    let out = org.mgmt.run_via(&p.url, &args);
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let line = |id: &str| {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{}", out.stdout))
            .to_string()
    };
    assert!(line(&refused).contains("error:"), "{}", line(&refused));
    assert!(line(&refused).contains("AssumeRole"), "{}", line(&refused));
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    for (id, reuse, ebs) in org.state().await {
        if id == refused || id == denied {
            assert_eq!((reuse, ebs), (None, false), "{id} untouched");
        } else {
            assert_eq!((reuse, ebs), (Some(24), true), "{id} applied");
        }
    }
}

/// The JSON of a plan document without what differs from run to run: times, the hashes over
/// them, and the session name in each caller ARN (it names the run).
fn normalised(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !["created_at", "sha256", "caller_arn"].contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), normalised(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalised).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn shards_cover_every_account_once_and_merge_into_the_single_plan() {
    let org = Org::new(6, 2).await;
    org.seed().await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut covered = Vec::new();
    let mut per_shard = Vec::new();
    for k in 0..4 {
        let f = dir.path().join(format!("shard-{k}.json"));
        let shard = format!("{k}/4");
        let mut args = vec!["plan", "--org", "--shard", &shard, "-q", "-o"];
        let fs = f.display().to_string();
        args.push(&fs);
        args.extend(CONTROLS);
        let out = org.mgmt.run(&args);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        per_shard.push(doc_accounts(&doc));
        covered.extend(doc_accounts(&doc));
        files.push(fs);
    }
    // A Kubernetes Indexed Job's worker takes its index from JOB_COMPLETION_INDEX.
    let mut cmd = org.mgmt.command(&endpoint());
    cmd.env("JOB_COMPLETION_INDEX", "2");
    let mut args = vec!["plan", "--org", "--shard", "auto/4", "--format", "json"];
    args.extend(CONTROLS);
    let named = dir.path().join("w-{shard}.json").display().to_string();
    args.extend(["-o", &named]);
    let auto = org_doc(&super::harness::run(cmd, &args));
    assert_eq!(doc_accounts(&auto), per_shard[2]);
    // `{shard}` in -o is the worker's index.
    assert!(dir.path().join("w-2.json").exists());
    let mut everyone = org.members.clone();
    everyone.push(org.mgmt.id.clone());
    assert_eq!(
        sorted(covered),
        sorted(everyone),
        "each account exactly once"
    );

    let merged = dir.path().join("org-plan.json").display().to_string();
    let mut args = vec!["report", "merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["-o", &merged]);
    let out = org.mgmt.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let mut args = vec!["plan", "--org", "--format", "json"];
    args.extend(CONTROLS);
    let single = org_doc(&org.mgmt.run(&args));
    let merged: Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(normalised(&merged), normalised(&single));

    // Overlapping shards are refused, naming the account and both files.
    let mut args = vec!["report", "merge", &files[0], &files[0]];
    args.extend(["-o", "/dev/null"]);
    org.mgmt
        .run(&args)
        .assert_one_line_error(1, "the shards overlap");
}

#[tokio::test]
async fn a_saved_multi_account_plan_is_applied_as_it_reads_and_refused_per_account() {
    let org = Org::new(3, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org-plan.json").display().to_string();
    let mut args = vec!["plan", "--org", "-q", "-o", &file];
    args.extend(CONTROLS);
    let out = org.mgmt.run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // One member moves after the plan: its password policy change is now stale.
    let moved = org.members[0].clone();
    aws_sdk_iam::Client::new(&org.member_sdk(&moved).await)
        .update_account_password_policy()
        .password_reuse_prevention(5)
        .send()
        .await
        .unwrap();
    let out = org.mgmt.run(&["apply", &file, "--yes"]);
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("refused (stale)"), "{}", out.stdout);
    for (id, reuse, ebs) in org.state().await {
        assert!(ebs, "{id}: EBS applied everywhere");
        if id == moved {
            assert_eq!(reuse, Some(5), "{id}: the stale change was not made");
        } else {
            assert_eq!(reuse, Some(24), "{id}");
        }
    }
    // Account flags are for live plans only, and a plan file's hash is checked.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replacen("\"member0\"", "\"renamed\"", 1);
    std::fs::write(&file, text).unwrap();
    org.mgmt
        .run(&["apply", &file, "--yes"])
        .assert_one_line_error(1, "was changed after cis-fix wrote it");
}

#[tokio::test]
async fn account_flags_are_checked_before_any_call() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    for (args, msg) in [
        (vec!["plan", "--ou", "bogus"], "is not an OU id"),
        (
            vec!["plan", "--accounts", "12345"],
            "is not a 12-digit account id",
        ),
        (
            vec!["plan", "--org", "--shard", "4/4"],
            "shards are numbered from 0",
        ),
        (
            vec!["plan", "--role-name", "x"],
            "--role-name needs the accounts",
        ),
        (
            vec!["plan", "--org", "--role-path", "ops"],
            "is not an IAM path",
        ),
        (
            vec!["plan", "--accounts", "/no/such/file"],
            "neither a list of 12-digit account ids nor a readable file",
        ),
    ] {
        let out = acct.run_via(&p.url, &args);
        out.assert_one_line_error(1, msg);
    }
    assert!(p.calls_by(acct.creds.access_key_id()).is_empty());
    // Not in an organization: one line that says so.
    // Not in an organization (moto lists no account; AWS answers
    // AWSOrganizationsNotInUseException, which is named the same way): one line.
    acct.run(&["plan", "--org", "-c", "1.8"])
        .assert_one_line_error(1, "no ACTIVE account");
}

#[tokio::test]
async fn the_guide_works_on_one_account_picked_from_the_list() {
    let org = Org::new(2, 1).await;
    let before = org.state().await;
    let mut all = org.members.clone();
    all.push(org.mgmt.id.clone());
    let all = sorted(all);
    let chosen = all[1].clone();
    let cmd = super::tmux::cis_fix_line(
        &org.mgmt,
        &endpoint(),
        &std::env::temp_dir(),
        &format!("guide --org -c 1.8 --regions {REGION}"),
        "GUIDE_EXIT",
    );
    let t = super::tmux::Tmux::start(&format!("cis-fix-org-guide-{}", org.mgmt.id), &cmd);
    let s = t.wait_for("which of these 3", 1);
    for id in &all {
        assert!(s.contains(id.as_str()), "{id} offered: {s}");
    }
    t.keys(&["Down", "Enter"]);
    let s = t.wait_for("What now?", 1);
    assert!(s.contains(&format!("account   {chosen}")), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("to confirm", 1);
    t.keys(&[&chosen, "Enter"]);
    t.wait_for("GUIDE_EXIT=0", 1);
    for (id, reuse, ebs) in org.state().await {
        let was = before.iter().find(|(b, _, _)| *b == id).unwrap();
        if id == chosen {
            assert_eq!(reuse, Some(24), "{id} hardened");
        } else {
            assert_eq!((reuse, ebs), (was.1, was.2), "{id} untouched");
        }
    }
    // The guide's run is the chosen account's part of a run undo reaches it by.
    let h = org.mgmt.run(&["history", "--json"]);
    let rows: Value = serde_json::from_str(&h.stdout).expect("history json");
    let id = rows.as_array().unwrap()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = id
        .strip_suffix(&format!(".{chosen}"))
        .unwrap_or_else(|| panic!("{id}"));
    let undo = org.mgmt.run(&["undo", group, "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(org.state().await, before);
}

/// A member account made in the organization `org` manages (moto makes it at once, with its
/// OrganizationAccountAccessRole); its id.
pub(crate) async fn create_member(org: &aws_sdk_organizations::Client, name: &str) -> String {
    let req = org
        .create_account()
        .email(format!("{name}@example.com"))
        .account_name(name)
        .send()
        .await
        .unwrap();
    org.describe_create_account_status()
        .create_account_request_id(req.create_account_status().unwrap().id().unwrap())
        .send()
        .await
        .unwrap()
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_string()
}

/// Move account `id` from the root `root` into the OU `dest`.
pub(crate) async fn move_member(
    org: &aws_sdk_organizations::Client,
    id: &str,
    root: &str,
    dest: &str,
) {
    org.move_account()
        .account_id(id)
        .source_parent_id(root)
        .destination_parent_id(dest)
        .send()
        .await
        .unwrap();
}
