//! `cis-fix completions SHELL`: a completion script for the shell, on stdout.

use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::exit::{Exit, Fatal};

/// The shells clap_complete supports, by the names the command accepts.
fn shells() -> Vec<String> {
    Shell::value_variants()
        .iter()
        .filter_map(|s| s.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect()
}

pub fn run(shell: &str) -> Result<Exit, Fatal> {
    let wanted = shell.trim();
    let Some(sh) = Shell::value_variants().iter().copied().find(|s| {
        s.to_possible_value()
            .is_some_and(|v| v.get_name().eq_ignore_ascii_case(wanted))
    }) else {
        return Err(Fatal::usage(format!(
            "unknown shell '{shell}': use one of {}",
            shells().join(", ")
        )));
    };
    let mut cmd = <super::Cli as CommandFactory>::command();
    let mut script: Vec<u8> = Vec::new();
    clap_complete::generate(sh, &mut cmd, "cis-fix", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(|e| Fatal::usage(format!("cannot write the completion script: {e}")))?;
    Ok(Exit::Ok)
}
