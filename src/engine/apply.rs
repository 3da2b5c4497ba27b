//! Applying changes: for each approved change, re-read the target, refuse it if it moved,
//! journal the previous state, write, record the result, and verify by re-reading.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::observe::{observe, unknown_control};
use super::{Interrupt, Progress};
use crate::aws::AwsContext;
use crate::journal::{Entry, JournalError, RunWriter};
use crate::plan::{now_rfc3339, Finding, Item, Status};
use crate::remediations::{self as controls, Carried, Cx, Params, Reads};
use crate::render::describe_moves;

/// What this run has written so far, for the staleness check of later changes.
#[derive(Default)]
struct Changed {
    /// (region, target) pairs some change of this run wrote.
    written: HashSet<(Option<String>, String)>,
    /// (control, (region, target)) → the state that control observed after its change.
    seen: HashMap<(String, (Option<String>, String)), Value>,
    /// Whether any write of this run was attempted (even one that failed).
    attempted: bool,
    /// Reads kept from one change to the next until a change writes their service.
    carried: Carried,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangeResult {
    /// Written, and the re-read shows the control satisfied.
    Verified,
    /// Nothing written: an earlier change of this run already satisfied it.
    AlreadySatisfied,
    /// Written, but the re-read does not show the control satisfied.
    NotVerified(String),
    Failed(String),
    /// The target moved since the plan; nothing was written.
    Stale(String),
    /// Interrupted before this change started; nothing was written.
    NotStarted,
}

#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    pub index: usize,
    pub label: String,
    pub result: ChangeResult,
}

fn label(item: &Item) -> String {
    format!(
        "{} {} ({}, {})",
        item.id,
        item.control,
        item.finding.target,
        item.where_()
    )
}

/// What differs between the change a plan shows (`planned`) and the one a fresh plan of the
/// same target makes now (`fresh`), besides `before`: the status, the action, the state aimed
/// for, the calls, the prerequisites, and (for a saved plan, `with_summary`) the summary line
/// shown to the reviewer. Empty when the change that would run is the one shown.
pub fn drift(planned: &Finding, fresh: &Finding, with_summary: bool) -> Vec<String> {
    let mut out = Vec::new();
    if planned.status != fresh.status {
        out.push(format!(
            "status: planned {:?}, now {:?}",
            planned.status, fresh.status
        ));
    }
    if planned.action != fresh.action {
        out.push(format!(
            "action: planned {:?}, now {:?}",
            planned.action, fresh.action
        ));
    }
    if planned.after != fresh.after {
        out.push(format!(
            "after: {}",
            describe_moves(&planned.after, &fresh.after)
        ));
    }
    if planned.calls != fresh.calls {
        let n = planned.calls.len().max(fresh.calls.len());
        for k in 0..n {
            match (planned.calls.get(k), fresh.calls.get(k)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) if a.action == b.action => out.push(format!(
                    "call {} {}: {}",
                    k + 1,
                    a.action,
                    describe_moves(&a.params, &b.params)
                )),
                (a, b) => out.push(format!(
                    "call {}: planned {}, now {}",
                    k + 1,
                    a.map_or("none", |c| c.action.as_str()),
                    b.map_or("none", |c| c.action.as_str())
                )),
            }
        }
    }
    if planned.prerequisites != fresh.prerequisites {
        out.push(format!(
            "prerequisites: {}",
            describe_moves(&planned.prerequisites, &fresh.prerequisites)
        ));
    }
    if with_summary && planned.summary != fresh.summary {
        out.push(format!(
            "summary: planned '{}', now '{}'",
            planned.summary, fresh.summary
        ));
    }
    out
}

/// Re-read each change of a saved plan and report the ones that moved since, or whose change
/// is not the one the file shows: a fresh plan of the target with the file's parameters must
/// find the same `before` and make the same change (`after`, calls, prerequisites, summary),
/// so that what apply runs is what the file shows whatever was edited in it.
/// Returns (index, reason) for every stale item.
pub async fn check_stale(
    aws: &AwsContext,
    params: &Params,
    items: &[&Item],
) -> Vec<(usize, String)> {
    let reads = Reads::default();
    let cx = Cx {
        aws,
        reads: &reads,
        params,
    };
    let mut stale = Vec::new();
    for item in items {
        let Some(control) = controls::find(&item.control) else {
            stale.push((item.index, unknown_control(&item.control).to_string()));
            continue;
        };
        let now = match control.plan(&cx, item.region.as_deref()).await {
            Ok(f) => f.into_iter().find(|f| f.target == item.finding.target),
            Err(e) => {
                stale.push((item.index, format!("could not re-read: {e}")));
                continue;
            }
        };
        match now {
            None => stale.push((item.index, "the target no longer exists".into())),
            Some(f) if f.before != item.finding.before => stale.push((
                item.index,
                format!(
                    "changed since the plan was made ({})",
                    describe_moves(&item.finding.before, &f.before)
                ),
            )),
            Some(f) => {
                let drift = drift(&item.finding, &f, true);
                if !drift.is_empty() {
                    stale.push((item.index, not_as_planned(&drift)));
                }
            }
        }
    }
    stale
}

