//! What a run cost, for the benchmark (`scripts/bench`): with `CIS_FIX_STATS=FILE` set, the
//! process writes its AWS calls (per operation and per control), the time from start to its
//! first AWS call, the median round trip of its requests, and what each request budget sent,
//! waited and was throttled, as JSON.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use serde_json::json;

use crate::aws::{AwsContext, Budgets, CallLog};

static STARTED: OnceLock<Instant> = OnceLock::new();
/// Every account context of the run (one, or one per account of a multi-account run), kept
/// only when the figures are asked for.
static RUN: Mutex<Vec<(CallLog, Budgets)>> = Mutex::new(Vec::new());

/// Note the process start (first thing in `main`).
pub fn started() {
    let _ = STARTED.set(Instant::now());
}

/// Remember an AWS context of the run (its call log and budgets are shared handles).
pub fn connected(aws: &AwsContext) {
    if std::env::var_os("CIS_FIX_STATS").is_none() {
        return;
    }
    if let Ok(mut run) = RUN.lock() {
        run.push((aws.call_log().clone(), aws.budgets().clone()));
    }
}

/// Write the figures when `CIS_FIX_STATS` names a file.
pub fn write_if_asked() {
    let Some(path) = std::env::var_os("CIS_FIX_STATS") else {
        return;
    };
    let run = RUN.lock().map(|r| r.clone()).unwrap_or_default();
    if run.is_empty() {
        return;
    }
    let first = match (STARTED.get(), run[0].0.first_call_at()) {
        (Some(s), Some(f)) => Some((f - *s).as_secs_f64() * 1000.0),
        _ => None,
    };
    let mut per_operation: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_control: BTreeMap<String, usize> = BTreeMap::new();
    let mut round_trips = Vec::new();
    for (calls, budgets) in &run {
        for (k, n) in calls.per_operation() {
            *per_operation.entry(k).or_default() += n;
        }
        for (k, n) in calls.per_control() {
            *per_control.entry(k).or_default() += n;
        }
        round_trips.extend(budgets.round_trips_us());
    }
    let per_budget: Vec<_> = run
        .iter()
        .flat_map(|(_, b)| b.usage())
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
    let median = crate::aws::median_of(round_trips);
    let doc = json!({
        "calls": run.iter().map(|(c, _)| c.count()).sum::<usize>(),
        "accounts": run.len(),
        "median_round_trip_ms": median.map(|d| d.as_secs_f64() * 1000.0),
        "first_call_ms": first,
        "per_operation": per_operation,
        "per_control": per_control,
        "budgets": per_budget,
    });
    if let Err(e) = std::fs::write(&path, doc.to_string()) {
        eprintln!(
            "warning: cannot write CIS_FIX_STATS file {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}
