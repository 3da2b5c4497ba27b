//! Documents generated from the code, so they cannot drift from it: the IAM policies
//! (`cis-fix iam-policy`, `docs/iam/*.json`), the control reference (`docs/controls.md`) and
//! the man page (`docs/cis-fix.1`).
//!
//! The committed copies are checked by the `docs` integration tests, and rewritten by
//! `CIS_FIX_UPDATE_DOCS=1 cargo test --test it docs`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::catalog::{Benchmark, Catalog, Entry, Fixable};
use crate::remediations::{self as controls, Control, Kind};

/// IAM actions every run needs, whatever the controls: who am I, and which regions exist.
pub const RUN_ACTIONS: &[&str] = &["ec2:DescribeRegions", "sts:GetCallerIdentity"];

/// The command that regenerates the committed documents.
pub const UPDATE_COMMAND: &str = "CIS_FIX_UPDATE_DOCS=1 cargo test --test it docs";

/// What an IAM policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `plan`: read-only.
    Plan,
    /// `apply` and `undo`: the reads, and the writes.
    Apply,
}

impl Purpose {
    /// `plan` / `apply`, as on the command line and in the file names.
    pub fn key(self) -> &'static str {
        match self {
            Purpose::Plan => "plan",
            Purpose::Apply => "apply",
        }
    }
}

/// The read actions `plan` needs for `controls`, run-wide actions included; sorted, deduplicated.
pub fn read_actions(controls: &[&dyn Control]) -> Vec<&'static str> {
    let mut set: BTreeSet<&'static str> = RUN_ACTIONS.iter().copied().collect();
    for c in controls {
        set.extend(c.read_actions().iter().copied());
    }
    set.into_iter().collect()
}

/// The write actions `apply` and `undo` need for `controls` beyond [`read_actions`]; sorted,
/// deduplicated.
pub fn write_actions(controls: &[&dyn Control]) -> Vec<&'static str> {
    let reads: BTreeSet<&'static str> = read_actions(controls).into_iter().collect();
    let set: BTreeSet<&'static str> = controls
        .iter()
        .flat_map(|c| c.write_actions().iter().copied())
        .filter(|a| !reads.contains(a))
        .collect();
    set.into_iter().collect()
}

/// A least-privilege IAM policy document for running cis-fix on `controls`.
///
/// `Plan` is one statement (`CisFixPlan`) with the read actions. `Apply` adds a second
/// (`CisFixApply`) with the write actions, when there are any: IAM rejects a statement
/// without actions.
pub fn iam_policy(controls: &[&dyn Control], purpose: Purpose) -> Value {
    let statement = |sid: &str, actions: Vec<&'static str>| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": "*",
        })
    };
    let mut statements = vec![statement("CisFixPlan", read_actions(controls))];
    if purpose == Purpose::Apply {
        let writes = write_actions(controls);
        if !writes.is_empty() {
            statements.push(statement("CisFixApply", writes));
        }
    }
    json!({
        "Version": "2012-10-17",
        "Statement": statements,
    })
}

/// The controls of the catalog cis-fix implements, in registry order.
fn implemented(cat: &Catalog) -> Vec<&'static dyn Control> {
    controls::registry()
        .iter()
        .copied()
        .filter(|c| cat.by_slug(c.slug()).is_some())
        .collect()
}

/// `docs/iam/plan.json` and `docs/iam/apply.json`: the policies for every control cis-fix
/// implements. File names are relative to `docs/iam/`.
pub fn iam_policies() -> Vec<(String, Value)> {
    let all: Vec<&dyn Control> = match Catalog::embedded() {
        Ok(cat) => implemented(cat),
        Err(_) => controls::registry().to_vec(),
    };
    [Purpose::Plan, Purpose::Apply]
        .into_iter()
        .map(|p| (format!("{}.json", p.key()), iam_policy(&all, p)))
        .collect()
}

