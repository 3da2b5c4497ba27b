//! The plan: what each selected control found in each region, and for non-compliant targets
//! the exact change `apply` would make. Plain data (serde) so renderers, saved plans and the
//! journal are pure functions of it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::Account;
use crate::catalog::Benchmark;
use crate::params::Params;

/// Bumped whenever the JSON shape of [`Plan`] changes incompatibly.
pub const PLAN_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The target already satisfies the control.
    Compliant,
    /// `apply` would change the target.
    Change,
    /// Fails the control, but only a person can fix it (root MFA, …); steps are given.
    Manual,
    /// cis-fix could not tell (the account does not expose the data).
    Unknown,
    /// Deliberately left alone, with the reason (in use, excluded, …).
    Skipped,
    /// The state could not be read.
    Error,
    /// The control is in the catalog but cis-fix does not handle it yet.
    NotImplemented,
    /// Fails, and fixing it needs another control's change first (the trail of 3.1 before
    /// its selectors); `needs` names the controls. `apply` plans it again once they are done.
    Blocked,
    /// Fails, but an exception entry (reason, owner, expiry) says to leave it: `apply` never
    /// changes it. `exception` carries the entry.
    Excepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// One AWS call `apply` will make, with its parameters as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCall {
    /// `service:Operation`, as in IAM policies.
    pub action: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

impl ApiCall {
    pub fn new(action: &str, params: Value) -> Self {
        ApiCall {
            action: action.to_string(),
            params,
        }
    }
}

/// What a control found about one target. Controls return these; the engine adds which
/// control, id and region they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What is being checked or changed, e.g. "account password policy".
    pub target: String,
    pub status: Status,
    /// One line: why the target passes or fails.
    pub summary: String,
    /// The observed state. `apply` refuses a change when this has moved since the plan.
    #[serde(default)]
    pub before: Value,
    /// The desired state after `apply` (for changes).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub after: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<ApiCall>,
    pub risk: Risk,
    pub reversible: bool,
    /// Removes or replaces something; confirmed separately even with `--yes`.
    #[serde(default)]
    pub destructive: bool,
    /// What uses the target (its blast radius). When non-empty the change is asked about on
    /// its own, and `--yes` skips it unless `--force-in-use`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_use: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manual_steps: Vec<String>,
    /// For blocked findings: the slugs of the controls whose changes must come first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// Why this change is asked about on its own even under `--yes` (it takes access from a
    /// role another account trusts or from a break-glass principal, or it is destructive and
    /// high risk). `--yes` skips it unless `--allow-destructive`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caution: Vec<String>,
    /// The observed state of shared prerequisites the change builds on without being its
    /// target (the forced-MFA policy, a KMS alias, the alarm topic): a saved plan pins it like
    /// `before`, and apply refuses the change when it moved.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub prerequisites: Value,
    /// The target's tags, for the controls that read them (security groups, instances,
    /// buckets, IAM users and roles; see `Control::reads_tags`); empty otherwise. Exceptions
    /// match on them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// For excepted findings: the exception that matched (see `docs/exceptions.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionRef>,
}

/// The exception entry an excepted finding matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionRef {
    pub reason: String,
    pub owner: String,
    /// The last day it applies (YYYY-MM-DD); `None` for a permanent exception.
    #[serde(default)]
    pub expires: Option<String>,
    /// `FILE:LINE` of the entry.
    pub source: String,
    /// The status the finding had before it was excepted (change, manual, blocked).
    pub was: Status,
}

/// An exception entry named in a plan's warnings (expired, or matching nothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionNote {
    /// `FILE:LINE`.
    pub source: String,
    /// What it matches: `control s3-deny-http, target website-*`.
    pub matches: String,
    pub owner: String,
    #[serde(default)]
    pub expires: Option<String>,
}

/// What the plan's exceptions file did besides excepting items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExceptionsReport {
    pub file: String,
    /// Entries past their expiry: they no longer except anything.
    #[serde(default)]
    pub expired: Vec<ExceptionNote>,
    /// Unexpired entries that matched no target of the plan.
    #[serde(default)]
    pub unused: Vec<ExceptionNote>,
    /// Why `ou` entries could not match here: the account's OU ancestry could not be read
    /// (not in an organization, access denied). `None` when it was read or no entry has `ou`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ou_unknown: Option<String>,
}

impl Finding {
    fn base(target: impl Into<String>, status: Status, summary: impl Into<String>) -> Self {
        Finding {
            target: target.into(),
            status,
            summary: summary.into(),
            before: Value::Null,
            after: Value::Null,
            action: None,
            calls: Vec::new(),
            risk: Risk::Low,
            reversible: true,
            destructive: false,
            in_use: Vec::new(),
            notes: Vec::new(),
            manual_steps: Vec::new(),
            needs: Vec::new(),
            caution: Vec::new(),
            prerequisites: Value::Null,
            tags: Default::default(),
            exception: None,
        }
    }

    pub fn compliant(target: impl Into<String>, summary: impl Into<String>, before: Value) -> Self {
        Finding {
            before,
            ..Finding::base(target, Status::Compliant, summary)
        }
    }

