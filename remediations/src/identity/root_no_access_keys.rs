//! CIS 5.0 1.3: the root user has no access keys. Check-only: an IAM principal cannot
//! delete root keys (only root itself, or sts:AssumeRoot in an Organizations member account).

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;

pub struct RootNoAccessKeys;

const DESCRIPTION: Description = Description {
    slug: "root-no-access-keys",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &["iam:GetAccountSummary"],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "root user access keys";

#[async_trait]
impl Control for RootNoAccessKeys {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let summary = cx.reads.account_summary(cx.aws).await?;
        let present = summary
            .get("AccountAccessKeysPresent")
            .copied()
            .unwrap_or(0);
        let before = json!({ "AccountAccessKeysPresent": present });
        Ok(vec![if present == 0 {
            Finding::compliant(TARGET, "the root user has no access keys", before)
        } else {
            Finding::manual(
                TARGET,
                "the root user has access keys",
                before,
                &[
                    "Find what still uses the root keys (CloudTrail: userIdentity.type = Root with an accessKeyId) and move it to an IAM role.",
                    "Sign in as the root user, open Security credentials, and delete (not just deactivate) each access key.",
                    "In an Organizations member account with centralized root access, `aws sts assume-root` with the IAMDeleteRootUserCredentials task policy can delete them.",
                ],
            )
        }])
    }
}
