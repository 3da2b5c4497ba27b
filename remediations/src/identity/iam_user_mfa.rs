//! CIS 5.0 1.9 (1.2: 1.2): MFA for every IAM user with a console password.
//!
//! Enrolling a device needs the user's own device, so cis-fix does the next best thing: a
//! customer-managed policy (`cis-fix-force-mfa`, AWS's documented self-managed-MFA policy,
//! see `resources/mfa_policy.rs`) that lets a user enrol and manage their own MFA device and
//! change their password, and denies everything else while `aws:MultiFactorAuthPresent` is
//! false (BoolIfExists, so access-key calls without an MFA session are denied too). It is
//! attached to each console user without MFA, or through the group `mfa_group` names. A user
//! counts as handled once they have MFA or cis-fix's policy applies to them.
//!
//! Safe on a production account:
//! - the caller is skipped unless `include_caller` (the policy would lock out the session
//!   running cis-fix), and so is an `mfa_group` the caller belongs to;
//! - an existing `mfa_group` is used only if it carries no permissions besides the forced-MFA
//!   policy: adding users to a group with AdministratorAccess would grant it;
//! - an existing policy under cis-fix's name is used only if its default version is cis-fix's
//!   document (a look-alike allowing `*:*` is refused, and never deleted by undo);
//! - apply writes in the order create policy → create group → add the user → attach the policy
//!   to the group, and takes back what it wrote when a later step fails, so a failed change
//!   (which the journal never undoes) leaves the account as it was.
//!
//! The policy (and a group cis-fix creates) are shared prerequisites: created by the apply
//! that needs them first, kept out of `before`; their observed state is the finding's
//! `prerequisites`. Undo detaches the policy (or takes the user out of the group it was added
//! to), deletes the policy once nothing has it attached if it carries cis-fix's tag, and
//! deletes a group under cis-fix's path once it is empty.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::access_keys as ak;
use crate::resources::caller::{caller, caller_note, Caller};
use crate::resources::iam_details;
use crate::resources::mfa_policy::{
    self, policy_document, Observed, CREATED_BY_KEY, CREATED_BY_VALUE, PATH, POLICY_NAME,
};

pub struct IamUserMfa;

const DESCRIPTION: Description = Description {
    slug: SLUG,
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
        "iam:ListUsers",
        "iam:ListAccessKeys",
        "iam:GetLoginProfile",
        "iam:ListMFADevices",
        "iam:ListAttachedUserPolicies",
        "iam:ListGroupsForUser",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        LIST_ENTITIES,
        GET_GROUP,
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:GetAccountAuthorizationDetails",
    ],
    write_actions: &[
        CREATE_POLICY,
        TAG_POLICY,
        DELETE_POLICY,
        ATTACH_USER,
        DETACH_USER,
        CREATE_GROUP,
        DELETE_GROUP,
        ATTACH_GROUP,
        DETACH_GROUP,
        ADD_TO_GROUP,
        REMOVE_FROM_GROUP,
    ],
    change_profile: "medium (the user must enrol MFA at the next sign-in; high when the user's access keys are in use, asked separately); the caller, and an mfa_group the caller is in, are skipped unless include_caller; an mfa_group with permissions of its own, or an existing policy named cis-fix-force-mfa with another document, is refused; reversible: undo detaches the policy or removes the user from the group, and deletes what cis-fix created once unused",
};

const SLUG: &str = "iam-user-mfa";
const USER_PREFIX: &str = "user ";

const ATTACH_USER: &str = "iam:AttachUserPolicy";
const DETACH_USER: &str = "iam:DetachUserPolicy";
const CREATE_POLICY: &str = "iam:CreatePolicy";
const TAG_POLICY: &str = "iam:TagPolicy";
const DELETE_POLICY: &str = "iam:DeletePolicy";
const CREATE_GROUP: &str = "iam:CreateGroup";
const DELETE_GROUP: &str = "iam:DeleteGroup";
const GET_GROUP: &str = "iam:GetGroup";
const ATTACH_GROUP: &str = "iam:AttachGroupPolicy";
const DETACH_GROUP: &str = "iam:DetachGroupPolicy";
const ADD_TO_GROUP: &str = "iam:AddUserToGroup";
const REMOVE_FROM_GROUP: &str = "iam:RemoveUserFromGroup";
const LIST_ENTITIES: &str = "iam:ListEntitiesForPolicy";

/// Who has the forced-MFA policy attached; all empty when it does not exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyUse {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

impl PolicyUse {
    fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty() && self.roles.is_empty()
    }
}

