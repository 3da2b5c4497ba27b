//! Resources a landing zone owns, recognised in one place: what AWS Control Tower or the
//! Landing Zone Accelerator (LZA) deployed, and organization trails of another account.
//!
//! Such a resource counts as compliant where it satisfies a control, and is never changed by
//! cis-fix: the landing zone would put it back on its next run (drift), or its management
//! account is the only one that may change it. Where it fails a control, the finding is
//! manual and says where to change it. Every control that may touch a trail, a Config
//! recorder or delivery channel, a role, a log group, a bucket, an SNS topic or a KMS key
//! asks here ([`by_name`], [`by_tags`], [`trail`]) and passes its finding through [`guard`].
//!
//! Recognised (names case-insensitive, by prefix):
//! - Control Tower: `aws-controltower-…` (the `aws-controltower-BaselineCloudTrail` trail, the
//!   `aws-controltower-BaselineConfigRecorder` recorder and its delivery channel, the
//!   `aws-controltower-logs-…` buckets, the `aws-controltower-…` SNS topics and roles),
//!   `aws-controltower/…` (the CloudTrail log group), `AWSControlTower…` (roles such as
//!   `AWSControlTowerExecution`), `StackSet-AWSControlTower…`; tags
//!   `aws:cloudformation:stack-name = StackSet-AWSControlTower…` and
//!   `aws-control-tower = managed-by-control-tower`.
//! - Landing Zone Accelerator: `AWSAccelerator…`, `aws-accelerator…`, `alias/accelerator/…`;
//!   the tag `Accelerator` (any value) and stack names starting `AWSAccelerator`.
//! - An organization trail homed in another account (DescribeTrails with shadow trails, seen
//!   from a member account): its management account owns it.

use serde_json::Value;

use crate::plan::{Finding, Status};
use crate::resources::trails::TrailInfo;

/// Who owns a resource cis-fix must leave alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    ControlTower,
    Accelerator,
    /// An organization trail of another account (the organization's management account).
    OrganizationTrail {
        account: String,
    },
}

impl Owner {
    /// "owned by Control Tower: change it in the landing zone, not here".
    pub fn owned_by(&self) -> String {
        match self {
            Owner::ControlTower => {
                "owned by Control Tower: change it in the landing zone, not here".into()
            }
            Owner::Accelerator => "owned by the Landing Zone Accelerator: change it in the accelerator's configuration, not here".into(),
            Owner::OrganizationTrail { account } => format!(
                "organization trail of account {account}: change it in the organization's management account, not here"
            ),
        }
    }

    /// The manual step for a finding on such a resource.
    pub fn step(&self) -> &'static str {
        match self {
            Owner::ControlTower => "Change it through Control Tower (the landing zone settings, a control, or Customizations for Control Tower) from the management account; a direct change is drift that Control Tower reverts or reports.",
            Owner::Accelerator => "Change it in the Landing Zone Accelerator's configuration (its config repository) and let its pipeline deploy it; a direct change is overwritten on the next run.",
            Owner::OrganizationTrail { .. } => "In the organization's management account, in the trail's home region: change the organization trail there (cis-fix run from that account can).",
        }
    }
}

const CONTROL_TOWER_PREFIXES: &[&str] = &[
    "aws-controltower-",
    "aws-controltower/",
    "awscontroltower",
    "stackset-awscontroltower",
];
const ACCELERATOR_PREFIXES: &[&str] = &[
    "awsaccelerator",
    "aws-accelerator",
    "/aws-accelerator",
    "alias/accelerator/",
];

/// The owner of a resource by its name or ARN (an ARN is reduced to its last path segment;
/// KMS aliases and log group names are matched whole).
pub fn by_name(name_or_arn: &str) -> Option<Owner> {
    let name = short_name(name_or_arn).to_ascii_lowercase();
    let starts = |ps: &[&str]| ps.iter().any(|p| name.starts_with(p));
    if starts(CONTROL_TOWER_PREFIXES) {
        Some(Owner::ControlTower)
    } else if starts(ACCELERATOR_PREFIXES) {
        Some(Owner::Accelerator)
    } else {
        None
    }
}

