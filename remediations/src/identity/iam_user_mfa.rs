//! CIS 5.0 1.9 (1.2: 1.2): MFA for every IAM user with a console password.
//!
//! Enrolling a device needs the user's own device, so cis-fix does the next best thing, the
//! founding recipe: a customer-managed policy (`cis-fix-force-mfa`) that lets a user see
//! account information and manage their own password and MFA device, and denies everything
//! else (except MFA setup and sts:GetSessionToken) while `aws:MultiFactorAuthPresent` is
//! false (BoolIfExists, so access-key calls without an MFA session are denied too). It is
//! attached to each console user without MFA, or through the group `mfa_group` names. A user
//! counts as handled once they have MFA or the policy applies to them.
//!
//! The policy (and a group cis-fix creates) are shared prerequisites: ensured by every apply,
//! kept out of `before`. Undo detaches the policy (or takes the user out of the group it was
//! added to), and deletes the policy once nothing has it attached, and a cis-fix group once
//! it is empty. The caller is skipped unless `include_caller`: the policy would lock out the
//! session running cis-fix.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::access_keys as ak;
use crate::resources::caller;
use crate::resources::mfa_policy::{policy_arn, policy_document, PATH, POLICY_NAME};

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
            LIST_ENTITIES,
        ],
    write_actions: &[
            CREATE_POLICY,
            DELETE_POLICY,
            ATTACH_USER,
            DETACH_USER,
            CREATE_GROUP,
            DELETE_GROUP,
            "iam:GetGroup",
            ATTACH_GROUP,
            DETACH_GROUP,
            ADD_TO_GROUP,
            REMOVE_FROM_GROUP,
        ],
    change_profile: "medium (the user must enrol MFA at the next sign-in; high when the user's access keys are in use, asked separately); the caller is skipped unless include_caller; reversible: undo detaches the policy or removes the user from the group, and deletes what cis-fix created once unused",
};

const SLUG: &str = "iam-user-mfa";
const USER_PREFIX: &str = "user ";

const ATTACH_USER: &str = "iam:AttachUserPolicy";
const DETACH_USER: &str = "iam:DetachUserPolicy";
const CREATE_POLICY: &str = "iam:CreatePolicy";
const DELETE_POLICY: &str = "iam:DeletePolicy";
const CREATE_GROUP: &str = "iam:CreateGroup";
const DELETE_GROUP: &str = "iam:DeleteGroup";
const ATTACH_GROUP: &str = "iam:AttachGroupPolicy";
const DETACH_GROUP: &str = "iam:DetachGroupPolicy";
const ADD_TO_GROUP: &str = "iam:AddUserToGroup";
const REMOVE_FROM_GROUP: &str = "iam:RemoveUserFromGroup";
const LIST_ENTITIES: &str = "iam:ListEntitiesForPolicy";

/// Who has the forced-MFA policy attached; all empty when it does not exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyUse {
    pub exists: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

async fn policy_use(cx: &Cx<'_>, arn: &str) -> Result<PolicyUse, AwsError> {
    // Existence from GetPolicy: the emulator lists no entities, rather than NoSuchEntity, for
    // a policy that does not exist.
    if let Err(e) = cx.aws.iam().get_policy().policy_arn(arn).send().await {
        let e = AwsError::from_sdk("iam:GetPolicy", e);
        if e.is_code("NoSuchEntity") {
            return Ok(PolicyUse::default());
        }
        return Err(e);
    }
    let mut out = PolicyUse {
        exists: true,
        ..PolicyUse::default()
    };
    let mut pages = cx
        .aws
        .iam()
        .list_entities_for_policy()
        .policy_arn(arn)
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

/// What the plan knows about one console user.
pub struct ConsoleUser<'a> {
    pub name: &'a str,
    pub mfa_devices: usize,
    pub policy_on_user: bool,
    pub groups: Vec<String>,
    pub active_keys: Vec<String>,
}

