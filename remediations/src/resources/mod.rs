//! What controls share: the readers and writers of AWS resources that several controls use
//! (buckets, trails, policy attachments, security-group rules, …) and the reads shared within
//! one phase. Nothing here imports a control.

pub mod access_keys;
pub mod alarm_topic;
pub mod buckets;
pub mod caller;
pub mod credential_report;
pub mod filter_pattern;
pub mod iam_details;
pub mod landing_zone;
pub mod lanes;
pub mod mfa_policy;
pub mod organization;
pub mod password_policy;
pub mod policy_attachments;
pub mod policy_document;
pub mod rds_instances;
pub mod reads;
pub mod s3_buckets;
pub mod security_group_rules;
pub mod service_role;
pub mod trails;

pub use caller::{caller, parse_caller_arn, Caller};
pub use credential_report::CredentialReport;
pub use password_policy::PasswordPolicyDoc;
pub use reads::{Carried, Reads};
pub use trails::{cis_trail, trails, TrailInfo};