/// The name part of an ARN: `arn:aws:iam::1:role/service-role/X` → `X`,
/// `arn:aws:sns:r:1:topic` → `topic`, `arn:aws:logs:r:1:log-group:G:*` → `G`,
/// `arn:aws:s3:::bucket` → `bucket`; `alias/…` and plain names are kept.
fn short_name(s: &str) -> &str {
    if !s.starts_with("arn:") {
        return s;
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let Some(resource) = parts.get(5) else {
        return s;
    };
    if let Some(g) = resource.strip_prefix("log-group:") {
        return g.strip_suffix(":*").unwrap_or(g);
    }
    if resource.starts_with("alias/") {
        return resource;
    }
    resource.rsplit(['/', ':']).next().unwrap_or(resource)
}

/// The owner a resource's tags name, if any.
pub fn by_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Owner> {
    let mut found = None;
    for (k, v) in tags {
        let owner = match k {
            "aws:cloudformation:stack-name" | "aws:cloudformation:stack-set-name" => {
                let v = v.to_ascii_lowercase();
                if v.starts_with("stackset-awscontroltower") || v.starts_with("awscontroltower") {
                    Some(Owner::ControlTower)
                } else if v.starts_with("awsaccelerator")
                    || v.starts_with("stackset-awsaccelerator")
                {
                    Some(Owner::Accelerator)
                } else {
                    None
                }
            }
            "aws-control-tower" => Some(Owner::ControlTower),
            "Accelerator" => Some(Owner::Accelerator),
            _ => None,
        };
        // Control Tower wins over the accelerator (LZA deploys on top of Control Tower).
        match (&found, owner) {
            (_, Some(Owner::ControlTower)) => return Some(Owner::ControlTower),
            (None, Some(o)) => found = Some(o),
            _ => {}
        }
    }
    found
}

/// [`by_name`], then [`by_tags`].
pub fn by_name_or_tags<'a>(
    name: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Owner> {
    by_name(name).or_else(|| by_tags(tags))
}

/// The owner of a trail seen from `account`: an organization trail of another account, or a
/// trail a landing zone made. `None`: the account's own trail, changeable from it.
pub fn trail(t: &TrailInfo, account: &str) -> Option<Owner> {
    if t.owner_account() != account {
        return Some(Owner::OrganizationTrail {
            account: t.owner_account().to_string(),
        });
    }
    by_name(&t.name)
}

/// A finding on a landing-zone resource: a change (or a blocked one) becomes manual, with
/// `what` (the resource) and the owner's message in the summary, and the plan's calls
/// dropped; anything else (compliant, manual, unknown, …) is returned as it is.
pub fn guard(f: Finding, what: &str, owner: Option<&Owner>) -> Finding {
    let Some(owner) = owner else {
        return f;
    };
    if !matches!(f.status, Status::Change | Status::Blocked) {
        return f;
    }
    let summary = format!("{}; {what} is {}", f.summary, owner.owned_by());
    let mut m = Finding::manual(f.target, summary, f.before, &[owner.step()]);
    m.notes = f.notes;
    m.notes
        .retain(|n| !n.starts_with("Undo") && !n.contains("undo"));
    m.tags = f.tags;
    m
}

/// A manual finding for a landing-zone resource that fails a control: `fails` says how.
pub fn manual(
    target: impl Into<String>,
    fails: &str,
    what: &str,
    owner: &Owner,
    before: Value,
) -> Finding {
    Finding::manual(
        target,
        format!("{fails}; {what} is {}", owner.owned_by()),
        before,
        &[owner.step()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, ApiCall};
    use serde_json::json;

    #[test]
    fn names_and_arns_of_control_tower_and_the_accelerator() {
        for n in [
            "aws-controltower-BaselineCloudTrail",
            "aws-controltower-BaselineConfigRecorder",
            "aws-controltower-BaselineConfigDeliveryChannel",
            "AWSControlTowerExecution",
            "aws-controltower-logs-111122223333-us-east-1",
            "arn:aws:sns:us-east-1:111122223333:aws-controltower-SecurityNotifications",
            "arn:aws:iam::111122223333:role/service-role/AWSControlTowerStackSetRole",
            "arn:aws:logs:us-east-1:111122223333:log-group:aws-controltower/CloudTrailLogs:*",
            "arn:aws:cloudtrail:us-east-1:111122223333:trail/aws-controltower-BaselineCloudTrail",
            "StackSet-AWSControlTowerBP-BASELINE-ROLES-abc",
        ] {
            assert_eq!(by_name(n), Some(Owner::ControlTower), "{n}");
        }
        for n in [
            "AWSAccelerator-CloudTrail",
            "aws-accelerator-central-logs-111122223333-us-east-1",
            "alias/accelerator/kms/s3/key",
            "arn:aws:iam::1:role/AWSAccelerator-SessionManagerRole",
        ] {
            assert_eq!(by_name(n), Some(Owner::Accelerator), "{n}");
        }
        for n in [
            "cis-fix-trail",
            "controltower-like",
            "arn:aws:s3:::my-aws-controltower-copy",
            "OrganizationAccountAccessRole",
        ] {
            assert_eq!(by_name(n), None, "{n}");
        }
    }

    #[test]
    fn tags_of_stack_sets_and_the_accelerator() {
        assert_eq!(
            by_tags([(
                "aws:cloudformation:stack-name",
                "StackSet-AWSControlTowerBP-BASELINE-CLOUDTRAIL-1234"
            )]),
            Some(Owner::ControlTower)
        );
        assert_eq!(
            by_tags([
                ("Accelerator", "AWSAccelerator"),
                ("aws-control-tower", "managed-by-control-tower")
            ]),
            Some(Owner::ControlTower)
        );
        assert_eq!(
            by_tags([("Accelerator", "AWSAccelerator")]),
            Some(Owner::Accelerator)
        );
        assert_eq!(
            by_tags([("aws:cloudformation:stack-name", "my-stack")]),
            None
        );
        assert_eq!(by_tags([("Name", "AWSControlTower")]), None);
    }

    #[test]
    fn a_change_on_an_owned_resource_becomes_manual_and_the_rest_passes() {
        let change = Finding::change(
            "t",
            "log file validation is off",
            Action::Update,
            json!({"a": 1}),
            json!({"a": 2}),
            vec![ApiCall::new("cloudtrail:UpdateTrail", json!({}))],
        )
        .with_note("Undo turns it off.");
        let m = guard(change.clone(), "trail x", Some(&Owner::ControlTower));
        assert_eq!(m.status, Status::Manual);
        assert!(m.calls.is_empty() && m.action.is_none());
        assert!(m
            .summary
            .contains("owned by Control Tower: change it in the landing zone, not here"));
        assert!(m.notes.is_empty());
        assert_eq!(guard(change.clone(), "x", None), change);
        let ok = Finding::compliant("t", "fine", json!({}));
        assert_eq!(guard(ok.clone(), "x", Some(&Owner::Accelerator)), ok);
    }
}
