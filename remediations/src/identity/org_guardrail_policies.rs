//! CIS 7.0 2.1.2: SCP/RCP authorization guardrails apply to all accounts. Check-only.
//!
//! From the management account (or a delegated administrator): the organization has all
//! features, and a policy of the customer's own — a service control policy or a resource
//! control policy, not the AWS-managed FullAWSAccess / RCPFullAWSAccess — is attached to the
//! organization's root, so it applies to every account. What the guardrails should say is a
//! judgement (they can block regions, pipelines or security services), so cis-fix never
//! writes one: a missing or partial guardrail is a manual finding listing what is attached
//! where. From a member or a standalone account: one finding saying so.

use async_trait::async_trait;
use aws_sdk_organizations::types::PolicyType;
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::organization::{listed, org_scope, policies, root};

pub struct OrgGuardrailPolicies;

const DESCRIPTION: Description = Description {
    slug: "org-guardrail-policies",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "organizations:DescribeOrganization",
        "organizations:ListRoots",
        "organizations:ListPolicies",
        "organizations:ListTargetsForPolicy",
    ],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "organization SCP/RCP guardrails";
const SCP: &str = "SERVICE_CONTROL_POLICY";
const RCP: &str = "RESOURCE_CONTROL_POLICY";

/// One customer policy and where it is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Guardrail {
    pub id: String,
    pub name: String,
    /// SCP or RCP.
    pub kind: &'static str,
    /// Target ids (root `r-…`, OUs `ou-…`, accounts).
    pub targets: Vec<String>,
}

fn state(org: &str, all_features: bool, enabled: &[String], rails: &[Guardrail]) -> Value {
    json!({
        "Organization": org,
        "AllFeatures": all_features,
        "EnabledPolicyTypes": enabled,
        "CustomerPolicies": rails.iter().map(|g| json!({
            "Id": g.id, "Name": g.name, "Type": g.kind, "Targets": g.targets,
        })).collect::<Vec<_>>(),
    })
}

