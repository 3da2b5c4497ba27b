//! Exceptions and Security Hub, the parts added after the first delivery of issue #16: flags
//! that conflict with a saved plan or with the account fan-out are refused before any AWS
//! call; exception tags on buckets and IAM users/roles; `ou = …` entries; and the guide's
//! "add an exception" answer.

use std::path::{Path, PathBuf};

use crate::harness::{endpoint, plan_json, TestAccount};
use crate::proxy;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ops(p: &proxy::Recorder, acct: &TestAccount) -> Vec<String> {
    p.calls_by(acct.creds.access_key_id())
        .iter()
        .map(|c| c.operation.clone())
        .collect()
}

/// `apply FILE --from-security-hub`: a saved plan is applied exactly as it reads, so a flag
/// that would reselect controls is refused; `plan --import-to-security-hub` with the account
/// flags is refused too (the import is per account: run it per account). Both one line, exit
/// 1, and not one request sent.
#[tokio::test]
async fn flags_that_conflict_are_refused_before_any_aws_call() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("plan.json");
    let out = acct.run(&[
        "plan",
        "--control",
        "ebs-default-encryption",
        "--regions",
        "eu-west-1",
        "-o",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let p = proxy::start(&endpoint());
    for yes in [&[][..], &["--yes"][..]] {
        let args = [
            &["apply", saved.to_str().unwrap(), "--from-security-hub"][..],
            yes,
        ]
        .concat();
        acct.run_via(&p.url, &args)
            .assert_one_line_error(1, "--from-security-hub selects controls when planning");
    }
    for accounts in [
        &["--org"][..],
        &["--ou", "ou-abcd-12345678"][..],
        &["--accounts", "111111111111,222222222222"][..],
    ] {
        let args = [&["plan", "--import-to-security-hub"][..], accounts].concat();
        let out = acct.run_via(&p.url, &args);
        out.assert_one_line_error(1, "--import-to-security-hub works on one account");
        assert!(out.stderr.contains("run it per account"), "{}", out.stderr);
    }
    assert!(
        ops(&p, &acct).is_empty(),
        "no AWS call: {:?}",
        ops(&p, &acct)
    );
}

const FULL_ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["*"],"Resource":"*"}}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TAG: &str = "cis-fix:exception";

/// (target → status) of one control's items.
fn statuses_of(
    doc: &serde_json::Value,
    control: &str,
) -> std::collections::BTreeMap<String, String> {
    doc["plan"]["items"]
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
        .collect()
}

fn item<'a>(doc: &'a serde_json::Value, control: &str, target: &str) -> &'a serde_json::Value {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["control"] == control && i["target"] == target)
        .unwrap_or_else(|| panic!("no item {control} {target} in {doc}"))
}

async fn bucket_policy(acct: &TestAccount, bucket: &str) -> Option<String> {
    match acct
        .s3(crate::harness::REGION)
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(o) => o.policy,
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).map(str::to_string);
            assert_eq!(code.as_deref(), Some("NoSuchBucketPolicy"), "{e:?}");
            None
        }
    }
}

async fn tag_bucket(acct: &TestAccount, bucket: &str, tags: &[(&str, &str)]) {
    use aws_sdk_s3::types::{Tag, Tagging};
    let mut t = Tagging::builder();
    for (k, v) in tags {
        t = t.tag_set(Tag::builder().key(*k).value(*v).build().unwrap());
    }
    acct.s3(crate::harness::REGION)
        .put_bucket_tagging()
        .bucket(bucket)
        .tagging(t.build().unwrap())
        .send()
        .await
        .unwrap();
}

/// Who FullAdmin is attached to, as `kind name`, sorted.
async fn full_admin_holders(acct: &TestAccount, arn: &str) -> Vec<String> {
    let o = acct
        .iam()
        .list_entities_for_policy()
        .policy_arn(arn)
        .send()
        .await
        .unwrap();
    let mut v: Vec<String> = o
        .policy_users()
        .iter()
        .map(|u| format!("user {}", u.user_name().unwrap()))
        .chain(
            o.policy_roles()
                .iter()
                .map(|r| format!("role {}", r.role_name().unwrap())),
        )
        .collect();
    v.sort();
    v
}

