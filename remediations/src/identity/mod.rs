//! CIS 5.0 section 1, identity and access management: the root user, IAM users and their
//! credentials, the password policy, policies and roles, certificates, Access Analyzer; and
//! CIS 7.0 2.1, the organization-level controls (`org_*`, planned from the management account).

pub mod access_analyzer;
pub mod access_key_rotation;
pub mod cloudshell_full_access;
pub mod expired_server_certificates;
pub mod iam_permissions_via_groups;
pub mod iam_user_mfa;
pub mod no_full_admin_policies;
pub mod one_active_access_key;
pub mod org_centralized_root_access;
pub mod org_delegated_policy_admin;
pub mod org_delegated_service_admins;
pub mod org_guardrail_policies;
pub mod org_ou_structure;
pub mod password_min_length;
pub mod password_reuse_prevention;
pub mod root_hardware_mfa;
pub mod root_mfa;
pub mod root_no_access_keys;
pub mod root_usage;
pub mod security_contact;
pub mod support_role;
pub mod unused_credentials;
