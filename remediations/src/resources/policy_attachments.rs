//! Managed-policy attachments, shared by the controls that detach a policy from whoever has
//! it (1.15 full "*:*" admin, 1.21 AWSCloudShellFullAccess).
//!
//! Each attached (policy, user/group/role) pair is one target, "POLICY attached to KIND NAME";
//! a watched policy attached to nobody is one compliant target, "POLICY (managed policy)". A
//! detached pair is simply no longer listed: the engine counts that as verified for a removal,
//! and undo finds the state it left.
//!
//! The lock-out guard: never detach from the principal running cis-fix, the groups it
//! belongs to or the role it assumed, unless `include_caller` is set.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::Cx;
use crate::plan::{Action, ApiCall, Finding, Risk, Status};
use crate::resources::{caller, Caller};

/// The kind of IAM principal a managed policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalKind {
    User,
    Group,
    Role,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::Role => "role",
        }
    }

    fn parse(s: &str) -> Option<PrincipalKind> {
        match s {
            "user" => Some(PrincipalKind::User),
            "group" => Some(PrincipalKind::Group),
            "role" => Some(PrincipalKind::Role),
            _ => None,
        }
    }
}

/// A user, group or role, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub name: String,
}

/// A managed policy a control watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub arn: String,
    pub name: String,
}

pub fn target(policy_name: &str, p: &Principal) -> String {
    format!("{policy_name} attached to {} {}", p.kind.as_str(), p.name)
}

/// Every user, group and role of the account, sorted. Read once per phase.
pub async fn principals(cx: &Cx<'_>) -> Result<Vec<Principal>, AwsError> {
    Ok(principals_and_trust(cx).await?.0)
}

/// Who may assume each role (its trust policy's principals), by role name.
pub async fn role_trust(cx: &Cx<'_>) -> Result<BTreeMap<String, Vec<String>>, AwsError> {
    Ok(principals_and_trust(cx).await?.1)
}

type PrincipalsAndTrust = (Vec<Principal>, BTreeMap<String, Vec<String>>);

async fn principals_and_trust(cx: &Cx<'_>) -> Result<PrincipalsAndTrust, AwsError> {
    cx.reads
        .shared("iam:principals", || async {
            let iam = cx.aws.iam();
            let mut out = Vec::new();
            let mut trust = BTreeMap::new();
            out.extend(cx.reads.iam_users(cx.aws).await?.iter().map(|u| Principal {
                kind: PrincipalKind::User,
                name: u.user_name().to_string(),
            }));
            let mut pages = iam.list_groups().max_items(1000).into_paginator().send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(aws_err("iam:ListGroups"))?;
                out.extend(p.groups().iter().map(|g| Principal {
                    kind: PrincipalKind::Group,
                    name: g.group_name().to_string(),
                }));
            }
            let mut pages = iam.list_roles().max_items(1000).into_paginator().send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(aws_err("iam:ListRoles"))?;
                for r in p.roles() {
                    if let Some(doc) = r.assume_role_policy_document().and_then(decode_document) {
                        trust.insert(r.role_name().to_string(), trust_principals(&doc));
                    }
                }
                // Service-linked roles take no customer attachments.
                out.extend(
                    p.roles()
                        .iter()
                        .filter(|r| !r.path().starts_with("/aws-service-role/"))
                        .map(|r| Principal {
                            kind: PrincipalKind::Role,
                            name: r.role_name().to_string(),
                        }),
                );
            }
            out.sort();
            out.dedup();
            Ok((out, trust))
        })
        .await
}

