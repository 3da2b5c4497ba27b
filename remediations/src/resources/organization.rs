//! Where the account stands in AWS Organizations, for the organization-level controls (CIS 7.0
//! 2.1.x): not in an organization, its management account, or a member (a delegated
//! administrator among them). Read once per phase (DescribeOrganization), with the
//! organization's root (ListRoots) when the caller may read it.
//!
//! The organization-level controls plan through [`org_scope`], from the management account or
//! a delegated administrator, and list through [`listed`] (every page, one error name). From a plain member they give one skipped finding saying so (the
//! organization fan-out plans them from the management account); from a standalone account
//! one manual finding (these controls need an organization).

use std::future::Future;

use aws_sdk_organizations::types::{
    OrganizationFeatureSet, PolicySummary, PolicyType, PolicyTypeStatus,
};
use serde_json::json;

pub use crate::aws::organization::listed;
use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::Cx;
use crate::plan::{Finding, Status};

/// The organization as the account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInfo {
    pub id: String,
    pub management_account: String,
    /// Feature set ALL (SCPs, RCPs, centralized root access need it).
    pub all_features: bool,
}

/// Where the account stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Not in an organization.
    Standalone,
    Management(OrgInfo),
    /// A member; `delegated` when it may read the organization's policies (a delegated
    /// administrator).
    Member {
        org: OrgInfo,
        delegated: bool,
    },
}

/// The organization's root: its id and which policy types are enabled on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub id: String,
    pub enabled_policy_types: Vec<String>,
}

impl Root {
    pub fn enabled(&self, t: &str) -> bool {
        self.enabled_policy_types.iter().any(|p| p == t)
    }
}

/// Where this account stands, read once per phase.
pub async fn standing(cx: &Cx<'_>) -> Result<Standing, AwsError> {
    cx.reads
        .shared("organizations:standing", || read_standing(cx))
        .await
}

async fn read_standing(cx: &Cx<'_>) -> Result<Standing, AwsError> {
    let org = match cx.aws.organizations().describe_organization().send().await {
        Ok(o) => o.organization,
        Err(e) => {
            let e = AwsError::from_sdk("organizations:DescribeOrganization", e);
            if e.is_code("AWSOrganizationsNotInUseException") {
                return Ok(Standing::Standalone);
            }
            return Err(e);
        }
    };
    let Some(org) = org else {
        return Ok(Standing::Standalone);
    };
    let info = OrgInfo {
        id: org.id().unwrap_or_default().to_string(),
        management_account: org.master_account_id().unwrap_or_default().to_string(),
        all_features: org.feature_set() == Some(&OrganizationFeatureSet::All),
    };
    if info.management_account == cx.aws.account.id {
        return Ok(Standing::Management(info));
    }
    // A delegated administrator may list the organization's policies; a plain member is
    // refused. (The emulator answers a member with its own empty list: an organization
    // always has the AWS-managed FullAWSAccess policy, so an empty list is a refusal too.)
    // The list is the one the guardrail control reads (read once).
    let delegated = match policies(cx, PolicyType::ServiceControlPolicy).await {
        Ok(p) => !p.is_empty(),
        Err(e) => {
            if e.kind != ErrorKind::AccessDenied || e.org_policy_denial().is_some() {
                return Err(e);
            }
            false
        }
    };
    Ok(Standing::Member {
        org: info,
        delegated,
    })
}

/// Plan an organization-level control: `plan` with the organization when this account may
/// plan it (the management account, or a delegated administrator), else the one finding that
/// says why it is not planned from here (a member: skipped, naming the management account; a
/// standalone account: manual). `target` is the control's target.
pub async fn org_scope<F, Fut>(cx: &Cx<'_>, target: &str, plan: F) -> Result<Vec<Finding>, AwsError>
where
    F: FnOnce(OrgInfo) -> Fut,
    Fut: Future<Output = Result<Finding, AwsError>>,
{
    let org = match standing(cx).await? {
        Standing::Management(org) | Standing::Member { org, delegated: true } => org,
        Standing::Member { org, .. } => return Ok(vec![Finding {
            status: Status::Skipped,
            before: json!({ "Organization": org.id, "ManagementAccount": org.management_account }),
            ..Finding::unknown(
                target,
                format!(
                    "not applicable here: account {} is a member of organization {} and not a delegated administrator; this organization-level control is planned from the management account {}",
                    cx.aws.account.id, org.id, org.management_account
                ),
            )
        }]),
        Standing::Standalone => return Ok(vec![Finding::manual(
            target,
            format!(
                "account {} is not in an AWS Organization: this organization-level control needs one",
                cx.aws.account.id
            ),
            json!({ "Organization": null }),
            &["Create an AWS Organization with all features (or join this account to one), then run cis-fix from its management account."],
        )]),
    };
    Ok(vec![plan(org).await?])
}

/// The organization's policies of one type (every page), read once per phase: whether a
/// member may list them tells a delegated administrator, and the guardrail control judges them.
pub async fn policies(cx: &Cx<'_>, kind: PolicyType) -> Result<Vec<PolicySummary>, AwsError> {
    cx.reads
        .shared(
            &format!("organizations:ListPolicies:{}", kind.as_str()),
            || {
                listed(
                    "organizations:ListPolicies",
                    cx.aws
                        .organizations()
                        .list_policies()
                        .filter(kind.clone())
                        .into_paginator()
                        .send()
                        .try_collect(),
                    |p| p.policies.unwrap_or_default(),
                )
            },
        )
        .await
}

/// The organization's root (there is one), read once per phase.
pub async fn root(cx: &Cx<'_>) -> Result<Root, AwsError> {
    cx.reads
        .shared("organizations:ListRoots", || async {
            let out = cx
                .aws
                .organizations()
                .list_roots()
                .send()
                .await
                .map_err(aws_err("organizations:ListRoots"))?;
            let r = out.roots().first().ok_or_else(|| {
                AwsError::new(
                    ErrorKind::Service,
                    "organizations:ListRoots",
                    "the organization has no root",
                )
            })?;
            Ok(Root {
                id: r.id().unwrap_or_default().to_string(),
                enabled_policy_types: r
                    .policy_types()
                    .iter()
                    .filter(|p| p.status() == Some(&PolicyTypeStatus::Enabled))
                    .filter_map(|p| p.r#type().map(|t| t.as_str().to_string()))
                    .collect(),
            })
        })
        .await
}
