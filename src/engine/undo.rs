//! Undo: put each change of a journaled run back to its recorded previous state, newest
//! first, refusing targets that moved since cis-fix changed them. Undo is journaled too.

use serde_json::Value;

use super::observe::{observe, unknown_control};
use super::Interrupt;
use crate::aws::AwsContext;
use crate::journal::{ChangeRecord, ChangeRef, Entry, JournalError, Run, RunWriter};
use crate::plan::now_rfc3339;
use crate::remediations::{self as controls, Carried, Cx, Params, Reads};
use crate::render::describe_moves;

#[derive(Debug, Clone, PartialEq)]
pub enum UndoResult {
    /// Restored and re-read equal to the recorded previous state.
    Restored,
    /// Nothing to do: the target is already in its previous state.
    AlreadyRestored,
    NotVerified(String),
    Failed(String),
    /// The target moved since cis-fix changed it; left alone (use --force).
    Refused(String),
    /// Interrupted before this change started.
    NotStarted,
}

#[derive(Debug, Clone)]
pub struct UndoOutcome {
    pub seq: u32,
    pub label: String,
    pub result: UndoResult,
}

/// Undo the changes of `run` (all, or the ones in `only`), skipping changes in `done`
/// (already undone by an earlier undo run).
#[allow(clippy::too_many_arguments)]
pub async fn undo_run(
    aws: &AwsContext,
    run: &Run,
    only: &[u32],
    done: &[ChangeRef],
    force: bool,
    journal: &mut RunWriter,
    interrupt: &Interrupt,
    progress: &super::Progress,
) -> Result<Vec<UndoOutcome>, JournalError> {
    let mut out = Vec::new();
    let todo = undoable(run, only, done);
    // Each bucket's region, located once for the whole run.
    let carried = Carried::locations();
    progress.add_total(todo.len());
    for change in todo {
        progress.tick();
        let result = if interrupt.raised() {
            UndoResult::NotStarted
        } else {
            undo_one(aws, run, change, force, &carried, journal).await?
        };
        out.push(UndoOutcome {
            seq: change.seq,
            label: format!(
                "#{} {} {} ({}, {})",
                change.seq,
                change.id,
                change.control,
                change.target,
                change.region.as_deref().unwrap_or("global")
            ),
            result,
        });
    }
    journal.append(&Entry::End {
        at: now_rfc3339(),
        interrupted: interrupt.raised(),
    })?;
    Ok(out)
}

fn show(v: &Value) -> String {
    if v.is_null() {
        "(none)".into()
    } else {
        v.to_string()
    }
}

