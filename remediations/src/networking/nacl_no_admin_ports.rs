//! CIS 5.0 5.2 (6.0/7.0 6.2): no network ACL allows ingress from 0.0.0.0/0 or ::/0 to the
//! admin ports 22 (SSH) and 3389 (RDP).
//!
//! One finding per network ACL. Its state is every entry of the ACL, both directions, keyed
//! `"ingress 100"` / `"egress 100"` (a direction and rule number identify an entry). The fix
//! keeps each offending rule number and either points it at the first trusted range of its
//! family (`--trusted-cidr`) or deletes it; undo puts back exactly the recorded entries. The
//! default rules (`*`, 32767 and above) are never written.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types as ec2;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct NaclNoAdminPorts;

const DESCRIPTION: Description = Description {
    slug: "nacl-no-admin-ports-ingress",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &["ec2:DescribeNetworkAcls"],
    write_actions: &[
            "ec2:ReplaceNetworkAclEntry",
            "ec2:DeleteNetworkAclEntry",
            "ec2:CreateNetworkAclEntry",
        ],
    change_profile: "medium; destructive (asked separately) when it deletes or replaces an entry, not when it only adds deny entries before an open rule; reversible: undo re-creates, replaces or deletes entries back to the recorded ones",
};

/// The ports CIS names for this control.
const ADMIN_PORTS: [i32; 2] = [22, 3389];

/// Rule numbers from here up are AWS's default (`*`) rules: they cannot be changed.
const FIRST_DEFAULT_RULE: i32 = 32767;

const TARGET_PREFIX: &str = "network ACL ";

fn internal(op: &str, msg: impl Into<String>) -> AwsError {
    AwsError::new(ErrorKind::Service, op, msg)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ports {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Icmp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r#type: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i32>,
}

/// One network ACL entry, as the API describes it (only stable fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    rule_number: i32,
    egress: bool,
    rule_action: String,
    protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv6_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port_range: Option<Ports>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    icmp_type_code: Option<Icmp>,
}

impl Rule {
    fn from_sdk(e: &ec2::NetworkAclEntry) -> Rule {
        Rule {
            rule_number: e.rule_number().unwrap_or_default(),
            egress: e.egress().unwrap_or(false),
            rule_action: e
                .rule_action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            protocol: e.protocol().unwrap_or_default().to_string(),
            cidr_block: e.cidr_block().map(str::to_string),
            ipv6_cidr_block: e.ipv6_cidr_block().map(str::to_string),
            port_range: e.port_range().map(|p| Ports {
                from: p.from(),
                to: p.to(),
            }),
            icmp_type_code: e.icmp_type_code().map(|i| Icmp {
                r#type: i.r#type(),
                code: i.code(),
            }),
        }
    }

    /// `"ingress 100"`: what identifies an entry within its ACL.
    fn key(&self) -> String {
        rule_key(self.egress, self.rule_number)
    }

    fn is_default_rule(&self) -> bool {
        self.rule_number >= FIRST_DEFAULT_RULE
    }

    fn source(&self) -> &str {
        self.cidr_block
            .as_deref()
            .or(self.ipv6_cidr_block.as_deref())
            .unwrap_or("?")
    }

    /// `rule 100 (allow tcp 22 from 0.0.0.0/0)`.
    fn describe(&self) -> String {
        let what = match protocol_class(&self.protocol) {
            ProtocolClass::All => "all traffic".to_string(),
            ProtocolClass::Ported(name) => {
                format!("{name} {}", describe_ports(self.port_range.as_ref()))
            }
            ProtocolClass::Other => format!("protocol {}", self.protocol),
        };
        format!(
            "rule {} ({} {what} from {})",
            self.rule_number,
            self.rule_action,
            self.source()
        )
    }
}

fn rule_key(egress: bool, rule_number: i32) -> String {
    format!(
        "{} {rule_number}",
        if egress { "egress" } else { "ingress" }
    )
}

