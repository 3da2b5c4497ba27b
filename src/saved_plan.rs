//! Saved plans (`plan -o plan.json`): the plan plus an integrity hash over its canonical JSON.
//!
//! The hash catches corruption (a truncated copy, a bad merge) and accidental edits. It is
//! not a signature: anyone who can edit the file can recompute it. What keeps `apply
//! plan.json` to the change the file shows is the engine (`engine::check_stale`): every
//! change is planned again with the file's parameters and refused unless its `before`,
//! `after`, calls, prerequisites and summary equal the file's.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::plan::{Plan, PLAN_SCHEMA_VERSION};

const FORMAT: &str = "cis-fix-plan";

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid cis-fix plan ({reason}); re-create it with `cis-fix plan -o {path}`"
    )]
    Malformed { path: String, reason: String },
    #[error("{path} was changed after cis-fix wrote it (integrity hash mismatch: the hash catches corruption and accidental edits; it is not a signature, anyone who can edit the file can recompute it); re-create it with `cis-fix plan -o {path}`")]
    Tampered { path: String },
    #[error("{path} uses plan schema {found}, this cis-fix reads schema {PLAN_SCHEMA_VERSION} (written by cis-fix {by}); re-create it with this version")]
    WrongVersion {
        path: String,
        found: u64,
        by: String,
    },
}

/// Canonical text: serde_json's map is ordered, so the same plan always hashes the same.
fn digest(plan: &Value) -> String {
    let mut h = HashWriter(Sha256::new());
    // Writing to a hasher cannot fail.
    let _ = serde_json::to_writer(&mut h, plan);
    hex::encode(h.0.finalize())
}

/// The [`digest`] of `plan`'s canonical JSON (compact, every object's keys sorted, as
/// serde_json's `Value` writes it), streamed an item at a time: a plan of thousands of items
/// is never held a second time as one JSON document.
fn digest_of(plan: &Plan) -> serde_json::Result<String> {
    // Every field but the items (a struct literal, so a new field cannot be forgotten).
    let shell = Plan {
        schema_version: plan.schema_version,
        cis_fix_version: plan.cis_fix_version.clone(),
        created_at: plan.created_at.clone(),
        account: plan.account.clone(),
        benchmark: plan.benchmark,
        regions: plan.regions.clone(),
        params: plan.params.clone(),
        items: Vec::new(),
        api_calls: plan.api_calls,
        exceptions: plan.exceptions.clone(),
    };
    let Value::Object(head) = serde_json::to_value(&shell)? else {
        return Ok(digest(&Value::Null));
    };
    let mut h = HashWriter(Sha256::new());
    let io = serde_json::Error::io;
    h.write_all(b"{").map_err(io)?;
    for (i, (key, value)) in head.iter().enumerate() {
        if i > 0 {
            h.write_all(b",").map_err(io)?;
        }
        serde_json::to_writer(&mut h, key)?;
        h.write_all(b":").map_err(io)?;
        if key != "items" {
            serde_json::to_writer(&mut h, value)?;
            continue;
        }
        h.write_all(b"[").map_err(io)?;
        for (j, item) in plan.items.iter().enumerate() {
            if j > 0 {
                h.write_all(b",").map_err(io)?;
            }
            serde_json::to_writer(&mut h, &serde_json::to_value(item)?)?;
        }
        h.write_all(b"]").map_err(io)?;
    }
    h.write_all(b"}").map_err(io)?;
    Ok(hex::encode(h.0.finalize()))
}

/// A `Write` that feeds a hash.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The saved-plan document as a `Value` (a multi-account plan nests these).
pub fn to_json(plan: &Plan) -> Value {
    let sha = digest_of(plan).unwrap_or_default();
    let v = serde_json::to_value(plan).unwrap_or(Value::Null);
    json!({ "format": FORMAT, "schema_version": PLAN_SCHEMA_VERSION, "sha256": sha, "plan": v })
}

