//! CIS 5.0 3.5: CloudTrail logs are encrypted at rest with a customer managed KMS key.
//!
//! The trail 3.1 relies on gets a customer key (the configured alias, reused when it
//! exists), created in the bucket's region (CloudTrail needs key and bucket in one region)
//! with a policy that lets CloudTrail encrypt for this account's trails only and the
//! account's principals decrypt. Undo removes the key from the trail; the key itself is kept
//! because the logs written meanwhile can only be read with it.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::buckets::bucket_region;
use crate::resources::landing_zone;
use crate::resources::policy_attachments::decode_document;
use crate::resources::policy_document::{digest as policy_digest, normal_statements};
use crate::resources::service_role::CREATED_VALUE;
use crate::resources::trails::str_field;
use crate::resources::trails::{label, trail_or_blocked, TrailInfo};

pub struct CloudtrailKmsEncryption;

const DESCRIPTION: Description = Description {
    slug: "cloudtrail-kms-encryption",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "s3:GetBucketLocation",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
        ],
    write_actions: &[
            "kms:CreateKey",
            "kms:TagResource",
            "kms:CreateAlias",
            "kms:EnableKeyRotation",
            "cloudtrail:UpdateTrail",
        ],
    change_profile: "medium; reversible: undo removes the key from the trail (logs are SSE-S3 encrypted again); the key is kept because logs written with it need it to be read; a customer key costs about $1 a month plus requests, and log readers need kms:Decrypt",
};

fn target(t: &TrailInfo) -> String {
    format!("KMS encryption of {}", label(t))
}

fn state(t: &TrailInfo, key_region: &str) -> Value {
    json!({ "Trail": t.arn, "HomeRegion": t.home_region, "KeyRegion": key_region, "KmsKeyId": t.kms_key() })
}

/// The key policy: the account administers the key; CloudTrail may encrypt for this
/// account's trails (and only on behalf of `trail_arn`); the account's principals may
/// decrypt CloudTrail logs.
pub fn key_policy(part: &str, account: &str, trail_arn: &str) -> Value {
    let context = format!("arn:{part}:cloudtrail:*:{account}:trail/*");
    json!({
        "Version": "2012-10-17",
        "Id": "cis-fix-cloudtrail",
        "Statement": [
            {
                "Sid": "EnableAccountAdministration",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:{part}:iam::{account}:root") },
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowCloudTrailToEncryptLogs",
                "Effect": "Allow",
                "Principal": { "Service": "cloudtrail.amazonaws.com" },
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringLike": { "kms:EncryptionContext:aws:cloudtrail:arn": context },
                    "StringEquals": { "aws:SourceArn": trail_arn },
                },
            },
            {
                "Sid": "AllowCloudTrailToDescribeKey",
                "Effect": "Allow",
                "Principal": { "Service": "cloudtrail.amazonaws.com" },
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
            {
                "Sid": "AllowAccountPrincipalsToDecryptLogs",
                "Effect": "Allow",
                "Principal": { "AWS": "*" },
                "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": { "kms:CallerAccount": account },
                    "StringLike": { "kms:EncryptionContext:aws:cloudtrail:arn": context },
                },
            },
        ],
    })
}

/// The ARN of the key behind `alias` in `region`, if the alias exists.
async fn alias_key(cx: &Cx<'_>, region: &str, alias: &str) -> Result<Option<String>, AwsError> {
    match cx
        .aws
        .kms(region)
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .map_err(aws_err("kms:DescribeKey"))
    {
        Ok(o) => Ok(o.key_metadata().and_then(|m| m.arn()).map(str::to_string)),
        Err(e) if e.is_code("NotFoundException") => Ok(None),
        Err(e) => Err(e),
    }
}

/// The key behind the alias, as the plan saw it: the change builds on it without it being
/// the target, so its identity and policy are the finding's `prerequisites`.
#[derive(Debug, Clone, PartialEq)]
struct AliasKey {
    arn: String,
    /// The key policy ("default"), decoded; `Null` when it is not JSON.
    policy: Value,
}

