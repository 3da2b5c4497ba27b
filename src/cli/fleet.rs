//! Runs over several accounts (`--org`, `--ou`, `--accounts`; docs/organizations.md).
//!
//! The caller connects once; each account is then reached by its role (or with the caller's
//! own credentials when it is the caller's account) and gets the same single-account plan,
//! apply or undo as always, with its own budgets, journal run and lock. Accounts are worked
//! on `--account-concurrency` at once; each one's report is collected and printed whole when
//! it finishes, so their lines never interleave, and memory holds the reports of the accounts
//! in flight, not of all of them. An interactive apply or undo goes one account at a time, so
//! every question sits under its own account's diff. One account failing is reported on its
//! line; the others go on; the exit code is the worst across accounts.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use console::style;
use futures::StreamExt;

use super::apply_cmd::{self, ApplyFlags, Source};
use super::args::{GlobalArgs, OutputFormat, SelectionArgs};
use super::plan_cmd::{self, View};
use super::{context, undo_cmd};
use crate::accounts::{Reach, Selection};
use crate::aws::organization::OrgAccount;
use crate::aws::AwsContext;
use crate::exit::{Exit, Fatal};
use crate::journal::Run;
use crate::org_plan::{self, AccountPlan};
use crate::plan::Counts;
use crate::remediations::Params;
use crate::render;

/// The caller and the accounts of a multi-account run.
struct Fleet {
    caller: Arc<AwsContext>,
    sel: Selection,
    members: Vec<OrgAccount>,
    /// Names this run in each account's session name (and the journal, for apply).
    run: String,
}

impl Fleet {
    /// Connect the caller and list the accounts.
    async fn open(g: &GlobalArgs, sel: Selection, command: &str) -> Result<Fleet, Fatal> {
        let caller = context::connect_for(g, true).await?;
        let members = sel.resolve(&caller).await.map_err(|e| {
            Fatal::usage(format!(
                "could not list the organization's accounts ({}): {e}",
                caller.account.caller_arn
            ))
        })?;
        if members.is_empty() && sel.shard.is_none() {
            return Err(Fatal::usage(format!(
                "no ACTIVE account matches the account flags (is {} in an organization, and are the OUs and exclusions right?)",
                caller.account.id
            )));
        }
        Ok(Fleet {
            caller,
            sel,
            members,
            run: format!("{command}-{}", crate::journal::new_run_id()),
        })
    }

    fn reaches(&self, group: Option<&str>) -> Vec<Reach> {
        self.members
            .iter()
            .map(|m| {
                let mut r = self.sel.reach(&self.caller, m, &self.run);
                r.group = group.map(str::to_string);
                r
            })
            .collect()
    }

    /// The line under which the accounts' reports follow.
    fn header(&self, what: &str) -> String {
        let shard = match self.sel.shard {
            Some(s) => format!(", shard {}/{}", s.k, s.n),
            None => String::new(),
        };
        format!(
            "{} {} over {} as {}{shard}; role {}{}\n",
            style(format!("cis-fix {what}")).bold(),
            render::plural(self.members.len(), "account", "accounts"),
            self.caller.account.id,
            self.caller.account.caller_arn,
            self.sel.role_path,
            self.sel.role_name,
        )
    }
}

/// Run `f` for every account, `at_once` at a time, printing each account's report (under
/// its header, when `banners`) as it finishes (its `CIS_FIX_STATS` figures summed then). With `at_once == 1` nothing is collected: the
/// account's output (and its questions) go straight to the terminal, in account order.
async fn each<T, F, Fut>(
    g: &GlobalArgs,
    reaches: Vec<Reach>,
    at_once: usize,
    banners: bool,
    f: F,
) -> Vec<(Reach, T)>
where
    F: Fn(GlobalArgs, Reach) -> Fut,
    Fut: Future<Output = T>,
{
    let banner = |r: &Reach| match banners {
        true => format!(
            "\n{}\n",
            style(format!("━━ account {} ━━", r.label())).bold()
        ),
        false => String::new(),
    };
    if at_once <= 1 {
        let mut out = Vec::new();
        for r in reaches {
            crate::out!("{}", banner(&r));
            let mut g2 = g.clone();
            g2.target = Some(r.clone());
            let t = f(g2, r.clone()).await;
            super::stats::finished(&r.account);
            out.push((r, t));
        }
        return out;
    }
    let mut done: Vec<(Reach, T)> = futures::stream::iter(reaches)
        .map(|r| {
            let mut g2 = g.clone();
            g2.target = Some(r.clone());
            let fut = f(g2, r.clone());
            async move {
                let (t, text) = crate::output::capture(fut).await;
                super::stats::finished(&r.account);
                crate::out!("{}{text}", banner(&r));
                (r, t)
            }
        })
        .buffer_unordered(at_once)
        .collect()
        .await;
    done.sort_by(|a, b| a.0.account.cmp(&b.0.account));
    done
}

