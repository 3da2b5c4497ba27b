//! CIS 5.0 5.5: the default security group of every VPC allows no traffic.
//!
//! Revoking its rules cuts the traffic of everything attached to it, so the plan shows the
//! blast radius first: the network interfaces using the group and what owns them (in use →
//! asked separately, skipped under --yes without --force-in-use), and the groups whose rules
//! reference it. Rules are revoked by rule id and journaled, so undo re-authorizes them
//! exactly.

use async_trait::async_trait;
use aws_sdk_ec2::types as ec2;
use serde_json::Value;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, Finding, Risk};
use crate::resources::security_group_rules::{self as sgr, GroupState};

pub struct DefaultSecurityGroup;

const DESCRIPTION: Description = Description {
    slug: "default-security-group-closed",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSecurityGroupRules",
            "ec2:DescribeNetworkInterfaces",
        ],
    write_actions: &[
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
        ],
    change_profile: "medium, high when network interfaces use the group (asked separately; --yes needs --force-in-use); reversible: undo re-authorizes every revoked rule",
};

/// What one network interface belongs to, for the blast radius.
fn owner(eni: &ec2::NetworkInterface) -> String {
    let id = eni.network_interface_id().unwrap_or("eni-?");
    let what = if let Some(i) = eni.attachment().and_then(|a| a.instance_id()) {
        format!("instance {i}")
    } else if let Some(t) = eni
        .interface_type()
        .filter(|t| **t != ec2::NetworkInterfaceType::Interface)
    {
        format!("{} interface", t.as_str())
    } else if let Some(r) = eni
        .requester_id()
        .filter(|_| eni.requester_managed().unwrap_or(false))
    {
        format!("managed by {r}")
    } else {
        "not attached".to_string()
    };
    match eni.description().filter(|d| !d.is_empty()) {
        Some(d) => format!("{id}: {what} ({d})"),
        None => format!("{id}: {what}"),
    }
}

#[async_trait]
impl Control for DefaultSecurityGroup {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = crate::control::region_of(region)?;
        let groups = cx.reads.security_groups(cx.aws, region).await?;
        let all = cx.reads.security_group_rules(cx.aws, region).await?;
        let mut out = Vec::new();
        for g in groups
            .iter()
            .filter(|g| g.group_name() == Some("default") && g.vpc_id().is_some())
        {
            let Some(gid) = g.group_id() else { continue };
            let state = sgr::state_of(&all, gid);
            let target = sgr::target(g);
            if state.rules.is_empty() {
                out.push(Finding::compliant(
                    target,
                    "no rules: the default group allows no traffic",
                    state.to_value(),
                ));
                continue;
            }
            // Only a non-compliant group needs its blast radius read.
            let enis = cx.reads.network_interfaces(cx.aws, region).await?;
            let users: Vec<String> = enis
                .iter()
                .filter(|e| e.groups().iter().any(|x| x.group_id() == Some(gid)))
                .map(owner)
                .collect();
            let referencing: Vec<String> = groups
                .iter()
                .filter(|o| o.group_id() != Some(gid))
                .filter(|o| {
                    sgr::rules_of(&all, o.group_id().unwrap_or_default())
                        .iter()
                        .any(|(_, r)| r.referenced_group.as_deref() == Some(gid))
                })
                .map(|o| {
                    format!(
                        "{} ({})",
                        o.group_id().unwrap_or("?"),
                        o.group_name().unwrap_or("?")
                    )
                })
                .collect();
            let current = sgr::rules_of(&all, gid);
            let desired = GroupState {
                group_id: gid.to_string(),
                rules: Vec::new(),
            };
            let calls = sgr::planned_calls(gid, &current, &desired.rules);
            let summary = format!(
                "{}: {}",
                crate::plan::plural(state.rules.len(), "rule", "rules"),
                state
                    .rules
                    .iter()
                    .map(|r| r.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            let risk = if users.is_empty() {
                Risk::Medium
            } else {
                Risk::High
            };
            let mut f = Finding::change(target, summary, Action::Update, state.to_value(), desired.to_value(), calls)
                .with_risk(risk)
                .with_note(
                    "Every rule is revoked by its rule id and journaled; undo re-authorizes them exactly. Move its members to least-privilege groups first; CIS also suggests tagging the group \"DO NOT USE\".",
                );
            f.destructive = true;
            if users.is_empty() {
                f = f.with_note("No network interface uses this group.");
            }
            if !referencing.is_empty() {
                f = f.with_note(format!(
                    "Rules of other groups reference this one (traffic from its members to theirs is affected): {}",
                    referencing.join(", ")
                ));
            }
            f.in_use = users;
            out.push(f);
        }
        sgr::tag_findings(&mut out, &groups);
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        sgr::converge(
            cx,
            crate::control::region_of(region)?,
            &GroupState::from_value(&f.after)?,
        )
        .await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        _t: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        sgr::converge(
            cx,
            crate::control::region_of(region)?,
            &GroupState::from_value(previous)?,
        )
        .await
    }
}
