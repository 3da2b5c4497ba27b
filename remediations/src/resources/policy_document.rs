//! IAM policy documents (identity, trust and key policies) compared by meaning: the one
//! normal form every "is this what cis-fix would write?" check and every pinned digest uses.
//! Statement order, `Sid`s, a lone string versus a one-element list, list order and the case
//! of condition keys (IAM treats them case-insensitively) do not count; anything else does.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// A document's statements as written (`Statement` may be one object or a list).
pub fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    }
}

/// A string or a list of strings, as a sorted list without repeats.
fn strings(v: &Value) -> Value {
    let mut out: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    };
    out.sort();
    out.dedup();
    json!(out)
}

/// `{ "AWS": "a" }` and `{ "AWS": ["a"] }` alike; `"*"` stays as it is.
fn principal(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), strings(v))).collect()),
        other => other.clone(),
    }
}

fn condition(v: &Value) -> Value {
    let Value::Object(ops) = v else {
        return v.clone();
    };
    Value::Object(
        ops.iter()
            .map(|(op, keys)| {
                let keys = match keys {
                    Value::Object(k) => Value::Object(
                        k.iter()
                            .map(|(key, v)| (key.to_ascii_lowercase(), strings(v)))
                            .collect(),
                    ),
                    other => other.clone(),
                };
                (op.clone(), keys)
            })
            .collect(),
    )
}

/// One statement in its normal form: equal meaning, equal value.
pub fn normal_statement(s: &Value) -> Value {
    let Value::Object(m) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        let v = match k.as_str() {
            "Sid" => continue,
            "Action" | "NotAction" | "Resource" | "NotResource" => strings(v),
            "Principal" | "NotPrincipal" => principal(v),
            "Condition" => condition(v),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// A document's statements, each in normal form, sorted.
pub fn normal_statements(doc: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = statements(doc).into_iter().map(normal_statement).collect();
    out.sort_by_key(Value::to_string);
    out
}

/// The document in normal form: its version and its normal statements.
pub fn canonical(doc: &Value) -> Value {
    json!({
        "Version": doc.get("Version").cloned().unwrap_or(Value::Null),
        "Statement": normal_statements(doc),
    })
}

/// SHA-256 (hex) of the normal form: what a saved plan pins of a policy a change builds on.
pub fn digest(doc: &Value) -> String {
    hex::encode(Sha256::digest(canonical(doc).to_string().as_bytes()))
}

/// Whether two documents' statements say the same.
pub fn same_statements(a: &Value, b: &Value) -> bool {
    normal_statements(a) == normal_statements(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_sids_single_values_and_condition_key_case_do_not_count() {
        let a = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
             "Action": ["s3:b", "s3:a"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}},
            {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]});
        let b = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "NotAction": ["iam:*"], "Resource": ["*"]},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root"]},
             "Action": ["s3:a", "s3:b"], "Resource": ["*"],
             "Condition": {"StringEquals": {"AWS:SourceAccount": ["1"]}}}]});
        assert!(same_statements(&a, &b));
        assert_eq!(digest(&a), digest(&b));
        let other = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::2:root"},
             "Action": ["s3:a", "s3:b"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}},
            {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]});
        assert!(!same_statements(&a, &other));
        assert_ne!(digest(&a), digest(&other));
        // A key the comparison does not know still counts.
        let mut extra = a.clone();
        extra["Statement"][1]["Unknown"] = json!(1);
        assert!(!same_statements(&a, &extra));
    }
}