/// The saved-plan document (what `plan -o` writes and `plan --format json` prints), written
/// to `w` as it is serialized, never built whole in memory.
pub fn write_to(plan: &Plan, mut w: impl Write) -> serde_json::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        format: &'static str,
        plan: &'a Plan,
        schema_version: u32,
        sha256: String,
    }
    let doc = Doc {
        format: FORMAT,
        plan,
        schema_version: PLAN_SCHEMA_VERSION,
        sha256: digest_of(plan)?,
    };
    serde_json::to_writer_pretty(&mut w, &doc)?;
    w.write_all(b"\n").map_err(serde_json::Error::io)?;
    w.flush().map_err(serde_json::Error::io)
}

pub fn save(path: &Path, plan: &Plan) -> Result<(), SavedPlanError> {
    let write = |source| SavedPlanError::Write {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::create(path).map_err(write)?;
    write_to(plan, std::io::BufWriter::new(file)).map_err(|e| write(e.into()))
}

pub fn load(path: &Path) -> Result<Plan, SavedPlanError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
        path: p.clone(),
        source,
    })?;
    parse(&p, &text)
}

pub fn parse(path: &str, text: &str) -> Result<Plan, SavedPlanError> {
    let malformed = |reason: String| SavedPlanError::Malformed {
        path: path.to_string(),
        reason,
    };
    let doc: Value =
        serde_json::from_str(text).map_err(|e| malformed(format!("not JSON or truncated: {e}")))?;
    if doc.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(malformed("no \"format\": \"cis-fix-plan\" field".into()));
    }
    let schema = doc
        .get("schema_version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let inner = doc.get("plan").cloned().unwrap_or(Value::Null);
    if schema != u64::from(PLAN_SCHEMA_VERSION) {
        return Err(SavedPlanError::WrongVersion {
            path: path.to_string(),
            found: schema,
            by: inner
                .get("cis_fix_version")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
        });
    }
    if doc.get("sha256").and_then(Value::as_str) != Some(digest(&inner).as_str()) {
        return Err(SavedPlanError::Tampered {
            path: path.to_string(),
        });
    }
    serde_json::from_value(inner).map_err(|e| malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Account;
    use crate::catalog::Benchmark;

    fn plan() -> Plan {
        Plan {
            schema_version: PLAN_SCHEMA_VERSION,
            cis_fix_version: "0.1.0".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            account: Account {
                id: "111122223333".into(),
                caller_arn: "arn:aws:iam::111122223333:user/x".into(),
                partition: "aws".into(),
            },
            benchmark: Benchmark::V5_0,
            regions: vec!["eu-west-1".into()],
            params: Default::default(),
            items: vec![],
            api_calls: 3,
            exceptions: None,
        }
    }

    #[test]
    fn the_streamed_digest_is_the_digest_of_the_whole_document() {
        let mut p = plan();
        for i in 0..3 {
            p.items.push(crate::plan::Item {
                index: i + 1,
                control: "s3-mfa-delete".into(),
                id: "2.1.2".into(),
                title: "MFA delete".into(),
                region: Some("eu-west-1".into()),
                finding: crate::plan::Finding::compliant(
                    format!("bucket b{i}"),
                    "on",
                    json!({"z": 1, "a": [i, "é\"\n"]}),
                ),
            });
        }
        let whole = digest(&serde_json::to_value(&p).unwrap());
        assert_eq!(digest_of(&p).unwrap(), whole);
        let mut text = Vec::new();
        write_to(&p, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(parse("p.json", &text).unwrap(), p);
        assert_eq!(to_json(&p)["sha256"], whole.as_str());
    }

    #[test]
    fn round_trips() {
        let text = to_json(&plan()).to_string();
        assert_eq!(parse("p.json", &text).unwrap(), plan());
    }

    #[test]
    fn detects_edits_truncation_and_versions() {
        let text = serde_json::to_string_pretty(&to_json(&plan())).unwrap();
        let edited = text.replace("111122223333", "444455556666");
        assert!(matches!(
            parse("p", &edited),
            Err(SavedPlanError::Tampered { .. })
        ));
        assert!(matches!(
            parse("p", &text[..text.len() / 2]),
            Err(SavedPlanError::Malformed { .. })
        ));
        let other = text.replace("\"schema_version\": 1", "\"schema_version\": 99");
        assert!(matches!(
            parse("p", &other),
            Err(SavedPlanError::WrongVersion { found: 99, .. })
        ));
        assert!(matches!(
            parse("p", "{}"),
            Err(SavedPlanError::Malformed { .. })
        ));
    }
}
