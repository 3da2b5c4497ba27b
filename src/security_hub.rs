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

// ---------------------------------------------------------------------------------------
// Input: `--from-security-hub`.

/// A finding Security Hub holds as FAILED, reduced to what cis-fix decides with.
#[derive(Debug, Clone, PartialEq)]
pub struct HubFinding {
    pub id: String,
    pub account: String,
    pub region: String,
    /// The catalog slugs its control maps to (several where one Security Hub control covers
    /// several recommendations).
    pub slugs: Vec<String>,
    /// The resource ids (ARNs, or `AWS::::Account:ID` for account-wide findings).
    pub resources: Vec<String>,
    pub suppressed: bool,
    /// The latest note (text, who wrote it).
    pub note: Option<(String, String)>,
}

/// The control a finding is about, as catalog slugs: `Compliance.SecurityControlId` (IAM.15),
/// else the generator id: `security-control/IAM.15`, the older per-standard forms
/// `arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.9` and
/// `cis-aws-foundations-benchmark/v/1.4.0/1.8`, or cis-fix's own `cis-fix/<slug>`.
pub fn slugs_of(
    cat: &crate::catalog::Catalog,
    security_control_id: Option<&str>,
    generator: &str,
) -> Vec<String> {
    let by_sh = |id: &str| -> Vec<String> {
        cat.entries
            .iter()
            .filter(|e| e.security_hub.iter().any(|s| s.eq_ignore_ascii_case(id)))
            .map(|e| e.slug.clone())
            .collect()
    };
    if let Some(id) = security_control_id.filter(|s| !s.is_empty()) {
        return by_sh(id);
    }
    if let Some(id) = generator.strip_prefix("security-control/") {
        return by_sh(id);
    }
    if let Some(slug) = generator.strip_prefix("cis-fix/") {
        return cat
            .by_slug(slug)
            .map(|e| vec![e.slug.clone()])
            .unwrap_or_default();
    }
    if let Some((_, rest)) = generator.split_once("cis-aws-foundations-benchmark/v/") {
        let mut parts = rest.split('/');
        let version = parts.next().unwrap_or_default();
        let rule = rest.rsplit('/').next().unwrap_or_default();
        let key = version.rsplit_once('.').map(|(k, _)| k).unwrap_or(version);
        if let Ok(b) = key.parse::<crate::catalog::Benchmark>() {
            return cat
                .entries
                .iter()
                .filter(|e| e.id_in(b) == Some(rule))
                .map(|e| e.slug.clone())
                .collect();
        }
    }
    Vec::new()
}

/// Reduce one SDK finding; `None` unless it is a FAILED, ACTIVE finding of a catalog control.
/// (The emulator ignores GetFindings' filters, so they are checked here too.)
fn reduce(
    cat: &crate::catalog::Catalog,
    f: &AwsSecurityFinding,
    queried: &str,
) -> Option<HubFinding> {
    let c = f.compliance()?;
    if c.status() != Some(&ComplianceStatus::Failed) {
        return None;
    }
    if f.record_state().is_some_and(|r| *r != RecordState::Active) {
        return None;
    }
    let slugs = slugs_of(cat, c.security_control_id(), f.generator_id().unwrap_or(""));
    if slugs.is_empty() {
        return None;
    }
    Some(HubFinding {
        id: f.id().unwrap_or_default().to_string(),
        account: f.aws_account_id().unwrap_or_default().to_string(),
        region: f.region().unwrap_or(queried).to_string(),
        slugs,
        resources: f
            .resources()
            .iter()
            .filter_map(|r| r.id().map(str::to_string))
            .collect(),
        suppressed: f
            .workflow()
            .and_then(|w| w.status())
            .is_some_and(|s| *s == WorkflowStatus::Suppressed),
        note: f.note().map(|n| {
            (
                n.text().unwrap_or_default().to_string(),
                n.updated_by().unwrap_or_default().to_string(),
            )
        }),
    })
}

