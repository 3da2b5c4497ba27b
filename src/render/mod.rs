//! Renderers: pure functions from a plan (or results) to text.

mod asff;
mod diff;
mod fold;
mod markdown;
mod summary;
mod text;
mod wrap;

pub use asff::{plan_asff, REQUIRED as ASFF_REQUIRED};
pub use diff::{describe_moves, field_diff, FieldChange};
pub use fold::{fold, Group};
pub use markdown::plan_markdown;
pub use summary::{Outcomes, Run};
pub use text::{
    exception_warnings, item_text, items_text, plan_text, plural, status_label, summary_line,
    symbol, TextOptions,
};
pub use wrap::{output_width, wrap, DEFAULT_WIDTH};

use serde_json::Value;

/// A JSON value as a person reads it: strings bare, null as "(none)", a network ACL entry as
/// a rule reads (`deny tcp 22 from 0.0.0.0/0`), other objects as `Key=value` pairs.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        Value::Object(m) => acl_entry(m).unwrap_or_else(|| {
            m.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("Protocol" | "IpProtocol", Value::String(p)) => {
                        format!("{k}={}", protocol(p))
                    }
                    _ => format!("{k}={}", show_value(v)),
                })
                .collect::<Vec<_>>()
                .join(" ")
        }),
        other => other.to_string(),
    }
}

/// A network ACL entry (`RuleAction`, `Protocol`, a CIDR, `Egress`, `PortRange`; its number
/// is the field's name) in one line: `deny tcp 22 from 0.0.0.0/0`. `None` for anything with
/// another field (an ICMP type, say), which is then shown field by field.
fn acl_entry(m: &serde_json::Map<String, Value>) -> Option<String> {
    const KNOWN: [&str; 7] = [
        "CidrBlock",
        "Ipv6CidrBlock",
        "Egress",
        "PortRange",
        "Protocol",
        "RuleAction",
        "RuleNumber",
    ];
    if m.keys().any(|k| !KNOWN.contains(&k.as_str())) {
        return None;
    }
    let action = m.get("RuleAction")?.as_str()?;
    let proto = protocol(m.get("Protocol")?.as_str()?);
    let cidr = m
        .get("CidrBlock")
        .or_else(|| m.get("Ipv6CidrBlock"))?
        .as_str()?;
    let ports = match m.get("PortRange") {
        None | Some(Value::Null) => String::new(),
        Some(r) => {
            let (from, to) = (r.get("From")?.as_i64()?, r.get("To")?.as_i64()?);
            if from == to {
                format!(" {from}")
            } else {
                format!(" {from}-{to}")
            }
        }
    };
    let dir = if m.get("Egress").and_then(Value::as_bool) == Some(true) {
        "to"
    } else {
        "from"
    };
    let proto = if proto == "all" { "all traffic" } else { proto };
    Some(format!("{action} {proto}{ports} {dir} {cidr}"))
}

/// An IP protocol number as its name (`6` → `tcp`); names and unknown numbers stay.
pub fn protocol(p: &str) -> &str {
    match p {
        "-1" => "all",
        "1" => "icmp",
        "6" => "tcp",
        "17" => "udp",
        "58" => "icmpv6",
        other => other,
    }
}

/// What undo will put back: each field that differs, "now → restored".
pub fn restore_summary(now: &Value, previous: &Value) -> String {
    let moved: Vec<String> = field_diff(now, previous)
        .into_iter()
        .filter(FieldChange::changed)
        .map(|c| {
            let name = if c.field.is_empty() {
                "state".to_string()
            } else {
                c.field
            };
            if let (Value::Array(_), Value::Array(_)) = (&c.before, &c.after) {
                format!("{name}: {}", list_changes(&c.before, &c.after).join("; "))
            } else {
                format!(
                    "{name} {} → {}",
                    show_value(&c.before),
                    show_value(&c.after)
                )
            }
        })
        .collect();
    if moved.is_empty() {
        "nothing differs".into()
    } else {
        moved.join(", ")
    }
}

/// Elements removed (`-`) and added (`+`) between two arrays.
pub fn list_changes(before: &Value, after: &Value) -> Vec<String> {
    let empty = Vec::new();
    let b = before.as_array().unwrap_or(&empty);
    let a = after.as_array().unwrap_or(&empty);
    let mut out: Vec<String> = b
        .iter()
        .filter(|x| !a.contains(x))
        .map(|x| format!("- {}", show_value(x)))
        .collect();
    out.extend(
        a.iter()
            .filter(|x| !b.contains(x))
            .map(|x| format!("+ {}", show_value(x))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::show_value;
    use serde_json::json;

    #[test]
    fn a_network_acl_entry_reads_as_a_rule() {
        let e = json!({"CidrBlock": "0.0.0.0/0", "Egress": false, "PortRange": {"From": 22, "To": 22},
                       "Protocol": "6", "RuleAction": "deny", "RuleNumber": 99});
        assert_eq!(show_value(&e), "deny tcp 22 from 0.0.0.0/0");
        let e = json!({"Ipv6CidrBlock": "::/0", "Egress": true, "PortRange": {"From": 1024, "To": 65535},
                       "Protocol": "17", "RuleAction": "allow", "RuleNumber": 7});
        assert_eq!(show_value(&e), "allow udp 1024-65535 to ::/0");
        let e = json!({"CidrBlock": "10.0.0.0/8", "Protocol": "-1", "RuleAction": "allow"});
        assert_eq!(show_value(&e), "allow all traffic from 10.0.0.0/8");
        // Anything else it carries (an ICMP type) is not dropped: field by field.
        let e = json!({"CidrBlock": "0.0.0.0/0", "Protocol": "1", "RuleAction": "allow",
                       "IcmpTypeCode": {"Code": -1, "Type": -1}});
        assert!(
            show_value(&e).contains("IcmpTypeCode="),
            "{}",
            show_value(&e)
        );
    }
}