/// ListEntitiesForPolicy of the policy `exists` says is there (the emulator lists no
/// entities, rather than NoSuchEntity, for a policy that does not exist).
async fn policy_use(cx: &Cx<'_>, arn: &str, exists: bool) -> Result<PolicyUse, AwsError> {
    let mut out = PolicyUse::default();
    if !exists {
        return Ok(out);
    }
    let mut pages = cx
        .aws
        .iam()
        .list_entities_for_policy()
        .policy_arn(arn)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let e = AwsError::from_sdk(LIST_ENTITIES, e);
                if e.is_code("NoSuchEntity") {
                    return Ok(PolicyUse::default());
                }
                return Err(e);
            }
        };
        out.users.extend(
            page.policy_users()
                .iter()
                .filter_map(|u| u.user_name().map(str::to_string)),
        );
        out.groups.extend(
            page.policy_groups()
                .iter()
                .filter_map(|g| g.group_name().map(str::to_string)),
        );
        out.roles.extend(
            page.policy_roles()
                .iter()
                .filter_map(|r| r.role_name().map(str::to_string)),
        );
    }
    Ok(out)
}

/// The group `mfa_group` names, as the plan sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupState {
    pub name: String,
    pub exists: bool,
    pub members: Vec<String>,
    /// Attached managed policies as (name, arn).
    pub attached: Vec<(String, String)>,
    /// Inline policy names.
    pub inline: Vec<String>,
}

impl GroupState {
    fn has_policy(&self, arn: &str) -> bool {
        self.attached.iter().any(|(_, a)| a == arn)
    }

    /// Names of the attached managed policies other than the forced-MFA policy.
    fn other_policies(&self, arn: &str) -> Vec<&str> {
        self.attached
            .iter()
            .filter(|(_, a)| a != arn)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// What a saved plan pins about the group: what it grants besides the forced-MFA
    /// policy. Neither cis-fix's own writes (creating it, adding users, attaching the
    /// policy) nor earlier changes of the same run move it.
    fn prerequisite(&self, arn: &str) -> Value {
        json!({
            "name": self.name,
            "other_attached": self.other_policies(arn),
            "inline": self.inline,
        })
    }
}

/// GetGroup (members), ListAttachedGroupPolicies and ListGroupPolicies of `name`; a group
/// that does not exist is `exists: false`.
async fn group_state(cx: &Cx<'_>, name: &str) -> Result<GroupState, AwsError> {
    let iam = cx.aws.iam();
    let mut g = GroupState {
        name: name.to_string(),
        ..GroupState::default()
    };
    let mut pages = iam
        .get_group()
        .group_name(name)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => g
                .members
                .extend(p.users().iter().map(|u| u.user_name().to_string())),
            Err(e) => {
                let e = AwsError::from_sdk(GET_GROUP, e);
                if e.is_code("NoSuchEntity") {
                    return Ok(g);
                }
                return Err(e);
            }
        }
    }
    g.exists = true;
    let mut pages = iam
        .list_attached_group_policies()
        .group_name(name)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("iam:ListAttachedGroupPolicies"))?;
        g.attached.extend(page.attached_policies().iter().map(|p| {
            (
                p.policy_name().unwrap_or_default().to_string(),
                p.policy_arn().unwrap_or_default().to_string(),
            )
        }));
    }
    let mut pages = iam
        .list_group_policies()
        .group_name(name)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("iam:ListGroupPolicies"))?;
        g.inline.extend(page.policy_names().iter().cloned());
    }
    g.members.sort();
    g.attached.sort();
    g.inline.sort();
    Ok(g)
}

/// Why group `g` must not be `mfa_group`, or `None`. A group the caller is in would lock the
/// caller out (unless `include_caller`); a group with permissions of its own would grant them
/// to every user cis-fix adds. cis-fix's path marks only which group undo may delete: anyone
/// can create a group under `/cis-fix/`, so the permissions are checked for every group.
pub fn group_refusal(
    g: &GroupState,
    me: &Caller,
    include_caller: bool,
    arn: &str,
) -> Option<String> {
    if !g.exists {
        return None;
    }
    let mut why = Vec::new();
    let caller_in = me.is_in_group(&g.name)
        || matches!(me, Caller::User { name, .. } if g.members.contains(name));
    if caller_in && !include_caller {
        why.push(format!(
            "{} runs cis-fix and is a member of group {}, so the forced-MFA policy on it would deny cis-fix's own calls (name a group the caller is not in, or set include_caller=true after enrolling MFA for yourself)",
            me.describe(),
            g.name
        ));
    }
    let other = g.other_policies(arn);
    if !other.is_empty() || !g.inline.is_empty() {
        let mut what = Vec::new();
        if !other.is_empty() {
            what.push(format!("attached: {}", other.join(", ")));
        }
        if !g.inline.is_empty() {
            what.push(format!("inline: {}", g.inline.join(", ")));
        }
        why.push(format!(
            "group {} carries permissions besides the forced-MFA policy ({}), which every user cis-fix added would get (name a group without permissions of its own, or a new name for cis-fix to create)",
            g.name,
            what.join("; ")
        ));
    }
    (!why.is_empty()).then(|| format!("mfa_group={} refused: {}", g.name, why.join("; and ")))
}

