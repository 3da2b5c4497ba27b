//! CIS 5.0 1.16: a support role exists to manage incidents with AWS Support: a role with
//! AWSSupportAccess attached. When none has it, cis-fix creates one (`support_role_name`,
//! default `cis-fix-support`) trusted by `support_role_trust` (default: the account root,
//! i.e. principals of this account that IAM lets assume it) and attaches the policy.
//!
//! The role is tagged `created-by = cis-fix`; undo detaches the policy and deletes only
//! roles that carry that tag and were not there before.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::policy_attachments as pa;

pub struct SupportRole;

const DESCRIPTION: Description = Description {
    slug: "support-role",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &["iam:ListEntitiesForPolicy"],
    write_actions: &[
            "iam:ListRoleTags",
            "iam:CreateRole",
            "iam:TagRole",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:DeleteRole",
        ],
    change_profile: "low (adds a role the trusted principal can assume to open AWS Support cases); reversible: undo detaches AWSSupportAccess and deletes the role cis-fix created",
};

const TARGET: &str = "AWS Support role";
const TAG_KEY: &str = "created-by";
const TAG_VALUE: &str = "cis-fix";

fn support_policy_arn(partition: &str) -> String {
    format!("arn:{partition}:iam::aws:policy/AWSSupportAccess")
}

/// The trust policy of the role: `principal` may assume it.
pub fn trust_policy(principal: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": principal },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

fn state(roles: &[String]) -> Value {
    json!({ "roles": roles })
}

async fn created_by_cis_fix(cx: &Cx<'_>, role: &str) -> Result<bool, AwsError> {
    let out = cx
        .aws
        .iam()
        .list_role_tags()
        .role_name(role)
        .send()
        .await
        .map_err(aws_err("iam:ListRoleTags"))?;
    Ok(out
        .tags()
        .iter()
        .any(|t| t.key() == TAG_KEY && t.value() == TAG_VALUE))
}

#[async_trait]
impl Control for SupportRole {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let arn = support_policy_arn(&cx.aws.account.partition);
        let Some(roles) = pa::roles_with_policy(cx, &arn).await? else {
            return Ok(vec![Finding::unknown(
                TARGET,
                format!("the AWS managed policy {arn} was not found (an emulator without AWS managed policies?)"),
            )]);
        };
        if !roles.is_empty() {
            return Ok(vec![Finding::compliant(
                TARGET,
                format!(
                    "AWSSupportAccess is attached to {} {}",
                    if roles.len() == 1 { "role" } else { "roles" },
                    roles.join(", ")
                ),
                state(&roles),
            )]);
        }
        let name = cx.params.support_role_name();
        let trust = cx.params.support_role_trust.clone().unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:root",
                cx.aws.account.partition, cx.aws.account.id
            )
        });
        if let Err(why) = cx.params.check_for_account(&cx.aws.account.id) {
            return Ok(vec![Finding {
                status: crate::plan::Status::Skipped,
                ..Finding::unknown(TARGET, format!("refused: {why}"))
            }]);
        }
        let doc = trust_policy(&trust);
        Ok(vec![Finding::change(
            TARGET,
            format!("no role has AWSSupportAccess: create role {name} trusted by {trust} and attach it"),
            Action::Create,
            state(&[]),
            json!({ "roles": [name], "trust": trust }),
            vec![
                ApiCall::new(
                    "iam:CreateRole",
                    json!({
                        "RoleName": name,
                        "AssumeRolePolicyDocument": doc,
                        "Description": "AWS Support access (CIS 1.16), created by cis-fix",
                        "Tags": [{ "Key": TAG_KEY, "Value": TAG_VALUE }],
                    }),
                ),
                ApiCall::new(
                    "iam:AttachRolePolicy",
                    json!({ "RoleName": name, "PolicyArn": arn }),
                ),
            ],
        )
        .with_risk(Risk::Low)
        .with_note(format!(
            "Who may assume the role is set by support_role_trust (now {trust}); with the account root, any principal of this account whose own policy allows sts:AssumeRole on it."
        ))
        .with_note("Set support_role_name / support_role_trust in cis-fix.toml or with --set to change them.")])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let arn = support_policy_arn(&cx.aws.account.partition);
        let name = f.after["roles"][0].as_str().unwrap_or_default().to_string();
        let trust = f.after["trust"].as_str().unwrap_or_default();
        let iam = cx.aws.iam();
        let created = iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust_policy(trust))
            .description("AWS Support access (CIS 1.16), created by cis-fix")
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key(TAG_KEY)
                    .value(TAG_VALUE)
                    .build()
                    .map_err(|e| {
                        AwsError::new(
                            crate::aws::ErrorKind::Service,
                            "iam:CreateRole",
                            e.to_string(),
                        )
                    })?,
            )
            .send()
            .await
            .map_err(aws_err("iam:CreateRole"));
        let mut fresh = false;
        match created {
            // A role of that name already exists (not holding the policy): use it only if
            // cis-fix made it, never take over someone else's role.
            Err(e) if e.is_code("EntityAlreadyExists") => {
                if !created_by_cis_fix(cx, &name).await? {
                    return Err(AwsError::new(
                        crate::aws::ErrorKind::Service,
                        "iam:CreateRole",
                        format!("a role named {name} already exists and was not created by cis-fix; choose another support_role_name"),
                    ));
                }
            }
            r => {
                r?;
                fresh = true;
            }
        }
        let attached = iam
            .attach_role_policy()
            .role_name(&name)
            .policy_arn(&arn)
            .send()
            .await
            .map_err(aws_err("iam:AttachRolePolicy"));
        if let Err(e) = attached {
            // Half-done: the role this apply just created goes again, so a failure leaves the
            // account as it was.
            if fresh {
                let gone = iam.delete_role().role_name(&name).send().await.is_ok();
                return Err(AwsError::new(
                    e.kind,
                    &e.operation,
                    format!(
                        "{}; {}",
                        e.message,
                        if gone {
                            format!("the role {name} this apply created was deleted again")
                        } else {
                            format!("the role {name} this apply created could not be deleted: delete it by hand")
                        }
                    ),
                ));
            }
            return Err(e);
        }
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let arn = support_policy_arn(&cx.aws.account.partition);
        let before: Vec<&str> = previous["roles"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let iam = cx.aws.iam();
        for role in pa::roles_with_policy(cx, &arn).await?.unwrap_or_default() {
            if before.contains(&role.as_str()) || !created_by_cis_fix(cx, &role).await? {
                continue;
            }
            match iam
                .detach_role_policy()
                .role_name(&role)
                .policy_arn(&arn)
                .send()
                .await
                .map_err(aws_err("iam:DetachRolePolicy"))
            {
                Err(e) if !e.is_code("NoSuchEntity") => return Err(e),
                _ => {}
            }
            iam.delete_role()
                .role_name(&role)
                .send()
                .await
                .map_err(aws_err("iam:DeleteRole"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policy_names_the_principal() {
        let v: Value =
            serde_json::from_str(&trust_policy("arn:aws:iam::111122223333:root")).unwrap();
        assert_eq!(
            v["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(v["Statement"][0]["Action"], "sts:AssumeRole");
    }
}
