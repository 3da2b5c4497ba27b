//! cis-fix: bring an AWS account up to the CIS AWS Foundations Benchmark by planning,
//! applying, verifying and undoing changes.
//!
//! `main.rs` is a shim; everything lives here so integration tests and benches can drive the
//! same code paths as the binary.

pub mod aws;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod controls;
pub mod docs;
pub mod engine;
pub mod exit;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod prompt;
pub mod render;
pub mod saved_plan;