/// The principals a trust policy lets assume the role ("*" as is), sorted.
pub fn trust_principals(doc: &Value) -> Vec<String> {
    let stmts: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in stmts {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        match s.get("Principal") {
            Some(Value::String(p)) => out.push(p.clone()),
            Some(Value::Object(m)) => {
                for v in m.values() {
                    match v {
                        Value::String(p) => out.push(p.clone()),
                        Value::Array(a) => {
                            out.extend(a.iter().filter_map(Value::as_str).map(str::to_string))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The trust-policy principals of a role that are not of `account`: other accounts' ARNs or
/// ids, and `*`. Services (`ec2.amazonaws.com`) and federated providers are not accounts.
pub fn foreign_trust(principals: &[String], account: &str) -> Vec<String> {
    principals
        .iter()
        .filter(|p| {
            if p.as_str() == "*" {
                return true;
            }
            let acct = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                Some(p.as_str())
            } else if p.starts_with("arn:") && p.split(':').nth(2) == Some("iam") {
                p.split(':').nth(4)
            } else {
                None
            };
            acct.is_some_and(|a| a != account)
        })
        .cloned()
        .collect()
}

/// Who `policy_arn` is attached to, sorted; `None` when the policy does not exist.
pub async fn entities_for_policy(
    cx: &Cx<'_>,
    policy_arn: &str,
) -> Result<Option<Vec<Principal>>, AwsError> {
    cx.reads
        .shared(&format!("iam:entities-for-policy:{policy_arn}"), || async {
            let mut out = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .list_entities_for_policy()
                .policy_arn(policy_arn)
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = match p.map_err(aws_err("iam:ListEntitiesForPolicy")) {
                    Ok(p) => p,
                    Err(e) if e.is_code("NoSuchEntity") => return Ok(None),
                    Err(e) => return Err(e),
                };
                out.extend(p.policy_users().iter().filter_map(|u| {
                    u.user_name().map(|n| Principal {
                        kind: PrincipalKind::User,
                        name: n.to_string(),
                    })
                }));
                out.extend(p.policy_groups().iter().filter_map(|g| {
                    g.group_name().map(|n| Principal {
                        kind: PrincipalKind::Group,
                        name: n.to_string(),
                    })
                }));
                out.extend(p.policy_roles().iter().filter_map(|r| {
                    r.role_name().map(|n| Principal {
                        kind: PrincipalKind::Role,
                        name: n.to_string(),
                    })
                }));
            }
            out.sort();
            out.dedup();
            Ok(Some(out))
        })
        .await
}

/// Roles `policy_arn` is attached to (from the shared entities read); `None` when the policy
/// does not exist.
pub async fn roles_with_policy(
    cx: &Cx<'_>,
    policy_arn: &str,
) -> Result<Option<Vec<String>>, AwsError> {
    Ok(entities_for_policy(cx, policy_arn).await?.map(|all| {
        all.into_iter()
            .filter(|p| p.kind == PrincipalKind::Role)
            .map(|p| p.name)
            .collect()
    }))
}

/// The default version's document of a managed policy; `None` when it does not exist.
pub async fn policy_document(cx: &Cx<'_>, policy_arn: &str) -> Result<Option<Value>, AwsError> {
    cx.reads
        .shared(&format!("iam:policy-document:{policy_arn}"), || async {
            let iam = cx.aws.iam();
            let policy = match iam.get_policy().policy_arn(policy_arn).send().await {
                Ok(o) => o.policy,
                Err(e) => {
                    let e = AwsError::from_sdk("iam:GetPolicy", e);
                    if e.is_code("NoSuchEntity") {
                        return Ok(None);
                    }
                    return Err(e);
                }
            };
            let Some(version) = policy.and_then(|p| p.default_version_id) else {
                return Ok(None);
            };
            let out = iam
                .get_policy_version()
                .policy_arn(policy_arn)
                .version_id(version)
                .send()
                .await
                .map_err(aws_err("iam:GetPolicyVersion"))?;
            Ok(out
                .policy_version()
                .and_then(|v| v.document())
                .and_then(decode_document))
        })
        .await
}

/// Customer-managed policies (all of them, attached or not) with their default document, in
/// one paginated read.
pub async fn local_policies(cx: &Cx<'_>) -> Result<Vec<(Watched, Option<Value>)>, AwsError> {
    cx.reads
        .shared("iam:local-policies", || async {
            let mut out = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .get_account_authorization_details()
                .filter(aws_sdk_iam::types::EntityType::LocalManagedPolicy)
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(aws_err("iam:GetAccountAuthorizationDetails"))?;
                for d in p.policies() {
                    let Some(arn) = d.arn() else { continue };
                    // moto leaves PolicyName out of this answer: the ARN ends with it.
                    let name = d
                        .policy_name()
                        .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn));
                    let doc = d
                        .policy_version_list()
                        .iter()
                        .find(|v| v.is_default_version())
                        .and_then(|v| v.document())
                        .and_then(decode_document);
                    out.push((
                        Watched {
                            arn: arn.to_string(),
                            name: name.to_string(),
                        },
                        doc,
                    ));
                }
            }
            out.sort_by(|a, b| a.0.arn.cmp(&b.0.arn));
            Ok(out)
        })
        .await
}

/// AWS-managed policies attached to anything in the account.
pub async fn attached_aws_policies(cx: &Cx<'_>) -> Result<Vec<Watched>, AwsError> {
    cx.reads
        .shared("iam:attached-aws-policies", || async {
            let mut out = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Aws)
                .only_attached(true)
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(aws_err("iam:ListPolicies"))?;
                out.extend(p.policies().iter().filter_map(|x| {
                    Some(Watched {
                        arn: x.arn()?.to_string(),
                        name: x.policy_name()?.to_string(),
                    })
                }));
            }
            out.sort_by(|a, b| a.arn.cmp(&b.arn));
            Ok(out)
        })
        .await
}

