//! tracing on stderr. The SDK's own logs stay quiet unless asked for, so a failure is one
//! line from cis-fix, not a debug dump.

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;
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
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Some SDK debug and trace lines dump the request's config or the request being signed,
    // access key id included. Cap those targets whenever the filter would let them through,
    // whatever RUST_LOG asks for (a cap only ever lowers their level here).
    let max = filter.max_level_hint().unwrap_or(LevelFilter::OFF);
    let mut caps = Vec::new();
    if max >= LevelFilter::DEBUG {
        caps.extend([
            "aws_smithy_runtime::client::orchestrator::endpoints=info",
            "aws_smithy_runtime::client::orchestrator::auth=info",
        ]);
    }
    if max >= LevelFilter::TRACE {
        caps.extend([
            "aws_smithy_runtime::client::orchestrator=debug",
            "aws_sigv4=debug",
        ]);
    }
    for cap in caps {
        if let Ok(d) = cap.parse() {
            filter = filter.add_directive(d);
        }
    }
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