/// Why the existing policy under cis-fix's name must not be used, or `None`.
pub fn policy_refusal(p: &Observed) -> Option<String> {
    p.difference.as_ref().map(|d| {
        format!(
            "the existing policy {PATH}{POLICY_NAME} is not cis-fix's forced-MFA policy: its document differs ({d}); cis-fix neither attaches nor changes it (delete or rename it, or make its default version cis-fix's document, and plan again)"
        )
    })
}

/// What the plan knows about one console user.
pub struct ConsoleUser<'a> {
    pub name: &'a str,
    pub mfa_devices: usize,
    pub policy_on_user: bool,
    pub groups: Vec<String>,
    /// The ids of its active access keys.
    pub active_keys: Vec<String>,
    /// Active keys the credential report counts whose ids were not read.
    pub unnamed_active_keys: usize,
}

impl ConsoleUser<'_> {
    fn has_active_keys(&self) -> bool {
        !self.active_keys.is_empty() || self.unnamed_active_keys > 0
    }
}

/// What every user's finding builds on: the policy, where it is attached, the group.
pub struct Setting<'a> {
    pub partition: &'a str,
    pub policy: &'a Observed,
    /// The groups the policy is attached to.
    pub policy_groups: &'a [String],
    /// The `mfa_group` parameter's group, when set.
    pub group: Option<&'a GroupState>,
    /// Why the change cannot be made (the policy or the group is refused).
    pub refusal: Option<String>,
}

impl Setting<'_> {
    fn prerequisites(&self) -> Value {
        let mut v = json!({ "forced_mfa_policy": self.policy.prerequisite() });
        if let Some(g) = self.group {
            v["mfa_group"] = g.prerequisite(&self.policy.arn);
        }
        v
    }
}

