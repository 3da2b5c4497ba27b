//! What a run cost, for the benchmark (`scripts/bench`): with `CIS_FIX_STATS=FILE` set, the
//! process writes its AWS calls (per operation and per control), the time from start to its
//! first AWS call, the median round trip of its requests, and what each request budget sent,
//! waited and was throttled, as JSON.
//!
//! An account of a multi-account run is summed into the run's figures when it finishes
//! ([`finished`]) and its call log and round trips let go, so the memory this takes stays flat
//! with the number of accounts: what is kept is a count per operation and per control, a count
//! per round-trip time (the median stays exact), and each account's budget lines (a few each:
//! they are the output).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use serde_json::{json, Value};

use crate::aws::{AwsContext, Budgets, CallLog};

static STARTED: OnceLock<Instant> = OnceLock::new();
/// The run's figures so far, kept only when they are asked for.
static RUN: Mutex<Figures> = Mutex::new(Figures::new());

/// An account context still in use: its call log and budgets are shared handles.
struct Open {
    account: String,
    /// The first context of the run (the caller's): its first call is the run's.
    first: bool,
    /// Reached by a role for one account of a multi-account run (summed when that account
    /// finishes); the caller's own context is summed at the end.
    member: bool,
    calls: CallLog,
    budgets: Budgets,
}

/// The figures of the contexts summed so far, and the contexts still open.
struct Figures {
    open: Vec<Open>,
    contexts: usize,
    /// The first call of the first context connected (the caller's).
    first_call: Option<Instant>,
    calls: usize,
    per_operation: BTreeMap<String, usize>,
    per_control: BTreeMap<String, usize>,
    /// Round trips by their time in microseconds: how many took each.
    round_trips: BTreeMap<u32, usize>,
    budgets: Vec<Value>,
}

impl Figures {
    const fn new() -> Figures {
        Figures {
            open: Vec::new(),
            contexts: 0,
            first_call: None,
            calls: 0,
            per_operation: BTreeMap::new(),
            per_control: BTreeMap::new(),
            round_trips: BTreeMap::new(),
            budgets: Vec::new(),
        }
    }

    /// Add a finished context's figures; its log and round trips are no longer held here.
    fn sum(&mut self, o: Open) {
        if o.first {
            self.first_call = o.calls.first_call_at();
        }
        for (k, n) in o.calls.per_operation() {
            *self.per_operation.entry(k).or_default() += n;
        }
        for (k, n) in o.calls.per_control() {
            *self.per_control.entry(k).or_default() += n;
        }
        self.calls += o.calls.count();
        for us in o.budgets.round_trips_us() {
            *self.round_trips.entry(us).or_default() += 1;
        }
        self.budgets.extend(o.budgets.usage().into_iter().map(|u| {
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
        }));
    }

    /// The median round trip (the upper one of an even count, as `aws::median_of`).
    fn median_us(&self) -> Option<u32> {
        let n: usize = self.round_trips.values().sum();
        let mut seen = 0;
        for (us, k) in &self.round_trips {
            seen += k;
            if seen > n / 2 {
                return Some(*us);
            }
        }
        None
    }
}

/// Note the process start (first thing in `main`).
pub fn started() {
    let _ = STARTED.set(Instant::now());
}

fn asked() -> bool {
    std::env::var_os("CIS_FIX_STATS").is_some()
}

/// Remember an AWS context of the run until it is summed: the caller's (`member` false), or
/// one account's of a multi-account run reached by its role (`member`).
pub fn connected(aws: &AwsContext, member: bool) {
    if !asked() {
        return;
    }
    if let Ok(mut run) = RUN.lock() {
        let first = run.contexts == 0;
        run.contexts += 1;
        run.open.push(Open {
            first,
            account: aws.account.id.clone(),
            member,
            calls: aws.call_log().clone(),
            budgets: aws.budgets().clone(),
        });
    }
}

/// One account of a multi-account run is done: sum the contexts its role reached it by.
pub fn finished(account: &str) {
    if !asked() {
        return;
    }
    if let Ok(mut run) = RUN.lock() {
        let (done, open): (Vec<Open>, Vec<Open>) = std::mem::take(&mut run.open)
            .into_iter()
            .partition(|o| o.member && o.account == account);
        run.open = open;
        for o in done {
            run.sum(o);
        }
    }
}

/// Write the figures when `CIS_FIX_STATS` names a file.
pub fn write_if_asked() {
    let Some(path) = std::env::var_os("CIS_FIX_STATS") else {
        return;
    };
    let Ok(mut run) = RUN.lock() else {
        return;
    };
    if run.contexts == 0 {
        return;
    }
    for o in std::mem::take(&mut run.open) {
        run.sum(o);
    }
    let first = match (STARTED.get(), run.first_call) {
        (Some(s), Some(f)) => Some((f - *s).as_secs_f64() * 1000.0),
        _ => None,
    };
    let doc = json!({
        "calls": run.calls,
        "accounts": run.contexts,
        "median_round_trip_ms": run.median_us().map(|us| f64::from(us) / 1000.0),
        "first_call_ms": first,
        "per_operation": run.per_operation,
        "per_control": run.per_control,
        "budgets": run.budgets,
    });
    if let Err(e) = std::fs::write(&path, doc.to_string()) {
        eprintln!(
            "warning: cannot write CIS_FIX_STATS file {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_the_counted_round_trips_is_the_median_of_them_all() {
        for v in [
            vec![5u32],
            vec![3, 1],
            vec![7, 7, 2, 9, 1, 1, 4],
            vec![10, 20, 20, 30],
        ] {
            let mut f = Figures::new();
            for us in &v {
                *f.round_trips.entry(*us).or_default() += 1;
            }
            let want = crate::aws::median_of(v.clone()).map(|d| d.as_micros() as u32);
            assert_eq!(f.median_us(), want, "{v:?}");
        }
        assert_eq!(Figures::new().median_us(), None);
    }
}
