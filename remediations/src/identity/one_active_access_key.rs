//! CIS 5.0 1.12: each IAM user has at most one active access key.
//!
//! For a user with several active keys the plan names the key to retire (the least recently
//! used; a never-used key counts from its creation) and the one to keep. Deactivating it is a
//! change marked in use (its consumers break): `apply --yes` skips it, an interactive apply
//! asks for it on its own, and `--force-in-use` applies it. Reversible: undo re-activates.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::access_keys::{self as ak, describe_use, key_before, KeyInfo, LastUsed};
use crate::resources::caller;
use crate::resources::iam_details;

pub struct OneActiveAccessKey;

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
    change_profile: "high (the retired key's consumers break): only on explicit request, marked in use so --yes alone skips it (--force-in-use applies it); reversible: undo re-activates the key",
};

const SLUG: &str = "one-active-access-key";

/// The findings for one user's keys (all of them, so a deactivated key stays a target). Pure.
pub fn user_findings(user: &str, keys: &[(KeyInfo, LastUsed)], guarded: bool) -> Vec<Finding> {
    let active: Vec<(&KeyInfo, &LastUsed)> = keys
        .iter()
        .filter(|(k, _)| k.active)
        .map(|(k, l)| (k, l))
        .collect();
    let retire = ak::keys_to_retire(&active);
    let kept = active
        .iter()
        .map(|(k, _)| k.id.as_str())
        .find(|id| !retire.iter().any(|r| r == id))
        .unwrap_or_default()
        .to_string();
    keys.iter()
        .map(|(k, last)| {
            let target = ak::key_target(user, &k.id);
            let before = key_before(user, k, last);
            if !k.active {
                return Finding::compliant(target, "inactive", before);
            }
            if !retire.contains(&k.id) {
                let summary = if active.len() == 1 {
                    "the user's only active key".to_string()
                } else {
                    format!("kept: the most recently used of {} active keys ({})", active.len(), describe_use(last))
                };
                return Finding::compliant(target, summary, before);
            }
            let summary = format!(
                "user {user} has {} active keys; retire this one ({}) and keep {kept}",
                active.len(),
                describe_use(last)
            );
            if guarded {
                return ak::left_alone(target, user, &summary, before);
            }
            let mut f = ak::in_use_deactivation(user, k, last, before, summary)
                .with_note("Deactivated only on explicit request: `apply --yes` skips it (pass --force-in-use), an interactive apply asks for it separately. Reversible: undo re-activates the key.");
            f.manual_steps = vec![
                format!("Find what uses key {} (CloudTrail events with this accessKeyId, or the key's last-used service) and switch it to key {kept} or to a role.", k.id),
                format!("Deactivate it: aws iam update-access-key --user-name {user} --access-key-id {} --status Inactive", k.id),
                "Once nothing breaks for a while, delete it (aws iam delete-access-key).".into(),
            ];
            f
        })
        .collect()
}

#[async_trait]
impl Control for OneActiveAccessKey {
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
            let mut found: Vec<Finding> = ak::settled_finding(&u).into_iter().collect();
            let keys = ak::keys_with_use(cx, &report, &u, now).await?;
            let guarded = me.is_user(&u.name) && !cx.params.include_caller;
            found.extend(user_findings(&u.name, &keys, guarded));
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

    fn key(id: &str, active: bool, age: i64, used: Option<i64>) -> (KeyInfo, LastUsed) {
        (
            KeyInfo {
                id: id.into(),
                active,
                created: Some(NOW - Duration::days(age)),
            },
            LastUsed {
                date: used.map(|d| NOW - Duration::days(d)),
                service: None,
            },
        )
    }

    #[test]
    fn two_active_keys_retire_the_stale_one_in_use_flagged() {
        let keys = [
            key("AKIAOLD", true, 400, Some(200)),
            key("AKIANEW", true, 30, Some(1)),
        ];
        let f = user_findings("bob", &keys, false);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].status, Status::Change);
        assert_eq!(f[0].target, "access key AKIAOLD of user bob");
        assert!(f[0].summary.contains("keep AKIANEW"), "{}", f[0].summary);
        assert!(!f[0].in_use.is_empty(), "--yes alone must skip it");
        assert!(f[0].reversible);
        assert_eq!(f[1].status, Status::Compliant);
    }

    #[test]
    fn one_active_key_or_inactive_extras_are_compliant() {
        let keys = [
            key("AKIAOLD", false, 400, None),
            key("AKIANEW", true, 30, Some(1)),
        ];
        let f = user_findings("bob", &keys, false);
        assert!(f.iter().all(|f| f.status == Status::Compliant));
        assert_eq!(f[1].summary, "the user's only active key");
    }

    #[test]
    fn the_caller_is_skipped() {
        let keys = [
            key("AKIA1", true, 400, Some(200)),
            key("AKIA2", true, 30, Some(1)),
        ];
        let f = user_findings("me", &keys, true);
        assert_eq!(f[0].status, Status::Skipped);
    }
}
