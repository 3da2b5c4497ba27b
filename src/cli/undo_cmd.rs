//! `cis-fix undo`: restore what an earlier apply changed.

use std::io::IsTerminal;

use console::style;

use super::args::GlobalArgs;
use super::context;
use crate::engine::{self, UndoResult};
use crate::exit::{Exit, Fatal};
use crate::journal::JournalError;
use crate::journal::Run;
use crate::prompt::{AssumeYes, Prompter, TerminalPrompter};
use crate::render::{restore_summary, show_value, Outcomes};

pub async fn run(
    g: &GlobalArgs,
    run_id: Option<&str>,
    only: &[u32],
    yes: bool,
    force: bool,
) -> Result<Exit, Fatal> {
    // A multi-account run (its id names no single run, but its accounts' runs).
    if let Some(id) = run_id.filter(|_| g.target.is_none()) {
        let journal = context::journal(g)?;
        if journal.load(id).is_err() {
            let parts = journal.group(id).map_err(journal_fatal)?;
            if !parts.is_empty() {
                return super::fleet::undo(g, id, parts, only, yes, force).await;
            }
        }
    }
    if g.target.is_none()
        && crate::accounts::Selection::from_args(&g.accounts)
            .map_err(Fatal::usage)?
            .is_some()
    {
        return Err(Fatal::usage(
            "undo across accounts takes the multi-account run's id (`cis-fix history` lists it): `cis-fix undo RUN_ID [--accounts IDS]`",
        ));
    }
    run_one(g, run_id, only, yes, force)
        .await
        .map(|(exit, _)| exit)
}

/// Undo one account's run (the credentials' own, or one part of a multi-account run): its
/// exit, and what each change came to (`verified`: restored; `stale`: refused), for the
/// closing table of a multi-account undo.
pub async fn run_one(
    g: &GlobalArgs,
    run_id: Option<&str>,
    only: &[u32],
    yes: bool,
    force: bool,
) -> Result<(Exit, Outcomes), Fatal> {
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Fatal::refused(
            "undo needs confirmation but there is no terminal: re-run with --yes",
        ));
    }
    let journal = context::journal(g)?;
    // Held until the command ends: no other apply or undo interleaves with this one (a
    // multi-account undo holds it once for all its accounts).
    let _lock = match &g.target {
        Some(_) => None,
        None => Some(context::lock(
            &journal,
            &format!("cis-fix {} since {}", "undo", crate::plan::now_rfc3339()),
        )?),
    };
    // Every run must read back as cis-fix wrote it: one that does not is refused, with
    // nothing restored (which changes count as undone depends on all of them).
    let runs: Vec<Run> = journal
        .runs()
        .map_err(journal_fatal)?
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(journal_fatal)?;
    let done = engine::undone(&runs);
    // Connect first: without a run id, the run to undo is this account's latest.
    let aws = context::connect(g).await?;
    let _account_lock = context::account_lock(&aws, "cis-fix undo")?;
    let run = match run_id {
        Some(id) => journal.load(id).map_err(journal_fatal)?,
        None => match runs.iter().rev().find(|r| {
            r.command == "apply"
                && r.account_id == aws.account.id
                && !engine::undoable(r, &[], &done).is_empty()
        }) {
            Some(r) => r.clone(),
            None => {
                crate::outln!(
                    "Nothing to undo: no change applied to account {} is still in place.",
                    aws.account.id
                );
                return Ok((Exit::Ok, Outcomes::default()));
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
    if !run.verified && !force {
        return Err(Fatal::refused(format!(
            "run {} was journaled by an older cis-fix without a keyed check, so its entries cannot be verified (anyone who could edit the file could have changed what undo restores); review them with `cis-fix history {}` and re-run with --force to restore them anyway",
            run.run_id, run.run_id
        )));
    }
    let todo = engine::undoable(&run, only, &done);
    if todo.is_empty() {
        crate::outln!(
            "Nothing to undo in run {}: every change is already undone.",
            run.run_id
        );
        return Ok((Exit::Ok, Outcomes::default()));
    }
    crate::outln!(
        "{} run {} (account {})\n",
        style("cis-fix undo").bold(),
        run.run_id,
        run.account_id
    );
    // What will be put back, in full, before asking (or acting, under --yes).
    for c in &todo {
        crate::outln!(
            "  #{} {} {} [{}]{}: restore {}",
            c.seq,
            c.id,
            c.target,
            c.region.as_deref().unwrap_or("global"),
            match c.ok {
                None => " (apply was interrupted)",
                Some(false) => " (restoring a partially applied change: its apply failed)",
                Some(true) => "",
            },
            restore_summary(c.observed.as_ref().unwrap_or(&c.planned), &c.previous)
        );
        crate::outln!("      previous state: {}", show_value(&c.previous));
    }
    let mut prompter: Box<dyn Prompter> = if yes {
        Box::new(AssumeYes)
    } else {
        Box::new(TerminalPrompter)
    };
    let go = prompter
        .confirm(&format!(
            "Undo {} in account {}?",
            crate::render::plural(todo.len(), "change", "changes"),
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
    let progress = engine::Progress::for_terminal("undoing", g.quiet);
    let outcomes = engine::undo_run(
        &aws,
        &run,
        only,
        &done,
        force,
        &mut writer,
        &interrupt,
        &progress,
    )
    .await;
    progress.clear();
    let outcomes = outcomes.map_err(|e| Fatal {
        exit: Exit::Failed,
        message: format!(
            "{e}; stopped before the next change (undo run {})",
            writer.run_id()
        ),
    })?;
    let mut tally = Outcomes::default();
    crate::outln!();
    for o in &outcomes {
        let (tag, detail) = match &o.result {
            UndoResult::Restored => {
                tally.verified += 1;
                (
                    style(crate::render::Run::Undo.verified()).green(),
                    String::new(),
                )
            }
            UndoResult::AlreadyRestored => {
                tally.already += 1;
                (
                    style(crate::render::Run::Undo.already()).green(),
                    String::new(),
                )
            }
            UndoResult::NotVerified(w) => {
                tally.not_verified += 1;
                (
                    style(crate::render::Run::Undo.not_verified()).red().bold(),
                    format!(": {w}"),
                )
            }
            UndoResult::Failed(w) => {
                tally.failed += 1;
                (style("failed").red().bold(), format!(": {w}"))
            }
            UndoResult::NotStarted => {
                tally.not_started += 1;
                (style("not started (interrupted)").yellow(), String::new())
            }
            UndoResult::Refused(w) => {
                tally.stale += 1;
                (style("refused (stale)").red(), format!(": {w}"))
            }
        };
        crate::outln!("  {tag} {}{detail}", o.label);
    }
    crate::security_hub::after_undo(&aws, writer.run_id(), &run, &outcomes).await;
    crate::outln!();
    crate::out!("{}", tally.text(crate::render::Run::Undo));
    crate::outln!("Undo run {} is journaled.", writer.run_id());
    Ok((tally.exit(), tally))
}

/// A journal that does not read back as cis-fix wrote it is a refusal (exit 4); one that
/// cannot be read at all is an error.
fn journal_fatal(e: JournalError) -> Fatal {
    match e {
        JournalError::Tampered { .. } => Fatal::refused(e.to_string()),
        _ => Fatal::usage(e.to_string()),
    }
}
