//! `cis-fix guide`: a guided hardening session. It walks the selected controls section by
//! section; for each it explains what the control is and why it matters, shows the current
//! state and the diff, and asks: apply / skip / adjust / explain more / quit / add an
//! exception (guide_exception.rs). Everything
//! applied goes into one journaled run, so the session can be undone like any apply.
//!
//! Ctrl-C, at a prompt or while a change is applied, ends the session like quitting does:
//! the change in flight finishes, the journal run is finished, the summary is printed, the
//! terminal is restored, and the exit code is 3.

use std::io::IsTerminal;

use console::style;
use dialoguer::{Input, Select};

use super::apply_cmd::{approve, ApplyFlags};
use super::args::{GlobalArgs, SelectionArgs};
use super::context;
use crate::aws::AwsContext;
use crate::catalog::{Benchmark, Catalog, Entry};
use crate::config::{Config, DEFAULT_FILE};
use crate::engine::{self, ChangeResult, Interrupt};
use crate::exit::{Exit, Fatal};
use crate::journal::{Journal, RunWriter};
use crate::plan::{Item, Plan, Status};
use crate::prompt::{
    is_ctrl_c, restore_terminal, ItemAnswer, PromptError, Prompter, TerminalGuard, TerminalPrompter,
};
use crate::remediations::{self as controls, parse_cidr, Params};
use crate::render::{self, Run};

/// What the session came to, for the closing summary: every change counted as `apply` and
/// `undo` count theirs (the same words, the same exit code), and the controls that needed
/// nothing.
#[derive(Default)]
struct Tally {
    out: render::Outcomes,
    compliant: usize,
    not_covered: usize,
}

/// Why a prompt of the session gave no answer.
enum NoAnswer {
    /// Ctrl-C: end the session cleanly.
    Interrupted,
    Failed(Fatal),
}

impl From<Fatal> for NoAnswer {
    fn from(f: Fatal) -> Self {
        NoAnswer::Failed(f)
    }
}

type Answer<T> = Result<T, NoAnswer>;

/// A dialoguer result as an answer of the session.
fn answered<T>(r: dialoguer::Result<T>) -> Answer<T> {
    r.map_err(|e| {
        restore_terminal();
        if is_ctrl_c(&e) {
            NoAnswer::Interrupted
        } else {
            NoAnswer::Failed(Fatal::usage(format!("could not read the answer: {e}")))
        }
    })
}

/// The yes/no questions of `approve`, noting a Ctrl-C on the session's interrupt flag.
struct SessionPrompter<'a>(&'a Interrupt);

impl Prompter for SessionPrompter<'_> {
    fn confirm(&mut self, question: &str) -> Result<bool, PromptError> {
        let r = TerminalPrompter.confirm(question);
        if matches!(r, Err(PromptError::Interrupted)) {
            self.0.raise();
        }
        r
    }

    fn ask_item(&mut self, question: &str, control: &str) -> Result<ItemAnswer, PromptError> {
        let r = TerminalPrompter.ask_item(question, control);
        if matches!(r, Err(PromptError::Interrupted)) {
            self.0.raise();
        }
        r
    }
}

enum Choice {
    Apply,
    Skip,
    Adjust,
    Explain,
    Quit,
    Except,
}

fn ask_choice() -> Answer<Choice> {
    let items = [
        "apply",
        "skip (decline these changes)",
        "adjust parameters",
        "explain more",
        "quit",
        "add an exception (keep it as it is, with a reason, owner and expiry)",
    ];
    let pick = answered(
        Select::new()
            .with_prompt("What now?")
            .items(&items)
            .default(0)
            .interact_on_opt(&console::Term::stderr()),
    )?;
    Ok(match pick {
        Some(0) => Choice::Apply,
        Some(1) => Choice::Skip,
        Some(2) => Choice::Adjust,
        Some(3) => Choice::Explain,
        Some(5) => Choice::Except,
        _ => Choice::Quit,
    })
}

/// A yes/no typed and ended with Enter, as every question of cis-fix.
fn typed_yes_no(question: &str) -> Answer<bool> {
    TerminalPrompter.confirm(question).map_err(|e| match e {
        PromptError::Interrupted => NoAnswer::Interrupted,
        e => NoAnswer::Failed(Fatal::usage(e.to_string())),
    })
}

