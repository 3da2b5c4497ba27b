//! Saved multi-account plans (`plan --org -o org-plan.json`): one saved plan per account,
//! each with its own integrity hash, so `apply org-plan.json` refuses per account what went
//! stale or was edited; and the merge of the shards' plans (`report merge`), which is the
//! plan one process would have written for all of their accounts.

use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::plan::Plan;
use crate::saved_plan::{self, SavedPlanError};

const FORMAT: &str = "cis-fix-org-plan";
const SCHEMA: u64 = 1;

/// One account's part: its plan, or why there is none.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    pub account: String,
    pub name: String,
    /// The role assumed there; `None` for the caller's own account.
    pub role_arn: Option<String>,
    pub plan: Result<Plan, String>,
}

fn digest(accounts: &Value) -> String {
    hex::encode(Sha256::digest(accounts.to_string().as_bytes()))
}

fn entry_json(a: &AccountPlan) -> Value {
    let mut v = json!({ "account": a.account, "name": a.name, "role_arn": a.role_arn });
    match &a.plan {
        Ok(p) => v["plan"] = saved_plan::to_json(p),
        Err(e) => v["error"] = Value::String(e.clone()),
    }
    v
}

fn document(mut accounts: Vec<Value>) -> Value {
    accounts.sort_by(|a, b| a["account"].as_str().cmp(&b["account"].as_str()));
    let accounts = Value::Array(accounts);
    json!({ "format": FORMAT, "schema_version": SCHEMA, "sha256": digest(&accounts), "accounts": accounts })
}

/// The document for `accounts`, sorted by account id.
pub fn to_json(accounts: &[AccountPlan]) -> Value {
    document(accounts.iter().map(entry_json).collect())
}

fn write(path: &Path, doc: &Value) -> Result<(), SavedPlanError> {
    let text = serde_json::to_string_pretty(doc).unwrap_or_default() + "\n";
    std::fs::write(path, text).map_err(|source| SavedPlanError::Write {
        path: path.display().to_string(),
        source,
    })
}

pub fn save(path: &Path, accounts: &[AccountPlan]) -> Result<(), SavedPlanError> {
    write(path, &to_json(accounts))
}

/// Whether `text` is a multi-account plan (rather than one account's).
pub fn is_org_plan(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("format").and_then(Value::as_str).map(|f| f == FORMAT))
        .unwrap_or(false)
}

/// The checked entries of a document (whole-file hash and shape).
fn entries(path: &str, text: &str) -> Result<Vec<Value>, SavedPlanError> {
    let malformed = |reason: String| SavedPlanError::Malformed {
        path: path.to_string(),
        reason,
    };
    let doc: Value =
        serde_json::from_str(text).map_err(|e| malformed(format!("not JSON or truncated: {e}")))?;
    if doc.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(malformed(format!("no \"format\": \"{FORMAT}\" field")));
    }
    if doc.get("schema_version").and_then(Value::as_u64) != Some(SCHEMA) {
        return Err(malformed(format!(
            "schema {} is not {SCHEMA}",
            doc.get("schema_version").unwrap_or(&Value::Null)
        )));
    }
    let accounts = doc.get("accounts").cloned().unwrap_or(Value::Null);
    if doc.get("sha256").and_then(Value::as_str) != Some(digest(&accounts).as_str()) {
        return Err(SavedPlanError::Tampered {
            path: path.to_string(),
        });
    }
    let list = accounts
        .as_array()
        .cloned()
        .ok_or_else(|| malformed("\"accounts\" is not a list".into()))?;
    for a in &list {
        if a.get("account").and_then(Value::as_str).is_none() {
            return Err(malformed("an entry has no \"account\"".into()));
        }
    }
    Ok(list)
}

/// Read a multi-account plan. Each account's plan is checked on its own: one that fails its
/// hash comes back as that account's error, and the others stand.
pub fn load(path: &Path) -> Result<Vec<AccountPlan>, SavedPlanError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
        path: p.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for v in entries(&p, &text)? {
        let account = v["account"].as_str().unwrap_or_default().to_string();
        let plan = match (v.get("plan"), v.get("error").and_then(Value::as_str)) {
            (Some(plan), _) => {
                saved_plan::parse(&format!("{p} (account {account})"), &plan.to_string())
                    .map_err(|e| e.to_string())
                    .and_then(|plan| {
                        if plan.account.id == account {
                            Ok(plan)
                        } else {
                            Err(format!(
                                "{p}: the plan filed under account {account} is for account {}",
                                plan.account.id
                            ))
                        }
                    })
            }
            (None, Some(e)) => Err(format!("not planned: {e}")),
            (None, None) => Err(format!("{p}: account {account} has neither plan nor error")),
        };
        out.push(AccountPlan {
            account,
            name: v["name"].as_str().unwrap_or_default().to_string(),
            role_arn: v["role_arn"].as_str().map(str::to_string),
            plan,
        });
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Plan(#[from] SavedPlanError),
    #[error("account {account} is in both {first} and {second}: the shards overlap (were they made with the same --shard N and account flags?)")]
    Overlap {
        account: String,
        first: String,
        second: String,
    },
    #[error("nothing to merge: name the shards' plan files")]
    Empty,
}

/// Join the shards' plans: every account once, sorted, under one hash.
pub fn merge(paths: &[std::path::PathBuf]) -> Result<Value, MergeError> {
    if paths.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut all = Vec::new();
    for path in paths {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
            path: p.clone(),
            source,
        })?;
        for v in entries(&p, &text)? {
            let id = v["account"].as_str().unwrap_or_default().to_string();
            if let Some((_, first)) = seen.iter().find(|(a, _)| *a == id) {
                return Err(MergeError::Overlap {
                    account: id,
                    first: first.clone(),
                    second: p,
                });
            }
            seen.push((id, p.clone()));
            all.push(v);
        }
    }
    Ok(document(all))
}

pub fn write_merged(path: &Path, doc: &Value) -> Result<(), SavedPlanError> {
    write(path, doc)
}
