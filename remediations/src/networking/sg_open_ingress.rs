//! Security groups that let the whole internet reach sensitive ports: CIS 5.0 5.3 (admin
//! ports from 0.0.0.0/0), 5.4 (admin ports from ::/0) and 5.1.2 (CIFS from either). One
//! struct, three controls, differing only in data.
//!
//! The fix revokes exactly the offending rules by rule id. With `--trusted-cidr`, the same
//! protocol and ports are first authorized for the trusted range, so an operator does not
//! lose access.

use async_trait::async_trait;
use serde_json::Value;

use crate::aws::AwsError;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, Finding, Risk};
use crate::resources::security_group_rules::{self as sgr, GroupState, Rule};

pub struct SgOpenIngress {
    description: Description,
    ports: &'static [i32],
    ipv4: bool,
    ipv6: bool,
    what: &'static str,
}

/// What the three security-group controls share; each sets its slug.
const OPEN_INGRESS: Description = Description {
    slug: "",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSecurityGroupRules",
        ],
    write_actions: &[
            "ec2:RevokeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupEgress",
        ],
    change_profile: "medium, destructive (asked separately): only the offending rules, by rule id; reversible: undo re-authorizes them and removes trusted-range rules it added",
};

pub static CIFS: SgOpenIngress = SgOpenIngress {
    description: Description {
        slug: "cifs-restricted",
        ..OPEN_INGRESS
    },
    ports: &[445],
    ipv4: true,
    ipv6: true,
    what: "CIFS/SMB (445) from 0.0.0.0/0 or ::/0",
};

pub static ADMIN_PORTS_IPV4: SgOpenIngress = SgOpenIngress {
    description: Description {
        slug: "sg-no-admin-ports-ipv4",
        ..OPEN_INGRESS
    },
    ports: &[22, 3389],
    ipv4: true,
    ipv6: false,
    what: "SSH/RDP (22, 3389) from 0.0.0.0/0",
};

pub static ADMIN_PORTS_IPV6: SgOpenIngress = SgOpenIngress {
    description: Description {
        slug: "sg-no-admin-ports-ipv6",
        ..OPEN_INGRESS
    },
    ports: &[22, 3389],
    ipv4: false,
    ipv6: true,
    what: "SSH/RDP (22, 3389) from ::/0",
};

impl SgOpenIngress {
    fn offends(&self, r: &Rule) -> bool {
        let open = (self.ipv4 && r.cidr_ipv4.as_deref() == Some("0.0.0.0/0"))
            || (self.ipv6 && r.cidr_ipv6.as_deref() == Some("::/0"));
        !r.egress && open && self.ports.iter().any(|p| r.covers_port(*p))
    }

    /// The group's rules after the fix: offending rules gone, trusted mirrors added.
    fn desired(&self, rules: &[Rule], trusted_v4: &[&str], trusted_v6: &[&str]) -> Vec<Rule> {
        let mut out: Vec<Rule> = rules.iter().filter(|r| !self.offends(r)).cloned().collect();
        for r in rules.iter().filter(|r| self.offends(r)) {
            let mirrors: Vec<Rule> = if r.cidr_ipv4.is_some() {
                trusted_v4.iter().map(|c| r.with_source_v4(c)).collect()
            } else {
                trusted_v6.iter().map(|c| r.with_source_v6(c)).collect()
            };
            for m in mirrors {
                // An existing rule for the trusted range (any description) already does it.
                let same = |x: &Rule| {
                    Rule {
                        description: None,
                        ..x.clone()
                    } == Rule {
                        description: None,
                        ..m.clone()
                    }
                };
                if !out.iter().any(same) {
                    out.push(m);
                }
            }
        }
        out.sort();
        out
    }
}

