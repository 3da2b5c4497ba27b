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

/// A finding as Security Hub's CIS standard writes it, for the emulator to hold.
struct Seed {
    id: &'static str,
    region: &'static str,
    generator: String,
    control_id: Option<&'static str>,
    compliance: &'static str,
    record: &'static str,
    workflow: &'static str,
    resource: String,
    note: Option<(&'static str, &'static str)>,
}

/// Import `seeds` with BatchImportFindings, each in its region (on a large stack, as
/// [`findings`] reads). The emulator keeps Workflow and Note as imported.
async fn seed(acct: &TestAccount, seeds: Vec<Seed>) {
    use aws_sdk_securityhub::types::{
        AwsSecurityFinding, Compliance, ComplianceStatus, Note, RecordState, Resource, Severity,
        SeverityLabel, Workflow, WorkflowStatus,
    };
    let id = acct.id.clone();
    let sdks: Vec<_> = seeds.iter().map(|s| acct.sdk_in(s.region)).collect();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                for (s, sdk) in seeds.into_iter().zip(sdks) {
                    let mut c = Compliance::builder().status(ComplianceStatus::from(s.compliance));
                    if let Some(x) = s.control_id {
                        c = c.security_control_id(x);
                    }
                    let mut f = AwsSecurityFinding::builder()
                        .schema_version("2018-10-08")
                        .id(s.id)
                        .product_arn(format!(
                            "arn:aws:securityhub:{}::product/aws/securityhub",
                            s.region
                        ))
                        .generator_id(s.generator)
                        .aws_account_id(&id)
                        .region(s.region)
                        .types("Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark")
                        .created_at("2026-11-01T00:00:00Z")
                        .updated_at("2026-11-01T00:00:00Z")
                        .severity(Severity::builder().label(SeverityLabel::Medium).build())
                        .title(s.id)
                        .description(s.id)
                        .resources(Resource::builder().r#type("AwsAccount").id(s.resource).build())
                        .compliance(c.build())
                        .record_state(RecordState::from(s.record))
                        .workflow(Workflow::builder().status(WorkflowStatus::from(s.workflow)).build());
                    if let Some((text, by)) = s.note {
                        f = f.note(
                            Note::builder()
                                .text(text)
                                .updated_by(by)
                                .updated_at("2026-11-02T00:00:00Z")
                                .build(),
                        );
                    }
                    let out = aws_sdk_securityhub::Client::new(&sdk)
                        .batch_import_findings()
                        .findings(f.build())
                        .send()
                        .await
                        .expect("BatchImportFindings");
                    assert_eq!(out.failed_count(), Some(0), "{out:?}");
                }
            })
        })
        .unwrap()
        .join()
        .unwrap();
}

