//! Issue 13, "safe on a production account", the identity part: 1.9's `mfa_group` must not
//! lock the caller out or hand out a group's privileges, a policy already named like
//! cis-fix's forced-MFA policy is used only when its document is cis-fix's, a half-done apply
//! leaves nothing behind, and a caller that is no IAM user does not break the plan.
//!
//! Two tests need a server of their own ([`PrivateEmulator`]): IAM enforcement is a
//! server-wide switch, and moto's default identity (a plain key → `user/moto`, no IAM user)
//! lives in the one account 123456789012.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::Value;

use crate::harness::{base_command, endpoint, plan_json, run, Output, TestAccount, REGION};
use crate::proxy::{self, Fault, FaultRule};

const MFA: &str = "iam-user-mfa";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

// ---------------------------------------------------------------------------------------
// A private moto server
// ---------------------------------------------------------------------------------------

/// A moto server of this test's own (killed on drop), for what must not touch the shared
/// emulator: IAM enforcement, and moto's default account.
pub struct PrivateEmulator {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl PrivateEmulator {
    pub fn start() -> PrivateEmulator {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("moto.log");
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
        let mut cmd = Command::new(&bin);
        // moto uses boto3 itself: none of the caller's AWS_* settings may leak into it.
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("moto.err")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut em = PrivateEmulator {
            child,
            url: String::new(),
            _dir: dir,
        };
        for _ in 0..150 {
            let text = std::fs::read_to_string(&log).unwrap_or_default()
                + &std::fs::read_to_string(em._dir.path().join("moto.err")).unwrap_or_default();
            if let Some(port) = text
                .split("Running on http://127.0.0.1:")
                .nth(1)
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .filter(|p| !p.is_empty())
            {
                em.url = format!("http://127.0.0.1:{port}");
                if em.http("GET", "/moto-api/", "").starts_with("HTTP/1.1 200")
                    || em.http("GET", "/moto-api/", "").starts_with("HTTP/1.0 200")
                {
                    return em;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("private moto_server did not start");
    }

    /// One plain HTTP request to the server; the raw response.
    fn http(&self, method: &str, path: &str, body: &str) -> String {
        let addr = self.url.trim_start_matches("http://");
        let Ok(mut s) = std::net::TcpStream::connect(addr) else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(req.as_bytes()).is_err() {
            return String::new();
        }
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    /// Turn IAM enforcement on: every request from now on is checked against IAM policies.
    pub fn enforce_iam(&self) {
        let r = self.http("POST", "/moto-api/reset-auth", "0");
        assert!(r.contains(" 200"), "reset-auth: {r}");
    }

    /// Turn enforcement off again (moto lets this many requests through unchecked).
    pub fn relax_iam(&self) {
        let r = self.http("POST", "/moto-api/reset-auth", "1000000000");
        assert!(r.contains(" 200"), "reset-auth: {r}");
    }

    pub async fn sdk(&self, creds: Credentials) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.url)
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await
    }

    /// Credentials of a role session in account `id` (the role need not exist).
    pub async fn account(&self, id: &str) -> Credentials {
        let base = self.sdk(plain("testing", "testing")).await;
        let c = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/cis-fix-test"))
            .role_session_name("cis-fix-test")
            .send()
            .await
            .expect("assume role")
            .credentials
            .expect("credentials");
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "moto-assumed",
        )
    }

    /// The binary against this server with `creds` and journal directory `state`.
    pub fn run(&self, creds: &Credentials, state: &std::path::Path, args: &[&str]) -> Output {
        let mut cmd = base_command();
        cmd.env("AWS_ACCESS_KEY_ID", creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
            .env("AWS_ENDPOINT_URL", &self.url)
            .env("CIS_FIX_STATE_DIR", state);
        if let Some(t) = creds.session_token() {
            cmd.env("AWS_SESSION_TOKEN", t);
        }
        run(cmd, args)
    }
}

impl Drop for PrivateEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn plain(key: &str, secret: &str) -> Credentials {
    Credentials::new(key, secret, None, None, "static")
}

// ---------------------------------------------------------------------------------------
// Seeding and re-reading
// ---------------------------------------------------------------------------------------

fn policy_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:policy/cis-fix/cis-fix-force-mfa")
}

async fn console_user(iam: &aws_sdk_iam::Client, name: &str) {
    iam.create_user().user_name(name).send().await.unwrap();
    iam.create_login_profile()
        .user_name(name)
        .password("Correct-Horse-Battery-9")
        .send()
        .await
        .unwrap();
}

/// A group with AdministratorAccess and, when `inline` is given, an inline policy of that name.
async fn admin_group(iam: &aws_sdk_iam::Client, name: &str, inline: Option<&str>) {
    iam.create_group().group_name(name).send().await.unwrap();
    iam.attach_group_policy()
        .group_name(name)
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    if let Some(p) = inline {
        iam.put_group_policy()
            .group_name(name)
            .policy_name(p)
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            )
            .send()
            .await
            .unwrap();
    }
}

/// Members of a group, sorted; `None` when the group does not exist.
async fn members(iam: &aws_sdk_iam::Client, group: &str) -> Option<Vec<String>> {
    match iam.get_group().group_name(group).send().await {
        Ok(g) => {
            let mut m: Vec<String> = g
                .users()
                .iter()
                .map(|u| u.user_name().to_string())
                .collect();
            m.sort();
            Some(m)
        }
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_no_such_entity_exception(), "{e:?}");
            None
        }
    }
}