#[async_trait]
impl Control for SgOpenIngress {
    fn description(&self) -> &Description {
        &self.description
    }
    fn reads_tags(&self) -> bool {
        true
    }

    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = crate::control::region_of(region)?;
        let groups = cx.reads.security_groups(cx.aws, region).await?;
        let all = cx.reads.security_group_rules(cx.aws, region).await?;
        let v4: Vec<&str> = cx.params.trusted_v4().collect();
        let v6: Vec<&str> = cx.params.trusted_v6().collect();
        let mut out = Vec::new();
        for g in &groups {
            let Some(gid) = g.group_id() else { continue };
            let current = sgr::rules_of(&all, gid);
            let state = sgr::state_of(&all, gid);
            let bad: Vec<&Rule> = state.rules.iter().filter(|r| self.offends(r)).collect();
            let target = sgr::target(g);
            if bad.is_empty() {
                out.push(Finding::compliant(
                    target,
                    format!("no ingress of {}", self.what),
                    state.to_value(),
                ));
                continue;
            }
            let desired = GroupState {
                group_id: gid.to_string(),
                rules: self.desired(&state.rules, &v4, &v6),
            };
            let calls = sgr::planned_calls(gid, &current, &desired.rules);
            let summary = format!(
                "open to the internet: {}",
                bad.iter()
                    .map(|r| r.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            let mut f = Finding::change(target, summary, Action::Update, state.to_value(), desired.to_value(), calls)
                .with_risk(Risk::Medium)
                .with_note(
                    "Only the rules listed are revoked, by rule id; other rules of the group, even in the same permission entry, stay.",
                );
            f.destructive = true;
            let trusted = if bad.iter().any(|r| r.cidr_ipv4.is_some()) {
                &v4
            } else {
                &v6
            };
            if trusted.is_empty() {
                // Nobody keeps access through this group: the bastion's SSH goes dark. Its own
                // question even under --yes (--allow-destructive).
                f = f.with_risk(Risk::High);
                f = f.with_note(
                    "Anyone who reaches these ports through this rule loses access. Give --trusted-cidr to keep access for your own range (it is authorized before the open rule is revoked).",
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn r(proto: &str, from: i32, to: i32, v4: Option<&str>, v6: Option<&str>) -> Rule {
        Rule {
            egress: false,
            protocol: proto.into(),
            from_port: Some(from),
            to_port: Some(to),
            cidr_ipv4: v4.map(Into::into),
            cidr_ipv6: v6.map(Into::into),
            prefix_list_id: None,
            referenced_group: None,
            description: None,
        }
    }

    #[test]
    fn only_open_rules_on_the_controls_ports_offend() {
        let ssh4 = r("tcp", 22, 22, Some("0.0.0.0/0"), None);
        let ssh6 = r("tcp", 22, 22, None, Some("::/0"));
        let ssh_private = r("tcp", 22, 22, Some("10.0.0.0/8"), None);
        let https = r("tcp", 443, 443, Some("0.0.0.0/0"), None);
        let wide = r("tcp", 0, 65535, Some("0.0.0.0/0"), None);
        assert!(ADMIN_PORTS_IPV4.offends(&ssh4) && !ADMIN_PORTS_IPV4.offends(&ssh6));
        assert!(ADMIN_PORTS_IPV6.offends(&ssh6) && !ADMIN_PORTS_IPV6.offends(&ssh4));
        assert!(!ADMIN_PORTS_IPV4.offends(&ssh_private) && !ADMIN_PORTS_IPV4.offends(&https));
        assert!(ADMIN_PORTS_IPV4.offends(&wide) && CIFS.offends(&wide));
        assert!(!CIFS.offends(&ssh4));
    }

    #[test]
    fn trusted_range_mirrors_the_open_rule() {
        let ssh4 = r("tcp", 22, 22, Some("0.0.0.0/0"), None);
        let https = r("tcp", 443, 443, Some("0.0.0.0/0"), None);
        let got = ADMIN_PORTS_IPV4.desired(&[ssh4.clone(), https.clone()], &["10.0.0.0/8"], &[]);
        assert_eq!(got.len(), 2);
        assert!(got.contains(&https));
        assert!(got
            .iter()
            .any(|x| x.cidr_ipv4.as_deref() == Some("10.0.0.0/8") && x.from_port == Some(22)));
    }
}
