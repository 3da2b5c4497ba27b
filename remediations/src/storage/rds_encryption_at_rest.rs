//! CIS 5.0 2.2.1: RDS instances are encrypted at rest. Check-only: an existing instance can
//! not be encrypted in place. It takes a snapshot, an encrypted copy, a restore to a new
//! instance and a cut-over, which only the owner can schedule; cis-fix never does it.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::rds_instances as rds;

pub struct RdsEncryptionAtRest;

const DESCRIPTION: Description = Description {
    slug: "rds-encryption-at-rest",
    scope: Scope::Regional,
    kind: Kind::CheckOnly,
    read_actions: &[rds::DESCRIBE],
    write_actions: &[],
    change_profile: "",
};

fn steps(region: &str, id: &str, cluster: Option<&str>) -> Vec<String> {
    if let Some(c) = cluster {
        return vec![
            format!("{id} belongs to cluster {c}: encryption is a property of the cluster. Take a cluster snapshot: aws rds create-db-cluster-snapshot --region {region} --db-cluster-identifier {c} --db-cluster-snapshot-identifier {c}-pre-encryption"),
            format!("Restore it as a new, encrypted cluster: aws rds restore-db-cluster-from-snapshot --region {region} --db-cluster-identifier {c}-encrypted --snapshot-identifier {c}-pre-encryption --engine ENGINE --storage-encrypted --kms-key-id KEY (then create its instances)"),
            "Stop writes to the old cluster (or replicate the changes made since the snapshot), point the applications at the new endpoints, and verify.".to_string(),
            "Keep the old cluster and snapshot until the new one is proven; delete them only then (deleting is irreversible).".to_string(),
        ];
    }
    vec![
        "Plan a maintenance window: the data is copied into a new instance with a new endpoint, and writes made after the snapshot must be stopped or replicated.".to_string(),
        format!("Snapshot: aws rds create-db-snapshot --region {region} --db-instance-identifier {id} --db-snapshot-identifier {id}-pre-encryption"),
        format!("Encrypted copy: aws rds copy-db-snapshot --region {region} --source-db-snapshot-identifier {id}-pre-encryption --target-db-snapshot-identifier {id}-encrypted --kms-key-id KEY (alias/aws/rds or a customer managed key)"),
        format!("Restore: aws rds restore-db-instance-from-db-snapshot --region {region} --db-instance-identifier {id}-enc --db-snapshot-identifier {id}-encrypted (same class, subnet group, security groups and parameter group as the original)"),
        "Cut over: stop writes to the old instance, point applications at the new endpoint (or rename the instances so the old DNS name moves), and verify.".to_string(),
        "Keep the old instance and its snapshot until the new one is proven; delete them only then (deleting is irreversible).".to_string(),
    ]
}

#[async_trait]
impl Control for RdsEncryptionAtRest {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(rds::instances(cx, region)
            .await?
            .iter()
            .map(|db| {
                let enc = db.storage_encrypted().unwrap_or(false);
                let before = json!({ "StorageEncrypted": enc, "KmsKeyId": db.kms_key_id() });
                if enc {
                    Finding::compliant(rds::target(db), format!("storage is encrypted ({})", rds::describe(db)), before)
                } else {
                    Finding {
                        manual_steps: steps(region, rds::id(db), db.db_cluster_identifier()),
                        ..Finding::manual(
                            rds::target(db),
                            format!("storage is not encrypted ({}); needs a migration to an encrypted copy", rds::describe(db)),
                            before,
                            &[],
                        )
                    }
                    .with_note("Encryption can not be turned on for an existing instance; cis-fix never migrates data, it gives the steps.")
                }
            })
            .collect())
    }
}
