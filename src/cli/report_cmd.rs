//! `cis-fix report`: read a plan (live, or a saved file) and, when asked, journal runs, and
//! write the evidence report. Read-only: it plans like `plan` and reads the journal.
//! Bad flags, unknown or corrupt runs fail with one line before any AWS call.

use std::path::Path;

use super::args::{GlobalArgs, ParamArgs, ReportFormat, SelectionArgs};
use super::{context, plan_cmd};
use crate::config::Config;
use crate::exit::{Exit, Fatal};
use crate::journal::{Journal, Run};
use crate::plan::{now_rfc3339, Plan};
use crate::report::{self, PlanSource};
use crate::saved_plan;

/// Which journal runs to include. Empty: none.
pub struct Runs {
    pub ids: Vec<String>,
    pub since: Option<String>,
    pub all: bool,
}

impl Runs {
    fn any(&self) -> bool {
        !self.ids.is_empty() || self.since.is_some() || self.all
    }
}

pub struct Request<'a> {
    pub plan_file: Option<&'a Path>,
    pub runs: Runs,
    pub format: Option<ReportFormat>,
    pub out: Option<&'a Path>,
}

/// `--since`: a date (midnight UTC) or an RFC 3339 time.
fn parse_since(s: &str) -> Result<time::OffsetDateTime, Fatal> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            Fatal::usage(format!(
                "--since '{s}' is not a date: use YYYY-MM-DD or an RFC 3339 time (2026-11-30T09:00:00Z)"
            ))
        })
}

/// The format asked for, else the output file's extension, else HTML.
fn format_for(format: Option<ReportFormat>, out: Option<&Path>) -> Result<ReportFormat, Fatal> {
    if let Some(f) = format {
        return Ok(f);
    }
    let ext = out
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    Ok(match ext.as_deref() {
        Some("csv") => ReportFormat::Csv,
        Some("json") => ReportFormat::Json,
        Some("html" | "htm") | None => ReportFormat::Html,
        Some(other) => {
            return Err(Fatal::usage(format!(
                "cannot tell the report format from '.{other}': pass --format html, csv or json"
            )))
        }
    })
}

/// (the runs asked for, every readable run). Nothing is read when no run was asked for.
fn read_runs(g: &GlobalArgs, which: &Runs) -> Result<(Vec<Run>, Vec<Run>), Fatal> {
    if !which.any() {
        return Ok((Vec::new(), Vec::new()));
    }
    let since = which.since.as_deref().map(parse_since).transpose()?;
    let journal: Journal = context::journal(g)?;
    let listed = journal.runs().map_err(|e| Fatal::usage(e.to_string()))?;
    let mut all = Vec::new();
    let mut broken = Vec::new();
    for r in listed {
        match r {
            Ok(r) => all.push(r),
            Err(e) => broken.push(e),
        }
    }
    let chosen: Vec<Run> = if !which.ids.is_empty() {
        let mut v = Vec::new();
        for id in &which.ids {
            let r = journal.load(id).map_err(|e| Fatal::usage(e.to_string()))?;
            if !v.iter().any(|x: &Run| x.run_id == r.run_id) {
                v.push(r);
            }
        }
        v.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        v
    } else {
        // Evidence must not silently leave a run out: a corrupt run in the range stops here.
        if let Some(e) = broken.into_iter().next() {
            return Err(Fatal::usage(e.to_string()));
        }
        all.iter()
            .filter(|r| match since {
                None => true,
                Some(t) => time::OffsetDateTime::parse(
                    &r.started_at,
                    &time::format_description::well_known::Rfc3339,
                )
                .is_ok_and(|s| s >= t),
            })
            .cloned()
            .collect()
    };
    Ok((chosen, all))
}

/// Runs of other accounts: an error when named with --run, left out otherwise.
fn for_account(plan: &Plan, which: &Runs, runs: Vec<Run>) -> Result<Vec<Run>, Fatal> {
    let (mine, other): (Vec<Run>, Vec<Run>) = runs
        .into_iter()
        .partition(|r| r.account_id == plan.account.id);
    if let Some(r) = other.first() {
        if !which.ids.is_empty() {
            return Err(Fatal::usage(format!(
                "run {} changed account {}, but the plan is for account {}",
                r.run_id, r.account_id, plan.account.id
            )));
        }
        tracing::info!(
            left_out = other.len(),
            "journal runs of other accounts left out"
        );
    }
    Ok(mine)
}

pub async fn run(
    g: &GlobalArgs,
    cfg: &Config,
    sel: &SelectionArgs,
    params: &ParamArgs,
    req: Request<'_>,
) -> Result<Exit, Fatal> {
    let format = format_for(req.format, req.out)?;
    if req.plan_file.is_some() && (sel.is_narrowed() || !params.is_empty()) {
        return Err(Fatal::usage(
            "a saved plan keeps the selection and parameters it was made with: drop --control/--section/--level/--set, or report on a live plan without --plan",
        ));
    }
    let params = params.params_with(cfg)?;
    let (runs, all) = read_runs(g, &req.runs)?;
    let (plan, source) = match req.plan_file {
        Some(p) => (
            saved_plan::load(p).map_err(|e| Fatal::usage(e.to_string()))?,
            PlanSource::File,
        ),
        None => (
            plan_cmd::make_plan(g, sel, &params).await?.1,
            PlanSource::Live,
        ),
    };
    let runs = for_account(&plan, &req.runs, runs)?;
    let cat = context::catalog()?;
    let rep = report::build(cat, &plan, source, &runs, &all, now_rfc3339());
    let text = match format {
        ReportFormat::Html => report::html::render(&rep),
        ReportFormat::Json => serde_json::to_string_pretty(&rep).unwrap_or_default() + "\n",
        ReportFormat::Csv => report::csv::render(&rep)
            .map_err(|e| Fatal::usage(format!("cannot write the CSV report: {e}")))?,
    };
    match req.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| {
                Fatal::usage(format!("cannot write report {}: {e}", path.display()))
            })?;
            if !g.quiet {
                let o = &rep.overall;
                println!(
                    "Wrote {}: {} items, {} of {} automated checks pass{}.",
                    path.display(),
                    rep.items.len(),
                    o.compliant,
                    o.scored,
                    if rep.runs.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", {}",
                            crate::render::plural(rep.runs.len(), "journal run", "journal runs")
                        )
                    }
                );
            }
        }
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}

/// `report merge`: the shards' multi-account plans as one.
pub fn merge(files: &[std::path::PathBuf], out: Option<&Path>) -> Result<Exit, Fatal> {
    let doc = crate::org_plan::merge(files).map_err(|e| Fatal::usage(e.to_string()))?;
    match out {
        Some(p) => {
            crate::org_plan::write_merged(p, &doc).map_err(|e| Fatal::usage(e.to_string()))?;
            let n = doc["accounts"].as_array().map_or(0, Vec::len);
            eprintln!(
                "Merged {} into {} ({}).",
                crate::render::plural(files.len(), "plan", "plans"),
                p.display(),
                crate::render::plural(n, "account", "accounts")
            );
        }
        None => println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default()),
    }
    Ok(Exit::Ok)
}
