//! `cis-fix undo`: restore what an earlier apply changed.

use std::io::IsTerminal;

use console::style;

use super::args::GlobalArgs;
use super::context;
use crate::engine::{self, UndoResult};
use crate::exit::{Exit, Fatal};
use crate::journal::Run;
use crate::prompt::{AssumeYes, Prompter, TerminalPrompter};
use crate::render::restore_summary;

pub async fn run(
    g: &GlobalArgs,
    run_id: Option<&str>,
    only: &[u32],
    yes: bool,
    force: bool,
) -> Result<Exit, Fatal> {
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Fatal::refused(
            "undo needs confirmation but there is no terminal: re-run with --yes",
        ));
    }
    let journal = context::journal(g)?;
    // Held until the command ends: no other apply or undo interleaves with this one.
    let _lock = context::lock(
        &journal,
        &format!("cis-fix {} since {}", "undo", crate::plan::now_rfc3339()),
    )?;
    let runs: Vec<Run> = journal
        .runs()
        .map_err(|e| Fatal::usage(e.to_string()))?
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| Fatal::usage(e.to_string()))?;
    let done = engine::undone(&runs);
    // Connect first: without a run id, the run to undo is this account's latest.
    let aws = context::connect(g).await?;
    let _account_lock = context::account_lock(&aws, "cis-fix undo")?;
    let run = match run_id {
        Some(id) => journal.load(id).map_err(|e| Fatal::usage(e.to_string()))?,
        None => match runs.iter().rev().find(|r| {
            r.command == "apply"
                && r.account_id == aws.account.id
                && !engine::undoable(r, &[], &done).is_empty()
        }) {
            Some(r) => r.clone(),
            None => {
                println!(
                    "Nothing to undo: no change applied to account {} is still in place.",
                    aws.account.id
                );
                return Ok(Exit::Ok);
            }
        },
    };
    if run.command != "apply" {
        return Err(Fatal::usage(format!(
            "run {} is an {} run; undo takes an apply run (`cis-fix history` lists them)",
            run.run_id, run.command
        )));
    }
    for n in only {
        if !run.changes.iter().any(|c| c.seq == *n) {
            return Err(Fatal::usage(format!(
                "run {} has no change {n}; `cis-fix history {}` lists its changes",
                run.run_id, run.run_id
            )));
        }
    }
    if aws.account.id != run.account_id {
        return Err(Fatal::refused(format!(
            "run {} changed account {}, but these credentials are for account {}",
            run.run_id, run.account_id, aws.account.id
        )));
    }
    let todo = engine::undoable(&run, only, &done);
    if todo.is_empty() {
        println!(
            "Nothing to undo in run {}: every change is already undone or failed.",
            run.run_id
        );
        return Ok(Exit::Ok);
    }
    println!(
        "{} run {} (account {})\n",
        style("cis-fix undo").bold(),
        run.run_id,
        run.account_id
    );
    for c in &todo {
        println!(
            "  #{} {} {} [{}]{}: restore {}",
            c.seq,
            c.id,
            c.target,
            c.region.as_deref().unwrap_or("global"),
            if c.ok.is_none() {
                " (apply was interrupted)"
            } else {
                ""
            },
            restore_summary(c.observed.as_ref().unwrap_or(&c.planned), &c.previous)
        );
    }
    let mut prompter: Box<dyn Prompter> = if yes {
        Box::new(AssumeYes)
    } else {
        Box::new(TerminalPrompter)
    };
    let go = prompter
        .confirm(&format!(
            "Undo {} change(s) in account {}?",
            todo.len(),
            run.account_id
        ))
        .map_err(|e| Fatal::usage(e.to_string()))?;
    if !go {
        return Err(Fatal::refused("declined; nothing was changed"));
    }
    let mut writer = journal
        .start_run("undo", &aws.account.id, &run.benchmark)
        .map_err(|e| Fatal::usage(format!("{e}; nothing was changed")))?;
    let interrupt = engine::Interrupt::install();
    let outcomes = engine::undo_run(&aws, &run, only, &done, force, &mut writer, &interrupt)
        .await
        .map_err(|e| Fatal {
            exit: Exit::Failed,
            message: format!(
                "{e}; stopped before the next change (undo run {})",
                writer.run_id()
            ),
        })?;
    let mut exit = Exit::Ok;
    println!();
    for o in &outcomes {
        let (tag, detail) = match &o.result {
            UndoResult::Restored => (style("restored, verified").green(), String::new()),
            UndoResult::AlreadyRestored => (
                style("already in its previous state").green(),
                String::new(),
            ),
            UndoResult::NotVerified(w) => {
                exit = exit.worst(Exit::Failed);
                (style("restored, NOT verified").red(), format!(": {w}"))
            }
            UndoResult::Failed(w) => {
                exit = exit.worst(Exit::Failed);
                (style("failed").red().bold(), format!(": {w}"))
            }
            UndoResult::NotStarted => {
                exit = exit.worst(Exit::Failed);
                (style("not started (interrupted)").yellow(), String::new())
            }
            UndoResult::Refused(w) => {
                exit = exit.worst(Exit::Refused);
                (style("refused").red(), format!(": {w}"))
            }
        };
        println!("  {tag} {}{detail}", o.label);
    }
    println!("\nUndo run {} is journaled.", writer.run_id());
    Ok(exit)
}
