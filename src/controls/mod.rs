//! Controls: one file per control (or per tight family), each a struct with a read-only
//! `plan` step and an `apply` step, all listed once in [`registry`].

mod access_analyzer;
mod access_key_rotation;
mod access_keys;
mod alarm_topic;
mod buckets;
mod caller;
mod cloudshell_full_access;
mod cloudtrail_bucket_access_logging;
mod cloudtrail_kms_encryption;
mod cloudtrail_log_validation;
mod cloudtrail_multi_region;
mod config_all_regions;
mod credential_report;
mod default_security_group;
mod ebs_default_encryption;
mod ec2_imdsv2;
mod efs_encryption;
mod expired_server_certificates;
pub mod filter_pattern;
mod iam_permissions_via_groups;
mod iam_user_mfa;
mod kms_key_rotation;
mod metric_filters;
mod nacl_no_admin_ports;
mod no_full_admin_policies;
mod one_active_access_key;
mod params;
mod password_min_length;
mod password_policy;
mod password_reuse_prevention;
mod policy_attachments;
mod rds_auto_minor_upgrade;
mod rds_encryption_at_rest;
mod rds_instances;
mod rds_multi_az;
mod rds_not_public;
mod reads;
mod root_hardware_mfa;
mod root_mfa;
mod root_no_access_keys;
mod root_usage;
mod s3_block_public_access;
mod s3_buckets;
mod s3_data_classification;
mod s3_deny_http;
mod s3_mfa_delete;
mod s3_object_logging;
mod security_contact;
mod security_group_rules;
mod security_hub;
mod sg_open_ingress;
mod support_role;
mod trails;
mod unused_credentials;
mod vpc_flow_logs;
mod vpc_peering_least_access;

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::{AwsContext, AwsError};
use crate::plan::Finding;

pub use caller::{caller, parse_caller_arn, Caller};
pub use credential_report::CredentialReport;
pub use params::{parse_cidr, parse_set, Contact, FlowLogDestination, Params, KEYS as PARAM_KEYS};
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
    &iam_user_mfa::IamUserMfa,
    &unused_credentials::UnusedCredentials,
    &one_active_access_key::OneActiveAccessKey,
    &access_key_rotation::AccessKeyRotation,
    &iam_permissions_via_groups::IamPermissionsViaGroups,
    &security_contact::SecurityContact,
    &password_min_length::PasswordMinLength,
    &password_reuse_prevention::PasswordReusePrevention,
    &no_full_admin_policies::NoFullAdminPolicies,
    &support_role::SupportRole,
    &expired_server_certificates::ExpiredServerCertificates,
    &access_analyzer::AccessAnalyzer,
    &cloudshell_full_access::CloudshellFullAccess,
    &ebs_default_encryption::EbsDefaultEncryption,
    &sg_open_ingress::CIFS,
    &nacl_no_admin_ports::NaclNoAdminPorts,
    &sg_open_ingress::ADMIN_PORTS_IPV4,
    &sg_open_ingress::ADMIN_PORTS_IPV6,
    &default_security_group::DefaultSecurityGroup,
    &vpc_peering_least_access::VpcPeeringLeastAccess,
    &ec2_imdsv2::Ec2Imdsv2,
    &config_all_regions::ConfigAllRegions,
    &kms_key_rotation::KmsKeyRotation,
    &vpc_flow_logs::VpcFlowLogs,
    &metric_filters::UNAUTHORIZED_API_CALLS,
    &metric_filters::CONSOLE_SIGNIN_NO_MFA,
    &metric_filters::ROOT_USAGE,
    &metric_filters::IAM_POLICY_CHANGES,
    &metric_filters::CLOUDTRAIL_CHANGES,
    &metric_filters::CONSOLE_AUTH_FAILURES,
    &metric_filters::CMK_DISABLE_DELETION,
    &metric_filters::S3_BUCKET_POLICY_CHANGES,
    &metric_filters::CONFIG_CHANGES,
    &metric_filters::SECURITY_GROUP_CHANGES,
    &metric_filters::NACL_CHANGES,
    &metric_filters::NETWORK_GATEWAY_CHANGES,
    &metric_filters::ROUTE_TABLE_CHANGES,
    &metric_filters::VPC_CHANGES,
    &metric_filters::ORGANIZATIONS_CHANGES,
    &security_hub::SecurityHub,
    &s3_deny_http::S3DenyHttp,
    &s3_mfa_delete::S3MfaDelete,
    &s3_data_classification::S3DataClassification,
    &s3_block_public_access::S3BlockPublicAccess,
    &rds_encryption_at_rest::RdsEncryptionAtRest,
    &rds_auto_minor_upgrade::RDS_AUTO_MINOR_UPGRADE,
    &rds_not_public::RDS_NOT_PUBLIC,
    &rds_multi_az::RdsMultiAz,
    &efs_encryption::EfsEncryption,
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
