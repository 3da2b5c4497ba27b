//! IAM users' credentials as the user-credential controls (1.9, 1.11–1.14) see them: one
//! memoised read per phase of every user with its access keys, and per-user / per-key reads
//! (login profile, MFA devices, policies, key last-used) memoised so that no control asks
//! twice. The date logic is pure and takes `now`, because the emulator cannot backdate.
//!
//! Every access-key finding (1.11, 1.12 and 1.13) uses the same target and the same `before`
//! ([`key_before`]): when one control of a run deactivates a key, the others see the state
//! they expect and report the key already satisfied instead of refusing it as stale.

use std::collections::HashMap;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::catalog::Benchmark;
use crate::control::Cx;
use crate::plan::{Action, ApiCall, Finding, Risk, Status};
use crate::resources::credential_report::{parse_date, CredentialReport, ROOT_ROW};
use futures::stream::{self, StreamExt, TryStreamExt};

/// A report date this recent settles a key's last use without asking IAM: no threshold
/// (45 or 90 days) can call such a key unused.
const REPORT_SETTLES_DAYS: i64 = 30;
/// CIS 1.13 (every version): keys are rotated every 90 days or less.
pub const MAX_KEY_AGE_DAYS: i64 = 90;
/// The youngest age at which any key control acts on a key (5.0's 45 days unused; 1.2's 90
/// days unused and the 90-day rotation are older).
pub const MIN_ACTION_AGE_DAYS: i64 = 45;

pub const GET_LAST_USED: &str = "iam:GetAccessKeyLastUsed";
pub const UPDATE_KEY: &str = "iam:UpdateAccessKey";