/// One line of the closing table.
struct Row {
    label: String,
    cells: Result<Vec<usize>, String>,
}

/// The closing table: one line per account, then the totals.
fn table(title: &str, columns: &[&str], rows: &[Row]) -> String {
    let name_w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .chain(["total".len()])
        .max()
        .unwrap_or(5)
        .min(40);
    let mut s = format!("\n{}\n  {:name_w$}", style(title).bold(), "account");
    for c in columns {
        s.push_str(&format!("  {c:>w$}", w = c.len().max(5)));
    }
    s.push('\n');
    let mut totals = vec![0usize; columns.len()];
    let mut failed = 0;
    for r in rows {
        let label: String = r.label.chars().take(name_w).collect();
        s.push_str(&format!("  {label:name_w$}"));
        match &r.cells {
            Ok(cells) => {
                for (i, (c, n)) in columns.iter().zip(cells).enumerate() {
                    totals[i] += n;
                    s.push_str(&format!("  {n:>w$}", w = c.len().max(5)));
                }
            }
            Err(e) => {
                failed += 1;
                s.push_str(&format!("  {} {e}", style("error:").red().bold()));
            }
        }
        s.push('\n');
    }
    s.push_str(&format!("  {:name_w$}", "total"));
    for (c, n) in columns.iter().zip(&totals) {
        s.push_str(&format!("  {n:>w$}", w = c.len().max(5)));
    }
    s.push('\n');
    s.push_str(&format!(
        "{} · {}\n",
        render::plural(rows.len(), "account", "accounts"),
        if failed == 0 {
            "none failed".to_string()
        } else {
            format!("{failed} failed (their lines above)")
        }
    ));
    s
}

const PLAN_COLUMNS: &[&str] = &["to change", "compliant", "manual", "undetermined", "errors"];

fn plan_cells(c: &Counts) -> Vec<usize> {
    vec![
        c.change + c.blocked,
        c.compliant,
        c.manual,
        c.unknown,
        c.error,
    ]
}

/// An account's line of an apply or undo table, and its part in the run's exit: its own exit
/// when it ran (with `cells` of its counts), else its failure (a refusal stays a refusal,
/// anything else failed the account).
fn account_row(exit: &mut Exit, r: &Reach, res: Result<(Exit, Vec<usize>), Fatal>) -> Row {
    let cells = match res {
        Ok((e, cells)) => {
            *exit = exit.worst(e);
            Ok(cells)
        }
        Err(f) => {
            *exit = exit.worst(if f.exit == Exit::Refused {
                Exit::Refused
            } else {
                Exit::Failed
            });
            Err(f.message)
        }
    };
    Row {
        label: r.label(),
        cells,
    }
}