/// ARNs of the managed policies attached to a group.
async fn group_policies(iam: &aws_sdk_iam::Client, group: &str) -> Vec<String> {
    iam.list_attached_group_policies()
        .group_name(group)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}

/// Whether the policy exists.
async fn policy_exists(iam: &aws_sdk_iam::Client, arn: &str) -> bool {
    match iam.get_policy().policy_arn(arn).send().await {
        Ok(_) => true,
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_no_such_entity_exception(), "{e:?}");
            false
        }
    }
}

/// (users, groups) the policy is attached to, sorted.
async fn attachments(iam: &aws_sdk_iam::Client, arn: &str) -> (Vec<String>, Vec<String>) {
    let o = iam
        .list_entities_for_policy()
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
    let mut u: Vec<String> = o
        .policy_users()
        .iter()
        .filter_map(|u| u.user_name().map(str::to_string))
        .collect();
    let mut g: Vec<String> = o
        .policy_groups()
        .iter()
        .filter_map(|g| g.group_name().map(str::to_string))
        .collect();
    u.sort();
    g.sort();
    (u, g)
}

/// The plan item of 1.9 for `user NAME`.
fn user_item<'a>(doc: &'a Value, user: &str) -> &'a Value {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["control"] == MFA && i["target"] == format!("user {user}"))
        .unwrap_or_else(|| panic!("no {MFA} item for user {user}: {doc}"))
}

