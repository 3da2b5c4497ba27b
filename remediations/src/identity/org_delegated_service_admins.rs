//! CIS 7.0 2.1.6: delegated administrators are used for Organizations-integrated services.
//! Check-only.
//!
//! From the management account (or a delegated administrator): at least one member account
//! is registered as a delegated administrator, and for which services. Which account should
//! administer which service is the organization's choice, so cis-fix never registers one.
//! From a member or a standalone account: one finding saying so.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::{pages, read_each, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::organization::{listed, org_scope};

pub struct OrgDelegatedServiceAdmins;

const DESCRIPTION: Description = Description {
    slug: "org-delegated-service-admins",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "organizations:DescribeOrganization",
        "organizations:ListPolicies",
        "organizations:ListDelegatedAdministrators",
        "organizations:ListDelegatedServicesForAccount",
    ],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "organization delegated administrators";

/// (account id, services it administers), sorted.
pub(crate) type Admins = Vec<(String, Vec<String>)>;

/// Administrators whose services are read at once.
const SERVICE_READS_AT_ONCE: usize = 4;

/// The finding (pure).
pub(crate) fn judge(org: &str, admins: &Admins) -> Finding {
    let before = json!({
        "Organization": org,
        "DelegatedAdministrators": admins.iter().map(|(a, s)| json!({ "Account": a, "Services": s })).collect::<Vec<_>>(),
    });
    if admins.is_empty() {
        return Finding::manual(
            TARGET,
            format!("organization {org} has no delegated administrator: integrated services are administered from the management account"),
            before,
            &[
                "Choose a security tooling account (Control Tower's Audit account is the usual one).",
                "Register it per service from the management account: organizations:RegisterDelegatedAdministrator, or the service's own call (guardduty:EnableOrganizationAdminAccount, securityhub:EnableOrganizationAdminAccount, access-analyzer, config, cloudtrail:RegisterOrganizationDelegatedAdmin).",
            ],
        );
    }
    Finding::compliant(
        TARGET,
        format!(
            "delegated administrators: {}",
            admins
                .iter()
                .map(|(a, s)| if s.is_empty() {
                    a.clone()
                } else {
                    format!("{a} ({})", s.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        ),
        before,
    )
}

#[async_trait]
impl Control for OrgDelegatedServiceAdmins {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        org_scope(cx, TARGET, |org| async move {
            let api = &cx.aws.organizations();
            // Each administrator's services are asked as soon as its page of administrators
            // is in.
            let admins = pages(
                "organizations:ListDelegatedAdministrators",
                api.list_delegated_administrators().into_paginator().send(),
                |p| {
                    p.delegated_administrators
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|a| a.id)
                        .collect()
                },
            );
            let mut admins: Admins = read_each(admins, SERVICE_READS_AT_ONCE, |id| async move {
                let mut services = listed(
                    "organizations:ListDelegatedServicesForAccount",
                    api.list_delegated_services_for_account()
                        .account_id(&id)
                        .into_paginator()
                        .send()
                        .try_collect(),
                    |p| p.delegated_services.unwrap_or_default(),
                )
                .await?
                .into_iter()
                .filter_map(|d| d.service_principal)
                .collect::<Vec<_>>();
                services.sort();
                Ok((id, services))
            })
            .await?;
            admins.sort();
            Ok(judge(&org.id, &admins))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    #[test]
    fn none_is_manual_some_is_compliant() {
        assert_eq!(judge("o-1", &vec![]).status, Status::Manual);
        let f = judge(
            "o-1",
            &vec![(
                "222233334444".into(),
                vec!["guardduty.amazonaws.com".into()],
            )],
        );
        assert_eq!(f.status, Status::Compliant);
        assert!(f.summary.contains("222233334444 (guardduty.amazonaws.com)"));
    }
}
