//! `cis-fix iam-policy` (in progress: not available in this build).

use super::args::{PolicyPurpose, SelectionArgs};
use crate::exit::{Exit, Fatal};

pub fn run(_sel: &SelectionArgs, _purpose: PolicyPurpose) -> Result<Exit, Fatal> {
    Err(Fatal::usage(
        "iam-policy is not available in this build yet",
    ))
}
