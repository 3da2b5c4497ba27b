//! The report as one self-contained HTML file: inline CSS, inline SVG, no script, and a
//! Content-Security-Policy that forbids every fetch, so the file shows the same offline, in an
//! archive, or printed to PDF. Every value that came from AWS or the journal goes through
//! [`esc`].
//!
//! Test hooks: section rows and chart groups carry `data-*` attributes with their counts
//! (`data-section`, `data-compliant`, `data-scored`, `data-failing`, `data-before`,
//! `data-now`) so a browser test can check the rendered numbers against the plan.

use std::fmt::Write;

use super::model::{ChangeMade, Report, ReportItem, SectionScore, Tally};
use crate::catalog::Benchmark;
use crate::plan::Status;

/// Escape text for HTML content and double- or single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --ok:#1a7f37; --bad:#c62828; --warn:#b26a00; --info:#1f5fa8; --muted:#6b7280; --line:#d9dde3; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color:#1f2328; margin: 0 auto; padding: 24px 32px; max-width: 1200px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 12px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; word-break: break-all; }
.cards { display: flex; gap: 16px; flex-wrap: wrap; align-items: stretch; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.card .big { font-size: 32px; font-weight: 700; }
.card .lbl { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.items td { font-size: 12.5px; }
table.items td.target { word-break: break-word; min-width: 200px; }
table.items td.change { min-width: 180px; }
.small { font-size: 11.5px; color: var(--muted); }
.nw { white-space: nowrap; }
td.ids { min-width: 150px; max-width: 190px; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 11.5px; word-break: break-all; }
.st { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 11.5px; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.st-compliant { color: var(--ok); }
.st-change, .st-blocked, .st-error { color: var(--bad); }
.st-manual { color: var(--info); }
.st-unknown, .st-skipped, .st-not_implemented { color: var(--muted); }
svg.chart { width: 100%; height: auto; max-width: 900px; display: block; }
svg.chart text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; font-size: 12px; fill: #1f2328; }
svg.chart .count { fill: var(--muted); }
.bar-compliant { fill: #2e9e4f; }
.bar-failing { fill: #d64545; }
.bar-before { fill: #e8a0a0; }
.bar-now { fill: #d64545; }
.track { fill: #eef0f3; }
figure { margin: 12px 0 20px; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 6px; }
ol.steps { margin: 4px 0 12px 20px; padding: 0; }
.manual-item { break-inside: avoid; margin-bottom: 10px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  body { padding: 0; max-width: none; font-size: 10pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  thead { display: table-header-group; }
  tr, .card, figure { break-inside: avoid; }
  table.items td { font-size: 8.5pt; }
  .mono, .small { font-size: 8pt; }
}
"#;

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Compliant => "compliant",
        Status::Change => "failing",
        Status::Blocked => "failing (blocked)",
        Status::Error => "error",
        Status::Manual => "manual",
        Status::Unknown => "undetermined",
        Status::Skipped => "skipped",
        Status::NotImplemented => "not implemented",
        Status::Excepted => "failing (excepted)",
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Compliant => "compliant",
        Status::Change => "change",
        Status::Blocked => "blocked",
        Status::Error => "error",
        Status::Manual => "manual",
        Status::Unknown => "unknown",
        Status::Skipped => "skipped",
        Status::NotImplemented => "not_implemented",
        Status::Excepted => "excepted",
    }
}

fn badge(s: Status) -> String {
    format!(
        r#"<span class="st st-{}">{}</span>"#,
        status_class(s),
        status_label(s)
    )
}

fn pct(t: &Tally) -> String {
    t.score_percent
        .map(|p| format!("{p}%"))
        .unwrap_or_else(|| "–".into())
}

pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let title = format!(
        "CIS AWS Foundations Benchmark {} · account {}",
        r.benchmark_full, r.account.id
    );
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cis-fix {ver}">
<title>{title}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="sub">Compliance report made by cis-fix {ver}</p>
<dl class="meta">
<dt>Account</dt><dd id="account-id">{acct}</dd>
<dt>Caller</dt><dd id="caller-arn">{caller}</dd>
<dt>Benchmark</dt><dd id="benchmark">CIS AWS Foundations Benchmark {bfull}</dd>
<dt>Regions</dt><dd>{regions}</dd>
<dt>Account read at</dt><dd>{planned} ({source})</dd>
<dt>Report made at</dt><dd>{generated}</dd>
</dl>
</header>
"#,
        ver = esc(&r.cis_fix_version),
        title = esc(&title),
        acct = esc(&r.account.id),
        caller = esc(&r.account.caller_arn),
        bfull = esc(&r.benchmark_full),
        regions = if r.regions.is_empty() {
            "global controls only".to_string()
        } else {
            esc(&r.regions.join(", "))
        },
        planned = esc(&r.plan_created_at),
        source = match r.plan_source {
            super::model::PlanSource::Live => "planned for this report",
            super::model::PlanSource::File => "from a saved plan",
        },
        generated = esc(&r.generated_at),
    );
    summary(&mut h, r);
    section_chart(&mut h, &r.sections);
    if r.with_runs {
        before_after_chart(&mut h, r);
        runs(&mut h, r);
    }
    items(&mut h, r);
    manual(&mut h, r);
    if r.with_runs {
        changes(&mut h, &r.changes);
    }
    method(&mut h);
    h.push_str("</body>\n</html>\n");
    h
}

fn summary(h: &mut String, r: &Report) {
    let o = &r.overall;
    let _ = write!(
        h,
        r#"<h2 id="score">Score</h2>
<div class="cards">
<div class="card" id="overall" data-compliant="{c}" data-scored="{s}"><div class="big">{p}</div><div class="lbl">{c} of {s} automated checks pass</div></div>
<div class="card"><div class="big">{f}</div><div class="lbl">failing (fixable {ch}, blocked {bl}, error {er}, excepted {ex})</div></div>
<div class="card"><div class="big">{m}</div><div class="lbl">manual: a person must check or act</div></div>
<div class="card"><div class="big">{u}</div><div class="lbl">undetermined · {sk} skipped · {ni} not implemented</div></div>
</div>
"#,
        c = o.compliant,
        s = o.scored,
        p = pct(o),
        f = o.failing,
        ch = o.change,
        bl = o.blocked,
        er = o.error,
        ex = o.excepted,
        m = o.manual,
        u = o.unknown,
        sk = o.skipped,
        ni = o.not_implemented,
    );
    if let Some(b) = &r.overall_before {
        let _ = writeln!(
            h,
            r#"<p id="overall-before" data-compliant="{}" data-scored="{}" data-failing="{}">Before the runs below: {} ({} of {} pass, {} failing).</p>"#,
            b.compliant,
            b.scored,
            b.failing,
            pct(b),
            b.compliant,
            b.scored,
            b.failing
        );
    }
    h.push_str(
        r#"<table class="sections" id="sections"><thead><tr><th>Section</th><th class="num">Score</th><th class="num">Compliant</th><th class="num">Failing</th><th class="num">Manual</th><th class="num">Undetermined</th><th class="num">Skipped</th><th class="num">Not implemented</th></tr></thead><tbody>
"#,
    );
    for s in &r.sections {
        let t = &s.now;
        let _ = writeln!(
            h,
            r#"<tr class="section-row" data-section="{sec}" data-compliant="{c}" data-scored="{sc}" data-failing="{f}" data-manual="{m}"><td>{sec} {name}</td><td class="num">{p}</td><td class="num">{c}</td><td class="num">{f}</td><td class="num">{m}</td><td class="num">{u}</td><td class="num">{sk}</td><td class="num">{ni}</td></tr>"#,
            sec = esc(&s.section),
            name = esc(&s.name),
            c = t.compliant,
            sc = t.scored,
            f = t.failing,
            m = t.manual,
            u = t.unknown,
            sk = t.skipped,
            ni = t.not_implemented,
            p = pct(t),
        );
    }
    let _ = writeln!(
        h,
        r#"<tr><th>All sections</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th><th class="num">{}</th></tr></tbody></table>"#,
        pct(o),
        o.compliant,
        o.failing,
        o.manual,
        o.unknown,
        o.skipped,
        o.not_implemented
    );
}

const LABEL_W: f64 = 250.0;
const BAR_W: f64 = 520.0;
const ROW_H: f64 = 30.0;
const CHART_W: f64 = LABEL_W + BAR_W + 110.0;

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

fn legend(h: &mut String, y: f64, items: &[(&str, &str)]) {
    let mut x = LABEL_W;
    for (class, text) in items {
        let _ = write!(
            h,
            r#"<rect class="legend {class}" x="{x}" y="{}" width="12" height="12"/><text x="{}" y="{}">{}</text>"#,
            y - 10.0,
            x + 16.0,
            y,
            esc(text)
        );
        x += 30.0 + 7.0 * text.len() as f64;
    }
}

/// One bar group per section: compliant and failing automated checks, stacked, to scale.
fn section_chart(h: &mut String, sections: &[SectionScore]) {
    let max = sections
        .iter()
        .map(|s| s.now.scored)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let height = 30.0 + ROW_H * sections.len() as f64;
    let _ = write!(
        h,
        r#"<figure><figcaption>Automated checks by section</figcaption>
<svg class="chart" id="chart-sections" viewBox="0 0 {CHART_W} {height}" role="img" aria-label="Compliant and failing automated checks per section">
"#
    );
    legend(
        h,
        16.0,
        &[("bar-compliant", "compliant"), ("bar-failing", "failing")],
    );
    for (i, s) in sections.iter().enumerate() {
        let y = 28.0 + ROW_H * i as f64;
        let wc = BAR_W * s.now.compliant as f64 / max;
        let wf = BAR_W * s.now.failing as f64 / max;
        let count = if s.now.scored == 0 {
            "no automated checks".to_string()
        } else {
            format!("{}/{} · {}", s.now.compliant, s.now.scored, pct(&s.now))
        };
        let _ = writeln!(
            h,
            r#"<g class="bar-group" data-section="{sec}" data-compliant="{c}" data-failing="{f}" transform="translate(0 {y})"><text x="0" y="16">{label}</text><rect class="track" x="{LABEL_W}" y="3" width="{BAR_W}" height="18"/><rect class="bar-compliant" x="{LABEL_W}" y="3" width="{wc:.1}" height="18"><title>{c} compliant</title></rect><rect class="bar-failing" x="{xf:.1}" y="3" width="{wf:.1}" height="18"><title>{f} failing</title></rect><text class="count" x="{xt}" y="16">{count}</text></g>"#,
            sec = esc(&s.section),
            c = s.now.compliant,
            f = s.now.failing,
            label = esc(&short(&format!("{} {}", s.section, s.name), 34)),
            xf = LABEL_W + wc,
            xt = LABEL_W + BAR_W + 8.0,
        );
    }
    h.push_str("</svg></figure>\n");
}

/// Failing automated checks per section before the included runs and now.
fn before_after_chart(h: &mut String, r: &Report) {
    let pairs: Vec<(&SectionScore, usize, usize)> = r
        .sections
        .iter()
        .map(|s| (s, s.before.map(|b| b.failing).unwrap_or(0), s.now.failing))
        .collect();
    let max = pairs
        .iter()
        .map(|(_, b, n)| (*b).max(*n))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let row = 36.0;
    let height = 30.0 + row * pairs.len() as f64;
    let _ = write!(
        h,
        r#"<figure><figcaption>Failing checks before the runs → now</figcaption>
<svg class="chart" id="chart-before-after" viewBox="0 0 {CHART_W} {height}" role="img" aria-label="Failing automated checks per section before the journal runs and now">
"#
    );
    legend(
        h,
        16.0,
        &[("bar-before", "before the runs"), ("bar-now", "now")],
    );
    for (i, (s, before, now)) in pairs.iter().enumerate() {
        let y = 28.0 + row * i as f64;
        let wb = BAR_W * *before as f64 / max;
        let wn = BAR_W * *now as f64 / max;
        let _ = writeln!(
            h,
            r#"<g class="ba-group" data-section="{sec}" data-before="{before}" data-now="{now}" transform="translate(0 {y})"><text x="0" y="20">{label}</text><rect class="bar-before" x="{LABEL_W}" y="2" width="{wb:.1}" height="13"><title>{before} failing before</title></rect><rect class="bar-now" x="{LABEL_W}" y="17" width="{wn:.1}" height="13"><title>{now} failing now</title></rect><text class="count" x="{xt}" y="20">{before} → {now}</text></g>"#,
            sec = esc(&s.section),
            label = esc(&short(&format!("{} {}", s.section, s.name), 34)),
            xt = LABEL_W + BAR_W + 8.0,
        );
    }
    h.push_str("</svg></figure>\n");
}

fn runs(h: &mut String, r: &Report) {
    h.push_str(
        r#"<h2 id="runs">Journal runs included</h2>
<table class="runs"><thead><tr><th>Run</th><th>Command</th><th>Started</th><th class="num">Changes</th><th>Complete</th><th>Chain head</th></tr></thead><tbody>
"#,
    );
    for run in &r.runs {
        let _ = writeln!(
            h,
            r#"<tr><td class="mono">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td class="mono">{}</td></tr>"#,
            esc(&run.run_id),
            esc(&run.command),
            esc(&run.started_at),
            run.changes,
            if run.complete {
                "yes"
            } else {
                "no (interrupted)"
            },
            run.chain_head
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "not recorded".into()),
        );
    }
    h.push_str("</tbody></table>\n");
}

fn other_ids(r: &Report, i: &ReportItem) -> String {
    i.ids
        .iter()
        .filter(|(b, _)| **b != r.benchmark)
        .map(|(b, id)| format!(r#"<span class="nw">{}: {}</span>"#, b.key(), esc(id)))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn change_cell(c: &ChangeMade) -> String {
    format!(
        r#"{}<div class="small">{} · run <span class="mono">{}</span> #{} · {}</div>{}"#,
        esc(&c.summary),
        esc(c.state()),
        esc(&c.run_id),
        c.seq,
        esc(&c.at),
        c.error
            .as_deref()
            .map(|e| format!(r#"<div class="small">{}</div>"#, esc(e)))
            .unwrap_or_default()
    )
}

fn items(h: &mut String, r: &Report) {
    let _ = write!(
        h,
        r#"<h2 id="controls">Every control</h2>
<p class="sub">One row per control, target and region. Ids are in CIS {}; other versions' ids alongside.</p>
<table class="items" id="items"><thead><tr><th>Status</th><th>CIS {}</th><th>Other versions</th><th>Security Hub</th><th>Control</th><th>Region</th><th>Target and finding</th>{}</tr></thead><tbody>
"#,
        esc(&r.benchmark_full),
        esc(r.benchmark.key()),
        if r.with_runs {
            "<th>Change made</th>"
        } else {
            ""
        }
    );
    for i in &r.items {
        let was = match i.status_before {
            Some(b) if b != i.status => {
                format!(r#"<div class="small">was {}</div>"#, status_label(b))
            }
            _ => String::new(),
        };
        let scored = if i.scored {
            ""
        } else {
            r#"<div class="small">not scored</div>"#
        };
        let _ = write!(
            h,
            r#"<tr class="item" data-status="{cls}" data-id="{id}"><td>{badge}{was}{scored}</td><td>{id}</td><td class="small ids">{others}</td><td>{sh}</td><td>{title}<div class="small">{slug}</div></td><td class="nw">{region}</td><td class="target">{target}<div class="small">{summary}</div></td>"#,
            cls = status_class(i.status),
            badge = badge(i.status),
            id = esc(&i.id),
            others = other_ids(r, i),
            sh = esc(&i.security_hub.join(", ")),
            title = esc(&i.title),
            slug = esc(&i.control),
            region = esc(i.region.as_deref().unwrap_or("global")),
            target = esc(&i.target),
            summary = esc(&i.summary),
        );
        if r.with_runs {
            let _ = write!(
                h,
                r#"<td class="change">{}</td>"#,
                i.change.as_ref().map(change_cell).unwrap_or_default()
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
}

fn manual(h: &mut String, r: &Report) {
    let todo: Vec<&ReportItem> = r
        .items
        .iter()
        .filter(|i| i.status == Status::Manual || !i.manual_steps.is_empty())
        .collect();
    if todo.is_empty() {
        return;
    }
    h.push_str(r#"<h2 id="manual">What needs a person</h2>"#);
    h.push('\n');
    for i in todo {
        let _ = write!(
            h,
            r#"<div class="manual-item"><strong>{} {}</strong> · {} · {}<div>{}</div>"#,
            esc(&i.id),
            esc(&i.title),
            esc(i.region.as_deref().unwrap_or("global")),
            esc(&i.target),
            esc(&i.summary)
        );
        if !i.manual_steps.is_empty() {
            h.push_str(r#"<ol class="steps">"#);
            for s in &i.manual_steps {
                let _ = write!(h, "<li>{}</li>", esc(s));
            }
            h.push_str("</ol>");
        }
        h.push_str("</div>\n");
    }
}

fn changes(h: &mut String, changes: &[ChangeMade]) {
    h.push_str(
        r#"<h2 id="changes">Changes recorded in the journal</h2>
<table class="items" id="change-list"><thead><tr><th>Run · change</th><th>Control</th><th>Region</th><th>Target</th><th>Before → after</th><th>State</th></tr></thead><tbody>
"#,
    );
    if changes.is_empty() {
        h.push_str(r#"<tr><td colspan="6">The included runs made no changes.</td></tr>"#);
    }
    for c in changes {
        let undo = c
            .undo_of
            .as_ref()
            .map(|u| {
                format!(
                    r#"<div class="small">undo of <span class="mono">{}</span> #{}</div>"#,
                    esc(&u.run_id),
                    u.seq
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            h,
            r#"<tr><td><span class="mono">{}</span> #{}<div class="small">{}</div></td><td>{} <span class="small">{}</span></td><td>{}</td><td class="target">{}</td><td>{}{}</td><td>{}</td></tr>"#,
            esc(&c.run_id),
            c.seq,
            esc(&c.at),
            esc(&c.id),
            esc(&c.control),
            esc(c.region.as_deref().unwrap_or("global")),
            esc(&c.target),
            esc(&c.summary),
            undo,
            esc(c.state()),
        );
    }
    h.push_str("</tbody></table>\n");
}

fn method(h: &mut String) {
    let others = Benchmark::ALL.map(|b| b.key()).join(", ");
    let _ = write!(
        h,
        r#"<footer>
<p><strong>How the score is computed.</strong> Each row is one control checked on one target in one region.
The score counts only controls the benchmark assesses as automated whose target is compliant or failing
(failing: a fix is planned, blocked on another control, or the state could not be read):
score = compliant / (compliant + failing), rounded down. Manual items (a person must check or act),
undetermined, skipped and not-implemented items are counted apart and never as passing.
With journal runs, "now" is the plan's status, or compliant where a change made after the plan was
verified and not undone; "before" is the status before those runs.</p>
<p>Benchmark versions cis-fix maps: {others}. Generated offline: this file loads nothing from the network.</p>
</footer>
"#
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::aws::Account;
    use crate::plan::{Finding, Item, Plan, PLAN_SCHEMA_VERSION};

    /// Every value that came from AWS goes through `esc`: a hostile name renders as text.
    #[test]
    fn values_from_aws_cannot_inject_markup() {
        let evil = r#"<img src=x onerror="alert(1)"><script>alert(2)</script>"#;
        let finding = Finding::manual(evil, evil, serde_json::Value::Null, &[evil]);
        let plan = Plan {
            schema_version: PLAN_SCHEMA_VERSION,
            cis_fix_version: "0.1.0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            account: Account {
                id: "111122223333".into(),
                caller_arn: format!("arn:aws:iam::111122223333:user/{evil}"),
                partition: "aws".into(),
            },
            benchmark: Benchmark::V5_0,
            regions: vec![evil.into()],
            params: Default::default(),
            items: vec![Item {
                index: 1,
                control: "root-mfa".into(),
                id: "1.4".into(),
                title: evil.into(),
                region: Some(evil.into()),
                finding,
            }],
            api_calls: 0,
            exceptions: None,
        };
        let cat = crate::catalog::Catalog::embedded().unwrap();
        let r = super::super::build(
            cat,
            &plan,
            super::super::PlanSource::File,
            &[],
            &[],
            "now".into(),
        );
        let html = render(&r);
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<img src=x onerror="a">&'"#),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
    }
}
