//! Account-level identity controls (v5.0 1.2, 1.15, 1.16, 1.18, 1.19, 1.21) against moto.
//!
//! moto 5.2.5 serves the Account API (alternate contacts), IAM managed policies (with
//! MOTO_IAM_LOAD_MANAGED_POLICIES=true, set by scripts/emulator.sh) and server certificates.
//! It has no Access Analyzer: 1.19 is checked here only for not breaking the plan (unknown
//! per region); its plan/apply/undo logic is unit-tested with the SDK's StaticReplayClient in
//! remediations/src/identity/access_analyzer.rs.

use serde_json::Value;

use crate::harness::{plan_json, statuses, Output, TestAccount};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const FULL_ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["*"],"Resource":"*"}}"#;
const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn admin_arn() -> String {
    "arn:aws:iam::aws:policy/AdministratorAccess".into()
}

/// (kind, name) of everything `policy` is attached to, re-read with the SDK, sorted.
async fn attached(acct: &TestAccount, policy: &str) -> Vec<(String, String)> {
    let out = acct
        .iam()
        .list_entities_for_policy()
        .policy_arn(policy)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = out
        .policy_users()
        .iter()
        .map(|u| ("user".into(), u.user_name().unwrap().to_string()))
        .chain(
            out.policy_groups()
                .iter()
                .map(|g| ("group".into(), g.group_name().unwrap().to_string())),
        )
        .chain(
            out.policy_roles()
                .iter()
                .map(|r| ("role".into(), r.role_name().unwrap().to_string())),
        )
        .collect();
    v.sort();
    v
}

fn pair(kind: &str, name: &str) -> (String, String) {
    (kind.to_string(), name.to_string())
}

