//! CIS 5.0 1.21: access to AWSCloudShellFullAccess is restricted. CloudShell gives a shell
//! with the principal's credentials and file upload/download, a path for data exfiltration;
//! CIS asks that the managed policy be attached to no one. Each attachment is detached on
//! its own confirmation; the caller's own user, groups and role are skipped.

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Finding, Risk};
use crate::resources::policy_attachments::{self as pa, Watched, Wording};

pub struct CloudshellFullAccess;

const DESCRIPTION: Description = Description {
    slug: "cloudshell-full-access-restricted",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: pa::READ_ACTIONS,
    write_actions: pa::WRITE_ACTIONS,
    change_profile: "medium (the principal loses CloudShell; asked one by one, never from the principal running cis-fix unless include_caller); reversible: undo attaches the policy again",
};

const WORDING: Wording = Wording {
    grants: "full CloudShell access (a shell with its credentials, file upload and download)",
    notes: &[
        "The principal loses AWS CloudShell; if it needs a shell, grant a narrower CloudShell policy (e.g. without file transfer) instead.",
    ],
    risk: Risk::Medium,
};

#[async_trait]
impl Control for CloudshellFullAccess {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let policy = Watched {
            arn: format!(
                "arn:{}:iam::aws:policy/AWSCloudShellFullAccess",
                cx.aws.account.partition
            ),
            name: "AWSCloudShellFullAccess".into(),
        };
        pa::plan_pairs(cx, &[policy], &WORDING).await
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        pa::detach(cx, &f.before).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        pa::restore(cx, previous).await
    }
}
