//! CIS 5.0 2.2.3: RDS instances are not publicly accessible.
//!
//! Turning public access off removes the instance's public IP: clients that reach it from
//! outside its VPC (over the internet, from another network without peering or VPN) lose
//! access. The plan names the endpoint as what is in use, with high risk, so the change is
//! asked about on its own (`--yes` needs `--force-in-use`).

use aws_sdk_rds::types::DbInstance;

use crate::control::Description;
use crate::plan::Risk;
use crate::resources::rds_instances::{RdsFlagFix, Setting, RDS_FLAG};

pub static RDS_NOT_PUBLIC: RdsFlagFix = RdsFlagFix {
    description: Description {
        slug: "rds-not-public",
        change_profile: "high (clients outside the VPC lose access; named in the plan and asked separately, --yes needs --force-in-use); reversible: undo makes the instance publicly accessible again",
        ..RDS_FLAG
    },
    setting: Setting::PubliclyAccessible,
    want: false,
    compliant: "not publicly accessible",
    change: "publicly accessible",
    consequence: "; clients outside the VPC lose access",
    risk: Risk::High,
    notes: &[
        "The instance loses its public IP address; applications in the VPC (or connected to it by peering, VPN or Direct Connect) keep working. Check the security group's inbound sources for who connects today.",
        "Undo makes it publicly accessible again (with a new public IP, the DNS name stays).",
    ],
    in_use: endpoint_in_use,
};

fn endpoint_in_use(db: &DbInstance) -> Vec<String> {
    let endpoint = db
        .endpoint()
        .map(|e| format!("{}:{}", e.address().unwrap_or("?"), e.port().unwrap_or(0)))
        .unwrap_or_else(|| "its endpoint".to_string());
    vec![format!(
        "endpoint {endpoint}: clients connecting from outside the VPC lose access"
    )]
}
