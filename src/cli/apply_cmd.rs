//! `cis-fix apply`: re-read, refuse stale items, show the diff, ask, apply, verify, journal.

use std::io::IsTerminal;
use std::path::Path;

use console::style;

use super::args::{GlobalArgs, SelectionArgs};
use super::{context, plan_cmd};
use crate::engine::{self, ChangeResult};
use crate::exit::{Exit, Fatal};
use crate::plan::{Item, Status};
use crate::prompt::{Prompter, TerminalPrompter};
use crate::remediations::Params;
use crate::{render, saved_plan};

/// The answers `apply` may take without asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyFlags {
    pub yes: bool,
    pub allow_irreversible: bool,
    pub force_in_use: bool,
    /// With `yes`: also apply changes with a caution (destructive and high risk, access taken
    /// from a role another account trusts or from a break-glass principal).
    pub allow_destructive: bool,
}

pub async fn run(
    g: &GlobalArgs,
    plan_file: Option<&Path>,
    sel: &SelectionArgs,
    params: &Params,
    flags: ApplyFlags,
) -> Result<Exit, Fatal> {
    let yes = flags.yes;
    // Refuse before any work: a prompt that nobody can answer must not hang a pipeline.
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Fatal::refused(
            "apply needs confirmation but there is no terminal: review with `cis-fix plan`, then re-run with --yes",
        ));
    }
    let journal = context::journal(g)?;
    // Held until the command ends: no other apply or undo interleaves with this one.
    let _lock = context::lock(
        &journal,
        &format!("cis-fix {} since {}", "apply", crate::plan::now_rfc3339()),
    )?;
    let (aws, plan, stale) = match plan_file {
        Some(path) => {
            if sel.is_narrowed() {
                return Err(Fatal::usage(
                    "a saved plan is applied as a whole: drop --control/--section/--level, or make a new plan with them",
                ));
            }
            let plan = saved_plan::load(path).map_err(|e| Fatal::usage(e.to_string()))?;
            let aws = context::connect(g).await?;
            plan.params
                .check_for_account(&aws.account.id)
                .map_err(|e| Fatal::refused(format!("{}: {e}", path.display())))?;
            if plan.account.id != aws.account.id {
                return Err(Fatal::refused(format!(
                    "{} is a plan for account {}, but these credentials are for account {} ({})",
                    path.display(),
                    plan.account.id,
                    aws.account.id,
                    aws.account.caller_arn
                )));
            }
            let changes: Vec<&Item> = plan.changes().collect();
            let stale = engine::check_stale(&aws, &plan.params, &changes).await;
            (aws, plan, stale)
        }
        None => {
            let (aws, plan) = plan_cmd::make_plan(g, sel, params).await?;
            (aws, plan, Vec::new())
        }
    };
    let _account_lock = context::account_lock(&aws, "cis-fix apply")?;
    let is_stale = |i: &Item| stale.iter().any(|(n, _)| *n == i.index);
    let pending: Vec<&Item> = plan.changes().filter(|i| !is_stale(i)).collect();

    if !g.quiet {
        println!(
            "{} account {} ({}) · {}\n  credentials: {}\n",
            style("cis-fix apply").bold(),
            aws.account.id,
            aws.account.caller_arn,
            plan.benchmark,
            aws.credentials
        );
        for i in &pending {
            print!("{}", render::item_text(i, true));
        }
    }
    for (n, why) in &stale {
        if let Some(i) = plan.items.iter().find(|i| i.index == *n) {
            println!(
                "  {} {} {} [{}]: {why}",
                style("refused (stale)").red().bold(),
                i.id,
                i.control,
                i.where_()
            );
        }
    }
    let base = if stale.is_empty() {
        Exit::Ok
    } else {
        Exit::Refused
    };
    if pending.is_empty() {
        // What waits for a control outside this selection is shown, with how to include it.
        for i in plan
            .items
            .iter()
            .filter(|i| i.finding.status == Status::Blocked)
        {
            print!("{}", render::item_text(i, true));
        }
        println!("\nNothing to apply. {}", render::summary_line(&plan));
        return Ok(base.worst(if plan.counts().error > 0 {
            Exit::Failed
        } else {
            Exit::Ok
        }));
    }

    // Installed before the first question: Ctrl-C at a prompt then ends the prompt (declined,
    // cursor shown again) instead of killing the process with the terminal half-restored.
    let interrupt = engine::Interrupt::install();
    let _terminal = crate::prompt::TerminalGuard;
    let mut prompter: Box<dyn Prompter> = if yes {
        Box::new(crate::prompt::AssumeYes)
    } else {
        Box::new(TerminalPrompter)
    };
    let approved = approve(
        &pending,
        prompter.as_mut(),
        flags,
        &aws.account.id,
        &plan.params,
    )?;
    if approved.is_empty() {
        println!("Nothing approved; nothing changed.");
        return Ok(Exit::Refused);
    }

    let mut writer = journal
        .start_run("apply", &aws.account.id, plan.benchmark.key())
        .map_err(|e| Fatal::usage(format!("{e}; nothing was changed")))?;
    let mut tally = Tally::default();
    let mut exit = base.worst(if approved.len() < pending.len() {
        Exit::Refused
    } else {
        Exit::Ok
    });
    exit = exit.worst(
        apply_round(
            g,
            &aws,
            &plan.params,
            &approved,
            &mut writer,
            &interrupt,
            &mut tally,
        )
        .await?,
    );

    // Changes that waited for another control (3.2 for the trail of 3.1) are planned again
    // now that what they need exists, shown, and asked about like the first batch.
    let mut waiting: Vec<Item> = plan
        .items
        .iter()
        .filter(|i| i.finding.status == Status::Blocked)
        .cloned()
        .collect();
    for _round in 0..3 {
        if interrupt.raised() || waiting.is_empty() {
            break;
        }
        let ready: Vec<&Item> = waiting
            .iter()
            .filter(|i| i.finding.needs.iter().all(|n| tally.done.contains(n)))
            .collect();
        if ready.is_empty() {
            break;
        }
        let cat = context::catalog()?;
        let mut slugs: Vec<&str> = ready.iter().map(|i| i.control.as_str()).collect();
        slugs.dedup();
        let entries: Vec<&crate::catalog::Entry> =
            slugs.iter().filter_map(|s| cat.by_slug(s)).collect();
        println!(
            "\n{} {} now exist; planning what waited for them: {}",
            style("→").bold(),
            ready
                .iter()
                .flat_map(|i| i.finding.needs.iter())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            slugs.join(", ")
        );
        let progress = engine::Progress::for_terminal("reading the account", g.quiet);
        let next = engine::build_plan(
            &aws,
            plan.benchmark,
            &entries,
            &plan.regions,
            &plan.params,
            g.concurrency.map(usize::from),
            &progress,
        )
        .await;
        progress.clear();
        let pending: Vec<&Item> = next.changes().collect();
        if !g.quiet {
            for i in &pending {
                print!("{}", render::item_text(i, true));
            }
        }
        waiting = next
            .items
            .iter()
            .filter(|i| i.finding.status == Status::Blocked)
            .cloned()
            .collect();
        if pending.is_empty() {
            continue;
        }
        let approved = match approve(
            &pending,
            prompter.as_mut(),
            flags,
            &aws.account.id,
            &plan.params,
        ) {
            Ok(a) => a,
            Err(e) if e.exit == Exit::Refused => {
                println!("Declined; the changes above were not made.");
                exit = exit.worst(Exit::Refused);
                break;
            }
            Err(e) => return Err(e),
        };
        if approved.len() < pending.len() {
            exit = exit.worst(Exit::Refused);
        }
        exit = exit.worst(
            apply_round(
                g,
                &aws,
                &plan.params,
                &approved,
                &mut writer,
                &interrupt,
                &mut tally,
            )
            .await?,
        );
    }
    writer.finish(interrupt.raised()).map_err(|e| Fatal {
        exit: Exit::Failed,
        message: format!("{e} (run {})", writer.run_id()),
    })?;
    for i in waiting
        .iter()
        .filter(|i| i.finding.status == Status::Blocked)
    {
        println!(
            "  {} {} {} [{}]: waits for {}, which this run did not apply",
            style("not planned").yellow(),
            i.id,
            i.control,
            i.where_(),
            i.finding.needs.join(", ")
        );
    }
    let Tally {
        ok, bad, already, ..
    } = tally;
    println!(
        "\nApplied {ok} change{}{}{}. Run {} is journaled; undo it with `cis-fix undo {}`.",
        if ok == 1 { "" } else { "s" },
        if already > 0 {
            format!(", {already} already satisfied")
        } else {
            String::new()
        },
        if bad > 0 {
            format!(", {bad} not applied or not verified")
        } else {
            String::new()
        },
        writer.run_id(),
        writer.run_id()
    );
    Ok(exit)
}

