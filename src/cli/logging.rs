//! tracing on stderr. The SDK's own logs stay quiet unless asked for, so a failure is one
//! line from cis-fix, not a debug dump; and whatever is asked for, the SDK's lines that carry
//! credentials never reach the output.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use super::args::{GlobalArgs, LogFormat};

/// The most verbose level each SDK target may log at, whatever RUST_LOG says. These are the
/// lines that print credentials or the signed request: the request being signed and sent
/// (the `Authorization` header names the access key id), the resolved identity and the
/// identity cache's refresh (the credentials' Debug shows the access key id), the profile
/// provider's "loaded credentials", responses (an STS AssumeRole body holds a secret), the
/// endpoint and runtime dumps, and credential_process's command line.
///
/// A cap is a second filter, ANDed with RUST_LOG's: a more specific RUST_LOG directive
/// (`aws_sigv4::http_request=trace`) cannot lift it, which is how the SDK's targets escaped
/// when the caps were directives of the same filter.
const CAPS: &[(&str, Level)] = &[
    ("aws_sigv4", Level::DEBUG),
    ("aws_smithy_runtime::client::orchestrator", Level::DEBUG),
    (
        "aws_smithy_runtime::client::orchestrator::auth",
        Level::INFO,
    ),
    (
        "aws_smithy_runtime::client::orchestrator::endpoints",
        Level::INFO,
    ),
    ("aws_smithy_runtime::client::identity", Level::WARN),
    ("aws_smithy_runtime::client::http", Level::DEBUG),
    ("aws_config::profile::credentials", Level::WARN),
    ("aws_config::credential_process", Level::DEBUG),
    ("aws_config::sts", Level::DEBUG),
    ("aws_config::sso", Level::DEBUG),
    ("aws_credential_types", Level::DEBUG),
    ("aws_runtime::env_config", Level::DEBUG),
];

/// Whether a line of `target` at `level` may be shown: under every cap whose target is
/// `target` or one of its parents.
fn within_caps(target: &str, level: Level) -> bool {
    CAPS.iter()
        .filter(|(prefix, _)| {
            target == *prefix
                || target
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with("::"))
        })
        .all(|(_, cap)| level <= *cap)
}

pub fn init(g: &GlobalArgs) {
    let default = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "error,cis_fix=warn",
        (false, 1) => "warn,cis_fix=info",
        (false, 2) => "warn,cis_fix=debug",
        _ => "debug",
    };
    let asked = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let filter = asked.and(filter_fn(|m| within_caps(m.target(), *m.level())));
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match g.log_format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().with_filter(filter))
            .try_init(),
        LogFormat::Text => tracing_subscriber::registry()
            .with(layer.without_time().with_filter(filter))
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_for_sub_targets_and_leave_others_alone() {
        assert!(!within_caps("aws_sigv4::http_request::sign", Level::TRACE));
        assert!(within_caps("aws_sigv4::http_request::sign", Level::DEBUG));
        assert!(!within_caps(
            "aws_smithy_runtime::client::orchestrator::auth",
            Level::DEBUG
        ));
        assert!(within_caps(
            "aws_smithy_runtime::client::orchestrator::retries",
            Level::DEBUG
        ));
        assert!(!within_caps(
            "aws_smithy_runtime::client::identity::cache::lazy",
            Level::INFO
        ));
        assert!(!within_caps(
            "aws_config::profile::credentials",
            Level::INFO
        ));
        assert!(within_caps(
            "aws_config::meta::credentials::chain",
            Level::DEBUG
        ));
        assert!(within_caps("aws_sigv4x", Level::TRACE));
        assert!(within_caps("cis_fix::engine", Level::TRACE));
    }
}
