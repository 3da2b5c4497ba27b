//! Building a plan: every selected control, in every selected region, read concurrently
//! with a bound, sharing reads between controls.

use futures::stream::{self, StreamExt};

use super::Progress;
use crate::aws::AwsContext;
use crate::catalog::{Benchmark, Entry};
use crate::plan::{now_rfc3339, Finding, Item, Plan, Status, PLAN_SCHEMA_VERSION};
use crate::remediations::{self as controls, Cx, Params, Reads, Scope};

/// Whether any selected control reads regions (a regional one, or an account-wide one that
/// judges regional resources), and so the regions must be resolved.
pub fn needs_regions(entries: &[&Entry]) -> bool {
    entries
        .iter()
        .filter_map(|e| controls::find(&e.slug))
        .any(|c| c.reads_regions())
}

pub async fn build_plan(
    aws: &AwsContext,
    benchmark: Benchmark,
    entries: &[&Entry],
    regions: &[String],
    params: &Params,
    concurrency: Option<usize>,
    progress: &Progress,
) -> Plan {
    let calls_before = aws.call_log().count();
    let reads = Reads::default();
    let params = &Params {
        benchmark: Some(benchmark),
        run_regions: regions.to_vec(),
        run_controls: entries.iter().map(|e| e.slug.clone()).collect(),
        ..params.clone()
    };
    aws.cover_regions(regions);
    let cx = Cx {
        aws,
        reads: &reads,
        params,
    };
    // (entry position, region) pairs; controls cis-fix lacks become items straight away.
    let mut tasks = Vec::new();
    let mut items: Vec<(usize, Option<String>, Vec<Finding>)> = Vec::new();
    for (pos, e) in entries.iter().enumerate() {
        match controls::find(&e.slug) {
            None => items.push((pos, None, vec![not_implemented(e)])),
            Some(c) if c.scope() == Scope::Global => tasks.push((pos, c, None)),
            Some(c) => tasks.extend(regions.iter().map(|r| (pos, c, Some(r.clone())))),
        }
    }
    progress.add_total(tasks.len());
    // Every (control, region) read at once unless capped: the request budgets pace them.
    let concurrency = concurrency.unwrap_or(tasks.len()).max(1);
    let results: Vec<_> = stream::iter(tasks)
        .map(|(pos, control, region)| {
            let cx = &cx;
            async move {
                let read = control.plan(cx, region.as_deref());
                let findings = match crate::aws::charged_to(&entries[pos].slug, read).await {
                    Ok(f) => f,
                    // The organization's guardrail, not a failure of cis-fix: reported as
                    // undetermined with the policy that denied the read.
                    Err(e) if e.org_policy_denial().is_some() => {
                        vec![Finding::unknown(entries[pos].title.clone(), e.to_string())]
                    }
                    Err(e) => vec![Finding::error(
                        entries[pos].title.clone(),
                        format!("could not read: {e}"),
                    )],
                };
                progress.tick();
                (pos, region, findings)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    items.extend(results);
    items.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let items = items
        .into_iter()
        .flat_map(|(pos, region, findings)| {
            let e = entries[pos];
            findings.into_iter().map(move |finding| Item {
                index: 0,
                control: e.slug.clone(),
                id: e.id_in(benchmark).unwrap_or("-").to_string(),
                title: e.title.clone(),
                region: region.clone(),
                finding,
            })
        })
        .enumerate()
        .map(|(i, mut item)| {
            item.index = i + 1;
            item
        })
        .collect();
    let mut items: Vec<Item> = items;
    note_shared_targets(&mut items);
    // `ou = …` exceptions need the account's OUs: read with its own credentials unless the
    // multi-account run already read them from the management account.
    crate::exceptions::learn_ancestry(aws, std::slice::from_ref(&aws.account.id)).await;
    let mut plan = Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        cis_fix_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now_rfc3339(),
        account: aws.account.clone(),
        benchmark,
        regions: regions.to_vec(),
        params: params.clone(),
        items,
        api_calls: aws.call_log().count() - calls_before,
        exceptions: None,
    };
    // Excepted targets are planned as such (and so never applied), in every view.
    crate::exceptions::mark(&mut plan);
    plan
}

/// Several controls can change one target (both password controls write the one account
/// password policy). Each diff is computed from the state the plan saw; apply writes them in
/// order, each merged into the target as the previous one left it. Say so on each.
fn note_shared_targets(items: &mut [Item]) {
    let changes: Vec<(usize, Option<String>, String, String)> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.finding.status == Status::Change)
        .map(|(n, i)| {
            (
                n,
                i.region.clone(),
                i.finding.target.clone(),
                format!("{} {}", i.id, i.control),
            )
        })
        .collect();
    for (n, region, target, _) in &changes {
        let others: Vec<&str> = changes
            .iter()
            .filter(|(m, r, t, _)| m != n && r == region && t == target)
            .map(|(_, _, _, label)| label.as_str())
            .collect();
        if !others.is_empty() {
            items[*n].finding.notes.push(format!(
                "{} also changes this {target}: apply makes the changes one after the other, each \
                 on top of the last, so the result meets all of them.",
                others.join(", ")
            ));
        }
    }
}

fn not_implemented(e: &Entry) -> Finding {
    let mut f = Finding::unknown(
        e.title.clone(),
        format!("not covered by cis-fix yet ({})", e.fixable_reason),
    );
    f.status = Status::NotImplemented;
    f
}
