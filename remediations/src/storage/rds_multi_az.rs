//! CIS 5.0 2.2.4: RDS instances use Multi-AZ deployments. Check-only: a standby in a second
//! Availability Zone roughly doubles the instance's cost, and which databases need it is the
//! owner's call. Aurora cluster members are judged by their cluster (replicas in other
//! zones), not by the instance's MultiAZ flag.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::AwsError;
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::rds_instances as rds;

pub struct RdsMultiAz;

const DESCRIPTION: Description = Description {
    slug: "rds-multi-az",
    scope: Scope::Regional,
    kind: Kind::CheckOnly,
    read_actions: &[rds::DESCRIBE],
    write_actions: &[],
    change_profile: "",
};

#[async_trait]
impl Control for RdsMultiAz {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(rds::instances(cx, region)
            .await?
            .iter()
            .map(|db| {
                let multi = db.multi_az().unwrap_or(false);
                let before = json!({ "MultiAZ": multi });
                let id = rds::id(db);
                if multi {
                    return Finding::compliant(rds::target(db), format!("Multi-AZ ({})", rds::describe(db)), before);
                }
                if let Some(c) = db.db_cluster_identifier() {
                    return Finding::manual(
                        rds::target(db),
                        format!("member of cluster {c}: availability comes from the cluster's replicas"),
                        before,
                        &["Check that the cluster has at least one reader instance in another Availability Zone (aws rds describe-db-clusters → DBClusterMembers and their AvailabilityZone); add one with aws rds create-db-instance --db-cluster-identifier CLUSTER --availability-zone ZONE if not. Each reader is billed as an instance."],
                    );
                }
                Finding {
                    manual_steps: vec![
                        "Decide whether this database needs a standby: Multi-AZ roughly doubles the instance and storage cost (the standby is billed like the primary), in exchange for automatic failover to another Availability Zone.".to_string(),
                        format!("Enable it in the next maintenance window: aws rds modify-db-instance --region {region} --db-instance-identifier {id} --multi-az --no-apply-immediately (with --apply-immediately it starts now; performance can dip while the standby is created)."),
                        format!("Check: aws rds describe-db-instances --region {region} --db-instance-identifier {id} shows \"MultiAZ\": true."),
                    ],
                    ..Finding::manual(
                        rds::target(db),
                        format!("single-AZ ({}); a standby in another zone costs about as much as the instance", rds::describe(db)),
                        before,
                        &[],
                    )
                }
                .with_note("Check-only: Multi-AZ is a cost and availability decision, so cis-fix reports it and never changes it.")
            })
            .collect())
    }
}
