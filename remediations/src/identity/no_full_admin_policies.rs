//! CIS 5.0 1.15: no IAM policy that allows full "*:*" administrative privileges is attached.
//!
//! Watched policies: customer-managed policies (attached or not) and AWS-managed policies
//! attached in the account whose default version has a statement Allow / Action "*" /
//! Resource "*", plus AdministratorAccess always (so a pair detached by cis-fix can still be
//! re-read and undone once the policy is attached to no one). Each attachment is detached on
//! its own confirmation; the caller's own user, groups and role are skipped (lock-out guard).

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Finding, Risk};
use crate::resources::policy_attachments::{self as pa, Watched, Wording};

pub struct NoFullAdminPolicies;

const DESCRIPTION: Description = Description {
    slug: "no-full-admin-policies",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "iam:GetAccountAuthorizationDetails",
            "iam:ListPolicies",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "iam:ListUsers",
            "iam:ListGroups",
            "iam:ListRoles",
            "iam:ListGroupsForUser",
            "iam:GetGroup",
            "iam:ListEntitiesForPolicy",
            "iam:ListRoleTags",
        ],
    write_actions: pa::WRITE_ACTIONS,
    change_profile: "high (the user, group members or role lose full admin; asked one by one, never from the principal running cis-fix unless include_caller); reversible: undo attaches the policy again",
};

const WORDING: Wording = Wording {
    grants: "full administrator rights (Allow * on *)",
    notes: &[
        "Whoever gets their rights through this attachment loses them: give them a least-privilege policy first.",
        "A break-glass or emergency-access role may need full admin on purpose; whether to keep it is a human decision (decline this change to keep it).",
    ],
    risk: Risk::High,
};

/// The policies with a full-admin default version, sorted by ARN.
async fn watched(cx: &Cx<'_>) -> Result<Vec<Watched>, AwsError> {
    let mut out: Vec<Watched> = pa::local_policies(cx)
        .await?
        .into_iter()
        .filter(|(_, doc)| doc.as_ref().is_some_and(pa::allows_full_admin))
        .map(|(w, _)| w)
        .collect();
    let admin = Watched {
        arn: format!(
            "arn:{}:iam::aws:policy/AdministratorAccess",
            cx.aws.account.partition
        ),
        name: "AdministratorAccess".into(),
    };
    let mut aws = pa::attached_aws_policies(cx).await?;
    if !aws.contains(&admin) {
        aws.push(admin);
    }
    for w in aws {
        if pa::policy_document(cx, &w.arn)
            .await?
            .as_ref()
            .is_some_and(pa::allows_full_admin)
        {
            out.push(w);
        }
    }
    out.sort_by(|a, b| a.arn.cmp(&b.arn));
    out.dedup();
    Ok(out)
}

#[async_trait]
impl Control for NoFullAdminPolicies {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let policies = watched(cx).await?;
        pa::plan_pairs(cx, &policies, &WORDING).await
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        pa::detach(cx, &f.before).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        pa::restore(cx, previous).await
    }
}