/// What the rounds of one apply did, for the summary and for planning what waited.
#[derive(Default)]
struct Tally {
    ok: usize,
    bad: usize,
    already: usize,
    /// Controls with a change verified (or already satisfied) in this run.
    done: std::collections::BTreeSet<String>,
}

/// Apply one approved batch and print each outcome. Journal failures stop the run.
async fn apply_round(
    g: &GlobalArgs,
    aws: &crate::aws::AwsContext,
    params: &Params,
    approved: &[&Item],
    writer: &mut crate::journal::RunWriter,
    interrupt: &engine::Interrupt,
    tally: &mut Tally,
) -> Result<Exit, Fatal> {
    let progress = engine::Progress::for_terminal("applying", g.quiet);
    let outcomes = engine::apply_changes(aws, params, approved, writer, interrupt, &progress).await;
    progress.clear();
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            let _ = writer.finish(interrupt.raised());
            return Err(Fatal {
                exit: Exit::Failed,
                message: format!(
                    "{e}; stopped before the next change (run {})",
                    writer.run_id()
                ),
            });
        }
    };
    let mut exit = Exit::Ok;
    println!();
    for (o, item) in outcomes.iter().zip(approved) {
        let (tag, detail) = match &o.result {
            ChangeResult::Verified => {
                tally.ok += 1;
                tally.done.insert(item.control.clone());
                (style("applied, verified").green(), String::new())
            }
            ChangeResult::AlreadySatisfied => {
                tally.already += 1;
                tally.done.insert(item.control.clone());
                (
                    style("already satisfied").green(),
                    " by an earlier change of this run; nothing written".to_string(),
                )
            }
            ChangeResult::NotVerified(w) => {
                tally.bad += 1;
                exit = exit.worst(Exit::Failed);
                (style("applied, NOT verified").red(), format!(": {w}"))
            }
            ChangeResult::Failed(w) => {
                tally.bad += 1;
                exit = exit.worst(Exit::Failed);
                (style("failed").red().bold(), format!(": {w}"))
            }
            ChangeResult::NotStarted => {
                tally.bad += 1;
                exit = exit.worst(Exit::Failed);
                (style("not started (interrupted)").yellow(), String::new())
            }
            ChangeResult::Stale(w) => {
                tally.bad += 1;
                exit = exit.worst(Exit::Refused);
                (style("refused (stale)").red(), format!(": {w}"))
            }
        };
        println!("  {tag} {}{detail}", o.label);
    }
    Ok(exit)
}

