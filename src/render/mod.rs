//! Renderers: pure functions from a plan (or results) to text.

mod diff;
mod markdown;
mod text;

pub use diff::{describe_moves, field_diff, FieldChange};
pub use markdown::plan_markdown;
pub use text::{item_text, plan_text, summary_line};

use serde_json::Value;

/// A JSON value as a person reads it: strings bare, null as "(none)", objects as
/// `Key=value` pairs.
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", show_value(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
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
