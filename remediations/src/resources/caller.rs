//! Who is running cis-fix: the lock-out guards of the identity controls never take rights or
//! console access away from this principal (or the groups and role it gets them through)
//! unless the user says so (`include_caller`).

use crate::aws::{aws_err, AwsError};
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
    cx.reads
        .shared("iam:caller", || async {
            let mut c = parse_caller_arn(&cx.aws.account.caller_arn);
            if let Caller::User { name, groups } = &mut c {
                let mut pages = cx
                    .aws
                    .iam()
                    .list_groups_for_user()
                    .user_name(name.as_str())
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(aws_err("iam:ListGroupsForUser"))?;
                    groups.extend(page.groups().iter().map(|g| g.group_name().to_string()));
                }
            }
            Ok(c)
        })
        .await
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
    }
}
