//! The report as data: one plan, optionally the journal runs that changed the account, and
//! the catalog's ids for every version. HTML, CSV and JSON are pure functions of [`Report`],
//! so the three formats can never disagree about a number.
//!
//! Scoring (also in docs/report.md): an item (one control × target × region) counts towards
//! the score only when its control is assessed "automated" in the catalog and its status is
//! compliant, change, blocked or error. Score = compliant / those. Manual (a person must act,
//! or the benchmark assesses the control manually), undetermined, skipped and not-implemented
//! items are counted apart and never as passing.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::aws::Account;
use crate::catalog::{Assessment, Benchmark, Catalog};
use crate::journal::{ChangeRef, Run};
use crate::plan::{Item, Plan, Status};

pub const REPORT_FORMAT: &str = "cis-fix-report";
/// Bumped whenever the JSON shape of [`Report`] changes incompatibly.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The hash-chain head of one journal run, printed in the report so it can be compared with a
/// copy kept where the operator cannot write.
///
/// The MAC of the run's last journal line, which chains over every line before it
/// (`history --verify` recomputes it); `None` for a run an older cis-fix wrote.
pub fn chain_head(run: &Run) -> Option<String> {
    run.chain_head.clone()
}

/// Where the plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// Planned from the account when the report was made.
    Live,
    /// A plan saved with `cis-fix plan -o FILE`.
    File,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always "cis-fix-report".
    pub format: &'static str,
    pub schema_version: u32,
    pub cis_fix_version: String,
    /// RFC 3339, when the report was made.
    pub generated_at: String,
    pub account: Account,
    pub benchmark: Benchmark,
    /// "5.0.0".
    pub benchmark_full: String,
    pub plan_source: PlanSource,
    /// RFC 3339, when the plan read the account.
    pub plan_created_at: String,
    pub regions: Vec<String>,
    /// Whether journal runs were included (then `status_before` and `before` are filled).
    pub with_runs: bool,
    pub overall: Tally,
    /// Before the included runs; `None` without runs.
    pub overall_before: Option<Tally>,
    pub sections: Vec<SectionScore>,
    pub runs: Vec<RunSummary>,
    /// Every change recorded in the included runs, oldest first (undo runs included).
    pub changes: Vec<ChangeMade>,
    pub items: Vec<ReportItem>,
}

/// Counts of items by how they score. See the module header.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub compliant: usize,
    pub change: usize,
    pub blocked: usize,
    pub error: usize,
    pub manual: usize,
    pub unknown: usize,
    pub skipped: usize,
    pub not_implemented: usize,
    /// Failing, but left alone under an exception: counted as failing.
    pub excepted: usize,
    /// change + blocked + error + excepted.
    pub failing: usize,
    /// compliant + failing: the score's denominator.
    pub scored: usize,
    /// compliant * 100 / scored, rounded down (100 only when everything passes); `None` when
    /// nothing is scored.
    pub score_percent: Option<u32>,
}

/// How one item counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Compliant,
    Change,
    Blocked,
    Error,
    Manual,
    Unknown,
    Skipped,
    NotImplemented,
    /// Failing, left alone under an exception (reason, owner, expiry).
    Excepted,
}

impl Bucket {
    pub fn of(assessment: Option<Assessment>, status: Status) -> Bucket {
        match status {
            Status::NotImplemented => Bucket::NotImplemented,
            Status::Skipped => Bucket::Skipped,
            Status::Unknown => Bucket::Unknown,
            Status::Manual => Bucket::Manual,
            _ if assessment == Some(Assessment::Manual) => Bucket::Manual,
            Status::Compliant => Bucket::Compliant,
            Status::Change => Bucket::Change,
            Status::Blocked => Bucket::Blocked,
            Status::Error => Bucket::Error,
            Status::Excepted => Bucket::Excepted,
        }
    }

    pub fn scored(self) -> bool {
        matches!(
            self,
            Bucket::Compliant | Bucket::Change | Bucket::Blocked | Bucket::Error | Bucket::Excepted
        )
    }
}