fn describe_ports(p: Option<&Ports>) -> String {
    let (from, to) = port_bounds(p);
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProtocolClass {
    /// `-1`: every protocol and port.
    All,
    /// TCP or UDP: the port range applies.
    Ported(&'static str),
    /// ICMP and the rest: no ports.
    Other,
}

fn protocol_class(protocol: &str) -> ProtocolClass {
    match protocol.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" => ProtocolClass::All,
        "6" | "tcp" => ProtocolClass::Ported("tcp"),
        "17" | "udp" => ProtocolClass::Ported("udp"),
        _ => ProtocolClass::Other,
    }
}

/// The inclusive ports of a range; no range (or a missing bound) means every port.
fn port_bounds(p: Option<&Ports>) -> (i32, i32) {
    match p {
        None => (0, 65535),
        Some(p) => {
            let from = p.from.filter(|f| *f >= 0).unwrap_or(0);
            let to = p.to.filter(|t| *t >= 0).unwrap_or(65535);
            (from, to)
        }
    }
}

/// Does traffic of `protocol` on `ports` reach port 22 or 3389?
fn reaches_admin_port(protocol: &str, ports: Option<&Ports>) -> bool {
    match protocol_class(protocol) {
        ProtocolClass::All => true,
        ProtocolClass::Ported(_) => {
            let (from, to) = port_bounds(ports);
            ADMIN_PORTS.iter().any(|p| (from..=to).contains(p))
        }
        ProtocolClass::Other => false,
    }
}

/// Is `cidr` the whole address space (`0.0.0.0/0`, `::/0`)?
fn is_world(cidr: &str) -> bool {
    cidr.trim().ends_with("/0")
}

/// Is the entry an allowed ingress from anywhere that reaches an admin port (ignoring the
/// entries before it)?
fn offends(r: &Rule) -> bool {
    !r.egress
        && !r.is_default_rule()
        && r.rule_action.eq_ignore_ascii_case("allow")
        && (r.cidr_block.as_deref().is_some_and(is_world)
            || r.ipv6_cidr_block.as_deref().is_some_and(is_world))
        && reaches_admin_port(&r.protocol, r.port_range.as_ref())
}

/// The (protocol, admin port) pairs that `r` lets in from the internet, given the entries
/// evaluated before it: a lower-numbered deny from the same whole range shadows a pair.
/// NACL entries are evaluated in rule-number order and the first match wins.
fn exposed(r: &Rule, rules: &[Rule]) -> Vec<(&'static str, i32)> {
    if !offends(r) {
        return Vec::new();
    }
    let v6 = r.ipv6_cidr_block.as_deref().is_some_and(is_world);
    let protocols: &[&'static str] = match protocol_class(&r.protocol) {
        ProtocolClass::All => &["tcp", "udp"],
        ProtocolClass::Ported("tcp") => &["tcp"],
        ProtocolClass::Ported(_) => &["udp"],
        ProtocolClass::Other => &[],
    };
    let (from, to) = match protocol_class(&r.protocol) {
        ProtocolClass::All => (0, 65535),
        _ => port_bounds(r.port_range.as_ref()),
    };
    let shadowed = |proto: &str, port: i32| {
        rules.iter().any(|d| {
            !d.egress
                && d.rule_number < r.rule_number
                && d.rule_action.eq_ignore_ascii_case("deny")
                && (if v6 {
                    d.ipv6_cidr_block.as_deref().is_some_and(is_world)
                } else {
                    d.cidr_block.as_deref().is_some_and(is_world)
                })
                && match protocol_class(&d.protocol) {
                    ProtocolClass::All => true,
                    ProtocolClass::Ported(p) => {
                        let (f, t) = port_bounds(d.port_range.as_ref());
                        p == proto && f <= port && port <= t
                    }
                    ProtocolClass::Other => false,
                }
        })
    };
    let mut out = Vec::new();
    for proto in protocols {
        for port in ADMIN_PORTS {
            if from <= port && port <= to && !shadowed(proto, port) {
                out.push((*proto, port));
            }
        }
    }
    out
}

/// Free ingress rule numbers below `below`, highest first.
fn free_numbers_below(rules: &[Rule], below: i32, n: usize) -> Option<Vec<i32>> {
    let used = |k: i32| rules.iter().any(|r| !r.egress && r.rule_number == k);
    let free: Vec<i32> = (1..below).rev().filter(|k| !used(*k)).take(n).collect();
    (free.len() == n).then_some(free)
}

/// Does the entry admit more than the admin ports (so removing it removes other access)?
fn broader_than_admin_ports(r: &Rule) -> bool {
    match protocol_class(&r.protocol) {
        ProtocolClass::All => true,
        ProtocolClass::Ported(_) => {
            let (from, to) = port_bounds(r.port_range.as_ref());
            (from..=to).any(|p| !ADMIN_PORTS.contains(&p))
        }
        ProtocolClass::Other => false,
    }
}

/// One write to a network ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Create(Rule),
    Replace(Rule),
    Delete { egress: bool, rule_number: i32 },
}