/// The plan items of one control: (target, status).
fn items(out: &Output, control: &str) -> Vec<(String, String)> {
    let doc = plan_json(out);
    let mut v: Vec<(String, String)> = doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["control"] == control)
        .map(|i| {
            (
                i["target"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The plan item for `target`.
fn by_target<'a>(doc: &'a Value, target: &str) -> &'a Value {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"] == target)
        .unwrap()
}

fn non_compliant(v: &[(String, String)]) -> Vec<(String, String)> {
    v.iter()
        .filter(|(_, s)| s != "compliant")
        .cloned()
        .collect()
}

fn t(target: &str, status: &str) -> (String, String) {
    (target.to_string(), status.to_string())
}

async fn create_role(acct: &TestAccount, name: &str) {
    acct.iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
}

/// Attaches `policy` to the user, group or role `name` (the kinds of `attached`).
async fn attach(acct: &TestAccount, kind: &str, name: &str, policy: &str) {
    let iam = acct.iam();
    match kind {
        "user" => {
            iam.attach_user_policy()
                .user_name(name)
                .policy_arn(policy)
                .send()
                .await
                .unwrap();
        }
        "group" => {
            iam.attach_group_policy()
                .group_name(name)
                .policy_arn(policy)
                .send()
                .await
                .unwrap();
        }
        "role" => {
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(policy)
                .send()
                .await
                .unwrap();
        }
        _ => panic!("no principal kind {kind}"),
    }
}

async fn create_policy(acct: &TestAccount, name: &str, doc: &str) -> String {
    acct.iam()
        .create_policy()
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap()
}

#[tokio::test]
async fn full_admin_attachments_are_detached_and_undo_reattaches() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    let full = create_policy(&acct, "FullAdmin", FULL_ADMIN).await;
    let narrow = create_policy(&acct, "ReadObjects", READ_ONLY).await;
    iam.create_user().user_name("dev").send().await.unwrap();
    iam.create_group().group_name("ops").send().await.unwrap();
    iam.add_user_to_group()
        .group_name("ops")
        .user_name("dev")
        .send()
        .await
        .unwrap();
    create_role(&acct, "app").await;
    create_role(&acct, "breakglass").await;
    attach(&acct, "user", "dev", &full).await;
    attach(&acct, "user", "dev", &narrow).await;
    attach(&acct, "group", "ops", &full).await;
    attach(&acct, "role", "app", &full).await;
    attach(&acct, "role", "breakglass", &admin_arn()).await;

    let sel = ["--control", "no-full-admin-policies"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(
        non_compliant(&items(&plan, "no-full-admin-policies")),
        vec![
            t("AdministratorAccess attached to role breakglass", "change"),
            t("FullAdmin attached to group ops", "change"),
            t("FullAdmin attached to role app", "change"),
            t("FullAdmin attached to user dev", "change"),
        ]
    );
    let doc = plan_json(&plan);
    let group = by_target(&doc, "FullAdmin attached to group ops");
    assert_eq!(group["destructive"], true);
    assert_eq!(group["reversible"], true);
    assert!(
        group["summary"].as_str().unwrap().contains("members: dev"),
        "{group}"
    );
    assert_eq!(group["calls"][0]["action"], "iam:DetachGroupPolicy");
    assert!(
        group["notes"].to_string().contains("break-glass"),
        "{group}"
    );
    let app = by_target(&doc, "FullAdmin attached to role app");
    assert!(
        app["summary"]
            .as_str()
            .unwrap()
            .contains("assumable by ec2.amazonaws.com"),
        "{app}"
    );
    // A policy without "*:*" is no target.
    assert!(!plan.stdout.contains("ReadObjects"), "{}", plan.stdout);

    let out = acct.run(&[&["apply", "--yes", "--allow-destructive"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(attached(&acct, &full).await.is_empty());
    assert!(attached(&acct, &admin_arn()).await.is_empty());
    assert_eq!(attached(&acct, &narrow).await, vec![pair("user", "dev")]);

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);
    let second = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("Nothing to apply"),
        "{}",
        second.stdout
    );

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(
        attached(&acct, &full).await,
        vec![
            pair("group", "ops"),
            pair("role", "app"),
            pair("user", "dev")
        ]
    );
    assert_eq!(
        attached(&acct, &admin_arn()).await,
        vec![pair("role", "breakglass")]
    );
}

/// cis-fix run as an IAM user whose group holds the admin policy: that attachment is
/// skipped with the reason, the others are detached.
#[tokio::test]
async fn the_caller_keeps_the_admin_it_runs_with() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    let full = create_policy(&acct, "FullAdmin", FULL_ADMIN).await;
    iam.create_user().user_name("runner").send().await.unwrap();
    iam.create_group()
        .group_name("admins")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name("admins")
        .user_name("runner")
        .send()
        .await
        .unwrap();
    attach(&acct, "group", "admins", &full).await;
    create_role(&acct, "other").await;
    attach(&acct, "role", "other", &full).await;
    let key = iam
        .create_access_key()
        .user_name("runner")
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let as_runner =
        |args: &[&str]| acct.run_as_user(key.access_key_id(), key.secret_access_key(), args);

    let sel = ["--control", "no-full-admin-policies"];
    let plan = as_runner(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    assert!(
        doc["plan"]["account"]["caller_arn"]
            .as_str()
            .unwrap()
            .ends_with(":user/runner"),
        "{}",
        doc["plan"]["account"]
    );
    assert_eq!(
        non_compliant(&items(&plan, "no-full-admin-policies")),
        vec![
            t("FullAdmin attached to group admins", "skipped"),
            t("FullAdmin attached to role other", "change"),
        ]
    );
    let skipped = by_target(&doc, "FullAdmin attached to group admins");
    let why = skipped["summary"].as_str().unwrap();
    assert!(
        why.contains("runs as user runner") && why.contains("lock itself out"),
        "{why}"
    );

    // Asked for explicitly, the caller's own group is planned like the others.
    let forced = as_runner(
        &[
            &["plan", "--format", "json", "--set", "include_caller=true"][..],
            &sel,
        ]
        .concat(),
    );
    assert_eq!(
        non_compliant(&items(&forced, "no-full-admin-policies")),
        vec![
            t("FullAdmin attached to group admins", "change"),
            t("FullAdmin attached to role other", "change"),
        ]
    );

    let out = as_runner(&[&["apply", "--yes", "--allow-destructive"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(attached(&acct, &full).await, vec![pair("group", "admins")]);
}

#[tokio::test]
async fn support_role_is_created_and_undo_deletes_it() {
    let acct = TestAccount::new().await;
    let support = "arn:aws:iam::aws:policy/AWSSupportAccess";
    let sel = ["--control", "support-role"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(
        items(&plan, "support-role"),
        vec![t("AWS Support role", "change")]
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        attached(&acct, support).await,
        vec![pair("role", "cis-fix-support")]
    );
    let role = acct
        .iam()
        .get_role()
        .role_name("cis-fix-support")
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let trust = role.assume_role_policy_document().unwrap();
    let root = format!("arn:aws:iam::{}:root", acct.id);
    assert!(
        trust.contains(&root) || trust.contains(&root.replace(':', "%3A")),
        "{trust}"
    );

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(attached(&acct, support).await.is_empty());
    let gone = acct
        .iam()
        .get_role()
        .role_name("cis-fix-support")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_no_such_entity_exception(), "{gone:?}");
}

#[tokio::test]
async fn support_role_held_by_an_existing_role_is_compliant() {
    let acct = TestAccount::new().await;
    create_role(&acct, "helpdesk").await;
    attach(
        &acct,
        "role",
        "helpdesk",
        "arn:aws:iam::aws:policy/AWSSupportAccess",
    )
    .await;
    let plan = acct.run(&["plan", "--control", "1.16", "--format", "json"]);
    assert_eq!(
        items(&plan, "support-role"),
        vec![t("AWS Support role", "compliant")]
    );
}

#[tokio::test]
async fn cloudshell_full_access_is_detached_and_undo_reattaches() {
    let acct = TestAccount::new().await;
    let cs = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess";
    let iam = acct.iam();
    iam.create_user().user_name("analyst").send().await.unwrap();
    create_role(&acct, "console").await;
    attach(&acct, "user", "analyst", cs).await;
    attach(&acct, "role", "console", cs).await;
    let sel = ["--control", "cloudshell-full-access-restricted"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(
        non_compliant(&items(&plan, "cloudshell-full-access-restricted")),
        vec![
            t("AWSCloudShellFullAccess attached to role console", "change"),
            t("AWSCloudShellFullAccess attached to user analyst", "change"),
        ]
    );

    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(attached(&acct, cs).await.is_empty());
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(
        attached(&acct, cs).await,
        vec![pair("role", "console"), pair("user", "analyst")]
    );
}

/// moto reports every server certificate as expired in 2012 whatever its body; the fixture
/// is a real certificate that expired on 2021-01-01, so the test is honest either way.
#[tokio::test]
async fn expired_certificates_need_allow_irreversible() {
    let acct = TestAccount::new().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let body = std::fs::read_to_string(format!("{dir}/expired-server-cert.pem")).unwrap();
    let key = std::fs::read_to_string(format!("{dir}/expired-server-cert.key")).unwrap();
    acct.iam()
        .upload_server_certificate()
        .server_certificate_name("old-web")
        .certificate_body(body)
        .private_key(key)
        .send()
        .await
        .unwrap();
    let certs = || async {
        acct.iam()
            .list_server_certificates()
            .send()
            .await
            .unwrap()
            .server_certificate_metadata_list()
            .iter()
            .map(|m| m.server_certificate_name().to_string())
            .collect::<Vec<_>>()
    };

    let sel = ["--control", "expired-server-certificates"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["status"], "change");
    assert_eq!(item["reversible"], false);
    assert_eq!(item["destructive"], true);
    assert!(
        item["notes"].to_string().contains("load balancer"),
        "{item}"
    );

    // --yes alone leaves an irreversible change alone and says how to apply it.
    let refused = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert!(
        refused.stdout.contains("skipped")
            && refused
                .stdout
                .contains("cannot be undone; pass --allow-irreversible"),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    assert_eq!(certs().await, vec!["old-web".to_string()]);

    let out = acct.run(&[&["apply", "--yes", "--allow-irreversible"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(certs().await.is_empty());
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);
}

async fn security_contact(acct: &TestAccount) -> Option<(String, String, String, String)> {
    match aws_sdk_account::Client::new(&acct.sdk)
        .get_alternate_contact()
        .alternate_contact_type(aws_sdk_account::types::AlternateContactType::Security)
        .send()
        .await
    {
        Ok(o) => o.alternate_contact().map(|c| {
            (
                c.name().unwrap().to_string(),
                c.title().unwrap().to_string(),
                c.email_address().unwrap().to_string(),
                c.phone_number().unwrap().to_string(),
            )
        }),
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_resource_not_found_exception(), "{e:?}");
            None
        }
    }
}

const CONTACT: &str = r#"security_contact={ name = "Sec Team", title = "CISO", email = "sec@example.com", phone = "+1 555 0100" }"#;

#[tokio::test]
async fn security_contact_is_set_from_the_settings_and_undo_deletes_it() {
    let acct = TestAccount::new().await;
    // No values: the plan says which are missing and how to give them.
    let plan = acct.run(&["plan", "--control", "1.2", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["status"], "manual", "{item}");
    assert!(
        item["summary"]
            .as_str()
            .unwrap()
            .contains("name, title, email, phone"),
        "{item}"
    );
    assert!(item["manual_steps"][0]
        .as_str()
        .unwrap()
        .contains("cis-fix.toml"));

    let sel = ["--control", "security-contact", "--set", CONTACT];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(
        statuses(&plan_json(&plan)),
        vec![("security-contact".into(), None, "change".into())]
    );
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        security_contact(&acct).await,
        Some((
            "Sec Team".into(),
            "CISO".into(),
            "sec@example.com".into(),
            "+1 555 0100".into()
        ))
    );
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(security_contact(&acct).await, None);
}

#[tokio::test]
async fn security_contact_replaced_and_undo_restores_the_old_one() {
    let acct = TestAccount::new().await;
    aws_sdk_account::Client::new(&acct.sdk)
        .put_alternate_contact()
        .alternate_contact_type(aws_sdk_account::types::AlternateContactType::Security)
        .name("Old")
        .title("Admin")
        .email_address("old@example.com")
        .phone_number("+1 555 0199")
        .send()
        .await
        .unwrap();
    let old = security_contact(&acct).await;
    let sel = ["--control", "security-contact", "--set", CONTACT];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let doc = plan_json(&plan);
    assert_eq!(doc["plan"]["items"][0]["destructive"], true);
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        security_contact(&acct).await.unwrap().2,
        "sec@example.com".to_string()
    );
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(security_contact(&acct).await, old);
}

/// moto 5.2.5 has no Access Analyzer (HTTP 500 HTML): each selected region is reported
/// unknown and the plan does not fail. The create/undo logic is covered by unit tests with
/// recorded answers (remediations/src/identity/access_analyzer.rs).
#[tokio::test]
async fn access_analyzer_without_the_emulator_api_is_unknown_per_region() {
    let acct = TestAccount::new().await;
    let plan = acct.run(&[
        "plan",
        "--control",
        "access-analyzer-all-regions",
        "--control",
        "support-role",
        "--regions",
        "eu-west-1,us-east-1",
        "--format",
        "json",
    ]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let mut st = statuses(&plan_json(&plan));
    st.sort();
    assert_eq!(
        st,
        vec![
            (
                "access-analyzer-all-regions".into(),
                Some("eu-west-1".into()),
                "unknown".into()
            ),
            (
                "access-analyzer-all-regions".into(),
                Some("us-east-1".into()),
                "unknown".into()
            ),
            ("support-role".into(), None, "change".into()),
        ]
    );
}
