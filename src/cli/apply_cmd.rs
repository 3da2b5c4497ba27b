//! `cis-fix apply`: re-read, refuse stale items, show the diff, ask, apply, verify, journal.

use std::io::IsTerminal;
use std::path::Path;

use console::style;

use super::args::{GlobalArgs, SelectionArgs};
use super::{context, plan_cmd};
use crate::engine::{self, ChangeResult};
use crate::exit::{Exit, Fatal};
use crate::plan::{Item, Status};
use crate::prompt::{ItemAnswer, Prompter, TerminalPrompter};
use crate::remediations::Params;
use crate::render::Run;
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
    /// Show every change on its own, unfolded (`--expand`).
    pub expand: bool,
}

/// What an apply applies.
pub enum Source<'a> {
    /// Plan the selection now.
    Live,
    /// A saved plan file.
    File(&'a Path),
    /// One account's plan out of a saved multi-account plan (`from` names the file).
    Loaded {
        plan: Box<crate::plan::Plan>,
        from: String,
    },
}

pub async fn run(
    g: &GlobalArgs,
    plan_file: Option<&Path>,
    sel: &SelectionArgs,
    params: &Params,
    flags: ApplyFlags,
) -> Result<Exit, Fatal> {
    // Several accounts: a multi-account plan file, or the account flags.
    let org_file = plan_file
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| crate::org_plan::is_org_plan(&t)));
    let accounts = crate::accounts::Selection::from_args(&g.accounts).map_err(Fatal::usage)?;
    if org_file.is_some() || accounts.is_some() {
        return super::fleet::apply(g, org_file, accounts, sel, params, flags).await;
    }
    run_one(
        g,
        plan_file.map_or(Source::Live, Source::File),
        sel,
        params,
        flags,
    )
    .await
    .map(|(exit, _)| exit)
}

