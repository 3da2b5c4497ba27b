//! `plan --format asff`: the plan's failures as AWS Security Finding Format findings (product
//! `cis-fix`), a JSON array ready for Security Hub's `BatchImportFindings`, so the people who
//! track status in Security Hub see what cis-fix sees. Pure: a function of the plan.
//!
//! Failures are items with status `change`, `manual`, `blocked` or `excepted`; an excepted
//! item's finding carries workflow status `SUPPRESSED` and the exception as its note.

use serde_json::{json, Value};

use crate::plan::{Item, Plan, Status};

/// The ASFF schema version Security Hub accepts.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// The fields `BatchImportFindings` requires of every finding.
pub const REQUIRED: [&str; 13] = [
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
    // Not required by the API, but every finding of a standard check has it.
    "Compliance",
];

const TYPE: &str = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark";

/// At most `n` characters (ASFF limits Title to 256 and Description to 1024).
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The resource a finding is about: its ASFF type and id (an ARN where the target names one).
fn resource(plan: &Plan, item: &Item, region: &str) -> Value {
    let p = &plan.account.partition;
    let a = &plan.account.id;
    let t = &item.finding.target;
    let word = |prefix: &str| {
        t.strip_prefix(prefix)
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string)
    };
    let (kind, id) = if let Some(b) = word("bucket ") {
        ("AwsS3Bucket", format!("arn:{p}:s3:::{b}"))
    } else if let Some(g) = word("security group ") {
        (
            "AwsEc2SecurityGroup",
            format!("arn:{p}:ec2:{region}:{a}:security-group/{g}"),
        )
    } else if let Some(i) = word("instance ") {
        (
            "AwsEc2Instance",
            format!("arn:{p}:ec2:{region}:{a}:instance/{i}"),
        )
    } else {
        ("AwsAccount", format!("AWS::::Account:{a}"))
    };
    let mut r = json!({ "Type": kind, "Id": id, "Partition": p, "Region": region });
    if kind == "AwsAccount" {
        r["Details"] = json!({ "Other": { "target": cut(t, 1024) } });
    }
    r
}

fn severity(item: &Item) -> &'static str {
    // The benchmark gives no severity; a change cis-fix rates high risk is most urgent to
    // look at, anything else failing is medium.
    match item.finding.risk {
        crate::plan::Risk::High => "HIGH",
        _ => "MEDIUM",
    }
}

/// One ASFF finding for a failing item.
fn finding(plan: &Plan, item: &Item, home_region: &str) -> Value {
    let region = item.region.as_deref().unwrap_or(home_region);
    let a = &plan.account.id;
    let p = &plan.account.partition;
    let f = &item.finding;
    let mut v = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": cut(&format!("cis-fix/{a}/{}/{}/{}", item.where_(), item.control, f.target), 512),
        "ProductArn": format!("arn:{p}:securityhub:{region}:{a}:product/{a}/default"),
        "ProductName": "cis-fix",
        "CompanyName": "cis-fix",
        "GeneratorId": format!("cis-fix/{}", item.control),
        "AwsAccountId": a,
        "Region": region,
        "Types": [TYPE],
        "CreatedAt": plan.created_at,
        "UpdatedAt": plan.created_at,
        "Severity": { "Label": severity(item) },
        "Title": cut(&format!("{} {} ({})", item.id, item.title, plan.benchmark), 256),
        "Description": cut(&format!("{}: {}", f.target, f.summary), 1024),
        "Resources": [resource(plan, item, region)],
        "Compliance": {
            "Status": "FAILED",
            "RelatedRequirements": [format!("CIS AWS Foundations Benchmark v{}/{}", plan.benchmark.full(), item.id)],
        },
        "RecordState": "ACTIVE",
        "Workflow": { "Status": "NEW" },
        "ProductFields": {
            "cis-fix/control": item.control,
            "cis-fix/status": serde_json::to_value(f.status).unwrap_or_default(),
        },
    });
    match f.status {
        Status::Change | Status::Blocked => {
            v["Remediation"] = json!({ "Recommendation": { "Text": cut(&format!(
                "Run `cis-fix apply --control {}` (plan first with `cis-fix plan --control {}`).",
                item.control, item.control
            ), 512) } });
        }
        Status::Manual => {
            v["Remediation"] = json!({ "Recommendation": {
                "Text": cut(&f.manual_steps.join(" "), 512)
            } });
        }
        _ => {}
    }
    if let Some(e) = &f.exception {
        v["Workflow"] = json!({ "Status": "SUPPRESSED" });
        v["Note"] = json!({
            "Text": cut(&format!(
                "Excepted by {} ({}, owner {}): {}",
                e.source,
                e.expires.as_deref().map(|d| format!("until {d}")).unwrap_or_else(|| "permanent".into()),
                e.owner,
                e.reason
            ), 512),
            "UpdatedBy": "cis-fix",
            "UpdatedAt": plan.created_at,
        });
    }
    v
}

/// The plan's failures as a JSON array of ASFF findings. `home_region` places account-wide
/// findings (Security Hub imports a finding in its ProductArn's region).
pub fn plan_asff(plan: &Plan, home_region: &str) -> Value {
    Value::Array(
        plan.items
            .iter()
            .filter(|i| {
                matches!(
                    i.finding.status,
                    Status::Change | Status::Manual | Status::Blocked | Status::Excepted
                )
            })
            .map(|i| finding(plan, i, home_region))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_the_required_fields() {
        let plan = super::super::text::fold_tests::multi_region_plan();
        let out = plan_asff(&plan, "eu-west-1");
        let all = out.as_array().unwrap();
        assert!(!all.is_empty());
        for f in all {
            for k in REQUIRED {
                assert!(f.get(k).is_some(), "{k} missing in {f}");
            }
            assert!(f["Title"].as_str().unwrap().chars().count() <= 256);
            assert!(f["Description"].as_str().unwrap().chars().count() <= 1024);
        }
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