fn explain(b: Benchmark, e: &Entry, plan: &Plan) {
    println!("\n  {}", style("More about this control").bold());
    println!(
        "  Level {} · {:?} · Security Hub: {}",
        e.level,
        e.assessment,
        if e.security_hub.is_empty() {
            "—".to_string()
        } else {
            e.security_hub.join(", ")
        }
    );
    let ids: Vec<String> = e
        .ids
        .iter()
        .map(|(v, id)| format!("{id} in {}", v.full()))
        .collect();
    println!("  Also known as: {}", ids.join(", "));
    if !e.notes.is_empty() {
        println!("  Notes: {}", e.notes);
    }
    for i in plan.changes() {
        println!("  {} [{}] would call:", i.finding.target, i.where_());
        for c in &i.finding.calls {
            println!("    {} {}", c.action, c.params);
        }
    }
    if let Some(c) = controls::find(&e.slug) {
        println!(
            "  IAM actions: plan {}; apply {}",
            c.read_actions().join(", "),
            c.write_actions().join(", ")
        );
    }
    let _ = b;
    println!();
}

/// Ask once, before the first write, for the account id or alias: a guard against
/// hardening the wrong account.
fn confirm_account(aws: &AwsContext, alias: Option<&str>) -> Answer<bool> {
    let want = match alias {
        Some(a) => format!("the account id ({}) or its alias ({a})", aws.account.id),
        None => format!("the account id ({})", aws.account.id),
    };
    let typed: String = answered(
        Input::new()
            .with_prompt(format!("Before the first change, type {want} to confirm"))
            .allow_empty(true)
            .interact_text_on(&console::Term::stderr()),
    )?;
    let typed = typed.trim();
    Ok(typed == aws.account.id || alias.is_some_and(|a| a == typed))
}

async fn account_alias(aws: &AwsContext) -> Option<String> {
    aws.iam()
        .list_account_aliases()
        .send()
        .await
        .ok()
        .and_then(|o| o.account_aliases().first().cloned())
}

/// The parameters that shape `slug`'s plan, most relevant first.
fn relevant_params(slug: &str) -> &'static [&'static str] {
    match slug {
        "cifs-restricted"
        | "nacl-no-admin-ports-ingress"
        | "sg-no-admin-ports-ipv4"
        | "sg-no-admin-ports-ipv6" => &["trusted_cidrs"],
        "cloudtrail-multi-region" => &[
            "trail_name",
            "trail_region",
            "trail_bucket",
            "trail_log_group",
            "log_retention_days",
        ],
        "cloudtrail-bucket-access-logging" => &["access_log_bucket"],
        "cloudtrail-kms-encryption" => &["kms_key_alias"],
        "config-all-regions" => &["config_bucket"],
        "vpc-flow-logs" => &[
            "flow_log_traffic",
            "flow_log_destination",
            "flow_log_bucket",
            "log_retention_days",
        ],
        "security-contact" => &["security_contact"],
        "iam-user-mfa" => &["mfa_group", "include_caller"],
        "support-role" => &["support_role_name", "support_role_trust"],
        "unused-credentials-disabled"
        | "no-full-admin-policies"
        | "cloudshell-full-access-restricted" => &["include_caller"],
        s if s.starts_with("metric-filter-") => &["alarm_topic", "alarm_email"],
        // Only the parameters the control at hand uses; most use none.
        _ => &[],
    }
}

fn read_line(prompt: &str, initial: &str) -> Answer<String> {
    answered(
        Input::new()
            .with_prompt(prompt)
            .with_initial_text(initial)
            .allow_empty(true)
            .interact_text_on(&console::Term::stderr()),
    )
}

