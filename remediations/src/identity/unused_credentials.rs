//! CIS 5.0 1.11 (1.2: 1.3): credentials unused for 45 days (90 in 1.2) are disabled.
//!
//! Access keys: deactivated (UpdateAccessKey Inactive, reversible; undo re-activates).
//! Console passwords: IAM can only remove them by deleting the login profile, which loses the
//! password for good, so that change is irreversible and destructive: `apply --yes` skips it
//! without `--allow-irreversible`, and an interactive apply asks for it on its own.
//! The caller's own credentials are skipped unless `include_caller`.

use async_trait::async_trait;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::access_keys::{
    self as ak, describe_use, fmt_date, key_before, unused_reason, KeyInfo, LastUsed,
};
use crate::resources::caller;
use crate::resources::iam_details;

pub struct UnusedCredentials;

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
            "iam:GetLoginProfile",
            "iam:ListGroupsForUser",
            "iam:GetAccountAuthorizationDetails",
        ],
    write_actions: &[ak::UPDATE_KEY, DELETE_LOGIN_PROFILE],
    change_profile: "medium for access keys (reversible: undo re-activates them); high and IRREVERSIBLE for console passwords (DeleteLoginProfile loses the password; needs --allow-irreversible with --yes). The caller's own credentials are skipped unless include_caller",
};

const SLUG: &str = "unused-credentials-disabled";
const DELETE_LOGIN_PROFILE: &str = "iam:DeleteLoginProfile";

/// One access key's finding as of `now`. Pure.
pub fn key_finding(
    now: OffsetDateTime,
    threshold: i64,
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
    let Some(why) = unused_reason(now, threshold, k.created, last.date) else {
        let summary = match (last.date, k.created) {
            (None, Some(c)) => format!(
                "never used; issued {} days ago (unused counts from {threshold} days)",
                (now - c).whole_days()
            ),
            _ => format!("in use: {}", describe_use(last)),
        };
        return Finding::compliant(target, summary, before);
    };
    if guarded {
        return ak::left_alone(target, user, &why, before);
    }
    ak::deactivation(user, k, before, format!("active key {why}: deactivate it"))
        .with_risk(Risk::Medium)
        .with_note(format!(
            "Anything still holding key {} stops authenticating. Deactivation is reversible: undo (or UpdateAccessKey Active) turns it back on; delete the key once nothing complains.",
            k.id
        ))
}

/// A user's console password finding as of `now`: `profile` is `Some(created)` when the
/// user has a login profile. Pure.
pub fn password_finding(
    now: OffsetDateTime,
    threshold: i64,
    user: &str,
    profile: Option<Option<OffsetDateTime>>,
    last_used: Option<OffsetDateTime>,
    guarded: bool,
) -> Finding {
    let target = ak::password_target(user);
    let state = |present: bool, created: Option<OffsetDateTime>| {
        json!({
            "user": user,
            "console_password": present,
            "created": fmt_date(created),
            "last_used": fmt_date(last_used),
        })
    };
    let before = state(profile.is_some(), profile.flatten());
    let Some(created) = profile else {
        return Finding::compliant(target, "no console password", before);
    };
    let Some(why) = unused_reason(now, threshold, created, last_used) else {
        let used = match last_used {
            Some(d) => format!("last used {}", ak::day(d)),
            None => "not used yet, set recently".into(),
        };
        return Finding::compliant(target, format!("in use: {used}"), before);
    };
    if guarded {
        return ak::left_alone(target, user, &why, before);
    }
    let mut f = Finding::change(
        target,
        format!(
            "console password {why}: delete the login profile (IRREVERSIBLE: the password is lost)"
        ),
        Action::Delete,
        before,
        state(false, None),
        vec![ApiCall::new(
            DELETE_LOGIN_PROFILE,
            json!({ "UserName": user }),
        )],
    )
    .with_risk(Risk::High)
    .with_note(format!(
        "Affected user: {user}, who can no longer sign in to the console. Undo cannot bring the password back; to restore access an administrator sets a new one (aws iam create-login-profile --user-name {user} --password-reset-required ...)."
    ))
    .with_note("The user's access keys are not affected.");
    f.reversible = false;
    f.destructive = true;
    f
}

