//! The user-credential controls of the IAM section (v5.0 1.9, 1.11–1.14) against seeded
//! users: the forced-MFA policy end to end (plan → apply → re-read → plan → undo), the
//! lock-out guard when cis-fix runs as a console user without MFA, and the key and policy
//! reports.
//!
//! The emulator cannot backdate (every credential is "now", and the credential report has no
//! real last-used values), so the unused-credential paths of 1.11 run through the recording
//! proxy, which answers GetAccessKeyLastUsed / GetLoginProfile with old dates while every
//! write goes to the emulator. The 45/90-day logic itself is unit-tested on fixtures in
//! `remediations/src/resources/access_keys.rs` and `unused_credentials.rs`.

use aws_sdk_iam::types::StatusType;

use crate::harness::{endpoint, plan_json, Output, TestAccount};
use crate::proxy::{self, Fault, FaultRule};

const MFA: &str = "iam-user-mfa";
const UNUSED: &str = "unused-credentials-disabled";

async fn user(acct: &TestAccount, name: &str) {
    acct.iam()
        .create_user()
        .user_name(name)
        .send()
        .await
        .unwrap();
}

/// A user with a console password.
async fn console_user(acct: &TestAccount, name: &str) {
    user(acct, name).await;
    acct.iam()
        .create_login_profile()
        .user_name(name)
        .password("Correct-Horse-Battery-9")
        .send()
        .await
        .unwrap();
}

/// A user with an active access key; returns (key id, secret).
async fn key_for(acct: &TestAccount, name: &str) -> (String, String) {
    let out = acct
        .iam()
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let k = out.access_key.unwrap();
    (k.access_key_id, k.secret_access_key)
}

/// The binary run as an IAM user of the account (its own access key).
fn run_as(acct: &TestAccount, key: &(String, String), args: &[&str]) -> Output {
    acct.run_as_user(&key.0, &key.1, args)
}

fn policy_arn(acct: &TestAccount) -> String {
    format!("arn:aws:iam::{}:policy/cis-fix/cis-fix-force-mfa", acct.id)
}

/// (status, summary) of the plan item for `target`.
fn item(doc: &serde_json::Value, control: &str, target: &str) -> Option<(String, String)> {
    doc["plan"]["items"].as_array()?.iter().find_map(|i| {
        (i["control"] == control && i["target"] == target).then(|| {
            (
                i["status"].as_str().unwrap().to_string(),
                i["summary"].as_str().unwrap().to_string(),
            )
        })
    })
}

fn status(doc: &serde_json::Value, control: &str, target: &str) -> String {
    item(doc, control, target)
        .unwrap_or_else(|| panic!("no {control} item for {target}: {doc}"))
        .0
}

