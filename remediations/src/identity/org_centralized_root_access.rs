//! CIS 7.0 2.1.1: centralized root access is enabled in AWS Organizations. Check-only.
//!
//! From the management account (or IAM's delegated administrator): IAM's
//! ListOrganizationsFeatures shows both root credentials management and privileged root
//! sessions enabled. Turning them on needs trusted access for IAM first
//! (organizations:EnableAWSServiceAccess) and changes how every member's root user is managed,
//! so cis-fix reports the steps rather than making the change; existing member root
//! credentials are not removed by enabling it either. From a member or a standalone account:
//! one finding saying so. (The emulator lacks ListOrganizationsFeatures: the finding is then
//! undetermined, and the judgement is unit-tested on replayed answers.)

use async_trait::async_trait;
use aws_sdk_iam::types::FeatureType;
use serde_json::json;

use crate::aws::{AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::organization::org_scope;

pub struct OrgCentralizedRootAccess;

const DESCRIPTION: Description = Description {
    slug: "org-centralized-root-access",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "organizations:DescribeOrganization",
        "organizations:ListPolicies",
        "iam:ListOrganizationsFeatures",
    ],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "organization centralized root access";

const STEPS: &[&str] = &[
    "From the management account: enable trusted access for IAM (aws organizations enable-aws-service-access --service-principal iam.amazonaws.com).",
    "Enable root credentials management and privileged root actions (aws iam enable-organizations-root-credentials-management; aws iam enable-organizations-root-sessions).",
    "Then delete the member accounts' root credentials (sts:AssumeRoot with IAMDeleteRootUserCredentials) once nothing depends on them.",
];

/// The finding (pure) from the features IAM reports enabled (`None`: IAM says trusted
/// access for it is not enabled, so neither is).
pub(crate) fn judge(org: &str, enabled: Option<&[FeatureType]>) -> Finding {
    let has = |f: &FeatureType| enabled.is_some_and(|e| e.contains(f));
    let creds = has(&FeatureType::RootCredentialsManagement);
    let sessions = has(&FeatureType::RootSessions);
    let before = json!({
        "Organization": org,
        "IamTrustedAccess": enabled.is_some(),
        "RootCredentialsManagement": creds,
        "RootSessions": sessions,
    });
    if creds && sessions {
        return Finding::compliant(
            TARGET,
            "root credentials management and privileged root sessions are enabled",
            before,
        );
    }
    let missing: Vec<&str> = [
        (enabled.is_none(), "trusted access for IAM"),
        (!creds, "root credentials management"),
        (!sessions, "privileged root sessions"),
    ]
    .into_iter()
    .filter(|(m, _)| *m)
    .map(|(_, w)| w)
    .collect();
    Finding::manual(
        TARGET,
        format!("not enabled: {}", missing.join(", ")),
        before,
        STEPS,
    )
}

#[async_trait]
impl Control for OrgCentralizedRootAccess {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        org_scope(cx, TARGET, |org| async move {
            let enabled = match cx.aws.iam().list_organizations_features().send().await {
                Ok(out) => Some(out.enabled_features().to_vec()),
                Err(e) => {
                    let e = AwsError::from_sdk("iam:ListOrganizationsFeatures", e);
                    if e.is_code("ServiceAccessNotEnabledException")
                        || e.is_code("OrganizationNotInAllFeaturesModeException")
                    {
                        None
                    } else if e.kind == ErrorKind::Service && e.code.is_none() {
                        // An endpoint without this API (the emulator).
                        return Ok(Finding::unknown(
                            TARGET,
                            format!("could not read the organization's root access features: {e}"),
                        ));
                    } else {
                        return Err(e);
                    }
                }
            };
            Ok(judge(&org.id, enabled.as_deref()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    #[test]
    fn both_features_are_needed() {
        let both = [
            FeatureType::RootCredentialsManagement,
            FeatureType::RootSessions,
        ];
        assert_eq!(judge("o", Some(&both)).status, Status::Compliant);
        let f = judge("o", Some(&both[..1]));
        assert_eq!(f.status, Status::Manual);
        assert_eq!(f.summary, "not enabled: privileged root sessions");
        let f = judge("o", None);
        assert!(
            f.summary
                .starts_with("not enabled: trusted access for IAM, root credentials"),
            "{}",
            f.summary
        );
        assert_eq!(f.manual_steps.len(), 3);
    }
}
