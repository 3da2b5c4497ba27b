//! CIS 5.0 1.14: IAM users receive permissions only through groups. Check-only: which group
//! a user's policies belong in is a design decision, and detaching before the group grant
//! is in place removes access.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::iam_details;

pub struct IamPermissionsViaGroups;

const DESCRIPTION: Description = Description {
    slug: "iam-permissions-via-groups",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "iam:ListUsers",
        "iam:ListAttachedUserPolicies",
        "iam:ListUserPolicies",
        "iam:ListGroupsForUser",
        "iam:GetAccountAuthorizationDetails",
    ],
    write_actions: &[],
    change_profile: "",
};

/// One user's finding. Pure.
pub fn user_finding(user: &str, attached: &[(String, String)], inline: &[String]) -> Finding {
    let target = format!("user {user}");
    let names: Vec<&str> = attached.iter().map(|(n, _)| n.as_str()).collect();
    let before = json!({ "user": user, "attached_policies": names, "inline_policies": inline });
    if attached.is_empty() && inline.is_empty() {
        return Finding::compliant(target, "no policies on the user itself", before);
    }
    let mut parts = Vec::new();
    if !attached.is_empty() {
        parts.push(format!("attached: {}", names.join(", ")));
    }
    if !inline.is_empty() {
        parts.push(format!("inline: {}", inline.join(", ")));
    }
    let steps: Vec<String> = vec![
        format!("Create (or pick) a group for what {user} does: aws iam create-group --group-name NAME"),
        format!("Give the group the same permissions: attach the managed policies ({}) with aws iam attach-group-policy, and recreate inline policies ({}) as managed or group policies.",
            if names.is_empty() { "none".to_string() } else { names.join(", ") },
            if inline.is_empty() { "none".to_string() } else { inline.join(", ") }),
        format!("Add the user: aws iam add-user-to-group --group-name NAME --user-name {user}"),
        format!("Only then remove them from the user: aws iam detach-user-policy / delete-user-policy --user-name {user} ..."),
    ];
    let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
    let f = Finding::manual(
        target,
        format!("policies on the user itself ({})", parts.join("; ")),
        before,
        &steps,
    );
    if names.contains(&crate::resources::mfa_policy::POLICY_NAME) {
        return f.with_note(format!(
            "{} was attached by cis-fix for CIS 1.9; to give it through a group instead, undo that change and apply iam-user-mfa again with --set mfa_group=NAME.",
            crate::resources::mfa_policy::POLICY_NAME
        ));
    }
    f
}

#[async_trait]
impl Control for IamPermissionsViaGroups {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        // The user listing and the bulk read of their policies depend on nothing else, so
        // they are asked together; this control looks at no key, so it does not wait for the
        // users' access keys.
        let (listed, details) = futures::join!(cx.reads.iam_users(cx.aws), iam_details::users(cx));
        details?;
        let listed = listed?;
        let mut names: Vec<&str> = listed.iter().map(|u| u.user_name()).collect();
        names.sort_unstable();
        let mut out = Vec::new();
        for name in names {
            let d = iam_details::user(cx, name).await?;
            // Exceptions match on the user's tags.
            let f = user_finding(name, &d.attached, &d.inline);
            out.push(iam_details::with_user_tags(cx, name, f).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    #[test]
    fn lists_attached_and_inline_policies() {
        let f = user_finding(
            "bob",
            &[(
                "ReadOnlyAccess".into(),
                "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
            )],
            &["s3-extra".into()],
        );
        assert_eq!(f.status, Status::Manual);
        assert_eq!(f.target, "user bob");
        assert!(
            f.summary.contains("attached: ReadOnlyAccess"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("inline: s3-extra"), "{}", f.summary);
        assert_eq!(f.manual_steps.len(), 4);
        assert_eq!(user_finding("alice", &[], &[]).status, Status::Compliant);
        let f = user_finding("carl", &[("cis-fix-force-mfa".into(), "arn".into())], &[]);
        assert!(f.notes[0].contains("mfa_group"), "{:?}", f.notes);
    }
}
