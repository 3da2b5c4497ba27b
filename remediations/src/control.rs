//! The contract every control keeps: a [`Description`] of what it is, a read-only `plan`, and
//! for fixers `apply` and `undo`. Controls implement [`Control`]; only the registry lists them.

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::{AwsContext, AwsError};
use crate::params::Params;
use crate::plan::Finding;
use crate::resources::Reads;

/// The region a regional control was called for. The engine always passes one; `None` is a
/// bug, reported rather than panicking.
pub(crate) fn region_of(region: Option<&str>) -> Result<&str, AwsError> {
    region.ok_or_else(|| {
        AwsError::new(
            crate::aws::ErrorKind::Service,
            "ec2",
            "internal: regional control called without a region",
        )
    })
}

/// Where a control's targets live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Account-wide (IAM): planned once per run.
    Global,
    /// Planned once in every selected region.
    Regional,
}

/// What cis-fix does about a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plans and applies changes.
    Fix,
    /// Reports the state and the manual steps; never changes anything.
    CheckOnly,
}

/// What a control works with: the account's clients and the reads shared in this phase.
pub struct Cx<'a> {
    pub aws: &'a AwsContext,
    pub reads: &'a Reads,
    pub params: &'a Params,
}

impl Cx<'_> {
    /// The regions the run covers, for an account-wide control that reads regional resources:
    /// the home region first, then the plan's regions (else those this command's plans
    /// covered), each once.
    pub fn run_regions(&self) -> Vec<String> {
        let listed = if self.params.run_regions.is_empty() {
            self.aws.covered_regions()
        } else {
            self.params.run_regions.clone()
        };
        let mut out = vec![self.aws.home_region.clone()];
        for r in listed {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}

/// What a control is, in one constant per control: the trait returns it, the registry, the
/// docs generator and the IAM policy generator read it.
#[derive(Debug, Clone, Copy)]
pub struct Description {
    /// The catalog slug this control implements.
    pub slug: &'static str,
    pub scope: Scope,
    pub kind: Kind,
    /// IAM actions `plan` needs.
    pub read_actions: &'static [&'static str],
    /// IAM actions `apply` and `undo` need (besides the read actions); empty for check-only.
    pub write_actions: &'static [&'static str],
    /// For fixers: the risk of the change and how undo reverses it, for the control reference;
    /// empty for check-only.
    pub change_profile: &'static str,
}

#[async_trait]
pub trait Control: Send + Sync {
    /// What this control is.
    fn description(&self) -> &Description;

    fn slug(&self) -> &'static str {
        self.description().slug
    }
    fn scope(&self) -> Scope {
        self.description().scope
    }
    fn kind(&self) -> Kind {
        self.description().kind
    }
    fn read_actions(&self) -> &'static [&'static str] {
        self.description().read_actions
    }
    fn write_actions(&self) -> &'static [&'static str] {
        self.description().write_actions
    }
    fn change_profile(&self) -> &'static str {
        self.description().change_profile
    }
    /// Whether it reads the run's regions: regional controls, and account-wide ones that judge
    /// regional resources (single-region trails). The run resolves its regions for these.
    fn reads_regions(&self) -> bool {
        self.scope() == Scope::Regional
    }
    /// Whether its findings carry their targets' tags (`Finding::tags`), so exceptions can
    /// match on tags: from a read it makes anyway (security groups, instances, the IAM bulk
    /// read of users), or one tag read per failing target shared by every control of the
    /// phase (GetBucketTagging, ListRoleTags).
    fn reads_tags(&self) -> bool {
        false
    }

    /// Read the account and report each target. Never writes.
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError>;

    /// Make the change `finding` describes (a fresh finding, re-read just before).
    async fn apply(
        &self,
        _cx: &Cx<'_>,
        _region: Option<&str>,
        finding: &Finding,
    ) -> Result<(), AwsError> {
        Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            self.slug(),
            format!(
                "{} is check-only; cis-fix does not change {}",
                self.slug(),
                finding.target
            ),
        ))
    }

    /// Put `target` back to `previous`, the state the journal recorded before apply.
    async fn undo(
        &self,
        _cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        _previous: &Value,
    ) -> Result<(), AwsError> {
        Err(AwsError::new(
            crate::aws::ErrorKind::Service,
            self.slug(),
            format!("{} cannot be undone by cis-fix", target),
        ))
    }
}