/// The users the forced-MFA policy is attached to; `None` when the policy does not exist.
async fn policy_users(acct: &TestAccount) -> Option<Vec<String>> {
    // The emulator lists no entities for a missing policy: ask GetPolicy whether it exists.
    if let Err(e) = acct
        .iam()
        .get_policy()
        .policy_arn(policy_arn(acct))
        .send()
        .await
    {
        let e = e.into_service_error();
        assert!(e.is_no_such_entity_exception(), "{e:?}");
        return None;
    }
    let out = acct
        .iam()
        .list_entities_for_policy()
        .policy_arn(policy_arn(acct))
        .send()
        .await;
    match out {
        Ok(o) => {
            let mut u: Vec<String> = o
                .policy_users()
                .iter()
                .filter_map(|u| u.user_name().map(str::to_string))
                .collect();
            u.sort();
            Some(u)
        }
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_no_such_entity_exception(), "{e:?}");
            None
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn forced_mfa_policy_for_console_users_apply_and_undo() {
    let acct = TestAccount::new().await;
    console_user(&acct, "alice").await;
    console_user(&acct, "bob").await;
    user(&acct, "svc").await;
    // bob has MFA already.
    let dev = acct
        .iam()
        .create_virtual_mfa_device()
        .virtual_mfa_device_name("bob")
        .send()
        .await
        .unwrap();
    acct.iam()
        .enable_mfa_device()
        .user_name("bob")
        .serial_number(dev.virtual_mfa_device.unwrap().serial_number)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();

    let sel = ["--control", MFA];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let (st, summary) = item(&doc, MFA, "user alice").unwrap();
    assert_eq!(st, "change");
    assert!(summary.contains("cis-fix-force-mfa"), "{summary}");
    assert_eq!(status(&doc, MFA, "user bob"), "compliant");
    assert!(
        item(&doc, MFA, "user svc").is_none(),
        "no console: not listed"
    );
    // The text diff names the affected user.
    let text = acct.run(&[&["plan"][..], &sel].concat());
    assert!(text.stdout.contains("alice"), "{}", text.stdout);

    // The plan takes the credential report's word for alice (console, no MFA); apply
    // confirms her live, alone, before it writes.
    let proxy = proxy::start(&endpoint());
    let me = acct.creds.access_key_id();
    let out = acct.run_via(&proxy.url, &[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        proxy.count(me, "GetLoginProfile") >= 1 && proxy.count(me, "ListMFADevices") >= 1,
        "apply re-reads the user live before attaching"
    );
    assert_eq!(policy_users(&acct).await, Some(vec!["alice".to_string()]));
    let pol = acct
        .iam()
        .get_policy()
        .policy_arn(policy_arn(&acct))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let version = acct
        .iam()
        .get_policy_version()
        .policy_arn(policy_arn(&acct))
        .version_id(pol.default_version_id.unwrap())
        .send()
        .await
        .unwrap()
        .policy_version
        .unwrap();
    let text = percent_decode(&version.document.unwrap());
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let deny = doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Effect"] == "Deny")
        .expect("a Deny statement");
    assert_eq!(
        deny["Condition"]["BoolIfExists"]["aws:MultiFactorAuthPresent"],
        "false"
    );
    assert!(deny["NotAction"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("sts:GetSessionToken")));

    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);
    let second = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(second.code, 0);
    assert!(
        second.stdout.contains("Nothing to apply"),
        "{}",
        second.stdout
    );

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(policy_users(&acct).await, None, "detached and deleted");
}

#[tokio::test]
async fn forced_mfa_through_a_group() {
    let acct = TestAccount::new().await;
    console_user(&acct, "alice").await;
    console_user(&acct, "dave").await;
    let sel = ["--control", MFA, "--set", "mfa_group=cis-mfa"];
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let g = acct
        .iam()
        .get_group()
        .group_name("cis-mfa")
        .send()
        .await
        .unwrap();
    let mut members: Vec<&str> = g.users().iter().map(|u| u.user_name()).collect();
    members.sort();
    assert_eq!(members, ["alice", "dave"]);
    assert_eq!(g.group.unwrap().path, "/cis-fix/");
    let attached = acct
        .iam()
        .list_attached_group_policies()
        .group_name("cis-mfa")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(policy_arn(&acct).as_str())
    );
    assert_eq!(policy_users(&acct).await, Some(vec![]), "not on the users");
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    let gone = acct.iam().get_group().group_name("cis-mfa").send().await;
    assert!(gone.is_err(), "the group cis-fix created is deleted");
    assert_eq!(policy_users(&acct).await, None);
}

