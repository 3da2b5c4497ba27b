//! CIS 5.0 1.6: the root user is not used for daily tasks. Check-only, from the credential
//! report's `<root_account>` row.

use async_trait::async_trait;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::credential_report::{parse_date, CredentialReport};

pub struct RootUsage;

const DESCRIPTION: Description = Description {
    slug: "root-usage",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &["iam:GenerateCredentialReport", "iam:GetCredentialReport"],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "root user activity";
/// Root use within this many days is reported for review.
pub const RECENT_DAYS: i64 = 30;

const COLUMNS: [&str; 3] = [
    "password_last_used",
    "access_key_1_last_used_date",
    "access_key_2_last_used_date",
];

#[async_trait]
impl Control for RootUsage {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let report = cx.reads.credential_report(cx.aws).await?;
        Ok(vec![assess(&report, OffsetDateTime::now_utc())])
    }
}

/// Judge root activity as of `now` (a parameter so fixtures can test it).
pub fn assess(report: &CredentialReport, now: OffsetDateTime) -> Finding {
    let Some(root) = report.root() else {
        return Finding::unknown(
            TARGET,
            "the credential report has no <root_account> row, so root activity cannot be judged",
        );
    };
    let before = json!(COLUMNS
        .iter()
        .map(|c| (
            c.to_string(),
            json!(root.get(*c).cloned().unwrap_or_default())
        ))
        .collect::<serde_json::Map<_, _>>());
    let last = COLUMNS
        .iter()
        .filter_map(|c| parse_date(root.get(*c)))
        .max();
    match last {
        Some(t) if now - t <= Duration::days(RECENT_DAYS) => Finding::manual(
            TARGET,
            format!("the root user was used {} days ago", (now - t).whole_days()),
            before,
            &[
                "Review the root activity in CloudTrail (userIdentity.type = Root) and find out who used it and why.",
                "Move that task to an IAM role or IAM Identity Center permission set; keep root for the few tasks that need it.",
                "Enable the root-usage alarm (CIS 4.3) so future use is noticed.",
            ],
        ),
        Some(t) => Finding::compliant(
            TARGET,
            format!("the root user was last used {} days ago", (now - t).whole_days()),
            before,
        ),
        None => Finding::compliant(TARGET, "no recorded use of the root user", before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;
    use crate::resources::credential_report::fixtures;
    use time::macros::datetime;

    #[test]
    fn recent_root_use_needs_review() {
        let r =
            CredentialReport::parse(&fixtures::report("2024-06-01T12:00:00+00:00", "N/A")).unwrap();
        let f = assess(&r, datetime!(2024-06-04 12:00 UTC));
        assert_eq!(f.status, Status::Manual);
        assert!(f.summary.contains("3 days ago"), "{}", f.summary);
    }

    #[test]
    fn old_or_no_root_use_is_compliant() {
        let r =
            CredentialReport::parse(&fixtures::report("2024-01-01T12:00:00+00:00", "N/A")).unwrap();
        assert_eq!(
            assess(&r, datetime!(2024-06-04 12:00 UTC)).status,
            Status::Compliant
        );
        let r = CredentialReport::parse(&fixtures::report("no_information", "N/A")).unwrap();
        assert_eq!(
            assess(&r, datetime!(2024-06-04 12:00 UTC)).status,
            Status::Compliant
        );
    }

    #[test]
    fn key_use_counts_too() {
        let r =
            CredentialReport::parse(&fixtures::report("N/A", "2024-06-03T00:00:00+00:00")).unwrap();
        assert_eq!(
            assess(&r, datetime!(2024-06-04 12:00 UTC)).status,
            Status::Manual
        );
    }

    #[test]
    fn missing_root_row_is_unknown() {
        let r = CredentialReport::default();
        assert_eq!(
            assess(&r, datetime!(2024-06-04 12:00 UTC)).status,
            Status::Unknown
        );
    }
}
