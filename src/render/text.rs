//! The human diff: one block per item, coloured when the terminal allows.

use std::fmt::Write;

use console::style;

use super::{field_diff, show_value};
use crate::plan::{Action, Item, Plan, Status};

fn marker(item: &Item) -> console::StyledObject<&'static str> {
    match (item.finding.status, item.finding.action) {
        (Status::Change, Some(Action::Create)) => style("+").green().bold(),
        (Status::Change, Some(Action::Delete)) => style("-").red().bold(),
        (Status::Change, _) => style("~").yellow().bold(),
        (Status::Compliant, _) => style("✓").green(),
        (Status::Manual, _) => style("!").magenta().bold(),
        (Status::Unknown, _) => style("?").dim(),
        (Status::Skipped, _) => style("·").dim(),
        (Status::Error, _) => style("x").red().bold(),
        (Status::NotImplemented, _) => style("-").dim(),
        (Status::Blocked, _) => style("…").yellow().bold(),
    }
}

/// One item. `detail` adds the field diff, calls and notes (for changes and manual items).
pub fn item_text(item: &Item, detail: bool) -> String {
    let f = &item.finding;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  {} {:<6} {}  {} [{}]",
        marker(item),
        item.id,
        style(&item.control).bold(),
        f.target,
        item.where_()
    );
    let _ = writeln!(s, "      {}", f.summary);
    if !detail {
        return s;
    }
    if f.status == Status::Change {
        for c in field_diff(&f.before, &f.after) {
            let name = if c.field.is_empty() {
                "value".to_string()
            } else {
                c.field.clone()
            };
            if c.changed() && c.before.is_array() && c.after.is_array() {
                // Lists (security-group rules, …): one line per element added or removed.
                let kept = c
                    .before
                    .as_array()
                    .map(|b| {
                        b.iter()
                            .filter(|x| c.after.as_array().is_some_and(|a| a.contains(x)))
                            .count()
                    })
                    .unwrap_or(0);
                for (n, line) in super::list_changes(&c.before, &c.after)
                    .into_iter()
                    .enumerate()
                {
                    let label = if n == 0 { name.as_str() } else { "" };
                    let styled = if line.starts_with('-') {
                        style(line).red()
                    } else {
                        style(line).green()
                    };
                    let _ = writeln!(s, "        {label:<30} {styled}");
                }
                if kept > 0 {
                    let _ = writeln!(
                        s,
                        "        {}",
                        style(format!("{:<30} {kept} unchanged", "")).dim()
                    );
                }
            } else if c.changed() {
                let _ = writeln!(
                    s,
                    "        {:<30} {} → {}",
                    name,
                    style(show_value(&c.before)).red(),
                    style(show_value(&c.after)).green()
                );
            } else {
                let _ = writeln!(
                    s,
                    "        {}",
                    style(format!(
                        "{:<30} {} (unchanged)",
                        name,
                        show_value(&c.before)
                    ))
                    .dim()
                );
            }
        }
        let calls: Vec<&str> = f.calls.iter().map(|c| c.action.as_str()).collect();
        let risk = format!("{:?}", f.risk).to_lowercase();
        let rev = if f.reversible {
            style("reversible".to_string()).green()
        } else {
            style("IRREVERSIBLE".to_string()).red().bold()
        };
        let _ = writeln!(
            s,
            "      calls: {} · risk: {risk} · {rev}",
            calls.join(", ")
        );
        if !f.caution.is_empty() {
            let _ = writeln!(
                s,
                "      {} {}",
                style("ASKED SEPARATELY, even with --yes (which skips it unless --allow-destructive):")
                    .red()
                    .bold(),
                f.caution.join("; ")
            );
        }
        if !f.in_use.is_empty() {
            let _ = writeln!(
                s,
                "      {}",
                style(format!("IN USE — changing it affects {} item(s) (asked separately; --yes needs --force-in-use):", f.in_use.len())).red().bold()
            );
            for u in &f.in_use {
                let _ = writeln!(s, "        - {u}");
            }
        }
        if f.destructive {
            let _ = writeln!(
                s,
                "      {}",
                style("destructive: removes or replaces existing configuration (asked separately)")
                    .red()
            );
        }
    }
    if f.status == Status::Blocked {
        let _ = writeln!(
            s,
            "      {}",
            style(format!(
                "waits for: {} (select it too, or pass --with-dependencies; apply plans this again once it is done)",
                f.needs.join(", ")
            ))
            .yellow()
        );
    }
    for n in &f.notes {
        let _ = writeln!(s, "      note: {n}");
    }
    for (i, step) in f.manual_steps.iter().enumerate() {
        let _ = writeln!(s, "      {}. {step}", i + 1);
    }
    s
}

