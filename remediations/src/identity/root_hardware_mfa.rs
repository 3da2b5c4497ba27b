//! CIS 5.0 1.5: the root user's MFA is a hardware device. Check-only.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;

pub struct RootHardwareMfa;

const DESCRIPTION: Description = Description {
    slug: "root-hardware-mfa",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &["iam:GetAccountSummary", "iam:ListVirtualMFADevices"],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "root user MFA device type";

#[async_trait]
impl Control for RootHardwareMfa {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let summary = cx.reads.account_summary(cx.aws).await?;
        let mfa = summary.get("AccountMFAEnabled").copied().unwrap_or(0);
        let steps: &[&str] = &[
            "Sign in as the root user and open Security credentials > Multi-factor authentication.",
            "Register a hardware MFA device (FIDO security key or hardware TOTP token), then remove the virtual one.",
        ];
        if mfa != 1 {
            return Ok(vec![Finding::manual(
                TARGET,
                "the root user has no MFA device at all",
                json!({ "AccountMFAEnabled": mfa }),
                steps,
            )]);
        }
        let root_arn = format!(
            "arn:{}:iam::{}:root",
            cx.aws.account.partition, cx.aws.account.id
        );
        let virtual_root = cx
            .reads
            .assigned_virtual_mfa(cx.aws)
            .await?
            .into_iter()
            .any(|d| {
                d.ends_with(&format!("|{root_arn}")) || d.contains(":mfa/root-account-mfa-device|")
            });
        let before = json!({ "AccountMFAEnabled": mfa, "RootVirtualMFA": virtual_root });
        Ok(vec![if virtual_root {
            Finding::manual(
                TARGET,
                "the root user's MFA is a virtual device",
                before,
                steps,
            )
        } else {
            Finding::compliant(
                TARGET,
                "the root user's MFA is not a virtual device",
                before,
            )
        }])
    }
}