/// `plan` over several accounts.
pub async fn plan(
    g: &GlobalArgs,
    accounts: Selection,
    sel: &SelectionArgs,
    params: &Params,
    out: Option<&Path>,
    view: View,
) -> Result<Exit, Fatal> {
    let fleet = Fleet::open(g, accounts, "plan").await?;
    let text_like = matches!(view.format, OutputFormat::Text | OutputFormat::Markdown);
    // Each account's plan in full, unless only the closing table is asked for (--quiet).
    let each_plan = text_like && !g.quiet;
    if each_plan {
        crate::out!("{}", fleet.header("plan"));
    }
    // The plans themselves are kept only when a document of all of them is asked for.
    let keep = out.is_some() || !text_like;
    let at_once = fleet.sel.concurrency;
    let results = each(
        g,
        fleet.reaches(None),
        at_once,
        each_plan,
        |g2, _| async move {
            match plan_cmd::make_plan(&g2, sel, params).await {
                Ok((aws, plan)) => {
                    if each_plan {
                        crate::out!("{}", plan_cmd::shown(&plan, &aws, &view, false));
                    }
                    let strict = super::strict_exceptions_check(&plan).err();
                    let counts = plan.counts();
                    let kept = keep.then_some(plan);
                    Ok((counts, kept, strict))
                }
                Err(f) => {
                    if each_plan {
                        crate::outln!("  {} {}", style("error:").red().bold(), f.message);
                    }
                    Err(f)
                }
            }
        },
    )
    .await;
    let mut exit = Exit::Ok;
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for (r, res) in results {
        let (cells, plan) = match res {
            Ok((counts, kept, strict)) => {
                if counts.error > 0 {
                    exit = exit.worst(Exit::Failed);
                } else if view.detailed_exitcode && counts.change + counts.blocked > 0 {
                    exit = exit.worst(Exit::Pending);
                }
                if let Some(f) = strict {
                    exit = exit.worst(f.exit);
                }
                (Ok(plan_cells(&counts)), kept.map(Ok))
            }
            Err(f) => {
                exit = exit.worst(Exit::Failed);
                (Err(f.message.clone()), Some(Err(f.message)))
            }
        };
        rows.push(Row {
            label: r.label(),
            cells,
        });
        if let Some(plan) = plan {
            docs.push(AccountPlan {
                account: r.account.clone(),
                name: r.name.clone(),
                role_arn: r.role_arn.clone(),
                plan,
            });
        }
    }
    match view.format {
        OutputFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&org_plan::to_json(&docs)).unwrap_or_default()
        ),
        OutputFormat::Asff => {
            let all: Vec<serde_json::Value> = docs
                .iter()
                .filter_map(|d| d.plan.as_ref().ok())
                .flat_map(|p| match render::plan_asff(p, &fleet.caller.home_region) {
                    serde_json::Value::Array(v) => v,
                    other => vec![other],
                })
                .collect();
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::Value::Array(all)).unwrap_or_default()
            );
        }
        _ => crate::out!("{}", table("Accounts", PLAN_COLUMNS, &rows)),
    }
    if let Some(path) = out {
        // `{shard}` in the name is the worker's shard index (`all` without --shard), so the
        // workers of a job runner can share one command line.
        let named = path.display().to_string().replace(
            "{shard}",
            &fleet
                .sel
                .shard
                .map_or("all".to_string(), |s| s.k.to_string()),
        );
        let path = Path::new(&named);
        org_plan::save(path, &docs).map_err(|e| Fatal::usage(e.to_string()))?;
        if view.format == OutputFormat::Text {
            crate::outln!(
                "Saved to {}: apply exactly this with `cis-fix apply {}` (each account's part is checked on its own).",
                path.display(),
                path.display()
            );
        }
    }
    Ok(exit)
}

const APPLY_COLUMNS: &[&str] = &["verified", "failed", "declined", "skipped", "stale"];

fn apply_cells(o: &render::Outcomes) -> Vec<usize> {
    vec![
        o.verified + o.already,
        o.failed + o.not_verified + o.not_started,
        o.declined,
        o.skipped,
        o.stale,
    ]
}