impl Op {
    fn action(&self) -> &'static str {
        match self {
            Op::Create(_) => "ec2:CreateNetworkAclEntry",
            Op::Replace(_) => "ec2:ReplaceNetworkAclEntry",
            Op::Delete { .. } => "ec2:DeleteNetworkAclEntry",
        }
    }

    fn api_call(&self, acl: &str) -> ApiCall {
        let params = match self {
            Op::Create(r) | Op::Replace(r) => {
                let mut p = Map::new();
                p.insert("NetworkAclId".into(), json!(acl));
                if let Value::Object(fields) = serde_json::to_value(r).unwrap_or(Value::Null) {
                    p.extend(fields);
                }
                Value::Object(p)
            }
            Op::Delete {
                egress,
                rule_number,
            } => json!({ "NetworkAclId": acl, "RuleNumber": rule_number, "Egress": egress }),
        };
        ApiCall::new(self.action(), params)
    }

    async fn send(&self, client: &aws_sdk_ec2::Client, acl: &str) -> Result<(), AwsError> {
        match self {
            Op::Create(r) => {
                client
                    .create_network_acl_entry()
                    .network_acl_id(acl)
                    .rule_number(r.rule_number)
                    .egress(r.egress)
                    .rule_action(ec2::RuleAction::from(r.rule_action.as_str()))
                    .protocol(&r.protocol)
                    .set_cidr_block(r.cidr_block.clone())
                    .set_ipv6_cidr_block(r.ipv6_cidr_block.clone())
                    .set_port_range(sdk_ports(r))
                    .set_icmp_type_code(sdk_icmp(r))
                    .send()
                    .await
                    .map_err(aws_err("ec2:CreateNetworkAclEntry"))?;
            }
            Op::Replace(r) => {
                client
                    .replace_network_acl_entry()
                    .network_acl_id(acl)
                    .rule_number(r.rule_number)
                    .egress(r.egress)
                    .rule_action(ec2::RuleAction::from(r.rule_action.as_str()))
                    .protocol(&r.protocol)
                    .set_cidr_block(r.cidr_block.clone())
                    .set_ipv6_cidr_block(r.ipv6_cidr_block.clone())
                    .set_port_range(sdk_ports(r))
                    .set_icmp_type_code(sdk_icmp(r))
                    .send()
                    .await
                    .map_err(aws_err("ec2:ReplaceNetworkAclEntry"))?;
            }
            Op::Delete {
                egress,
                rule_number,
            } => {
                client
                    .delete_network_acl_entry()
                    .network_acl_id(acl)
                    .rule_number(*rule_number)
                    .egress(*egress)
                    .send()
                    .await
                    .map_err(aws_err("ec2:DeleteNetworkAclEntry"))?;
            }
        }
        Ok(())
    }
}

fn sdk_ports(r: &Rule) -> Option<ec2::PortRange> {
    r.port_range.as_ref().map(|p| {
        ec2::PortRange::builder()
            .set_from(p.from)
            .set_to(p.to)
            .build()
    })
}

fn sdk_icmp(r: &Rule) -> Option<ec2::IcmpTypeCode> {
    r.icmp_type_code.as_ref().map(|i| {
        ec2::IcmpTypeCode::builder()
            .set_type(i.r#type)
            .set_code(i.code)
            .build()
    })
}

/// The first usable trusted range of each family.
struct Trusted<'a> {
    v4: Option<&'a str>,
    v6: Option<&'a str>,
}

impl<'a> Trusted<'a> {
    fn from_params(cx: &'a Cx<'_>) -> Trusted<'a> {
        Trusted {
            v4: cx.params.trusted_v4().find(|c| !is_world(c)),
            v6: cx.params.trusted_v6().find(|c| !is_world(c)),
        }
    }
}