/// The FAILED, ACTIVE CIS findings of the account in `regions` (and the home region), every
/// page, each finding once (an aggregation region returns other regions' findings too).
pub async fn read_failed(
    aws: &AwsContext,
    cat: &crate::catalog::Catalog,
    regions: &[String],
) -> Result<Vec<HubFinding>, crate::aws::AwsError> {
    use aws_sdk_securityhub::types::{
        AwsSecurityFindingFilters, StringFilter, StringFilterComparison,
    };
    let eq = |v: &str| {
        StringFilter::builder()
            .comparison(StringFilterComparison::Equals)
            .value(v)
            .build()
    };
    let filters = AwsSecurityFindingFilters::builder()
        .compliance_status(eq("FAILED"))
        .record_state(eq("ACTIVE"))
        .aws_account_id(eq(&aws.account.id))
        .build();
    let mut all: Vec<String> = regions.to_vec();
    if !all.contains(&aws.home_region) {
        all.push(aws.home_region.clone());
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for region in &all {
        let hub = aws.securityhub(region);
        let mut token: Option<String> = None;
        loop {
            let page = hub
                .get_findings()
                .filters(filters.clone())
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| crate::aws::AwsError::from_sdk("securityhub:GetFindings", e))?;
            for f in page.findings() {
                if f.aws_account_id() != Some(aws.account.id.as_str()) {
                    continue;
                }
                if let Some(h) = reduce(cat, f, region) {
                    if seen.insert(h.id.clone()) {
                        out.push(h);
                    }
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

static INPUT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
/// The suppressed findings read so far this run (every account of a multi-account run).
static SUPPRESSED: std::sync::Mutex<Vec<HubFinding>> = std::sync::Mutex::new(Vec::new());

/// `--from-security-hub` was given: every plan of the run reads Security Hub first.
pub fn enable_input() {
    let _ = INPUT.set(true);
}

pub fn input_enabled() -> bool {
    INPUT.get().copied().unwrap_or(false)
}

/// The controls to plan and where: each control with a FAILED finding that is not
/// suppressed, and for each such control the regions with any FAILED finding of it (a
/// suppressed one too, so the plan shows it excepted). Installs the suppressed findings as
/// exceptions for [`exception_for`].
pub fn select(found: &[HubFinding]) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for f in found.iter().filter(|f| !f.suppressed) {
        for s in &f.slugs {
            out.entry(s.clone()).or_default();
        }
    }
    for f in found {
        for s in &f.slugs {
            if let Some(r) = out.get_mut(s) {
                r.insert(f.region.clone());
            }
        }
    }
    let mut held = SUPPRESSED.lock().unwrap_or_else(|p| p.into_inner());
    held.extend(found.iter().filter(|f| f.suppressed).cloned());
    out
}

/// The Security Hub suppression that excepts `item` of `account`, if any: a suppressed
/// finding of the item's control whose resource is the item's target (its ARN or resource
/// id), or the account itself (then in the item's region, or anywhere for a global control).
pub fn exception_for(
    account: &str,
    item: &crate::plan::Item,
    candidates: &[String],
) -> Option<crate::plan::ExceptionRef> {
    let held = SUPPRESSED.lock().unwrap_or_else(|p| p.into_inner());
    let hit = held.iter().find(|f| {
        f.account == account
            && f.slugs.contains(&item.control)
            && f.resources.iter().any(|r| {
                if r.starts_with("AWS::::Account:") {
                    item.region.as_deref().is_none_or(|ir| ir == f.region)
                } else {
                    let tail = r.rsplit(['/', ':']).next().unwrap_or(r);
                    candidates.iter().any(|c| c == r || c == tail)
                }
            })
    })?;
    let (text, by) = hit.note.clone().unwrap_or_default();
    Some(crate::plan::ExceptionRef {
        reason: if text.trim().is_empty() {
            "(suppressed in Security Hub without a note)".into()
        } else {
            text
        },
        owner: if by.trim().is_empty() {
            "not stated (Security Hub)".into()
        } else {
            by
        },
        expires: None,
        source: format!("Security Hub finding {}", hit.id),
        was: item.finding.status,
    })
}

/// What `--from-security-hub` decided for one plan: each selected control's regions.
pub type Selected = BTreeMap<String, std::collections::BTreeSet<String>>;

/// Read Security Hub and narrow the run's controls to those it holds FAILED (and not
/// suppressed); installs the suppressed findings as exceptions.
pub async fn narrow(
    aws: &AwsContext,
    cat: &crate::catalog::Catalog,
    entries: &mut Vec<&crate::catalog::Entry>,
    regions: &mut Vec<String>,
) -> Result<Selected, crate::exit::Fatal> {
    let found = read_failed(aws, cat, regions)
        .await
        .map_err(|e| crate::exit::Fatal {
            exit: crate::exit::Exit::Failed,
            message: format!("--from-security-hub: cannot read Security Hub's findings: {e}"),
        })?;
    let selected = select(&found);
    entries.retain(|e| selected.contains_key(&e.slug));
    if !crate::engine::needs_regions(entries) {
        regions.clear();
    }
    tracing::info!(
        findings = found.len(),
        controls = selected.len(),
        "Security Hub: FAILED findings read"
    );
    Ok(selected)
}

/// Drop the items of a regional control in regions where Security Hub holds no FAILED
/// finding of it (a global control's items have no region and stay).
pub fn keep_hub_regions(plan: &mut crate::plan::Plan, selected: &Selected) {
    plan.items
        .retain(|i| match (&i.region, selected.get(&i.control)) {
            (Some(r), Some(set)) => set.contains(r),
            _ => true,
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_form_maps_to_its_controls() {
        let cat = crate::catalog::Catalog::embedded().unwrap();
        let one = |sc: Option<&str>, g: &str| slugs_of(cat, sc, g);
        assert_eq!(one(Some("EC2.7"), "whatever"), ["ebs-default-encryption"]);
        assert_eq!(
            one(None, "security-control/IAM.15"),
            ["password-min-length"]
        );
        assert_eq!(
            one(
                None,
                "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/1.9"
            ),
            ["password-min-length"]
        );
        assert_eq!(
            one(None, "cis-aws-foundations-benchmark/v/1.4.0/1.8"),
            ["password-min-length"]
        );
        assert_eq!(
            one(None, "cis-fix/ebs-default-encryption"),
            ["ebs-default-encryption"]
        );
        assert!(one(None, "aws-foundational-security-best-practices/v/1.0.0/X.1").is_empty());
        assert!(one(Some("Nope.1"), "").is_empty());
    }

    #[test]
    fn a_control_only_suppressed_is_not_selected() {
        let f = |id: &str, region: &str, suppressed| HubFinding {
            id: id.into(),
            account: "111111111111".into(),
            region: region.into(),
            slugs: vec!["ebs-default-encryption".into()],
            resources: vec!["AWS::::Account:111111111111".into()],
            suppressed,
            note: None,
        };
        assert!(select(&[f("a", "eu-west-1", true)]).is_empty());
        let s = select(&[f("b", "eu-west-1", false), f("c", "us-east-1", true)]);
        let regions: Vec<&String> = s["ebs-default-encryption"].iter().collect();
        assert_eq!(regions, ["eu-west-1", "us-east-1"]);
    }
}
