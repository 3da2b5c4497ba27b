//! Security-group rules as stable data, shared by the security-group controls (default group
//! lockdown, admin ports, CIFS).
//!
//! A group's state is its set of rules without their `sgr-` ids: ids change when a rule is
//! re-created by undo, the rules themselves do not. Every change is made by converging the
//! group on a desired rule set: authorize what is missing first (so a trusted range is in
//! place before an open one goes), then revoke what is extra by rule id, which removes
//! exactly those rules and never others that share an IpPermission entry.

use aws_sdk_ec2::types::{
    self as ec2, IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::Cx;
use crate::plan::ApiCall;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub egress: bool,
    /// "-1" (all), "tcp", "udp", "icmp", or a protocol number.
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Rule {
    fn from_sdk(r: &ec2::SecurityGroupRule) -> Rule {
        let protocol = r.ip_protocol().unwrap_or("-1").to_string();
        // All-traffic rules carry -1/-1 (or nothing) as ports; one spelling for both.
        let all = protocol == "-1";
        Rule {
            egress: r.is_egress().unwrap_or(false),
            from_port: r.from_port().filter(|_| !all),
            to_port: r.to_port().filter(|_| !all),
            protocol,
            cidr_ipv4: r.cidr_ipv4().map(str::to_string),
            cidr_ipv6: r.cidr_ipv6().map(str::to_string),
            prefix_list_id: r.prefix_list_id().map(str::to_string),
            referenced_group: r
                .referenced_group_info()
                .and_then(|g| g.group_id())
                .map(str::to_string),
            description: r
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        }
    }

    /// The rule as an IpPermission, for authorize calls.
    fn to_permission(&self) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if self.protocol != "-1" {
            p = p.set_from_port(self.from_port).set_to_port(self.to_port);
        }
        let d = self.description.clone();
        if let Some(c) = &self.cidr_ipv4 {
            p = p.ip_ranges(
                IpRange::builder()
                    .cidr_ip(c)
                    .set_description(d.clone())
                    .build(),
            );
        }
        if let Some(c) = &self.cidr_ipv6 {
            p = p.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(c)
                    .set_description(d.clone())
                    .build(),
            );
        }
        if let Some(pl) = &self.prefix_list_id {
            p = p.prefix_list_ids(
                PrefixListId::builder()
                    .prefix_list_id(pl)
                    .set_description(d.clone())
                    .build(),
            );
        }
        if let Some(g) = &self.referenced_group {
            p = p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(g)
                    .set_description(d)
                    .build(),
            );
        }
        p.build()
    }

    /// Whether the rule lets `port` through (all-traffic rules let every port through).
    pub fn covers_port(&self, port: i32) -> bool {
        match self.protocol.as_str() {
            "-1" => true,
            "tcp" | "6" | "udp" | "17" => match (self.from_port, self.to_port) {
                (Some(f), Some(t)) => (f == -1 && t == -1) || (f <= port && port <= t),
                _ => true,
            },
            _ => false,
        }
    }

    /// Same protocol and ports, another source: the trusted replacement of an open rule.
    pub fn with_source_v4(&self, cidr: &str) -> Rule {
        Rule {
            cidr_ipv4: Some(cidr.to_string()),
            cidr_ipv6: None,
            description: Some("trusted range kept by cis-fix".into()),
            ..self.clone()
        }
    }

    pub fn with_source_v6(&self, cidr: &str) -> Rule {
        Rule {
            cidr_ipv4: None,
            cidr_ipv6: Some(cidr.to_string()),
            description: Some("trusted range kept by cis-fix".into()),
            ..self.clone()
        }
    }

    /// "ingress tcp 22 from 0.0.0.0/0".
    pub fn describe(&self) -> String {
        let dir = if self.egress { "egress" } else { "ingress" };
        let proto = if self.protocol == "-1" {
            "all traffic".to_string()
        } else {
            self.protocol.clone()
        };
        let ports = match (self.from_port, self.to_port) {
            (Some(f), Some(t)) if f == t => format!(" {f}"),
            (Some(f), Some(t)) if f != -1 => format!(" {f}-{t}"),
            _ => String::new(),
        };
        let peer = self
            .cidr_ipv4
            .clone()
            .or_else(|| self.cidr_ipv6.clone())
            .or_else(|| self.prefix_list_id.clone())
            .or_else(|| self.referenced_group.clone())
            .unwrap_or_else(|| "?".into());
        let (word, _) = if self.egress {
            ("to", ())
        } else {
            ("from", ())
        };
        format!("{dir} {proto}{ports} {word} {peer}")
    }
}