/// Ask for one parameter of this control (straight away when it has only one) and apply it
/// to `params`; a bad value is reported and changes nothing.
fn adjust(slug: &str, params: &mut Params) -> Answer<()> {
    let keys = relevant_params(slug);
    if keys.is_empty() {
        println!("  This control takes no parameters.");
        return Ok(());
    }
    let key = if keys.len() == 1 {
        keys[0]
    } else {
        let pick = answered(
            Select::new()
                .with_prompt("Which parameter?")
                .items(keys)
                .default(0)
                .interact_on_opt(&console::Term::stderr()),
        )?;
        match pick {
            Some(n) => keys[n],
            None => return Ok(()),
        }
    };
    let value: Result<toml::Value, String> = match key {
        "trusted_cidrs" => {
            let typed = read_line(
                "Trusted CIDR ranges that keep admin access (comma-separated, empty for none)",
                &params.trusted_cidrs.join(", "),
            )?;
            typed
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| parse_cidr(p).map(toml::Value::String))
                .collect::<Result<Vec<_>, _>>()
                .map(toml::Value::Array)
        }
        "security_contact" => {
            let c = params.security_contact.clone().unwrap_or_default();
            let mut t = toml::Table::new();
            for (field, now) in [
                ("name", c.name),
                ("title", c.title),
                ("email", c.email),
                ("phone", c.phone),
            ] {
                let typed = read_line(&format!("Security contact {field}"), &now)?;
                t.insert(field.into(), toml::Value::String(typed.trim().to_string()));
            }
            Ok(toml::Value::Table(t))
        }
        "include_caller" => Ok(toml::Value::Boolean(typed_yes_no(
            "Let changes include the principal running cis-fix (it may lock you out)?",
        )?)),
        _ => {
            let now = toml::Table::try_from(&*params)
                .ok()
                .and_then(|t| t.get(key).cloned())
                .map(|v| match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                })
                .unwrap_or_default();
            let typed = read_line(&format!("{key} (empty for the default)"), &now)?;
            if typed.trim().is_empty() {
                let mut t = toml::Table::try_from(&*params).unwrap_or_default();
                t.remove(key);
                t.remove("benchmark");
                match Params::from_table(t) {
                    Ok(p) => {
                        *params = Params {
                            benchmark: params.benchmark,
                            ..p
                        };
                        return Ok(());
                    }
                    Err(e) => Err(e),
                }
            } else {
                controls::parse_set(&format!("{key}={}", typed.trim())).map(|(_, v)| v)
            }
        }
    };
    let result = value.and_then(|v| {
        let mut over = toml::Table::new();
        over.insert(key.to_string(), v);
        params.clone().overlay(&over)
    });
    match result {
        Ok(p) => *params = p,
        Err(e) => println!("  {} {e}; parameters unchanged", style("!").red()),
    }
    Ok(())
}

/// Offer to keep adjusted parameters in cis-fix.toml, showing exactly what is written.
fn offer_to_save(params: &Params, initial: &Params) -> Answer<()> {
    if params == initial {
        return Ok(());
    }
    let existing = Config::load(None).unwrap_or_default();
    let mut text = String::new();
    if let Some(r) = &existing.regions {
        text.push_str(&format!(
            "regions = {}\n",
            match r {
                crate::aws::RegionSpec::All => "\"all\"".to_string(),
                crate::aws::RegionSpec::Home => "\"home\"".to_string(),
                crate::aws::RegionSpec::List(l) => format!("{l:?}"),
            }
        ));
    }
    if let Some(n) = existing.max_rps {
        text.push_str(&format!("max_rps = {n}\n"));
    }
    // Every parameter, not just the adjusted one: the file replaces the old one.
    let settings = Params {
        benchmark: None,
        ..params.clone()
    };
    text.push_str(&toml::to_string(&settings).unwrap_or_default());
    println!("\nThe parameters you adjusted can be saved to {DEFAULT_FILE} so plan and apply reuse them:\n\n{text}");
    let save = typed_yes_no(&format!("Write {DEFAULT_FILE}?"))?;
    if save {
        std::fs::write(DEFAULT_FILE, text)
            .map_err(|e| Fatal::usage(format!("cannot write {DEFAULT_FILE}: {e}")))?;
        println!("Saved {DEFAULT_FILE}.");
    }
    Ok(())
}

/// What the session has done so far; the journal run and the summary are built from it
/// however the session ends.
struct Session {
    params: Params,
    tally: Tally,
    writer: Option<RunWriter>,
    confirmed: bool,
    quit: bool,
    interrupted: bool,
}