/// Buckets and IAM users/roles carry their tags into the plan: the exception tag excepts
/// them, a file entry's `tag = …` matches them, `apply --yes` leaves them as they were (the
/// bucket policy and the attachments re-read), and each bucket's tags are read once.
#[tokio::test]
async fn exception_tags_on_buckets_and_iam_principals() {
    use aws_sdk_iam::types::Tag;
    let acct = TestAccount::new().await;
    let region = crate::harness::REGION;
    let kept = acct.create_bucket(region, "website").await;
    let team = acct.create_bucket(region, "team-web").await;
    let plain = acct.create_bucket(region, "plain").await;
    tag_bucket(&acct, &kept, &[(TAG, "public website; until=2099-01-01")]).await;
    tag_bucket(&acct, &team, &[("team", "web-frontend")]).await;

    let iam = acct.iam();
    let full = iam
        .create_policy()
        .policy_name("FullAdmin")
        .policy_document(FULL_ADMIN)
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    let vendor_tag = Tag::builder()
        .key(TAG)
        .value("vendor integration")
        .build()
        .unwrap();
    iam.create_user()
        .user_name("vendor")
        .tags(vendor_tag.clone())
        .send()
        .await
        .unwrap();
    iam.create_user().user_name("dev").send().await.unwrap();
    iam.create_role()
        .role_name("legacy-app")
        .assume_role_policy_document(TRUST)
        .tags(vendor_tag)
        .send()
        .await
        .unwrap();
    for u in ["vendor", "dev"] {
        iam.attach_user_policy()
            .user_name(u)
            .policy_arn(&full)
            .send()
            .await
            .unwrap();
    }
    iam.attach_role_policy()
        .role_name("legacy-app")
        .policy_arn(&full)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "x.toml",
        "[[exception]]\ncontrol = \"s3-deny-http\"\ntag = \"team=web-*\"\nreason = \"the web team's buckets\"\nowner = \"web-team\"\nexpires = 2099-12-31\n",
    );
    let sel = [
        "--control",
        "s3-deny-http",
        "--control",
        "s3-block-public-access",
        "--control",
        "no-full-admin-policies",
        "--control",
        "iam-permissions-via-groups",
        "--exceptions",
        file.to_str().unwrap(),
    ];
    let p = proxy::start(&endpoint());
    let out = acct.run_via(&p.url, &[&["plan", "--format", "json"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let doc = plan_json(&out);

    let http = statuses_of(&doc, "s3-deny-http");
    assert_eq!(http[&format!("bucket {kept}")], "excepted", "{http:?}");
    assert_eq!(http[&format!("bucket {team}")], "excepted", "{http:?}");
    assert_eq!(http[&format!("bucket {plain}")], "change", "{http:?}");
    let by_tag = item(&doc, "s3-deny-http", &format!("bucket {kept}"));
    assert_eq!(by_tag["exception"]["reason"], "public website", "{by_tag}");
    assert_eq!(by_tag["exception"]["expires"], "2099-01-01");
    assert_eq!(by_tag["exception"]["source"], format!("tag {TAG}"));
    let by_file = item(&doc, "s3-deny-http", &format!("bucket {team}"));
    assert_eq!(by_file["exception"]["owner"], "web-team", "{by_file}");
    let pab = statuses_of(&doc, "s3-block-public-access");
    assert_eq!(pab[&format!("bucket {kept}")], "excepted", "{pab:?}");
    // The file's entry names s3-deny-http only.
    assert_eq!(pab[&format!("bucket {team}")], "change", "{pab:?}");

    let admin = statuses_of(&doc, "no-full-admin-policies");
    assert_eq!(
        admin["FullAdmin attached to user vendor"], "excepted",
        "{admin:?}"
    );
    assert_eq!(
        admin["FullAdmin attached to role legacy-app"], "excepted",
        "{admin:?}"
    );
    assert_eq!(
        admin["FullAdmin attached to user dev"], "change",
        "{admin:?}"
    );
    let groups = statuses_of(&doc, "iam-permissions-via-groups");
    assert_eq!(groups["user vendor"], "excepted", "{groups:?}");
    assert_eq!(groups["user dev"], "manual", "{groups:?}");

    // Each bucket's tags once in the run, though two controls judge it.
    let calls = p.calls_by(acct.creds.access_key_id());
    for b in [&kept, &team, &plain] {
        let n = calls
            .iter()
            .filter(|c| c.path.starts_with(&format!("/{b}")) && c.path.contains("tagging"))
            .count();
        assert_eq!(n, 1, "GetBucketTagging for {b}: {n}");
    }

    let out = acct.run(
        &[
            &["apply", "--yes", "--allow-destructive", "--force-in-use"][..],
            &sel,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        bucket_policy(&acct, &kept).await.is_none(),
        "tagged bucket untouched"
    );
    assert!(
        bucket_policy(&acct, &team).await.is_none(),
        "bucket of the file's entry untouched"
    );
    assert!(
        bucket_policy(&acct, &plain).await.is_some(),
        "the other bucket is fixed"
    );
    let s3 = acct.s3(region);
    assert!(
        s3.get_public_access_block()
            .bucket(&kept)
            .send()
            .await
            .is_err(),
        "tagged bucket has no Block Public Access still"
    );
    assert!(s3
        .get_public_access_block()
        .bucket(&plain)
        .send()
        .await
        .is_ok());
    assert_eq!(
        full_admin_holders(&acct, &full).await,
        ["role legacy-app", "user vendor"],
        "the tagged user and role keep the policy; dev lost it"
    );
}

/// An organization under `mgmt`: root → OU keep → OU inner (member A), root → OU other
/// (member B). Returns (keep, inner, other, A, B).
async fn small_org(mgmt: &TestAccount) -> (String, String, String, String, String) {
    let org = aws_sdk_organizations::Client::new(&mgmt.sdk);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_string();
    let ou = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            org.create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .unwrap()
                .organizational_unit()
                .unwrap()
                .id()
                .unwrap()
                .to_string()
        }
    };
    let keep = ou(root.clone(), "keep").await;
    let inner = ou(keep.clone(), "inner").await;
    let other = ou(root.clone(), "other").await;
    let mut members = Vec::new();
    for (i, dest) in [&inner, &other].into_iter().enumerate() {
        let id = crate::organizations::create_member(&org, &format!("member{i}")).await;
        crate::organizations::move_member(&org, &id, &root, dest).await;
        members.push(id);
    }
    (keep, inner, other, members[0].clone(), members[1].clone())
}

/// The member's credentials, through OrganizationAccountAccessRole.
async fn member_creds(mgmt: &TestAccount, member: &str) -> aws_sdk_sts::types::Credentials {
    aws_sdk_sts::Client::new(&mgmt.sdk)
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("cis-fix-test-member")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap()
}

/// The member's EBS default encryption in eu-west-1, re-read.
async fn member_ebs_default(mgmt: &TestAccount, member: &str) -> bool {
    let c = member_creds(mgmt, member).await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "member",
        ))
        .load()
        .await;
    aws_sdk_ec2::Client::new(&sdk)
        .get_ebs_encryption_by_default()
        .send()
        .await
        .unwrap()
        .ebs_encryption_by_default()
        .unwrap_or(false)
}