async fn undo_one(
    aws: &AwsContext,
    run: &Run,
    change: &ChangeRecord,
    force: bool,
    carried: &Carried,
    journal: &mut RunWriter,
) -> Result<UndoResult, JournalError> {
    let Some(control) = controls::find(&change.control) else {
        return Ok(UndoResult::Failed(
            unknown_control(&change.control).to_string(),
        ));
    };
    let region = change.region.as_deref();
    // Undo restores recorded state; plan parameters play no part in it (only the home region
    // a recorded trail names, to find it again).
    let params = Params::for_undo(&change.previous);
    let current = match observe(
        aws,
        &params,
        control,
        region,
        &change.target,
        // Only bucket regions are carried between undo's changes: each has its own parameters.
        carried,
    )
    .await
    {
        Ok(Some(f)) => f.before,
        Ok(None) => Value::Null,
        Err(e) => return Ok(UndoResult::Failed(format!("could not re-read: {e}"))),
    };
    let undo_of = Some(ChangeRef {
        run_id: run.run_id.clone(),
        seq: change.seq,
    });
    if current == change.previous {
        // Journal it anyway, so the change counts as undone and is not offered again.
        let seq = journal.next_seq();
        journal.append(&Entry::Intent {
            seq,
            control: change.control.clone(),
            id: change.id.clone(),
            region: change.region.clone(),
            target: change.target.clone(),
            previous: current.clone(),
            planned: change.previous.clone(),
            undo_of,
            at: now_rfc3339(),
        })?;
        journal.append(&Entry::Outcome {
            seq,
            ok: true,
            error: Some("nothing to write: already in its previous state".into()),
            at: now_rfc3339(),
        })?;
        journal.append(&Entry::Verified {
            seq,
            verified: true,
            observed: current,
            at: now_rfc3339(),
        })?;
        return Ok(UndoResult::AlreadyRestored);
    }
    // What cis-fix left there: the verified re-read, or (result unknown) what it aimed for.
    // A change whose apply failed may have been partly written (the first calls of several):
    // the control's undo restores `previous` from whatever state it finds, so it is restored
    // whatever it looks like now.
    let left = change.observed.as_ref().unwrap_or(&change.planned);
    let partial = change.ok == Some(false);
    if &current != left && !force && !partial {
        let why = if change.ok.is_none() {
            "its apply was interrupted and the target matches neither the state before nor the state planned"
        } else {
            "it changed after cis-fix applied it"
        };
        return Ok(UndoResult::Refused(format!(
            "{why} ({}); re-run with --force to restore {} anyway",
            describe_moves(left, &current),
            show(&change.previous)
        )));
    }
    let seq = journal.next_seq();
    journal.append(&Entry::Intent {
        seq,
        control: change.control.clone(),
        id: change.id.clone(),
        region: change.region.clone(),
        target: change.target.clone(),
        previous: current,
        planned: change.previous.clone(),
        undo_of,
        at: now_rfc3339(),
    })?;
    let reads = Reads::carrying(carried, None);
    let cx = Cx {
        aws,
        reads: &reads,
        params: &params,
    };
    let written = control
        .undo(&cx, region, &change.target, &change.previous)
        .await;
    carried.written_by(control.description().write_actions);
    if let Err(e) = written {
        journal.append(&Entry::Outcome {
            seq,
            ok: false,
            error: Some(e.to_string()),
            at: now_rfc3339(),
        })?;
        return Ok(UndoResult::Failed(e.to_string()));
    }
    journal.append(&Entry::Outcome {
        seq,
        ok: true,
        error: None,
        at: now_rfc3339(),
    })?;
    let after = observe(
        aws,
        &params,
        control,
        region,
        &change.target,
        // Only bucket regions are carried between undo's changes: each has its own parameters.
        carried,
    )
    .await;
    let (ok, observed, why) = match after {
        Ok(f) => {
            let v = f.map(|f| f.before).unwrap_or(Value::Null);
            let ok = v == change.previous;
            let why = format!(
                "re-read shows {}, expected {}",
                show(&v),
                show(&change.previous)
            );
            (ok, v, why)
        }
        Err(e) => (false, Value::Null, format!("could not re-read: {e}")),
    };
    journal.append(&Entry::Verified {
        seq,
        verified: ok,
        observed,
        at: now_rfc3339(),
    })?;
    Ok(if ok {
        UndoResult::Restored
    } else {
        UndoResult::NotVerified(why)
    })
}

/// The changes of `run` an undo would restore, newest first: all of them, or those in
/// `only`, failed ones included (a failed change may have been partly written), but not ones
/// in `done` (undone by an earlier undo run).
pub fn undoable<'a>(run: &'a Run, only: &[u32], done: &[ChangeRef]) -> Vec<&'a ChangeRecord> {
    run.changes
        .iter()
        .rev()
        .filter(|c| only.is_empty() || only.contains(&c.seq))
        .filter(|c| {
            !done
                .iter()
                .any(|d| d.run_id == run.run_id && d.seq == c.seq)
        })
        .collect()
}

/// Changes already undone, from every undo run in the journal.
pub fn undone(runs: &[Run]) -> Vec<ChangeRef> {
    runs.iter()
        .flat_map(|r| r.changes.iter())
        .filter(|c| c.ok == Some(true))
        .filter_map(|c| c.undo_of.clone())
        .collect()
}