fn not_as_planned(drift: &[String]) -> String {
    format!(
        "the change shown is not the one its parameters make now ({}); the plan was edited or the account moved: make a new plan",
        drift.join("; ")
    )
}

/// Apply `items` in order. Journal failures stop the run: nothing is written that could
/// not be recorded first. The caller ends the run ([`RunWriter::finish`]) when it is done:
/// a guided session applies several batches in one run.
pub async fn apply_changes(
    aws: &AwsContext,
    params: &Params,
    items: &[&Item],
    journal: &mut RunWriter,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<Vec<ApplyOutcome>, JournalError> {
    progress.add_total(items.len());
    // Targets this run already changed (two controls can share one: both password controls
    // write the one password policy, 2.1.1 and 2.1.4 both change a bucket).
    let mut expected = Changed::default();
    let mut out = Vec::new();
    for item in items {
        if interrupt.raised() {
            out.push(ApplyOutcome {
                index: item.index,
                label: label(item),
                result: ChangeResult::NotStarted,
            });
            continue;
        }
        let result = apply_one(aws, params, item, journal, &mut expected).await?;
        progress.tick();
        out.push(ApplyOutcome {
            index: item.index,
            label: label(item),
            result,
        });
    }
    Ok(out)
}

async fn apply_one(
    aws: &AwsContext,
    params: &Params,
    item: &Item,
    journal: &mut RunWriter,
    expected: &mut Changed,
) -> Result<ChangeResult, JournalError> {
    let Some(control) = controls::find(&item.control) else {
        return Ok(ChangeResult::Failed(
            unknown_control(&item.control).to_string(),
        ));
    };
    let region = item.region.as_deref();
    let key = (item.region.clone(), item.finding.target.clone());
    let fresh = match observe(
        aws,
        params,
        control,
        region,
        &item.finding.target,
        &expected.carried,
    )
    .await
    {
        Ok(Some(f)) => f,
        // A removal whose target is already gone has nothing left to do.
        Ok(None) if removes(item) => return Ok(ChangeResult::AlreadySatisfied),
        Ok(None) => return Ok(ChangeResult::Stale("the target no longer exists".into())),
        Err(e) => return Ok(ChangeResult::Failed(format!("could not re-read: {e}"))),
    };
    // A target an earlier change of this run wrote is expected as this control saw it after
    // that write; one written only by another control's change has legitimately moved (that
    // change was journaled and verified a moment ago), so it is taken as it is now.
    let want = match expected.seen.get(&(item.control.clone(), key.clone())) {
        Some(v) => Some(v),
        None if expected.written.contains(&key) => None,
        None => Some(&item.finding.before),
    };
    if let Some(want) = want.filter(|w| **w != fresh.before) {
        return Ok(ChangeResult::Stale(format!(
            "changed since it was planned ({})",
            describe_moves(want, &fresh.before)
        )));
    }
    if fresh.status != Status::Change {
        // Already satisfied (another change of this run fixed it): nothing to write.
        expected
            .seen
            .insert((item.control.clone(), key), fresh.before);
        return Ok(ChangeResult::AlreadySatisfied);
    }
    // What runs is what was shown and approved: until this run writes anything, the fresh
    // change must be the planned one. After a write, later changes may legitimately shrink
    // (the first forced-MFA change made the policy and group the next ones only join; the
    // first alarm made the topic), so from then on only `before` is held to the plan; a saved
    // plan's changes were all compared whole, before the first write, by `check_stale`.
    if !expected.attempted {
        let drift = drift(&item.finding, &fresh, false);
        if !drift.is_empty() {
            return Ok(ChangeResult::Stale(not_as_planned(&drift)));
        }
    }
    let seq = journal.next_seq();
    expected.attempted = true;
    journal.append(&Entry::Intent {
        seq,
        control: item.control.clone(),
        id: item.id.clone(),
        region: item.region.clone(),
        target: item.finding.target.clone(),
        previous: fresh.before.clone(),
        planned: fresh.after.clone(),
        undo_of: None,
        at: now_rfc3339(),
    })?;
    let reads = Reads::carrying(&expected.carried, None);
    let cx = Cx {
        aws,
        reads: &reads,
        params,
    };
    let written = control.apply(&cx, region, &fresh).await;
    // Whatever it wrote (or half-wrote), nothing read before through those services is kept.
    expected
        .carried
        .written_by(control.description().write_actions);
    if let Err(e) = written {
        journal.append(&Entry::Outcome {
            seq,
            ok: false,
            error: Some(e.to_string()),
            at: now_rfc3339(),
        })?;
        return Ok(ChangeResult::Failed(e.to_string()));
    }
    journal.append(&Entry::Outcome {
        seq,
        ok: true,
        error: None,
        at: now_rfc3339(),
    })?;
    let (verified, observed, why) = verdict(
        removes(item),
        observe(
            aws,
            params,
            control,
            region,
            &item.finding.target,
            &expected.carried,
        )
        .await,
    );
    journal.append(&Entry::Verified {
        seq,
        verified,
        observed: observed.clone(),
        at: now_rfc3339(),
    })?;
    expected.written.insert(key.clone());
    expected.seen.insert((item.control.clone(), key), observed);
    Ok(if verified {
        ChangeResult::Verified
    } else {
        ChangeResult::NotVerified(why)
    })
}

/// Whether the change removes its target (action `delete`): a re-read that no longer lists
/// the target then shows it done, not lost.
fn removes(item: &Item) -> bool {
    item.finding.action == Some(crate::plan::Action::Delete)
}

/// Whether a re-read after the write shows the change done: (verified, observed, why not).
/// A target the re-read no longer lists is verified for a removal (the observed state is
/// `null`: undo finds the same `null` and restores), and lost for any other change.
fn verdict(
    removal: bool,
    reread: Result<Option<Finding>, crate::aws::AwsError>,
) -> (bool, Value, String) {
    match reread {
        Ok(Some(f)) if f.status == Status::Compliant => (true, f.before, String::new()),
        Ok(Some(f)) => {
            let why = format!("re-read still fails: {}", f.summary);
            (false, f.before, why)
        }
        Ok(None) if removal => (true, Value::Null, String::new()),
        Ok(None) => (
            false,
            Value::Null,
            "the target is gone after the write".into(),
        ),
        Err(e) => (false, Value::Null, format!("could not re-read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, ApiCall};

    #[test]
    fn a_removal_whose_target_is_gone_is_verified() {
        let (ok, observed, why) = verdict(true, Ok(None));
        assert!(ok && observed.is_null() && why.is_empty());
        // Any other change that loses its target is not.
        let (ok, _, why) = verdict(false, Ok(None));
        assert!(!ok && why.contains("gone"), "{why}");
        // A removal the re-read still lists as failing is not verified either.
        let mut still = role("own");
        still.summary = "still attached".into();
        let (ok, _, why) = verdict(true, Ok(Some(still)));
        assert!(!ok && why.contains("still attached"), "{why}");
    }
    use serde_json::json;

    fn role(trust: &str) -> Finding {
        Finding::change(
            "AWS Support role",
            format!("create role trusted by {trust}"),
            Action::Create,
            json!({"roles": []}),
            json!({"roles": ["cis-fix-support"], "trust": trust}),
            vec![ApiCall::new("iam:CreateRole", json!({"Trust": trust}))],
        )
    }

    #[test]
    fn the_same_change_has_no_drift() {
        assert!(drift(&role("own"), &role("own"), true).is_empty());
    }

    #[test]
    fn another_after_or_call_is_drift_and_named() {
        let d = drift(&role("own"), &role("foreign"), false);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("after: ") && d[0].contains("foreign"),
            "{d:?}"
        );
        assert!(d[1].starts_with("call 1 iam:CreateRole"), "{d:?}");
    }

    #[test]
    fn summary_and_prerequisites_count() {
        let (a, mut b) = (role("own"), role("own"));
        b.summary = "something else".into();
        assert!(drift(&a, &b, false).is_empty());
        assert_eq!(drift(&a, &b, true).len(), 1);
        b.summary = a.summary.clone();
        b.prerequisites = json!({"policy": "moved"});
        assert!(drift(&a, &b, false)[0].starts_with("prerequisites: "));
        b.prerequisites = Value::Null;
        b.calls
            .push(ApiCall::new("iam:AttachRolePolicy", Value::Null));
        assert_eq!(
            drift(&a, &b, false),
            vec!["call 2: planned none, now iam:AttachRolePolicy".to_string()]
        );
    }
}
