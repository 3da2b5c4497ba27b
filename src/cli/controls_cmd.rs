//! `cis-fix controls`: the catalog in one benchmark's numbering, with what cis-fix does.

use console::style;
use serde_json::json;

use super::args::SelectionArgs;
use super::context;
use crate::catalog::{Assessment, Entry, Fixable};
use crate::exit::{Exit, Fatal};
use crate::remediations::{self as controls, Kind};

/// What cis-fix does about a control, and why.
pub fn handling(e: &Entry) -> (&'static str, String) {
    match controls::find(&e.slug).map(|c| c.kind()) {
        Some(Kind::Fix) => ("fixes", e.fixable_reason.clone()),
        Some(Kind::CheckOnly) => ("checks", e.fixable_reason.clone()),
        None => (
            "not yet",
            format!(
                "not covered yet; by API: {}. {}",
                match e.fixable {
                    Fixable::Yes => "yes",
                    Fixable::Partly => "partly",
                    Fixable::No => "no",
                },
                e.fixable_reason
            ),
        ),
    }
}

pub fn run(sel: &SelectionArgs, as_json: bool) -> Result<Exit, Fatal> {
    let cat = context::catalog()?;
    let b = sel.benchmark;
    let entries = context::resolve(cat, &sel.selection())?;
    if as_json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                let (does, why) = handling(e);
                json!({
                    "id": e.id_in(b),
                    "slug": e.slug,
                    "title": e.title,
                    "level": e.level,
                    "assessment": e.assessment,
                    "fixable_by_api": e.fixable,
                    "cis_fix": does,
                    "why": why,
                    "security_hub": e.security_hub,
                    "ids": e.ids,
                })
            })
            .collect();
        let doc = json!({ "benchmark": b.full(), "controls": rows });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(Exit::Ok);
    }
    let info = cat.info(b);
    let mut section = String::new();
    println!("{} ({} controls)\n", style(b).bold(), entries.len());
    for e in &entries {
        let id = e.id_in(b).unwrap_or("-");
        let top = id.split('.').next().unwrap_or(id).to_string();
        if top != section {
            let name = info
                .and_then(|i| i.sections.get(&top))
                .map(String::as_str)
                .unwrap_or("");
            println!("{}", style(format!("{top} {name}")).bold().underlined());
            section = top;
        }
        let (does, why) = handling(e);
        let does_styled = match does {
            "fixes" => style(does).green(),
            "checks" => style(does).cyan(),
            _ => style(does).dim(),
        };
        println!(
            "  {:<7} L{} {:<4} {:<8} {}  {}",
            id,
            e.level,
            match e.assessment {
                Assessment::Automated => "A",
                Assessment::Manual => "M",
            },
            does_styled,
            e.title,
            style(format!("[{}]", e.slug)).dim()
        );
        println!("          {}", style(why).dim());
    }
    Ok(Exit::Ok)
}
