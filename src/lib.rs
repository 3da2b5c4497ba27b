//! cis-fix: bring an AWS account up to the CIS AWS Foundations Benchmark by planning,
//! applying, verifying and undoing changes.
//!
//! The tool: CLI, engine, journal, saved plans, renderers, prompts, guide, locks, docs
//! generator. The benchmark knowledge (catalog, plan vocabulary, AWS context, every control)
//! is the `cis-fix-remediations` crate, re-exported here as [`remediations`].
//!
//! `main.rs` is a shim; everything lives here so integration tests and benches can drive the
//! same code paths as the binary.

pub mod accounts;
pub mod cli;
pub mod config;
pub mod docs;
pub mod engine;
pub mod exceptions;
pub mod exit;
pub mod journal;
pub mod lock;
pub mod org_plan;
pub mod output;
pub mod prompt;
pub mod render;
pub mod report;
pub mod saved_plan;
pub mod security_hub;
pub mod state;

pub use cis_fix_remediations as remediations;
pub use cis_fix_remediations::{aws, catalog, plan};