/// The writes that bring `rules` into line.
///
/// An entry that admits only admin ports keeps its rule number and either gets the trusted
/// range of its family in place of the open one, or is deleted. An entry that admits more
/// (the default ACL's allow-all rule 100, say) stays: deleting it would cut every other
/// inbound flow of its subnets, replies included. Instead, deny entries for the exposed
/// admin ports are put just before it (and, with a trusted range, allow entries for that
/// range before those), so only admin access from the internet is cut.
fn fix_ops(rules: &[Rule], trusted: &Trusted) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut taken: Vec<Rule> = rules.to_vec();
    for r in rules.iter().filter(|r| !exposed(r, rules).is_empty()) {
        let v6 = r.ipv6_cidr_block.as_deref().is_some_and(is_world);
        if broader_than_admin_ports(r) {
            let pairs = exposed(r, rules);
            let trusted_range = if v6 { trusted.v6 } else { trusted.v4 };
            let need = pairs.len() * if trusted_range.is_some() { 2 } else { 1 };
            if let Some(numbers) = free_numbers_below(&taken, r.rule_number, need) {
                let entry = |n: i32, action: &str, source: &str, proto: &str, port: i32| Rule {
                    rule_number: n,
                    egress: false,
                    rule_action: action.to_string(),
                    protocol: if proto == "tcp" {
                        "6".into()
                    } else {
                        "17".into()
                    },
                    cidr_block: (!v6).then(|| source.to_string()),
                    ipv6_cidr_block: v6.then(|| source.to_string()),
                    port_range: Some(Ports {
                        from: Some(port),
                        to: Some(port),
                    }),
                    icmp_type_code: None,
                };
                let world = if v6 { "::/0" } else { "0.0.0.0/0" };
                let (deny_numbers, allow_numbers) = numbers.split_at(pairs.len());
                for (n, (proto, port)) in deny_numbers.iter().zip(&pairs) {
                    let e = entry(*n, "deny", world, proto, *port);
                    taken.push(e.clone());
                    ops.push(Op::Create(e));
                }
                if let Some(t) = trusted_range {
                    for (n, (proto, port)) in allow_numbers.iter().zip(&pairs) {
                        let e = entry(*n, "allow", t, proto, *port);
                        taken.push(e.clone());
                        ops.push(Op::Create(e));
                    }
                }
                continue;
            }
        }
        ops.push({
            match (v6, trusted.v4, trusted.v6) {
                (false, Some(t), _) => Op::Replace(Rule {
                    cidr_block: Some(t.to_string()),
                    ..r.clone()
                }),
                (true, _, Some(t)) => Op::Replace(Rule {
                    ipv6_cidr_block: Some(t.to_string()),
                    ..r.clone()
                }),
                _ => Op::Delete {
                    egress: r.egress,
                    rule_number: r.rule_number,
                },
            }
        });
    }
    ops
}

/// The writes that turn the entries `now` back into `previous`. Default rules are left alone.
fn restore_ops(now: &BTreeMap<String, Rule>, previous: &BTreeMap<String, Rule>) -> Vec<Op> {
    let mut ops = Vec::new();
    for (k, r) in now {
        if !r.is_default_rule() && !previous.contains_key(k) {
            ops.push(Op::Delete {
                egress: r.egress,
                rule_number: r.rule_number,
            });
        }
    }
    for (k, r) in previous {
        if r.is_default_rule() {
            continue;
        }
        match now.get(k) {
            None => ops.push(Op::Create(r.clone())),
            Some(cur) if cur != r => ops.push(Op::Replace(r.clone())),
            Some(_) => {}
        }
    }
    ops
}

/// What the entries are once `ops` are made.
fn after_ops(rules: &BTreeMap<String, Rule>, ops: &[Op]) -> BTreeMap<String, Rule> {
    let mut out = rules.clone();
    for op in ops {
        match op {
            Op::Create(r) | Op::Replace(r) => {
                out.insert(r.key(), r.clone());
            }
            Op::Delete {
                egress,
                rule_number,
            } => {
                out.remove(&rule_key(*egress, *rule_number));
            }
        }
    }
    out
}

fn by_key(rules: &[Rule]) -> BTreeMap<String, Rule> {
    rules.iter().map(|r| (r.key(), r.clone())).collect()
}

fn state(rules: &BTreeMap<String, Rule>) -> Value {
    serde_json::to_value(rules).unwrap_or(Value::Null)
}

fn parse_state(op: &str, v: &Value) -> Result<BTreeMap<String, Rule>, AwsError> {
    serde_json::from_value(v.clone()).map_err(|e| {
        internal(
            op,
            format!("recorded network ACL entries are unreadable: {e}"),
        )
    })
}

/// The ACL id out of a target made by [`target_of`].
fn acl_of(op: &str, target: &str) -> Result<String, AwsError> {
    target
        .strip_prefix(TARGET_PREFIX)
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|id| id.starts_with("acl-"))
        .map(str::to_string)
        .ok_or_else(|| internal(op, format!("'{target}' does not name a network ACL")))
}

