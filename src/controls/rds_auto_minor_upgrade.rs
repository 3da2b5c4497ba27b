//! CIS 5.0 2.2.2: RDS instances take automatic minor version upgrades.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::rds_instances::{self as rds, Setting};
use super::{region_of, Control, Cx, Kind, Scope};
use crate::aws::AwsError;
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct RdsAutoMinorUpgrade;

const KEY: &str = "AutoMinorVersionUpgrade";

#[async_trait]
impl Control for RdsAutoMinorUpgrade {
    fn slug(&self) -> &'static str {
        "rds-auto-minor-upgrade"
    }
    fn scope(&self) -> Scope {
        Scope::Regional
    }
    fn kind(&self) -> Kind {
        Kind::Fix
    }
    fn read_actions(&self) -> &'static [&'static str] {
        &[rds::DESCRIBE]
    }
    fn write_actions(&self) -> &'static [&'static str] {
        &[rds::MODIFY]
    }
    fn change_profile(&self) -> &'static str {
        "low (minor engine upgrades then happen in the maintenance window, with a short restart); reversible: undo turns the setting off again"
    }

    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(rds::instances(cx, region)
            .await?
            .iter()
            .map(|db| {
                let on = db.auto_minor_version_upgrade().unwrap_or(false);
                let before = json!({ KEY: on });
                if on {
                    return Finding::compliant(
                        rds::target(db),
                        format!("automatic minor version upgrades are on ({})", rds::describe(db)),
                        before,
                    );
                }
                let f = Finding::change(
                    rds::target(db),
                    format!("automatic minor version upgrades are off ({})", rds::describe(db)),
                    Action::Update,
                    before,
                    json!({ KEY: true }),
                    vec![ApiCall::new(
                        rds::MODIFY,
                        json!({ "DBInstanceIdentifier": rds::id(db), KEY: true, "ApplyImmediately": true }),
                    )],
                )
                .with_risk(Risk::Low)
                .with_note("Minor engine upgrades are then installed in the instance's maintenance window, with a short restart; test applications against new minor versions, or move the window to a quiet time.");
                match rds::state_note(db) {
                    Some(n) => f.with_note(n),
                    None => f,
                }
            })
            .collect())
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        rds::modify(
            cx,
            region_of(region)?,
            &f.target,
            Setting::AutoMinorVersionUpgrade,
            true,
        )
        .await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let value = previous[KEY].as_bool().unwrap_or(false);
        rds::modify(
            cx,
            region_of(region)?,
            target,
            Setting::AutoMinorVersionUpgrade,
            value,
        )
        .await
    }
}