/// One confirmation for the batch, then a separate one for each destructive, irreversible,
/// in-use or cautioned change. `--yes` answers the batch question only: without prompts,
/// cautioned changes (destructive and high risk, access taken from a role another account
/// trusts or from a break-glass principal) need --allow-destructive, irreversible changes
/// --allow-irreversible and in-use targets --force-in-use; each skip names its flag.
pub(super) fn approve<'a>(
    pending: &[&'a Item],
    prompter: &mut dyn Prompter,
    flags: ApplyFlags,
    account: &str,
    params: &Params,
) -> Result<Vec<&'a Item>, Fatal> {
    let ask = |p: &mut dyn Prompter, q: &str| {
        p.confirm(q).map_err(|e| match e {
            crate::prompt::PromptError::Interrupted => {
                Fatal::refused("interrupted at the prompt (Ctrl-C); nothing more was changed")
            }
            e => Fatal::usage(e.to_string()),
        })
    };
    let n = pending.len();
    if !ask(
        prompter,
        &format!("Apply {n} change(s) to account {account}?"),
    )? {
        return Err(Fatal::refused("declined; nothing was changed"));
    }
    let mut out = Vec::new();
    for i in pending {
        let f = &i.finding;
        let skip = |why: &str| {
            println!(
                "  {} {} {} on {} [{}]: {why}",
                style("skipped").yellow(),
                i.id,
                i.control,
                f.target,
                i.where_()
            )
        };
        let caution = f.cautions(params);
        if flags.yes {
            // Every question --yes does not answer, with the flag that answers it.
            let mut why: Vec<String> = Vec::new();
            let mut need: Vec<&str> = Vec::new();
            if !f.reversible && !flags.allow_irreversible {
                why.push("cannot be undone".into());
                need.push("--allow-irreversible");
            }
            if !f.in_use.is_empty() && !flags.force_in_use {
                why.push(format!("in use by {} item(s)", f.in_use.len()));
                need.push("--force-in-use");
            }
            if !caution.is_empty() && !flags.allow_destructive {
                why.extend(caution.iter().cloned());
                need.push("--allow-destructive");
            }
            if !need.is_empty() {
                skip(&format!(
                    "{}; pass {} to apply it with --yes",
                    why.join("; "),
                    need.join(" and ")
                ));
                continue;
            }
        } else if f.destructive || !f.reversible || !f.in_use.is_empty() || !caution.is_empty() {
            let mut parts = Vec::new();
            if !caution.is_empty() {
                parts.push(format!("needs its own answer: {}", caution.join("; ")));
            }
            if !f.in_use.is_empty() {
                parts.push(format!("is IN USE by {}", f.in_use.join(", ")));
            }
            if !f.reversible {
                parts.push("CANNOT be undone".to_string());
            }
            if parts.is_empty() {
                parts.push("replaces existing configuration (journaled)".to_string());
            }
            let what = parts.join("; ");
            let q = format!(
                "{} {} on {} [{}] {what}. Apply it?",
                i.id,
                i.control,
                f.target,
                i.where_()
            );
            if !ask(prompter, &q)? {
                continue;
            }
        }
        out.push(*i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Finding};
    use crate::prompt::Scripted;
    use serde_json::Value;

    fn item(index: usize, reversible: bool, destructive: bool) -> Item {
        let mut f = Finding::change("t", "s", Action::Update, Value::Null, Value::Null, vec![]);
        f.reversible = reversible;
        f.destructive = destructive;
        Item {
            index,
            control: "c".into(),
            id: "1.1".into(),
            title: "t".into(),
            region: None,
            finding: f,
        }
    }

    #[test]
    fn destructive_changes_are_asked_separately() {
        let (a, b, c) = (
            item(1, true, false),
            item(2, true, true),
            item(3, false, false),
        );
        let mut p = Scripted::new(&[true, false, true]);
        let got = approve(
            &[&a, &b, &c],
            &mut p,
            ApplyFlags::default(),
            "1",
            &Params::default(),
        )
        .unwrap();
        assert_eq!(got.iter().map(|i| i.index).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(p.asked.len(), 3);
    }

    #[test]
    fn declining_the_batch_refuses() {
        let a = item(1, true, false);
        let err = approve(
            &[&a],
            &mut Scripted::new(&[false]),
            ApplyFlags::default(),
            "1",
            &Params::default(),
        )
        .unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
    }

    #[test]
    fn in_use_targets_need_force_with_yes_and_are_asked_separately() {
        let mut busy = item(1, true, false);
        busy.finding.in_use = vec!["eni-1 (instance i-1)".into()];
        let yes = ApplyFlags {
            yes: true,
            ..Default::default()
        };
        assert!(approve(
            &[&busy],
            &mut crate::prompt::AssumeYes,
            yes,
            "1",
            &Params::default()
        )
        .unwrap()
        .is_empty());
        let forced = ApplyFlags {
            force_in_use: true,
            ..yes
        };
        assert_eq!(
            approve(
                &[&busy],
                &mut crate::prompt::AssumeYes,
                forced,
                "1",
                &Params::default()
            )
            .unwrap()
            .len(),
            1
        );
        let mut p = Scripted::new(&[true, false]);
        assert!(approve(
            &[&busy],
            &mut p,
            ApplyFlags::default(),
            "1",
            &Params::default()
        )
        .unwrap()
        .is_empty());
        assert!(
            p.asked[1].contains("IN USE by eni-1 (instance i-1)"),
            "{:?}",
            p.asked
        );
    }

    #[test]
    fn yes_skips_irreversible_without_the_flag() {
        let (a, c) = (item(1, true, false), item(3, false, false));
        let got = approve(
            &[&a, &c],
            &mut crate::prompt::AssumeYes,
            ApplyFlags {
                yes: true,
                ..Default::default()
            },
            "1",
            &Params::default(),
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        let got = approve(
            &[&a, &c],
            &mut crate::prompt::AssumeYes,
            ApplyFlags {
                yes: true,
                allow_irreversible: true,
                ..Default::default()
            },
            "1",
            &Params::default(),
        )
        .unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn yes_answers_the_batch_only_cautioned_changes_need_allow_destructive() {
        let plain = item(1, true, true);
        let mut high = item(2, true, true);
        high.finding.risk = crate::plan::Risk::High;
        let mut trusted = item(3, true, true);
        trusted.finding.caution =
            vec!["role OrganizationAccountAccessRole is trusted by account 999988887777".into()];
        let mut glass = item(4, true, false);
        glass.finding.target = "AdministratorAccess attached to role Break_Glass".into();
        let all = [&plain, &high, &trusted, &glass];
        let yes = ApplyFlags {
            yes: true,
            ..Default::default()
        };
        let got = approve(
            &all,
            &mut crate::prompt::AssumeYes,
            yes,
            "1",
            &Params::default(),
        )
        .unwrap();
        assert_eq!(got.iter().map(|i| i.index).collect::<Vec<_>>(), vec![1]);
        let allowed = ApplyFlags {
            allow_destructive: true,
            ..yes
        };
        let got = approve(
            &all,
            &mut crate::prompt::AssumeYes,
            allowed,
            "1",
            &Params::default(),
        )
        .unwrap();
        assert_eq!(got.len(), 4);
        // Without --yes each cautioned change gets its own question, naming why.
        let mut p = Scripted::new(&[true, true, false, false, false]);
        let got = approve(&all, &mut p, ApplyFlags::default(), "1", &Params::default()).unwrap();
        assert_eq!(got.iter().map(|i| i.index).collect::<Vec<_>>(), vec![1]);
        assert!(
            p.asked[2].contains("destructive and high risk"),
            "{:?}",
            p.asked
        );
        assert!(
            p.asked[3].contains("trusted by account 999988887777"),
            "{:?}",
            p.asked
        );
        assert!(p.asked[4].contains("break-glass"), "{:?}", p.asked);
    }
}
