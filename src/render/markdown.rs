//! Markdown, for pasting a plan into a ticket or pull request. It carries what the text plan
//! carries (risk, reversible, destructive, IN USE with its blast radius, the calls, the notes,
//! the steps), folded the same way, with the same status words.

use std::fmt::Write;

use super::fold::{fold, normalize, Group};
use super::{field_diff, show_value, status_label, summary_line};
use crate::plan::{Item, Plan, Status};

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `target [regions]` for a group, as the text plan's header names it.
fn target_of(g: &Group, regions: &[String]) -> String {
    let f = &g.first().finding;
    let n = g.items.len();
    let target = if g.items.iter().all(|i| i.finding.target == f.target) {
        f.target.clone()
    } else {
        format!("{} and {} more like it", f.target, n - 1)
    };
    let where_ = if n > 1 {
        g.where_label(regions)
    } else {
        format!("[{}]", g.first().where_())
    };
    format!("{target} {where_}")
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
        "Created {} · caller `{}` · regions: {}\n",
        plan.created_at,
        plan.account.caller_arn,
        if plan.regions.is_empty() {
            "global only".into()
        } else {
            plan.regions.join(", ")
        }
    );
    let _ = writeln!(s, "{}\n", summary_line(plan));
    let shown: Vec<&Item> = plan
        .items
        .iter()
        .filter(|i| i.finding.status != Status::NotImplemented)
        .collect();
    let groups = fold(&shown, false);
    // Findings (everything not compliant) are numbered 1.. without gaps, the same number in
    // the table and in the section headings below; compliant targets get a table of their own.
    let (findings, compliant): (Vec<&Group>, Vec<&Group>) = groups
        .iter()
        .partition(|g| g.first().finding.status != Status::Compliant);
    let summary_of = |g: &Group| {
        let i = g.first();
        if g.items.len() > 1 {
            normalize(&i.finding.summary, i.region.as_deref())
        } else {
            i.finding.summary.clone()
        }
    };
    let _ = writeln!(s, "| # | Id | Control | Target | Status | Summary |");
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for (n, g) in findings.iter().enumerate() {
        let i = g.first();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            n + 1,
            i.id,
            i.control,
            cell(&target_of(g, &plan.regions)),
            status_label(i.finding.status),
            cell(&summary_of(g))
        );
    }
    if !compliant.is_empty() {
        let _ = writeln!(
            s,
            "\nCompliant:\n\n| Id | Control | Target | Summary |\n|---|---|---|---|"
        );
        for g in &compliant {
            let i = g.first();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                i.id,
                i.control,
                cell(&target_of(g, &plan.regions)),
                cell(&summary_of(g))
            );
        }
    }
    let not_covered: Vec<&str> = plan
        .items
        .iter()
        .filter(|i| i.finding.status == Status::NotImplemented)
        .map(|i| i.id.as_str())
        .collect();
    if !not_covered.is_empty() {
        let _ = writeln!(
            s,
            "\nNot covered by cis-fix yet: {}.",
            not_covered.join(", ")
        );
    }
    let warnings = super::text::exception_warnings(plan);
    if !warnings.is_empty() {
        let _ = writeln!(s, "\nExceptions:\n");
        for w in warnings {
            let _ = writeln!(s, "- {}", cell(&w));
        }
    }
    for (n, g) in findings.iter().enumerate() {
        let i = g.first();
        let f = &i.finding;
        let t = |x: &str| {
            if g.items.len() > 1 {
                normalize(x, i.region.as_deref())
            } else {
                x.to_string()
            }
        };
        let _ = writeln!(
            s,
            "\n## {}. {} {}: {}\n",
            n + 1,
            i.id,
            i.control,
            target_of(g, &plan.regions)
        );
        let _ = writeln!(s, "**{}**: {}", status_label(f.status), t(&f.summary));
        if f.status == Status::Change {
            let _ = writeln!(s, "\n| Field | Before | After |\n|---|---|---|");
            for c in field_diff(&f.before, &f.after) {
                let mark = if c.changed() { "**" } else { "" };
                let _ = writeln!(
                    s,
                    "| {mark}{}{mark} | {} | {} |",
                    c.field,
                    cell(&t(&show_value(&c.before))),
                    cell(&t(&show_value(&c.after)))
                );
            }
            let calls: Vec<&str> = f.calls.iter().map(|c| c.action.as_str()).collect();
            let _ = writeln!(
                s,
                "\nCalls: `{}` · risk: {} · {}{}",
                calls.join("`, `"),
                format!("{:?}", f.risk).to_lowercase(),
                if f.reversible {
                    "reversible"
                } else {
                    "**IRREVERSIBLE**"
                },
                if f.destructive {
                    " · **destructive**: removes or replaces existing configuration (asked separately)"
                } else {
                    ""
                }
            );
            if !f.caution.is_empty() {
                let _ = writeln!(
                    s,
                    "\n**Asked separately, even with `--yes`** (skipped unless `--allow-destructive`): {}",
                    t(&f.caution.join("; "))
                );
            }
            if !f.in_use.is_empty() {
                let _ = writeln!(
                    s,
                    "\n**IN USE**: changing it affects {} (asked separately; `--yes` needs `--force-in-use`):\n",
                    super::plural(f.in_use.len(), "item", "items")
                );
                for u in &f.in_use {
                    let _ = writeln!(s, "- {u}");
                }
            }
        }
        if f.status == Status::Excepted {
            let first = super::text::exception_words(i);
            if g.items
                .iter()
                .all(|x| super::text::exception_words(x) == first)
            {
                let _ = writeln!(s, "\nExcepted ({first}); `apply` leaves it as it is.");
            } else {
                // Folded items excepted by different entries: each with its own.
                let _ = writeln!(s, "\nExcepted; `apply` leaves them as they are:\n");
                for x in &g.items {
                    let _ = writeln!(s, "- [{}] {}", x.where_(), super::text::exception_words(x));
                }
            }
        }
        if f.status == Status::Blocked {
            let _ = writeln!(
                s,
                "\nWaits for: {} (select it too, or pass `--with-dependencies`).",
                f.needs.join(", ")
            );
        }
        for note in &f.notes {
            let _ = writeln!(s, "\n> {}", t(note));
        }
        if !f.manual_steps.is_empty() {
            let _ = writeln!(s);
            for (k, step) in f.manual_steps.iter().enumerate() {
                let _ = writeln!(s, "{}. {}", k + 1, t(step));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::text::fold_tests::multi_region_plan;

    #[test]
    fn markdown_carries_what_the_text_plan_carries() {
        let mut plan = multi_region_plan();
        plan.items[16].finding.reversible = false; // the group in use
        let text = console::strip_ansi_codes(&crate::render::plan_text(
            &plan,
            &crate::render::TextOptions {
                width: 100,
                expand: false,
                show_compliant: false,
            },
        ))
        .into_owned();
        let md = plan_markdown(&plan);
        // The same folding: one section per text block, headings naming the target.
        assert!(
            md.contains(
                "## 1. 5.1.1 ebs-default-encryption: EBS encryption by default [all 13 regions]"
            ),
            "{md}"
        );
        assert_eq!(
            md.matches("\n## ").count(),
            text.matches("\n  ~ ").count() + text.matches("\n  ? ").count(),
            "{md}\n{text}"
        );
        // Numbering without gaps, in the table and the headings.
        let sections = md.matches("\n## ").count();
        for n in 1..=sections {
            assert!(md.contains(&format!("\n## {n}. ")), "{n}: {md}");
            assert!(md.contains(&format!("\n| {n} | ")), "{n}: {md}");
        }
        assert!(!md.contains(&format!("\n| {} | ", sections + 1)), "{md}");
        // Risk, reversibility, destructive, the blast radius, calls, notes.
        for needle in [
            "risk: medium",
            "**IRREVERSIBLE**",
            "**destructive**",
            "**IN USE**: changing it affects 1 item",
            "- eni-0123456789abcdef0 (instance i-0123456789abcdef0)",
            "`ec2:EnableEbsEncryptionByDefault`",
            "> Applies to volumes created from now on",
        ] {
            assert!(md.contains(needle), "{needle}: {md}");
        }
        for needle in [
            "risk: medium",
            "IRREVERSIBLE",
            "destructive",
            "IN USE",
            "eni-0123456789abcdef0",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        // One status vocabulary: the count line's words are the table's.
        assert!(
            md.contains("| to change |") && md.contains("| undetermined |"),
            "{md}"
        );
        assert!(
            text.contains("26 to change") && text.contains("13 undetermined"),
            "{text}"
        );
    }
}
