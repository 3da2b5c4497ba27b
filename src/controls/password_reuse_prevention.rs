//! CIS 5.0 1.8: the password policy prevents reuse of the last 24 passwords.

use async_trait::async_trait;
use serde_json::Value;

use super::password_min_length::write_after;
use super::password_policy;
use super::{Control, Cx, Kind, Scope};
use crate::aws::AwsError;
use crate::plan::Finding;

/// CIS asks for 24, which is also the most AWS allows (Security Hub IAM.16 wants exactly 24).
pub const REMEMBER: i32 = 24;

pub struct PasswordReusePrevention;

#[async_trait]
impl Control for PasswordReusePrevention {
    fn slug(&self) -> &'static str {
        "password-reuse-prevention"
    }
    fn scope(&self) -> Scope {
        Scope::Global
    }
    fn kind(&self) -> Kind {
        Kind::Fix
    }
    fn read_actions(&self) -> &'static [&'static str] {
        &["iam:GetAccountPasswordPolicy"]
    }
    fn change_profile(&self) -> &'static str {
        "low; reversible: undo restores the previous policy exactly, or deletes a policy cis-fix created"
    }
    fn write_actions(&self) -> &'static [&'static str] {
        &[
            "iam:UpdateAccountPasswordPolicy",
            "iam:DeleteAccountPasswordPolicy",
        ]
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
