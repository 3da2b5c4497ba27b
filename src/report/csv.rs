//! The report as CSV: one row per control × target × region, columns in [`COLUMNS`] order
//! (documented in docs/formats.md; new columns are only ever added at the end).
//!
//! Free text that came from AWS or the journal is guarded against spreadsheet formula
//! injection: a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`.

use super::model::{Report, ReportItem};
use crate::catalog::Benchmark;

pub const COLUMNS: [&str; 29] = [
    "account_id",
    "benchmark",
    "section",
    "id",
    "control",
    "title",
    "assessment",
    "level",
    "region",
    "target",
    "status",
    "status_before",
    "scored",
    "summary",
    "security_hub",
    "cis_1.2",
    "cis_1.4",
    "cis_3.0",
    "cis_5.0",
    "cis_6.0",
    "cis_7.0",
    "change_run",
    "change_seq",
    "change_time",
    "change_state",
    "change_summary",
    "change_before",
    "change_after",
    "manual_steps",
];

/// A cell of free text, safe to open in a spreadsheet.
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn snake<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn row(r: &Report, i: &ReportItem) -> Vec<String> {
    let c = i.change.as_ref();
    let mut v = vec![
        r.account.id.clone(),
        r.benchmark.key().to_string(),
        i.section.clone(),
        i.id.clone(),
        i.control.clone(),
        text(&i.title),
        i.assessment.as_ref().map(snake).unwrap_or_default(),
        i.level.map(|l| l.to_string()).unwrap_or_default(),
        text(i.region.as_deref().unwrap_or("global")),
        text(&i.target),
        snake(&i.status),
        i.status_before.as_ref().map(snake).unwrap_or_default(),
        i.scored.to_string(),
        text(&i.summary),
        i.security_hub.join(";"),
    ];
    v.extend(
        Benchmark::ALL
            .iter()
            .map(|b| i.ids.get(b).cloned().unwrap_or_default()),
    );
    v.extend([
        c.map(|c| c.run_id.clone()).unwrap_or_default(),
        c.map(|c| c.seq.to_string()).unwrap_or_default(),
        c.map(|c| c.at.clone()).unwrap_or_default(),
        c.map(|c| c.state().to_string()).unwrap_or_default(),
        c.map(|c| text(&c.summary)).unwrap_or_default(),
        c.map(|c| text(&c.before.to_string())).unwrap_or_default(),
        c.map(|c| text(&c.after.to_string())).unwrap_or_default(),
        text(&i.manual_steps.join("\n")),
    ]);
    v
}

pub fn render(r: &Report) -> Result<String, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for i in &r.items {
        w.write_record(row(r, i))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ::csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("@SUM"), "'@SUM");
        assert_eq!(text("alice"), "alice");
    }

    #[test]
    fn every_benchmark_has_a_column() {
        for b in Benchmark::ALL {
            assert!(COLUMNS.contains(&format!("cis_{}", b.key()).as_str()));
        }
    }
}
