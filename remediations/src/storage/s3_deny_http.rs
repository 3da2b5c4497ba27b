//! CIS 5.0 2.1.1: every bucket policy denies requests not sent over TLS.
//!
//! PutBucketPolicy replaces the whole policy, so the fix reads the policy, appends one Deny
//! statement (aws:SecureTransport = false, all principals, s3:*, the bucket and its objects)
//! and writes it back with every existing statement, Version and Id kept as they were. The
//! journal holds the previous document, so undo writes it back, or deletes the policy when
//! the bucket had none.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::aws::{AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::buckets::SID;
use crate::resources::landing_zone;
use crate::resources::s3_buckets::{self as s3b, Bucket};

pub struct S3DenyHttp;

const DESCRIPTION: Description = Description {
    slug: "s3-deny-http",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "s3:ListAllMyBuckets",
            "s3:GetBucketLocation",
            "s3:GetBucketPolicy",
            s3b::GET_TAGGING,
        ],
    write_actions: &[PUT, DELETE],
    change_profile: "medium (clients on plain HTTP are refused); the policy is rewritten with every existing statement kept (destructive: confirmed separately); reversible: undo writes the previous policy back, or deletes the policy when there was none",
};

const PUT: &str = "s3:PutBucketPolicy";
const DELETE: &str = "s3:DeleteBucketPolicy";

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    as_list(v).into_iter().filter_map(Value::as_str).collect()
}

/// `"*"` or `{"AWS": "*"}` (also as a one-element list).
fn all_principals(p: Option<&Value>) -> bool {
    match p {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(m)) => strs(m.get("AWS")).contains(&"*"),
        _ => false,
    }
}

/// The condition denies when aws:SecureTransport is false, in the one form every checker
/// reads: `{"Bool": {"aws:SecureTransport": "false"}}`. IAM treats BoolIfExists, a JSON
/// boolean or a one-element list alike, but Prowler compares the value with the string
/// `"false"` and Steampipe reads `Bool` only (docs/checkers.md, 2.1.1); a bucket whose only
/// deny has such a form gets cis-fix's statement added, so all of them pass.
fn insecure_transport_condition(c: Option<&Value>) -> bool {
    c.and_then(|c| c.get("Bool"))
        .and_then(|kv| kv.get("aws:SecureTransport"))
        .is_some_and(|v| v == "false")
}

/// Whether a resource pattern (a plain ARN or one ending in `*`) matches `arn`.
fn covers(pattern: &str, arn: &str) -> bool {
    pattern == "*"
        || pattern == arn
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| arn.starts_with(prefix))
}

/// Whether one statement denies every S3 action over plain HTTP for everyone, on the bucket
/// and on its objects. A deny limited to some actions (s3:GetObject only) still lets the
/// others through over HTTP, so it does not count.
pub fn denies_http(stmt: &Value, bucket_arn: &str) -> bool {
    let s = |k: &str| stmt.get(k);
    if s("Effect").and_then(Value::as_str) != Some("Deny") || !all_principals(s("Principal")) {
        return false;
    }
    let actions = strs(s("Action"));
    if !actions
        .iter()
        .any(|a| *a == "*" || a.eq_ignore_ascii_case("s3:*"))
    {
        return false;
    }
    let resources = strs(s("Resource"));
    let objects = format!("{bucket_arn}/*");
    resources.iter().any(|r| covers(r, bucket_arn))
        && resources.iter().any(|r| covers(r, &objects))
        && insecure_transport_condition(s("Condition"))
}

pub fn policy_denies_http(doc: &Value, bucket_arn: &str) -> bool {
    as_list(doc.get("Statement"))
        .into_iter()
        .any(|st| denies_http(st, bucket_arn))
}

