//! The registry: the one place that lists every control cis-fix implements, in catalog order.

use crate::control::Control;
use crate::{identity, logging, monitoring, networking, storage};

static REGISTRY: &[&dyn Control] = &[
    &identity::root_no_access_keys::RootNoAccessKeys,
    &identity::root_mfa::RootMfa,
    &identity::root_hardware_mfa::RootHardwareMfa,
    &identity::root_usage::RootUsage,
    &identity::iam_user_mfa::IamUserMfa,
    &identity::unused_credentials::UnusedCredentials,
    &identity::one_active_access_key::OneActiveAccessKey,
    &identity::access_key_rotation::AccessKeyRotation,
    &identity::iam_permissions_via_groups::IamPermissionsViaGroups,
    &identity::security_contact::SecurityContact,
    &identity::password_min_length::PasswordMinLength,
    &identity::password_reuse_prevention::PasswordReusePrevention,
    &identity::no_full_admin_policies::NoFullAdminPolicies,
    &identity::support_role::SupportRole,
    &identity::expired_server_certificates::ExpiredServerCertificates,
    &identity::access_analyzer::AccessAnalyzer,
    &identity::cloudshell_full_access::CloudshellFullAccess,
    &identity::org_centralized_root_access::OrgCentralizedRootAccess,
    &identity::org_guardrail_policies::OrgGuardrailPolicies,
    &identity::org_ou_structure::OrgOuStructure,
    &identity::org_delegated_policy_admin::OrgDelegatedPolicyAdmin,
    &identity::org_delegated_service_admins::OrgDelegatedServiceAdmins,
    &networking::ebs_default_encryption::EbsDefaultEncryption,
    &networking::sg_open_ingress::CIFS,
    &networking::nacl_no_admin_ports::NaclNoAdminPorts,
    &networking::sg_open_ingress::ADMIN_PORTS_IPV4,
    &networking::sg_open_ingress::ADMIN_PORTS_IPV6,
    &networking::default_security_group::DefaultSecurityGroup,
    &networking::vpc_peering_least_access::VpcPeeringLeastAccess,
    &networking::ec2_imdsv2::Ec2Imdsv2,
    &logging::config_all_regions::ConfigAllRegions,
    &logging::kms_key_rotation::KmsKeyRotation,
    &logging::vpc_flow_logs::VpcFlowLogs,
    &monitoring::metric_filters::UNAUTHORIZED_API_CALLS,
    &monitoring::metric_filters::CONSOLE_SIGNIN_NO_MFA,
    &monitoring::metric_filters::ROOT_USAGE,
    &monitoring::metric_filters::IAM_POLICY_CHANGES,
    &monitoring::metric_filters::CLOUDTRAIL_CHANGES,
    &monitoring::metric_filters::CONSOLE_AUTH_FAILURES,
    &monitoring::metric_filters::CMK_DISABLE_DELETION,
    &monitoring::metric_filters::S3_BUCKET_POLICY_CHANGES,
    &monitoring::metric_filters::CONFIG_CHANGES,
    &monitoring::metric_filters::SECURITY_GROUP_CHANGES,
    &monitoring::metric_filters::NACL_CHANGES,
    &monitoring::metric_filters::NETWORK_GATEWAY_CHANGES,
    &monitoring::metric_filters::ROUTE_TABLE_CHANGES,
    &monitoring::metric_filters::VPC_CHANGES,
    &monitoring::metric_filters::ORGANIZATIONS_CHANGES,
    &monitoring::security_hub::SecurityHub,
    &storage::s3_deny_http::S3DenyHttp,
    &storage::s3_mfa_delete::S3MfaDelete,
    &storage::s3_data_classification::S3DataClassification,
    &storage::s3_block_public_access::S3BlockPublicAccess,
    &storage::rds_encryption_at_rest::RdsEncryptionAtRest,
    &storage::rds_auto_minor_upgrade::RDS_AUTO_MINOR_UPGRADE,
    &storage::rds_not_public::RDS_NOT_PUBLIC,
    &storage::rds_multi_az::RdsMultiAz,
    &storage::efs_encryption::EfsEncryption,
    &logging::cloudtrail_multi_region::CloudtrailMultiRegion,
    &logging::cloudtrail_log_validation::CloudtrailLogValidation,
    &logging::cloudtrail_bucket_access_logging::CloudtrailBucketAccessLogging,
    &logging::cloudtrail_kms_encryption::CloudtrailKmsEncryption,
    &logging::s3_object_logging::WRITE,
    &logging::s3_object_logging::READ,
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
    use crate::control::Kind;

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
    fn every_fixing_or_checking_control_says_why_it_matters() {
        let cat = Catalog::embedded().unwrap();
        for c in registry() {
            let e = cat.by_slug(c.slug()).unwrap();
            let why = e.rationale.trim();
            assert!(
                why.len() >= 40 && why.ends_with('.'),
                "{}: the catalog's rationale is missing or not a sentence: {why:?}",
                c.slug()
            );
            assert_ne!(
                why,
                e.title,
                "{}: the rationale repeats the title",
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
