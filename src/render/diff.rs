//! Field-level diff of a target's before and after state.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Empty for a non-object state.
    pub field: String,
    pub before: Value,
    pub after: Value,
}

impl FieldChange {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Every field of `before` and `after`, in order, with its old and new value. A missing
/// state (null) diffs as all fields absent.
pub fn field_diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    match (before, after) {
        (Value::Object(_) | Value::Null, Value::Object(_)) | (Value::Object(_), Value::Null) => {
            let empty = serde_json::Map::new();
            let b = before.as_object().unwrap_or(&empty);
            let a = after.as_object().unwrap_or(&empty);
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .map(|k| FieldChange {
                    field: k.clone(),
                    before: b.get(k).cloned().unwrap_or(Value::Null),
                    after: a.get(k).cloned().unwrap_or(Value::Null),
                })
                .collect()
        }
        _ => vec![FieldChange {
            field: String::new(),
            before: before.clone(),
            after: after.clone(),
        }],
    }
}

/// The fields that differ between what was expected and what is there now, for refusals:
/// "MinimumPasswordLength: expected 8, found 10".
pub fn describe_moves(expected: &Value, found: &Value) -> String {
    let moved: Vec<String> = field_diff(expected, found)
        .into_iter()
        .filter(FieldChange::changed)
        .map(|c| {
            let name = if c.field.is_empty() {
                "state".to_string()
            } else {
                c.field
            };
            format!(
                "{name}: expected {}, found {}",
                super::show_value(&c.before),
                super::show_value(&c.after)
            )
        })
        .collect();
    if moved.is_empty() {
        "no field differs".into()
    } else {
        moved.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_every_field() {
        let d = field_diff(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3, "c": 4}));
        assert_eq!(d.len(), 3);
        assert!(!d[0].changed());
        assert!(d[1].changed() && d[2].changed());
        assert_eq!(d[2].before, Value::Null);
    }

    #[test]
    fn moves_name_the_fields() {
        let m = describe_moves(&json!({"a": 8, "b": 1}), &json!({"a": 10, "b": 1}));
        assert_eq!(m, "a: expected 8, found 10");
        assert_eq!(
            describe_moves(&Value::Null, &json!(3)),
            "state: expected (none), found 3"
        );
    }

    #[test]
    fn from_nothing() {
        let d = field_diff(&Value::Null, &json!({"a": 1}));
        assert_eq!(
            d,
            vec![FieldChange {
                field: "a".into(),
                before: Value::Null,
                after: json!(1)
            }]
        );
    }
}
