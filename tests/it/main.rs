//! Integration tests: the real `cis-fix` binary and the SDK against the moto emulator.
//! One test binary (linking the SDK is expensive); each module covers one area.
//!
//! They need `CIS_FIX_TEST_ENDPOINT` (set by `scripts/test`, which starts the emulator) and
//! fail with a clear message without it.

mod checkers;
mod cli_errors;
mod cloudtrail;
mod docs;
mod ebs;
mod exceptions;
mod exceptions_more;
mod faults;
mod guide;
mod harness;
mod idempotency;
mod identity_account;
mod identity_users;
mod imds;
mod landing_zone;
mod logging_regional;
mod monitoring;
mod nacl;
mod organizations;
mod organizations_enforced;
mod password_policy;
mod proxy;
mod report;
mod s3_state;
mod safety_apply;
mod safety_cli;
mod safety_identity;
mod safety_logging;
mod safety_state;
mod saved_plans;
mod security_groups;
mod security_hub_sync;
mod soak;
mod speed;
mod storage;
mod terminal;
mod tmux;