/// The parameters a plan was made with, as `key=value` pairs (the benchmark is in the header).
pub fn params_line(params: &crate::remediations::Params) -> String {
    let shown = crate::remediations::Params {
        benchmark: None,
        ..params.clone()
    };
    let Ok(table) = toml::Table::try_from(&shown) else {
        return String::new();
    };
    table
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn summary_line(plan: &Plan) -> String {
    let c = plan.counts();
    let mut parts = vec![
        format!("{} to change", c.change),
        format!("{} compliant", c.compliant),
    ];
    if c.blocked > 0 {
        parts.push(format!("{} waiting for another change", c.blocked));
    }
    if c.manual > 0 {
        parts.push(format!("{} need manual action", c.manual));
    }
    if c.unknown > 0 {
        parts.push(format!("{} undetermined", c.unknown));
    }
    if c.skipped > 0 {
        parts.push(format!("{} skipped", c.skipped));
    }
    if c.error > 0 {
        parts.push(format!("{} could not be read", c.error));
    }
    if c.not_implemented > 0 {
        parts.push(format!("{} not covered by cis-fix yet", c.not_implemented));
    }
    format!("Plan: {}.", parts.join(", "))
}

pub fn plan_text(plan: &Plan, verbose: bool) -> String {
    let mut s = String::new();
    let regions = if plan.regions.is_empty() {
        "global controls only".to_string()
    } else if plan.regions.len() > 4 {
        format!("{} regions", plan.regions.len())
    } else {
        plan.regions.join(", ")
    };
    let _ = writeln!(
        s,
        "{} for account {} ({}) · {} · {}\n",
        style("cis-fix plan").bold(),
        plan.account.id,
        plan.account.caller_arn,
        plan.benchmark,
        regions
    );
    let settings = params_line(&plan.params);
    if !settings.is_empty() {
        let _ = writeln!(s, "  parameters: {settings}\n");
    }
    let mut not_covered = Vec::new();
    let mut shown_compliant: Vec<&str> = Vec::new();
    for item in &plan.items {
        match item.finding.status {
            Status::NotImplemented => not_covered.push(item.id.clone()),
            Status::Compliant if verbose => s.push_str(&item_text(item, true)),
            Status::Compliant => {
                // Many compliant targets of one control (a group per VPC, a region each)
                // fold into one line; --show-compliant lists them.
                let same: Vec<&Item> = plan
                    .items
                    .iter()
                    .filter(|i| i.control == item.control && i.finding.status == Status::Compliant)
                    .collect();
                if same.len() <= 3 {
                    s.push_str(&item_text(item, false));
                } else if !shown_compliant.contains(&item.control.as_str()) {
                    shown_compliant.push(&item.control);
                    let mut regions: Vec<&str> = same.iter().map(|i| i.where_()).collect();
                    regions.dedup();
                    let _ = writeln!(
                        s,
                        "  {} {:<6} {}  {} targets compliant in {} region(s)",
                        marker(item),
                        item.id,
                        style(&item.control).bold(),
                        same.len(),
                        regions.len()
                    );
                }
            }
            _ => s.push_str(&item_text(item, true)),
        }
    }
    if !not_covered.is_empty() {
        let _ = writeln!(
            s,
            "\n  {}",
            style(format!(
                "Not covered by cis-fix yet ({}): {}. See `cis-fix controls`.",
                not_covered.len(),
                not_covered.join(", ")
            ))
            .dim()
        );
    }
    let _ = writeln!(
        s,
        "\n{} (AWS calls: {})",
        summary_line(plan),
        plan.api_calls
    );
    s
}

#[cfg(test)]
mod params_tests {
    use super::params_line;
    use crate::remediations::Params;

    #[test]
    fn shows_the_parameters_set_but_not_the_benchmark() {
        let p = Params {
            alarm_email: Some("sec@example.com".into()),
            log_retention_days: Some(90),
            benchmark: Some(crate::catalog::Benchmark::V5_0),
            ..Default::default()
        };
        assert_eq!(
            params_line(&p),
            "alarm_email=\"sec@example.com\", log_retention_days=90"
        );
        assert_eq!(params_line(&Params::default()), "");
    }
}
