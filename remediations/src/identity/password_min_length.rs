//! CIS 5.0 1.7: the password policy requires at least 14 characters.

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::password_policy::{self, write_after, MIN_LENGTH};

pub struct PasswordMinLength;

const DESCRIPTION: Description = Description {
    slug: "password-min-length",
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
impl Control for PasswordMinLength {
    fn description(&self) -> &Description {
        &DESCRIPTION
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