/// One console user's finding. Pure: `guarded` is whether the lock-out guard holds for this
/// user (the caller, without `include_caller`).
pub fn user_finding(u: &ConsoleUser<'_>, s: &Setting<'_>, guarded: bool) -> Finding {
    let name = u.name;
    let arn = s.policy.arn.as_str();
    let target = format!("{USER_PREFIX}{name}");
    let before = json!({
        "user": name,
        "mfa_devices": u.mfa_devices,
        "policy_attached": u.policy_on_user,
        "groups": u.groups,
    });
    if u.mfa_devices > 0 {
        return Finding::compliant(target, "console user with MFA", before);
    }
    let via: Vec<&String> = u
        .groups
        .iter()
        .filter(|g| s.policy_groups.contains(g))
        .collect();
    if u.policy_on_user || !via.is_empty() {
        let how = if u.policy_on_user {
            "attached to the user".to_string()
        } else {
            format!(
                "through group {}",
                via.iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match policy_refusal(s.policy) {
            None => {
                return Finding::compliant(
                    target,
                    format!("no MFA device yet, but {POLICY_NAME} ({how}) denies everything except MFA setup until one is enrolled"),
                    before,
                )
            }
            Some(why) => {
                let mut f = ak::skipped(
                    target,
                    format!("console user {name} has no MFA, and the policy named {POLICY_NAME} ({how}) does not enforce it: {why}"),
                    before,
                );
                f.prerequisites = s.prerequisites();
                return f;
            }
        }
    }
    // The group the user still has to join (none when already a member).
    let to_join = s.group.filter(|g| !u.groups.contains(&g.name));
    let summary = format!(
        "console user {name} has no MFA: {} (until {name} enrols an MFA device, everything except MFA setup is denied)",
        match s.group {
            Some(g) => format!("add to group {}, which gets the forced-MFA policy {POLICY_NAME}", g.name),
            None => format!("attach the forced-MFA policy {POLICY_NAME}"),
        }
    );
    if guarded {
        return ak::skipped(
            target,
            format!("WARNING: console user {name} has no MFA, but it is the principal running cis-fix; the forced-MFA policy would lock this session out. Left alone (set include_caller=true to include it, after enrolling MFA for yourself)"),
            before,
        );
    }
    if let Some(why) = &s.refusal {
        let mut f = ak::skipped(
            target,
            format!("console user {name} has no MFA, left alone: {why}"),
            before,
        );
        f.prerequisites = s.prerequisites();
        return f;
    }
    // The order apply follows: nothing grants or denies anything until the last call, so a
    // failure half-way cannot leave the caller or a user locked out, and apply takes back
    // the earlier calls.
    let mut calls = Vec::new();
    if !s.policy.exists {
        calls.push(ApiCall::new(
            CREATE_POLICY,
            json!({
                "PolicyName": POLICY_NAME,
                "Path": PATH,
                "PolicyDocument": policy_document(s.partition),
                "Tags": [{ "Key": CREATED_BY_KEY, "Value": CREATED_BY_VALUE }],
            }),
        ));
    }
    let mut after = before.clone();
    match s.group {
        Some(g) => {
            if !g.exists {
                calls.push(ApiCall::new(
                    CREATE_GROUP,
                    json!({ "GroupName": g.name, "Path": PATH }),
                ));
            }
            if to_join.is_some() {
                calls.push(ApiCall::new(
                    ADD_TO_GROUP,
                    json!({ "GroupName": g.name, "UserName": name }),
                ));
            }
            if !g.has_policy(arn) {
                calls.push(ApiCall::new(
                    ATTACH_GROUP,
                    json!({ "GroupName": g.name, "PolicyArn": arn }),
                ));
            }
            let mut groups = u.groups.clone();
            groups.push(g.name.clone());
            groups.sort();
            groups.dedup();
            after["groups"] = json!(groups);
        }
        None => {
            calls.push(ApiCall::new(
                ATTACH_USER,
                json!({ "UserName": name, "PolicyArn": arn }),
            ));
            after["policy_attached"] = json!(true);
        }
    }
    let mut f = Finding::change(target, summary, Action::Update, before, after, calls)
        .with_risk(if u.has_active_keys() { Risk::High } else { Risk::Medium })
        .with_note(format!(
            "Affected user: {name}. At the next sign-in {name} can only change the password and enrol an MFA device; after signing in again with MFA, everything works as before."
        ))
        .with_note(format!(
            "Reversible: undo {} and deletes {POLICY_NAME} once nothing has it attached (only the policy cis-fix created, tagged {CREATED_BY_KEY}={CREATED_BY_VALUE}).",
            if s.group.is_some() { "takes the user out of the group" } else { "detaches the policy" }
        ));
    f.prerequisites = s.prerequisites();
    match s.group {
        None => {
            f = f.with_note("The policy is attached to the user directly, which CIS 1.14 (permissions only through groups) reports; set mfa_group=NAME to attach it through a group instead.");
        }
        Some(g) => {
            f = f.with_note(format!(
                "Every member of group {} gets the policy, not only the users listed here.",
                g.name
            ));
        }
    }
    if u.has_active_keys() {
        f = f.with_note(format!(
            "{name} also has active access keys: API calls made with them without an MFA session (sts get-session-token with MFA) are denied as well."
        ));
        f.in_use = u
            .active_keys
            .iter()
            .map(|k| format!("access key {k} of {name} (calls without MFA will be denied)"))
            .collect();
        if u.unnamed_active_keys > 0 {
            f.in_use.push(format!(
                "{} of {name} (credential report; calls without MFA will be denied)",
                if u.unnamed_active_keys == 1 {
                    "1 active access key".to_string()
                } else {
                    format!("{} active access keys", u.unnamed_active_keys)
                }
            ));
        }
    }
    f
}

#[async_trait]
impl Control for IamUserMfa {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let partition = &cx.aws.account.partition;
        let me = caller(cx).await?;
        let caller_note = caller_note(cx).await?;
        let policy = mfa_policy::observe(cx).await?;
        let pu = policy_use(cx, &policy.arn, policy.exists).await?;
        let group = match cx.params.mfa_group.as_deref() {
            Some(g) => Some(group_state(cx, g).await?),
            None => None,
        };
        let refusals: Vec<String> = policy_refusal(&policy)
            .into_iter()
            .chain(
                group
                    .as_ref()
                    .and_then(|g| group_refusal(g, &me, cx.params.include_caller, &policy.arn)),
            )
            .collect();
        let setting = Setting {
            partition,
            policy: &policy,
            policy_groups: &pu.groups,
            group: group.as_ref(),
            refusal: (!refusals.is_empty()).then(|| refusals.join("; ")),
        };
        let mut out = Vec::new();
        let report = cx.reads.credential_report(cx.aws).await?;
        for u in ak::users(cx).await? {
            // The credential report settles users without a password and console users with
            // MFA; a console user without MFA is a change, so IAM confirms both first.
            // Re-reading this user (apply's check before its write, verification, undo)?
            let focused = cx.reads.focus() == Some(format!("{USER_PREFIX}{}", u.name).as_str());
            let mfa_devices = match (report.password_enabled(&u.name), report.mfa_active(&u.name)) {
                (Some(false), _) => continue,
                (Some(true), Some(true)) => 1,
                // A console user without MFA: the plan takes the report's word (it can be up to
                // 4 hours old); apply re-reads the user live, focused, before it writes, and a
                // user who has enrolled since is then stale, not changed.
                (Some(true), Some(false)) if !focused => 0,
                _ => {
                    if ak::login_profile(cx, &u.name).await?.is_none() {
                        continue;
                    }
                    ak::mfa_devices(cx, &u.name).await?
                }
            };
            let detail = iam_details::user(cx, &u.name).await?;
            let (active_keys, unnamed_active_keys) = match &u.settled {
                // Keys the report settles (young, at most one active) are counted, not listed:
                // their ids are read only when the user is (apply's re-read).
                Some(keys) if !focused => (Vec::new(), keys.active),
                _ => (
                    ak::keys_of_user(cx, &u)
                        .await?
                        .iter()
                        .filter(|k| k.active)
                        .map(|k| k.id.clone())
                        .collect(),
                    0,
                ),
            };
            let cu = ConsoleUser {
                name: &u.name,
                mfa_devices,
                policy_on_user: detail.attached.iter().any(|(_, a)| a == &policy.arn),
                groups: detail.groups,
                active_keys,
                unnamed_active_keys,
            };
            let guarded = me.is_user(&u.name) && !cx.params.include_caller;
            // Exceptions match on the user's tags.
            let f = user_finding(&cu, &setting, guarded);
            out.push(iam_details::with_user_tags(cx, &u.name, f).await?);
        }
        if out.is_empty() {
            out.push(Finding::compliant(
                "console users",
                "no IAM user has a console password",
                json!({ "console_users": 0 }),
            ));
        }
        if let Some(n) = caller_note {
            out = out.into_iter().map(|f| f.with_note(n.clone())).collect();
        }
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let user = user_of(&f.target)?;
        let steps = f
            .calls
            .iter()
            .map(|c| Step::from_call(c, user))
            .collect::<Result<Vec<_>, _>>()?;
        let mut done: Vec<&Step> = Vec::new();
        for step in &steps {
            if let Err(e) = step.run(cx, user).await {
                return Err(roll_back(cx, user, &done, e).await);
            }
            done.push(step);
        }
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let user = user_of(target)?;
        let policy = mfa_policy::observe(cx).await?;
        let arn = policy.arn.as_str();
        let iam = cx.aws.iam();
        let pu = policy_use(cx, arn, policy.exists).await?;
        // Groups the user was added to that carry the policy: take the user out again.
        let was_in: Vec<&str> = previous
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let now_in = ak::groups_of(cx, user).await?;
        let mut left = Vec::new();
        for g in now_in
            .iter()
            .filter(|g| !was_in.contains(&g.as_str()) && pu.groups.contains(g))
        {
            iam.remove_user_from_group()
                .group_name(g)
                .user_name(user)
                .send()
                .await
                .map_err(aws_err(REMOVE_FROM_GROUP))?;
            left.push(g.clone());
        }
        let had = previous.get("policy_attached").and_then(Value::as_bool) == Some(true);
        if !had && pu.users.iter().any(|u| u == user) {
            iam.detach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map_err(aws_err(DETACH_USER))?;
        }
        // An emptied group no longer needs the policy; a group cis-fix created goes.
        for g in &left {
            let out = iam
                .get_group()
                .group_name(g)
                .send()
                .await
                .map_err(aws_err(GET_GROUP))?;
            if !out.users().is_empty() {
                continue;
            }
            iam.detach_group_policy()
                .group_name(g)
                .policy_arn(arn)
                .send()
                .await
                .map_err(aws_err(DETACH_GROUP))?;
            if out.group().map(|g| g.path()) == Some(PATH) {
                iam.delete_group()
                    .group_name(g)
                    .send()
                    .await
                    .map_err(aws_err(DELETE_GROUP))?;
            }
        }
        // Only the policy cis-fix created (its tag) is deleted, once nothing uses it.
        if policy.exists && policy.created_by_cis_fix {
            let pu = policy_use(cx, arn, true).await?;
            if pu.is_empty() {
                iam.delete_policy()
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(aws_err(DELETE_POLICY))?;
            }
        }
        Ok(())
    }
}

fn user_of(target: &str) -> Result<&str, AwsError> {
    target
        .strip_prefix(USER_PREFIX)
        .ok_or_else(|| ak::internal(SLUG, target))
}

/// One write of a change, taken from the finding's calls (the plan shows what apply does).
#[derive(Debug, Clone, PartialEq)]
enum Step {
    CreatePolicy,
    CreateGroup(String),
    AddToGroup(String),
    AttachGroup(String),
    AttachUser,
}

impl Step {
    fn from_call(c: &ApiCall, user: &str) -> Result<Step, AwsError> {
        let group = || {
            c.params
                .get("GroupName")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ak::internal(SLUG, &format!("{} without GroupName", c.action)))
        };
        let step = match c.action.as_str() {
            CREATE_POLICY => Step::CreatePolicy,
            CREATE_GROUP => Step::CreateGroup(group()?),
            ADD_TO_GROUP => Step::AddToGroup(group()?),
            ATTACH_GROUP => Step::AttachGroup(group()?),
            ATTACH_USER => Step::AttachUser,
            other => return Err(ak::internal(SLUG, &format!("{other} for user {user}"))),
        };
        Ok(step)
    }

    async fn run(&self, cx: &Cx<'_>, user: &str) -> Result<(), AwsError> {
        let iam = cx.aws.iam();
        let arn = mfa_policy::policy_arn(&cx.aws.account.partition, &cx.aws.account.id);
        match self {
            Step::CreatePolicy => {
                iam.create_policy()
                    .policy_name(POLICY_NAME)
                    .path(PATH)
                    .description("cis-fix (CIS 1.9): denies everything except MFA setup until the user signs in with MFA")
                    .policy_document(policy_document(&cx.aws.account.partition).to_string())
                    .tags(created_by_tag()?)
                    .send()
                    .await
                    .map_err(aws_err(CREATE_POLICY))?;
            }
            Step::CreateGroup(g) => {
                iam.create_group()
                    .group_name(g)
                    .path(PATH)
                    .send()
                    .await
                    .map_err(aws_err(CREATE_GROUP))?;
            }
            Step::AddToGroup(g) => {
                iam.add_user_to_group()
                    .group_name(g)
                    .user_name(user)
                    .send()
                    .await
                    .map_err(aws_err(ADD_TO_GROUP))?;
            }
            Step::AttachGroup(g) => {
                iam.attach_group_policy()
                    .group_name(g)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(aws_err(ATTACH_GROUP))?;
            }
            Step::AttachUser => {
                iam.attach_user_policy()
                    .user_name(user)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(aws_err(ATTACH_USER))?;
            }
        }
        Ok(())
    }

    /// Take this step back (roll-back of a failed apply).
    async fn revert(&self, cx: &Cx<'_>, user: &str) -> Result<(), AwsError> {
        let iam = cx.aws.iam();
        let arn = mfa_policy::policy_arn(&cx.aws.account.partition, &cx.aws.account.id);
        match self {
            Step::CreatePolicy => {
                iam.delete_policy()
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(aws_err(DELETE_POLICY))?;
            }
            Step::CreateGroup(g) => {
                iam.delete_group()
                    .group_name(g)
                    .send()
                    .await
                    .map_err(aws_err(DELETE_GROUP))?;
            }
            Step::AddToGroup(g) => {
                iam.remove_user_from_group()
                    .group_name(g)
                    .user_name(user)
                    .send()
                    .await
                    .map_err(aws_err(REMOVE_FROM_GROUP))?;
            }
            Step::AttachGroup(g) => {
                iam.detach_group_policy()
                    .group_name(g)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(aws_err(DETACH_GROUP))?;
            }
            Step::AttachUser => {
                iam.detach_user_policy()
                    .user_name(user)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(aws_err(DETACH_USER))?;
            }
        }
        Ok(())
    }

    fn describe(&self, user: &str) -> String {
        match self {
            Step::CreatePolicy => format!("created policy {POLICY_NAME}"),
            Step::CreateGroup(g) => format!("created group {g}"),
            Step::AddToGroup(g) => format!("added {user} to group {g}"),
            Step::AttachGroup(g) => format!("attached {POLICY_NAME} to group {g}"),
            Step::AttachUser => format!("attached {POLICY_NAME} to {user}"),
        }
    }
}

