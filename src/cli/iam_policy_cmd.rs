//! `cis-fix iam-policy`: the least-privilege IAM policy for running cis-fix on a selection.

use std::io::Write;

use super::args::{PolicyPurpose, SelectionArgs};
use super::context;
use crate::docs::{self, Purpose};
use crate::exit::{Exit, Fatal};
use crate::remediations::{self as controls, Control};

pub fn run(sel: &SelectionArgs, purpose: PolicyPurpose) -> Result<Exit, Fatal> {
    let cat = context::catalog()?;
    let b = sel.benchmark;
    let entries = context::resolve(cat, &sel.selection())?;
    let mut chosen: Vec<&dyn Control> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for e in &entries {
        match controls::find(&e.slug) {
            Some(c) => chosen.push(c),
            None => missing.push(e.id_in(b).unwrap_or(&e.slug).to_string()),
        }
    }
    let purpose = match purpose {
        PolicyPurpose::Plan => Purpose::Plan,
        PolicyPurpose::Apply => Purpose::Apply,
    };
    let doc = docs::iam_policy(&chosen, purpose);
    let text = docs::policy_text(&doc);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Fatal::usage(format!("cannot write the policy: {e}")))?;
    if !missing.is_empty() {
        eprintln!(
            "note: {} selected control{} not implemented by cis-fix yet, so the policy grants nothing for {}: {}",
            missing.len(),
            if missing.len() == 1 { " is" } else { "s are" },
            if missing.len() == 1 { "it" } else { "them" },
            missing.join(", ")
        );
    }
    Ok(Exit::Ok)
}