/// A policy document as IAM returns it: URL-encoded JSON from AWS, plain JSON from some
/// emulators.
pub fn decode_document(s: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(s.trim()) {
        return Some(v);
    }
    serde_json::from_str(&percent_decode(s)?).ok()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn is_star(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some("*")),
        _ => false,
    }
}

/// Whether a policy document has a statement with Effect Allow, Action "*" and Resource "*"
/// (each as a string or in an array).
pub fn allows_full_admin(doc: &Value) -> bool {
    let stmts: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return false,
    };
    stmts.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && is_star(s.get("Action"))
            && is_star(s.get("Resource"))
    })
}

/// Whether a detach from `p` would take rights from the caller.
pub fn guards_caller(c: &Caller, p: &Principal) -> bool {
    match p.kind {
        PrincipalKind::User => c.is_user(&p.name),
        PrincipalKind::Group => c.is_in_group(&p.name),
        PrincipalKind::Role => c.is_role(&p.name),
    }
}

fn before(policy: &Watched, p: &Principal, attached: bool) -> Value {
    json!({
        "policy_arn": policy.arn,
        "entity_type": p.kind.as_str(),
        "entity": p.name,
        "attached": attached,
    })
}

fn detach_action(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::User => "iam:DetachUserPolicy",
        PrincipalKind::Group => "iam:DetachGroupPolicy",
        PrincipalKind::Role => "iam:DetachRolePolicy",
    }
}

fn name_param(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::User => "UserName",
        PrincipalKind::Group => "GroupName",
        PrincipalKind::Role => "RoleName",
    }
}

/// How a control words its findings.
pub struct Wording {
    /// What the policy gives ("full administrator rights (*:*)").
    pub grants: &'static str,
    /// Notes for every change.
    pub notes: &'static [&'static str],
    pub risk: Risk,
}

/// Members of a group, for "who is affected".
async fn group_members(cx: &Cx<'_>, group: &str) -> Result<Vec<String>, AwsError> {
    cx.reads
        .shared(&format!("iam:group-members:{group}"), || async {
            let mut out = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .get_group()
                .group_name(group)
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(aws_err("iam:GetGroup"))?;
                out.extend(p.users().iter().map(|u| u.user_name().to_string()));
            }
            out.sort();
            Ok(out)
        })
        .await
}

/// One finding per attached (watched policy, principal) pair: a detach (or skipped for the
/// caller); a watched policy attached to nobody is one compliant line. A detached pair is no
/// longer listed, which the engine counts as verified for a removal (and undo as the state it
/// left), so the plan does not carry a compliant line for every principal of the account.
pub async fn plan_pairs(
    cx: &Cx<'_>,
    policies: &[Watched],
    w: &Wording,
) -> Result<Vec<Finding>, AwsError> {
    let me = caller(cx).await?;
    let mut out = Vec::new();
    for policy in policies {
        let attached = entities_for_policy(cx, &policy.arn)
            .await?
            .unwrap_or_default();
        if attached.is_empty() {
            out.push(Finding::compliant(
                format!("{} (managed policy)", policy.name),
                format!("{} is not attached to any user, group or role", policy.name),
                json!({ "policy": policy.arn, "attached_to": [] }),
            ));
            continue;
        }
        for p in &attached {
            let f = pair_finding(cx, policy, p, w, &me).await?;
            out.push(with_principal_tags(cx, p, f).await?);
        }
    }
    Ok(out)
}

