//! What a run cost, for the benchmark (`scripts/bench`): with `CIS_FIX_STATS=FILE` set, the
//! process writes its AWS calls (per operation and per control), the time from start to its
//! first AWS call, the median round trip of its requests, and what each request budget sent,
//! waited and was throttled, as JSON.

use std::sync::OnceLock;
use std::time::Instant;

use serde_json::json;

use crate::aws::{AwsContext, Budgets, CallLog};

static STARTED: OnceLock<Instant> = OnceLock::new();
static RUN: OnceLock<(CallLog, Budgets)> = OnceLock::new();

/// Note the process start (first thing in `main`).
pub fn started() {
    let _ = STARTED.set(Instant::now());
}

/// Remember the run's AWS context (its call log and budgets are shared handles).
pub fn connected(aws: &AwsContext) {
    let _ = RUN.set((aws.call_log().clone(), aws.budgets().clone()));
}

/// Write the figures when `CIS_FIX_STATS` names a file.
pub fn write_if_asked() {
    let Some(path) = std::env::var_os("CIS_FIX_STATS") else {
        return;
    };
    let Some((calls, budgets)) = RUN.get() else {
        return;
    };
    let first = match (STARTED.get(), calls.first_call_at()) {
        (Some(s), Some(f)) => Some((f - *s).as_secs_f64() * 1000.0),
        _ => None,
    };
    let per_budget: Vec<_> = budgets
        .usage()
        .into_iter()
        .map(|u| {
            json!({
                "budget": u.key.to_string(),
                "rate": u.limit.rate,
                "burst": u.limit.burst,
                "sent": u.sent,
                "throttled": u.throttled,
                "waited_ms": u.waited.as_secs_f64() * 1000.0,
                "busy_ms": u.busy.as_secs_f64() * 1000.0,
                "lowest_rate": u.lowest_rate,
            })
        })
        .collect();
    let median = budgets.median_round_trip();
    let doc = json!({
        "calls": calls.count(),
        "median_round_trip_ms": median.map(|d| d.as_secs_f64() * 1000.0),
        "first_call_ms": first,
        "per_operation": calls.per_operation(),
        "per_control": calls.per_control(),
        "budgets": per_budget,
    });
    if let Err(e) = std::fs::write(&path, doc.to_string()) {
        eprintln!(
            "warning: cannot write CIS_FIX_STATS file {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}