impl Tally {
    pub fn of(buckets: impl IntoIterator<Item = Bucket>) -> Tally {
        let mut t = Tally::default();
        for b in buckets {
            match b {
                Bucket::Compliant => t.compliant += 1,
                Bucket::Change => t.change += 1,
                Bucket::Blocked => t.blocked += 1,
                Bucket::Error => t.error += 1,
                Bucket::Manual => t.manual += 1,
                Bucket::Unknown => t.unknown += 1,
                Bucket::Skipped => t.skipped += 1,
                Bucket::NotImplemented => t.not_implemented += 1,
                Bucket::Excepted => t.excepted += 1,
            }
        }
        t.failing = t.change + t.blocked + t.error + t.excepted;
        t.scored = t.compliant + t.failing;
        t.score_percent = (t.scored > 0).then(|| (t.compliant * 100 / t.scored) as u32);
        t
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionScore {
    /// The top-level section number in the plan's benchmark ("1").
    pub section: String,
    pub name: String,
    pub now: Tally,
    pub before: Option<Tally>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    /// "apply" or "undo".
    pub command: String,
    pub started_at: String,
    /// The run recorded its end (false: interrupted or still running).
    pub complete: bool,
    pub changes: usize,
    /// The run's hash-chain head; `None` until the journal records one (see [`chain_head`]).
    pub chain_head: Option<String>,
}

/// One change from the journal.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeMade {
    pub run_id: String,
    pub seq: u32,
    /// When its run started (RFC 3339).
    pub at: String,
    pub id: String,
    pub control: String,
    pub region: Option<String>,
    pub target: String,
    /// The state re-read just before the write.
    pub before: Value,
    /// The state re-read after it (or, when never re-read, the planned state).
    pub after: Value,
    /// What differs, "field before → after, …".
    pub summary: String,
    /// `None`: the run stopped during the call, result unknown.
    pub ok: Option<bool>,
    pub verified: Option<bool>,
    /// A later successful undo put the previous state back.
    pub undone: bool,
    /// For changes made by `undo`: the change they reverted.
    pub undo_of: Option<ChangeRef>,
    pub error: Option<String>,
}

impl ChangeMade {
    /// Applied, re-read to the intended state, and not undone since.
    pub fn held(&self) -> bool {
        self.ok == Some(true) && self.verified == Some(true) && !self.undone
    }

