//! CIS 5.0 2.2.2: RDS instances take automatic minor version upgrades.

use crate::control::Description;
use crate::plan::Risk;
use crate::resources::rds_instances::{RdsFlagFix, Setting, RDS_FLAG};

pub static RDS_AUTO_MINOR_UPGRADE: RdsFlagFix = RdsFlagFix {
    description: Description {
        slug: "rds-auto-minor-upgrade",
        change_profile: "low (minor engine upgrades then happen in the maintenance window, with a short restart); reversible: undo turns the setting off again",
        ..RDS_FLAG
    },
    setting: Setting::AutoMinorVersionUpgrade,
    want: true,
    compliant: "automatic minor version upgrades are on",
    change: "automatic minor version upgrades are off",
    consequence: "",
    risk: Risk::Low,
    notes: &["Minor engine upgrades are then installed in the instance's maintenance window, with a short restart; test applications against new minor versions, or move the window to a quiet time."],
    in_use: |_| Vec::new(),
};