/// cis-fix run with `member`'s own credentials (through OrganizationAccountAccessRole).
async fn run_as_member(mgmt: &TestAccount, member: &str, args: &[&str]) -> crate::harness::Output {
    let c = member_creds(mgmt, member).await;
    let mut cmd = crate::harness::base_command();
    cmd.env("AWS_ACCESS_KEY_ID", c.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", c.secret_access_key())
        .env("AWS_SESSION_TOKEN", c.session_token())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("CIS_FIX_STATE_DIR", mgmt.state_dir());
    crate::harness::run(cmd, args)
}

fn account_plan<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    &doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == id)
        .unwrap_or_else(|| panic!("account {id} not in {doc}"))["plan"]["plan"]
}

fn ebs_status(plan: &serde_json::Value) -> String {
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["control"] == "ebs-default-encryption")
        .unwrap_or_else(|| panic!("no ebs item in {plan}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `ou = …` excepts the accounts under that OU at any depth and no other; where the
/// account's OUs cannot be read (a member account cannot call ListParents) the entry matches
/// nothing and the plan says so once; a malformed OU id is a one-line error before any call.
#[tokio::test]
async fn ou_entries_except_the_accounts_under_the_ou() {
    let mgmt = TestAccount::new().await;
    let (keep, _inner, other, a, b) = small_org(&mgmt).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ou.toml",
        &format!(
            "[[exception]]\nou = \"{keep}\"\ncontrol = \"ebs-default-encryption\"\nreason = \"sandbox OU\"\nowner = \"platform\"\nexpires = 2099-12-31\n"
        ),
    );
    let f = file.to_str().unwrap();
    let sel = [
        "-c",
        "ebs-default-encryption",
        "--regions",
        "eu-west-1",
        "--exceptions",
        f,
    ];

    let out = mgmt.run(&[&["plan", "--org", "--format", "json"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        ebs_status(account_plan(&doc, &a)),
        "excepted",
        "A is under keep/inner"
    );
    assert_eq!(
        ebs_status(account_plan(&doc, &b)),
        "change",
        "B is under another OU"
    );
    assert_eq!(
        ebs_status(account_plan(&doc, &mgmt.id)),
        "change",
        "the management account is in the root"
    );
    let ex = &account_plan(&doc, &a)["items"][0]["exception"];
    assert_eq!(ex["reason"], "sandbox OU", "{ex}");
    assert!(account_plan(&doc, &a)["exceptions"]["ou_unknown"].is_null());

    // --ou narrows the run, the ancestry still reaches above it.
    let out = mgmt.run(&[&["plan", "--ou", &other, "--format", "json"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(ebs_status(account_plan(&doc, &b)), "change");

    // apply --org --yes leaves the excepted account as it was and fixes the other (re-read).
    let out = mgmt.run(&[&["apply", "--org", "--yes"][..], &sel].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !member_ebs_default(&mgmt, &a).await,
        "A is excepted: untouched"
    );
    assert!(member_ebs_default(&mgmt, &b).await, "B is fixed");

    // A member account on its own cannot read its OUs: not excepted, and said once.
    let out = run_as_member(&mgmt, &a, &[&["plan"][..], &sel].concat()).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(
        all.matches("exceptions naming an OU (ou = ...) match nothing in account")
            .count(),
        1,
        "{all}"
    );
    let out = run_as_member(
        &mgmt,
        &a,
        &[&["plan", "--format", "json"][..], &sel].concat(),
    )
    .await;
    let doc = plan_json(&out);
    assert_eq!(ebs_status(&doc["plan"]), "change");
    assert!(
        doc["plan"]["exceptions"]["ou_unknown"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{doc}"
    );

    // A malformed OU id: one line naming the file and line, before any call.
    let p = proxy::start(&endpoint());
    let bad = write(
        dir.path(),
        "bad-ou.toml",
        "\n[[exception]]\nou = \"ou-AB\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2099-01-01\n",
    );
    let out = mgmt.run_via(&p.url, &["plan", "--exceptions", bad.to_str().unwrap()]);
    out.assert_one_line_error(1, "bad-ou.toml:2: exception 1: ou: 'ou-AB' is not an OU id");
    assert!(ops(&p, &mgmt).is_empty(), "{:?}", ops(&p, &mgmt));
}

/// The guide's "add an exception": asked reason, owner and expiry (the default 90 days
/// ahead), shown the entry, it appends it to the exceptions file in use (the existing entry
/// kept byte for byte), leaves the control as it is for the session, and `plan` reads the
/// file back and excepts the same target.
#[tokio::test]
async fn guide_adds_an_exception_to_the_file_in_use() {
    use crate::harness::REGION;
    use crate::tmux::Tmux;
    let acct = TestAccount::new().await;
    assert!(!acct.ebs_default(REGION).await);
    let workdir = tempfile::tempdir().unwrap();
    let existing = "# kept by hand\n[[exception]]\naccount = \"000000000001\"\ncontrol = \"1.8\"\nreason = \"other account\"\nowner = \"someone\"\nexpires = 2099-01-01\n";
    let file = write(workdir.path(), "cis-fix-exceptions.toml", existing);
    let bin = env!("CARGO_BIN_EXE_cis-fix");
    let env = format!(
        "env -i PATH=/usr/bin:/bin HOME=/tmp TERM=xterm AWS_REGION={REGION} AWS_ENDPOINT_URL='{}' \
         AWS_ACCESS_KEY_ID='{}' AWS_SECRET_ACCESS_KEY='{}' AWS_SESSION_TOKEN='{}' AWS_MAX_ATTEMPTS=1 \
         AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true \
         CIS_FIX_STATE_DIR='{}'",
        endpoint(),
        acct.creds.access_key_id(),
        acct.creds.secret_access_key(),
        acct.creds.session_token().unwrap_or_default(),
        acct.state_dir().display()
    );
    let cmd = format!(
        "cd '{}' && {env} {bin} guide -c 5.1.1 --regions {REGION}; echo GUIDE_EXIT=$?; sleep 60",
        workdir.path().display()
    );
    let t = Tmux::start(&format!("cis-fix-guide-exc-{}", acct.id), &cmd);
    let s = t.wait_for("What now?", 1);
    assert!(s.contains("add an exception"), "{s}");
    t.keys(&["Down", "Down", "Down", "Down", "Down", "Enter"]);
    t.wait_for("Reason (why it stays as it is)", 1);
    t.keys(&["sandbox account, \"no data\"", "Enter"]);
    t.wait_for("Owner (who answers for it)", 1);
    // An empty owner is asked again.
    t.keys(&["Enter"]);
    t.wait_for("an answer is needed", 1);
    t.keys(&["platform-team", "Enter"]);
    t.wait_for("Expires (YYYY-MM-DD, or permanent)", 1);
    let expiry = time::OffsetDateTime::now_utc().date() + time::Duration::days(90);
    let s = t.wait_for(&expiry.to_string(), 1);
    assert!(s.contains("Expires"), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait_for("Append it to", 1);
    // The entry is shown before anything is written.
    assert!(s.contains("control = \"ebs-default-encryption\""), "{s}");
    assert!(s.contains(&format!("expires = {expiry}")), "{s}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        existing,
        "nothing written yet"
    );
    t.keys(&["yes", "Enter"]);
    let s = t.wait_for("GUIDE_EXIT=", 1);
    assert!(s.contains("entry written to"), "{s}");
    assert!(s.contains("GUIDE_EXIT=0"), "{s}");
    assert!(s.contains("Nothing was changed."), "{s}");

    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.starts_with(existing),
        "the other entry is kept as it was:\n{after}"
    );
    let added = &after[existing.len()..];
    for want in [
        format!("account = \"{}\"", acct.id),
        "control = \"ebs-default-encryption\"".to_string(),
        // TOML's literal string: the quotes kept as typed.
        "reason = 'sandbox account, \"no data\"'".to_string(),
        "owner = \"platform-team\"".to_string(),
        format!("expires = {expiry}"),
    ] {
        assert!(added.contains(&want), "{want} in:\n{added}");
    }
    assert!(
        !acct.ebs_default(REGION).await,
        "the control was not applied"
    );

    // plan reads the file back: the target is excepted by the new entry.
    let out = acct.run(&[
        "plan",
        "--format",
        "json",
        "-c",
        "5.1.1",
        "--regions",
        REGION,
        "--exceptions",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let doc = plan_json(&out);
    let item = &doc["plan"]["items"][0];
    assert_eq!(item["status"], "excepted", "{doc}");
    assert_eq!(item["exception"]["owner"], "platform-team");
    assert!(
        item["exception"]["source"]
            .as_str()
            .unwrap()
            .ends_with("cis-fix-exceptions.toml:10"),
        "{item}"
    );
}