/// `apply` over several accounts: live (the account flags), or a saved multi-account plan.
pub async fn apply(
    g: &GlobalArgs,
    plan_file: Option<&Path>,
    accounts: Option<Selection>,
    sel: &SelectionArgs,
    params: &Params,
    flags: ApplyFlags,
) -> Result<Exit, Fatal> {
    if !flags.yes && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Fatal::refused(
            "apply needs confirmation but there is no terminal: review with `cis-fix plan`, then re-run with --yes",
        ));
    }
    // A saved plan says which accounts; the flags may only narrow it to some of them.
    let saved = match plan_file {
        Some(p) => {
            if sel.is_narrowed() {
                return Err(Fatal::usage(
                    "a saved plan is applied as a whole: drop --control/--section/--level, or make a new plan with them",
                ));
            }
            Some(org_plan::load(p).map_err(|e| Fatal::usage(e.to_string()))?)
        }
        None => None,
    };
    let accounts = match (accounts, &saved) {
        (Some(a), _) => a,
        (None, Some(parts)) => {
            let ids: Vec<String> = parts.iter().map(|p| p.account.clone()).collect();
            Selection::from_args(&crate::cli::AccountArgs {
                accounts: Some(ids.join(",")),
                role_name: g.accounts.role_name.clone(),
                role_path: g.accounts.role_path.clone(),
                external_id: g.accounts.external_id.clone(),
                account_concurrency: g.accounts.account_concurrency,
                ..Default::default()
            })
            .map_err(Fatal::usage)?
            .ok_or_else(|| Fatal::usage("the plan file lists no account"))?
        }
        (None, None) => unreachable!("apply fans out only with accounts or a plan file"),
    };
    let journal = context::journal(g)?;
    // One state lock for the whole run; each account's own lock is taken by its apply.
    let _lock = context::lock(
        &journal,
        &format!(
            "cis-fix apply (accounts) since {}",
            crate::plan::now_rfc3339()
        ),
    )?;
    let mut fleet = Fleet::open(g, accounts, "apply").await?;
    if let Some(parts) = &saved {
        // Only the file's accounts, reached the way the file says (its roles).
        fleet
            .members
            .retain(|m| parts.iter().any(|p| p.account == m.id));
        for m in &mut fleet.members {
            if let Some(p) = parts.iter().find(|p| p.account == m.id) {
                m.name = p.name.clone();
            }
        }
    }
    let group = fleet.run.trim_start_matches("apply-").to_string();
    if !g.quiet {
        crate::out!("{}", fleet.header("apply"));
    }
    let at_once = if flags.yes { fleet.sel.concurrency } else { 1 };
    let file_label = plan_file.map(|p| p.display().to_string());
    let saved = &saved;
    let results = each(g, fleet.reaches(Some(&group)), at_once, true, |g2, r| {
        let file_label = file_label.clone();
        async move {
            let source = match (saved, file_label) {
                (Some(parts), Some(from)) => {
                    match parts
                        .iter()
                        .find(|p| p.account == r.account)
                        .map(|p| &p.plan)
                    {
                        Some(Ok(plan)) => Source::Loaded {
                            plan: Box::new(plan.clone()),
                            from: format!("{from} (account {})", r.account),
                        },
                        Some(Err(e)) => {
                            return Err(Fatal {
                                exit: Exit::Refused,
                                message: e.clone(),
                            })
                        }
                        None => Source::Live,
                    }
                }
                _ => Source::Live,
            };
            let res = apply_cmd::run_one(&g2, source, sel, params, flags).await;
            if let Err(f) = &res {
                crate::outln!("  {} {}", style("error:").red().bold(), f.message);
            }
            res
        }
    })
    .await;
    let mut exit = Exit::Ok;
    let mut rows = Vec::new();
    let mut applied = false;
    for (r, res) in results {
        let res = res.map(|(e, o)| {
            applied |= o.verified + o.not_verified + o.failed > 0;
            (e, apply_cells(&o))
        });
        rows.push(account_row(&mut exit, &r, res));
    }
    crate::out!("{}", table("Accounts", APPLY_COLUMNS, &rows));
    if applied {
        crate::outln!(
            "Run {group} is journaled, one part per account; undo it with `cis-fix undo {group}` (--accounts IDS for some of them)."
        );
    }
    Ok(exit)
}

// Per account, its changes: undone (restored, or already as they were), failed (or not
// verified, or not started), refused (stale: moved since the apply).
const UNDO_COLUMNS: &[&str] = &["undone", "failed", "refused"];

fn undo_cells(o: &render::Outcomes) -> Vec<usize> {
    vec![
        o.verified + o.already,
        o.failed + o.not_verified + o.not_started,
        o.stale,
    ]
}

