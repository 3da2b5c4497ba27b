//! CIS 5.0 1.13 (1.2: 1.4): access keys are rotated every 90 days or less.
//!
//! Rotating means issuing a new key and giving its secret to the consumer, which cis-fix
//! cannot do; the plan names each active key older than 90 days with the rotation steps.
//! Deactivating the old key is offered as a change marked in use (its consumers break):
//! `apply --yes` skips it, `--force-in-use` or an interactive answer applies it.
//! Reversible: undo re-activates.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::access_keys::{self as ak, describe_use, key_before, KeyInfo, LastUsed};
use crate::resources::caller;
use crate::resources::iam_details;

pub struct AccessKeyRotation;

const DESCRIPTION: Description = Description {
    slug: SLUG,
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:ListUsers",
            "iam:ListAccessKeys",
            ak::GET_LAST_USED,
            "iam:ListGroupsForUser",
            "iam:GetAccountAuthorizationDetails",
        ],
    write_actions: &[ak::UPDATE_KEY],
    change_profile: "high (the old key's consumers break unless rotated first): only on explicit request, marked in use so --yes alone skips it (--force-in-use applies it); reversible: undo re-activates the key",
};

const SLUG: &str = "access-key-rotation";

/// One key's finding as of `now`. Pure.
pub fn key_finding(
    now: OffsetDateTime,
    user: &str,
    k: &KeyInfo,
    last: &LastUsed,
    guarded: bool,
) -> Finding {
    let target = ak::key_target(user, &k.id);
    let before = key_before(user, k, last);
    if !k.active {
        return Finding::compliant(target, "inactive", before);
    }
    let Some(age) = ak::overdue_days(now, k.created) else {
        let age = k.created.map(|c| (now - c).whole_days());
        let summary = match age {
            Some(a) => format!(
                "{a} days old (CIS: rotate within {} days)",
                ak::MAX_KEY_AGE_DAYS
            ),
            None => "creation date unknown".into(),
        };
        return Finding::compliant(target, summary, before);
    };
    let summary = format!(
        "active key is {age} days old (CIS: rotate within {} days); {}",
        ak::MAX_KEY_AGE_DAYS,
        describe_use(last)
    );
    if guarded {
        return ak::left_alone(target, user, &summary, before);
    }
    let mut f = ak::in_use_deactivation(
        user,
        k,
        last,
        before,
        format!("{summary}: rotate it, then deactivate it"),
    )
    .with_note("cis-fix only deactivates the old key, and only on explicit request: `apply --yes` skips it (pass --force-in-use), an interactive apply asks for it separately. Rotate first. Reversible: undo re-activates the key.");
    f.manual_steps = vec![
        format!("Create a new key: aws iam create-access-key --user-name {user} (a user may have two keys at once)."),
        format!("Give the new secret to whatever uses {} and check it works (the old key's last-used date stops moving).", k.id),
        format!("Deactivate the old key: aws iam update-access-key --user-name {user} --access-key-id {} --status Inactive (or apply this change).", k.id),
        "Delete it once nothing breaks: aws iam delete-access-key. Better still, move the workload to a role.".into(),
    ];
    f
}

#[async_trait]
impl Control for AccessKeyRotation {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let now = OffsetDateTime::now_utc();
        let report = cx.reads.credential_report(cx.aws).await?;
        let me = caller(cx).await?;
        let mut out = Vec::new();
        for u in ak::users(cx).await? {
            let guarded = me.is_user(&u.name) && !cx.params.include_caller;
            let mut found: Vec<Finding> = ak::settled_finding(&u).into_iter().collect();
            for (k, last) in ak::keys_with_use(cx, &report, &u, now).await? {
                found.push(key_finding(now, &u.name, &k, &last, guarded));
            }
            // Exceptions match on the user's tags.
            for f in found {
                out.push(iam_details::with_user_tags(cx, &u.name, f).await?);
            }
        }
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        ak::deactivate_key(cx, SLUG, &f.target).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        ak::restore_key(cx, SLUG, target, previous).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2024-06-30 12:00 UTC);

    fn key(active: bool, age: i64) -> KeyInfo {
        KeyInfo {
            id: "AKIAEXAMPLE".into(),
            active,
            created: Some(NOW - Duration::days(age)),
        }
    }

    #[test]
    fn keys_older_than_90_days_are_flagged_in_use() {
        let f = key_finding(NOW, "bob", &key(true, 91), &LastUsed::default(), false);
        assert_eq!(f.status, Status::Change);
        assert!(f.summary.contains("91 days old"), "{}", f.summary);
        assert!(!f.in_use.is_empty());
        assert!(f.reversible);
        assert_eq!(f.manual_steps.len(), 4);
        let f = key_finding(NOW, "bob", &key(true, 90), &LastUsed::default(), false);
        assert_eq!(f.status, Status::Compliant);
        assert!(f.summary.starts_with("90 days old"), "{}", f.summary);
        let f = key_finding(NOW, "bob", &key(false, 900), &LastUsed::default(), false);
        assert_eq!(f.status, Status::Compliant);
        let f = key_finding(NOW, "bob", &key(true, 900), &LastUsed::default(), true);
        assert_eq!(f.status, Status::Skipped);
    }
}
