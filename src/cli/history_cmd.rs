//! `cis-fix history`: the journal's runs, or one run's changes.

use serde_json::json;

use super::args::GlobalArgs;
use super::context;
use crate::engine;
use crate::exit::{Exit, Fatal};
use crate::journal::{ChangeRecord, Run};
use crate::render::show_value;

fn state(c: &ChangeRecord, undone: bool) -> &'static str {
    match (c.ok, c.verified, undone) {
        (_, _, true) => "undone",
        (None, _, _) => "unknown (interrupted)",
        (Some(false), _, _) => "failed",
        (Some(true), Some(true), _) => "applied, verified",
        (Some(true), _, _) => "applied, not verified",
    }
}

pub fn run(g: &GlobalArgs, run_id: Option<&str>, as_json: bool) -> Result<Exit, Fatal> {
    let journal = context::journal(g)?;
    let all = journal.runs().map_err(|e| Fatal::usage(e.to_string()))?;
    let good: Vec<Run> = all
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let done = engine::undone(&good);
    let is_undone =
        |r: &Run, c: &ChangeRecord| done.iter().any(|d| d.run_id == r.run_id && d.seq == c.seq);

    if let Some(id) = run_id {
        let r = journal.load(id).map_err(|e| Fatal::usage(e.to_string()))?;
        if as_json {
            let changes: Vec<_> = r
                .changes
                .iter()
                .map(|c| json!({"change": c.seq, "id": c.id, "control": c.control, "region": c.region, "target": c.target,
                    "state": state(c, is_undone(&r, c)), "previous": c.previous, "planned": c.planned, "observed": c.observed,
                    "error": c.error, "undo_of": c.undo_of}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({"run_id": r.run_id, "command": r.command, "account_id": r.account_id, "started_at": r.started_at, "verified": r.verified, "changes": changes})).unwrap_or_default());
            return Ok(Exit::Ok);
        }
        println!(
            "Run {} · {} · account {} · {}{}",
            r.run_id,
            r.command,
            r.account_id,
            r.started_at,
            if r.verified {
                ""
            } else {
                " · unverifiable (an older cis-fix wrote it without a keyed check)"
            }
        );
        for c in &r.changes {
            println!(
                "  #{} {} {} {} [{}]: {}{}",
                c.seq,
                c.id,
                c.control,
                c.target,
                c.region.as_deref().unwrap_or("global"),
                state(c, is_undone(&r, c)),
                c.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            println!("      before: {}", show_value(&c.previous));
            println!(
                "      after:  {}",
                show_value(c.observed.as_ref().unwrap_or(&c.planned))
            );
        }
        return Ok(Exit::Ok);
    }

    let mut exit = Exit::Ok;
    if as_json {
        let rows: Vec<_> = all
            .iter()
            .map(|r| match r {
                Ok(r) => json!({"run_id": r.run_id, "command": r.command, "account_id": r.account_id, "started_at": r.started_at,
                    "changes": r.changes.len(), "undone": r.changes.iter().filter(|c| is_undone(r, c)).count(), "complete": r.ended,
                    "verified": r.verified}),
                Err(e) => json!({"error": e.to_string()}),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else if all.is_empty() {
        println!("No runs in {}.", journal.dir().display());
    } else {
        for r in &all {
            match r {
                Ok(r) => println!(
                    "{}  {:<5}  account {}  {} change(s), {} undone{}{}",
                    r.run_id,
                    r.command,
                    r.account_id,
                    r.changes.len(),
                    r.changes.iter().filter(|c| is_undone(r, c)).count(),
                    if r.ended { "" } else { "  (did not finish)" },
                    if r.verified {
                        ""
                    } else {
                        "  (unverifiable: an older cis-fix wrote it without a keyed check)"
                    }
                ),
                Err(e) => {
                    exit = Exit::Error;
                    eprintln!("error: {e}");
                }
            }
        }
    }
    Ok(exit)
}