/// `undo GROUP`: every account's part of a multi-account apply (or those of `--accounts`).
pub async fn undo(
    g: &GlobalArgs,
    group: &str,
    parts: Vec<Run>,
    only: &[u32],
    yes: bool,
    force: bool,
) -> Result<Exit, Fatal> {
    if !yes && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Fatal::refused(
            "undo needs confirmation but there is no terminal: re-run with --yes",
        ));
    }
    if !only.is_empty() {
        return Err(Fatal::usage(format!(
            "--change numbers belong to one account's part: `cis-fix undo {group}.ACCOUNT --change N`"
        )));
    }
    let narrow = match &g.accounts.accounts {
        Some(v) => crate::accounts::parse_ids("--accounts", v).map_err(Fatal::usage)?,
        None => Vec::new(),
    };
    for id in &narrow {
        if !parts.iter().any(|p| &p.account_id == id) {
            return Err(Fatal::usage(format!(
                "run {group} did not change account {id} (its accounts: {})",
                parts
                    .iter()
                    .map(|p| p.account_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let parts: Vec<Run> = parts
        .into_iter()
        .filter(|p| narrow.is_empty() || narrow.contains(&p.account_id))
        .collect();
    let journal = context::journal(g)?;
    let _lock = context::lock(
        &journal,
        &format!(
            "cis-fix undo (accounts) since {}",
            crate::plan::now_rfc3339()
        ),
    )?;
    let caller = context::connect(g).await?;
    let run = format!("undo-{}", crate::journal::new_run_id());
    let reaches: Vec<Reach> = parts
        .iter()
        .map(|p| Reach::for_journal_run(&caller, p, &g.accounts, &run))
        .collect();
    if !g.quiet {
        crate::outln!(
            "{} run {group}: {}\n",
            style("cis-fix undo").bold(),
            render::plural(reaches.len(), "account", "accounts")
        );
    }
    let at_once = if yes {
        crate::accounts::concurrency(&g.accounts)
    } else {
        1
    };
    let results = each(g, reaches, at_once, true, |g2, r| async move {
        let id = format!("{group}.{}", r.account);
        let res = undo_cmd::run_one(&g2, Some(&id), &[], yes, force).await;
        if let Err(f) = &res {
            crate::outln!("  {} {}", style("error:").red().bold(), f.message);
        }
        res
    })
    .await;
    let mut exit = Exit::Ok;
    let mut rows = Vec::new();
    for (r, res) in results {
        let res = res.map(|(e, o)| (e, undo_cells(&o)));
        rows.push(account_row(&mut exit, &r, res));
    }
    crate::out!("{}", table("Accounts", UNDO_COLUMNS, &rows));
    Ok(exit)
}

/// `guide` over the account flags: one account at a time, picked from the list (the only one
/// when the flags name one). Returns the flags with that account as the target.
pub async fn pick_one(g: &GlobalArgs, accounts: Selection) -> Result<GlobalArgs, Fatal> {
    let fleet = Fleet::open(g, accounts, "guide").await?;
    let reaches = fleet.reaches(None);
    let chosen = match reaches.len() {
        0 => return Err(Fatal::usage("the account flags select no account")),
        1 => 0,
        _ => {
            let labels: Vec<String> = reaches.iter().map(Reach::label).collect();
            match dialoguer::Select::with_theme(&dialoguer::theme::ColorfulTheme::default())
                .with_prompt(format!(
                    "The guide works on one account at a time; which of these {}?",
                    labels.len()
                ))
                .items(&labels)
                .default(0)
                .interact_opt()
            {
                Ok(Some(i)) => i,
                Ok(None) => return Err(Fatal::refused("no account chosen; nothing was changed")),
                Err(e) if crate::prompt::is_ctrl_c(&e) => {
                    return Err(Fatal::refused("no account chosen; nothing was changed"))
                }
                Err(e) => return Err(Fatal::usage(e.to_string())),
            }
        }
    };
    let mut g2 = g.clone();
    g2.target = reaches.into_iter().nth(chosen).map(|mut r| {
        // Its journal run is GROUP.ACCOUNT with the role, so `undo GROUP` reaches it again.
        r.group = Some(crate::journal::new_run_id());
        r
    });
    Ok(g2)
}