/// One console user's finding. Pure: `policy_groups` are the groups the policy is attached
/// to, `mfa_group` the parameter, `guarded` whether the lock-out guard holds for this user.
pub fn user_finding(
    u: &ConsoleUser<'_>,
    policy_groups: &[String],
    policy_exists: bool,
    mfa_group: Option<&str>,
    arn: &str,
    partition: &str,
    guarded: bool,
) -> Finding {
    let name = u.name;
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
        .filter(|g| policy_groups.contains(g))
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
        return Finding::compliant(
            target,
            format!("no MFA device yet, but {POLICY_NAME} ({how}) denies everything except MFA setup until one is enrolled"),
            before,
        );
    }
    let summary = format!(
        "console user {name} has no MFA: {} (until {name} enrols an MFA device, everything except MFA setup is denied)",
        match mfa_group {
            Some(g) => format!("add to group {g}, which gets the forced-MFA policy {POLICY_NAME}"),
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
    let mut calls = Vec::new();
    if !policy_exists {
        calls.push(ApiCall::new(
            CREATE_POLICY,
            json!({ "PolicyName": POLICY_NAME, "Path": PATH, "PolicyDocument": policy_document(partition) }),
        ));
    }
    let mut after = before.clone();
    match mfa_group {
        Some(g) => {
            if !policy_groups.iter().any(|p| p == g) {
                calls.push(ApiCall::new(
                    CREATE_GROUP,
                    json!({ "GroupName": g, "Path": PATH, "IfMissing": true }),
                ));
                calls.push(ApiCall::new(
                    ATTACH_GROUP,
                    json!({ "GroupName": g, "PolicyArn": arn }),
                ));
            }
            calls.push(ApiCall::new(
                ADD_TO_GROUP,
                json!({ "GroupName": g, "UserName": name }),
            ));
            let mut groups = u.groups.clone();
            groups.push(g.to_string());
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
        .with_risk(if u.active_keys.is_empty() { Risk::Medium } else { Risk::High })
        .with_note(format!(
            "Affected user: {name}. At the next sign-in {name} can only change the password and enrol an MFA device; after signing in again with MFA, everything works as before."
        ))
        .with_note(format!(
            "Reversible: undo {} and deletes {POLICY_NAME} once nothing has it attached.",
            if mfa_group.is_some() { "takes the user out of the group" } else { "detaches the policy" }
        ));
    if mfa_group.is_none() {
        f = f.with_note("The policy is attached to the user directly, which CIS 1.14 (permissions only through groups) reports; set mfa_group=NAME to attach it through a group instead.");
    } else if let Some(g) = mfa_group {
        f = f.with_note(format!(
            "Every member of group {g} gets the policy, not only the users listed here."
        ));
    }
    if !u.active_keys.is_empty() {
        f = f.with_note(format!(
            "{name} also has active access keys: API calls made with them without an MFA session (sts get-session-token with MFA) are denied as well."
        ));
        f.in_use = u
            .active_keys
            .iter()
            .map(|k| format!("access key {k} of {name} (calls without MFA will be denied)"))
            .collect();
    }
    f
}

#[async_trait]
impl Control for IamUserMfa {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let partition = &cx.aws.account.partition;
        let arn = policy_arn(partition, &cx.aws.account.id);
        let me = caller(cx).await?;
        let pu = policy_use(cx, &arn).await?;
        let mut out = Vec::new();
        for u in ak::users(cx).await? {
            if ak::login_profile(cx, &u.name).await?.is_none() {
                continue;
            }
            let attached = ak::attached_policies(cx, &u.name).await?;
            let cu = ConsoleUser {
                name: &u.name,
                mfa_devices: ak::mfa_devices(cx, &u.name).await?,
                policy_on_user: attached.iter().any(|(_, a)| a == &arn),
                groups: ak::groups_of(cx, &u.name).await?,
                active_keys: u
                    .keys
                    .iter()
                    .filter(|k| k.active)
                    .map(|k| k.id.clone())
                    .collect(),
            };
            let guarded = me.is_user(&u.name) && !cx.params.include_caller;
            out.push(user_finding(
                &cu,
                &pu.groups,
                pu.exists,
                cx.params.mfa_group.as_deref(),
                &arn,
                partition,
                guarded,
            ));
        }
        if out.is_empty() {
            out.push(Finding::compliant(
                "console users",
                "no IAM user has a console password",
                json!({ "console_users": 0 }),
            ));
        }
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let user = user_of(&f.target)?;
        let arn = ensure_policy(cx).await?;
        let iam = cx.aws.iam();
        match cx.params.mfa_group.as_deref() {
            Some(g) => {
                ensure_group(cx, g).await?;
                iam.attach_group_policy()
                    .group_name(g)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(aws_err(ATTACH_GROUP))?;
                iam.add_user_to_group()
                    .group_name(g)
                    .user_name(user)
                    .send()
                    .await
                    .map_err(aws_err(ADD_TO_GROUP))?;
            }
            None => {
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

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let user = user_of(target)?;
        let arn = policy_arn(&cx.aws.account.partition, &cx.aws.account.id);
        let iam = cx.aws.iam();
        let pu = policy_use(cx, &arn).await?;
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
                .policy_arn(&arn)
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
                .map_err(aws_err("iam:GetGroup"))?;
            if !out.users().is_empty() {
                continue;
            }
            iam.detach_group_policy()
                .group_name(g)
                .policy_arn(&arn)
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
        let pu = policy_use(cx, &arn).await?;
        if pu.exists && pu.users.is_empty() && pu.groups.is_empty() && pu.roles.is_empty() {
            iam.delete_policy()
                .policy_arn(&arn)
                .send()
                .await
                .map_err(aws_err(DELETE_POLICY))?;
        }
        Ok(())
    }
}

fn user_of(target: &str) -> Result<&str, AwsError> {
    target
        .strip_prefix(USER_PREFIX)
        .ok_or_else(|| ak::internal(SLUG, target))
}

/// The forced-MFA policy's ARN, creating the policy when it is missing.
async fn ensure_policy(cx: &Cx<'_>) -> Result<String, AwsError> {
    let arn = policy_arn(&cx.aws.account.partition, &cx.aws.account.id);
    match cx.aws.iam().get_policy().policy_arn(&arn).send().await {
        Ok(_) => return Ok(arn),
        Err(e) => {
            let e = AwsError::from_sdk("iam:GetPolicy", e);
            if !e.is_code("NoSuchEntity") {
                return Err(e);
            }
        }
    }
    let out = cx
        .aws
        .iam()
        .create_policy()
        .policy_name(POLICY_NAME)
        .path(PATH)
        .description("cis-fix (CIS 1.9): denies everything except MFA setup until the user signs in with MFA")
        .policy_document(policy_document(&cx.aws.account.partition).to_string())
        .send()
        .await
        .map_err(aws_err(CREATE_POLICY))?;
    Ok(out
        .policy()
        .and_then(|p| p.arn())
        .map(str::to_string)
        .unwrap_or(arn))
}

/// Create group `g` (under cis-fix's path) unless it exists.
async fn ensure_group(cx: &Cx<'_>, g: &str) -> Result<(), AwsError> {
    match cx.aws.iam().get_group().group_name(g).send().await {
        Ok(_) => return Ok(()),
        Err(e) => {
            let e = AwsError::from_sdk("iam:GetGroup", e);
            if !e.is_code("NoSuchEntity") {
                return Err(e);
            }
        }
    }
    cx.aws
        .iam()
        .create_group()
        .group_name(g)
        .path(PATH)
        .send()
        .await
        .map_err(aws_err(CREATE_GROUP))?;
    Ok(())
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
        }
    }

    /// `user_finding` in partition aws; `policy_groups` are the groups the policy is on.
    fn finding(
        u: ConsoleUser<'_>,
        policy_groups: &[&str],
        policy_exists: bool,
        mfa_group: Option<&str>,
        guarded: bool,
    ) -> Finding {
        let groups: Vec<String> = policy_groups.iter().map(|g| g.to_string()).collect();
        user_finding(&u, &groups, policy_exists, mfa_group, ARN, "aws", guarded)
    }

    #[test]
    fn policy_denies_all_but_mfa_setup_without_mfa() {
        let d = policy_document("aws");
        let deny = &d["Statement"][2];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(
            deny["Condition"]["BoolIfExists"]["aws:MultiFactorAuthPresent"],
            "false"
        );
        let not: Vec<&str> = deny["NotAction"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for a in [
            "sts:GetSessionToken",
            "iam:EnableMFADevice",
            "iam:CreateVirtualMFADevice",
        ] {
            assert!(not.contains(&a), "{a}");
        }
        assert_eq!(
            d["Statement"][1]["Resource"][1],
            "arn:aws:iam::*:mfa/${aws:username}"
        );
    }

    #[test]
    fn console_user_without_mfa_gets_the_policy() {
        let f = finding(user("bob", 0, false, &[], &[]), &[], false, None, false);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, "user bob");
        assert_eq!(f.calls[0].action, CREATE_POLICY);
        assert_eq!(f.calls[1].action, ATTACH_USER);
        assert_eq!(f.after["policy_attached"], true);
        assert!(f.in_use.is_empty());
        assert!(f.reversible);
        // With the policy existing, only the attachment.
        let f = finding(user("bob", 0, false, &[], &[]), &[], true, None, false);
        assert_eq!(f.calls.len(), 1);
    }

    #[test]
    fn group_mode_adds_the_user_to_the_group() {
        let f = finding(
            user("bob", 0, false, &["dev"], &[]),
            &[],
            true,
            Some("mfa"),
            false,
        );
        assert_eq!(f.after["groups"], json!(["dev", "mfa"]));
        assert_eq!(f.after["policy_attached"], false);
        let actions: Vec<&str> = f.calls.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(actions, [CREATE_GROUP, ATTACH_GROUP, ADD_TO_GROUP]);
        // Group already carries the policy: just add the user.
        let f = finding(
            user("bob", 0, false, &[], &[]),
            &["mfa"],
            true,
            Some("mfa"),
            false,
        );
        assert_eq!(f.calls.len(), 1);
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
}