/// The finding of one (policy, principal) pair.
async fn pair_finding(
    cx: &Cx<'_>,
    policy: &Watched,
    p: &Principal,
    w: &Wording,
    me: &Caller,
) -> Result<Finding, AwsError> {
    let t = target(&policy.name, p);
    let mut affected = format!("{} {}", p.kind.as_str(), p.name);
    if p.kind == PrincipalKind::Group {
        let members = group_members(cx, &p.name).await?;
        affected = if members.is_empty() {
            format!("group {} (no members)", p.name)
        } else {
            format!("group {} (members: {})", p.name, members.join(", "))
        };
    }
    let mut foreign = Vec::new();
    if p.kind == PrincipalKind::Role {
        if let Some(who) = role_trust(cx).await?.get(&p.name).filter(|w| !w.is_empty()) {
            affected = format!("role {} (assumable by {})", p.name, who.join(", "));
            foreign = foreign_trust(who, &cx.aws.account.id);
        }
    }
    // AWSControlTowerExecution and the like: the landing zone needs their rights. A
    // role named otherwise is asked for its tags (a stack set's role), only when it
    // would lose the policy.
    let owner = match crate::resources::landing_zone::by_name(&p.name) {
        None if p.kind == PrincipalKind::Role => crate::resources::landing_zone::by_tags(
            role_tags(cx, &p.name)
                .await?
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        o => o,
    };
    if let Some(owner) = owner {
        return Ok(crate::resources::landing_zone::manual(
            t,
            &format!("{} gives {affected} {}", policy.name, w.grants),
            &format!("{} {}", p.kind.as_str(), p.name),
            &owner,
            before(policy, p, true),
        ));
    }
    if guards_caller(me, p) && !cx.params.include_caller {
        return Ok(Finding {
            status: Status::Skipped,
            before: before(policy, p, true),
            ..Finding::unknown(
                t,
                format!(
                    "{} gives {affected} {}, but cis-fix runs as {} and gets its rights through it; left attached so cis-fix does not lock itself out (set include_caller = true to detach it anyway)",
                    policy.name,
                    w.grants,
                    me.describe()
                ),
            )
        });
    }
    let mut f = Finding::change(
        t,
        format!("{} gives {affected} {}: detach it", policy.name, w.grants),
        Action::Delete,
        before(policy, p, true),
        before(policy, p, false),
        vec![ApiCall::new(
            detach_action(p.kind),
            json!({ name_param(p.kind): p.name, "PolicyArn": policy.arn }),
        )],
    )
    .with_risk(w.risk);
    f.destructive = true;
    if !foreign.is_empty() {
        f.caution.push(format!(
            "takes {} from role {}, which another account can assume ({})",
            policy.name,
            p.name,
            foreign.join(", ")
        ));
    }
    for n in w.notes {
        f = f.with_note(*n);
    }
    f = f.with_note(format!(
        "Undo attaches {} to {} {} again.",
        policy.name,
        p.kind.as_str(),
        p.name
    ));
    Ok(f)
}

/// `f` with its principal's tags, so exceptions can match on them: a user's from the bulk
/// read ([`crate::resources::iam_details`]), a role's from ListRoleTags (read once per role
/// and phase); groups have no tags. Only for a finding an exception could apply to.
async fn with_principal_tags(
    cx: &Cx<'_>,
    p: &Principal,
    mut f: Finding,
) -> Result<Finding, AwsError> {
    match p.kind {
        PrincipalKind::User => crate::resources::iam_details::with_user_tags(cx, &p.name, f).await,
        PrincipalKind::Role if f.is_failing() && cx.reads.focus().is_none() => {
            let tags = role_tags(cx, &p.name).await?;
            f.add_tags(
                tags.iter()
                    .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
            );
            Ok(f)
        }
        _ => Ok(f),
    }
}

/// A role's tags as (key, value): ListRoleTags, every page, once per role and phase. They
/// name the landing zone that owns the role (`aws:cloudformation:stack-name` =
/// `StackSet-AWSControlTower…`, `Accelerator`, …) and carry exception tags.
async fn role_tags(cx: &Cx<'_>, role: &str) -> Result<Vec<(String, String)>, AwsError> {
    cx.reads
        .shared(&format!("iam:role-tags:{role}"), || async {
            let mut tags = Vec::new();
            let mut pages = cx
                .aws
                .iam()
                .list_role_tags()
                .role_name(role)
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(p) = pages.next().await {
                let p = p.map_err(aws_err("iam:ListRoleTags"))?;
                tags.extend(
                    p.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string())),
                );
            }
            Ok(tags)
        })
        .await
}

fn field<'v>(v: &'v Value, key: &str) -> Result<&'v str, AwsError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| {
        AwsError::new(
            ErrorKind::Service,
            "iam",
            format!("internal: attachment state without {key}: {v}"),
        )
    })
}

/// The (kind, name, policy arn) recorded in a pair's state.
fn parse_state(v: &Value) -> Result<(PrincipalKind, &str, &str), AwsError> {
    let kind = PrincipalKind::parse(field(v, "entity_type")?).ok_or_else(|| {
        AwsError::new(
            ErrorKind::Service,
            "iam",
            format!("internal: unknown entity type in {v}"),
        )
    })?;
    Ok((kind, field(v, "entity")?, field(v, "policy_arn")?))
}

