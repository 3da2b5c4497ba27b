//! Markdown, for pasting a plan into a ticket or pull request.

use std::fmt::Write;

use super::{field_diff, show_value, summary_line};
use crate::plan::{Plan, Status};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn plan_markdown(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# cis-fix plan: account {} ({})\n",
        plan.account.id, plan.benchmark
    );
    let _ = writeln!(
        s,
        "Created {} · regions: {}\n",
        plan.created_at,
        if plan.regions.is_empty() {
            "global only".into()
        } else {
            plan.regions.join(", ")
        }
    );
    let _ = writeln!(s, "{}\n", summary_line(plan));
    let _ = writeln!(
        s,
        "| # | Id | Control | Where | Target | Status | Summary |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for i in plan
        .items
        .iter()
        .filter(|i| i.finding.status != Status::NotImplemented)
    {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            i.index,
            i.id,
            i.control,
            i.where_(),
            cell(&i.finding.target),
            serde_json::to_value(i.finding.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            cell(&i.finding.summary)
        );
    }
    for i in plan.changes() {
        let f = &i.finding;
        let _ = writeln!(s, "\n## {} {} ({})\n", i.id, i.control, i.where_());
        let _ = writeln!(s, "| Field | Before | After |\n|---|---|---|");
        for c in field_diff(&f.before, &f.after) {
            let mark = if c.changed() { "**" } else { "" };
            let _ = writeln!(
                s,
                "| {mark}{}{mark} | {} | {} |",
                c.field,
                cell(&show_value(&c.before)),
                cell(&show_value(&c.after))
            );
        }
        let calls: Vec<&str> = f.calls.iter().map(|c| c.action.as_str()).collect();
        let _ = writeln!(
            s,
            "\nCalls: `{}` · risk {:?} · {}",
            calls.join("`, `"),
            f.risk,
            if f.reversible {
                "reversible"
            } else {
                "**irreversible**"
            }
        );
        if !f.caution.is_empty() {
            let _ = writeln!(
                s,
                "\n**Asked separately, even with `--yes`** (skipped unless `--allow-destructive`): {}",
                f.caution.join("; ")
            );
        }
        for n in &f.notes {
            let _ = writeln!(s, "\n> {n}");
        }
    }
    s
}