fn target_of(acl: &ec2::NetworkAcl) -> String {
    format!(
        "{TARGET_PREFIX}{} ({})",
        acl.network_acl_id().unwrap_or_default(),
        acl.vpc_id().unwrap_or("no VPC")
    )
}

fn rules_of(acl: &ec2::NetworkAcl) -> Vec<Rule> {
    let mut rules: Vec<Rule> = acl.entries().iter().map(Rule::from_sdk).collect();
    rules.sort_by_key(|r| (r.egress, r.rule_number));
    rules
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

fn finding_for(acl: &ec2::NetworkAcl, cx: &Cx<'_>) -> Finding {
    let target = target_of(acl);
    let rules = rules_of(acl);
    let current = by_key(&rules);
    let before = state(&current);
    let bad: Vec<&Rule> = rules
        .iter()
        .filter(|r| !exposed(r, &rules).is_empty())
        .collect();
    if bad.is_empty() {
        return Finding::compliant(
            target,
            "no ingress rule allows 0.0.0.0/0 or ::/0 to port 22 or 3389",
            before,
        );
    }
    let acl_id = acl.network_acl_id().unwrap_or_default();
    let trusted = Trusted::from_params(cx);
    let ops = fix_ops(&rules, &trusted);
    let after = state(&after_ops(&current, &ops));
    let calls = ops.iter().map(|o| o.api_call(acl_id)).collect();
    let described: Vec<String> = bad.iter().map(|r| r.describe()).collect();
    let summary = format!(
        "ingress open to the internet on port 22/3389: {}",
        list(&described)
    );
    let mut f = Finding::change(target, summary, Action::Update, before, after, calls)
        .with_risk(Risk::Medium)
        .with_note(
            "Network ACLs are stateless and apply to every instance in their subnets: an \
             ingress rule removed here also stops the replies and other traffic it let in, \
             for all of them.",
        );
    // Deny entries added before an allow rule take nothing away that the ACL meant to keep;
    // deleting or replacing an entry does.
    f.destructive = ops.iter().any(|o| !matches!(o, Op::Create(_)));
    f.reversible = true;

    let mut subnets: Vec<String> = acl
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_string))
        .collect();
    subnets.sort();
    f = f.with_note(if subnets.is_empty() {
        "Not associated with any subnet.".to_string()
    } else {
        format!("Associated subnets: {}.", list(&subnets))
    });
    if acl.is_default() == Some(true) {
        f = f.with_note(format!(
            "This is the default network ACL of {}: new subnets there get it too.",
            acl.vpc_id().unwrap_or("its VPC")
        ));
    }

    let kept: Vec<String> = bad
        .iter()
        .filter(|r| !ops.iter().any(|o| matches!(o, Op::Delete { rule_number, egress } if *rule_number == r.rule_number && *egress == r.egress)))
        .filter(|r| !ops.iter().any(|o| matches!(o, Op::Replace(n) if n.key() == r.key())))
        .map(|r| r.describe())
        .collect();
    if !kept.is_empty() {
        f = f.with_note(format!(
            "{} {} more than the admin ports and {}: deleting such a rule would cut \
             every other inbound flow of the subnets, replies included. Deny entries for the \
             exposed admin ports are added just before it instead.",
            list(&kept),
            if kept.len() == 1 { "admits" } else { "admit" },
            if kept.len() == 1 { "stays" } else { "stay" },
        ));
    }
    let dropped: Vec<String> = bad
        .iter()
        .filter(|r| broader_than_admin_ports(r))
        .filter(|r| !kept.contains(&r.describe()))
        .map(|r| r.describe())
        .collect();
    if !dropped.is_empty() {
        f = f.with_note(format!(
            "{}: no free rule numbers below it for deny entries, so it is removed or narrowed, \
             which also cuts the other traffic it admits (replies on ephemeral ports \
             included). Add narrower allow rules first if the subnets need them.",
            list(&dropped)
        ));
        f.risk = Risk::High;
    }
    for (family, given, first, v6) in [
        ("IPv4", cx.params.trusted_v4().count(), trusted.v4, false),
        ("IPv6", cx.params.trusted_v6().count(), trusted.v6, true),
    ] {
        let rules_of_family: Vec<String> = bad
            .iter()
            .filter(|r| r.ipv6_cidr_block.as_deref().is_some_and(is_world) == v6)
            .map(|r| r.rule_number.to_string())
            .collect();
        if rules_of_family.is_empty() {
            continue;
        }
        if let (Some(first), true) = (first, given > 1) {
            f = f.with_note(format!(
                "{given} trusted {family} ranges were given; a network ACL rule holds one \
                 range, so only the first ({first}) is used here."
            ));
        }
        if first.is_none() && !cx.params.trusted_cidrs.is_empty() {
            f = f.with_note(format!(
                "No trusted {family} range was given, so {family} {} {} {} deleted \
                 rather than narrowed.",
                if rules_of_family.len() == 1 {
                    "rule"
                } else {
                    "rules"
                },
                list(&rules_of_family),
                if rules_of_family.len() == 1 {
                    "is"
                } else {
                    "are"
                }
            ));
        }
    }
    f
}