/// Days without use after which credentials count as unused: 45 from CIS 1.4 on, 90 in 1.2.
pub fn unused_threshold_days(b: Benchmark) -> i64 {
    match b {
        Benchmark::V1_2 => 90,
        _ => 45,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub id: String,
    pub active: bool,
    pub created: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserCreds {
    pub name: String,
    pub created: Option<OffsetDateTime>,
    /// From ListUsers (`PasswordLastUsed`); AWS omits it for never-used passwords.
    pub password_last_used: Option<OffsetDateTime>,
    /// Sorted by creation date, then id.
    pub keys: Vec<KeyInfo>,
    /// Set when the credential report shows that no key control can act on this user's keys
    /// (all issued within [`MIN_ACTION_AGE_DAYS`], at most one active): their ids were not
    /// asked for, and this is what the report shows.
    pub settled: Option<SettledKeys>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LastUsed {
    pub date: Option<OffsetDateTime>,
    pub service: Option<String>,
}

pub fn to_time(d: &aws_smithy_types::DateTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(d.secs()).ok()
}

pub fn fmt_date(d: Option<OffsetDateTime>) -> Value {
    d.and_then(|d| d.format(&Rfc3339).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

pub fn day(d: OffsetDateTime) -> String {
    d.date().to_string()
}

pub fn key_target(user: &str, key: &str) -> String {
    format!("access key {key} of user {user}")
}

/// (user, key id) of a key target.
pub fn parse_key_target(target: &str) -> Option<(&str, &str)> {
    let rest = target.strip_prefix("access key ")?;
    let (key, user) = rest.split_once(" of user ")?;
    Some((user, key))
}

/// The observed state of one access key, identical for every control that reports it.
pub fn key_before(user: &str, k: &KeyInfo, last: &LastUsed) -> Value {
    json!({
        "user": user,
        "key": k.id,
        "status": if k.active { "Active" } else { "Inactive" },
        "created": fmt_date(k.created),
        "last_used": fmt_date(last.date),
    })
}

pub fn key_after(before: &Value, active: bool) -> Value {
    let mut v = before.clone();
    v["status"] = json!(if active { "Active" } else { "Inactive" });
    v
}

pub fn deactivate_call(user: &str, key: &str) -> ApiCall {
    ApiCall::new(
        UPDATE_KEY,
        json!({ "UserName": user, "AccessKeyId": key, "Status": "Inactive" }),
    )
}

/// The change that deactivates key `k` of `user`. `before` is [`key_before`], and `after`
/// differs from it only in the status, which is what lets the other key controls of the same
/// run see the key satisfied. Risk and notes are the control's.
pub fn deactivation(user: &str, k: &KeyInfo, before: Value, summary: String) -> Finding {
    Finding::change(
        key_target(user, &k.id),
        summary,
        Action::Update,
        before.clone(),
        key_after(&before, false),
        vec![deactivate_call(user, &k.id)],
    )
}

/// A [`deactivation`] of a key something may still hold: high risk and marked in use, so
/// `apply --yes` alone skips it and an interactive apply asks for it on its own.
pub fn in_use_deactivation(
    user: &str,
    k: &KeyInfo,
    last: &LastUsed,
    before: Value,
    summary: String,
) -> Finding {
    let mut f = deactivation(user, k, before, summary).with_risk(Risk::High);
    f.in_use = vec![format!(
        "whatever holds access key {} ({})",
        k.id,
        describe_use(last)
    )];
    f
}

/// "last used 2024-05-01 (ec2)" / "never used".
pub fn describe_use(last: &LastUsed) -> String {
    match (last.date, &last.service) {
        (Some(d), Some(s)) if !s.is_empty() && s != "N/A" => {
            format!("last used {} ({s})", day(d))
        }
        (Some(d), _) => format!("last used {}", day(d)),
        (None, _) => "never used".into(),
    }
}

/// Why a credential counts as unused as of `now`, or `None` when it was used recently
/// enough. `created` is when it was issued; a credential never used is unused once it is
/// `threshold_days` old.
pub fn unused_reason(
    now: OffsetDateTime,
    threshold_days: i64,
    created: Option<OffsetDateTime>,
    last_used: Option<OffsetDateTime>,
) -> Option<String> {
    let limit = Duration::days(threshold_days);
    match (last_used, created) {
        (Some(t), _) if now - t >= limit => Some(format!(
            "last used {} days ago (CIS: unused for {threshold_days} days or more)",
            (now - t).whole_days()
        )),
        (Some(_), _) => None,
        (None, Some(c)) if now - c >= limit => Some(format!(
            "never used, issued {} days ago (CIS: unused for {threshold_days} days or more)",
            (now - c).whole_days()
        )),
        _ => None,
    }
}

/// The age in days of a key older than the rotation limit, else `None`.
pub fn overdue_days(now: OffsetDateTime, created: Option<OffsetDateTime>) -> Option<i64> {
    let c = created?;
    let age = now - c;
    (age > Duration::days(MAX_KEY_AGE_DAYS)).then(|| age.whole_days())
}

/// Which of a user's active keys to keep when only one may stay active: the most recently
/// used one (a never-used key counts from its creation), ties going to the newer key.
/// Returns the ids to retire. Pure, so it is tested on fixtures.
pub fn keys_to_retire(active: &[(&KeyInfo, &LastUsed)]) -> Vec<String> {
    let recency = |(k, l): &(&KeyInfo, &LastUsed)| (l.date.or(k.created), k.created);
    let Some(keep) = active.iter().max_by_key(|e| recency(e)).map(|(k, _)| &k.id) else {
        return Vec::new();
    };
    active
        .iter()
        .filter(|(k, _)| &k.id != keep)
        .map(|(k, _)| k.id.clone())
        .collect()
}

/// The report's last-use date of a key, matched by its creation time (the report's
/// `access_key_N_last_rotated`), when it is recent enough to settle the question;
/// `None` when IAM must be asked.
pub fn settled_by_report(
    report: &CredentialReport,
    user: &str,
    key: &KeyInfo,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let created = key.created?;
    let row = report.row(user)?;
    (1..=2).find_map(|n| {
        let rotated = parse_date(row.get(&format!("access_key_{n}_last_rotated")))?;
        if rotated.unix_timestamp() != created.unix_timestamp() {
            return None;
        }
        parse_date(row.get(&format!("access_key_{n}_last_used_date")))
            .filter(|d| now - *d < Duration::days(REPORT_SETTLES_DAYS))
    })
}

/// What the report says of a key's last use (a date, or none: never used), the key matched by
/// its issue time (`access_key_N_last_rotated`); `None` when the report does not list it, or
/// when both of the user's report keys share one issue time but not one last use, so which
/// is which cannot be told.
pub fn reported_use(report: &CredentialReport, user: &str, key: &KeyInfo) -> Option<LastUsed> {
    let created = key.created?.unix_timestamp();
    let row = report.row(user)?;
    let issued = |n: u8| {
        parse_date(row.get(&format!("access_key_{n}_last_rotated"))).map(|d| d.unix_timestamp())
    };
    let uses: Vec<LastUsed> = (1..=2)
        .filter(|n| issued(*n) == Some(created))
        .map(|n| LastUsed {
            date: parse_date(row.get(&format!("access_key_{n}_last_used_date"))),
            service: row
                .get(&format!("access_key_{n}_last_used_service"))
                .filter(|s| !s.is_empty() && s.as_str() != "N/A")
                .cloned(),
        })
        .collect();
    match &uses[..] {
        [one] => Some(one.clone()),
        [a, b] if a == b => Some(a.clone()),
        _ => None,
    }
}

/// The report's `password_last_used` of a user, when it is a date.
pub fn report_password_last_used(report: &CredentialReport, user: &str) -> Option<OffsetDateTime> {
    report
        .row(user)
        .and_then(|r| parse_date(r.get("password_last_used")))
}

/// When the report says the user's console password was last set, if it says there is one.
pub fn report_password_set(report: &CredentialReport, user: &str) -> Option<OffsetDateTime> {
    if report.password_enabled(user) != Some(true) {
        return None;
    }
    report
        .row(user)
        .and_then(|r| parse_date(r.get("password_last_changed")))
}

/// Every IAM user with its access keys (ListUsers, ListAccessKeys), sorted by name.
///
/// The credential report carries every key's status, issue date and last use, but not its
/// id, which a change needs. So only users with a key some control may act on are asked for
/// their keys: a key issued [`MIN_ACTION_AGE_DAYS`] ago or more, two active keys, or a user
/// the report does not list yet. The others are [`UserCreds::settled`] from the report (the
/// report can be up to four hours old: a key issued since is seen on the next plan). When
/// IAM refuses the report, every user is asked.
///
/// The users the report names are asked as soon as it is in, while the user listing (the
/// larger read) is still coming; a user the report does not list, after the listing. A
/// re-read of one user's key or password (apply's check and verification, undo) reads that
/// user alone.
pub async fn users(cx: &Cx<'_>) -> Result<Vec<UserCreds>, AwsError> {
    cx.reads
        .shared("iam:users-with-keys", || async {
            let now = OffsetDateTime::now_utc();
            let only = focused_user(cx);
            let wanted = |name: &str| only.is_none_or(|u| u == name);
            // The report and the user listing depend on nothing else: asked together, and
            // the keys the report shows are needed are asked for as soon as it is in.
            let early = async {
                let report = cx.reads.credential_report(cx.aws).await.ok();
                let names: Vec<String> = report
                    .iter()
                    .flat_map(|r| r.rows.iter())
                    .filter_map(|row| row.get("user"))
                    .filter(|u| u.as_str() != ROOT_ROW && wanted(u))
                    .filter(|u| settled(cx, report.as_ref(), u, now).is_none())
                    .cloned()
                    .collect();
                let keys = read_keys(cx, names).await;
                (report, keys)
            };
            let ((report, early), listed) = futures::join!(early, cx.reads.iam_users(cx.aws));
            let mut keys = early?;
            let mut users: Vec<UserCreds> = listed?
                .iter()
                .filter(|u| wanted(u.user_name()))
                .map(|u| UserCreds {
                    name: u.user_name().to_string(),
                    created: to_time(u.create_date()),
                    password_last_used: u.password_last_used().and_then(to_time),
                    keys: Vec::new(),
                    settled: settled(cx, report.as_ref(), u.user_name(), now),
                })
                .collect();
            // Listed users whose keys are needed and were not asked for early: not in the
            // report yet, or all of them when there is no report.
            let late: Vec<String> = users
                .iter()
                .filter(|u| u.settled.is_none() && !keys.contains_key(&u.name))
                .map(|u| u.name.clone())
                .collect();
            for (name, found) in read_keys(cx, late).await? {
                keys.insert(name, found);
            }
            // A user deleted between the listing and its key read (`None`) keeps no keys:
            // the next plan will not list it.
            for u in users.iter_mut().filter(|u| u.settled.is_none()) {
                if let Some(Some(found)) = keys.remove(&u.name) {
                    u.keys = found;
                }
            }
            users.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(users)
        })
        .await
}

/// What the report settles of `user`'s keys; `None` when their ids are needed: the report
/// cannot settle them, or this phase re-reads one of them.
fn settled(
    cx: &Cx<'_>,
    report: Option<&CredentialReport>,
    user: &str,
    now: OffsetDateTime,
) -> Option<SettledKeys> {
    report
        .filter(|_| !focused_on(cx, user))
        .and_then(|r| settled_keys(r, user, now))
}

/// The keys of each of `names`, a few users at a time (the IAM budget paces them); `None`
/// for a user IAM no longer has (the report can name users deleted since it was made).
async fn read_keys(
    cx: &Cx<'_>,
    names: Vec<String>,
) -> Result<HashMap<String, Option<Vec<KeyInfo>>>, AwsError> {
    stream::iter(names)
        .map(|name| async move {
            match list_keys(cx, &name).await {
                Ok(keys) => Ok((name, Some(keys))),
                Err(e) if e.is_code("NoSuchEntity") => Ok((name, None)),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(KEY_READS_AT_ONCE)
        .try_collect()
        .await
}

/// The user whose key or console password this phase re-reads, if it re-reads one.
fn focused_user<'a>(cx: &'a Cx<'_>) -> Option<&'a str> {
    let focus = cx.reads.focus()?;
    parse_key_target(focus)
        .map(|(user, _)| user)
        .or_else(|| parse_password_target(focus))
}

/// How a console password's target starts: `console password of user NAME`.
const PASSWORD_PREFIX: &str = "console password of user ";

/// The target of a user's console password.
pub fn password_target(user: &str) -> String {
    format!("{PASSWORD_PREFIX}{user}")
}

/// The user of a console password's target.
pub fn parse_password_target(target: &str) -> Option<&str> {
    target.strip_prefix(PASSWORD_PREFIX)
}

/// A user's keys: those [`users`] read, or, for a user it [`UserCreds::settled`] from the
/// credential report, read now (once per phase) — for a control that acts on the user and
/// must know which keys that affects.
pub async fn keys_of_user(cx: &Cx<'_>, u: &UserCreds) -> Result<Vec<KeyInfo>, AwsError> {
    if u.settled.is_none() {
        return Ok(u.keys.clone());
    }
    let name = u.name.clone();
    cx.reads
        .shared(&format!("iam:access-keys:{name}"), || async move {
            list_keys(cx, &name).await
        })
        .await
}

/// Whether this phase re-reads one of `user`'s keys (verification, undo): then its keys are
/// read in full, whatever the report says.
fn focused_on(cx: &Cx<'_>, user: &str) -> bool {
    cx.reads
        .focus()
        .and_then(parse_key_target)
        .is_some_and(|(u, _)| u == user)
}

/// What the credential report shows of a user's keys when no key control can act on them.
#[derive(Debug, Clone, PartialEq)]
pub struct SettledKeys {
    /// Keys the report shows (0, 1 or 2), and how many of them are active (at most 1).
    pub issued: usize,
    pub active: usize,
    pub oldest: Option<OffsetDateTime>,
}

impl SettledKeys {
    pub fn describe(&self) -> String {
        match self.oldest {
            None => "no access keys (credential report)".to_string(),
            Some(oldest) => format!(
                "{} key{}, {} active, the oldest issued {} (credential report; under {MIN_ACTION_AGE_DAYS} days, so no key control acts on {})",
                self.issued,
                if self.issued == 1 { "" } else { "s" },
                self.active,
                day(oldest),
                if self.issued == 1 { "it" } else { "them" },
            ),
        }
    }
}

/// What the report says of a user's keys when no key control can act on them; `None` when
/// their ids are needed (or the report does not list the user).
pub fn settled_keys(
    report: &CredentialReport,
    user: &str,
    now: OffsetDateTime,
) -> Option<SettledKeys> {
    let row = report.row(user)?;
    let mut issued = Vec::new();
    let mut active = 0;
    for n in 1..=2 {
        let is_active = row
            .get(&format!("access_key_{n}_active"))
            .map(String::as_str)
            == Some("true");
        let rotated = parse_date(row.get(&format!("access_key_{n}_last_rotated")));
        match (is_active, rotated) {
            (true, None) => return None,
            (_, Some(d)) => {
                if now - d >= Duration::days(MIN_ACTION_AGE_DAYS) {
                    return None;
                }
                issued.push(d);
                active += usize::from(is_active);
            }
            (false, None) => {}
        }
    }
    if active > 1 {
        return None;
    }
    Some(SettledKeys {
        issued: issued.len(),
        active,
        oldest: issued.into_iter().min(),
    })
}

/// The finding a key control makes for a [`UserCreds::settled`] user with keys: one
/// compliant line for the user, not one per key (their ids were not read). `None` for a
/// user without keys.
pub fn settled_finding(u: &UserCreds) -> Option<Finding> {
    let settled = u.settled.as_ref().filter(|s| s.issued > 0)?;
    let why = settled.describe();
    Some(Finding::compliant(
        format!("access keys of user {}", u.name),
        why.clone(),
        json!({ "user": u.name, "keys": why }),
    ))
}

/// Per-user reads in flight at once (the IAM budget paces them).
const KEY_READS_AT_ONCE: usize = 16;

/// A user's access keys, oldest first.
async fn list_keys(cx: &Cx<'_>, user: &str) -> Result<Vec<KeyInfo>, AwsError> {
    let mut keys = Vec::new();
    let mut pages = cx
        .aws
        .iam()
        .list_access_keys()
        .user_name(user)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("iam:ListAccessKeys"))?;
        for k in page.access_key_metadata() {
            keys.push(KeyInfo {
                id: k.access_key_id().unwrap_or_default().to_string(),
                active: k.status() == Some(&aws_sdk_iam::types::StatusType::Active),
                created: k.create_date().and_then(to_time),
            });
        }
    }
    keys.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(keys)
}

/// Whether a user has a console password, as far as a plan needs to know: the credential
/// report's `password_enabled` when it says false (no call), else IAM's answer (the report
/// can be hours old, and a password is what the controls act on). `None`: no password.
pub async fn console_password(
    cx: &Cx<'_>,
    report: &CredentialReport,
    user: &str,
) -> Result<Option<Option<OffsetDateTime>>, AwsError> {
    if report.password_enabled(user) == Some(false) {
        return Ok(None);
    }
    login_profile(cx, user).await
}

/// When a key was last used: from the credential report when it shows recent use; in a
/// plan, from the report whatever it shows ([`reported_use`]); else from
/// iam:GetAccessKeyLastUsed (asked once per key and phase). The report can be four hours old,
/// so a re-read of the key's own target (apply, before and after it writes) asks IAM unless
/// the report shows recent use, which no later use can undo.
pub async fn last_used(
    cx: &Cx<'_>,
    report: &CredentialReport,
    user: &str,
    key: &KeyInfo,
    now: OffsetDateTime,
) -> Result<LastUsed, AwsError> {
    if let Some(d) = settled_by_report(report, user, key, now) {
        return Ok(LastUsed {
            date: Some(d),
            service: None,
        });
    }
    if cx.reads.focus().is_none() {
        if let Some(l) = reported_use(report, user, key) {
            return Ok(l);
        }
    }
    let id = key.id.clone();
    cx.reads
        .shared(&format!("iam:key-last-used:{id}"), || async move {
            let out = cx
                .aws
                .iam()
                .get_access_key_last_used()
                .access_key_id(id)
                .send()
                .await
                .map_err(aws_err(GET_LAST_USED))?;
            let l = out.access_key_last_used();
            Ok(LastUsed {
                date: l.and_then(|l| l.last_used_date()).and_then(to_time),
                service: l
                    .map(|l| l.service_name().to_string())
                    .filter(|s| s != "N/A"),
            })
        })
        .await
}

/// Each of a user's keys with its [`last_used`], in the user's key order.
pub async fn keys_with_use(
    cx: &Cx<'_>,
    report: &CredentialReport,
    u: &UserCreds,
    now: OffsetDateTime,
) -> Result<Vec<(KeyInfo, LastUsed)>, AwsError> {
    let mut out = Vec::with_capacity(u.keys.len());
    for k in &u.keys {
        out.push((k.clone(), last_used(cx, report, &u.name, k, now).await?));
    }
    Ok(out)
}

/// A user's login profile (console password): its creation date, `None` when it has none.
pub async fn login_profile(
    cx: &Cx<'_>,
    user: &str,
) -> Result<Option<Option<OffsetDateTime>>, AwsError> {
    let u = user.to_string();
    cx.reads
        .shared(&format!("iam:login-profile:{user}"), || async move {
            match cx.aws.iam().get_login_profile().user_name(u).send().await {
                Ok(out) => Ok(Some(
                    out.login_profile().and_then(|p| to_time(p.create_date())),
                )),
                Err(e) => {
                    let e = AwsError::from_sdk("iam:GetLoginProfile", e);
                    if e.is_code("NoSuchEntity") {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                }
            }
        })
        .await
}

/// How many MFA devices a user has.
pub async fn mfa_devices(cx: &Cx<'_>, user: &str) -> Result<usize, AwsError> {
    let u = user.to_string();
    cx.reads
        .shared(&format!("iam:mfa-devices:{user}"), || async move {
            let mut n = 0;
            let mut pages = cx
                .aws
                .iam()
                .list_mfa_devices()
                .user_name(u)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                n += page
                    .map_err(aws_err("iam:ListMFADevices"))?
                    .mfa_devices()
                    .len();
            }
            Ok(n)
        })
        .await
}

/// A user's attached managed policies as (name, arn), sorted.
pub async fn attached_policies(cx: &Cx<'_>, user: &str) -> Result<Vec<(String, String)>, AwsError> {
    let u = user.to_string();
    cx.reads
        .shared(
            &format!("iam:attached-user-policies:{user}"),
            || async move {
                let mut out = Vec::new();
                let mut pages = cx
                    .aws
                    .iam()
                    .list_attached_user_policies()
                    .user_name(u)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(aws_err("iam:ListAttachedUserPolicies"))?;
                    out.extend(page.attached_policies().iter().map(|p| {
                        (
                            p.policy_name().unwrap_or_default().to_string(),
                            p.policy_arn().unwrap_or_default().to_string(),
                        )
                    }));
                }
                out.sort();
                Ok(out)
            },
        )
        .await
}

/// A user's inline policy names, sorted.
pub async fn inline_policies(cx: &Cx<'_>, user: &str) -> Result<Vec<String>, AwsError> {
    let u = user.to_string();
    cx.reads
        .shared(&format!("iam:user-policies:{user}"), || async move {
            let mut out = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .list_user_policies()
                .user_name(u)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(aws_err("iam:ListUserPolicies"))?;
                out.extend(page.policy_names().iter().cloned());
            }
            out.sort();
            Ok(out)
        })
        .await
}

/// The groups a user is in, sorted.
pub async fn groups_of(cx: &Cx<'_>, user: &str) -> Result<Vec<String>, AwsError> {
    let u = user.to_string();
    cx.reads
        .shared(&format!("iam:groups-for-user:{user}"), || async move {
            let mut out = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .list_groups_for_user()
                .user_name(u)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(aws_err("iam:ListGroupsForUser"))?;
                out.extend(page.groups().iter().map(|g| g.group_name().to_string()));
            }
            out.sort();
            Ok(out)
        })
        .await
}

/// Set a key's status (apply deactivates, undo re-activates).
pub async fn set_key_status(
    cx: &Cx<'_>,
    user: &str,
    key: &str,
    active: bool,
) -> Result<(), AwsError> {
    use aws_sdk_iam::types::StatusType;
    cx.aws
        .iam()
        .update_access_key()
        .user_name(user)
        .access_key_id(key)
        .status(if active {
            StatusType::Active
        } else {
            StatusType::Inactive
        })
        .send()
        .await
        .map_err(aws_err(UPDATE_KEY))?;
    Ok(())
}

/// Apply of a key change: deactivate the key the target names.
pub async fn deactivate_key(cx: &Cx<'_>, slug: &str, target: &str) -> Result<(), AwsError> {
    let (user, key) = parse_key_target(target).ok_or_else(|| internal(slug, target))?;
    set_key_status(cx, user, key, false).await
}

/// Undo of a key change: put the recorded status back.
pub async fn restore_key(
    cx: &Cx<'_>,
    slug: &str,
    target: &str,
    previous: &Value,
) -> Result<(), AwsError> {
    let (user, key) = parse_key_target(target).ok_or_else(|| internal(slug, target))?;
    let active = previous.get("status").and_then(Value::as_str) == Some("Active");
    set_key_status(cx, user, key, active).await
}

pub fn internal(slug: &str, target: &str) -> AwsError {
    AwsError::new(
        ErrorKind::Service,
        slug,
        format!("internal: unexpected target '{target}'"),
    )
}

/// A finding the lock-out guard leaves alone: the caller's own credentials.
pub fn skipped(target: String, summary: String, before: Value) -> Finding {
    Finding {
        status: Status::Skipped,
        before,
        ..Finding::unknown(target, summary)
    }
}

/// [`skipped`] for a credential of `user`, the caller, that would change because of `why`.
pub fn left_alone(target: String, user: &str, why: &str, before: Value) -> Finding {
    skipped(
        target,
        format!("{why}; left alone: user {user} is running cis-fix (set include_caller=true to include it)"),
        before,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-06-30 12:00 UTC);

    fn key(id: &str, created: OffsetDateTime) -> KeyInfo {
        KeyInfo {
            id: id.into(),
            active: true,
            created: Some(created),
        }
    }

    #[test]
    fn thresholds_per_benchmark() {
        assert_eq!(unused_threshold_days(Benchmark::V1_2), 90);
        assert_eq!(unused_threshold_days(Benchmark::V1_4), 45);
        assert_eq!(unused_threshold_days(Benchmark::V5_0), 45);
    }

    #[test]
    fn unused_at_45_days_not_44() {
        let created = Some(datetime!(2023-01-01 0:00 UTC));
        assert!(unused_reason(NOW, 45, created, Some(NOW - Duration::days(44))).is_none());
        let r = unused_reason(NOW, 45, created, Some(NOW - Duration::days(45))).unwrap();
        assert!(r.contains("last used 45 days ago"), "{r}");
        // The same key under 1.2's 90 days is still in use.
        assert!(unused_reason(NOW, 90, created, Some(NOW - Duration::days(60))).is_none());
        assert!(unused_reason(NOW, 90, created, Some(NOW - Duration::days(91))).is_some());
    }

    #[test]
    fn never_used_counts_from_issue() {
        let r = unused_reason(NOW, 45, Some(NOW - Duration::days(100)), None).unwrap();
        assert!(r.contains("never used, issued 100 days ago"), "{r}");
        assert!(unused_reason(NOW, 45, Some(NOW - Duration::days(3)), None).is_none());
        assert!(unused_reason(NOW, 45, None, None).is_none());
    }

    #[test]
    fn rotation_age() {
        assert_eq!(overdue_days(NOW, Some(NOW - Duration::days(90))), None);
        assert_eq!(overdue_days(NOW, Some(NOW - Duration::days(91))), Some(91));
        assert_eq!(overdue_days(NOW, None), None);
    }

    #[test]
    fn retire_the_least_recently_used_key() {
        let a = key("AKIAOLD", NOW - Duration::days(400));
        let b = key("AKIANEW", NOW - Duration::days(10));
        let used = |d: i64| LastUsed {
            date: Some(NOW - Duration::days(d)),
            service: None,
        };
        let never = LastUsed::default();
        // The old key is still the one in use; the new one was never used.
        assert_eq!(keys_to_retire(&[(&a, &used(1)), (&b, &never)]), ["AKIANEW"]);
        // The new key took over.
        assert_eq!(
            keys_to_retire(&[(&a, &used(20)), (&b, &used(2))]),
            ["AKIAOLD"]
        );
        // Neither used: keep the newer.
        assert_eq!(keys_to_retire(&[(&a, &never), (&b, &never)]), ["AKIAOLD"]);
        assert!(keys_to_retire(&[(&a, &never)]).is_empty());
    }

    fn report(rotated: &str, used: &str) -> CredentialReport {
        CredentialReport::parse(&format!(
            "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
bob,arn:aws:iam::111122223333:user/bob,2021-01-01T00:00:00+00:00,true,2024-06-01T00:00:00+00:00,N/A,N/A,false,true,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,true,{rotated},{used},us-east-1,s3,false,N/A,false,N/A\n"
        ))
        .unwrap()
    }

    #[test]
    fn report_settles_only_recent_use_of_the_matching_key() {
        let k = key("AKIA2", datetime!(2024-01-01 0:00 UTC));
        let r = report("2024-01-01T00:00:00+00:00", "2024-06-20T00:00:00+00:00");
        assert_eq!(
            settled_by_report(&r, "bob", &k, NOW),
            Some(datetime!(2024-06-20 0:00 UTC))
        );
        // Old use is confirmed with IAM (the report can be hours old).
        let r = report("2024-01-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00");
        assert_eq!(settled_by_report(&r, "bob", &k, NOW), None);
        // Another key (different creation time) is not matched.
        let r = report("2024-02-01T00:00:00+00:00", "2024-06-20T00:00:00+00:00");
        assert_eq!(settled_by_report(&r, "bob", &k, NOW), None);
        assert_eq!(settled_by_report(&r, "alice", &k, NOW), None);
        assert_eq!(
            report_password_last_used(&r, "bob"),
            Some(datetime!(2024-06-01 0:00 UTC))
        );
    }

    #[test]
    fn the_report_tells_a_plan_any_use_of_the_key_it_matches_by_issue_time() {
        let k = key("AKIA2", datetime!(2024-01-01 0:00 UTC));
        let r = report("2024-01-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00");
        assert_eq!(
            reported_use(&r, "bob", &k),
            Some(LastUsed {
                date: Some(datetime!(2024-03-01 0:00 UTC)),
                service: Some("s3".into()),
            })
        );
        // Never used: no date.
        let r = report("2024-01-01T00:00:00+00:00", "N/A");
        assert_eq!(reported_use(&r, "bob", &k).map(|l| l.date), Some(None));
        // Not matched (another issue time, another user): IAM is asked.
        let r = report("2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00");
        assert_eq!(reported_use(&r, "bob", &k), None);
        assert_eq!(reported_use(&r, "alice", &k), None);
        // Both report keys issued in the same second: which is which is not known, unless
        // the report says the same of both.
        let k1 = key("AKIA1", datetime!(2021-01-01 0:00 UTC));
        let r = report("2021-01-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00");
        assert_eq!(reported_use(&r, "bob", &k1), None);
        let same = CredentialReport::parse(
            "user,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_service,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_service\n\
bob,2021-01-01T00:00:00+00:00,N/A,N/A,2021-01-01T00:00:00+00:00,N/A,N/A\n",
        )
        .unwrap();
        assert_eq!(reported_use(&same, "bob", &k1), Some(LastUsed::default()));
    }

    #[test]
    fn key_targets_round_trip() {
        let t = key_target("bob", "AKIA1");
        assert_eq!(t, "access key AKIA1 of user bob");
        assert_eq!(parse_key_target(&t), Some(("bob", "AKIA1")));
        assert_eq!(parse_key_target("user bob"), None);
    }
}