/// What the session works with, fixed for its length.
struct Setup<'a> {
    g: &'a GlobalArgs,
    cat: &'a Catalog,
    b: Benchmark,
    entries: &'a [&'a Entry],
    regions: &'a [String],
    aws: &'a AwsContext,
    alias: Option<&'a str>,
    journal: &'a Journal,
    interrupt: &'a Interrupt,
}

pub async fn run(g: &GlobalArgs, sel: &SelectionArgs, params: &Params) -> Result<Exit, Fatal> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Fatal::refused(
            "guide is interactive and needs a terminal; use `cis-fix plan` and `cis-fix apply --yes` in scripts",
        ));
    }
    // From here on Ctrl-C ends the session cleanly instead of killing the process, and the
    // terminal is restored on every way out.
    let interrupt = Interrupt::install();
    let _terminal = TerminalGuard;
    let cat: &Catalog = context::catalog()?;
    let b = sel.benchmark;
    let entries = context::resolve(cat, &sel.selection())?;
    let journal: Journal = context::journal(g)?;
    let _lock = context::lock(
        &journal,
        &format!("cis-fix guide since {}", crate::plan::now_rfc3339()),
    )?;
    // With the account flags: one account, picked from their list.
    let picked;
    let g = match crate::accounts::Selection::from_args(&g.accounts).map_err(Fatal::usage)? {
        Some(accounts) => {
            picked = super::fleet::pick_one(g, accounts).await?;
            &picked
        }
        None => g,
    };
    let aws = context::connect(g).await?;
    let _account_lock = context::account_lock(&aws, "cis-fix guide")?;
    let regions = context::regions(g, &aws, &entries).await?;
    let alias = account_alias(&aws).await;

    println!(
        "{}",
        style("cis-fix guide: a guided hardening session").bold()
    );
    println!(
        "  account   {}{}",
        aws.account.id,
        alias
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    );
    println!("  caller    {}", aws.account.caller_arn);
    println!("  credentials {}", aws.credentials);
    println!(
        "  regions   {}",
        if regions.is_empty() {
            "global controls only".into()
        } else {
            regions.join(", ")
        }
    );
    println!(
        "  benchmark {}{}",
        b,
        sel.level
            .map(|l| format!(", level {l}"))
            .unwrap_or_default()
    );
    println!(
        "  {} controls selected. Nothing changes until you choose apply.\n",
        entries.len()
    );

    let setup = Setup {
        g,
        cat,
        b,
        entries: &entries,
        regions: &regions,
        aws: &aws,
        alias: alias.as_deref(),
        journal: &journal,
        interrupt: &interrupt,
    };
    let mut s = Session {
        params: params.clone(),
        tally: Tally::default(),
        writer: None,
        confirmed: false,
        quit: false,
        interrupted: false,
    };
    let walked = walk(&setup, &mut s).await;
    s.interrupted |= interrupt.raised();
    // However the session ended, its journal run ends too: never "did not finish".
    let stopped = s.quit || s.interrupted || walked.is_err();
    let finished = match s.writer.as_mut() {
        Some(w) => w.finish(stopped).map_err(|e| Fatal {
            exit: Exit::Failed,
            message: format!("{e} (run {})", w.run_id()),
        }),
        None => Ok(()),
    };
    walked?;
    finished?;
    summary(&s);
    if !s.interrupted {
        match offer_to_save(&s.params, params) {
            Ok(()) => {}
            Err(NoAnswer::Interrupted) => s.interrupted = true,
            Err(NoAnswer::Failed(f)) => return Err(f),
        }
    }
    // Declining (skip, or no to a change) exits 4 as a declined apply does; a failure 3.
    let exit = s.tally.out.exit();
    Ok(if s.interrupted {
        exit.worst(Exit::Failed)
    } else {
        exit
    })
}

fn summary(s: &Session) {
    let tally = &s.tally;
    println!();
    print!("{}", tally.out.text(Run::Apply));
    println!(
        "  Controls already compliant: {} · not covered by cis-fix yet: {}",
        tally.compliant, tally.not_covered
    );
    if s.interrupted {
        println!(
            "  Interrupted (Ctrl-C): the session stopped; everything applied so far is journaled."
        );
    } else if s.quit {
        println!("  You quit half-way: everything applied so far is journaled.");
    }
    match &s.writer {
        Some(w) => println!(
            "  Run {} is journaled; undo it with `cis-fix undo {}`.",
            w.run_id(),
            w.run_id()
        ),
        None => println!("  Nothing was changed."),
    }
}

