//! The region's RDS DB instances, read once per region per phase and shared by the four RDS
//! controls (CIS 5.0 2.2.x), plus the two fixers, which differ only in the ModifyDBInstance
//! flag they set and in what they tell about it: one struct, [`RdsFlagFix`].

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance;
use serde_json::{json, Value};

use super::{region_of, Control, Cx, Kind, Scope};
use crate::aws::{AwsError, ErrorKind};
use crate::plan::{Action, ApiCall, Finding, Risk};

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

impl Setting {
    /// The API's name for it, also the key of the journaled before/after.
    fn key(self) -> &'static str {
        match self {
            Setting::AutoMinorVersionUpgrade => "AutoMinorVersionUpgrade",
            Setting::PubliclyAccessible => "PubliclyAccessible",
        }
    }

    fn current(self, db: &DbInstance) -> bool {
        match self {
            Setting::AutoMinorVersionUpgrade => db.auto_minor_version_upgrade(),
            Setting::PubliclyAccessible => db.publicly_accessible(),
        }
        .unwrap_or(false)
    }
}

/// A fixer that sets one boolean of every DB instance to `want` with ModifyDBInstance;
/// undo sets it back to the journaled value.
pub struct RdsFlagFix {
    pub(super) slug: &'static str,
    pub(super) setting: Setting,
    pub(super) want: bool,
    pub(super) change_profile: &'static str,
    /// Summary of a compliant instance, before " (engine…)".
    pub(super) compliant: &'static str,
    /// Summary of an instance to change, before " (engine…)".
    pub(super) change: &'static str,
    /// Said after " (engine…)" in the change summary: what the change costs.
    pub(super) consequence: &'static str,
    pub(super) risk: Risk,
    pub(super) notes: &'static [&'static str],
    /// What the change takes away from whoever uses the instance (the plan's in_use).
    pub(super) in_use: fn(&DbInstance) -> Vec<String>,
}

impl RdsFlagFix {
    fn finding(&self, db: &DbInstance) -> Finding {
        let key = self.setting.key();
        let current = self.setting.current(db);
        let before = json!({ key: current });
        if current == self.want {
            return Finding::compliant(
                target(db),
                format!("{} ({})", self.compliant, describe(db)),
                before,
            );
        }
        let mut f = Finding::change(
            target(db),
            format!("{} ({}){}", self.change, describe(db), self.consequence),
            Action::Update,
            before,
            json!({ key: self.want }),
            vec![ApiCall::new(
                MODIFY,
                json!({ "DBInstanceIdentifier": id(db), key: self.want, "ApplyImmediately": true }),
            )],
        )
        .with_risk(self.risk);
        for n in self.notes {
            f = f.with_note(*n);
        }
        f.in_use = (self.in_use)(db);
        if let Some(n) = state_note(db) {
            f = f.with_note(n);
        }
        f
    }
}

#[async_trait]
impl Control for RdsFlagFix {
    fn slug(&self) -> &'static str {
        self.slug
    }
    fn scope(&self) -> Scope {
        Scope::Regional
    }
    fn kind(&self) -> Kind {
        Kind::Fix
    }
    fn read_actions(&self) -> &'static [&'static str] {
        &[DESCRIBE]
    }
    fn write_actions(&self) -> &'static [&'static str] {
        &[MODIFY]
    }
    fn change_profile(&self) -> &'static str {
        self.change_profile
    }

    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(instances(cx, region)
            .await?
            .iter()
            .map(|db| self.finding(db))
            .collect())
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        modify(cx, region_of(region)?, &f.target, self.setting, self.want).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let value = previous[self.setting.key()].as_bool().unwrap_or(false);
        modify(cx, region_of(region)?, target, self.setting, value).await
    }
}

/// ModifyDBInstance with ApplyImmediately, so the change does not wait for the maintenance
/// window (and re-planning can verify it).
async fn modify(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;
    use aws_sdk_rds::types::Endpoint;

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
        let auto = &super::super::rds_auto_minor_upgrade::RDS_AUTO_MINOR_UPGRADE;
        let public = &super::super::rds_not_public::RDS_NOT_PUBLIC;
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