#[async_trait]
impl Control for UnusedCredentials {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let now = OffsetDateTime::now_utc();
        let threshold = ak::unused_threshold_days(cx.params.benchmark());
        let report = cx.reads.credential_report(cx.aws).await?;
        let me = caller(cx).await?;
        let mut out = Vec::new();
        for u in ak::users(cx).await? {
            let guarded = me.is_user(&u.name) && !cx.params.include_caller;
            let mut found: Vec<Finding> = ak::settled_finding(&u).into_iter().collect();
            for (k, last) in ak::keys_with_use(cx, &report, &u, now).await? {
                found.push(key_finding(now, threshold, &u.name, &k, &last, guarded));
            }
            let last_used = u
                .password_last_used
                .max(ak::report_password_last_used(&report, &u.name));
            // A password the credential report shows in use, or set recently, is compliant on
            // the report's word (no call). One that may be a change is read from IAM: the
            // change records the login profile's own dates, and apply re-reads it alone.
            let target = ak::password_target(&u.name);
            let by_report = match ak::report_password_set(&report, &u.name) {
                Some(set) if cx.reads.focus() != Some(target.as_str()) => Some(password_finding(
                    now,
                    threshold,
                    &u.name,
                    Some(Some(set)),
                    last_used,
                    guarded,
                ))
                .filter(|f| f.status == crate::plan::Status::Compliant),
                _ => None,
            };
            let password = match by_report {
                Some(f) => f,
                None => {
                    let profile = ak::console_password(cx, &report, &u.name).await?;
                    password_finding(now, threshold, &u.name, profile, last_used, guarded)
                }
            };
            found.push(password);
            // Exceptions match on the user's tags.
            for f in found {
                out.push(iam_details::with_user_tags(cx, &u.name, f).await?);
            }
        }
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        if ak::parse_key_target(&f.target).is_some() {
            return ak::deactivate_key(cx, SLUG, &f.target).await;
        }
        let user =
            ak::parse_password_target(&f.target).ok_or_else(|| ak::internal(SLUG, &f.target))?;
        cx.aws
            .iam()
            .delete_login_profile()
            .user_name(user)
            .send()
            .await
            .map_err(aws_err(DELETE_LOGIN_PROFILE))?;
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        if ak::parse_key_target(target).is_some() {
            return ak::restore_key(cx, SLUG, target, previous).await;
        }
        Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            SLUG,
            format!("{target} was deleted and cannot be restored: the password is lost; set a new one with iam:CreateLoginProfile"),
        ))
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

    fn used(days_ago: i64) -> LastUsed {
        LastUsed {
            date: Some(NOW - Duration::days(days_ago)),
            service: Some("s3".into()),
        }
    }

    #[test]
    fn unused_key_is_deactivated_reversibly() {
        let f = key_finding(NOW, 45, "bob", &key(true, 300), &used(60), false);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, "access key AKIAEXAMPLE of user bob");
        assert!(f.reversible && !f.destructive);
        assert!(f.summary.contains("last used 60 days ago"), "{}", f.summary);
        assert_eq!(f.after["status"], "Inactive");
        assert_eq!(f.before["status"], "Active");
        assert_eq!(f.calls[0].params["Status"], "Inactive");
        // 1.2 counts 90 days: the same key is still in use.
        let f = key_finding(NOW, 90, "bob", &key(true, 300), &used(60), false);
        assert_eq!(f.status, Status::Compliant);
        assert!(
            f.summary.contains("last used 2024-05-01 (s3)"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn never_used_keys_count_from_creation() {
        let never = LastUsed::default();
        let f = key_finding(NOW, 45, "bob", &key(true, 46), &never, false);
        assert_eq!(f.status, Status::Change);
        assert!(f.summary.contains("never used, issued 46 days ago"));
        let f = key_finding(NOW, 45, "bob", &key(true, 10), &never, false);
        assert_eq!(f.status, Status::Compliant);
        let f = key_finding(NOW, 45, "bob", &key(false, 400), &never, false);
        assert_eq!(f.status, Status::Compliant);
        assert_eq!(f.summary, "inactive");
    }

    #[test]
    fn callers_keys_are_skipped() {
        let f = key_finding(NOW, 45, "me", &key(true, 300), &used(100), true);
        assert_eq!(f.status, Status::Skipped);
        assert!(f.summary.contains("include_caller"), "{}", f.summary);
        assert!(f.calls.is_empty());
    }

    #[test]
    fn unused_password_deletion_is_irreversible() {
        let created = Some(NOW - Duration::days(200));
        let last = Some(NOW - Duration::days(50));
        let f = password_finding(NOW, 45, "carol", Some(created), last, false);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, "console password of user carol");
        assert!(!f.reversible);
        assert!(f.destructive);
        assert_eq!(f.risk, Risk::High);
        assert!(f.summary.contains("IRREVERSIBLE"), "{}", f.summary);
        assert_eq!(f.calls[0].action, DELETE_LOGIN_PROFILE);
        assert_eq!(f.before["console_password"], true);
        assert_eq!(f.after["console_password"], false);
        // Under 1.2's 90 days it stays.
        let f = password_finding(NOW, 90, "carol", Some(created), last, false);
        assert_eq!(f.status, Status::Compliant);

        // Used 44 days ago: fine; never used but set yesterday: fine.
        let recent = Some(NOW - Duration::days(44));
        let f = password_finding(NOW, 45, "carol", Some(created), recent, false);
        assert_eq!(f.status, Status::Compliant);
        let yesterday = Some(NOW - Duration::days(1));
        let f = password_finding(NOW, 45, "carol", Some(yesterday), None, false);
        assert_eq!(f.status, Status::Compliant);
        // Never used, set 200 days ago.
        let f = password_finding(NOW, 45, "carol", Some(created), None, false);
        assert_eq!(f.status, Status::Change);
        // No password at all.
        let f = password_finding(NOW, 45, "carol", None, None, false);
        assert_eq!(f.status, Status::Compliant);
        assert_eq!(f.summary, "no console password");
        // The caller.
        let f = password_finding(NOW, 45, "carol", Some(created), None, true);
        assert_eq!(f.status, Status::Skipped);
    }

    #[test]
    fn the_re_read_after_deletion_matches_the_planned_state() {
        // Verification: the re-read after apply is compliant and equals `after`.
        let last = Some(NOW - Duration::days(50));
        let created = Some(NOW - Duration::days(200));
        let f = password_finding(NOW, 45, "carol", Some(created), last, false);
        let re = password_finding(NOW, 45, "carol", None, last, false);
        assert_eq!(re.status, Status::Compliant);
        assert_eq!(re.before, f.after);
    }
}
