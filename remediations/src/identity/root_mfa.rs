//! CIS 5.0 1.4: MFA is enabled for the root user. Check-only: MFA must be enrolled while
//! signed in as root.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;

pub struct RootMfa;

const DESCRIPTION: Description = Description {
    slug: "root-mfa",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &["iam:GetAccountSummary"],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "root user MFA";

#[async_trait]
impl Control for RootMfa {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let summary = cx.reads.account_summary(cx.aws).await?;
        let mfa = summary.get("AccountMFAEnabled").copied().unwrap_or(0);
        let before = json!({ "AccountMFAEnabled": mfa });
        Ok(vec![if mfa == 1 {
            Finding::compliant(TARGET, "the root user has MFA enabled", before)
        } else {
            Finding::manual(
                TARGET,
                "the root user has no MFA device",
                before,
                &[
                    "Sign in as the root user and open Security credentials > Multi-factor authentication.",
                    "Assign an MFA device (a hardware key for CIS Level 2) and store the recovery details with your break-glass procedure.",
                ],
            )
        }])
    }
}
