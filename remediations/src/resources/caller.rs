//! Who is running cis-fix: the lock-out guards of the identity controls never take rights or
//! console access away from this principal (or the groups and role it gets them through)
//! unless the user says so (`include_caller`). A caller whose IAM user does not exist is a
//! user without groups, with a note ([`caller_note`]), not a failure of every control.

use crate::aws::AwsError;
use crate::control::Cx;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IAM user, with the groups it belongs to.
    User { name: String, groups: Vec<String> },
    /// An assumed role (role name, not the session).
    Role { name: String },
    /// The root user.
    Root,
    /// Anything else (federated user, …): no IAM principal cis-fix could detach from.
    Other(String),
}

impl Caller {
    /// Whether `user` is the caller.
    pub fn is_user(&self, user: &str) -> bool {
        matches!(self, Caller::User { name, .. } if name == user)
    }

    /// Whether `group` gives the caller its rights.
    pub fn is_in_group(&self, group: &str) -> bool {
        matches!(self, Caller::User { groups, .. } if groups.iter().any(|g| g == group))
    }

    pub fn is_role(&self, role: &str) -> bool {
        matches!(self, Caller::Role { name } if name == role)
    }

    /// One phrase for messages: "user alice", "role Admin".
    pub fn describe(&self) -> String {
        match self {
            Caller::User { name, .. } => format!("user {name}"),
            Caller::Role { name } => format!("role {name}"),
            Caller::Root => "the root user".into(),
            Caller::Other(arn) => arn.clone(),
        }
    }
}

/// The principal behind a caller ARN, without its groups.
pub fn parse_caller_arn(arn: &str) -> Caller {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    if resource == "root" {
        return Caller::Root;
    }
    if let Some(rest) = resource.strip_prefix("user/") {
        // Users can have paths (user/division/alice): the name is the last part.
        let name = rest.rsplit('/').next().unwrap_or(rest).to_string();
        return Caller::User {
            name,
            groups: Vec::new(),
        };
    }
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        if let Some(role) = rest.split('/').next() {
            return Caller::Role {
                name: role.to_string(),
            };
        }
    }
    Caller::Other(arn.to_string())
}

/// The caller, with its groups when it is a user. Read once per phase.
pub async fn caller(cx: &Cx<'_>) -> Result<Caller, AwsError> {
    Ok(caller_with_note(cx).await?.0)
}

/// A note for findings when the caller could not be fully read: its IAM user does not exist
/// (a deleted user whose key still works, an emulator's default identity). `None` normally.
pub async fn caller_note(cx: &Cx<'_>) -> Result<Option<String>, AwsError> {
    Ok(caller_with_note(cx).await?.1)
}

/// The caller and [`caller_note`], from one read per phase. An IAM user that IAM does not
/// know (ListGroupsForUser → NoSuchEntity) is taken as a user without groups, with a note,
/// rather than failing every control that guards the caller: no group can give rights to a
/// user that does not exist.
async fn caller_with_note(cx: &Cx<'_>) -> Result<(Caller, Option<String>), AwsError> {
    cx.reads
        .shared("iam:caller", || async {
            let mut c = parse_caller_arn(&cx.aws.account.caller_arn);
            let mut note = None;
            if let Caller::User { name, groups } = &mut c {
                let mut pages = cx
                    .aws
                    .iam()
                    .list_groups_for_user()
                    .user_name(name.as_str())
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    match page {
                        Ok(page) => {
                            groups.extend(page.groups().iter().map(|g| g.group_name().to_string()))
                        }
                        Err(e) => {
                            let e = AwsError::from_sdk("iam:ListGroupsForUser", e);
                            if !e.is_code("NoSuchEntity") {
                                return Err(e);
                            }
                            groups.clear();
                            note = Some(missing_user_note(name));
                            break;
                        }
                    }
                }
            }
            Ok((c, note))
        })
        .await
}

/// The note for a caller whose IAM user does not exist.
pub fn missing_user_note(name: &str) -> String {
    format!(
        "cis-fix runs as IAM user {name}, but the caller's user {name} was not found in IAM (iam:ListGroupsForUser: NoSuchEntity); it is taken as having no groups, so no group is guarded as the caller's"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_caller_arns() {
        assert!(parse_caller_arn("arn:aws:iam::123456789012:user/ops/alice").is_user("alice"));
        assert!(
            parse_caller_arn("arn:aws:sts::123456789012:assumed-role/Admin/sess").is_role("Admin")
        );
        assert_eq!(
            parse_caller_arn("arn:aws:iam::123456789012:root"),
            Caller::Root
        );
        assert!(matches!(
            parse_caller_arn("arn:aws:sts::123456789012:federated-user/bob"),
            Caller::Other(_)
        ));
        // moto's default identity: a user ARN, though IAM has no such user.
        assert!(parse_caller_arn("arn:aws:sts::123456789012:user/moto").is_user("moto"));
        assert!(missing_user_note("moto").contains("user moto was not found"));
    }
}
