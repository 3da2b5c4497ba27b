//! CIS 7.0 2.1.4: organizational units are structured by environment and sensitivity.
//! Check-only.
//!
//! What an OU should hold is a design decision, and moving an account changes the policies it
//! inherits, so cis-fix never moves one. What it can tell: whether the organization has OUs at
//! all, and which member accounts sit directly under the root (outside every OU, so no OU's
//! guardrails reach them). From a member or a standalone account: one finding saying so.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::organization::{listed, org_scope, root};

pub struct OrgOuStructure;

const DESCRIPTION: Description = Description {
    slug: "org-ou-structure",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "organizations:DescribeOrganization",
        "organizations:ListPolicies",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
    ],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "organizational unit structure";

/// The finding (pure): `ous` are the root's OUs (names), `at_root` the member accounts
/// directly under the root (the management account left out).
pub(crate) fn judge(org: &str, root: &str, ous: &[String], at_root: &[String]) -> Finding {
    let before = json!({
        "Organization": org, "Root": root, "TopLevelOUs": ous, "AccountsAtRoot": at_root,
    });
    let steps: &[&str] = &[
        "Design OUs by environment and sensitivity (e.g. Security, Infrastructure, Workloads/Prod, Workloads/NonProd, Sandbox, Suspended) with their guardrails.",
        "Move each member account into its OU (organizations:MoveAccount) after checking the policies the OU applies; test on a staging OU first.",
    ];
    if ous.is_empty() {
        return Finding::manual(
            TARGET,
            format!(
                "organization {org} has no organizational units: every account sits at the root"
            ),
            before,
            steps,
        );
    }
    if !at_root.is_empty() {
        return Finding::manual(
            TARGET,
            format!(
                "{} directly under the root, outside every OU: {}",
                if at_root.len() == 1 {
                    "1 member account sits".to_string()
                } else {
                    format!("{} member accounts sit", at_root.len())
                },
                at_root.join(", ")
            ),
            before,
            steps,
        );
    }
    Finding::compliant(
        TARGET,
        format!(
            "every member account is in an OU; top-level OUs: {}",
            ous.join(", ")
        ),
        before,
    )
    .with_note("Whether the OUs follow environment and sensitivity is a judgement: review their names and guardrails.")
}

#[async_trait]
impl Control for OrgOuStructure {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        org_scope(cx, TARGET, |org| async move {
            let root = root(cx).await?;
            let api = cx.aws.organizations();
            // The root's OUs and its accounts depend on each other's answer in nothing:
            // asked together.
            let (ous, at_root) = futures::try_join!(
                listed(
                    "organizations:ListOrganizationalUnitsForParent",
                    api.list_organizational_units_for_parent()
                        .parent_id(&root.id)
                        .into_paginator()
                        .send()
                        .try_collect(),
                    |p| p.organizational_units.unwrap_or_default(),
                ),
                listed(
                    "organizations:ListAccountsForParent",
                    api.list_accounts_for_parent()
                        .parent_id(&root.id)
                        .into_paginator()
                        .send()
                        .try_collect(),
                    |p| p.accounts.unwrap_or_default(),
                )
            )?;
            let mut ous = ous
                .into_iter()
                .map(|o| o.name.or(o.id).unwrap_or_default())
                .collect::<Vec<_>>();
            ous.sort();
            let mut at_root = at_root
                .into_iter()
                .filter_map(|a| a.id)
                .filter(|id| *id != org.management_account)
                .collect::<Vec<_>>();
            at_root.sort();
            Ok(judge(&org.id, &root.id, &ous, &at_root))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    #[test]
    fn no_ous_or_accounts_at_the_root_are_manual() {
        assert_eq!(judge("o", "r", &[], &[]).status, Status::Manual);
        let f = judge("o", "r", &["Prod".into()], &["111122223333".into()]);
        assert_eq!(f.status, Status::Manual);
        assert!(f.summary.contains("111122223333"));
        assert_eq!(
            judge("o", "r", &["Prod".into()], &[]).status,
            Status::Compliant
        );
    }
}