async fn acl_now(
    cx: &Cx<'_>,
    region: &str,
    acl_id: &str,
    op: &str,
) -> Result<BTreeMap<String, Rule>, AwsError> {
    let acls = cx.reads.network_acls(cx.aws, region).await?;
    let acl = acls
        .iter()
        .find(|a| a.network_acl_id() == Some(acl_id))
        .ok_or_else(|| internal(op, format!("network ACL {acl_id} no longer exists")))?;
    Ok(by_key(&rules_of(acl)))
}

#[async_trait]
impl Control for NaclNoAdminPorts {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let mut acls = cx.reads.network_acls(cx.aws, region).await?;
        acls.sort_by(|a, b| a.network_acl_id().cmp(&b.network_acl_id()));
        if acls.is_empty() {
            return Ok(vec![Finding::compliant(
                format!("network ACLs ({region})"),
                "no network ACLs in this region",
                json!({}),
            )]);
        }
        Ok(acls.iter().map(|a| finding_for(a, cx)).collect())
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        const OP: &str = "ec2:ReplaceNetworkAclEntry";
        let region = region_of(region)?;
        let acl = acl_of(OP, &f.target)?;
        let current = parse_state(OP, &f.before)?;
        let rules: Vec<Rule> = current.into_values().collect();
        let client = cx.aws.ec2(region);
        for op in fix_ops(&rules, &Trusted::from_params(cx)) {
            op.send(&client, &acl).await?;
        }
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        const OP: &str = "ec2:CreateNetworkAclEntry";
        let region = region_of(region)?;
        let acl = acl_of(OP, target)?;
        let previous = parse_state(OP, previous)?;
        let now = acl_now(cx, region, &acl, "ec2:DescribeNetworkAcls").await?;
        let client = cx.aws.ec2(region);
        for op in restore_ops(&now, &previous) {
            op.send(&client, &acl).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        n: i32,
        egress: bool,
        action: &str,
        proto: &str,
        cidr: &str,
        ports: Option<(i32, i32)>,
    ) -> Rule {
        let v6 = cidr.contains(':');
        Rule {
            rule_number: n,
            egress,
            rule_action: action.into(),
            protocol: proto.into(),
            cidr_block: (!v6).then(|| cidr.to_string()),
            ipv6_cidr_block: v6.then(|| cidr.to_string()),
            port_range: ports.map(|(f, t)| Ports {
                from: Some(f),
                to: Some(t),
            }),
            icmp_type_code: None,
        }
    }

    fn ingress(n: i32, proto: &str, cidr: &str, ports: Option<(i32, i32)>) -> Rule {
        rule(n, false, "allow", proto, cidr, ports)
    }

    #[test]
    fn protocols_and_port_ranges() {
        let p = |f, t| {
            Some(Ports {
                from: Some(f),
                to: Some(t),
            })
        };
        assert!(reaches_admin_port("-1", None));
        assert!(
            reaches_admin_port("-1", p(80, 80).as_ref()),
            "ports are ignored for -1"
        );
        assert!(reaches_admin_port("6", p(22, 22).as_ref()));
        assert!(reaches_admin_port("6", p(3389, 3389).as_ref()));
        assert!(reaches_admin_port("17", p(3000, 4000).as_ref()));
        assert!(reaches_admin_port("6", p(0, 65535).as_ref()));
        assert!(reaches_admin_port("6", p(1, 1024).as_ref()));
        assert!(
            reaches_admin_port("tcp", None),
            "tcp without a range: all ports"
        );
        assert!(!reaches_admin_port("6", p(23, 3388).as_ref()));
        assert!(!reaches_admin_port("6", p(443, 443).as_ref()));
        assert!(!reaches_admin_port("6", p(3390, 65535).as_ref()));
        assert!(!reaches_admin_port("1", None), "icmp has no ports");
        assert!(!reaches_admin_port("58", None));
        assert!(!reaches_admin_port("50", None));
    }

