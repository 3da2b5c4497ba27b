//! Security Hub as output and input: the people around an engineer (auditors, the SOC)
//! track status in Security Hub, so cis-fix writes its findings there
//! (`plan --import-to-security-hub`) and reads the decisions made there
//! (`--from-security-hub`: the FAILED CIS controls to select, the SUPPRESSED findings as
//! exceptions) instead of fighting them. See docs/exceptions.md.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Note, Recommendation, RecordState,
    Remediation, Resource, ResourceDetails, Severity, SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;

use crate::aws::AwsContext;

/// Findings per `BatchImportFindings` call (the API's limit).
pub const IMPORT_BATCH: usize = 100;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    pub imported: usize,
    /// (finding id, why) of each finding Security Hub refused, or a call that failed.
    pub failed: Vec<(String, String)>,
}

impl ImportReport {
    /// One line per outcome, for the terminal.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "Security Hub: {} finding{} imported, {} failed.",
            self.imported,
            if self.imported == 1 { "" } else { "s" },
            self.failed.len()
        )];
        for (id, why) in &self.failed {
            out.push(format!("  failed: {id}: {why}"));
        }
        out
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// One ASFF finding (as `render::plan_asff` writes it) as the SDK's type.
pub fn to_sdk(f: &Value) -> AwsSecurityFinding {
    let resources = f["Resources"].as_array().cloned().unwrap_or_default();
    let mut b = AwsSecurityFinding::builder()
        .set_schema_version(s(f, "SchemaVersion").map(Into::into))
        .set_id(s(f, "Id").map(Into::into))
        .set_product_arn(s(f, "ProductArn").map(Into::into))
        .set_product_name(s(f, "ProductName").map(Into::into))
        .set_company_name(s(f, "CompanyName").map(Into::into))
        .set_generator_id(s(f, "GeneratorId").map(Into::into))
        .set_aws_account_id(s(f, "AwsAccountId").map(Into::into))
        .set_region(s(f, "Region").map(Into::into))
        .set_created_at(s(f, "CreatedAt").map(Into::into))
        .set_updated_at(s(f, "UpdatedAt").map(Into::into))
        .set_title(s(f, "Title").map(Into::into))
        .set_description(s(f, "Description").map(Into::into))
        .severity(
            Severity::builder()
                .set_label(s(&f["Severity"], "Label").map(SeverityLabel::from))
                .build(),
        );
    for t in f["Types"].as_array().into_iter().flatten() {
        if let Some(t) = t.as_str() {
            b = b.types(t);
        }
    }
    for r in &resources {
        let mut rb = Resource::builder()
            .set_type(s(r, "Type").map(Into::into))
            .set_id(s(r, "Id").map(Into::into))
            .set_partition(s(r, "Partition").map(Into::into))
            .set_region(s(r, "Region").map(Into::into));
        if let Some(other) = r["Details"]["Other"].as_object() {
            let mut d = ResourceDetails::builder();
            for (k, v) in other {
                d = d.other(k, v.as_str().unwrap_or_default());
            }
            rb = rb.details(d.build());
        }
        b = b.resources(rb.build());
    }
    let c = &f["Compliance"];
    if c.is_object() {
        let mut cb = Compliance::builder().set_status(s(c, "Status").map(ComplianceStatus::from));
        for r in c["RelatedRequirements"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                cb = cb.related_requirements(r);
            }
        }
        b = b.compliance(cb.build());
    }
    if let Some(r) = s(f, "RecordState") {
        b = b.record_state(RecordState::from(r));
    }
    if let Some(w) = s(&f["Workflow"], "Status") {
        b = b.workflow(Workflow::builder().status(WorkflowStatus::from(w)).build());
    }
    if let Some(t) = s(&f["Remediation"]["Recommendation"], "Text") {
        b = b.remediation(
            Remediation::builder()
                .recommendation(Recommendation::builder().text(t).build())
                .build(),
        );
    }
    let n = &f["Note"];
    if n.is_object() {
        b = b.note(
            Note::builder()
                .set_text(s(n, "Text").map(Into::into))
                .set_updated_by(s(n, "UpdatedBy").map(Into::into))
                .set_updated_at(s(n, "UpdatedAt").map(Into::into))
                .build(),
        );
    }
    for (k, v) in f["ProductFields"].as_object().into_iter().flatten() {
        let v = match v {
            Value::String(x) => x.clone(),
            other => other.to_string(),
        };
        b = b.product_fields(k, v);
    }
    b.build()
}

/// Import `findings` (a JSON array of ASFF findings) into Security Hub: each in its own
/// region (a finding is imported where its ProductArn says), at most [`IMPORT_BATCH`] per
/// call. A call that fails counts each of its findings as failed with the call's error.
pub async fn import(aws: &AwsContext, findings: &Value) -> ImportReport {
    let mut by_region: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for f in findings.as_array().into_iter().flatten() {
        let region = s(f, "Region").unwrap_or(&aws.home_region).to_string();
        by_region.entry(region).or_default().push(f);
    }
    let mut report = ImportReport::default();
    for (region, list) in by_region {
        let hub = aws.securityhub(&region);
        for chunk in list.chunks(IMPORT_BATCH) {
            let sdk: Vec<AwsSecurityFinding> = chunk.iter().map(|f| to_sdk(f)).collect();
            match hub
                .batch_import_findings()
                .set_findings(Some(sdk))
                .send()
                .await
            {
                Ok(out) => {
                    let failed: HashMap<String, String> = out
                        .failed_findings()
                        .iter()
                        .map(|e| {
                            (
                                e.id().unwrap_or("?").to_string(),
                                format!(
                                    "{}: {}",
                                    e.error_code().unwrap_or("error"),
                                    e.error_message().unwrap_or("")
                                ),
                            )
                        })
                        .collect();
                    report.imported += chunk.len() - failed.len().min(chunk.len());
                    report.failed.extend(failed);
                }
                Err(e) => {
                    let why = format!(
                        "BatchImportFindings in {region}: {}",
                        crate::aws::AwsError::from_sdk("securityhub:BatchImportFindings", e)
                    );
                    for f in chunk {
                        report
                            .failed
                            .push((s(f, "Id").unwrap_or("?").to_string(), why.clone()));
                    }
                }
            }
        }
    }
    report
}

/// `plan --import-to-security-hub`: import the plan's ASFF findings and report the outcome
/// (on stderr when stdout is JSON, so it stays parseable). False when any finding failed.
pub async fn import_plan(
    plan: &crate::plan::Plan,
    aws: &AwsContext,
    format: crate::cli::OutputFormat,
) -> bool {
    let findings = crate::render::plan_asff(plan, &aws.home_region);
    let report = import(aws, &findings).await;
    for line in report.lines() {
        if format == crate::cli::OutputFormat::Text {
            crate::outln!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    report.failed.is_empty()
}
