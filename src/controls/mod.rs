//! Controls: one file per control (or per tight family), each a struct with a read-only
//! `plan` step and an `apply` step, all listed once in [`registry`].

mod caller;
mod cloudtrail_bucket_access_logging;
mod cloudtrail_kms_encryption;
mod cloudtrail_log_validation;
mod cloudtrail_multi_region;
mod credential_report;
mod default_security_group;
mod ebs_default_encryption;
mod ec2_imdsv2;
mod nacl_no_admin_ports;
mod params;
mod password_min_length;
mod password_policy;
mod password_reuse_prevention;
mod reads;
mod root_hardware_mfa;
mod root_mfa;
mod root_no_access_keys;
mod root_usage;
mod s3_object_logging;
mod security_group_rules;
mod sg_open_ingress;
mod trails;
mod vpc_peering_least_access;

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::{AwsContext, AwsError};
use crate::plan::Finding;

pub use caller::{caller, parse_caller_arn, Caller};
pub use credential_report::CredentialReport;
pub use params::{parse_cidr, parse_set, Contact, FlowLogDestination, Params};
pub use password_policy::PasswordPolicyDoc;
pub use reads::Reads;
pub use trails::{cis_trail, trails, TrailInfo};

/// The region a regional control was called for. The engine always passes one; `None` is a
/// bug, reported rather than panicking.
pub(crate) fn region_of(region: Option<&str>) -> Result<&str, AwsError> {
    region.ok_or_else(|| {
        AwsError::new(
            crate::aws::ErrorKind::Service,
            "ec2",
            "internal: regional control called without a region",
        )
    })
}

/// Where a control's targets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Account-wide (IAM): planned once per run.
    Global,
    /// Planned once in every selected region.
    Regional,
}

/// What cis-fix does about a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plans and applies changes.
    Fix,
    /// Reports the state and the manual steps; never changes anything.
    CheckOnly,
}

/// What a control works with: the account's clients and the reads shared in this phase.
pub struct Cx<'a> {
    pub aws: &'a AwsContext,
    pub reads: &'a Reads,
    pub params: &'a Params,
}

#[async_trait]
pub trait Control: Send + Sync {
    /// The catalog slug this control implements.
    fn slug(&self) -> &'static str;
    fn scope(&self) -> Scope;
    fn kind(&self) -> Kind;
    /// IAM actions `plan` needs.
    fn read_actions(&self) -> &'static [&'static str];
    /// IAM actions `apply` and `undo` need (besides the read actions).
    fn write_actions(&self) -> &'static [&'static str] {
        &[]
    }

    /// For fixers: the risk of the change and how undo reverses it, for the control reference.
    fn change_profile(&self) -> &'static str {
        ""
    }

    /// Read the account and report each target. Never writes.
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError>;

    /// Make the change `finding` describes (a fresh finding, re-read just before).
    async fn apply(
        &self,
        _cx: &Cx<'_>,
        _region: Option<&str>,
        finding: &Finding,
    ) -> Result<(), AwsError> {
        Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            self.slug(),
            format!(
                "{} is check-only; cis-fix does not change {}",
                self.slug(),
                finding.target
            ),
        ))
    }

    /// Put `target` back to `previous`, the state the journal recorded before apply.
    async fn undo(
        &self,
        _cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        _previous: &Value,
    ) -> Result<(), AwsError> {
        Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            self.slug(),
            format!("{} cannot be undone by cis-fix", target),
        ))
    }
}

static REGISTRY: &[&dyn Control] = &[
    &root_no_access_keys::RootNoAccessKeys,
    &root_mfa::RootMfa,
    &root_hardware_mfa::RootHardwareMfa,
    &root_usage::RootUsage,
    &password_min_length::PasswordMinLength,
    &password_reuse_prevention::PasswordReusePrevention,
    &ebs_default_encryption::EbsDefaultEncryption,
    &sg_open_ingress::CIFS,
    &nacl_no_admin_ports::NaclNoAdminPorts,
    &sg_open_ingress::ADMIN_PORTS_IPV4,
    &sg_open_ingress::ADMIN_PORTS_IPV6,
    &default_security_group::DefaultSecurityGroup,
    &vpc_peering_least_access::VpcPeeringLeastAccess,
    &ec2_imdsv2::Ec2Imdsv2,
    &cloudtrail_multi_region::CloudtrailMultiRegion,
    &cloudtrail_log_validation::CloudtrailLogValidation,
    &cloudtrail_bucket_access_logging::CloudtrailBucketAccessLogging,
    &cloudtrail_kms_encryption::CloudtrailKmsEncryption,
    &s3_object_logging::WRITE,
    &s3_object_logging::READ,
];

/// Every control cis-fix implements.
pub fn registry() -> &'static [&'static dyn Control] {
    REGISTRY
}

pub fn find(slug: &str) -> Option<&'static dyn Control> {
    REGISTRY.iter().copied().find(|c| c.slug() == slug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn every_registered_control_is_in_the_catalog() {
        let cat = Catalog::embedded().unwrap();
        for c in registry() {
            assert!(
                cat.by_slug(c.slug()).is_some(),
                "{} missing from catalog",
                c.slug()
            );
        }
    }

    #[test]
    fn slugs_are_registered_once() {
        let mut slugs: Vec<_> = registry().iter().map(|c| c.slug()).collect();
        slugs.sort();
        let n = slugs.len();
        slugs.dedup();
        assert_eq!(n, slugs.len());
    }

    #[test]
    fn fixers_declare_write_actions() {
        for c in registry() {
            assert!(!c.read_actions().is_empty(), "{}", c.slug());
            assert_eq!(
                c.kind() == Kind::Fix,
                !c.write_actions().is_empty(),
                "{}",
                c.slug()
            );
            assert_eq!(
                c.kind() == Kind::Fix,
                !c.change_profile().is_empty(),
                "{}: fixers say their risk and undo",
                c.slug()
            );
        }
    }
}
