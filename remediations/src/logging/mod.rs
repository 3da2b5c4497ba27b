//! CIS 5.0 section 3, logging: CloudTrail (3.1, 3.2, 3.4, 3.5, 3.8, 3.9), AWS Config (3.3),
//! KMS key rotation (3.6) and VPC flow logs (3.7).

pub mod cloudtrail_bucket_access_logging;
pub mod cloudtrail_kms_encryption;
pub mod cloudtrail_log_validation;
pub mod cloudtrail_multi_region;
pub mod config_all_regions;
pub mod kms_key_rotation;
pub mod s3_object_logging;
pub mod vpc_flow_logs;
