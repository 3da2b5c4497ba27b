//! `cis-fix completions` (in progress: not available in this build).

use crate::exit::{Exit, Fatal};

pub fn run(_shell: &str) -> Result<Exit, Fatal> {
    Err(Fatal::usage(
        "completions are not available in this build yet",
    ))
}
