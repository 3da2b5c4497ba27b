//! The IAM roles cis-fix creates for an AWS service to deliver logs (CloudTrail to CloudWatch
//! Logs for 3.1, VPC Flow Logs for 3.7).
//!
//! Their names are fixed and predictable, so a role of that name may already exist, made by
//! someone else for something else: one trusted by another account would let that account
//! write into the account's log groups. Such a role is used only if its trust policy is
//! exactly the one cis-fix writes (parsed and compared, not as text) and its cis-fix inline
//! policy is absent or exactly cis-fix's; otherwise the plan names the difference and nothing
//! is changed. Roles cis-fix creates carry the tag `cis-fix:created-by = cis-fix`, and undo
//! deletes a role only when it carries that tag and the run being undone created it.

use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::Cx;
use crate::resources::alarm_topic::CREATED_TAG;
use crate::resources::policy_attachments::decode_document;
use crate::resources::policy_document::{normal_statements, same_statements};

/// The value of [`CREATED_TAG`] on what cis-fix creates.
pub const CREATED_VALUE: &str = "cis-fix";

/// A role found under a name cis-fix uses.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRole {
    pub arn: String,
    /// The trust policy, decoded (`Null` when it could not be read as JSON).
    pub trust: Value,
    /// The inline policy cis-fix would write under its name, decoded; `None` when absent.
    pub inline: Option<Value>,
}

/// The role `name` and its inline policy `policy_name`, read once per phase; `None` when no
/// role has the name.
pub async fn read(
    cx: &Cx<'_>,
    name: &str,
    policy_name: &str,
) -> Result<Option<FoundRole>, AwsError> {
    cx.reads
        .shared(&format!("iam:role:{name}:{policy_name}"), || async {
            let iam = cx.aws.iam();
            let role = match iam.get_role().role_name(name).send().await {
                Ok(out) => match out.role {
                    Some(r) => r,
                    None => return Ok(None),
                },
                Err(e) => {
                    let e = AwsError::from_sdk("iam:GetRole", e);
                    if e.is_code("NoSuchEntity") {
                        return Ok(None);
                    }
                    return Err(e);
                }
            };
            let trust = role
                .assume_role_policy_document()
                .and_then(decode_document)
                .unwrap_or(Value::Null);
            let inline = match iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
            {
                Ok(p) => Some(decode_document(p.policy_document()).unwrap_or(Value::Null)),
                Err(e) => {
                    let e = AwsError::from_sdk("iam:GetRolePolicy", e);
                    if !e.is_code("NoSuchEntity") {
                        return Err(e);
                    }
                    None
                }
            };
            Ok(Some(FoundRole {
                arn: role.arn().to_string(),
                trust,
                inline,
            }))
        })
        .await
}

