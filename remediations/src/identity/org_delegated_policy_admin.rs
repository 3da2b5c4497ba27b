//! CIS 7.0 2.1.5: a delegated administrator manages Organizations policies. Check-only.
//!
//! From the management account: Organizations' resource policy (DescribeResourcePolicy)
//! exists and lets a member account manage policies (an `organizations:…Polic…` action).
//! Which account that should be is the organization's choice, so cis-fix never writes the
//! resource policy. From a member or a standalone account: one finding saying so. (The
//! emulator lacks DescribeResourcePolicy: the finding is then undetermined; the judgement is
//! unit-tested.)

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;
use crate::resources::organization::org_scope;
use crate::resources::policy_attachments::{decode_document, trust_principals};

pub struct OrgDelegatedPolicyAdmin;

const DESCRIPTION: Description = Description {
    slug: "org-delegated-policy-admin",
    scope: Scope::Global,
    kind: Kind::CheckOnly,
    read_actions: &[
        "organizations:DescribeOrganization",
        "organizations:ListPolicies",
        "organizations:DescribeResourcePolicy",
    ],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "organization policy delegation";

/// Whether a statement allows a policy-management action.
fn manages_policies(stmt: &Value) -> bool {
    let actions: Vec<&str> = match &stmt["Action"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    stmt["Effect"] == "Allow"
        && actions.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "organizations:*" || (a.starts_with("organizations:") && a.contains("polic"))
        })
}

/// The finding (pure) from the resource policy's document (`None`: there is none).
pub(crate) fn judge(org: &str, doc: Option<&Value>) -> Finding {
    let mut principals: Vec<String> = doc
        .map(|d| match &d["Statement"] {
            Value::Array(a) => a.clone(),
            s @ Value::Object(_) => vec![s.clone()],
            _ => vec![],
        })
        .unwrap_or_default()
        .iter()
        .filter(|s| manages_policies(s))
        .flat_map(|s| trust_principals(&json!({ "Statement": [s] })))
        .collect();
    principals.sort();
    principals.dedup();
    let before = json!({ "Organization": org, "ResourcePolicy": doc.is_some(), "PolicyManagers": principals });
    if principals.is_empty() {
        return Finding::manual(
            TARGET,
            if doc.is_some() {
                "Organizations' resource policy delegates no policy management".to_string()
            } else {
                "no delegated administrator manages Organizations policies (no resource policy)".to_string()
            },
            before,
            &["From the management account: attach a resource policy (organizations:PutResourcePolicy) that lets a dedicated member account (e.g. the security account) run the policy actions (Describe/List/Create/Update/Attach/DetachPolicy) for the policy types it should manage."],
        );
    }
    Finding::compliant(
        TARGET,
        format!(
            "policy management is delegated to {}",
            principals.join(", ")
        ),
        before,
    )
}

#[async_trait]
impl Control for OrgDelegatedPolicyAdmin {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        org_scope(cx, TARGET, |org| async move {
            let doc = match cx
                .aws
                .organizations()
                .describe_resource_policy()
                .send()
                .await
            {
                Ok(out) => out
                    .resource_policy()
                    .and_then(|p| p.content())
                    .and_then(decode_document),
                Err(e) => {
                    let e = AwsError::from_sdk("organizations:DescribeResourcePolicy", e);
                    if e.is_code("ResourcePolicyNotFoundException") {
                        None
                    } else if e.kind == ErrorKind::Service && e.code.is_none() {
                        // An endpoint without this API (the emulator).
                        return Ok(Finding::unknown(
                            TARGET,
                            format!("could not read the organization's resource policy: {e}"),
                        ));
                    } else {
                        return Err(e);
                    }
                }
            };
            Ok(judge(&org.id, doc.as_ref()))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    #[test]
    fn a_resource_policy_delegating_policy_actions_is_compliant() {
        assert_eq!(judge("o", None).status, Status::Manual);
        let doc = json!({ "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::222233334444:root" },
            "Action": ["organizations:DescribePolicy", "organizations:ListPolicies", "organizations:CreatePolicy"],
            "Resource": "*",
        }]});
        let f = judge("o", Some(&doc));
        assert_eq!(f.status, Status::Compliant, "{f:?}");
        assert!(f.summary.contains("222233334444"), "{}", f.summary);
        let other = json!({ "Statement": { "Effect": "Allow", "Principal": { "AWS": "x" }, "Action": "organizations:ListAccounts" } });
        assert_eq!(judge("o", Some(&other)).status, Status::Manual);
    }
}