    #[test]
    fn what_offends() {
        assert!(offends(&ingress(100, "6", "0.0.0.0/0", Some((22, 22)))));
        assert!(offends(&ingress(100, "-1", "0.0.0.0/0", None)));
        assert!(offends(&ingress(100, "-1", "::/0", None)));
        assert!(offends(&ingress(100, "17", "::/0", Some((3389, 3389)))));
        // Not from everywhere, not allow, not ingress, not an admin port, a default rule.
        assert!(!offends(&ingress(100, "6", "10.0.0.0/8", Some((22, 22)))));
        assert!(!offends(&ingress(
            100,
            "6",
            "2001:db8::/32",
            Some((22, 22))
        )));
        assert!(!offends(&rule(
            100,
            false,
            "deny",
            "6",
            "0.0.0.0/0",
            Some((22, 22))
        )));
        assert!(!offends(&rule(100, true, "allow", "-1", "0.0.0.0/0", None)));
        assert!(!offends(&ingress(110, "6", "0.0.0.0/0", Some((443, 443)))));
        assert!(!offends(&ingress(120, "1", "0.0.0.0/0", None)));
        assert!(!offends(&ingress(32767, "-1", "0.0.0.0/0", None)));
        assert!(!offends(&ingress(32768, "-1", "::/0", None)));
    }

    #[test]
    fn broad_rules_are_told_apart() {
        assert!(broader_than_admin_ports(&ingress(
            1,
            "-1",
            "0.0.0.0/0",
            None
        )));
        assert!(broader_than_admin_ports(&ingress(
            1,
            "6",
            "0.0.0.0/0",
            Some((20, 25))
        )));
        assert!(!broader_than_admin_ports(&ingress(
            1,
            "6",
            "0.0.0.0/0",
            Some((22, 22))
        )));
        assert!(!broader_than_admin_ports(&ingress(
            1,
            "6",
            "0.0.0.0/0",
            Some((3389, 3389))
        )));
    }

    fn sample() -> Vec<Rule> {
        vec![
            ingress(100, "6", "0.0.0.0/0", Some((22, 22))),
            ingress(110, "6", "0.0.0.0/0", Some((443, 443))),
            ingress(120, "-1", "::/0", None),
            rule(32767, false, "deny", "-1", "0.0.0.0/0", None),
            rule(100, true, "allow", "-1", "0.0.0.0/0", None),
        ]
    }

    fn still_exposed(rules: &BTreeMap<String, Rule>) -> Vec<String> {
        let list: Vec<Rule> = rules.values().cloned().collect();
        list.iter()
            .filter(|r| !exposed(r, &list).is_empty())
            .map(|r| r.key())
            .collect()
    }