/// The key behind `alias` with its key policy, if the alias exists.
async fn alias_key_with_policy(
    cx: &Cx<'_>,
    region: &str,
    alias: &str,
) -> Result<Option<AliasKey>, AwsError> {
    let Some(arn) = alias_key(cx, region, alias).await? else {
        return Ok(None);
    };
    let out = cx
        .aws
        .kms(region)
        .get_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .send()
        .await
        .map_err(aws_err("kms:GetKeyPolicy"))?;
    let policy = out
        .policy()
        .and_then(decode_document)
        .unwrap_or(Value::Null);
    Ok(Some(AliasKey { arn, policy }))
}

/// The Allow statements of an existing key's policy that cis-fix's own policy for this trail
/// does not contain (as `Sid: principal → actions`), empty when the key allows only what
/// cis-fix would write. Deny statements only take away and are accepted.
fn extra_allows(existing: &Value, ours: &Value) -> Vec<String> {
    if existing.is_null() {
        return vec!["a key policy cis-fix cannot read".to_string()];
    }
    let ours = normal_statements(ours);
    let raw = match &existing["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![existing["Statement"].clone()],
        _ => Vec::new(),
    };
    raw.iter()
        .filter_map(|st| {
            let norm = normal_statements(&json!({ "Statement": [st] }));
            let one = norm.first()?;
            if one["Effect"] != "Allow" || ours.contains(one) {
                return None;
            }
            let actions: Vec<&str> = one["Action"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            Some(format!(
                "{}: {} → {}",
                st["Sid"].as_str().unwrap_or("(no Sid)"),
                st["Principal"],
                actions.join(", ")
            ))
        })
        .collect()
}

/// The `prerequisites` of a change: the alias, where, and the key behind it (with its
/// policy's digest), or that cis-fix creates both.
fn prerequisites(alias: &str, region: &str, key: Option<&AliasKey>) -> Value {
    json!({
        "KmsAlias": {
            "Name": alias,
            "Region": region,
            "TargetKeyArn": key.map(|k| k.arn.as_str()),
            "KeyPolicyDigest": key.map(|k| policy_digest(&k.policy)),
        }
    })
}

#[async_trait]
impl Control for CloudtrailKmsEncryption {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let account = &cx.aws.account.id;
        let part = &cx.aws.account.partition;
        let t = match trail_or_blocked(
            cx,
            "KMS encryption of the CloudTrail trail",
            "no multi-region trail yet to encrypt",
        )
        .await?
        {
            Ok(t) => t,
            Err(blocked) => return Ok(vec![blocked]),
        };
        let t = &t;
        // The key lives with the bucket; the trail's home region when that can't be read.
        let key_region = match &t.s3_bucket {
            Some(b) if t.changeable_from(account) => bucket_region(cx, b)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| t.home_region.clone()),
            _ => t.home_region.clone(),
        };
        let before = state(t, &key_region);
        if let Some(k) = t.kms_key() {
            return Ok(vec![Finding::compliant(
                target(t),
                format!("logs are encrypted with {k}"),
                before,
            )]);
        }
        if let Some(owner) = t.owned_by(account) {
            return Ok(vec![landing_zone::manual(
                target(t),
                "the trail's logs are not KMS-encrypted",
                &format!("trail {}", t.name),
                &owner,
                before,
            )]);
        }
        let alias = cx.params.kms_key_alias();
        let found = alias_key_with_policy(cx, &key_region, &alias).await?;
        if let Some(k) = &found {
            let extra = extra_allows(&k.policy, &key_policy(part, account, &t.arn));
            if !extra.is_empty() {
                let mut f = Finding::manual(
                    target(t),
                    format!(
                        "the trail's logs are not encrypted with a customer KMS key, and the existing key behind {alias} ({}) allows more than cis-fix's key policy would: {}; cis-fix does not use it",
                        k.arn,
                        extra.join("; ")
                    ),
                    before,
                    &["Review that key's policy, or set kms_key_alias (cis-fix.toml or --set) to an alias that does not exist yet so cis-fix creates its own key, then plan again."],
                );
                f.prerequisites = prerequisites(&alias, &key_region, found.as_ref());
                return Ok(vec![f]);
            }
        }
        let existing = found.as_ref().map(|k| k.arn.clone());
        let mut after = before.clone();
        after["KmsKeyId"] = json!(existing.clone().unwrap_or_else(|| alias.clone()));
        let mut calls = Vec::new();
        if existing.is_none() {
            calls.push(ApiCall::new(
                "kms:CreateKey",
                json!({ "Region": key_region, "Description": "cis-fix: CloudTrail log encryption", "Policy": key_policy(part, account, &t.arn),
                        "Tags": [{ "TagKey": crate::resources::alarm_topic::CREATED_TAG, "TagValue": CREATED_VALUE }] }),
            ));
            calls.push(ApiCall::new(
                "kms:CreateAlias",
                json!({ "Region": key_region, "AliasName": alias }),
            ));
        }
        calls.push(ApiCall::new(
            "kms:EnableKeyRotation",
            json!({ "Region": key_region, "KeyId": existing.clone().unwrap_or_else(|| alias.clone()) }),
        ));
        calls.push(ApiCall::new(
            "cloudtrail:UpdateTrail",
            json!({ "Name": t.arn, "Region": t.home_region, "KmsKeyId": existing.clone().unwrap_or_else(|| format!("{alias} (its key ARN)")) }),
        ));
        let mut f = Finding::change(
            target(t),
            "the trail's logs are not encrypted with a customer KMS key",
            Action::Update,
            before,
            after,
            calls,
        )
        .with_risk(Risk::Medium)
        .with_note("Anyone who reads the log files then also needs kms:Decrypt on the key (the key policy grants it to this account's principals, subject to their IAM policies).")
        .with_note("A customer key costs about $1 a month plus request charges.")
        .with_note("Undo removes the key from the trail; the key is kept, since logs written with it need it to be read.");
        if existing.is_some() {
            f = f.with_note(format!(
                "The existing key behind {alias} is reused as it is: its key policy allows nothing beyond what cis-fix would write."
            ));
        }
        f.prerequisites = prerequisites(&alias, &key_region, found.as_ref());
        Ok(vec![f])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let account = &cx.aws.account.id;
        let part = &cx.aws.account.partition;
        let trail_arn = str_field(&f.before, "Trail")?;
        let home = str_field(&f.before, "HomeRegion")?;
        let key_region = str_field(&f.before, "KeyRegion")?;
        let alias = cx.params.kms_key_alias();
        let kms = cx.aws.kms(key_region);
        let key_arn = match alias_key_with_policy(cx, key_region, &alias).await? {
            Some(k) => {
                // Checked again: the alias may point elsewhere since the plan.
                let extra = extra_allows(&k.policy, &key_policy(part, account, trail_arn));
                if !extra.is_empty() {
                    return Err(AwsError::new(
                        ErrorKind::Service,
                        "kms:GetKeyPolicy",
                        format!(
                            "the key behind {alias} ({}) allows more than cis-fix's key policy would ({}); not used",
                            k.arn,
                            extra.join("; ")
                        ),
                    ));
                }
                k.arn
            }
            None => {
                let tag = aws_sdk_kms::types::Tag::builder()
                    .tag_key(crate::resources::alarm_topic::CREATED_TAG)
                    .tag_value(CREATED_VALUE)
                    .build()
                    .map_err(|e| {
                        AwsError::new(ErrorKind::Service, "kms:CreateKey", e.to_string())
                    })?;
                let out = kms
                    .create_key()
                    .description("cis-fix: CloudTrail log encryption")
                    .tags(tag)
                    .policy(key_policy(part, account, trail_arn).to_string())
                    .send()
                    .await
                    .map_err(aws_err("kms:CreateKey"))?;
                let arn = out
                    .key_metadata()
                    .and_then(|m| m.arn())
                    .ok_or_else(|| {
                        AwsError::new(
                            ErrorKind::Service,
                            "kms:CreateKey",
                            "no key ARN in the answer",
                        )
                    })?
                    .to_string();
                kms.create_alias()
                    .alias_name(&alias)
                    .target_key_id(&arn)
                    .send()
                    .await
                    .map_err(aws_err("kms:CreateAlias"))?;
                arn
            }
        };
        kms.enable_key_rotation()
            .key_id(&key_arn)
            .send()
            .await
            .map_err(aws_err("kms:EnableKeyRotation"))?;
        cx.aws
            .cloudtrail(home)
            .update_trail()
            .name(trail_arn)
            .kms_key_id(&key_arn)
            .send()
            .await
            .map_err(aws_err("cloudtrail:UpdateTrail"))?;
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let trail_arn = str_field(previous, "Trail")?;
        let home = str_field(previous, "HomeRegion")?;
        // An empty key id removes encryption; a recorded key is put back.
        let key = previous["KmsKeyId"].as_str().unwrap_or("");
        cx.aws
            .cloudtrail(home)
            .update_trail()
            .name(trail_arn)
            .kms_key_id(key)
            .send()
            .await
            .map_err(aws_err("cloudtrail:UpdateTrail"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_policy_scopes_cloudtrail_to_this_account_and_trail() {
        let p = key_policy(
            "aws",
            "111122223333",
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t",
        );
        let st = p["Statement"].as_array().unwrap();
        let encrypt = &st[1]["Condition"];
        assert_eq!(
            encrypt["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"],
            "arn:aws:cloudtrail:*:111122223333:trail/*"
        );
        assert_eq!(
            encrypt["StringEquals"]["aws:SourceArn"],
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t"
        );
        assert_eq!(
            st[3]["Condition"]["StringEquals"]["kms:CallerAccount"],
            "111122223333"
        );
    }

    #[test]
    fn a_reused_key_may_allow_only_what_cis_fix_would() {
        let trail = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t";
        let ours = key_policy("aws", "111122223333", trail);
        assert!(extra_allows(&ours, &ours).is_empty());
        // Fewer statements, or a Deny added: still nothing beyond ours.
        let mut fewer = ours.clone();
        fewer["Statement"].as_array_mut().unwrap().truncate(2);
        fewer["Statement"].as_array_mut().unwrap().push(json!({
            "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*" }));
        assert!(extra_allows(&fewer, &ours).is_empty());
        // Another account may use it: named.
        let mut open = ours.clone();
        open["Statement"].as_array_mut().unwrap().push(json!({
            "Sid": "Theirs", "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::210987654321:root" },
            "Action": "kms:Decrypt", "Resource": "*" }));
        let extra = extra_allows(&open, &ours);
        assert_eq!(extra.len(), 1, "{extra:?}");
        assert!(
            extra[0].contains("Theirs") && extra[0].contains("210987654321"),
            "{extra:?}"
        );
        assert!(!extra_allows(&Value::Null, &ours).is_empty());
    }

    #[test]
    fn prerequisites_pin_the_alias_target_and_policy_deterministically() {
        let trail = "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t";
        let key = AliasKey {
            arn: "arn:aws:kms:eu-west-1:111122223333:key/k1".into(),
            policy: key_policy("aws", "111122223333", trail),
        };
        let p = prerequisites("alias/cis-fix-cloudtrail", "eu-west-1", Some(&key));
        assert_eq!(
            p,
            prerequisites("alias/cis-fix-cloudtrail", "eu-west-1", Some(&key.clone()))
        );
        assert_eq!(p["KmsAlias"]["TargetKeyArn"], key.arn.as_str());
        assert_eq!(p["KmsAlias"]["KeyPolicyDigest"].as_str().unwrap().len(), 64);
        // Statement order does not move the digest; content does.
        let mut reordered = key.policy.clone();
        reordered["Statement"].as_array_mut().unwrap().reverse();
        assert_eq!(policy_digest(&reordered), policy_digest(&key.policy));
        let other = key_policy(
            "aws",
            "111122223333",
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/u",
        );
        assert_ne!(policy_digest(&other), policy_digest(&key.policy));
        // No alias yet: cis-fix creates it.
        let none = prerequisites("alias/cis-fix-cloudtrail", "eu-west-1", None);
        assert!(none["KmsAlias"]["TargetKeyArn"].is_null());
    }
}
