//! Exceptions (issue #16): entries in an exceptions file plan matching targets as `excepted`,
//! which `apply` never changes; expired entries stop excepting and are warned about; unused
//! entries are reported; every bad entry is one error line naming file and line, before any
//! AWS call.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{endpoint, plan_json, TestAccount};
use crate::proxy;

const EBS: [&str; 4] = [
    "--control",
    "ebs-default-encryption",
    "--regions",
    "eu-west-1,us-east-1,eu-west-2",
];

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// (control, region, target, status) of each item.
fn rows(doc: &Value) -> Vec<(String, String, String, String)> {
    doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["control"].as_str().unwrap().to_string(),
                i["region"].as_str().unwrap_or("global").to_string(),
                i["target"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn excepted_regions(doc: &Value) -> Vec<String> {
    let mut v: Vec<String> = rows(doc)
        .into_iter()
        .filter(|r| r.3 == "excepted")
        .map(|r| r.1)
        .collect();
    v.sort();
    v
}

fn entry(fields: &str) -> String {
    format!("[[exception]]\n{fields}\nreason = \"kept on purpose\"\nowner = \"platform-team\"\n")
}

#[tokio::test]
async fn each_match_kind_excepts_exactly_its_targets() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let plan = |file: &Path| {
        let out = acct.run(
            &[
                &[
                    "plan",
                    "--format",
                    "json",
                    "--exceptions",
                    file.to_str().unwrap(),
                ][..],
                &EBS,
            ]
            .concat(),
        );
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        plan_json(&out)
    };

    // Region (with the control by its 5.0 id).
    let f = write(
        dir.path(),
        "region.toml",
        &entry("control = \"5.1.1\"\nregion = \"us-east-1\"\nexpires = 2099-12-31"),
    );
    let doc = plan(&f);
    assert_eq!(excepted_regions(&doc), ["us-east-1"], "{doc}");
    let item = doc["plan"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "excepted")
        .unwrap();
    assert_eq!(item["exception"]["reason"], "kept on purpose");
    assert_eq!(item["exception"]["owner"], "platform-team");
    assert_eq!(item["exception"]["expires"], "2099-12-31");
    assert_eq!(item["exception"]["was"], "change");
    assert!(item["exception"]["source"]
        .as_str()
        .unwrap()
        .ends_with("region.toml:1"));

    // Account: this account excepts every region; another account's entry excepts nothing and
    // is reported as unused.
    let f = write(
        dir.path(),
        "account.toml",
        &format!(
            "{}\n{}",
            entry(&format!(
                "account = \"{}\"\ncontrol = \"ebs-default-encryption\"\npermanent = true\nwhy_permanent = \"sandbox account\"",
                acct.id
            )),
            entry("account = \"000000000001\"\nexpires = \"2099-01-01\"")
        ),
    );
    let doc = plan(&f);
    assert_eq!(
        excepted_regions(&doc),
        ["eu-west-1", "eu-west-2", "us-east-1"]
    );
    let unused = doc["plan"]["exceptions"]["unused"].as_array().unwrap();
    assert_eq!(unused.len(), 1, "{doc}");
    assert!(unused[0]["source"].as_str().unwrap().ends_with(":9"));
    assert_eq!(unused[0]["matches"], "account 000000000001");

    // Control by Security Hub id, with a target pattern over the target's words.
    let f = write(
        dir.path(),
        "target.toml",
        &entry(
            "control = \"EC2.7\"\ntarget = \"EBS*\"\nregion = \"eu-west-2\"\nexpires = 2099-01-01",
        ),
    );
    let doc = plan(&f);
    assert_eq!(excepted_regions(&doc), ["eu-west-2"], "{doc}");
    let f = write(
        dir.path(),
        "target-none.toml",
        &entry("control = \"ebs-default-encryption\"\ntarget = \"bucket *\"\nexpires = 2099-01-01"),
    );
    let doc = plan(&f);
    assert!(excepted_regions(&doc).is_empty(), "{doc}");
    assert_eq!(
        doc["plan"]["exceptions"]["unused"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_target_pattern_excepts_only_matching_buckets_and_apply_leaves_them() {
    let acct = TestAccount::new().await;
    let web = acct.create_bucket("eu-west-1", "exc-web").await;
    let data = acct.create_bucket("eu-west-1", "exc-data").await;
    let dir = tempfile::tempdir().unwrap();
    // Once by ARN glob, once by bucket-name glob: both except the web bucket only.
    for pattern in ["arn:aws:s3:::exc-web-*", "exc-web-*"] {
        let f = write(
            dir.path(),
            "x.toml",
            &entry(&format!(
                "control = \"s3-deny-http\"\ntarget = \"{pattern}\"\nexpires = 2099-01-01"
            )),
        );
        let out = acct.run(&[
            "plan",
            "--control",
            "s3-deny-http",
            "--format",
            "json",
            "--exceptions",
            f.to_str().unwrap(),
        ]);
        let doc = plan_json(&out);
        let rows = rows(&doc);
        let status = |name: &str| {
            rows.iter()
                .find(|r| r.2 == format!("bucket {name}"))
                .unwrap_or_else(|| panic!("no item for {name}: {rows:?}"))
                .3
                .clone()
        };
        assert_eq!(status(&web), "excepted", "{pattern}");
        assert_eq!(status(&data), "change", "{pattern}");
    }
    let f = dir.path().join("x.toml");
    let out = acct.run(&[
        "apply",
        "--yes",
        "--control",
        "s3-deny-http",
        "--exceptions",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let policy = |b: String| {
        let s3 = acct.s3("eu-west-1");
        async move { s3.get_bucket_policy().bucket(b).send().await.is_ok() }
    };
    assert!(
        !policy(web.clone()).await,
        "the excepted bucket has no policy"
    );
    assert!(policy(data.clone()).await, "the other bucket was fixed");
}

#[tokio::test]
async fn apply_leaves_excepted_targets_live_and_from_a_saved_plan() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "x.toml",
        &entry("control = \"5.1.1\"\nregion = \"eu-west-1\"\nexpires = 2099-12-31"),
    );
    // A plan saved before the exception existed: apply checks exceptions again.
    let saved = dir.path().join("plan.json");
    let out = acct.run(&[&["plan", "-o", saved.to_str().unwrap()][..], &EBS].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = acct.run(&[
        "apply",
        saved.to_str().unwrap(),
        "--yes",
        "--exceptions",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        !acct.ebs_default("eu-west-1").await,
        "excepted region untouched"
    );
    assert!(acct.ebs_default("us-east-1").await);
    assert!(acct.ebs_default("eu-west-2").await);

    // Live: a fresh account, the same exception, apply --yes.
    let acct = TestAccount::new().await;
    let out = acct.run(
        &[
            &["apply", "--yes", "--exceptions", f.to_str().unwrap()][..],
            &EBS,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("  excepted                       1  (left alone"),
        "{}",
        out.stdout
    );
    assert!(
        !acct.ebs_default("eu-west-1").await,
        "excepted region untouched"
    );
    assert!(acct.ebs_default("us-east-1").await);
    // Nothing is pending now: the excepted item is not a pending change.
    let out = acct.run(
        &[
            &[
                "plan",
                "--detailed-exitcode",
                "--exceptions",
                f.to_str().unwrap(),
            ][..],
            &EBS,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("⊘"), "{}", out.stdout);
    assert!(out.stdout.contains("1 excepted"), "{}", out.stdout);
    let md = acct.run(
        &[
            &[
                "plan",
                "--format",
                "markdown",
                "--exceptions",
                f.to_str().unwrap(),
            ][..],
            &EBS,
        ]
        .concat(),
    );
    assert!(
        md.stdout.contains("| excepted |")
            && md
                .stdout
                .contains("Excepted (until 2099-12-31, owner platform-team: kept on purpose"),
        "{}",
        md.stdout
    );
}

#[tokio::test]
async fn an_expired_entry_does_not_except_and_is_warned_about() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "x.toml",
        &entry("control = \"5.1.1\"\nexpires = 2020-01-31"),
    );
    let args = |extra: &[&'static str]| {
        let mut v = vec!["plan", "--exceptions", f.to_str().unwrap()];
        v.extend_from_slice(extra);
        v.extend_from_slice(&EBS);
        v.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| acct.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let doc = plan_json(&run(args(&["--format", "json"])));
    assert!(excepted_regions(&doc).is_empty(), "{doc}");
    assert!(rows(&doc).iter().all(|r| r.3 == "change"));
    let expired = doc["plan"]["exceptions"]["expired"].as_array().unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["expires"], "2020-01-31");
    assert!(doc["plan"]["exceptions"]["unused"]
        .as_array()
        .unwrap()
        .is_empty());

    let text = run(args(&[]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("warning: exception expired on 2020-01-31"),
        "{}",
        text.stdout
    );
    let md = run(args(&["--format", "markdown"]));
    assert!(
        md.stdout.contains("exception expired on 2020-01-31"),
        "{}",
        md.stdout
    );

    let strict = run(args(&["--strict-exceptions"]));
    strict.assert_one_line_error(1, "1 expired exception in");
    // And apply refuses to start under --strict-exceptions.
    let out = acct.run(
        &[
            &[
                "apply",
                "--yes",
                "--strict-exceptions",
                "--exceptions",
                f.to_str().unwrap(),
            ][..],
            &EBS,
        ]
        .concat(),
    );
    out.assert_one_line_error(1, "--strict-exceptions");
    assert!(!acct.ebs_default("eu-west-1").await, "nothing applied");
    // Without it, apply warns as the plan does, and applies (the entry excepts nothing).
    let out = acct.run(
        &[
            &["apply", "--yes", "--exceptions", f.to_str().unwrap()][..],
            &EBS,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("warning: exception expired on 2020-01-31"),
        "{}",
        out.stdout
    );
    assert!(acct.ebs_default("eu-west-1").await, "applied");
}

#[tokio::test]
async fn the_file_beside_cis_fix_toml_and_the_config_key_are_read() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "cis-fix.toml", "");
    write(
        dir.path(),
        "cis-fix-exceptions.toml",
        &entry("control = \"5.1.1\"\nregion = \"eu-west-2\"\nexpires = 2099-01-01"),
    );
    let out = acct.run(
        &[
            &[
                "plan",
                "--format",
                "json",
                "--config",
                cfg.to_str().unwrap(),
            ][..],
            &EBS,
        ]
        .concat(),
    );
    assert_eq!(excepted_regions(&plan_json(&out)), ["eu-west-2"]);

    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    write(
        &sub,
        "mine.toml",
        &entry("control = \"5.1.1\"\nregion = \"us-east-1\"\nexpires = 2099-01-01"),
    );
    let cfg = write(&sub, "cis-fix.toml", "exceptions = \"mine.toml\"\n");
    let out = acct.run(
        &[
            &[
                "plan",
                "--format",
                "json",
                "--config",
                cfg.to_str().unwrap(),
            ][..],
            &EBS,
        ]
        .concat(),
    );
    assert_eq!(excepted_regions(&plan_json(&out)), ["us-east-1"]);
}

/// Every bad entry: one line naming the file and line, exit 1, and not one request sent.
#[tokio::test]
async fn bad_exception_files_are_one_line_errors_before_any_aws_call() {
    let acct = TestAccount::new().await;
    let p = proxy::start(&endpoint());
    let dir = tempfile::tempdir().unwrap();
    let ok = "reason = \"r\"\nowner = \"o\"\nexpires = 2099-01-01\n";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-field",
            format!("[[exception]]\ncontrol = \"5.1.1\"\nresaon = \"x\"\n{ok}"),
            ":3: unknown field `resaon`",
        ),
        (
            "bad-date",
            "[[exception]]\ncontrol = \"5.1.1\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-13-01\"\n".into(),
            ":1: exception 1: expires: '2027-13-01' is not a date",
        ),
        (
            "no-reason",
            "[[exception]]\ncontrol = \"5.1.1\"\nowner = \"o\"\nexpires = 2099-01-01\n".into(),
            ":1: exception 1: reason is missing",
        ),
        (
            "empty-reason",
            "\n[[exception]]\ncontrol = \"5.1.1\"\nreason = \" \"\nowner = \"o\"\nexpires = 2099-01-01\n".into(),
            ":2: exception 1: reason is empty",
        ),
        (
            "no-owner",
            "[[exception]]\ncontrol = \"5.1.1\"\nreason = \"r\"\nexpires = 2099-01-01\n".into(),
            ":1: exception 1: owner is missing",
        ),
        (
            "no-expiry",
            "[[exception]]\ncontrol = \"5.1.1\"\nreason = \"r\"\nowner = \"o\"\n".into(),
            ":1: exception 1: expires is missing",
        ),
        (
            "permanent-without-why",
            "[[exception]]\ncontrol = \"5.1.1\"\nreason = \"r\"\nowner = \"o\"\npermanent = true\n".into(),
            ":1: exception 1: why_permanent is missing",
        ),
        (
            "expires-and-permanent",
            format!("[[exception]]\ncontrol = \"5.1.1\"\npermanent = true\nwhy_permanent = \"w\"\n{ok}"),
            "expires and permanent = true",
        ),
        (
            "bad-glob",
            format!("[[exception]]\ntarget = \"web[12]\"\n{ok}"),
            ":1: exception 1: target: 'web[12]' uses '['",
        ),
        (
            "unknown-control",
            format!("[[exception]]\ncontrol = \"9.9\"\n{ok}"),
            ":1: exception 1: control: unknown control '9.9'",
        ),
        (
            "bad-region",
            format!("[[exception]]\nregion = \"mars-1\"\n{ok}"),
            ":1: exception 1: region: 'mars-1' is not a region name",
        ),
        (
            "bad-account",
            format!("[[exception]]\naccount = \"12345\"\n{ok}"),
            ":1: exception 1: account: '12345' is not an account id",
        ),
        (
            "duplicate",
            format!(
                "[[exception]]\ncontrol = \"5.1.1\"\n{ok}\n[[exception]]\ncontrol = \"ebs-default-encryption\"\n{ok}"
            ),
            ":7: exception 2: duplicates the entry on line 1",
        ),
        (
            "tag-on-a-control-without-tags",
            format!("[[exception]]\ncontrol = \"5.1.1\"\ntag = \"env=web\"\n{ok}"),
            ":1: exception 1: tag: control ebs-default-encryption does not read its targets' tags",
        ),
        (
            "tag-not-key-value",
            format!("[[exception]]\ntag = \"env\"\n{ok}"),
            ":1: exception 1: tag: 'env' is not key=value",
        ),
        (
            "matches-everything",
            format!("[[exception]]\n{ok}"),
            ":1: exception 1: matches everything",
        ),
        (
            "toml-syntax",
            "[[exception]]\ncontrol = \"5.1.1\nreason = \"r\"\n".into(),
            ":2:",
        ),
        (
            "expires-not-a-date-type",
            "[[exception]]\ncontrol = \"5.1.1\"\nreason = \"r\"\nowner = \"o\"\nexpires = 5\n".into(),
            "expires: '5' is not a date",
        ),
        (
            "unknown-top-level-key",
            format!("exceptions_version = 2\n[[exception]]\ncontrol = \"5.1.1\"\n{ok}"),
            ":1: unknown field `exceptions_version`",
        ),
        (
            "two-bad-entries",
            format!("[[exception]]\ncontrol = \"9.9\"\n{ok}\n[[exception]]\nregion = \"x\"\n{ok}"),
            "(and 1 more bad entries)",
        ),
    ];
    assert!(cases.len() >= 12);
    for (name, text, expect) in &cases {
        let f = write(dir.path(), &format!("{name}.toml"), text);
        for cmd in [&["plan"][..], &["apply", "--yes"][..]] {
            let args = [cmd, &["--exceptions", f.to_str().unwrap()][..], &EBS].concat();
            let out = acct.run_via(&p.url, &args);
            out.assert_one_line_error(1, expect);
            assert!(
                out.stderr.contains(&format!("{name}.toml")),
                "{name}: names the file: {}",
                out.stderr
            );
        }
    }
    // A file that is not there, by flag and by cis-fix.toml.
    let missing = dir.path().join("nope.toml");
    acct.run_via(&p.url, &["plan", "--exceptions", missing.to_str().unwrap()])
        .assert_one_line_error(1, "nope.toml does not exist");
    let cfg = write(dir.path(), "cis-fix.toml", "exceptions = \"gone.toml\"\n");
    acct.run_via(&p.url, &["plan", "--config", cfg.to_str().unwrap()])
        .assert_one_line_error(1, "gone.toml does not exist");
    assert!(
        p.calls_by(acct.creds.access_key_id()).is_empty(),
        "no AWS call before the file is checked: {:?}",
        p.calls_by(acct.creds.access_key_id())
            .iter()
            .map(|c| c.operation.clone())
            .collect::<Vec<_>>()
    );
}

/// A security group in the default VPC of REGION with SSH open to the world, tagged.
async fn open_ssh_group(acct: &TestAccount, name: &str, tags: &[(&str, &str)]) -> String {
    use aws_sdk_ec2::types::{IpPermission, IpRange, Tag};
    let ec2 = acct.ec2(crate::harness::REGION);
    let vpc = ec2.describe_vpcs().send().await.unwrap().vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let gid = ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&gid)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    if !tags.is_empty() {
        let mut req = ec2.create_tags().resources(&gid);
        for (k, v) in tags {
            req = req.tags(Tag::builder().key(*k).value(*v).build());
        }
        req.send().await.unwrap();
    }
    gid
}

/// Whether the group still lets SSH in from anywhere (re-read from the emulator).
async fn ssh_open(acct: &TestAccount, gid: &str) -> bool {
    use aws_sdk_ec2::types::Filter;
    acct.ec2(crate::harness::REGION)
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(gid).build())
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .any(|r| {
            r.is_egress() == Some(false)
                && r.from_port() == Some(22)
                && r.cidr_ipv4() == Some("0.0.0.0/0")
        })
}

#[tokio::test]
async fn tags_except_security_groups_the_file_by_tag_and_the_exception_tag() {
    let acct = TestAccount::new().await;
    let bastion = open_ssh_group(
        &acct,
        "bastion",
        &[("cis-fix:exception", "office SSH bastion; until=2099-01-01")],
    )
    .await;
    let web = open_ssh_group(&acct, "web", &[("team", "web-shop")]).await;
    let old = open_ssh_group(
        &acct,
        "old",
        &[("cis-fix:exception", "legacy; until=2020-01-01")],
    )
    .await;
    let plain = open_ssh_group(&acct, "plain", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "x.toml",
        &entry("control = \"sg-no-admin-ports-ipv4\"\ntag = \"team=web-*\"\nexpires = 2099-01-01"),
    );
    let sel = [
        "--control",
        "sg-no-admin-ports-ipv4",
        "--regions",
        crate::harness::REGION,
    ];
    let item_of = |doc: &Value, gid: &str| -> Value {
        doc["plan"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["target"].as_str().unwrap().contains(gid))
            .unwrap_or_else(|| panic!("no item for {gid}: {doc}"))
            .clone()
    };

    // The tag alone, no file.
    let doc = plan_json(&acct.run(&[&["plan", "--format", "json"][..], &sel].concat()));
    let b = item_of(&doc, &bastion);
    assert_eq!(b["status"], "excepted", "{b}");
    assert_eq!(b["exception"]["reason"], "office SSH bastion");
    assert_eq!(b["exception"]["expires"], "2099-01-01");
    assert_eq!(b["exception"]["source"], "tag cis-fix:exception");
    let o = item_of(&doc, &old);
    assert_eq!(o["status"], "change", "an expired tag does not except: {o}");
    assert!(
        o["notes"].to_string().contains("expired on 2020-01-01"),
        "{o}"
    );
    assert_eq!(item_of(&doc, &web)["status"], "change");
    assert_eq!(item_of(&doc, &plain)["status"], "change");
    assert!(
        doc["plan"].get("exceptions").is_none(),
        "no file, no file report"
    );

    // Another exception tag key (cis-fix.toml): the default key no longer excepts.
    let cfg = write(dir.path(), "cis-fix.toml", "exception_tag = \"ops:keep\"\n");
    let doc = plan_json(
        &acct.run(
            &[
                &[
                    "plan",
                    "--format",
                    "json",
                    "--config",
                    cfg.to_str().unwrap(),
                ][..],
                &sel,
            ]
            .concat(),
        ),
    );
    assert_eq!(item_of(&doc, &bastion)["status"], "change");

    // The file's tag entry excepts the web group too; apply leaves both excepted groups open.
    let args = [&["--exceptions", f.to_str().unwrap()][..], &sel].concat();
    let doc = plan_json(&acct.run(&[&["plan", "--format", "json"][..], &args].concat()));
    let w = item_of(&doc, &web);
    assert_eq!(w["status"], "excepted", "{w}");
    assert!(w["exception"]["source"]
        .as_str()
        .unwrap()
        .ends_with("x.toml:1"));
    // (Revoking an open admin port is destructive and high risk: --allow-destructive.)
    let out = acct.run(&[&["apply", "--yes", "--allow-destructive"][..], &args].concat());
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        ssh_open(&acct, &bastion).await,
        "tag-excepted group untouched"
    );
    assert!(ssh_open(&acct, &web).await, "file-excepted group untouched");
    assert!(!ssh_open(&acct, &old).await, "expired tag: fixed");
    assert!(!ssh_open(&acct, &plain).await, "untagged: fixed");
}

/// `plan --format asff`: the failures as ASFF findings with every required field, excepted
/// ones SUPPRESSED with the exception as note; and Security Hub (the emulator) imports them.
#[tokio::test]
async fn plan_as_asff_has_the_required_fields_and_imports() {
    use aws_sdk_securityhub::types::{
        AwsSecurityFinding, Compliance, ComplianceStatus, Resource, Severity, SeverityLabel,
    };
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "x.toml",
        &entry("control = \"5.1.1\"\nregion = \"us-east-1\"\nexpires = 2099-12-31"),
    );
    let out = acct.run(
        &[
            &[
                "plan",
                "--format",
                "asff",
                "--exceptions",
                f.to_str().unwrap(),
            ][..],
            &EBS,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).expect("ASFF JSON");
    let all = doc.as_array().unwrap();
    assert_eq!(all.len(), 3, "{doc:#}");
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    for f in all {
        for k in [
            "SchemaVersion",
            "Id",
            "ProductArn",
            "GeneratorId",
            "AwsAccountId",
            "Types",
            "CreatedAt",
            "UpdatedAt",
            "Severity",
            "Title",
            "Description",
            "Resources",
        ] {
            assert!(f.get(k).is_some(), "{k} missing: {f}");
        }
        assert_eq!(f["SchemaVersion"], "2018-10-08");
        assert_eq!(f["AwsAccountId"], acct.id.as_str());
        let region = f["Region"].as_str().unwrap();
        assert_eq!(
            f["ProductArn"],
            format!(
                "arn:aws:securityhub:{region}:{}:product/{}/default",
                acct.id, acct.id
            )
        );
        assert_eq!(f["ProductName"], "cis-fix");
        assert!(time::OffsetDateTime::parse(f["CreatedAt"].as_str().unwrap(), rfc3339).is_ok());
        assert!(time::OffsetDateTime::parse(f["UpdatedAt"].as_str().unwrap(), rfc3339).is_ok());
        assert!(f["Types"].as_array().unwrap()[0]
            .as_str()
            .unwrap()
            .contains("CIS AWS Foundations Benchmark"));
        assert!(f["Title"].as_str().unwrap().chars().count() <= 256);
        assert!(f["Description"].as_str().unwrap().chars().count() <= 1024);
        assert!(!f["Resources"].as_array().unwrap().is_empty());
        assert_eq!(f["Compliance"]["Status"], "FAILED");
        let suppressed = region == "us-east-1";
        assert_eq!(
            f["Workflow"]["Status"],
            if suppressed { "SUPPRESSED" } else { "NEW" },
            "{f}"
        );
        assert_eq!(f.get("Note").is_some(), suppressed, "{f}");
    }
    let ids: std::collections::BTreeSet<&str> =
        all.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "ids are distinct");

    // Import each into the emulator's Security Hub, in its region, and read them back. (The
    // SDK's builders do not check required fields and moto validates few: the checks above
    // are the validation; this shows the findings are accepted as sent.)
    for f in all {
        let s = |k: &str| f[k].as_str().unwrap().to_string();
        let r = &f["Resources"][0];
        let finding = AwsSecurityFinding::builder()
            .schema_version(s("SchemaVersion"))
            .id(s("Id"))
            .product_arn(s("ProductArn"))
            .generator_id(s("GeneratorId"))
            .aws_account_id(s("AwsAccountId"))
            .types(f["Types"][0].as_str().unwrap())
            .created_at(s("CreatedAt"))
            .updated_at(s("UpdatedAt"))
            .severity(
                Severity::builder()
                    .label(SeverityLabel::from(
                        f["Severity"]["Label"].as_str().unwrap(),
                    ))
                    .build(),
            )
            .title(s("Title"))
            .description(s("Description"))
            .resources(
                Resource::builder()
                    .r#type(r["Type"].as_str().unwrap())
                    .id(r["Id"].as_str().unwrap())
                    .build(),
            )
            .compliance(
                Compliance::builder()
                    .status(ComplianceStatus::from(
                        f["Compliance"]["Status"].as_str().unwrap(),
                    ))
                    .build(),
            )
            .build();
        let hub = aws_sdk_securityhub::Client::new(&acct.sdk_in(f["Region"].as_str().unwrap()));
        let out = hub
            .batch_import_findings()
            .findings(finding)
            .send()
            .await
            .expect("BatchImportFindings");
        assert_eq!(out.failed_count(), Some(0), "{out:?}");
    }
    let hub = aws_sdk_securityhub::Client::new(&acct.sdk_in("eu-west-1"));
    let got = hub.get_findings().send().await.expect("GetFindings");
    assert!(
        got.findings()
            .iter()
            .any(|x| x.generator_id() == Some("cis-fix/ebs-default-encryption")),
        "{got:?}"
    );
}
