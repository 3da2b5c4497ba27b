//! The region's RDS DB instances, read once per region per phase and shared by the four RDS
//! controls (CIS 5.0 2.2.x), plus the two fixers, which differ only in the ModifyDBInstance
//! flag they set and in what they tell about it: one struct, [`RdsFlagFix`].

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance;
use serde_json::{json, Value};

use crate::aws::{AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
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

/// What the RDS flag fixers share; each sets its slug and change profile.
pub const RDS_FLAG: Description = Description {
    slug: "",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[DESCRIBE],
    write_actions: &[MODIFY],
    change_profile: "",
};

/// A fixer that sets one boolean of every DB instance to `want` with ModifyDBInstance;
/// undo sets it back to the journaled value.
pub struct RdsFlagFix {
    pub description: Description,
    pub setting: Setting,
    pub want: bool,
    /// Summary of a compliant instance, before " (engine…)".
    pub compliant: &'static str,
    /// Summary of an instance to change, before " (engine…)".
    pub change: &'static str,
    /// Said after " (engine…)" in the change summary: what the change costs.
    pub consequence: &'static str,
    pub risk: Risk,
    pub notes: &'static [&'static str],
    /// What the change takes away from whoever uses the instance (the plan's in_use).
    pub in_use: fn(&DbInstance) -> Vec<String>,
}

impl RdsFlagFix {
    pub fn finding(&self, db: &DbInstance) -> Finding {
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
    fn description(&self) -> &Description {
        &self.description
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
