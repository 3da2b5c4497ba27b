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