/// `plan --from-security-hub`: FAILED findings (by SecurityControlId and by the older
/// generator id) select their controls, only in the regions they are in; a SUPPRESSED one
/// excepts its target with the note as reason and its author as owner; PASSED and ARCHIVED
/// findings select nothing. (The emulator ignores GetFindings' filters; cis-fix checks
/// compliance and record state itself too.)
#[tokio::test]
async fn from_security_hub_selects_failed_and_excepts_suppressed() {
    let acct = TestAccount::new().await;
    let me = format!("AWS::::Account:{}", acct.id);
    let s = |id, region, generator: &str, control_id, compliance, record, workflow| Seed {
        id,
        region,
        generator: generator.to_string(),
        control_id,
        compliance,
        record,
        workflow,
        resource: me.clone(),
        note: None,
    };
    let mut suppressed = s(
        "f-ebs-us-east-1",
        "us-east-1",
        "security-control/EC2.7",
        Some("EC2.7"),
        "FAILED",
        "ACTIVE",
        "SUPPRESSED",
    );
    suppressed.note = Some(("lab region, no customer data", "alice@example.com"));
    seed(
        &acct,
        vec![
            s(
                "f-ebs-eu-west-1",
                "eu-west-1",
                "security-control/EC2.7",
                Some("EC2.7"),
                "FAILED",
                "ACTIVE",
                "NEW",
            ),
            suppressed,
            // The CIS v1.2.0 standard's own generator id, no SecurityControlId: 1.9 is the
            // password length rule there.
            s(
                "f-pw",
                "eu-west-1",
                "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.9",
                None,
                "FAILED",
                "ACTIVE",
                "NOTIFIED",
            ),
            s(
                "f-trail-passed",
                "eu-west-1",
                "security-control/CloudTrail.1",
                Some("CloudTrail.1"),
                "PASSED",
                "ACTIVE",
                "RESOLVED",
            ),
            s(
                "f-root-archived",
                "eu-west-1",
                "security-control/IAM.4",
                Some("IAM.4"),
                "FAILED",
                "ARCHIVED",
                "NEW",
            ),
        ],
    )
    .await;
    let out = acct.run(&[
        "plan",
        "--from-security-hub",
        "--regions",
        REGIONS,
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = crate::harness::plan_json(&out);
    let items = doc["plan"]["items"].as_array().unwrap();
    let mut rows: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["control"].as_str().unwrap().to_string(),
                i["region"].as_str().unwrap_or("global").to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    let row = |c: &str, r: &str, s: &str| (c.to_string(), r.to_string(), s.to_string());
    assert_eq!(
        rows,
        vec![
            row("ebs-default-encryption", "eu-west-1", "change"),
            row("ebs-default-encryption", "us-east-1", "excepted"),
            row("password-min-length", "global", "change"),
        ],
        "{doc:#}"
    );
    let ex = items.iter().find(|i| i["status"] == "excepted").unwrap();
    assert_eq!(ex["exception"]["reason"], "lab region, no customer data");
    assert_eq!(ex["exception"]["owner"], "alice@example.com");
    assert!(ex["exception"]["expires"].is_null(), "{ex}");
    assert_eq!(
        ex["exception"]["source"],
        "Security Hub finding f-ebs-us-east-1"
    );

    // apply --yes with the same input leaves the suppressed region alone.
    let out = acct.run(&[
        "apply",
        "--yes",
        "--from-security-hub",
        "--regions",
        REGIONS,
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        acct.ebs_default("eu-west-1").await,
        "FAILED in Security Hub: fixed"
    );
    assert!(
        !acct.ebs_default("us-east-1").await,
        "suppressed in Security Hub: untouched"
    );
    assert!(
        !acct.ebs_default("eu-west-2").await,
        "no finding there: not selected"
    );
}

/// `apply --update-security-hub` and `undo --update-security-hub` against the emulator: moto
/// lacks BatchUpdateFindings, so this shows the wiring (the matching finding is found after
/// the verified change and the update is attempted, once per change) and that a refused
/// update is one line that does not fail the apply or the undo. The request itself is checked
/// with the SDK's replay client in `security_hub::tests::update_marks_only_the_changed_controls_findings`.
#[tokio::test]
async fn update_security_hub_is_attempted_after_verified_changes() {
    let acct = TestAccount::new().await;
    let me = format!("AWS::::Account:{}", acct.id);
    seed(
        &acct,
        vec![Seed {
            id: "f-ebs-eu-west-1",
            region: "eu-west-1",
            generator: "security-control/EC2.7".into(),
            control_id: Some("EC2.7"),
            compliance: "FAILED",
            record: "ACTIVE",
            workflow: "NEW",
            resource: me,
            note: None,
        }],
    )
    .await;
    let out = acct.run(&[
        "apply",
        "--yes",
        "--control",
        "ebs-default-encryption",
        "--regions",
        "eu-west-1,eu-west-2",
        "--update-security-hub",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(acct.ebs_default("eu-west-1").await);
    let tried: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("Security Hub:"))
        .collect();
    assert_eq!(
        tried.len(),
        1,
        "only eu-west-1 has a finding: {}",
        out.stdout
    );
    assert!(
        tried[0].contains("findings of ebs-default-encryption") && tried[0].contains("not updated"),
        "{}",
        tried[0]
    );
    let out = acct.run(&["undo", "--yes", "--update-security-hub"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!acct.ebs_default("eu-west-1").await, "undone");
    let tried = out
        .stdout
        .lines()
        .filter(|l| l.contains("Security Hub:"))
        .count();
    assert_eq!(tried, 1, "{}", out.stdout);
    // The finding is as imported: nothing else was changed.
    let f = findings(&acct, "eu-west-1").await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].workflow, "NEW");
}
