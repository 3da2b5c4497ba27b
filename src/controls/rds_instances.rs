//! The region's RDS DB instances, read once per region per phase and shared by the four RDS
//! controls (CIS 5.0 2.2.x), plus the one write two of them make (ModifyDBInstance).

use aws_sdk_rds::types::DbInstance;

use super::Cx;
use crate::aws::{AwsError, ErrorKind};

pub const DESCRIBE: &str = "rds:DescribeDBInstances";
pub const MODIFY: &str = "rds:ModifyDBInstance";

/// Every DB instance of the region, sorted by identifier.
pub async fn instances(cx: &Cx<'_>, region: &str) -> Result<Vec<DbInstance>, AwsError> {
    let aws = cx.aws;
    cx.reads
        .shared(&format!("rds:db-instances:{region}"), || async move {
            let mut out = Vec::new();
            let mut pages = aws
                .rds(region)
                .describe_db_instances()
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk(DESCRIBE, e))?;
                out.extend(page.db_instances().iter().cloned());
            }
            out.sort_by(|a: &DbInstance, b: &DbInstance| {
                a.db_instance_identifier().cmp(&b.db_instance_identifier())
            });
            Ok(out)
        })
        .await
}

pub fn id(db: &DbInstance) -> &str {
    db.db_instance_identifier().unwrap_or("?")
}

/// The stable plan target of an instance.
pub fn target(db: &DbInstance) -> String {
    format!("DB instance {}", id(db))
}

pub fn id_of_target(target: &str) -> &str {
    target.strip_prefix("DB instance ").unwrap_or(target)
}

/// A short description for summaries: engine and, for cluster members, the cluster.
pub fn describe(db: &DbInstance) -> String {
    let engine = db.engine().unwrap_or("?");
    match db.db_cluster_identifier() {
        Some(c) => format!("{engine}, member of cluster {c}"),
        None => engine.to_string(),
    }
}

/// A note for a change on an instance that is not `available` (stopped, modifying, …):
/// ModifyDBInstance then fails or waits, and apply reports it.
pub fn state_note(db: &DbInstance) -> Option<String> {
    match db.db_instance_status() {
        Some("available") | None => None,
        Some(s) => Some(format!(
            "The instance is {s}: RDS accepts the change only when it is available (a stopped instance must be started first)."
        )),
    }
}

/// Which setting a fixer changes with ModifyDBInstance.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    AutoMinorVersionUpgrade,
    PubliclyAccessible,
}

/// ModifyDBInstance with ApplyImmediately, so the change does not wait for the maintenance
/// window (and re-planning can verify it).
pub async fn modify(
    cx: &Cx<'_>,
    region: &str,
    target: &str,
    setting: Setting,
    value: bool,
) -> Result<(), AwsError> {
    let id = id_of_target(target);
    if id.is_empty() {
        return Err(AwsError::new(
            ErrorKind::Service,
            MODIFY,
            format!("internal: bad target {target}"),
        ));
    }
    let req = cx
        .aws
        .rds(region)
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true);
    let req = match setting {
        Setting::AutoMinorVersionUpgrade => req.auto_minor_version_upgrade(value),
        Setting::PubliclyAccessible => req.publicly_accessible(value),
    };
    req.send()
        .await
        .map_err(|e| AwsError::from_sdk(MODIFY, e))?;
    Ok(())
}
