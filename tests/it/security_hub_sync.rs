//! Security Hub as output and input (issue #16, items 4 and 5): `plan
//! --import-to-security-hub` imports the plan's ASFF findings, read back with GetFindings;
//! `--from-security-hub` selects the FAILED controls and excepts the SUPPRESSED findings.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::TestAccount;

const REGIONS: &str = "eu-west-1,us-east-1,eu-west-2";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// What a test reads of a finding.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: String,
    pub generator: String,
    pub compliance: String,
    pub workflow: String,
    pub note: Option<String>,
}

/// Every finding of this account in `region` (moto keeps Security Hub per account and region).
/// Read on a thread with a large stack: the SDK's deserializer of a finding's resource details
/// (hundreds of nested shapes, unoptimized in a test build) overflows a test thread's 2 MiB.
pub async fn findings(acct: &TestAccount, region: &str) -> Vec<Seen> {
    let sdk = acct.sdk_in(region);
    let id = acct.id.clone();
    let h = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let hub = aws_sdk_securityhub::Client::new(&sdk);
                let got = hub.get_findings().send().await.expect("GetFindings");
                got.findings()
                    .iter()
                    .filter(|f| f.aws_account_id() == Some(id.as_str()))
                    .map(|f| Seen {
                        id: f.id().unwrap_or_default().to_string(),
                        generator: f.generator_id().unwrap_or_default().to_string(),
                        compliance: f
                            .compliance()
                            .and_then(|c| c.status())
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        workflow: f
                            .workflow()
                            .and_then(|w| w.status())
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        note: f.note().and_then(|n| n.text()).map(str::to_string),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .unwrap();
    h.join().unwrap()
}

/// `plan --import-to-security-hub --format asff`: the findings printed are the ones imported,
/// each in its own region, the excepted one SUPPRESSED with its note; stdout stays the ASFF
/// JSON and the count goes to stderr.
#[tokio::test]
async fn plan_imports_its_findings_into_security_hub() {
    let acct = TestAccount::new().await;
    let dir = tempfile::tempdir().unwrap();
    let x = write(
        dir.path(),
        "x.toml",
        "[[exception]]\ncontrol = \"ebs-default-encryption\"\nregion = \"us-east-1\"\n\
         reason = \"lab account\"\nowner = \"sec@example.com\"\nexpires = 2099-12-31\n",
    );
    let out = acct.run(&[
        "plan",
        "--control",
        "ebs-default-encryption",
        "--regions",
        REGIONS,
        "--exceptions",
        x.to_str().unwrap(),
        "--format",
        "asff",
        "--import-to-security-hub",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).expect("stdout stays ASFF JSON");
    assert_eq!(doc.as_array().unwrap().len(), 3, "{doc:#}");
    assert!(
        out.stderr
            .contains("Security Hub: 3 findings imported, 0 failed."),
        "{}",
        out.stderr
    );
    for region in REGIONS.split(',') {
        let got = findings(&acct, region).await;
        assert_eq!(got.len(), 1, "{region}: {got:#?}");
        let f = &got[0];
        let sent = doc
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["Region"] == region)
            .unwrap();
        assert_eq!(Some(f.id.as_str()), sent["Id"].as_str(), "{region}");
        assert_eq!(f.generator, "cis-fix/ebs-default-encryption");
        assert_eq!(f.compliance, "FAILED");
        let suppressed = region == "us-east-1";
        assert_eq!(
            f.workflow,
            if suppressed { "SUPPRESSED" } else { "NEW" },
            "{region}: {f:#?}"
        );
        assert_eq!(
            f.note.as_deref().is_some_and(|t| t.contains("lab account")),
            suppressed,
            "{region}: {f:#?}"
        );
    }
    // Text output: the count is part of the report on stdout.
    let out = acct.run(&[
        "plan",
        "--control",
        "ebs-default-encryption",
        "--regions",
        "eu-west-1",
        "--import-to-security-hub",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Security Hub: 1 finding imported, 0 failed."),
        "{}",
        out.stdout
    );
}
