//! cis-fix-remediations: the benchmark knowledge of cis-fix. The catalog (`*.toml` beside this
//! crate), the plan vocabulary controls speak ([`plan`]), the AWS context they read through
//! ([`aws`]), the [`Control`] contract, every control (one module per benchmark section), the
//! shared AWS readers and writers ([`resources`]) and the [`registry`] that lists them.
//!
//! The `cis-fix` tool depends on this crate, never the other way.

pub mod aws;
pub mod catalog;
pub mod control;
pub mod params;
pub mod plan;
pub mod registry;
pub mod resources;

pub mod identity;
pub mod logging;
pub mod monitoring;
pub mod networking;
pub mod storage;

pub use control::{Control, Cx, Description, Kind, Scope};
pub use params::{parse_cidr, parse_set, Contact, FlowLogDestination, Params, KEYS as PARAM_KEYS};
pub use registry::{find, registry};
pub use resources::{
    caller, parse_caller_arn, Caller, Carried, CredentialReport, PasswordPolicyDoc, Reads,
};
