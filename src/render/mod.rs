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
pub use summary::Outcomes;
pub use text::{
    exception_warnings, item_text, items_text, plan_text, plural, status_label, summary_line,
    symbol, TextOptions,
};
pub use wrap::{output_width, wrap, DEFAULT_WIDTH};

use serde_json::Value;

/// A JSON value as a person reads it: strings bare, null as "(none)", objects as
/// `Key=value` pairs.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("Protocol" | "IpProtocol", Value::String(p)) => format!("{k}={}", protocol(p)),
                _ => format!("{k}={}", show_value(v)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
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
