//! CIS 5.0 2.2.2: RDS instances take automatic minor version upgrades.

use super::rds_instances::{RdsFlagFix, Setting};
use crate::plan::Risk;

pub static RDS_AUTO_MINOR_UPGRADE: RdsFlagFix = RdsFlagFix {
    slug: "rds-auto-minor-upgrade",
    setting: Setting::AutoMinorVersionUpgrade,
    want: true,
    change_profile: "low (minor engine upgrades then happen in the maintenance window, with a short restart); reversible: undo turns the setting off again",
    compliant: "automatic minor version upgrades are on",
    change: "automatic minor version upgrades are off",
    consequence: "",
    risk: Risk::Low,
    notes: &["Minor engine upgrades are then installed in the instance's maintenance window, with a short restart; test applications against new minor versions, or move the window to a quiet time."],
    in_use: |_| Vec::new(),
};
