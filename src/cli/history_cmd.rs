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

/// What a run's row says about its changes: an apply's changes and how many of them are
/// undone since; an undo run's restorations and the runs they undid (an undo run's own
/// changes are never "undone", so a count of 0 there would only mislead).
fn counts(r: &Run, undone: usize) -> String {
    let n = crate::render::plural(r.changes.len(), "change", "changes");
    if r.command == "undo" {
        let mut of: Vec<&str> = r
            .changes
            .iter()
            .filter_map(|c| c.undo_of.as_ref().map(|u| u.run_id.as_str()))
            .collect();
        of.sort();
        of.dedup();
        if of.is_empty() {
            format!("{n} put back")
        } else {
            format!("{n} put back (of run {})", of.join(", "))
        }
    } else {
        format!("{n}, {undone} undone")
    }
}

/// `--accounts` / `--exclude-accounts` narrow the list to some accounts' runs; the journal is
/// local, so the organization flags (which would need AWS to list accounts) are refused.
fn account_filter(g: &GlobalArgs) -> Result<impl Fn(&str) -> bool, Fatal> {
    let a = &g.accounts;
    if a.org || !a.ous.is_empty() || a.shard.is_some() {
        return Err(Fatal::usage(
            "history reads the journal, not the organization: narrow it with --accounts IDS (or --exclude-accounts)",
        ));
    }
    let only = match &a.accounts {
        Some(v) => crate::accounts::parse_ids("--accounts", v).map_err(Fatal::usage)?,
        None => Vec::new(),
    };
    let except = match &a.exclude_accounts {
        Some(v) => crate::accounts::parse_ids("--exclude-accounts", v).map_err(Fatal::usage)?,
        None => Vec::new(),
    };
    Ok(move |id: &str| {
        (only.is_empty() || only.iter().any(|o| o == id)) && !except.iter().any(|e| e == id)
    })
}

pub fn run(g: &GlobalArgs, run_id: Option<&str>, as_json: bool) -> Result<Exit, Fatal> {
    let shown = account_filter(g)?;
    let journal = context::journal(g)?;
    let mut all = journal.runs().map_err(|e| Fatal::usage(e.to_string()))?;
    all.retain(|r| r.as_ref().map_or(true, |r| shown(&r.account_id)));
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
                    "{}  {:<5}  account {}  {}{}{}",
                    r.run_id,
                    r.command,
                    r.account_id,
                    counts(r, r.changes.iter().filter(|c| is_undone(r, c)).count()),
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

/// `history --verify`: recompute each run's chain of entry MACs (or one run's) and say, per
/// run, that it holds with its chain head, or which entry (line) no longer matches.
pub fn verify(g: &GlobalArgs, run_id: Option<&str>, as_json: bool) -> Result<Exit, Fatal> {
    use crate::journal::JournalError;
    let journal = context::journal(g)?;
    let results = match run_id {
        Some(id) => match journal.load(id) {
            Err(JournalError::UnknownRun(id)) => {
                return Err(Fatal::usage(JournalError::UnknownRun(id).to_string()))
            }
            r => vec![r],
        },
        None => journal.runs().map_err(|e| Fatal::usage(e.to_string()))?,
    };
    let mut exit = Exit::Ok;
    let mut rows = Vec::new();
    for r in results {
        let row = match r {
            Ok(run) if run.verified => json!({"run_id": run.run_id, "status": "verified",
                "entries": run.entries, "chain_head": run.chain_head}),
            Ok(run) => json!({"run_id": run.run_id, "status": "unverifiable",
                "reason": "written by an older cis-fix with plain hashes: it cannot be told from an edit"}),
            Err(
                JournalError::Tampered { path, line, reason }
                | JournalError::Corrupt { path, line, reason },
            ) => {
                exit = Exit::Failed;
                let run = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                json!({"run_id": run, "status": "mismatch", "line": line, "reason": reason,
                    "path": path.display().to_string()})
            }
            Err(e) => {
                exit = Exit::Failed;
                json!({"run_id": null, "status": "unreadable", "reason": e.to_string()})
            }
        };
        rows.push(row);
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "runs": rows })).unwrap_or_default()
        );
        return Ok(exit);
    }
    if rows.is_empty() {
        println!("No runs in the journal yet.");
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    for r in &rows {
        match r["status"].as_str() {
            Some("verified") => println!(
                "  ✓ run {}: {} entries verified; chain head {}",
                s(&r["run_id"]),
                r["entries"],
                s(&r["chain_head"])
            ),
            Some("unverifiable") => {
                println!(
                    "  ? run {}: unverifiable, {}",
                    s(&r["run_id"]),
                    s(&r["reason"])
                )
            }
            Some("mismatch") => println!(
                "  ✗ run {}: entry at line {} no longer matches what cis-fix recorded ({}): {}",
                s(&r["run_id"]),
                r["line"],
                s(&r["reason"]),
                s(&r["path"])
            ),
            _ => println!("  ✗ {}", s(&r["reason"])),
        }
    }
    Ok(exit)
}