fn summary(item: &Value) -> &str {
    item["summary"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Defect 1: a group the caller belongs to
// ---------------------------------------------------------------------------------------

/// ops (AdministratorAccess through group admins) runs `apply --set mfa_group=admins`. Before
/// the fix, the forced-MFA policy was attached to admins first, AddUserToGroup was then
/// denied to ops itself, and undo found nothing to undo: ops was locked out.
///
/// Runs under real IAM enforcement in a private moto. moto verifies request signatures under
/// enforcement and refuses iam:CreatePolicy from the Rust SDK, so the forced-MFA policy
/// (cis-fix's own document, tagged as cis-fix's) is created before enforcement is on.
#[tokio::test]
async fn mfa_group_the_caller_belongs_to_is_refused_and_the_caller_keeps_access() {
    let em = PrivateEmulator::start();
    let account = "222233334444";
    let admin = em.account(account).await;
    let iam = aws_sdk_iam::Client::new(&em.sdk(admin.clone()).await);
    admin_group(&iam, "admins", None).await;
    console_user(&iam, "ops").await;
    iam.add_user_to_group()
        .group_name("admins")
        .user_name("ops")
        .send()
        .await
        .unwrap();
    console_user(&iam, "dave").await;
    let k = iam
        .create_access_key()
        .user_name("ops")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let ops = plain(&k.access_key_id, &k.secret_access_key);
    iam.create_policy()
        .policy_name("cis-fix-force-mfa")
        .path("/cis-fix/")
        .policy_document(
            cis_fix_remediations::resources::mfa_policy::policy_document("aws").to_string(),
        )
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("cis-fix:created-by")
                .value("cis-fix")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    em.enforce_iam();

    let sel = ["--control", "1.9", "--set", "mfa_group=admins"];
    let out = em.run(
        &ops,
        state.path(),
        &[&["apply", "--yes"][..], &sel].concat(),
    );
    // ops can still act: the same session plans again, and reads IAM.
    let plan = em.run(
        &ops,
        state.path(),
        &[&["plan", "--format", "json"][..], &sel].concat(),
    );
    assert_eq!(
        plan.code, 0,
        "ops locked out after apply:\n{}\n{}\nplan again:\n{}\n{}",
        out.stdout, out.stderr, plan.stdout, plan.stderr
    );
    let as_ops = aws_sdk_iam::Client::new(&em.sdk(ops.clone()).await);
    as_ops
        .list_users()
        .send()
        .await
        .expect("ops can still list users");
    // The plan refuses the group and names the caller, so apply wrote nothing.
    let doc = plan_json(&plan);
    let dave = user_item(&doc, "dave");
    assert_eq!(dave["status"], "skipped", "{dave}");
    assert!(summary(dave).contains("admins"), "{dave}");
    assert!(
        summary(dave).contains("user ops"),
        "names the caller: {dave}"
    );
    assert!(dave["calls"].as_array().is_none_or(|c| c.is_empty()));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    em.relax_iam();
    assert_eq!(group_policies(&iam, "admins").await, [ADMIN]);
    assert_eq!(members(&iam, "admins").await.unwrap(), ["ops"]);
    assert_eq!(
        attachments(&iam, &policy_arn(account)).await,
        (vec![], vec![])
    );
}

/// The same refusal without enforcement, on the shared emulator: the plan names the group and
/// the caller, and `include_caller=true` lifts it (the group is then still refused for its
/// AdministratorAccess, see the next test).
#[tokio::test]
async fn mfa_group_the_caller_belongs_to_is_refused_at_plan_time() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    iam.create_group()
        .group_name("ops-team")
        .send()
        .await
        .unwrap();
    console_user(&iam, "ops").await;
    iam.add_user_to_group()
        .group_name("ops-team")
        .user_name("ops")
        .send()
        .await
        .unwrap();
    console_user(&iam, "dave").await;
    let k = iam
        .create_access_key()
        .user_name("ops")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let sel = ["--control", MFA, "--set", "mfa_group=ops-team"];
    let plan = acct.run_as_user(
        &k.access_key_id,
        &k.secret_access_key,
        &[&["plan", "--format", "json"][..], &sel].concat(),
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let dave = user_item(&doc, "dave");
    assert_eq!(dave["status"], "skipped", "{dave}");
    assert!(summary(dave).contains("ops-team"), "{dave}");
    assert!(summary(dave).contains("user ops"), "{dave}");
    let out = acct.run_as_user(
        &k.access_key_id,
        &k.secret_access_key,
        &[&["apply", "--yes"][..], &sel].concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(members(&iam, "ops-team").await.unwrap(), ["ops"]);
    assert!(group_policies(&iam, "ops-team").await.is_empty());
    assert!(!policy_exists(&iam, &policy_arn(&acct.id)).await);

    // With include_caller the caller's group may be used (it carries no permissions).
    let incl = [&sel[..], &["--set", "include_caller=true"]].concat();
    let plan = acct.run_as_user(
        &k.access_key_id,
        &k.secret_access_key,
        &[&["plan", "--format", "json"][..], &incl].concat(),
    );
    assert_eq!(user_item(&plan_json(&plan), "dave")["status"], "change");
}

// ---------------------------------------------------------------------------------------
// Apply order and roll-back of a half-done apply
// ---------------------------------------------------------------------------------------

/// AttachGroupPolicy fails after the policy and the group were created and the user added:
/// apply takes back what it wrote, so the account is as it was and nothing is left for an
/// undo that would not know about it.
#[tokio::test]
async fn a_failed_group_apply_leaves_the_account_as_it_was() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    console_user(&iam, "dave").await;
    let sel = ["--control", MFA, "--set", "mfa_group=cis-mfa"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let dave = user_item(&plan_json(&plan), "dave").clone();
    let actions: Vec<&str> = dave["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "iam:CreatePolicy",
            "iam:CreateGroup",
            "iam:AddUserToGroup",
            "iam:AttachGroupPolicy"
        ],
        "the user joins the group before the group gets the policy"
    );

    let proxy = proxy::start(&endpoint());
    proxy.inject(FaultRule::new(
        "AttachGroupPolicy",
        None,
        Fault::AccessDenied,
        None,
    ));
    let out = acct.run_via(&proxy.url, &[&["apply", "--yes"][..], &sel].concat());
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        proxy.count(acct.creds.access_key_id(), "AttachGroupPolicy"),
        1
    );
    assert_eq!(
        members(&iam, "cis-mfa").await,
        None,
        "the group is gone again"
    );
    assert!(
        !policy_exists(&iam, &policy_arn(&acct.id)).await,
        "the policy created by this apply is gone again"
    );
    let groups = iam
        .list_groups_for_user()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    assert!(groups.groups().is_empty());

    // A group that existed before keeps existing, without dave.
    iam.create_group()
        .group_name("cis-mfa")
        .send()
        .await
        .unwrap();
    let out = acct.run_via(&proxy.url, &[&["apply", "--yes"][..], &sel].concat());
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(members(&iam, "cis-mfa").await, Some(vec![]));
    assert!(group_policies(&iam, "cis-mfa").await.is_empty());
    assert!(!policy_exists(&iam, &policy_arn(&acct.id)).await);
}

// ---------------------------------------------------------------------------------------
// Defect 2: a group with privileges
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn mfa_group_with_permissions_is_refused() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    admin_group(&iam, "platform-admins", Some("s3-everything")).await;
    console_user(&iam, "dave").await;
    let sel = ["--control", MFA, "--set", "mfa_group=platform-admins"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let dave = user_item(&doc, "dave");
    assert_eq!(dave["status"], "skipped", "{dave}");
    let s = summary(dave);
    assert!(s.contains("platform-admins"), "{s}");
    assert!(s.contains("AdministratorAccess"), "{s}");
    assert!(s.contains("s3-everything"), "{s}");

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(members(&iam, "platform-admins").await, Some(vec![]));
    assert_eq!(group_policies(&iam, "platform-admins").await, [ADMIN]);

    // A group that exists without permissions is fine.
    iam.create_group()
        .group_name("mfa-users")
        .send()
        .await
        .unwrap();
    let sel = ["--control", MFA, "--set", "mfa_group=mfa-users"];
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(members(&iam, "mfa-users").await, Some(vec!["dave".into()]));
    assert_eq!(
        group_policies(&iam, "mfa-users").await,
        [policy_arn(&acct.id)]
    );
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(
        members(&iam, "mfa-users").await,
        Some(vec![]),
        "a group cis-fix did not create stays"
    );
}

// ---------------------------------------------------------------------------------------
// Defect 4: a policy already named cis-fix-force-mfa
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_look_alike_policy_is_not_used_nor_deleted() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    let arn = iam
        .create_policy()
        .policy_name("cis-fix-force-mfa")
        .path("/cis-fix/")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    assert_eq!(arn, policy_arn(&acct.id));
    console_user(&iam, "dave").await;
    console_user(&iam, "erin").await;
    iam.attach_user_policy()
        .user_name("erin")
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();

    let sel = ["--control", MFA];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let dave = user_item(&doc, "dave");
    assert_ne!(dave["status"], "change", "{dave}");
    assert!(summary(dave).contains("differs"), "{dave}");
    assert!(
        summary(dave).contains("\"*\""),
        "names the difference: {dave}"
    );
    assert!(
        dave["prerequisites"]["forced_mfa_policy"]["document_sha256"].is_string(),
        "{dave}"
    );
    let erin = user_item(&doc, "erin");
    assert_ne!(
        erin["status"], "compliant",
        "a *:* policy under that name does not enforce MFA: {erin}"
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(attachments(&iam, &arn).await, (vec!["erin".into()], vec![]));
    let undo = acct.run(&["undo", "--yes"]);
    assert!(
        undo.code == 0 || undo.code == 1,
        "{}\n{}",
        undo.stdout,
        undo.stderr
    );
    assert!(policy_exists(&iam, &arn).await, "never deleted");
}

/// A policy with cis-fix's own document that cis-fix did not create (no tag) is used, and
/// undo detaches it but leaves it in place.
#[tokio::test]
async fn an_identical_untagged_policy_is_used_but_never_deleted() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    // The same statements in another order, as a person might have written them.
    let mut doc = cis_fix_remediations::resources::mfa_policy::policy_document("aws");
    doc["Statement"].as_array_mut().unwrap().reverse();
    let arn = iam
        .create_policy()
        .policy_name("cis-fix-force-mfa")
        .path("/cis-fix/")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    console_user(&iam, "dave").await;
    let sel = ["--control", MFA];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let dave = user_item(&plan_json(&plan), "dave").clone();
    assert_eq!(dave["status"], "change", "{dave}");
    assert_eq!(
        dave["calls"][0]["action"], "iam:AttachUserPolicy",
        "no CreatePolicy: {dave}"
    );
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(attachments(&iam, &arn).await, (vec!["dave".into()], vec![]));
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(attachments(&iam, &arn).await, (vec![], vec![]));
    assert!(policy_exists(&iam, &arn).await, "not cis-fix's: kept");
}