fn created_by_tag() -> Result<aws_sdk_iam::types::Tag, AwsError> {
    aws_sdk_iam::types::Tag::builder()
        .key(CREATED_BY_KEY)
        .value(CREATED_BY_VALUE)
        .build()
        .map_err(|e| ak::internal(SLUG, &e.to_string()))
}

/// Take back the `done` steps of a failed apply, newest first, and return `err` saying what
/// was taken back (or what is left when a roll-back call fails too).
async fn roll_back(cx: &Cx<'_>, user: &str, done: &[&Step], err: AwsError) -> AwsError {
    if done.is_empty() {
        return err;
    }
    let mut undone = Vec::new();
    let mut failed = None;
    for (i, step) in done.iter().enumerate().rev() {
        match step.revert(cx, user).await {
            Ok(()) => undone.push(step.describe(user)),
            Err(e) => {
                failed = Some((i, e));
                break;
            }
        }
    }
    let tail = match failed {
        None => format!(
            "; rolled back what this apply wrote ({})",
            undone.join(", ")
        ),
        Some((i, e)) => format!(
            "; roll-back failed ({e}), still in place: {}",
            done[..=i]
                .iter()
                .map(|s| s.describe(user))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    AwsError {
        message: format!("{}{tail}", err.message),
        ..err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    const ARN: &str = "arn:aws:iam::111122223333:policy/cis-fix/cis-fix-force-mfa";

    fn user<'a>(
        name: &'a str,
        mfa: usize,
        on_user: bool,
        groups: &[&str],
        keys: &[&str],
    ) -> ConsoleUser<'a> {
        ConsoleUser {
            name,
            mfa_devices: mfa,
            policy_on_user: on_user,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            active_keys: keys.iter().map(|k| k.to_string()).collect(),
            unnamed_active_keys: 0,
        }
    }

    fn policy(exists: bool) -> Observed {
        Observed {
            arn: ARN.into(),
            exists,
            created_by_cis_fix: exists,
            digest: crate::resources::policy_document::digest(&policy_document("aws")),
            difference: None,
        }
    }

    fn group(name: &str, exists: bool, attached: &[(&str, &str)], inline: &[&str]) -> GroupState {
        GroupState {
            name: name.into(),
            exists,
            members: Vec::new(),
            attached: attached
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect(),
            inline: inline.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `user_finding` in partition aws; `policy_groups` are the groups the policy is on.
    fn finding(
        u: ConsoleUser<'_>,
        policy_groups: &[&str],
        policy_exists: bool,
        mfa_group: Option<&GroupState>,
        guarded: bool,
    ) -> Finding {
        let groups: Vec<String> = policy_groups.iter().map(|g| g.to_string()).collect();
        let p = policy(policy_exists);
        let s = Setting {
            partition: "aws",
            policy: &p,
            policy_groups: &groups,
            group: mfa_group,
            refusal: None,
        };
        user_finding(&u, &s, guarded)
    }

    fn actions(f: &Finding) -> Vec<&str> {
        f.calls.iter().map(|c| c.action.as_str()).collect()
    }

    #[test]
    fn console_user_without_mfa_gets_the_policy() {
        let f = finding(user("bob", 0, false, &[], &[]), &[], false, None, false);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, "user bob");
        assert_eq!(actions(&f), [CREATE_POLICY, ATTACH_USER]);
        assert_eq!(
            f.calls[0].params["Tags"],
            json!([{ "Key": "cis-fix:created-by", "Value": "cis-fix" }])
        );
        assert_eq!(f.after["policy_attached"], true);
        assert!(f.in_use.is_empty());
        assert!(f.reversible);
        assert_eq!(
            f.prerequisites["forced_mfa_policy"]["document_sha256"],
            crate::resources::policy_document::digest(&policy_document("aws"))
        );
        // With the policy existing, only the attachment.
        let f = finding(user("bob", 0, false, &[], &[]), &[], true, None, false);
        assert_eq!(actions(&f), [ATTACH_USER]);
    }

    #[test]
    fn group_mode_adds_the_user_before_the_group_gets_the_policy() {
        let g = group("mfa", false, &[], &[]);
        let f = finding(
            user("bob", 0, false, &["dev"], &[]),
            &[],
            true,
            Some(&g),
            false,
        );
        assert_eq!(f.after["groups"], json!(["dev", "mfa"]));
        assert_eq!(f.after["policy_attached"], false);
        assert_eq!(actions(&f), [CREATE_GROUP, ADD_TO_GROUP, ATTACH_GROUP]);
        assert_eq!(f.prerequisites["mfa_group"]["name"], "mfa");
        // Group already carries the policy: just add the user.
        let g = group("mfa", true, &[(POLICY_NAME, ARN)], &[]);
        let f = finding(
            user("bob", 0, false, &[], &[]),
            &["mfa"],
            true,
            Some(&g),
            false,
        );
        assert_eq!(actions(&f), [ADD_TO_GROUP]);
        // Already a member of a group without the policy: never added (nor taken out by a
        // roll-back), only the attachment.
        let g = group("mfa", true, &[], &[]);
        let f = finding(
            user("bob", 0, false, &["mfa"], &[]),
            &[],
            true,
            Some(&g),
            false,
        );
        assert_eq!(actions(&f), [ATTACH_GROUP]);
    }

    #[test]
    fn mfa_or_the_policy_is_compliant() {
        let f = finding(user("bob", 1, false, &[], &[]), &[], true, None, false);
        assert_eq!(f.status, Status::Compliant);
        let f = finding(user("bob", 0, true, &[], &[]), &[], true, None, false);
        assert_eq!(f.status, Status::Compliant);
        let f = finding(
            user("bob", 0, false, &["mfa"], &[]),
            &["mfa"],
            true,
            None,
            false,
        );
        assert_eq!(f.status, Status::Compliant);
        assert!(f.summary.contains("through group mfa"), "{}", f.summary);
    }

    #[test]
    fn caller_is_skipped_and_key_users_are_in_use() {
        let f = finding(
            user("me", 0, false, &[], &["AKIA1"]),
            &[],
            false,
            None,
            true,
        );
        assert_eq!(f.status, Status::Skipped);
        assert!(f.summary.contains("WARNING"), "{}", f.summary);
        assert!(f.calls.is_empty());
        let f = finding(
            user("me", 0, false, &[], &["AKIA1"]),
            &[],
            false,
            None,
            false,
        );
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.in_use.len(), 1);
        assert_eq!(f.risk, Risk::High);
    }

    fn me(groups: &[&str]) -> Caller {
        Caller::User {
            name: "ops".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn a_group_of_the_caller_is_refused_unless_include_caller() {
        let g = group("admins", true, &[], &[]);
        let why = group_refusal(&g, &me(&["admins"]), false, ARN).unwrap();
        assert!(why.contains("user ops"), "{why}");
        assert!(why.contains("admins"), "{why}");
        assert_eq!(group_refusal(&g, &me(&["admins"]), true, ARN), None);
        assert_eq!(group_refusal(&g, &me(&["other"]), false, ARN), None);
        // Membership seen from the group's side counts as well.
        let mut g2 = g.clone();
        g2.members = vec!["ops".into()];
        assert!(group_refusal(&g2, &me(&[]), false, ARN).is_some());
        // A role cannot be in a group.
        let role = Caller::Role {
            name: "admins".into(),
        };
        assert_eq!(group_refusal(&g, &role, false, ARN), None);
    }

    #[test]
    fn a_group_with_permissions_is_refused_naming_them() {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let g = group(
            "platform-admins",
            true,
            &[("AdministratorAccess", admin), (POLICY_NAME, ARN)],
            &["s3-everything"],
        );
        let why = group_refusal(&g, &me(&[]), true, ARN).unwrap();
        assert!(why.contains("attached: AdministratorAccess"), "{why}");
        assert!(why.contains("inline: s3-everything"), "{why}");
        assert!(!why.contains(&format!("attached: {POLICY_NAME}")), "{why}");
        // Only the forced-MFA policy, or nothing, or a group yet to be created: fine.
        let g = group("mfa", true, &[(POLICY_NAME, ARN)], &[]);
        assert_eq!(group_refusal(&g, &me(&[]), false, ARN), None);
        let g = group("mfa", false, &[], &[]);
        assert_eq!(group_refusal(&g, &me(&["mfa"]), false, ARN), None);
        // The refusal makes the user's finding skipped, with no calls.
        let p = policy(true);
        let s = Setting {
            partition: "aws",
            policy: &p,
            policy_groups: &[],
            group: Some(&g),
            refusal: Some("mfa_group=x refused: because".into()),
        };
        let f = user_finding(&user("bob", 0, false, &[], &[]), &s, false);
        assert_eq!(f.status, Status::Skipped);
        assert!(f.calls.is_empty());
        assert!(f.summary.contains("refused: because"), "{}", f.summary);
        assert!(!f.prerequisites.is_null());
    }

    #[test]
    fn a_look_alike_policy_does_not_make_users_compliant() {
        let p = Observed {
            difference: Some("1 statement cis-fix does not write".into()),
            created_by_cis_fix: false,
            ..policy(true)
        };
        let refusal = policy_refusal(&p);
        assert!(refusal.as_deref().unwrap().contains("differs"));
        let s = Setting {
            partition: "aws",
            policy: &p,
            policy_groups: &[],
            group: None,
            refusal,
        };
        let f = user_finding(&user("erin", 0, true, &[], &[]), &s, false);
        assert_eq!(f.status, Status::Skipped, "{}", f.summary);
        assert!(f.summary.contains("does not enforce"), "{}", f.summary);
        let f = user_finding(&user("dave", 0, false, &[], &[]), &s, false);
        assert_eq!(f.status, Status::Skipped);
        assert!(f.calls.is_empty());
    }

    #[test]
    fn steps_follow_the_calls() {
        let g = group("mfa", false, &[], &[]);
        let f = finding(user("bob", 0, false, &[], &[]), &[], false, Some(&g), false);
        let steps: Vec<Step> = f
            .calls
            .iter()
            .map(|c| Step::from_call(c, "bob").unwrap())
            .collect();
        assert_eq!(
            steps,
            [
                Step::CreatePolicy,
                Step::CreateGroup("mfa".into()),
                Step::AddToGroup("mfa".into()),
                Step::AttachGroup("mfa".into()),
            ]
        );
        assert!(Step::from_call(&ApiCall::new("iam:DeleteUser", Value::Null), "bob").is_err());
    }
}