/// The observed state of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupState {
    pub group_id: String,
    pub rules: Vec<Rule>,
}

impl GroupState {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn from_value(v: &Value) -> Result<GroupState, AwsError> {
        serde_json::from_value(v.clone()).map_err(|e| {
            AwsError::new(
                ErrorKind::Service,
                "ec2",
                format!("internal: unreadable security-group state: {e}"),
            )
        })
    }
}

/// The rules of `group_id` (sorted), with their ids.
pub fn rules_of(all: &[ec2::SecurityGroupRule], group_id: &str) -> Vec<(String, Rule)> {
    let mut v: Vec<(String, Rule)> = all
        .iter()
        .filter(|r| r.group_id() == Some(group_id))
        .map(|r| {
            (
                r.security_group_rule_id().unwrap_or_default().to_string(),
                Rule::from_sdk(r),
            )
        })
        .collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

pub fn state_of(all: &[ec2::SecurityGroupRule], group_id: &str) -> GroupState {
    GroupState {
        group_id: group_id.to_string(),
        rules: rules_of(all, group_id)
            .into_iter()
            .map(|(_, r)| r)
            .collect(),
    }
}

/// Give each finding of a group its tags (DescribeSecurityGroups returns them; no extra call).
pub fn tag_findings(findings: &mut [crate::plan::Finding], groups: &[ec2::SecurityGroup]) {
    for f in findings.iter_mut() {
        if let Some(g) = groups.iter().find(|g| target(g) == f.target) {
            f.add_tags(g.tags().iter().map(|t| (t.key(), t.value())));
        }
    }
}

/// The target name every security-group control uses for a group, so that changes by
/// several controls to one group chain within a run.
pub fn target(g: &ec2::SecurityGroup) -> String {
    format!(
        "security group {} ({}, {})",
        g.group_id().unwrap_or("?"),
        g.group_name().unwrap_or("?"),
        g.vpc_id().unwrap_or("no VPC")
    )
}

/// The calls that take `current` (with ids) to `desired`, for the plan's display.
pub fn planned_calls(group_id: &str, current: &[(String, Rule)], desired: &[Rule]) -> Vec<ApiCall> {
    let mut calls = Vec::new();
    for egress in [false, true] {
        let add: Vec<&Rule> = desired
            .iter()
            .filter(|r| r.egress == egress && !current.iter().any(|(_, c)| c == *r))
            .collect();
        if !add.is_empty() {
            let op = if egress {
                "ec2:AuthorizeSecurityGroupEgress"
            } else {
                "ec2:AuthorizeSecurityGroupIngress"
            };
            calls.push(ApiCall::new(
                op,
                json!({ "GroupId": group_id, "Rules": add.iter().map(|r| r.describe()).collect::<Vec<_>>() }),
            ));
        }
    }
    for egress in [false, true] {
        let ids: Vec<&str> = current
            .iter()
            .filter(|(_, r)| r.egress == egress && !desired.contains(r))
            .map(|(id, _)| id.as_str())
            .collect();
        if !ids.is_empty() {
            let op = if egress {
                "ec2:RevokeSecurityGroupEgress"
            } else {
                "ec2:RevokeSecurityGroupIngress"
            };
            calls.push(ApiCall::new(
                op,
                json!({ "GroupId": group_id, "SecurityGroupRuleIds": ids }),
            ));
        }
    }
    calls
}

/// Make the group's rules exactly `desired`: authorize what is missing, then revoke what is
/// extra by rule id. Reads the group's rules fresh (the engine gives apply and undo fresh
/// reads).
pub async fn converge(cx: &Cx<'_>, region: &str, desired: &GroupState) -> Result<(), AwsError> {
    let all = cx.reads.security_group_rules(cx.aws, region).await?;
    let current = rules_of(&all, &desired.group_id);
    let ec2c = cx.aws.ec2(region);
    for egress in [false, true] {
        let add: Vec<IpPermission> = desired
            .rules
            .iter()
            .filter(|r| r.egress == egress && !current.iter().any(|(_, c)| c == *r))
            .map(Rule::to_permission)
            .collect();
        if add.is_empty() {
            continue;
        }
        if egress {
            ec2c.authorize_security_group_egress()
                .group_id(&desired.group_id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .map_err(aws_err("ec2:AuthorizeSecurityGroupEgress"))?;
        } else {
            ec2c.authorize_security_group_ingress()
                .group_id(&desired.group_id)
                .set_ip_permissions(Some(add))
                .send()
                .await
                .map_err(aws_err("ec2:AuthorizeSecurityGroupIngress"))?;
        }
    }
    for egress in [false, true] {
        let ids: Vec<String> = current
            .iter()
            .filter(|(_, r)| r.egress == egress && !desired.rules.contains(r))
            .map(|(id, _)| id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        if egress {
            ec2c.revoke_security_group_egress()
                .group_id(&desired.group_id)
                .set_security_group_rule_ids(Some(ids))
                .send()
                .await
                .map_err(aws_err("ec2:RevokeSecurityGroupEgress"))?;
        } else {
            ec2c.revoke_security_group_ingress()
                .group_id(&desired.group_id)
                .set_security_group_rule_ids(Some(ids))
                .send()
                .await
                .map_err(aws_err("ec2:RevokeSecurityGroupIngress"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: &str, from: Option<i32>, to: Option<i32>) -> Rule {
        Rule {
            egress: false,
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            cidr_ipv4: Some("0.0.0.0/0".into()),
            cidr_ipv6: None,
            prefix_list_id: None,
            referenced_group: None,
            description: None,
        }
    }

    #[test]
    fn port_coverage() {
        assert!(rule("tcp", Some(22), Some(22)).covers_port(22));
        assert!(rule("tcp", Some(0), Some(3389)).covers_port(22));
        assert!(rule("-1", None, None).covers_port(3389));
        assert!(rule("udp", Some(3389), Some(3389)).covers_port(3389));
        assert!(!rule("tcp", Some(443), Some(443)).covers_port(22));
        assert!(!rule("icmp", Some(-1), Some(-1)).covers_port(22));
    }

    #[test]
    fn planned_calls_revoke_by_id_and_authorize_first() {
        let open = rule("tcp", Some(22), Some(22));
        let https = rule("tcp", Some(443), Some(443));
        let trusted = open.with_source_v4("10.0.0.0/8");
        let current = vec![
            ("sgr-1".to_string(), open.clone()),
            ("sgr-2".to_string(), https.clone()),
        ];
        let calls = planned_calls("sg-1", &current, &[https, trusted]);
        assert_eq!(calls[0].action, "ec2:AuthorizeSecurityGroupIngress");
        assert_eq!(calls[1].action, "ec2:RevokeSecurityGroupIngress");
        assert_eq!(calls[1].params["SecurityGroupRuleIds"], json!(["sgr-1"]));
    }

    #[test]
    fn describes_rules() {
        assert_eq!(
            rule("tcp", Some(22), Some(22)).describe(),
            "ingress tcp 22 from 0.0.0.0/0"
        );
        assert_eq!(
            rule("-1", None, None).describe(),
            "ingress all traffic from 0.0.0.0/0"
        );
    }
}