/// A policy document as the files and `cis-fix iam-policy` print it: pretty, keys in the order
/// AWS writes them (Version before Statement; Sid, Effect, Action, Resource), newline-terminated.
pub fn policy_text(doc: &Value) -> String {
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Policy {
        version: String,
        statement: Vec<Statement>,
    }
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Statement {
        sid: String,
        effect: String,
        action: Vec<String>,
        resource: String,
    }
    let text = match Policy::deserialize(doc) {
        Ok(p) => serde_json::to_string_pretty(&p),
        Err(_) => serde_json::to_string_pretty(doc),
    };
    let mut s = text.unwrap_or_default();
    s.push('\n');
    s
}

/// What cis-fix does about `e`: `fixes`, `checks` or `not yet` (the same verdict as
/// `cis-fix controls`).
pub fn verdict(e: &Entry) -> &'static str {
    match controls::find(&e.slug).map(|c| c.kind()) {
        Some(Kind::Fix) => "fixes",
        Some(Kind::CheckOnly) => "checks",
        None => "not yet",
    }
}

fn fixable_word(f: Fixable) -> &'static str {
    match f {
        Fixable::Yes => "yes",
        Fixable::Partly => "partly",
        Fixable::No => "no",
    }
}

/// Escape text for a Markdown table cell.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '|' | '*' | '_' | '`' | '<' | '[' | ']' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

fn code_list(actions: &[&str]) -> String {
    actions
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The heading a 5.0 id falls under: its deepest section or subsection.
fn group_of<'a>(sections: &[&'a str], id: &str) -> Option<&'a str> {
    sections
        .iter()
        .copied()
        .filter(|s| id.starts_with(&format!("{s}.")))
        .max_by_key(|s| s.len())
}

fn table_header(out: &mut String) {
    let versions: Vec<&str> = Benchmark::ALL.iter().map(|b| b.key()).collect();
    let _ = writeln!(
        out,
        "| {} | Slug | Title | Level | cis-fix | IAM actions |",
        versions.join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(versions.len() + 5));
}

fn table_row(out: &mut String, e: &Entry) {
    let ids: Vec<String> = Benchmark::ALL
        .iter()
        .map(|b| {
            let mut v: Vec<&str> = e.id_in(*b).into_iter().collect();
            if let Some(extra) = e.ids_extra.get(b) {
                v.extend(extra.iter().map(String::as_str));
            }
            if v.is_empty() {
                "—".to_string()
            } else {
                v.join(", ")
            }
        })
        .collect();
    let does = match verdict(e) {
        "not yet" => format!(
            "**not yet**<br>by API: {}. {}",
            fixable_word(e.fixable),
            cell(&e.fixable_reason)
        ),
        v => {
            let profile = controls::find(&e.slug)
                .map(|c| c.change_profile())
                .unwrap_or("");
            if profile.is_empty() {
                format!("**{v}**<br>{}", cell(&e.fixable_reason))
            } else {
                format!(
                    "**{v}**<br>{}<br>*Risk and undo:* {}",
                    cell(&e.fixable_reason),
                    cell(profile)
                )
            }
        }
    };
    let actions = match controls::find(&e.slug) {
        Some(c) => {
            let reads = {
                let mut v = c.read_actions().to_vec();
                v.sort_unstable();
                v.dedup();
                v
            };
            let mut writes = c.write_actions().to_vec();
            writes.sort_unstable();
            writes.dedup();
            if writes.is_empty() {
                format!("plan: {}", code_list(&reads))
            } else {
                format!(
                    "plan: {}<br>apply also: {}",
                    code_list(&reads),
                    code_list(&writes)
                )
            }
        }
        None => "—".to_string(),
    };
    // The title, then why it matters (the risk the control addresses) where the catalog says.
    let title = if e.rationale.is_empty() {
        cell(&e.title)
    } else {
        format!("{}<br>*Why:* {}", cell(&e.title), cell(&e.rationale))
    };
    let _ = writeln!(
        out,
        "| {} | `{}` | {} | {} | {} | {} |",
        ids.join(" | "),
        e.slug,
        title,
        e.level,
        does,
        actions
    );
}

