//! CIS 5.0 2.2.3: RDS instances are not publicly accessible.
//!
//! Turning public access off removes the instance's public IP: clients that reach it from
//! outside its VPC (over the internet, from another network without peering or VPN) lose
//! access. The plan names the endpoint as what is in use, with high risk, so the change is
//! asked about on its own (`--yes` needs `--force-in-use`).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::rds_instances::{self as rds, Setting};
use super::{region_of, Control, Cx, Kind, Scope};
use crate::aws::AwsError;
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct RdsNotPublic;

const KEY: &str = "PubliclyAccessible";

#[async_trait]
impl Control for RdsNotPublic {
    fn slug(&self) -> &'static str {
        "rds-not-public"
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
        "high (clients outside the VPC lose access; named in the plan and asked separately, --yes needs --force-in-use); reversible: undo makes the instance publicly accessible again"
    }

    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(rds::instances(cx, region)
            .await?
            .iter()
            .map(|db| {
                let public = db.publicly_accessible().unwrap_or(false);
                let before = json!({ KEY: public });
                if !public {
                    return Finding::compliant(
                        rds::target(db),
                        format!("not publicly accessible ({})", rds::describe(db)),
                        before,
                    );
                }
                let endpoint = db
                    .endpoint()
                    .map(|e| format!("{}:{}", e.address().unwrap_or("?"), e.port().unwrap_or(0)))
                    .unwrap_or_else(|| "its endpoint".to_string());
                let mut f = Finding::change(
                    rds::target(db),
                    format!("publicly accessible ({}); clients outside the VPC lose access", rds::describe(db)),
                    Action::Update,
                    before,
                    json!({ KEY: false }),
                    vec![ApiCall::new(
                        rds::MODIFY,
                        json!({ "DBInstanceIdentifier": rds::id(db), KEY: false, "ApplyImmediately": true }),
                    )],
                )
                .with_risk(Risk::High)
                .with_note("The instance loses its public IP address; applications in the VPC (or connected to it by peering, VPN or Direct Connect) keep working. Check the security group's inbound sources for who connects today.")
                .with_note("Undo makes it publicly accessible again (with a new public IP, the DNS name stays).");
                f.in_use = vec![format!(
                    "endpoint {endpoint}: clients connecting from outside the VPC lose access"
                )];
                if let Some(n) = rds::state_note(db) {
                    f = f.with_note(n);
                }
                f
            })
            .collect())
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        rds::modify(
            cx,
            region_of(region)?,
            &f.target,
            Setting::PubliclyAccessible,
            false,
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
            Setting::PubliclyAccessible,
            value,
        )
        .await
    }
}
