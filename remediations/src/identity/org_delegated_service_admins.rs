//! CIS 7.0 2.1.6: delegated administrators are used for Organizations-integrated services.
//! Check-only.
//!
//! From the management account (or a delegated administrator): at least one member account
//! is registered as a delegated administrator, and for which services. Which account should
//! administer which service is the organization's choice, so cis-fix never registers one.
//! From a member or a standalone account: one finding saying so.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::organization::plannable;

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
        let org = match plannable(cx, TARGET).await? {
            Ok(o) => o,
            Err(f) => return Ok(vec![f]),
        };
        let api = cx.aws.organizations();
        let mut admins: Admins = Vec::new();
        let mut pages = api.list_delegated_administrators().into_paginator().send();
        while let Some(p) = pages.next().await {
            let p = p.map_err(aws_err("organizations:ListDelegatedAdministrators"))?;
            for a in p.delegated_administrators() {
                let Some(id) = a.id() else { continue };
                let mut services = Vec::new();
                let mut sp = api
                    .list_delegated_services_for_account()
                    .account_id(id)
                    .into_paginator()
                    .send();
                while let Some(s) = sp.next().await {
                    let s = s.map_err(aws_err("organizations:ListDelegatedServicesForAccount"))?;
                    services.extend(
                        s.delegated_services()
                            .iter()
                            .filter_map(|d| d.service_principal().map(str::to_string)),
                    );
                }
                services.sort();
                admins.push((id.to_string(), services));
            }
        }
        admins.sort();
        Ok(vec![judge(&org.id, &admins)])
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