/// The policy cis-fix creates carries its tag.
#[tokio::test]
async fn the_created_policy_is_tagged() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    console_user(&iam, "dave").await;
    let out = acct.run(&["apply", "--yes", "--control", MFA]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let tags = iam
        .list_policy_tags()
        .policy_arn(policy_arn(&acct.id))
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "cis-fix:created-by" && t.value() == "cis-fix"),
        "{tags:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Defect 10: a caller that is no IAM user
// ---------------------------------------------------------------------------------------

/// A plain key moto does not know is `arn:aws:sts::123456789012:user/moto`, and there is no
/// IAM user `moto` (ListGroupsForUser → NoSuchEntity). Run in a private moto, since that
/// identity always lands in the one account 123456789012.
#[tokio::test]
async fn a_caller_without_an_iam_user_does_not_break_the_identity_plan() {
    let em = PrivateEmulator::start();
    let creds = plain("testing", "testing");
    let iam = aws_sdk_iam::Client::new(&em.sdk(creds.clone()).await);
    console_user(&iam, "dave").await;
    let state = tempfile::tempdir().unwrap();
    let out = em.run(
        &creds,
        state.path(),
        &["plan", "--section", "1", "--format", "json"],
    );
    let doc = plan_json(&out);
    assert_eq!(
        doc["plan"]["account"]["caller_arn"],
        "arn:aws:sts::123456789012:user/moto"
    );
    let items = doc["plan"]["items"].as_array().unwrap();
    let errors: Vec<&Value> = items.iter().filter(|i| i["status"] == "error").collect();
    assert!(
        errors
            .iter()
            .all(|i| !summary(i).contains("ListGroupsForUser")),
        "{errors:#?}"
    );
    assert_eq!(user_item(&doc, "dave")["status"], "change");
    let noted = items.iter().any(|i| {
        i["notes"].as_array().is_some_and(|n| {
            n.iter().any(|n| {
                n.as_str()
                    .unwrap_or_default()
                    .contains("user moto was not found")
            })
        })
    });
    assert!(noted, "a note says the caller's user was not found: {doc}");
}