#[tokio::test]
async fn the_caller_is_not_locked_out_unless_included() {
    let acct = TestAccount::new().await;
    console_user(&acct, "ops").await;
    console_user(&acct, "dave").await;
    let key = key_for(&acct, "ops").await;
    let sel = ["--control", MFA];

    let plan = run_as(
        &acct,
        &key,
        &[&["plan", "--format", "json"][..], &sel].concat(),
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    assert_eq!(
        doc["plan"]["account"]["caller_arn"],
        format!("arn:aws:iam::{}:user/ops", acct.id),
        "runs as the console user"
    );
    let (st, summary) = item(&doc, MFA, "user ops").unwrap();
    assert_eq!(st, "skipped");
    assert!(summary.contains("WARNING"), "{summary}");
    assert!(summary.contains("include_caller"), "{summary}");
    assert_eq!(status(&doc, MFA, "user dave"), "change");

    let out = run_as(&acct, &key, &[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(policy_users(&acct).await, Some(vec!["dave".to_string()]));

    // Included on request. Its access key is in use (calls without MFA would be denied), so
    // --yes alone still skips it.
    let incl = [&sel[..], &["--set", "include_caller=true"]].concat();
    let plan = run_as(
        &acct,
        &key,
        &[&["plan", "--format", "json"][..], &incl].concat(),
    );
    assert_eq!(status(&plan_json(&plan), MFA, "user ops"), "change");
    let out = run_as(&acct, &key, &[&["apply", "--yes"][..], &incl].concat());
    assert!(out.stdout.contains("--force-in-use"), "{}", out.stdout);
    assert_eq!(policy_users(&acct).await, Some(vec!["dave".to_string()]));
    let out = run_as(
        &acct,
        &key,
        &[&["apply", "--yes", "--force-in-use"][..], &incl].concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        policy_users(&acct).await,
        Some(vec!["dave".to_string(), "ops".to_string()])
    );
}

const OLD_LOGIN_PROFILE: &str = "<GetLoginProfileResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetLoginProfileResult><LoginProfile><UserName>carol</UserName><CreateDate>2020-01-01T00:00:00Z</CreateDate><PasswordResetRequired>false</PasswordResetRequired></LoginProfile></GetLoginProfileResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetLoginProfileResponse>";

#[tokio::test]
async fn unused_console_password_is_deleted_only_with_allow_irreversible() {
    let acct = TestAccount::new().await;
    console_user(&acct, "carol").await;
    let sel = ["--control", UNUSED];
    // Fresh credentials are in use: nothing to do.
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let doc = plan_json(&plan);
    assert_eq!(
        status(&doc, UNUSED, "console password of user carol"),
        "compliant"
    );

    // The proxy makes the password look set in 2020 and never used (the emulator has no
    // last-use data), in the credential report and in IAM's own answer. The report alone
    // settles only passwords in use or set recently: this one is read from IAM, one faked
    // read per run (the plan, and the re-read before the write).
    let proxy = proxy::start(&endpoint());
    proxy.inject(FaultRule::new(
        "GetCredentialReport",
        None,
        Fault::FakeOk(report_with_old_password("carol")),
        None,
    ));
    proxy.inject(FaultRule::new(
        "GetLoginProfile",
        None,
        Fault::FakeOk(OLD_LOGIN_PROFILE),
        Some(1),
    ));
    let out = acct.run_via(&proxy.url, &[&["apply", "--yes"][..], &sel].concat());
    assert!(
        out.stdout
            .contains("cannot be undone; destructive and high risk; pass --allow-irreversible and --allow-destructive"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("IRREVERSIBLE"), "{}", out.stdout);
    assert!(out.stdout.contains("Nothing approved"), "{}", out.stdout);
    assert_eq!(out.code, 4, "refused: {}\n{}", out.stdout, out.stderr);
    acct.iam()
        .get_login_profile()
        .user_name("carol")
        .send()
        .await
        .expect("still there");

    proxy.inject(FaultRule::new(
        "GetLoginProfile",
        None,
        Fault::FakeOk(OLD_LOGIN_PROFILE),
        Some(2),
    ));
    let out = acct.run_via(
        &proxy.url,
        &[
            &[
                "apply",
                "--yes",
                "--allow-irreversible",
                "--allow-destructive",
            ][..],
            &sel,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let gone = acct
        .iam()
        .get_login_profile()
        .user_name("carol")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_no_such_entity_exception(), "{gone:?}");
}

const OLD_KEY_USE: &str = "<GetAccessKeyLastUsedResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetAccessKeyLastUsedResult><UserName>erin</UserName><AccessKeyLastUsed><LastUsedDate>2020-01-01T00:00:00Z</LastUsedDate><ServiceName>s3</ServiceName><Region>us-east-1</Region></AccessKeyLastUsed></GetAccessKeyLastUsedResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetAccessKeyLastUsedResponse>";

#[tokio::test]
async fn unused_access_key_is_deactivated_and_undo_reactivates_it() {
    let acct = TestAccount::new().await;
    user(&acct, "erin").await;
    let (key, _) = key_for(&acct, "erin").await;
    let target = format!("access key {key} of user erin");
    let sel = ["--control", UNUSED];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    // A key issued today is not unused: the credential report settles it, and its id is not
    // even asked for.
    let (st, summary) = item(&plan_json(&plan), UNUSED, "access keys of user erin").unwrap();
    assert_eq!(st, "compliant", "a key issued today is not unused");
    assert!(summary.contains("1 key, 1 active"), "{summary}");

    // The proxy reports the key issued 400 days ago and last used in 2020 (the emulator
    // only knows "today" and "never").
    let proxy = proxy::start(&endpoint());
    proxy.inject(FaultRule::new(
        "GetCredentialReport",
        None,
        Fault::FakeOk(report_with_old_key("erin", 400)),
        None,
    ));
    proxy.inject(FaultRule::new(
        "GetAccessKeyLastUsed",
        None,
        Fault::FakeOk(OLD_KEY_USE),
        None,
    ));
    let plan = acct.run_via(
        &proxy.url,
        &[&["plan", "--format", "json"][..], &sel].concat(),
    );
    let (st, summary) = item(&plan_json(&plan), UNUSED, &target).unwrap();
    assert_eq!(st, "change");
    assert!(summary.contains("last used"), "{summary}");
    let out = acct.run_via(&proxy.url, &[&["apply", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(key_status(&acct, "erin").await, StatusType::Inactive);
    let again = acct.run_via(
        &proxy.url,
        &[&["plan", "--detailed-exitcode"][..], &sel].concat(),
    );
    assert_eq!(again.code, 0, "{}", again.stdout);
    let undo = acct.run_via(&proxy.url, &["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(key_status(&acct, "erin").await, StatusType::Active);
}

async fn key_status(acct: &TestAccount, user: &str) -> StatusType {
    acct.iam()
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata()[0]
        .status()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn second_active_key_is_retired_only_on_explicit_request() {
    let acct = TestAccount::new().await;
    user(&acct, "frank").await;
    let (k1, _) = key_for(&acct, "frank").await;
    let (k2, _) = key_for(&acct, "frank").await;
    let sel = ["--control", "one-active-access-key"];
    let plan = acct.run(&[&["plan", "--format", "json"][..], &sel].concat());
    let doc = plan_json(&plan);
    let items: Vec<&serde_json::Value> = doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "change")
        .collect();
    assert_eq!(items.len(), 1, "{doc}");
    let retire = items[0]["target"].as_str().unwrap().to_string();
    assert!(
        retire == format!("access key {k1} of user frank")
            || retire == format!("access key {k2} of user frank"),
        "{retire}"
    );
    assert!(
        items[0]["summary"].as_str().unwrap().contains("keep"),
        "{doc}"
    );
    assert!(!items[0]["in_use"].as_array().unwrap().is_empty());

    // --yes alone skips it.
    let out = acct.run(&[&["apply", "--yes"][..], &sel].concat());
    assert!(out.stdout.contains("--force-in-use"), "{}", out.stdout);
    let active = |keys: &[aws_sdk_iam::types::AccessKeyMetadata]| {
        keys.iter()
            .filter(|k| k.status() == Some(&StatusType::Active))
            .count()
    };
    let list = || async {
        acct.iam()
            .list_access_keys()
            .user_name("frank")
            .send()
            .await
            .unwrap()
            .access_key_metadata
    };
    assert_eq!(active(&list().await), 2);

    let out = acct.run(&[&["apply", "--yes", "--force-in-use"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let keys = list().await;
    assert_eq!(active(&keys), 1);
    let retired = keys
        .iter()
        .find(|k| k.status() == Some(&StatusType::Inactive))
        .unwrap();
    assert!(retire.contains(retired.access_key_id().unwrap()));
    let again = acct.run(&[&["plan", "--detailed-exitcode"][..], &sel].concat());
    assert_eq!(again.code, 0, "{}", again.stdout);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(active(&list().await), 2);
}

#[tokio::test]
async fn key_age_and_user_policies_are_reported() {
    let acct = TestAccount::new().await;
    let iam = acct.iam();
    user(&acct, "gina").await;
    let (key, _) = key_for(&acct, "gina").await;
    iam.put_user_policy()
        .user_name("gina")
        .policy_name("extra-s3")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let pol = iam
        .create_policy()
        .policy_name("team-read")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    iam.attach_user_policy()
        .user_name("gina")
        .policy_arn(pol.arn.unwrap())
        .send()
        .await
        .unwrap();
    user(&acct, "hank").await;

    let plan = acct.run(&[
        "plan",
        "--control",
        "access-key-rotation",
        "--control",
        "iam-permissions-via-groups",
        "--format",
        "json",
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    // Gina's one key was issued today: the credential report settles it for the user.
    let _ = key;
    let (st, summary) = item(&doc, "access-key-rotation", "access keys of user gina").unwrap();
    assert_eq!(st, "compliant");
    assert!(summary.starts_with("1 key, 1 active"), "{summary}");
    let (st, summary) = item(&doc, "iam-permissions-via-groups", "user gina").unwrap();
    assert_eq!(st, "manual");
    assert!(summary.contains("attached: team-read"), "{summary}");
    assert!(summary.contains("inline: extra-s3"), "{summary}");
    assert_eq!(
        status(&doc, "iam-permissions-via-groups", "user hank"),
        "compliant"
    );
}

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// A GetCredentialReport answer with these CSV rows (the emulator cannot backdate).
fn fake_report(rows: &str) -> &'static str {
    Box::leak(
        format!(
            "<GetCredentialReportResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetCredentialReportResult><Content>{}</Content><ReportFormat>text/csv</ReportFormat><GeneratedTime>2026-01-01T00:00:00Z</GeneratedTime></GetCredentialReportResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCredentialReportResponse>",
            aws_smithy_types::base64::encode(format!("{REPORT_HEADER}\n{rows}"))
        )
        .into_boxed_str(),
    )
}

/// A GetCredentialReport answer in which `user`'s one active key was issued `days` ago. The
/// emulator cannot backdate, and the report decides whose keys are read key by key: a user
/// whose keys are all young is settled from it.
fn report_with_old_key(user: &str, days: i64) -> &'static str {
    let when = (time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    fake_report(&format!(
        "{user},arn:aws:iam::123456789012:user/{user},{when},false,not_supported,N/A,N/A,false,true,{when},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    ))
}

/// A GetCredentialReport answer in which `user`'s console password was set in 2020 and never
/// used (no MFA, no keys): the report alone cannot call it in use.
fn report_with_old_password(user: &str) -> &'static str {
    fake_report(&format!(
        "{user},arn:aws:iam::123456789012:user/{user},2020-01-01T00:00:00+00:00,true,no_information,2020-01-01T00:00:00+00:00,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
    ))
}

/// A GetAccessKeyLastUsed answer for `user` with a last use `days` ago.
fn key_used_days_ago(user: &str, days: i64) -> &'static str {
    let when = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    let when = when
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    Box::leak(
        format!(
            "<GetAccessKeyLastUsedResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetAccessKeyLastUsedResult><UserName>{user}</UserName><AccessKeyLastUsed><LastUsedDate>{when}</LastUsedDate><ServiceName>ec2</ServiceName><Region>eu-west-1</Region></AccessKeyLastUsed></GetAccessKeyLastUsedResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetAccessKeyLastUsedResponse>"
        )
        .into_boxed_str(),
    )
}

#[tokio::test]
async fn benchmark_1_2_counts_90_days_unused_not_45() {
    let acct = TestAccount::new().await;
    user(&acct, "ivan").await;
    let (key, _) = key_for(&acct, "ivan").await;
    let target = format!("access key {key} of user ivan");
    let proxy = proxy::start(&endpoint());
    proxy.inject(FaultRule::new(
        "GetCredentialReport",
        None,
        Fault::FakeOk(report_with_old_key("ivan", 100)),
        None,
    ));
    proxy.inject(FaultRule::new(
        "GetAccessKeyLastUsed",
        None,
        Fault::FakeOk(key_used_days_ago("ivan", 60)),
        None,
    ));
    let v5 = acct.run_via(
        &proxy.url,
        &["plan", "--control", UNUSED, "--format", "json"],
    );
    let (st, summary) = item(&plan_json(&v5), UNUSED, &target).unwrap();
    assert_eq!(st, "change", "60 days unused fails 5.0's 45 days");
    assert!(summary.contains("last used 60 days ago"), "{summary}");
    // CIS 1.2.0 numbers it 1.3 and allows 90 days.
    let v12 = acct.run_via(
        &proxy.url,
        &[
            "plan",
            "--benchmark",
            "1.2",
            "--control",
            "1.3",
            "--format",
            "json",
        ],
    );
    assert_eq!(v12.code, 0, "{}", v12.stderr);
    let (st, summary) = item(&plan_json(&v12), UNUSED, &target).unwrap();
    assert_eq!(st, "compliant", "{summary}");
}

#[tokio::test]
async fn the_five_controls_read_each_user_once_per_plan() {
    let acct = TestAccount::new().await;
    console_user(&acct, "judy").await;
    key_for(&acct, "judy").await;
    user(&acct, "kim").await;
    key_for(&acct, "kim").await;
    key_for(&acct, "kim").await;
    let proxy = proxy::start(&endpoint());
    let out = acct.run_via(
        &proxy.url,
        &[
            "plan",
            "--control",
            "1.9",
            "--control",
            "1.11",
            "--control",
            "1.12",
            "--control",
            "1.13",
            "--control",
            "1.14",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let me = acct.creds.access_key_id();
    assert_eq!(proxy.count(me, "ListUsers"), 1);
    // Kim's two active keys are a change for 1.13, so they are read: once for the five
    // controls. Judy's one young key is settled by the credential report, for the key
    // controls and for 1.9 alike (its change counts her active key as in use; apply reads
    // its id when it re-reads her).
    assert_eq!(proxy.count(me, "ListAccessKeys"), 1, "kim only");
    // Which of kim's keys to keep: the plan takes their use from the report too (apply
    // asks IAM live: speed::a_plan_takes_key_use_from_the_credential_report_and_apply_asks_iam).
    assert_eq!(proxy.count(me, "GetAccessKeyLastUsed"), 0);
    // The credential report settles kim (no password) and judy (a console user without MFA:
    // the plan takes the report's word; apply confirms her live before it writes).
    assert_eq!(proxy.count(me, "GetLoginProfile"), 0);
    assert_eq!(proxy.count(me, "ListMFADevices"), 0);
    assert_eq!(proxy.count(me, "GetCredentialReport"), 1);
    // Attachments, inline policies and groups come from one bulk read, not per user.
    assert_eq!(proxy.count(me, "GetAccountAuthorizationDetails"), 1);
    for per_user in [
        "ListAttachedUserPolicies",
        "ListUserPolicies",
        "ListGroupsForUser",
    ] {
        assert_eq!(proxy.count(me, per_user), 0, "{per_user}");
    }
}

/// Calls per user before and after the bulk reads: a plan of the identity controls over 12
/// users (a third with console passwords, keys on most) makes a fixed number of account-wide
/// calls plus one `ListAccessKeys` per user whose keys a key control may act on.
#[tokio::test]
async fn identity_reads_per_user_are_bounded_by_what_the_bulk_reads_do_not_carry() {
    let acct = TestAccount::new().await;
    for i in 0..12 {
        let name = format!("u{i:02}");
        if i % 3 == 0 {
            console_user(&acct, &name).await;
        } else {
            user(&acct, &name).await;
        }
        if i % 4 != 3 {
            key_for(&acct, &name).await;
        }
        if i % 4 == 0 {
            key_for(&acct, &name).await;
        }
    }
    let proxy = proxy::start(&endpoint());
    let out = acct.run_via(&proxy.url, &["plan", "--section", "1", "--format", "json"]);
    assert!(
        out.code == 0 || out.code == 2,
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let me = acct.creds.access_key_id();
    // The three users with two active keys (1.13 acts on them); the others' young keys, and
    // the console users without MFA (1.9), are settled by the credential report: apply
    // confirms a user live, alone, before it writes.
    assert_eq!(
        proxy.count(me, "ListAccessKeys"),
        3,
        "users a key control may act on only"
    );
    assert_eq!(proxy.count(me, "GetLoginProfile"), 0);
    assert_eq!(proxy.count(me, "ListMFADevices"), 0);
    let per_user_ops = [
        "ListAttachedUserPolicies",
        "ListUserPolicies",
        "ListGroupsForUser",
        "GetUser",
    ];
    for op in per_user_ops {
        assert_eq!(proxy.count(me, op), 0, "{op}");
    }
}
