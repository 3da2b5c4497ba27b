//! CIS 5.0 1.8: the password policy prevents reuse of the last 24 passwords.

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::password_policy::write_after;
use crate::resources::password_policy::{self, REMEMBER};

pub struct PasswordReusePrevention;

const DESCRIPTION: Description = Description {
    slug: "password-reuse-prevention",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &["iam:GetAccountPasswordPolicy"],
    write_actions: &[
            "iam:UpdateAccountPasswordPolicy",
            "iam:DeleteAccountPasswordPolicy",
        ],
    change_profile: "low; reversible: undo restores the previous policy exactly, or deletes a policy cis-fix created",
};

#[async_trait]
impl Control for PasswordReusePrevention {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let current = cx.reads.password_policy(cx.aws).await?;
        Ok(vec![password_policy::finding(
            current.as_ref(),
            |p| p.password_reuse_prevention.unwrap_or(0) >= REMEMBER,
            |p| p.password_reuse_prevention = Some(REMEMBER),
            |p| match p.and_then(|p| p.password_reuse_prevention) {
                None => "password reuse is not prevented".into(),
                Some(n) => format!("remembers the last {n} passwords (CIS: {REMEMBER})"),
            },
        )])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        write_after(cx, f).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _r: Option<&str>,
        _t: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        password_policy::restore(cx.aws, previous).await
    }
}