    pub fn change(
        target: impl Into<String>,
        summary: impl Into<String>,
        action: Action,
        before: Value,
        after: Value,
        calls: Vec<ApiCall>,
    ) -> Self {
        Finding {
            before,
            after,
            action: Some(action),
            calls,
            ..Finding::base(target, Status::Change, summary)
        }
    }

    pub fn manual(
        target: impl Into<String>,
        summary: impl Into<String>,
        before: Value,
        steps: &[&str],
    ) -> Self {
        Finding {
            before,
            manual_steps: steps.iter().map(|s| s.to_string()).collect(),
            ..Finding::base(target, Status::Manual, summary)
        }
    }

    /// Fails, but can only be fixed after the controls in `needs` (slugs) have made their
    /// changes; `summary` says what is missing.
    pub fn blocked(target: impl Into<String>, summary: impl Into<String>, needs: &[&str]) -> Self {
        Finding {
            needs: needs.iter().map(|s| s.to_string()).collect(),
            ..Finding::base(target, Status::Blocked, summary)
        }
    }

    pub fn unknown(target: impl Into<String>, summary: impl Into<String>) -> Self {
        Finding::base(target, Status::Unknown, summary)
    }

    pub fn error(target: impl Into<String>, summary: impl Into<String>) -> Self {
        Finding::base(target, Status::Error, summary)
    }

    pub fn with_risk(mut self, risk: Risk) -> Self {
        self.risk = risk;
        self
    }

    /// Whether exceptions can apply to it: a change, a check for a person, or blocked.
    pub fn is_failing(&self) -> bool {
        matches!(
            self.status,
            Status::Change | Status::Manual | Status::Blocked
        )
    }

    /// The target's tags (`key → value`), from a read the control makes anyway.
    pub fn with_tags<'a>(
        mut self,
        tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    ) -> Self {
        self.add_tags(tags);
        self
    }

    pub fn add_tags<'a>(
        &mut self,
        tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    ) {
        for (k, v) in tags {
            if let Some(k) = k {
                self.tags
                    .insert(k.to_string(), v.unwrap_or_default().to_string());
            }
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Every reason this change is asked about on its own even under `--yes`: the control's
    /// own (`caution`), a destructive change of high risk, and a target named like a
    /// break-glass principal (`break_glass_patterns`). Empty for anything but a change.
    pub fn cautions(&self, params: &Params) -> Vec<String> {
        if self.status != Status::Change {
            return Vec::new();
        }
        let mut out = self.caution.clone();
        let mut add = |why: String| {
            if !out.contains(&why) {
                out.push(why);
            }
        };
        if self.destructive && self.risk == Risk::High {
            add("destructive and high risk".to_string());
        }
        if let Some(p) = params.break_glass_match(&self.target) {
            add(format!(
                "{} is named like a break-glass principal (matches '{p}')",
                self.target
            ));
        }
        out
    }
}

/// A finding placed in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Position in the plan, from 1; `apply --change N` style references use it.
    pub index: usize,
    /// The control's stable slug.
    pub control: String,
    /// The control's id in the plan's benchmark.
    pub id: String,
    pub title: String,
    /// `None` for account-wide (global) targets.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(flatten)]
    pub finding: Finding,
}

impl Item {
    pub fn where_(&self) -> &str {
        self.region.as_deref().unwrap_or("global")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub schema_version: u32,
    pub cis_fix_version: String,
    /// RFC 3339.
    pub created_at: String,
    pub account: Account,
    pub benchmark: Benchmark,
    pub regions: Vec<String>,
    /// The parameters the plan was made with; `apply FILE` re-plans with the same.
    #[serde(default)]
    pub params: Params,
    pub items: Vec<Item>,
    /// AWS calls made to build this plan.
    #[serde(default)]
    pub api_calls: usize,
    /// The exceptions file's expired and unused entries, when there is a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<ExceptionsReport>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub change: usize,
    pub compliant: usize,
    pub manual: usize,
    pub unknown: usize,
    pub skipped: usize,
    pub error: usize,
    pub not_implemented: usize,
    pub blocked: usize,
    pub excepted: usize,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for i in &self.items {
            match i.finding.status {
                Status::Change => c.change += 1,
                Status::Compliant => c.compliant += 1,
                Status::Manual => c.manual += 1,
                Status::Unknown => c.unknown += 1,
                Status::Skipped => c.skipped += 1,
                Status::Error => c.error += 1,
                Status::NotImplemented => c.not_implemented += 1,
                Status::Blocked => c.blocked += 1,
                Status::Excepted => c.excepted += 1,
            }
        }
        c
    }

    /// Record in each change the reasons it is asked about on its own (see
    /// [`Finding::cautions`]), so every view of the plan shows them.
    pub fn mark_cautions(&mut self) {
        for i in &mut self.items {
            i.finding.caution = i.finding.cautions(&self.params);
        }
    }

    pub fn changes(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| i.finding.status == Status::Change)
    }
}

/// `n thing` or `n things`: every count in a plan's words has its real singular and plural
/// (no "rule(s)").
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
