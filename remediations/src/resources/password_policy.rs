//! The account password policy, shared by the minimum-length and reuse-prevention controls.
//!
//! `UpdateAccountPasswordPolicy` has no partial update: every field it is not given reverts to
//! its default. So both controls read the whole policy, merge their one requirement into it
//! (keeping stricter values), show the whole merged policy, and write all of it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsContext, AwsError};
use crate::control::Cx;
use crate::plan::{Action, ApiCall, Finding};

/// CIS 1.7: the minimum password length.
pub const MIN_LENGTH: i32 = 14;
/// CIS 1.8: how many previous passwords are remembered. CIS asks for 24, which is also the
/// most AWS allows (Security Hub IAM.16 wants exactly 24).
pub const REMEMBER: i32 = 24;

pub const TARGET: &str = "account password policy";

/// Every settable field of the policy, with AWS's names. `ExpirePasswords` is left out: AWS
/// derives it from `MaxPasswordAge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicyDoc {
    pub minimum_password_length: i32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    /// Days; `None` means passwords never expire.
    pub max_password_age: Option<i32>,
    /// `None` means no reuse prevention.
    pub password_reuse_prevention: Option<i32>,
    pub hard_expiry: bool,
}

impl PasswordPolicyDoc {
    /// What cis-fix creates when the account has no policy at all. Without a custom policy
    /// AWS enforces its own default (8+ characters, 3 of 4 character types, users may change
    /// their password); a custom policy replaces that, so keep its strength rather than drop
    /// to the API's bare defaults, and meet both CIS password controls in one write.
    pub fn new_baseline() -> Self {
        PasswordPolicyDoc {
            minimum_password_length: MIN_LENGTH,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            allow_users_to_change_password: true,
            max_password_age: None,
            password_reuse_prevention: Some(REMEMBER),
            hard_expiry: false,
        }
    }