/// Walk the controls until the end, quit or Ctrl-C. An error ends the walk; the caller
/// still finishes the journal run.
async fn walk(x: &Setup<'_>, s: &mut Session) -> Result<(), Fatal> {
    let b = x.b;
    let mut section = String::new();
    'controls: for e in x.entries {
        if x.interrupt.raised() {
            s.interrupted = true;
            return Ok(());
        }
        let id = e.id_in(b).unwrap_or("-");
        let top = id.split('.').next().unwrap_or(id).to_string();
        if top != section {
            let name = x
                .cat
                .info(b)
                .and_then(|i| i.sections.get(&top))
                .cloned()
                .unwrap_or_default();
            println!(
                "{}",
                style(format!("== Section {top}: {name}"))
                    .bold()
                    .underlined()
            );
            section = top;
        }
        if controls::find(&e.slug).is_none() {
            s.tally.not_covered += 1;
            println!(
                "  {} {}  {}: not covered by cis-fix yet",
                style("-").dim(),
                id,
                e.title
            );
            continue;
        }
        let mut plan = plan_one(x, e, &s.params).await;
        let mut show = true;
        loop {
            // A Ctrl-C while the account was read: stop before asking anything.
            if x.interrupt.raised() {
                s.interrupted = true;
                return Ok(());
            }
            let changes: Vec<&Item> = plan.changes().collect();
            if show {
                println!(
                    "\n{} {}  {}",
                    style("▸").cyan().bold(),
                    style(id).bold(),
                    style(&e.title).bold()
                );
                // What CIS asks, why it matters (the risk the control addresses), then how
                // cis-fix goes about it and what the change itself risks.
                let w = render::output_width();
                let para = |label: &str, text: &str| {
                    print!("{}", render::wrap(&format!("{label}: {text}"), w, "  ", 4));
                };
                para("CIS asks", &e.title);
                if !e.rationale.is_empty() {
                    para("Why", &e.rationale);
                }
                para("How cis-fix fixes it", &e.fixable_reason);
                if let Some(c) = controls::find(&e.slug) {
                    let profile = c.description().change_profile;
                    if !profile.is_empty() {
                        para("Risk of the change", profile);
                    }
                }
                for i in &plan.items {
                    let detail = i.finding.status != Status::Compliant;
                    print!("{}", render::item_text(i, detail));
                }
            }
            show = false;
            if changes.is_empty() {
                let has = |st: &[Status]| plan.items.iter().any(|i| st.contains(&i.finding.status));
                // A control that only needs a value the user has not given (1.2's contact):
                // ask for it here, then read the control again with it.
                if has(&[Status::Manual])
                    && relevant_params(&e.slug) == ["security_contact"]
                    && s.params.security_contact.is_none()
                {
                    let q = format!(
                        "{id} needs the security contact's name, title, email and phone. Enter them now?"
                    );
                    match typed_yes_no(&q) {
                        Ok(true) => {
                            match adjust(&e.slug, &mut s.params) {
                                Ok(()) => {}
                                Err(NoAnswer::Interrupted) => {
                                    s.interrupted = true;
                                    return Ok(());
                                }
                                Err(NoAnswer::Failed(f)) => return Err(f),
                            }
                            if s.params.security_contact.is_some() {
                                plan = plan_one(x, e, &s.params).await;
                                show = true;
                                continue;
                            }
                        }
                        Ok(false) => {}
                        Err(NoAnswer::Interrupted) => {
                            s.interrupted = true;
                            return Ok(());
                        }
                        Err(NoAnswer::Failed(f)) => return Err(f),
                    }
                }
                // Manual and undetermined are counted apart, item by item.
                s.tally.out.count_unasked(&plan.items);
                if plan
                    .items
                    .iter()
                    .all(|i| i.finding.status == Status::Compliant)
                {
                    s.tally.compliant += 1;
                }
                continue 'controls;
            }
            // The summary of the batch right above the one question about it: choosing
            // "apply" is the batch's confirmation; only the changes asked about one by one
            // get another question.
            println!("  {}", super::apply_cmd::batch_summary(&changes, &s.params));
            let choice = match ask_choice() {
                Ok(c) => c,
                Err(NoAnswer::Interrupted) => {
                    s.interrupted = true;
                    return Ok(());
                }
                Err(NoAnswer::Failed(f)) => return Err(f),
            };
            match choice {
                Choice::Skip => {
                    // Skipping is the session's "no" to the batch: declined, as in apply.
                    s.tally.out.declined += changes.len();
                    s.tally.out.count_unasked(&plan.items);
                    continue 'controls;
                }
                Choice::Quit => {
                    s.quit = true;
                    return Ok(());
                }
                Choice::Explain => explain(b, e, &plan),
                Choice::Except => match add_exception(
                    x,
                    e,
                    super::guide_exception::target_of(&changes),
                    &mut plan,
                ) {
                    Ok(true) => {
                        s.tally.out.count_unasked(&plan.items);
                        continue 'controls;
                    }
                    Ok(false) => {}
                    Err(NoAnswer::Interrupted) => {
                        s.interrupted = true;
                        return Ok(());
                    }
                    Err(NoAnswer::Failed(f)) => return Err(f),
                },
                Choice::Adjust => {
                    match adjust(&e.slug, &mut s.params) {
                        Ok(()) => {}
                        Err(NoAnswer::Interrupted) => {
                            s.interrupted = true;
                            return Ok(());
                        }
                        Err(NoAnswer::Failed(f)) => return Err(f),
                    }
                    // Only new parameters warrant reading the account again.
                    plan = plan_one(x, e, &s.params).await;
                    show = true;
                }
                Choice::Apply => {
                    if !s.confirmed {
                        match confirm_account(x.aws, x.alias) {
                            Ok(true) => s.confirmed = true,
                            Ok(false) => {
                                println!(
                                    "  {} that is not this account; nothing applied",
                                    style("!").red()
                                );
                                continue;
                            }
                            Err(NoAnswer::Interrupted) => {
                                s.interrupted = true;
                                return Ok(());
                            }
                            Err(NoAnswer::Failed(f)) => return Err(f),
                        }
                    }
                    let answer = match approve(
                        &changes,
                        &mut SessionPrompter(x.interrupt),
                        ApplyFlags::default(),
                        &x.aws.account.id,
                        &s.params,
                        false,
                    ) {
                        Ok(a) => a,
                        Err(_) if x.interrupt.raised() => {
                            s.interrupted = true;
                            return Ok(());
                        }
                        Err(f) if f.exit == Exit::Refused => {
                            s.tally.out.declined += changes.len();
                            s.tally.out.count_unasked(&plan.items);
                            continue 'controls;
                        }
                        Err(f) => return Err(f),
                    };
                    s.tally.out.declined += answer.declined.len();
                    s.tally.out.count_unasked(&plan.items);
                    apply_approved(x, s, &answer.approved).await?;
                    if x.interrupt.raised() {
                        s.interrupted = true;
                        return Ok(());
                    }
                    continue 'controls;
                }
            }
        }
    }
    Ok(())
}

