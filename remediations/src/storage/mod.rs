//! CIS 5.0 section 2, storage: S3 buckets (2.1), RDS (2.2) and EFS (2.3).

pub mod efs_encryption;
pub mod rds_auto_minor_upgrade;
pub mod rds_encryption_at_rest;
pub mod rds_multi_az;
pub mod rds_not_public;
pub mod s3_block_public_access;
pub mod s3_data_classification;
pub mod s3_deny_http;
pub mod s3_mfa_delete;

#[cfg(test)]
mod tests {
    use crate::plan::Risk;
    use crate::plan::Status;
    use aws_sdk_rds::types::DbInstance;
    use aws_sdk_rds::types::Endpoint;
    use serde_json::json;

    fn db(public: bool, auto_minor: bool) -> DbInstance {
        DbInstance::builder()
            .db_instance_identifier("db1")
            .engine("postgres")
            .db_instance_status("available")
            .publicly_accessible(public)
            .auto_minor_version_upgrade(auto_minor)
            .endpoint(
                Endpoint::builder()
                    .address("db1.example")
                    .port(5432)
                    .build(),
            )
            .build()
    }

    #[test]
    fn each_fixer_judges_and_writes_its_own_flag() {
        let auto = &super::rds_auto_minor_upgrade::RDS_AUTO_MINOR_UPGRADE;
        let public = &super::rds_not_public::RDS_NOT_PUBLIC;
        let bad = db(true, false);
        let f = auto.finding(&bad);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, "DB instance db1");
        assert_eq!(
            f.summary,
            "automatic minor version upgrades are off (postgres)"
        );
        assert_eq!(f.before, json!({ "AutoMinorVersionUpgrade": false }));
        assert_eq!(f.after, json!({ "AutoMinorVersionUpgrade": true }));
        assert_eq!(
            f.calls[0].params.to_string(),
            r#"{"DBInstanceIdentifier":"db1","AutoMinorVersionUpgrade":true,"ApplyImmediately":true}"#
        );
        assert_eq!(f.risk, Risk::Low);
        assert!(f.in_use.is_empty());
        let f = public.finding(&bad);
        assert_eq!(
            f.summary,
            "publicly accessible (postgres); clients outside the VPC lose access"
        );
        assert_eq!(f.after, json!({ "PubliclyAccessible": false }));
        assert_eq!(f.risk, Risk::High);
        assert_eq!(f.notes.len(), 2);
        assert_eq!(
            f.in_use,
            ["endpoint db1.example:5432: clients connecting from outside the VPC lose access"]
        );
        let good = db(false, true);
        assert_eq!(auto.finding(&good).status, Status::Compliant);
        let f = public.finding(&good);
        assert_eq!(f.status, Status::Compliant);
        assert_eq!(f.summary, "not publicly accessible (postgres)");
    }
}
