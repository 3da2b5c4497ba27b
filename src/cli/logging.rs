//! tracing on stderr. The SDK's own logs stay quiet unless asked for, so a failure is one
//! line from cis-fix, not a debug dump.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::args::{GlobalArgs, LogFormat};

pub fn init(g: &GlobalArgs) {
    let default = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "error,cis_fix=warn",
        (false, 1) => "warn,cis_fix=info",
        (false, 2) => "warn,cis_fix=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match g.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.without_time().try_init(),
    };
}
