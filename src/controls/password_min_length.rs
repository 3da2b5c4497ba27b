//! CIS 5.0 1.7: the password policy requires at least 14 characters.

use async_trait::async_trait;
use serde_json::Value;

use super::password_policy::{self, PasswordPolicyDoc};
use super::{Control, Cx, Kind, Scope};
use crate::aws::AwsError;
use crate::plan::Finding;

pub const MIN_LENGTH: i32 = 14;

pub struct PasswordMinLength;

#[async_trait]
impl Control for PasswordMinLength {
    fn slug(&self) -> &'static str {
        "password-min-length"
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
            |p| p.minimum_password_length >= MIN_LENGTH,
            |p| p.minimum_password_length = p.minimum_password_length.max(MIN_LENGTH),
            |p| match p {
                None => "no password policy: AWS default allows 8-character passwords".into(),
                Some(p) => format!(
                    "minimum length is {} (CIS: {MIN_LENGTH} or more)",
                    p.minimum_password_length
                ),
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

/// Write the merged policy a fresh finding carries in `after`.
pub(super) async fn write_after(cx: &Cx<'_>, f: &Finding) -> Result<(), AwsError> {
    match PasswordPolicyDoc::from_value(&f.after) {
        Ok(Some(p)) => password_policy::write(cx.aws, &p).await,
        _ => Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            "iam:UpdateAccountPasswordPolicy",
            "internal: the planned password policy is missing",
        )),
    }
}