/// Every principal a trust policy's Allow statements name, as `Kind value` (e.g.
/// `AWS arn:aws:iam::210987654321:root`), sorted.
pub fn trusted_principals(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in normal_statements(doc) {
        if s["Effect"] != "Allow" {
            continue;
        }
        match &s["Principal"] {
            Value::Object(m) => {
                for (kind, vals) in m {
                    for v in vals.as_array().into_iter().flatten() {
                        out.push(format!("{kind} {}", v.as_str().unwrap_or_default()));
                    }
                }
            }
            Value::String(p) => out.push(p.clone()),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Why the role found is not one cis-fix would have written, or `None` when it is: its
/// trust policy must be exactly `trust`, and its inline policy absent or exactly `inline`.
pub fn difference(name: &str, found: &FoundRole, trust: &Value, inline: &Value) -> Option<String> {
    if !same_statements(&found.trust, trust) {
        let theirs = trusted_principals(&found.trust);
        let ours = trusted_principals(trust).join(", ");
        let what = if theirs == trusted_principals(trust) {
            format!("trusts {ours} but with other conditions or actions than cis-fix writes")
        } else if theirs.is_empty() {
            "has a trust policy cis-fix cannot read".to_string()
        } else {
            format!(
                "trusts {} where cis-fix's role trusts only {ours} for this account",
                theirs.join(", ")
            )
        };
        return Some(format!(
            "role {name} already exists and {what}; cis-fix does not reuse or change it"
        ));
    }
    match &found.inline {
        Some(p) if !same_statements(p, inline) => Some(format!(
            "role {name} already exists with an inline policy {name} that is not the one cis-fix \
             writes; cis-fix does not overwrite it"
        )),
        _ => None,
    }
}

/// The manual steps for a refused role.
pub fn refused_steps(name: &str) -> Vec<String> {
    vec![format!(
        "Inspect role {name}: if nothing needs it, delete it and plan again (cis-fix then creates its own); otherwise leave it and set this control up by hand."
    )]
}

/// For a plan's `prerequisites`: the role as found, in a stable shape.
pub fn prerequisite(found: Option<&FoundRole>) -> Value {
    match found {
        None => json!({ "Exists": false }),
        Some(r) => json!({
            "Exists": true,
            "Arn": r.arn,
            "TrustedPrincipals": trusted_principals(&r.trust),
            "InlinePolicy": r.inline.is_some(),
        }),
    }
}

fn created_tag() -> Result<aws_sdk_iam::types::Tag, AwsError> {
    aws_sdk_iam::types::Tag::builder()
        .key(CREATED_TAG)
        .value(CREATED_VALUE)
        .build()
        .map_err(|e| AwsError::new(ErrorKind::Service, "iam:CreateRole", e.to_string()))
}

/// Create role `name` with `trust`, tagged as cis-fix's; returns its ARN. A role that appears
/// under the name meanwhile is not taken over.
pub async fn create(
    cx: &Cx<'_>,
    name: &str,
    trust: &Value,
    description: &str,
) -> Result<String, AwsError> {
    let out = cx
        .aws
        .iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .description(description)
        .tags(created_tag()?)
        .send()
        .await
        .map_err(aws_err("iam:CreateRole"))
        .map_err(|e| {
            if e.is_code("EntityAlreadyExists") {
                AwsError::new(
                    ErrorKind::Service,
                    "iam:CreateRole",
                    format!("role {name} was created by someone else since the plan; plan again"),
                )
            } else {
                e
            }
        })?;
    Ok(out.role.map(|r| r.arn().to_string()).unwrap_or_default())
}

/// Whether role `name` carries cis-fix's creation tag (`false` when it does not exist).
pub async fn tagged_by_cis_fix(cx: &Cx<'_>, name: &str) -> Result<bool, AwsError> {
    match cx.aws.iam().list_role_tags().role_name(name).send().await {
        Ok(out) => Ok(out
            .tags()
            .iter()
            .any(|t| t.key() == CREATED_TAG && t.value() == CREATED_VALUE)),
        Err(e) => {
            let e = AwsError::from_sdk("iam:ListRoleTags", e);
            if e.is_code("NoSuchEntity") {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// Delete the inline policy `policy_name` of role `name`; absent is fine.
pub async fn delete_inline(cx: &Cx<'_>, name: &str, policy_name: &str) -> Result<(), AwsError> {
    match cx
        .aws
        .iam()
        .delete_role_policy()
        .role_name(name)
        .policy_name(policy_name)
        .send()
        .await
        .map_err(aws_err("iam:DeleteRolePolicy"))
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_code("NoSuchEntity") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Delete role `name` (and its inline policy `policy_name`) if it carries cis-fix's creation
/// tag; a role without it is left alone. Absent is fine. Returns whether it was deleted.
pub async fn delete_if_tagged(
    cx: &Cx<'_>,
    name: &str,
    policy_name: &str,
) -> Result<bool, AwsError> {
    if !tagged_by_cis_fix(cx, name).await? {
        return Ok(false);
    }
    delete_inline(cx, name, policy_name).await?;
    match cx
        .aws
        .iam()
        .delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(aws_err("iam:DeleteRole"))
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_code("NoSuchEntity") => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_trust(account: &str) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "cloudtrail.amazonaws.com" },
                "Action": "sts:AssumeRole",
                "Condition": { "StringEquals": { "aws:SourceAccount": account } },
            }],
        })
    }

    fn found(trust: Value, inline: Option<Value>) -> FoundRole {
        FoundRole {
            arn: "arn:aws:iam::111122223333:role/r".into(),
            trust,
            inline,
        }
    }

    #[test]
    fn only_the_exact_trust_is_reused() {
        let want = service_trust("111122223333");
        let inline = json!({ "Statement": [{ "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "x" }] });
        // The same, spelled differently (lists, case of the condition key): reused.
        let same = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": ["cloudtrail.amazonaws.com"] },
                "Action": ["sts:AssumeRole"],
                "Condition": { "StringEquals": { "AWS:SourceAccount": ["111122223333"] } },
            }],
        });
        assert_eq!(difference("r", &found(same, None), &want, &inline), None);
        assert_eq!(
            difference(
                "r",
                &found(want.clone(), Some(inline.clone())),
                &want,
                &inline
            ),
            None
        );
        // Another account trusted: refused, naming it.
        let foreign = json!({ "Statement": [{ "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::210987654321:root" }, "Action": "sts:AssumeRole" }] });
        let why = difference("r", &found(foreign, None), &want, &inline).unwrap();
        assert!(
            why.contains("AWS arn:aws:iam::210987654321:root")
                && why.contains("Service cloudtrail.amazonaws.com"),
            "{why}"
        );
        // The service, but for any account (no SourceAccount condition): refused.
        let mut loose = want.clone();
        loose["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Condition");
        let why = difference("r", &found(loose, None), &want, &inline).unwrap();
        assert!(why.contains("other conditions"), "{why}");
        // An extra statement: refused.
        let mut extra = want.clone();
        extra["Statement"].as_array_mut().unwrap().push(json!({ "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111122223333:root" }, "Action": "sts:AssumeRole" }));
        assert!(difference("r", &found(extra, None), &want, &inline).is_some());
        // Right trust, someone else's inline policy under cis-fix's name: refused.
        let other =
            json!({ "Statement": [{ "Effect": "Allow", "Action": "logs:*", "Resource": "*" }] });
        let why = difference("r", &found(want.clone(), Some(other)), &want, &inline).unwrap();
        assert!(why.contains("inline policy"), "{why}");
    }

    #[test]
    fn prerequisite_is_stable() {
        let r = found(service_trust("111122223333"), None);
        assert_eq!(prerequisite(Some(&r)), prerequisite(Some(&r.clone())));
        assert_eq!(prerequisite(None), json!({ "Exists": false }));
        assert_eq!(
            prerequisite(Some(&r))["TrustedPrincipals"],
            json!(["Service cloudtrail.amazonaws.com"])
        );
    }
}