/// The statement cis-fix adds, with a Sid not yet used in the policy.
pub fn deny_statement(bucket_arn: &str, existing: Option<&Value>) -> Value {
    let used: Vec<&str> = existing
        .map(|d| {
            as_list(d.get("Statement"))
                .into_iter()
                .filter_map(|s| s.get("Sid").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let mut sid = SID.to_string();
    let mut n = 2;
    while used.contains(&sid.as_str()) {
        sid = format!("{SID}{n}");
        n += 1;
    }
    let mut st = crate::resources::buckets::deny_insecure_transport(bucket_arn);
    st["Sid"] = json!(sid);
    st
}

/// The policy with the deny appended: every key of the document (Version, Id, …) and every
/// existing statement kept as it is, in order. A single statement object becomes a list.
/// No policy → a new one with just the deny.
pub fn merge(existing: Option<&Value>, bucket_arn: &str) -> Value {
    let deny = deny_statement(bucket_arn, existing);
    match existing {
        Some(Value::Object(doc)) => {
            let mut doc = doc.clone();
            let mut stmts: Vec<Value> =
                as_list(doc.get("Statement")).into_iter().cloned().collect();
            stmts.push(deny);
            doc.insert("Statement".to_string(), Value::Array(stmts));
            Value::Object(doc)
        }
        _ => {
            let mut doc = Map::new();
            doc.insert("Version".into(), json!("2012-10-17"));
            doc.insert("Statement".into(), json!([deny]));
            Value::Object(doc)
        }
    }
}

fn statement_count(doc: &Value) -> usize {
    as_list(doc.get("Statement")).len()
}

fn bad_policy(bucket: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        ErrorKind::Service,
        "s3:GetBucketPolicy",
        format!("the policy of bucket {bucket} is not valid JSON: {e}"),
    )
}

/// The bucket judged, the landing zone's log buckets (aws-controltower-logs-…) left to it,
/// with the bucket's tags when it fails (exceptions match on them).
async fn assess_tagged(cx: &Cx<'_>, b: &Bucket) -> Result<Finding, AwsError> {
    let f = landing_zone::guard(
        assess(cx, b).await?,
        &format!("bucket {}", b.name),
        landing_zone::by_name(&b.name).as_ref(),
    );
    s3b::with_tags(cx, b, f).await
}

async fn assess(cx: &Cx<'_>, b: &Bucket) -> Result<Finding, AwsError> {
    let arn = b.arn(&cx.aws.account.partition);
    let text = s3b::policy(cx, b).await?;
    let doc: Option<Value> = match &text {
        Some(t) => Some(serde_json::from_str(t).map_err(|e| bad_policy(&b.name, e))?),
        None => None,
    };
    let before = doc.clone().unwrap_or(Value::Null);
    if doc.as_ref().is_some_and(|d| policy_denies_http(d, &arn)) {
        return Ok(Finding::compliant(
            b.target(),
            format!(
                "the bucket policy denies requests without TLS ({})",
                b.region
            ),
            before,
        ));
    }
    let after = merge(doc.as_ref(), &arn);
    let calls = vec![ApiCall::new(
        PUT,
        json!({ "Bucket": b.name, "Policy": after }),
    )];
    let http_note = "Requests over plain HTTP (http:// endpoints, clients or tools with TLS turned off, some very old SDKs) are refused from now on; every AWS SDK and the console use HTTPS.";
    let mut f = match &doc {
        Some(d) => {
            let n = statement_count(d);
            let mut f = Finding::change(
                b.target(),
                format!(
                    "no Deny for aws:SecureTransport=false; rewrites the bucket policy (the existing {} kept) to add one ({})",
                    crate::plan::plural(n, "statement", "statements"),
                    b.region
                ),
                Action::Update,
                before,
                after,
                calls,
            )
            .with_note(format!(
                "PutBucketPolicy replaces the whole policy: the existing {}, Version and Id are written back unchanged with the Deny appended; undo writes the previous policy back.",
                crate::plan::plural(n, "statement", "statements")
            ));
            f.destructive = true;
            f
        }
        None => Finding::change(
            b.target(),
            format!(
                "no bucket policy; creates one that denies requests without TLS ({})",
                b.region
            ),
            Action::Create,
            before,
            after,
            calls,
        )
        .with_note("Undo deletes the bucket policy again."),
    };
    f = f.with_risk(Risk::Medium).with_note(http_note);
    Ok(f)
}

#[async_trait]
impl Control for S3DenyHttp {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let mut out = Vec::new();
        let buckets = s3b::buckets(cx).await?;
        for (b, res) in s3b::each(&buckets, |b| assess_tagged(cx, b)).await {
            out.push(match res {
                Ok(f) => f,
                Err(e) if e.kind == ErrorKind::Service || e.kind == ErrorKind::AccessDenied => {
                    Finding::error(b.target(), format!("could not read the bucket policy: {e}"))
                }
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let b = s3b::bucket_for_target(cx, &f.target).await?;
        put_policy(cx, &b, &f.after).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let b = s3b::bucket_for_target(cx, target).await?;
        if previous.is_null() {
            cx.aws
                .s3(&b.region)
                .delete_bucket_policy()
                .bucket(&b.name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(DELETE, e))?;
            Ok(())
        } else {
            put_policy(cx, &b, previous).await
        }
    }
}

async fn put_policy(cx: &Cx<'_>, b: &Bucket, doc: &Value) -> Result<(), AwsError> {
    cx.aws
        .s3(&b.region)
        .put_bucket_policy()
        .bucket(&b.name)
        .policy(doc.to_string())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(PUT, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:s3:::b1";

    #[test]
    fn merge_keeps_every_statement_version_and_id_in_order() {
        let existing = json!({
            "Version": "2012-10-17",
            "Id": "keep-me",
            "Statement": [
                {"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b1/*"},
                {"Sid": "B", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::b1"}
            ]
        });
        let merged = merge(Some(&existing), ARN);
        assert_eq!(merged["Version"], existing["Version"]);
        assert_eq!(merged["Id"], "keep-me");
        let st = merged["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 3);
        assert_eq!(st[0], existing["Statement"][0]);
        assert_eq!(st[1], existing["Statement"][1]);
        assert_eq!(st[2]["Sid"], SID);
        assert!(policy_denies_http(&merged, ARN));
        assert!(!policy_denies_http(&existing, ARN));
        // Key order of the document survives (serde_json preserve_order is on in this build).
        let keys: Vec<&String> = merged.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Version", "Id", "Statement"]);
    }

    #[test]
    fn merge_of_nothing_is_just_the_deny() {
        let merged = merge(None, ARN);
        assert_eq!(merged["Version"], "2012-10-17");
        assert_eq!(merged["Statement"].as_array().unwrap().len(), 1);
        assert!(policy_denies_http(&merged, ARN));
    }

    #[test]
    fn single_statement_object_becomes_a_list_and_sid_clash_is_avoided() {
        let existing = json!({"Statement": {"Sid": SID, "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b1/*"}});
        let merged = merge(Some(&existing), ARN);
        let st = merged["Statement"].as_array().unwrap();
        assert_eq!(st[0], existing["Statement"]);
        assert_eq!(st[1]["Sid"], format!("{SID}2"));
        assert!(merged.get("Version").is_none(), "no key invented");
    }

    #[test]
    fn recognises_equivalent_denies() {
        let ok = json!({"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": "*",
            "Resource": "arn:aws:s3:::b1*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        assert!(denies_http(&ok, ARN));
    }

    /// Forms IAM treats alike but a mainstream checker does not read (docs/checkers.md,
    /// 2.1.1): Prowler's `s3_bucket_secure_transport_policy` wants
    /// `Condition.Bool."aws:SecureTransport" == "false"` (the string), Steampipe's
    /// `s3_bucket_enforces_ssl` a `Bool` condition. Such a deny does not count: cis-fix adds
    /// its own, which every checker reads.
    #[test]
    fn a_deny_only_some_checkers_read_is_not_enough() {
        let base = json!({"Effect": "Deny", "Principal": "*", "Action": ["s3:*"],
            "Resource": ["arn:aws:s3:::b1", "arn:aws:s3:::b1/*"]});
        for cond in [
            json!({"Bool": {"aws:SecureTransport": false}}),
            json!({"Bool": {"aws:SecureTransport": ["false"]}}),
            json!({"BoolIfExists": {"aws:securetransport": ["false"]}}),
            json!({"BoolIfExists": {"aws:SecureTransport": "false"}}),
        ] {
            let mut st = base.clone();
            st["Condition"] = cond.clone();
            assert!(!denies_http(&st, ARN), "{cond}");
        }
    }

    #[test]
    fn rejects_partial_denies() {
        let base = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b1", "arn:aws:s3:::b1/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        assert!(denies_http(&base, ARN));
        let mut only_get = base.clone();
        only_get["Action"] = json!("s3:GetObject");
        assert!(!denies_http(&only_get, ARN));
        let mut objects_only = base.clone();
        objects_only["Resource"] = json!("arn:aws:s3:::b1/*");
        assert!(!denies_http(&objects_only, ARN));
        let mut someone = base.clone();
        someone["Principal"] = json!({"AWS": "arn:aws:iam::1:root"});
        assert!(!denies_http(&someone, ARN));
        let mut allow = base.clone();
        allow["Effect"] = json!("Allow");
        assert!(!denies_http(&allow, ARN));
        let mut tls_true = base.clone();
        tls_true["Condition"] = json!({"Bool": {"aws:SecureTransport": "true"}});
        assert!(!denies_http(&tls_true, ARN));
        let mut other_bucket = base;
        other_bucket["Resource"] = json!(["arn:aws:s3:::b10", "arn:aws:s3:::b10/*"]);
        assert!(!denies_http(&other_bucket, ARN));
    }
}