    #[test]
    fn narrow_rules_are_deleted_and_broad_ones_get_denies_before_them() {
        let ops = fix_ops(&sample(), &Trusted { v4: None, v6: None });
        assert_eq!(
            ops[0],
            Op::Delete {
                egress: false,
                rule_number: 100
            }
        );
        // Rule 120 (all traffic from ::/0) stays; tcp and udp 22/3389 are denied before it.
        let creates: Vec<(i32, &str, &str, i32)> = ops[1..]
            .iter()
            .map(|o| match o {
                Op::Create(r) => (
                    r.rule_number,
                    r.rule_action.as_str(),
                    r.protocol.as_str(),
                    r.port_range.as_ref().unwrap().from.unwrap(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            creates,
            [
                (119, "deny", "6", 22),
                (118, "deny", "6", 3389),
                (117, "deny", "17", 22),
                (116, "deny", "17", 3389)
            ]
        );
        let after = after_ops(&by_key(&sample()), &ops);
        assert!(after.contains_key("ingress 120"), "the broad rule stays");
        assert!(still_exposed(&after).is_empty(), "{after:?}");
    }

    #[test]
    fn trusted_ranges_narrow_narrow_rules_and_precede_the_denies() {
        let ops = fix_ops(
            &sample(),
            &Trusted {
                v4: Some("10.0.0.0/8"),
                v6: None,
            },
        );
        assert_eq!(
            ops[0],
            Op::Replace(ingress(100, "6", "10.0.0.0/8", Some((22, 22))))
        );
        assert_eq!(ops.len(), 5, "{ops:?}");
        let ops = fix_ops(
            &sample(),
            &Trusted {
                v4: None,
                v6: Some("2001:db8::/32"),
            },
        );
        assert_eq!(
            ops[0],
            Op::Delete {
                egress: false,
                rule_number: 100
            }
        );
        assert_eq!(ops.len(), 9, "four denies and four trusted allows: {ops:?}");
        let allows: Vec<&Rule> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Create(r) if r.rule_action == "allow" => Some(r),
                _ => None,
            })
            .collect();
        assert!(allows
            .iter()
            .all(|r| r.ipv6_cidr_block.as_deref() == Some("2001:db8::/32") && r.rule_number < 116));
        let after = after_ops(&by_key(&sample()), &ops);
        assert!(still_exposed(&after).is_empty());
    }

    #[test]
    fn no_room_below_a_broad_rule_falls_back_to_removing_it() {
        let rules = vec![ingress(1, "-1", "0.0.0.0/0", None)];
        let ops = fix_ops(&rules, &Trusted { v4: None, v6: None });
        assert_eq!(
            ops,
            vec![Op::Delete {
                egress: false,
                rule_number: 1
            }]
        );
    }

    #[test]
    fn api_calls_carry_the_whole_entry() {
        let op = Op::Replace(ingress(100, "6", "10.0.0.0/8", Some((22, 22))));
        let c = op.api_call("acl-1");
        assert_eq!(c.action, "ec2:ReplaceNetworkAclEntry");
        assert_eq!(
            c.params,
            json!({"NetworkAclId": "acl-1", "RuleNumber": 100, "Egress": false,
                   "RuleAction": "allow", "Protocol": "6", "CidrBlock": "10.0.0.0/8",
                   "PortRange": {"From": 22, "To": 22}})
        );
        let d = Op::Delete {
            egress: false,
            rule_number: 7,
        }
        .api_call("acl-1");
        assert_eq!(
            d.params,
            json!({"NetworkAclId": "acl-1", "RuleNumber": 7, "Egress": false})
        );
    }

    #[test]
    fn restore_puts_back_exactly_the_previous_entries() {
        let previous = by_key(&sample());
        let mut now = previous.clone();
        now.remove("ingress 100");
        now.insert(
            "ingress 120".into(),
            ingress(120, "-1", "2001:db8::/32", None),
        );
        now.insert(
            "ingress 200".into(),
            ingress(200, "6", "10.0.0.0/8", Some((80, 80))),
        );
        now.insert(
            "egress 32767".into(),
            rule(32767, true, "deny", "-1", "0.0.0.0/0", None),
        );
        let ops = restore_ops(&now, &previous);
        assert_eq!(
            ops,
            vec![
                Op::Delete {
                    egress: false,
                    rule_number: 200
                },
                Op::Create(ingress(100, "6", "0.0.0.0/0", Some((22, 22)))),
                Op::Replace(ingress(120, "-1", "::/0", None)),
            ],
            "default rules are never written"
        );
        let restored = after_ops(&now, &ops);
        let mut expect = previous.clone();
        expect.insert("egress 32767".into(), now["egress 32767"].clone());
        assert_eq!(restored, expect);
        assert!(restore_ops(&previous, &previous).is_empty());
    }

    #[test]
    fn state_round_trips_and_targets_name_the_acl() {
        let s = state(&by_key(&sample()));
        assert_eq!(parse_state("x", &s).unwrap(), by_key(&sample()));
        assert_eq!(
            s["ingress 100"],
            json!({"RuleNumber": 100, "Egress": false, "RuleAction": "allow", "Protocol": "6",
                   "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22}})
        );
        assert_eq!(
            acl_of("x", "network ACL acl-0abc (vpc-1)").unwrap(),
            "acl-0abc"
        );
        assert!(acl_of("x", "route table rtb-1").is_err());
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            ingress(100, "6", "0.0.0.0/0", Some((22, 22))).describe(),
            "rule 100 (allow tcp 22 from 0.0.0.0/0)"
        );
        assert_eq!(
            ingress(120, "-1", "::/0", None).describe(),
            "rule 120 (allow all traffic from ::/0)"
        );
        assert_eq!(
            ingress(130, "17", "0.0.0.0/0", Some((1000, 4000))).describe(),
            "rule 130 (allow udp 1000-4000 from 0.0.0.0/0)"
        );
    }
}