/// `docs/controls.md`: every control of the catalog, grouped by its CIS 5.0.0 section, with
/// its id in every benchmark version, what cis-fix does about it and the IAM actions that needs.
pub fn controls_markdown() -> String {
    let mut out = String::new();
    let cat = match Catalog::embedded() {
        Ok(c) => c,
        Err(e) => return format!("# Controls\n\n{e}\n"),
    };
    let home = Benchmark::V5_0;
    let count = |v: &str| cat.entries.iter().filter(|e| verdict(e) == v).count();
    let _ = writeln!(out, "# Control reference\n");
    let _ = writeln!(
        out,
        "<!-- Generated from remediations/catalog.toml and remediations/src by `{UPDATE_COMMAND}`; \
         do not edit by hand. -->\n"
    );
    let _ = writeln!(
        out,
        "Every recommendation cis-fix knows, in the numbering of each CIS AWS Foundations \
         Benchmark version (— where a version does not have it), grouped by CIS {} section. \
         Of {} controls, cis-fix **fixes** {} (plans, applies, verifies and can undo the change), \
         **checks** {} (reports the state and the manual steps, never changes anything) and \
         does **not yet** cover {}.\n",
        home.full(),
        cat.entries.len(),
        count("fixes"),
        count("checks"),
        count("not yet"),
    );
    let _ = writeln!(
        out,
        "*IAM actions*: what `plan` needs for the control, and what `apply` and `undo` need \
         besides. Every run also needs {}. The least-privilege policies for everything cis-fix \
         implements are [iam/plan.json](iam/plan.json) and [iam/apply.json](iam/apply.json); \
         `cis-fix iam-policy` prints one for any selection.\n",
        code_list(RUN_ACTIONS)
    );
    let _ = writeln!(
        out,
        "*Level*: the CIS profile level (2 includes 1), as in {} (in 7.0.0 for controls only \
         that version has).\n",
        home.full()
    );

    let Some(info) = cat.info(home) else {
        return out;
    };
    let mut sections: Vec<&str> = info.sections.keys().map(String::as_str).collect();
    sections.sort_by(|a, b| crate::catalog::id_order(a, b));
    let mut current: Option<&str> = None;
    let mut tops_done: BTreeSet<&str> = BTreeSet::new();
    for e in cat.in_benchmark(home) {
        let group = group_of(&sections, e.id_in(home).unwrap_or(""));
        if current.is_none() || group != current {
            if current.is_some() {
                out.push('\n');
            }
            let g = group.unwrap_or("");
            let top = g.split('.').next().unwrap_or(g);
            let name = |s: &str| info.sections.get(s).cloned().unwrap_or_default();
            let fresh_top = tops_done.insert(top);
            if fresh_top {
                let _ = writeln!(out, "## {top} {}\n", name(top));
            }
            if g != top {
                let _ = writeln!(out, "### {g} {}\n", name(g));
            } else if !fresh_top {
                // Back at a section's own controls after one of its subsections (5.2 after 5.1.x).
                let _ = writeln!(out, "### Other controls of section {top}\n");
            }
            table_header(&mut out);
            current = group;
        }
        table_row(&mut out, e);
    }
    out.push('\n');

    let mut later: Vec<&Entry> = cat
        .entries
        .iter()
        .filter(|e| e.id_in(home).is_none())
        .collect();
    if !later.is_empty() {
        let newest = Benchmark::V7_0;
        later.sort_by(|a, b| {
            crate::catalog::id_order(a.id_in(newest).unwrap_or(""), b.id_in(newest).unwrap_or(""))
        });
        let _ = writeln!(out, "## Not in CIS {}\n", home.full());
        let _ = writeln!(
            out,
            "Recommendations later versions added, in CIS {} order.\n",
            newest.full()
        );
        table_header(&mut out);
        for e in later {
            table_row(&mut out, e);
        }
    }
    // One trailing newline.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `docs/cis-fix.1`: the man page, from the same clap definition the binary parses with. The
/// top-level page, then one subsection per command with its synopsis and options.
pub fn man_page() -> Vec<u8> {
    use clap::CommandFactory;

    let root = crate::cli::Cli::command();
    let man = clap_mangen::Man::new(root.clone());
    let mut out: Vec<u8> = Vec::new();
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);

    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("cis-fix {}", sub.get_name());
        let sub_man = clap_mangen::Man::new(sub.clone().bin_name(full.clone()));
        out.extend_from_slice(format!(".SS {}\n", full.replace('-', "\\-")).as_bytes());
        let mut part: Vec<u8> = Vec::new();
        let _ = sub_man.render_description_section(&mut part);
        let _ = sub_man.render_synopsis_section(&mut part);
        let _ = sub_man.render_options_section(&mut part);
        // The parts come with their own `.SH` headings; under a command they are paragraphs.
        for line in String::from_utf8_lossy(&part).lines() {
            if line == ".SH DESCRIPTION" || line == ".SH SYNOPSIS" {
                out.extend_from_slice(b".PP\n");
            } else if let Some(h) = line.strip_prefix(".SH ") {
                out.extend_from_slice(format!(".PP\n\\fI{}\\fR\n", title_case(h)).as_bytes());
            } else {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
    }

    // The after-help text is the exit-code contract.
    let mut extra: Vec<u8> = Vec::new();
    let _ = man.render_extra_section(&mut extra);
    for line in String::from_utf8_lossy(&extra).lines() {
        if line == ".SH EXTRA" {
            out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
        } else {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out.extend_from_slice(
        b".SH \"SEE ALSO\"\n\
          docs/controls.md (every control, what cis-fix does about it, the IAM actions it needs), \
          docs/iam/plan.json and docs/iam/apply.json (least-privilege policies), \
          docs/formats.md (plan and journal files).\n",
    );
    let _ = man.render_version_section(&mut out);
    dedup_preamble(&out)
}

/// Each rendered part starts with the same two-line string definition; keep the first.
fn dedup_preamble(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let definition = line.starts_with(".ie \\n(.g .ds ") || line.starts_with(".el .ds ");
        if definition && !seen.insert(line) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

fn title_case(h: &str) -> String {
    let lower = h.trim_matches('"').to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_policy_is_reads_only_and_apply_adds_writes() {
        let c = controls::find("password-min-length").unwrap();
        let plan = iam_policy(&[c], Purpose::Plan);
        assert_eq!(plan["Version"], "2012-10-17");
        let st = plan["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0]["Sid"], "CisFixPlan");
        assert_eq!(
            st[0]["Action"],
            json!([
                "ec2:DescribeRegions",
                "iam:GetAccountPasswordPolicy",
                "sts:GetCallerIdentity"
            ])
        );
        let apply = iam_policy(&[c], Purpose::Apply);
        let st = apply["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[1]["Sid"], "CisFixApply");
        assert_eq!(
            st[1]["Action"],
            json!([
                "iam:DeleteAccountPasswordPolicy",
                "iam:UpdateAccountPasswordPolicy"
            ])
        );
        assert_eq!(st[1]["Resource"], "*");
    }

    #[test]
    fn check_only_controls_get_no_apply_statement() {
        let c = controls::find("root-mfa").unwrap();
        let apply = iam_policy(&[c], Purpose::Apply);
        assert_eq!(apply["Statement"].as_array().unwrap().len(), 1);
        let none = iam_policy(&[], Purpose::Apply);
        assert_eq!(none["Statement"][0]["Action"], json!(RUN_ACTIONS));
    }

    #[test]
    fn actions_are_sorted_and_unique() {
        let all = controls::registry();
        for list in [read_actions(all), write_actions(all)] {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(list, sorted);
        }
    }

    #[test]
    fn policy_text_keeps_the_aws_key_order() {
        let doc = iam_policy(controls::registry(), Purpose::Apply);
        let text = policy_text(&doc);
        assert!(text.find("\"Version\"").unwrap() < text.find("\"Statement\"").unwrap());
        assert!(text.find("\"Sid\"").unwrap() < text.find("\"Action\"").unwrap());
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn markdown_cells_are_escaped() {
        assert_eq!(cell(r#"full "*:*" a|b"#), r#"full "\*:\*" a\|b"#);
    }

    #[test]
    fn controls_markdown_lists_every_entry() {
        let md = controls_markdown();
        for e in &Catalog::embedded().unwrap().entries {
            assert!(md.contains(&format!("`{}`", e.slug)), "{}", e.slug);
        }
    }
}