/// A line of text that must not be empty: asked again until it is not.
fn read_required(prompt: &str, initial: &str) -> Answer<String> {
    loop {
        let v = read_line(prompt, initial)?;
        if !v.trim().is_empty() {
            return Ok(v.trim().to_string());
        }
        println!("  {} an answer is needed", style("!").red());
    }
}

/// "Add an exception": ask reason, owner and expiry, show the entry, and after a yes append
/// it to the exceptions file and except the control's failing items for the session. `false`:
/// nothing written (declined, or the file would not read), back to the question.
fn add_exception(
    x: &Setup<'_>,
    e: &Entry,
    target: Option<String>,
    plan: &mut Plan,
) -> Answer<bool> {
    use super::guide_exception as ge;
    let today = crate::exceptions::today();
    let path = ge::file_in_use(x.g.config.as_deref());
    println!(
        "
  An exception keeps {} as it is{}; plan and apply leave it alone until it expires.",
        match &target {
            Some(t) => format!("{t} ({})", e.slug),
            None => format!("every target of {} in account {}", e.slug, x.aws.account.id),
        },
        if target.is_some() {
            format!(" in account {}", x.aws.account.id)
        } else {
            String::new()
        }
    );
    let reason = read_required("Reason (why it stays as it is)", "")?;
    let owner = read_required("Owner (who answers for it)", "")?;
    let expires = loop {
        let v = read_line(
            "Expires (YYYY-MM-DD, or permanent)",
            &ge::default_expiry(today).to_string(),
        )?;
        match ge::parse_expiry(&v, today) {
            Ok(Some(d)) => break Ok(d),
            Ok(None) => break Err(read_required("Why is it permanent", "")?),
            Err(m) => println!("  {} {m}", style("!").red()),
        }
    };
    let answers = ge::Answers {
        reason,
        owner,
        expires,
    };
    let text = ge::entry_text(
        &x.aws.account.id,
        &e.slug,
        target.as_deref(),
        &answers,
        today,
    );
    println!(
        "
  The entry to append to {}:
",
        path.display()
    );
    for l in text.lines() {
        println!("    {l}");
    }
    println!();
    if !typed_yes_no(&format!("Append it to {}?", path.display()))? {
        println!("  Nothing written.");
        return Ok(false);
    }
    match ge::write(&path, &text, x.b, x.cat) {
        Ok(source) => {
            ge::mark(plan, target.as_deref(), &answers, &source);
            let n = plan
                .items
                .iter()
                .filter(|i| i.finding.status == Status::Excepted)
                .count();
            println!("{}", ge::written_line(e, &source, n));
            Ok(true)
        }
        Err(m) => {
            println!("  {} {m}", style("!").red());
            Ok(false)
        }
    }
}