/// The finding (pure): compliant when a customer policy is attached to the root.
pub(crate) fn judge(
    org: &str,
    all_features: bool,
    root: &str,
    enabled: &[String],
    rails: &[Guardrail],
) -> Finding {
    let before = state(org, all_features, enabled, rails);
    if !all_features {
        return Finding::manual(
            TARGET,
            format!("organization {org} has consolidated billing only: SCPs and RCPs need all features"),
            before,
            &["In the management account: enable all features (organizations:EnableAllFeatures; every member account must approve), then enable the SCP policy type on the root and attach guardrails."],
        );
    }
    let at_root: Vec<String> = rails
        .iter()
        .filter(|g| g.targets.iter().any(|t| t == root))
        .map(|g| format!("{} {} ({})", g.kind, g.name, g.id))
        .collect();
    if !at_root.is_empty() {
        return Finding::compliant(
            TARGET,
            format!(
                "{} attached to the root {root}: {} every account",
                at_root.join(", "),
                if at_root.len() == 1 {
                    "it applies to"
                } else {
                    "they apply to"
                }
            ),
            before,
        );
    }
    let steps: &[&str] = &[
        "Write the guardrails (deny leaving the organization, disabling CloudTrail/Config/GuardDuty, root user actions, unapproved regions; RCPs limiting access to your resources to your organization) and test them on a staging OU first.",
        "Enable the SCP (and RCP) policy type on the root, then attach the policies to the root so they apply to every account: organizations:AttachPolicy --target-id ROOT_ID.",
    ];
    let summary = if !enabled.iter().any(|t| t == SCP) {
        format!("service control policies are not enabled on the root {root}: no guardrail applies")
    } else if rails.is_empty() {
        "only the AWS-managed FullAWSAccess policies: no guardrail of the organization's own applies".to_string()
    } else {
        format!(
            "no policy of the organization's own is attached to the root {root}; attached elsewhere only: {} — accounts outside those targets have no guardrail",
            rails
                .iter()
                .map(|g| format!(
                    "{} {} ({}) on {}",
                    g.kind,
                    g.name,
                    g.id,
                    if g.targets.is_empty() { "nothing".to_string() } else { g.targets.join(", ") }
                ))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Finding::manual(TARGET, summary, before, steps)
}

/// Policies whose targets are read at once.
const TARGET_READS_AT_ONCE: usize = 4;

/// The organization's own policies of `kind` (the AWS-managed ones left out) and where each
/// is attached.
async fn customer_policies(cx: &Cx<'_>, kind: PolicyType) -> Result<Vec<Guardrail>, AwsError> {
    let label = if kind == PolicyType::ServiceControlPolicy {
        "SCP"
    } else {
        "RCP"
    };
    // Each policy's targets depend on no other policy's: asked together (the Organizations
    // budget paces them), in listing order.
    let own: Vec<_> = policies(cx, kind)
        .await?
        .into_iter()
        .filter(|s| !s.aws_managed())
        .filter_map(|s| {
            Some((
                s.id()?.to_string(),
                s.name().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let out = stream::iter(own)
        .map(|(id, name)| async move {
            let mut targets = listed(
                "organizations:ListTargetsForPolicy",
                cx.aws
                    .organizations()
                    .list_targets_for_policy()
                    .policy_id(&id)
                    .into_paginator()
                    .send()
                    .try_collect(),
                |p| p.targets.unwrap_or_default(),
            )
            .await?
            .into_iter()
            .filter_map(|t| t.target_id)
            .collect::<Vec<_>>();
            targets.sort();
            Ok::<_, AwsError>(Guardrail {
                id,
                name,
                kind: label,
                targets,
            })
        })
        .buffered(TARGET_READS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(out)
}

#[async_trait]
impl Control for OrgGuardrailPolicies {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        org_scope(cx, TARGET, |org| async move {
            if !org.all_features {
                return Ok(judge(&org.id, false, "", &[], &[]));
            }
            // The SCPs and the root are asked together; RCPs are listed only where the
            // policy type exists on the root: an organization without it has none to attach.
            let (root, mut rails) = futures::try_join!(
                root(cx),
                customer_policies(cx, PolicyType::ServiceControlPolicy)
            )?;
            if root.enabled(RCP) {
                rails.extend(customer_policies(cx, PolicyType::ResourceControlPolicy).await?);
            }
            Ok(judge(
                &org.id,
                true,
                &root.id,
                &root.enabled_policy_types,
                &rails,
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    fn rail(id: &str, kind: &'static str, targets: &[&str]) -> Guardrail {
        Guardrail {
            id: id.into(),
            name: format!("name-{id}"),
            kind,
            targets: targets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_customer_policy_on_the_root_is_compliant_elsewhere_is_manual() {
        let enabled = vec![SCP.to_string()];
        let f = judge(
            "o-1",
            true,
            "r-1",
            &enabled,
            &[rail("p-a", "SCP", &["r-1"])],
        );
        assert_eq!(f.status, Status::Compliant, "{f:?}");
        let f = judge(
            "o-1",
            true,
            "r-1",
            &enabled,
            &[rail("p-a", "SCP", &["ou-x"])],
        );
        assert_eq!(f.status, Status::Manual);
        assert!(f.summary.contains("on ou-x"), "{}", f.summary);
        let f = judge("o-1", true, "r-1", &enabled, &[]);
        assert!(f.summary.contains("only the AWS-managed"), "{}", f.summary);
        let f = judge("o-1", true, "r-1", &[], &[]);
        assert!(
            f.summary.contains("not enabled on the root"),
            "{}",
            f.summary
        );
        let f = judge("o-1", false, "", &[], &[]);
        assert!(f.summary.contains("consolidated billing"), "{}", f.summary);
        let f = judge(
            "o-1",
            true,
            "r-1",
            &[SCP.into(), RCP.into()],
            &[rail("p-r", "RCP", &["r-1"])],
        );
        assert_eq!(f.status, Status::Compliant);
    }
}