/// Apply to one account (the credentials' own, or one account of a multi-account run).
pub async fn run_one(
    g: &GlobalArgs,
    source: Source<'_>,
    sel: &SelectionArgs,
    params: &Params,
    flags: ApplyFlags,
) -> Result<(Exit, render::Outcomes), Fatal> {
    let yes = flags.yes;
    let plan_file = match &source {
        Source::File(p) => Some(*p),
        _ => None,
    };
    // A plan file that is not there is named first, terminal or not; a control id in its
    // place (`apply 1.7`) gets the flag it meant.
    if let Some(path) = plan_file {
        if !path.exists() {
            let arg = path.display().to_string();
            let looks_like_id = !arg.is_empty()
                && arg.chars().all(|c| c.is_ascii_digit() || c == '.')
                && arg.contains(|c: char| c.is_ascii_digit());
            return Err(Fatal::usage(if looks_like_id {
                format!("{arg} is not a plan file; to apply control {arg}, use `cis-fix apply --control {arg}`")
            } else {
                format!("plan file {arg} does not exist (save one with `cis-fix plan -o {arg}`)")
            }));
        }
    }
    // Refuse before any work: a prompt that nobody can answer must not hang a pipeline.
    if !yes && !std::io::stdin().is_terminal() {
        return Err(Fatal::refused(
            "apply needs confirmation but there is no terminal: review with `cis-fix plan`, then re-run with --yes",
        ));
    }
    let journal = context::journal(g)?;
    // Held until the command ends: no other apply or undo interleaves with this one. A
    // multi-account run holds it once for all its accounts.
    let _lock = match &g.target {
        Some(_) => None,
        None => Some(context::lock(
            &journal,
            &format!("cis-fix {} since {}", "apply", crate::plan::now_rfc3339()),
        )?),
    };
    let saved = match source {
        Source::File(path) => Some((
            saved_plan::load(path).map_err(|e| Fatal::usage(e.to_string()))?,
            path.display().to_string(),
        )),
        Source::Loaded { plan, from } => Some((*plan, from)),
        Source::Live => None,
    };
    let (aws, plan, stale) = match saved {
        Some((mut plan, path)) => {
            if sel.is_narrowed() {
                return Err(Fatal::usage(
                    "a saved plan is applied as a whole: drop --control/--section/--level, or make a new plan with them",
                ));
            }
            // Exceptions are checked again now: a target excepted since the plan was saved
            // is left alone too.
            crate::exceptions::mark(&mut plan);
            super::strict_exceptions_check(&plan)?;
            let aws = context::connect(g).await?;
            if crate::exceptions::needs_ancestry() {
                // `ou = …` entries match once the account's OUs are known.
                crate::exceptions::learn_ancestry(&aws, std::slice::from_ref(&plan.account.id))
                    .await;
                crate::exceptions::mark(&mut plan);
            }
            plan.params
                .check_for_account(&aws.account.id)
                .map_err(|e| Fatal::refused(format!("{path}: {e}")))?;
            if plan.account.id != aws.account.id {
                return Err(Fatal::refused(format!(
                    "{} is a plan for account {}, but these credentials are for account {} ({})",
                    path, plan.account.id, aws.account.id, aws.account.caller_arn
                )));
            }
            let changes: Vec<&Item> = plan.changes().collect();
            let stale = engine::check_stale(&aws, &plan.params, &changes).await;
            (aws, plan, stale)
        }
        None => {
            let (aws, plan) = plan_cmd::make_plan(g, sel, params).await?;
            super::strict_exceptions_check(&plan)?;
            (aws, plan, Vec::new())
        }
    };
    let _account_lock = context::account_lock(&aws, "cis-fix apply")?;
    let is_stale = |i: &Item| stale.iter().any(|(n, _)| *n == i.index);
    let pending: Vec<&Item> = plan.changes().filter(|i| !is_stale(i)).collect();
    let view = render::TextOptions::for_output(flags.expand, false);

    if !g.quiet {
        crate::out!(
            "{}",
            render::wrap(
                &format!(
                    "{} account {} ({}) · {}",
                    style("cis-fix apply").bold(),
                    aws.account.id,
                    aws.account.caller_arn,
                    plan.benchmark
                ),
                view.width,
                "",
                2
            )
        );
        crate::outln!("  credentials: {}\n", aws.credentials);
        crate::out!("{}", render::items_text(&pending, &plan.regions, &view));
        // The exceptions file's expired and unused entries, as in the plan.
        for w in render::exception_warnings(&plan) {
            crate::outln!("  {w}");
        }
    }
    for (n, why) in &stale {
        if let Some(i) = plan.items.iter().find(|i| i.index == *n) {
            crate::outln!(
                "  {} {} {} [{}]: {why}",
                style("refused (stale)").red().bold(),
                i.id,
                i.control,
                i.where_()
            );
        }
    }
    let counts = plan.counts();
    let mut tally = Tally {
        out: render::Outcomes {
            stale: stale.len(),
            manual: counts.manual,
            undetermined: counts.unknown,
            unreadable: counts.error,
            excepted: counts.excepted,
            ..Default::default()
        },
        ..Default::default()
    };
    if pending.is_empty() {
        // What waits for a control outside this selection is shown, with how to include it.
        let waiting: Vec<&Item> = plan
            .items
            .iter()
            .filter(|i| i.finding.status == Status::Blocked)
            .collect();
        crate::out!("{}", render::items_text(&waiting, &plan.regions, &view));
        tally.out.waiting = waiting.len();
        if stale.is_empty() {
            crate::outln!("\nNothing to apply. {}", render::summary_line(&plan));
        } else {
            crate::outln!(
                "\nNothing left to apply: the plan's {} refused (stale) (above).",
                if stale.len() == 1 {
                    "only change was".to_string()
                } else {
                    format!("{} changes were all", stale.len())
                }
            );
        }
        crate::out!("{}", tally.out.text(Run::Apply));
        return Ok((tally.out.exit(), tally.out));
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
    let answer = match approve(
        &pending,
        prompter.as_mut(),
        flags,
        &aws.account.id,
        &plan.params,
        true,
    ) {
        Ok(a) => a,
        Err(e) if e.exit == Exit::Refused => {
            tally.out.declined += pending.len();
            crate::outln!("\n{e}");
            crate::out!("{}", tally.out.text(Run::Apply));
            return Ok((tally.out.exit(), tally.out));
        }
        Err(e) => return Err(e),
    };
    tally.count_answers(&answer);
    if answer.approved.is_empty() {
        crate::outln!("\nNothing approved; nothing changed.");
        crate::out!("{}", tally.out.text(Run::Apply));
        return Ok((tally.out.exit(), tally.out));
    }

    let group = g
        .target
        .as_ref()
        .and_then(|r| r.group.as_deref().map(|grp| (grp, r.role_arn.as_deref())));
    let mut writer = journal
        .start_run_in("apply", &aws.account.id, plan.benchmark.key(), group)
        .map_err(|e| Fatal::usage(format!("{e}; nothing was changed")))?;
    apply_round(
        g,
        &aws,
        &plan.params,
        &answer.approved,
        &mut writer,
        &interrupt,
        &mut tally,
    )
    .await?;

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
        let needed: Vec<&str> = ready
            .iter()
            .flat_map(|i| i.finding.needs.iter())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(String::as_str)
            .collect();
        crate::outln!(
            "\n{} {} {} done; planning what waited for {}: {}",
            style("→").bold(),
            needed.join(", "),
            if needed.len() == 1 { "is" } else { "are" },
            if needed.len() == 1 { "it" } else { "them" },
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
            crate::out!("{}", render::items_text(&pending, &next.regions, &view));
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
        let answer = match approve(
            &pending,
            prompter.as_mut(),
            flags,
            &aws.account.id,
            &plan.params,
            true,
        ) {
            Ok(a) => a,
            Err(e) if e.exit == Exit::Refused => {
                crate::outln!("Declined; the changes above were not made.");
                tally.out.declined += pending.len();
                break;
            }
            Err(e) => return Err(e),
        };
        tally.count_answers(&answer);
        apply_round(
            g,
            &aws,
            &plan.params,
            &answer.approved,
            &mut writer,
            &interrupt,
            &mut tally,
        )
        .await?;
    }
    writer.finish(interrupt.raised()).map_err(|e| Fatal {
        exit: Exit::Failed,
        message: format!("{e} (run {})", writer.run_id()),
    })?;
    for i in waiting
        .iter()
        .filter(|i| i.finding.status == Status::Blocked)
    {
        tally.out.waiting += 1;
        crate::outln!(
            "  {} {} {} [{}]: waits for {}, which this run did not apply",
            style("not planned").yellow(),
            i.id,
            i.control,
            i.where_(),
            i.finding.needs.join(", ")
        );
    }
    crate::outln!();
    crate::out!("{}", tally.out.text(Run::Apply));
    crate::outln!(
        "Run {} is journaled; undo it with `cis-fix undo {}`.",
        writer.run_id(),
        writer.run_id()
    );
    Ok((tally.out.exit(), tally.out))
}

/// What the rounds of one apply did, for the summary and for planning what waited.
#[derive(Default)]
struct Tally {
    out: render::Outcomes,
    /// Controls with a change verified (or already satisfied) in this run.
    done: std::collections::BTreeSet<String>,
}

impl Tally {
    fn count_answers(&mut self, a: &Approval) {
        self.out.declined += a.declined.len();
        for (_, flags) in &a.skipped {
            self.out.skip(flags);
        }
    }
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
) -> Result<(), Fatal> {
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
    crate::outln!();
    let out = &mut tally.out;
    for (o, item) in outcomes.iter().zip(approved) {
        let (tag, detail) = match &o.result {
            ChangeResult::Verified => {
                out.verified += 1;
                tally.done.insert(item.control.clone());
                (style(Run::Apply.verified()).green(), String::new())
            }
            ChangeResult::AlreadySatisfied => {
                out.already += 1;
                tally.done.insert(item.control.clone());
                (
                    style(Run::Apply.already()).green(),
                    " by an earlier change of this run; nothing written".to_string(),
                )
            }
            ChangeResult::NotVerified(w) => {
                out.not_verified += 1;
                (
                    style(Run::Apply.not_verified()).red().bold(),
                    format!(": {w}"),
                )
            }
            ChangeResult::Failed(w) => {
                out.failed += 1;
                (style("failed").red().bold(), format!(": {w}"))
            }
            ChangeResult::NotStarted => {
                out.not_started += 1;
                (style("not started (interrupted)").yellow(), String::new())
            }
            ChangeResult::Stale(w) => {
                out.stale += 1;
                (style("refused (stale)").red(), format!(": {w}"))
            }
        };
        crate::outln!("  {tag} {}{detail}", o.label);
    }
    crate::security_hub::after_apply(aws, writer.run_id(), &outcomes, approved).await;
    Ok(())
}

/// What the questions decided about a batch.
#[derive(Debug, Default)]
pub(super) struct Approval<'a> {
    pub approved: Vec<&'a Item>,
    /// Answered no (its own question, or "none" for its control).
    pub declined: Vec<&'a Item>,
    /// Not asked under --yes, with the flags that would include it.
    pub skipped: Vec<(&'a Item, String)>,
}

/// Why a change is asked about on its own: destructive, irreversible, in use, or cautioned.
fn asked_separately(i: &Item, params: &Params) -> bool {
    let f = &i.finding;
    f.destructive || !f.reversible || !f.in_use.is_empty() || !f.cautions(params).is_empty()
}

/// The lines right above the batch question: how many changes, and how many of them are
/// asked about one by one after it (destructive, in use, irreversible, with a caution).
pub(super) fn batch_summary(pending: &[&Item], params: &Params) -> String {
    let n = pending.len();
    let count = |p: &dyn Fn(&Item) -> bool| pending.iter().filter(|i| p(i)).count();
    let separate = count(&|i| asked_separately(i, params));
    let global = pending.iter().filter(|i| i.region.is_none()).count();
    let mut regions: Vec<&str> = pending.iter().filter_map(|i| i.region.as_deref()).collect();
    regions.sort();
    regions.dedup();
    let mut s = render::plural(n, "change", "changes");
    match (global, regions.len()) {
        (_, 0) => s.push_str(" (account-wide)"),
        (0, r) => s.push_str(&format!(" in {}", render::plural(r, "region", "regions"))),
        (g, r) => s.push_str(&format!(
            " ({g} account-wide, {} in {})",
            n - g,
            render::plural(r, "region", "regions")
        )),
    }
    if separate == 0 {
        s.push_str(": all reversible, none destructive or in use.");
        return s;
    }
    let mut parts = Vec::new();
    for (k, what) in [
        (count(&|i| i.finding.destructive), "destructive"),
        (count(&|i| !i.finding.in_use.is_empty()), "in use"),
        (count(&|i| !i.finding.reversible), "irreversible"),
        (
            count(&|i| !i.finding.cautions(params).is_empty()),
            "with a caution",
        ),
    ] {
        if k > 0 {
            parts.push(format!("{k} {what}"));
        }
    }
    s.push_str(&format!(
        "; {} of them ({}) {} asked about one by one after this question.",
        separate,
        parts.join(", "),
        if separate == 1 { "is" } else { "are" }
    ));
    s
}

/// One confirmation for the batch (unless `ask_batch` is false: the guide's "apply" already
/// was it), then a separate one for each destructive, irreversible, in-use or cautioned change,
/// which can also answer for the rest of its control or show the diff again. `--yes` answers
/// the batch question only: without prompts, cautioned changes (destructive and high risk,
/// access taken from a role another account trusts or from a break-glass principal) need
/// --allow-destructive, irreversible changes --allow-irreversible and in-use targets
/// --force-in-use; each skip names its flag.
pub(super) fn approve<'a>(
    pending: &[&'a Item],
    prompter: &mut dyn Prompter,
    flags: ApplyFlags,
    account: &str,
    params: &Params,
    ask_batch: bool,
) -> Result<Approval<'a>, Fatal> {
    let fail = |e: crate::prompt::PromptError| match e {
        crate::prompt::PromptError::Interrupted => {
            Fatal::refused("interrupted at the prompt (Ctrl-C); nothing more was changed")
        }
        e => Fatal::usage(e.to_string()),
    };
    let n = pending.len();
    let summary = batch_summary(pending, params);
    if flags.yes {
        crate::outln!("{summary}");
    }
    if ask_batch {
        let separate = pending
            .iter()
            .filter(|i| asked_separately(i, params))
            .count();
        let q = if separate == 0 {
            format!(
                "Apply {} to account {account}?",
                render::plural(n, "change", "changes")
            )
        } else if separate == n {
            format!(
                "Go on to the {} about {} for account {account}?",
                render::plural(n, "question", "questions"),
                if n == 1 { "it" } else { "them, one by one," }
            )
        } else {
            format!(
                "Apply the other {} to account {account}, then ask about the {separate}?",
                render::plural(n - separate, "change", "changes")
            )
        };
        if !prompter.confirm(&format!("{summary}\n{q}")).map_err(fail)? {
            return Err(Fatal::refused("declined; nothing was changed"));
        }
    }
    let mut out = Approval::default();
    let mut for_control: std::collections::HashMap<String, bool> = Default::default();
    for i in pending {
        let f = &i.finding;
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
                why.push(format!(
                    "in use by {}",
                    render::plural(f.in_use.len(), "item", "items")
                ));
                need.push("--force-in-use");
            }
            if !caution.is_empty() && !flags.allow_destructive {
                why.extend(caution.iter().cloned());
                need.push("--allow-destructive");
            }
            if !need.is_empty() {
                crate::outln!(
                    "  {} {} {} on {} [{}]: {}; pass {} to apply it with --yes",
                    style("skipped").yellow(),
                    i.id,
                    i.control,
                    f.target,
                    i.where_(),
                    why.join("; "),
                    need.join(" and ")
                );
                out.skipped.push((i, need.join(" ")));
                continue;
            }
        } else if asked_separately(i, params) {
            if let Some(&yes) = for_control.get(&i.control) {
                if yes {
                    out.approved.push(i);
                } else {
                    out.declined.push(i);
                }
                continue;
            }
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
            loop {
                match prompter.ask_item(&q, &i.id).map_err(fail)? {
                    ItemAnswer::Yes => out.approved.push(i),
                    ItemAnswer::No => out.declined.push(i),
                    ItemAnswer::YesToControl => {
                        for_control.insert(i.control.clone(), true);
                        out.approved.push(i);
                    }
                    ItemAnswer::NoToControl => {
                        for_control.insert(i.control.clone(), false);
                        out.declined.push(i);
                    }
                    ItemAnswer::ShowDiff => {
                        eprint!(
                            "{}",
                            render::items_text(
                                &[*i],
                                &[],
                                &render::TextOptions::for_output(true, false)
                            )
                        );
                        continue;
                    }
                }
                break;
            }
            continue;
        }
        out.approved.push(i);
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
            true,
        )
        .unwrap()
        .approved;
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
            true,
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
            &Params::default(),
            true
        )
        .unwrap()
        .approved
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
                &Params::default(),
                true
            )
            .unwrap()
            .approved
            .len(),
            1
        );
        let mut p = Scripted::new(&[true, false]);
        assert!(approve(
            &[&busy],
            &mut p,
            ApplyFlags::default(),
            "1",
            &Params::default(),
            true
        )
        .unwrap()
        .approved
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
            true,
        )
        .unwrap()
        .approved;
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
            true,
        )
        .unwrap()
        .approved;
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
            true,
        )
        .unwrap()
        .approved;
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
            true,
        )
        .unwrap()
        .approved;
        assert_eq!(got.len(), 4);
        // Without --yes each cautioned change gets its own question, naming why.
        let mut p = Scripted::new(&[true, true, false, false, false]);
        let got = approve(
            &all,
            &mut p,
            ApplyFlags::default(),
            "1",
            &Params::default(),
            true,
        )
        .unwrap()
        .approved;
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