async fn plan_one(x: &Setup<'_>, e: &Entry, params: &Params) -> Plan {
    // A spinner while the control is read (it can take a while over many regions); cleared
    // before anything is printed or asked.
    let progress = engine::Progress::spinner(
        &format!("reading {} {}", e.id_in(x.b).unwrap_or("-"), e.slug),
        x.g.quiet,
    );
    let mut plan = engine::build_plan(
        x.aws,
        x.b,
        &[e],
        x.regions,
        params,
        x.g.concurrency.map(usize::from),
        &progress,
    )
    .await;
    progress.clear();
    plan.mark_cautions();
    plan
}

/// Apply what was approved of one control in the session's journal run, and tally it.
async fn apply_approved(x: &Setup<'_>, s: &mut Session, approved: &[&Item]) -> Result<(), Fatal> {
    if approved.is_empty() {
        return Ok(());
    }
    if s.writer.is_none() {
        s.writer = Some(
            x.journal
                .start_run_in(
                    "apply",
                    &x.aws.account.id,
                    x.b.key(),
                    // Another account of the organization: a run undo can reach it by.
                    x.g.target
                        .as_ref()
                        .and_then(|r| r.group.as_deref().map(|grp| (grp, r.role_arn.as_deref()))),
                )
                .map_err(|e| Fatal::usage(format!("{e}; nothing was changed")))?,
        );
    }
    let w = s.writer.as_mut().expect("run started");
    let outcomes = engine::apply_changes(
        x.aws,
        &s.params,
        approved,
        w,
        x.interrupt,
        &engine::Progress::hidden(),
    )
    .await
    .map_err(|e| Fatal {
        exit: Exit::Failed,
        message: e.to_string(),
    })?;
    // Each outcome in the words apply uses (docs/formats.md), with why when it did not work.
    for o in &outcomes {
        s.tally.out.record(&o.result);
        let (tag, why) = match &o.result {
            ChangeResult::Verified => (style(Run::Apply.verified()).green(), String::new()),
            ChangeResult::AlreadySatisfied => (style(Run::Apply.already()).green(), String::new()),
            ChangeResult::NotVerified(w) => (
                style(Run::Apply.not_verified()).red().bold(),
                format!(": {w}"),
            ),
            ChangeResult::Failed(w) => (style("failed").red().bold(), format!(": {w}")),
            ChangeResult::Stale(w) => (style("refused (stale)").red(), format!(": {w}")),
            ChangeResult::NotStarted => {
                (style("not started (interrupted)").yellow(), String::new())
            }
        };
        println!("  {tag} {}{why}", o.label);
    }
    Ok(())
}