/// Detach the pair a finding describes.
pub async fn detach(cx: &Cx<'_>, state: &Value) -> Result<(), AwsError> {
    let (kind, name, arn) = parse_state(state)?;
    let iam = cx.aws.iam();
    let r = match kind {
        PrincipalKind::User => iam
            .detach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("iam:DetachUserPolicy")),
        PrincipalKind::Group => iam
            .detach_group_policy()
            .group_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("iam:DetachGroupPolicy")),
        PrincipalKind::Role => iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("iam:DetachRolePolicy")),
    };
    match r {
        // Already detached: the desired state.
        Err(e) if e.is_code("NoSuchEntity") => Ok(()),
        r => r,
    }
}

/// Put a pair back to `previous`: attach again if it was attached.
pub async fn restore(cx: &Cx<'_>, previous: &Value) -> Result<(), AwsError> {
    if previous.get("attached").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let (kind, name, arn) = parse_state(previous)?;
    let iam = cx.aws.iam();
    match kind {
        PrincipalKind::User => iam
            .attach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("iam:AttachUserPolicy")),
        PrincipalKind::Group => iam
            .attach_group_policy()
            .group_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("iam:AttachGroupPolicy")),
        PrincipalKind::Role => iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_err("iam:AttachRolePolicy")),
    }
}

pub const READ_ACTIONS: &[&str] = &[
    "iam:ListUsers",
    "iam:ListGroups",
    "iam:ListRoles",
    "iam:ListGroupsForUser",
    "iam:GetGroup",
    "iam:ListEntitiesForPolicy",
    "iam:ListRoleTags",
    "iam:GetAccountAuthorizationDetails",
];

pub const WRITE_ACTIONS: &[&str] = &[
    "iam:DetachUserPolicy",
    "iam:DetachGroupPolicy",
    "iam:DetachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_trust_is_other_accounts_and_anyone() {
        let who: Vec<String> = [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::999988887777:root",
            "444455556666",
            "*",
            "ec2.amazonaws.com",
            "arn:aws:iam::111122223333:saml-provider/okta",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            foreign_trust(&who, "111122223333"),
            ["arn:aws:iam::999988887777:root", "444455556666", "*"]
        );
    }

    #[test]
    fn full_admin_forms() {
        for doc in [
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            json!({"Statement": {"Effect": "Allow", "Action": ["s3:*", "*"], "Resource": ["*"]}}),
        ] {
            assert!(allows_full_admin(&doc), "{doc}");
        }
        for doc in [
            json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}]}),
            json!({}),
        ] {
            assert!(!allows_full_admin(&doc), "{doc}");
        }
    }

    #[test]
    fn decodes_url_encoded_and_plain_documents() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let d = decode_document(enc).unwrap();
        assert!(allows_full_admin(&d));
        let plain = r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
        assert!(allows_full_admin(&decode_document(plain).unwrap()));
        assert!(decode_document("%7Bnot json").is_none());
    }

    #[test]
    fn trust_principals_of_a_role() {
        let doc = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com", "AWS": ["arn:aws:iam::1:root"]}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}
        ]});
        assert_eq!(
            trust_principals(&doc),
            vec![
                "arn:aws:iam::1:root".to_string(),
                "ec2.amazonaws.com".to_string()
            ]
        );
    }

    #[test]
    fn caller_guard() {
        let me = Caller::User {
            name: "ops".into(),
            groups: vec!["Admins".into()],
        };
        let p = |kind, name: &str| Principal {
            kind,
            name: name.into(),
        };
        assert!(guards_caller(&me, &p(PrincipalKind::User, "ops")));
        assert!(guards_caller(&me, &p(PrincipalKind::Group, "Admins")));
        assert!(!guards_caller(&me, &p(PrincipalKind::Group, "Others")));
        assert!(!guards_caller(&me, &p(PrincipalKind::Role, "ops")));
        let role = Caller::Role {
            name: "Deploy".into(),
        };
        assert!(guards_caller(&role, &p(PrincipalKind::Role, "Deploy")));
        assert!(!guards_caller(
            &Caller::Root,
            &p(PrincipalKind::Role, "Deploy")
        ));
    }

    #[test]
    fn state_round_trips() {
        let w = Watched {
            arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            name: "AdministratorAccess".into(),
        };
        let p = Principal {
            kind: PrincipalKind::Group,
            name: "Admins".into(),
        };
        let v = before(&w, &p, true);
        let (k, n, a) = parse_state(&v).unwrap();
        assert_eq!((k, n, a), (PrincipalKind::Group, "Admins", w.arn.as_str()));
        assert_eq!(
            target(&w.name, &p),
            "AdministratorAccess attached to group Admins"
        );
    }
}
