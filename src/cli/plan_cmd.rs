//! `cis-fix plan`: read-only.

use std::path::Path;

use super::args::{GlobalArgs, OutputFormat, SelectionArgs};
use super::context;
use crate::engine;
use crate::exit::{Exit, Fatal};
use crate::plan::Plan;
use crate::remediations::Params;
use crate::{render, saved_plan};

/// Resolve the selection, connect, and build the plan: shared by `plan` and `apply`.
pub async fn make_plan(
    g: &GlobalArgs,
    sel: &SelectionArgs,
    params: &Params,
) -> Result<(std::sync::Arc<crate::aws::AwsContext>, Plan), Fatal> {
    let cat = context::catalog()?;
    let mut entries = context::resolve(cat, &sel.selection())?;
    let aws = context::connect_for(g, engine::needs_regions(&entries)).await?;
    params
        .check_for_account(&aws.account.id)
        .map_err(|e| Fatal::usage(format!("invalid parameter: {e}")))?;
    let mut regions = context::regions(g, &aws, &entries).await?;
    // --from-security-hub: only the controls Security Hub holds FAILED, where it does.
    let hub = match crate::security_hub::input_enabled() {
        false => None,
        true => Some(crate::security_hub::narrow(&aws, cat, &mut entries, &mut regions).await?),
    };
    let progress = engine::Progress::for_terminal("reading the account", g.quiet);
    let mut plan = engine::build_plan(
        &aws,
        sel.benchmark,
        &entries,
        &regions,
        params,
        g.concurrency.map(usize::from),
        &progress,
    )
    .await;
    progress.clear();
    if let Some(hub) = &hub {
        crate::security_hub::keep_hub_regions(&mut plan, hub);
    }
    plan.mark_cautions();
    Ok((aws, plan))
}

/// The plan text with where the credentials came from right under its header line, so
/// environment keys winning over an intended profile cannot go unnoticed.
fn with_credentials(text: &str, source: &str) -> String {
    match text.split_once("\n\n") {
        Some((header, rest)) => format!("{header}\n  credentials: {source}\n\n{rest}"),
        None => text.to_string(),
    }
}

/// How `plan` shows its result.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub format: OutputFormat,
    pub detailed_exitcode: bool,
    pub show_compliant: bool,
    /// No folding, every unchanged field (`--expand`).
    pub expand: bool,
    /// Import the failures into Security Hub (`--import-to-security-hub`).
    pub import_to_security_hub: bool,
}

/// The plan as `view` shows it.
pub fn shown(plan: &Plan, aws: &crate::aws::AwsContext, view: &View, quiet: bool) -> String {
    match view.format {
        OutputFormat::Json => {
            let mut text = Vec::new();
            let _ = saved_plan::write_to(plan, &mut text);
            String::from_utf8(text).unwrap_or_default()
        }
        OutputFormat::Markdown => render::plan_markdown(plan),
        OutputFormat::Asff => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::plan_asff(plan, &aws.home_region))
                .unwrap_or_default()
        ),
        OutputFormat::Text if quiet => format!("{}\n", render::summary_line(plan)),
        OutputFormat::Text => with_credentials(
            &render::plan_text(
                plan,
                &render::TextOptions::for_output(view.expand, view.show_compliant),
            ),
            &aws.credentials.to_string(),
        ),
    }
}

pub async fn run(
    g: &GlobalArgs,
    sel: &SelectionArgs,
    params: &Params,
    out: Option<&Path>,
    view: View,
) -> Result<Exit, Fatal> {
    if let Some(accounts) =
        crate::accounts::Selection::from_args(&g.accounts).map_err(Fatal::usage)?
    {
        if view.import_to_security_hub {
            return Err(Fatal::usage(
                "--import-to-security-hub works on one account (the credentials' own): run it per account, without --org/--ou/--accounts",
            ));
        }
        return super::fleet::plan(g, accounts, sel, params, out, view).await;
    }
    let (aws, plan) = make_plan(g, sel, params).await?;
    if view.format == OutputFormat::Json && !crate::output::capturing() {
        // Streamed: a plan of thousands of items is not built as one string first.
        let _ = saved_plan::write_to(&plan, std::io::BufWriter::new(std::io::stdout().lock()));
    } else {
        crate::out!("{}", shown(&plan, &aws, &view, g.quiet));
    }
    if let Some(path) = out {
        saved_plan::save(path, &plan).map_err(|e| Fatal::usage(e.to_string()))?;
        if view.format == OutputFormat::Text {
            crate::outln!(
                "Saved to {}: apply exactly this with `cis-fix apply {}`.",
                path.display(),
                path.display()
            );
        }
    }
    let hub_failed = view.import_to_security_hub
        && !crate::security_hub::import_plan(&plan, &aws, view.format).await;
    // Expired exceptions are warnings in the plan; --strict-exceptions makes them an error.
    super::strict_exceptions_check(&plan)?;
    let c = plan.counts();
    Ok(if c.error > 0 || hub_failed {
        Exit::Failed
    } else if view.detailed_exitcode && (c.change > 0 || c.blocked > 0) {
        Exit::Pending
    } else {
        Exit::Ok
    })
}
