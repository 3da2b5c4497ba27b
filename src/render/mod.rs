//! Renderers: pure functions from a plan (or results) to text.

mod diff;
mod markdown;
mod text;

pub use diff::{describe_moves, field_diff, FieldChange};
pub use markdown::plan_markdown;
pub use text::{item_text, plan_text, summary_line};

use serde_json::Value;

/// A JSON value as a person reads it: strings bare, null as "(none)".
pub fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
