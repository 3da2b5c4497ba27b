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
    /// The product that owns it (BatchUpdateFindings names a finding by id and product).
    pub product_arn: String,
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

/// Reduce one SDK finding; `None` unless it is an ACTIVE finding of a catalog control (and
/// FAILED when `failed_only`). (The emulator ignores GetFindings' filters, so they are
/// checked here too.)
fn reduce(
    cat: &crate::catalog::Catalog,
    f: &AwsSecurityFinding,
    queried: &str,
    failed_only: bool,
) -> Option<HubFinding> {
    let c = f.compliance()?;
    if failed_only && c.status() != Some(&ComplianceStatus::Failed) {
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
        product_arn: f.product_arn().unwrap_or_default().to_string(),
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
    read_findings(aws, cat, regions, true).await
}

/// The ACTIVE CIS findings of the account (FAILED ones only when `failed_only`).
pub async fn read_findings(
    aws: &AwsContext,
    cat: &crate::catalog::Catalog,
    regions: &[String],
    failed_only: bool,
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
    let mut fb = AwsSecurityFindingFilters::builder()
        .record_state(eq("ACTIVE"))
        .aws_account_id(eq(&aws.account.id));
    if failed_only {
        fb = fb.compliance_status(eq("FAILED"));
    }
    let filters = fb.build();
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
                if let Some(h) = reduce(cat, f, region, failed_only) {
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

/// Whether finding `f` is about `control`'s target named by `candidates` in `region` (`None`:
/// a global control): its resource is the target (ARN or resource id), or the account itself
/// (in the target's region, or anywhere for a global control).
fn is_about(f: &HubFinding, control: &str, region: Option<&str>, candidates: &[String]) -> bool {
    f.slugs.iter().any(|s| s == control)
        && f.resources.iter().any(|r| {
            if r.starts_with("AWS::::Account:") {
                region.is_none_or(|ir| ir == f.region)
            } else {
                let tail = r.rsplit(['/', ':']).next().unwrap_or(r);
                candidates.iter().any(|c| c == r || c == tail)
            }
        })
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
        f.account == account && is_about(f, &item.control, item.region.as_deref(), candidates)
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

    /// moto 5.2.5 has no BatchUpdateFindings, so the request `--update-security-hub` sends is
    /// checked against the SDK's StaticReplayClient: GetFindings answers three findings, and
    /// only the one of the changed control and target (not suppressed) is marked RESOLVED.
    #[test]
    fn update_marks_only_the_changed_controls_findings() {
        use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
        use aws_smithy_runtime_api::http::{Request as Req, Response as Resp};
        use aws_smithy_types::body::SdkBody;
        let finding = |id: &str, control: &str, workflow: &str| {
            serde_json::json!({
                "SchemaVersion": "2018-10-08", "Id": id,
                "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/securityhub",
                "GeneratorId": format!("security-control/{control}"),
                "AwsAccountId": "111122223333", "Region": "eu-west-1",
                "Types": ["Software and Configuration Checks"],
                "CreatedAt": "2026-11-01T00:00:00Z", "UpdatedAt": "2026-11-01T00:00:00Z",
                "Severity": {"Label": "MEDIUM"}, "Title": id, "Description": id,
                "Resources": [{"Type": "AwsAccount", "Id": "AWS::::Account:111122223333"}],
                "Compliance": {"Status": "FAILED", "SecurityControlId": control},
                "RecordState": "ACTIVE", "Workflow": {"Status": workflow}
            })
        };
        let got = serde_json::json!({ "Findings": [
            finding("f-ebs", "EC2.7", "NEW"),
            finding("f-pw", "IAM.15", "NEW"),
            finding("f-ebs-kept", "EC2.7", "SUPPRESSED"),
        ]});
        let event = |body: String| {
            let mut req = Req::new(SdkBody::empty());
            req.set_uri("https://securityhub.eu-west-1.amazonaws.com/")
                .unwrap();
            ReplayEvent::new(req, Resp::new(200.try_into().unwrap(), SdkBody::from(body)))
        };
        let http = StaticReplayClient::new(vec![
            event(got.to_string()),
            event(
                r#"{"ProcessedFindings":[{"Id":"f-ebs","ProductArn":"arn:aws:securityhub:eu-west-1::product/aws/securityhub"}],"UnprocessedFindings":[]}"#.into(),
            ),
        ]);
        let aws = AwsContext::for_replay(
            aws_smithy_runtime_api::client::http::SharedHttpClient::new(http.clone()),
            "111122223333",
            "eu-west-1",
        );
        let touched = vec![Touched {
            control: "ebs-default-encryption".into(),
            region: Some("eu-west-1".into()),
            target: "EBS encryption by default".into(),
            before: Value::Null,
            note: "cis-fix run R1: applied and verified 2.2.1".into(),
        }];
        // A large stack: the SDK's finding deserializer is deep in an unoptimized build.
        let lines = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(set_workflow(&aws, &touched, WorkflowStatus::Resolved))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            lines,
            ["Security Hub: 1 finding of ebs-default-encryption EBS encryption by default eu-west-1 marked RESOLVED."]
        );
        let reqs: Vec<_> = http.actual_requests().collect();
        assert_eq!(reqs.len(), 2);
        assert!(
            reqs[1].uri().ends_with("/findings/batchupdate"),
            "{}",
            reqs[1].uri()
        );
        let body: Value = serde_json::from_slice(reqs[1].body().bytes().unwrap()).unwrap();
        assert_eq!(
            body["FindingIdentifiers"],
            serde_json::json!([{"Id": "f-ebs", "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/securityhub"}])
        );
        assert_eq!(body["Workflow"]["Status"], "RESOLVED");
        assert_eq!(
            body["Note"]["Text"],
            "cis-fix run R1: applied and verified 2.2.1"
        );
        assert_eq!(body["Note"]["UpdatedBy"], "cis-fix");
        let first: Value = serde_json::from_slice(reqs[0].body().bytes().unwrap()).unwrap();
        assert_eq!(first["Filters"]["ComplianceStatus"][0]["Value"], "FAILED");
        assert_eq!(first["Filters"]["RecordState"][0]["Value"], "ACTIVE");
    }

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
            product_arn: String::new(),
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

// ---------------------------------------------------------------------------------------
// Output after apply/undo: `--update-security-hub`.

static UPDATE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// `--update-security-hub` was given.
pub fn enable_update() {
    let _ = UPDATE.set(true);
}

pub fn update_enabled() -> bool {
    UPDATE.get().copied().unwrap_or(false)
}

/// A change cis-fix made (or put back) and verified: whose findings to update.
#[derive(Debug, Clone)]
pub struct Touched {
    pub control: String,
    pub region: Option<String>,
    pub target: String,
    /// The observed state (its `arn`/`id`/`name` name the resource too).
    pub before: Value,
    /// The note written on its findings.
    pub note: String,
}

/// Set the workflow status of the findings about each touched target (same control through
/// the catalog's ids, same resource) to `status`, with the touched change's note. Findings of
/// other controls or resources, and suppressed ones, are never touched. One line per change
/// with findings updated, or why not.
pub async fn set_workflow(
    aws: &AwsContext,
    touched: &[Touched],
    status: WorkflowStatus,
) -> Vec<String> {
    use aws_sdk_securityhub::types::{AwsSecurityFindingIdentifier, NoteUpdate, WorkflowUpdate};
    if touched.is_empty() {
        return Vec::new();
    }
    let cat = match crate::catalog::Catalog::embedded() {
        Ok(c) => c,
        Err(e) => return vec![format!("Security Hub: not updated: {e}")],
    };
    let mut regions: Vec<String> = touched
        .iter()
        .map(|t| t.region.clone().unwrap_or_else(|| aws.home_region.clone()))
        .collect();
    regions.sort();
    regions.dedup();
    // After an apply the findings are still FAILED until Security Hub checks again; after an
    // undo they may have passed meanwhile: read both.
    let found = match read_findings(aws, cat, &regions, status == WorkflowStatus::Resolved).await {
        Ok(f) => f,
        Err(e) => return vec![format!("Security Hub: findings not updated: {e}")],
    };
    let mut lines = Vec::new();
    for t in touched {
        let cands = crate::exceptions::candidates(&t.target, &t.before, &aws.account.partition);
        let mut by_region: BTreeMap<&str, Vec<&HubFinding>> = BTreeMap::new();
        for f in found
            .iter()
            .filter(|f| !f.suppressed && is_about(f, &t.control, t.region.as_deref(), &cands))
        {
            by_region.entry(f.region.as_str()).or_default().push(f);
        }
        for (region, list) in by_region {
            for chunk in list.chunks(IMPORT_BATCH) {
                let ids: Vec<AwsSecurityFindingIdentifier> = chunk
                    .iter()
                    .map(|f| {
                        AwsSecurityFindingIdentifier::builder()
                            .id(&f.id)
                            .product_arn(&f.product_arn)
                            .build()
                    })
                    .collect();
                let sent = aws
                    .securityhub(region)
                    .batch_update_findings()
                    .set_finding_identifiers(Some(ids))
                    .workflow(WorkflowUpdate::builder().status(status.clone()).build())
                    .note(
                        NoteUpdate::builder()
                            .text(&t.note)
                            .updated_by("cis-fix")
                            .build(),
                    )
                    .send()
                    .await;
                lines.push(match sent {
                    Ok(out) if out.unprocessed_findings().is_empty() => format!(
                        "Security Hub: {} finding{} of {} {} {} marked {}.",
                        chunk.len(),
                        if chunk.len() == 1 { "" } else { "s" },
                        t.control,
                        t.target,
                        region,
                        status.as_str()
                    ),
                    Ok(out) => format!(
                        "Security Hub: {} of {} findings of {} {} not updated: {}",
                        out.unprocessed_findings().len(),
                        chunk.len(),
                        t.control,
                        t.target,
                        out.unprocessed_findings()
                            .iter()
                            .map(|u| u.error_message().unwrap_or("?").to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    Err(e) => format!(
                        "Security Hub: findings of {} {} not updated: {}",
                        t.control,
                        t.target,
                        crate::aws::AwsError::from_sdk("securityhub:BatchUpdateFindings", e)
                    ),
                });
            }
        }
    }
    lines
}

/// `apply --update-security-hub`: mark the findings of each verified change RESOLVED.
pub async fn after_apply(
    aws: &AwsContext,
    run_id: &str,
    outcomes: &[crate::engine::ApplyOutcome],
    approved: &[&crate::plan::Item],
) {
    if !update_enabled() {
        return;
    }
    let touched: Vec<Touched> = outcomes
        .iter()
        .zip(approved)
        .filter(|(o, _)| matches!(o.result, crate::engine::ChangeResult::Verified))
        .map(|(o, i)| Touched {
            control: i.control.clone(),
            region: i.region.clone(),
            target: i.finding.target.clone(),
            before: i.finding.before.clone(),
            note: format!(
                "cis-fix run {run_id}: applied and verified {}; undo with `cis-fix undo {run_id}`",
                o.label
            ),
        })
        .collect();
    for line in set_workflow(aws, &touched, WorkflowStatus::Resolved).await {
        crate::outln!("  {line}");
    }
}

/// `undo --update-security-hub`: mark the findings of each change put back NEW again.
pub async fn after_undo(
    aws: &AwsContext,
    undo_run_id: &str,
    run: &crate::journal::Run,
    outcomes: &[crate::engine::UndoOutcome],
) {
    if !update_enabled() {
        return;
    }
    let touched: Vec<Touched> = outcomes
        .iter()
        .filter(|o| matches!(o.result, crate::engine::UndoResult::Restored))
        .filter_map(|o| run.changes.iter().find(|c| c.seq == o.seq).map(|c| (o, c)))
        .map(|(o, c)| Touched {
            control: c.control.clone(),
            region: c.region.clone(),
            target: c.target.clone(),
            before: c.previous.clone(),
            note: format!(
                "cis-fix undo run {undo_run_id} put back change #{} of run {} ({}): no longer fixed",
                c.seq, run.run_id, o.label
            ),
        })
        .collect();
    for line in set_workflow(aws, &touched, WorkflowStatus::New).await {
        crate::outln!("  {line}");
    }
}