    fn from_sdk(p: &aws_sdk_iam::types::PasswordPolicy) -> Self {
        PasswordPolicyDoc {
            minimum_password_length: p.minimum_password_length().unwrap_or(6),
            require_symbols: p.require_symbols(),
            require_numbers: p.require_numbers(),
            require_uppercase_characters: p.require_uppercase_characters(),
            require_lowercase_characters: p.require_lowercase_characters(),
            allow_users_to_change_password: p.allow_users_to_change_password(),
            max_password_age: p.max_password_age().filter(|d| *d > 0),
            password_reuse_prevention: p.password_reuse_prevention().filter(|n| *n > 0),
            hard_expiry: p.hard_expiry().unwrap_or(false),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn from_value(v: &Value) -> Result<Option<Self>, String> {
        if v.is_null() {
            return Ok(None);
        }
        serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

pub async fn read(aws: &AwsContext) -> Result<Option<PasswordPolicyDoc>, AwsError> {
    match aws.iam().get_account_password_policy().send().await {
        Ok(out) => Ok(out.password_policy().map(PasswordPolicyDoc::from_sdk)),
        Err(e) => {
            let e = AwsError::from_sdk("iam:GetAccountPasswordPolicy", e);
            if e.is_code("NoSuchEntity") {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Write the whole policy. Fields at their "off" value are omitted, because the API rejects
/// 0 for `MaxPasswordAge` and `PasswordReusePrevention` and omission means off.
pub async fn write(aws: &AwsContext, p: &PasswordPolicyDoc) -> Result<(), AwsError> {
    aws.iam()
        .update_account_password_policy()
        .minimum_password_length(p.minimum_password_length)
        .require_symbols(p.require_symbols)
        .require_numbers(p.require_numbers)
        .require_uppercase_characters(p.require_uppercase_characters)
        .require_lowercase_characters(p.require_lowercase_characters)
        .allow_users_to_change_password(p.allow_users_to_change_password)
        .set_max_password_age(p.max_password_age)
        .set_password_reuse_prevention(p.password_reuse_prevention)
        .hard_expiry(p.hard_expiry)
        .send()
        .await
        .map_err(aws_err("iam:UpdateAccountPasswordPolicy"))?;
    Ok(())
}

pub async fn delete(aws: &AwsContext) -> Result<(), AwsError> {
    aws.iam()
        .delete_account_password_policy()
        .send()
        .await
        .map_err(aws_err("iam:DeleteAccountPasswordPolicy"))?;
    Ok(())
}

/// Restore `previous` (a journaled `before`): the exact policy, or no policy at all.
pub async fn restore(aws: &AwsContext, previous: &Value) -> Result<(), AwsError> {
    let prev = PasswordPolicyDoc::from_value(previous).map_err(|e| {
        AwsError::new(
            crate::aws::ErrorKind::Service,
            "iam:UpdateAccountPasswordPolicy",
            format!("journaled password policy is unreadable: {e}"),
        )
    })?;
    match prev {
        Some(p) => write(aws, &p).await,
        None => match delete(aws).await {
            Err(e) if e.is_code("NoSuchEntity") => Ok(()),
            r => r,
        },
    }
}

/// The finding for one requirement: compliant, or the merged policy to write.
pub fn finding(
    current: Option<&PasswordPolicyDoc>,
    satisfied: impl Fn(&PasswordPolicyDoc) -> bool,
    require: impl Fn(&mut PasswordPolicyDoc),
    describe: impl Fn(Option<&PasswordPolicyDoc>) -> String,
) -> Finding {
    let before = current
        .map(PasswordPolicyDoc::to_value)
        .unwrap_or(Value::Null);
    if let Some(p) = current.filter(|p| satisfied(p)) {
        return Finding::compliant(TARGET, describe(Some(p)), before);
    }
    let (action, mut merged) = match current {
        Some(p) => (Action::Update, p.clone()),
        None => (Action::Create, PasswordPolicyDoc::new_baseline()),
    };
    require(&mut merged);
    let after = merged.to_value();
    let call = ApiCall::new("iam:UpdateAccountPasswordPolicy", call_params(&merged));
    let mut f = Finding::change(TARGET, describe(current), action, before, after, vec![call]);
    if current.is_none() {
        f = f.with_note(
            "The account has no custom policy, so AWS applies its default (8+ characters, 3 of 4 \
             character types). The new policy keeps that strength (all four character types \
             required, users may change their own password) and meets both CIS password \
             controls (14+ characters, 24 remembered). Undo deletes it again.",
        );
    }
    f
}

fn call_params(p: &PasswordPolicyDoc) -> Value {
    let mut v = json!({
        "MinimumPasswordLength": p.minimum_password_length,
        "RequireSymbols": p.require_symbols,
        "RequireNumbers": p.require_numbers,
        "RequireUppercaseCharacters": p.require_uppercase_characters,
        "RequireLowercaseCharacters": p.require_lowercase_characters,
        "AllowUsersToChangePassword": p.allow_users_to_change_password,
        "HardExpiry": p.hard_expiry,
    });
    if let Some(d) = p.max_password_age {
        v["MaxPasswordAge"] = json!(d);
    }
    if let Some(n) = p.password_reuse_prevention {
        v["PasswordReusePrevention"] = json!(n);
    }
    v
}

/// Write the merged policy a fresh finding carries in `after`.
pub async fn write_after(cx: &Cx<'_>, f: &Finding) -> Result<(), AwsError> {
    match PasswordPolicyDoc::from_value(&f.after) {
        Ok(Some(p)) => write(cx.aws, &p).await,
        _ => Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            "iam:UpdateAccountPasswordPolicy",
            "internal: the planned password policy is missing",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    fn policy(min: i32, reuse: Option<i32>, age: Option<i32>) -> PasswordPolicyDoc {
        PasswordPolicyDoc {
            minimum_password_length: min,
            max_password_age: age,
            password_reuse_prevention: reuse,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: false,
            hard_expiry: false,
        }
    }

    fn min14(p: Option<&PasswordPolicyDoc>) -> Finding {
        finding(
            p,
            |p| p.minimum_password_length >= 14,
            |p| p.minimum_password_length = p.minimum_password_length.max(14),
            |_| String::new(),
        )
    }

    #[test]
    fn merge_keeps_every_other_field() {
        let cur = policy(8, Some(5), Some(90));
        let f = min14(Some(&cur));
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.action, Some(Action::Update));
        let after = PasswordPolicyDoc::from_value(&f.after).unwrap().unwrap();
        assert_eq!(
            after,
            PasswordPolicyDoc {
                minimum_password_length: 14,
                ..cur
            }
        );
        assert_eq!(f.calls[0].params["MaxPasswordAge"], 90);
    }

    #[test]
    fn stricter_value_is_compliant() {
        assert_eq!(
            min14(Some(&policy(20, None, None))).status,
            Status::Compliant
        );
    }

    #[test]
    fn no_policy_creates_baseline() {
        let f = min14(None);
        assert_eq!(f.action, Some(Action::Create));
        assert!(f.before.is_null());
        let after = PasswordPolicyDoc::from_value(&f.after).unwrap().unwrap();
        assert_eq!(after.minimum_password_length, 14);
        assert!(after.require_symbols && after.allow_users_to_change_password);
        assert_eq!(after.password_reuse_prevention, Some(24));
    }
}