    pub fn state(&self) -> &'static str {
        match (self.ok, self.verified, self.undone) {
            (_, _, true) => "undone",
            (None, _, _) => "unknown (interrupted)",
            (Some(false), _, _) => "failed",
            (Some(true), Some(true), _) => "applied, verified",
            (Some(true), _, _) => "applied, not verified",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportItem {
    /// The item's index in the plan.
    pub index: usize,
    pub section: String,
    /// The control's id in the plan's benchmark.
    pub id: String,
    pub control: String,
    pub title: String,
    /// `None` when the catalog does not know the control (then it is scored as automated).
    pub assessment: Option<Assessment>,
    pub level: Option<u8>,
    /// The control's id in every benchmark version that has it (the plan's included).
    pub ids: BTreeMap<Benchmark, String>,
    pub security_hub: Vec<String>,
    pub region: Option<String>,
    pub target: String,
    /// The status now: the plan's, or, for a plan made before the included runs, compliant
    /// where a change of those runs held.
    pub status: Status,
    /// The status the plan recorded.
    pub plan_status: Status,
    /// The status before the included runs (`None` without runs).
    pub status_before: Option<Status>,
    /// Whether the item counts towards the score (see the module header).
    pub scored: bool,
    pub summary: String,
    pub manual_steps: Vec<String>,
    /// The newest change the included runs made to this target.
    pub change: Option<ChangeMade>,
}

impl ReportItem {
    pub fn bucket(&self) -> Bucket {
        Bucket::of(self.assessment, self.status)
    }

    pub fn bucket_before(&self) -> Option<Bucket> {
        self.status_before.map(|s| Bucket::of(self.assessment, s))
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// `a` is at or before `b` (RFC 3339; the raw strings as a fallback, cis-fix writes UTC).
fn not_after(a: &str, b: &str) -> bool {
    match (parse_time(a), parse_time(b)) {
        (Some(x), Some(y)) => x <= y,
        _ => a <= b,
    }
}

fn section_of(id: &str) -> String {
    id.split('.').next().unwrap_or(id).to_string()
}

fn section_key(s: &str) -> (u32, String) {
    (s.parse().unwrap_or(u32::MAX), s.to_string())
}

/// Every change of `included` (oldest run first), marked undone when any run in `all`
/// successfully reverted it.
fn changes_of(included: &[Run], all: &[Run]) -> Vec<ChangeMade> {
    let undone = crate::engine::undone(all);
    included
        .iter()
        .flat_map(|r| {
            r.changes.iter().map(|c| {
                let after = c.observed.clone().unwrap_or_else(|| c.planned.clone());
                ChangeMade {
                    run_id: r.run_id.clone(),
                    seq: c.seq,
                    at: r.started_at.clone(),
                    id: c.id.clone(),
                    control: c.control.clone(),
                    region: c.region.clone(),
                    target: c.target.clone(),
                    summary: crate::render::restore_summary(&c.previous, &after),
                    before: c.previous.clone(),
                    after,
                    ok: c.ok,
                    verified: c.verified,
                    undone: undone
                        .iter()
                        .any(|u| u.run_id == r.run_id && u.seq == c.seq),
                    undo_of: c.undo_of.clone(),
                    error: c.error.clone(),
                }
            })
        })
        .collect()
}

/// The newest change to the item's target made by an apply: the newest that succeeded, else
/// the newest attempt.
fn change_for<'c>(item: &Item, changes: &'c [ChangeMade]) -> Option<&'c ChangeMade> {
    let mine: Vec<&ChangeMade> = changes
        .iter()
        .filter(|c| {
            c.undo_of.is_none()
                && c.control == item.control
                && c.region == item.region
                && c.target == item.finding.target
        })
        .collect();
    mine.iter()
        .rev()
        .find(|c| c.ok == Some(true))
        .or(mine.last())
        .copied()
}

/// (now, before) for an item given the change the runs made to it.
fn statuses(plan: &Plan, plan_status: Status, change: Option<&ChangeMade>) -> (Status, Status) {
    let Some(c) = change else {
        return (plan_status, plan_status);
    };
    if not_after(&plan.created_at, &c.at) {
        // The plan saw the account before the run: it is the "before".
        let now = if c.held() {
            Status::Compliant
        } else {
            plan_status
        };
        (now, plan_status)
    } else {
        // The plan saw the account after the run: it is the "now". A change that was
        // applied (and not undone) was made because the item failed.
        let before = if c.ok == Some(true) && !c.undone && plan_status == Status::Compliant {
            Status::Change
        } else {
            plan_status
        };
        (plan_status, before)
    }
}

/// Build the report. `included` are the runs the user asked for (of the plan's account,
/// oldest first); `all` is every readable run, used to tell which changes were undone.
pub fn build(
    cat: &Catalog,
    plan: &Plan,
    source: PlanSource,
    included: &[Run],
    all: &[Run],
    generated_at: String,
) -> Report {
    let with_runs = !included.is_empty();
    let changes = changes_of(included, all);
    let items: Vec<ReportItem> = plan
        .items
        .iter()
        .map(|i| {
            let entry = cat.by_slug(&i.control);
            let change = change_for(i, &changes);
            let (now, before) = statuses(plan, i.finding.status, change);
            let assessment = entry.map(|e| e.assessment);
            ReportItem {
                index: i.index,
                section: section_of(&i.id),
                id: i.id.clone(),
                control: i.control.clone(),
                title: i.title.clone(),
                assessment,
                level: entry.map(|e| e.level),
                ids: entry.map(|e| e.ids.clone()).unwrap_or_default(),
                security_hub: entry.map(|e| e.security_hub.clone()).unwrap_or_default(),
                region: i.region.clone(),
                target: i.finding.target.clone(),
                status: now,
                plan_status: i.finding.status,
                status_before: with_runs.then_some(before),
                scored: Bucket::of(assessment, now).scored(),
                summary: i.finding.summary.clone(),
                manual_steps: i.finding.manual_steps.clone(),
                change: change.cloned(),
            }
        })
        .collect();

    let names = cat.info(plan.benchmark).map(|b| &b.sections);
    let mut section_ids: Vec<String> = items.iter().map(|i| i.section.clone()).collect();
    section_ids.sort_by_key(|s| section_key(s));
    section_ids.dedup();
    let sections = section_ids
        .into_iter()
        .map(|s| {
            let mine = || items.iter().filter(|i| i.section == s);
            SectionScore {
                name: names
                    .and_then(|n| n.get(&s))
                    .cloned()
                    .unwrap_or_else(|| format!("Section {s}")),
                now: Tally::of(mine().map(ReportItem::bucket)),
                before: with_runs.then(|| Tally::of(mine().filter_map(ReportItem::bucket_before))),
                section: s,
            }
        })
        .collect();

    let runs = included
        .iter()
        .map(|r| RunSummary {
            run_id: r.run_id.clone(),
            command: r.command.clone(),
            started_at: r.started_at.clone(),
            complete: r.ended,
            changes: r.changes.len(),
            chain_head: chain_head(r),
        })
        .collect();

    Report {
        format: REPORT_FORMAT,
        schema_version: REPORT_SCHEMA_VERSION,
        cis_fix_version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at,
        account: plan.account.clone(),
        benchmark: plan.benchmark,
        benchmark_full: plan.benchmark.full(),
        plan_source: source,
        plan_created_at: plan.created_at.clone(),
        regions: plan.regions.clone(),
        with_runs,
        overall: Tally::of(items.iter().map(ReportItem::bucket)),
        overall_before: with_runs
            .then(|| Tally::of(items.iter().filter_map(ReportItem::bucket_before))),
        sections,
        runs,
        changes,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_unknown_skipped_never_pass() {
        let t = Tally::of([
            Bucket::of(Some(Assessment::Automated), Status::Compliant),
            Bucket::of(Some(Assessment::Automated), Status::Change),
            Bucket::of(Some(Assessment::Automated), Status::Error),
            Bucket::of(Some(Assessment::Manual), Status::Compliant),
            Bucket::of(Some(Assessment::Automated), Status::Manual),
            Bucket::of(Some(Assessment::Automated), Status::Unknown),
            Bucket::of(Some(Assessment::Automated), Status::Skipped),
            Bucket::of(None, Status::NotImplemented),
        ]);
        assert_eq!((t.compliant, t.failing, t.scored), (1, 2, 3));
        assert_eq!(
            (t.manual, t.unknown, t.skipped, t.not_implemented),
            (2, 1, 1, 1)
        );
        assert_eq!(t.score_percent, Some(33));
        assert_eq!(Tally::of([]).score_percent, None);
    }

    #[test]
    fn percent_is_rounded_down() {
        let mut b = vec![Bucket::Compliant; 199];
        b.push(Bucket::Change);
        assert_eq!(Tally::of(b).score_percent, Some(99));
    }
}
