//! The S3 buckets the logging controls deliver to (CloudTrail 3.1 and its access logs 3.4,
//! AWS Config 3.3, VPC flow logs 3.7), and where any bucket lives (the storage reads too).
//!
//! Two ways of ensuring a bucket, kept apart on purpose: the CloudTrail controls take over
//! this account's bucket by name wherever it is (their callers then lock it down and merge
//! their policy statements in, existing bucket or not), while Config and flow logs leave an
//! existing bucket exactly as its owner set it up and only set up one they create.
//!
//! Either way a bucket is used only if it is this account's: the default names are
//! predictable (`cis-fix-config-<account>`), and another account that creates one first
//! would otherwise receive the account's logs. Ownership is decided from this account's own
//! ListBuckets ([`ownership`]), and every request about such a bucket also carries
//! `ExpectedBucketOwner`, so that S3 itself refuses a bucket that changed hands.

use aws_sdk_s3::types::BucketLocationConstraint;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::Cx;
use crate::plan::ApiCall;
use crate::resources::s3_buckets::Pab;

/// The Sid of the deny-plain-HTTP statement cis-fix writes (2.1.1 and its own buckets).
pub const SID: &str = "CisFixDenyInsecureTransport";

/// GetBucketLocation's answer → the region: empty/None is us-east-1, and the legacy "EU"
/// is eu-west-1.
pub fn region_of_location(loc: Option<&BucketLocationConstraint>) -> String {
    match loc.map(|l| l.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(r) => r.to_string(),
    }
}

/// The region `bucket` lives in, asked of the endpoint `s3` talks to, of a bucket expected to
/// be `owner`'s (S3 refuses the request with 403 when another account owns it).
pub async fn location(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
) -> Result<String, AwsError> {
    let out = s3
        .get_bucket_location()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(aws_err("s3:GetBucketLocation"))?;
    Ok(region_of_location(out.location_constraint()))
}

/// The region that answers for buckets of every region: us-east-1 in the commercial
/// partition (a regional endpoint may refuse a request for a bucket elsewhere).
fn global_region<'a>(cx: &'a Cx<'_>) -> &'a str {
    if cx.aws.account.partition == "aws" {
        "us-east-1"
    } else {
        cx.aws.home_region.as_str()
    }
}

/// The region a bucket lives in, `None` when it does not exist. Sent with this account as
/// the expected owner: AWS answers 403 for a bucket another account owns.
pub async fn bucket_region(cx: &Cx<'_>, bucket: &str) -> Result<Option<String>, AwsError> {
    match location(&cx.aws.s3(global_region(cx)), bucket, &cx.aws.account.id).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_code("NoSuchBucket") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whose a bucket name is, as this account sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// In this account's ListBuckets, living in `region`.
    Ours { region: String },
    /// No bucket has the name.
    Missing,
    /// The bucket exists but is not in this account's ListBuckets: another account owns it.
    Foreign,
}

impl Ownership {
    /// For a plan's `prerequisites`: a short, stable word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Ownership::Ours { .. } => "this account",
            Ownership::Missing => "missing",
            Ownership::Foreign => "another account",
        }
    }
}

/// Whose `bucket` is, read once per phase. Decided from this account's own ListBuckets (one
/// shared listing), never from an ExpectedBucketOwner refusal alone: an emulator may accept
/// a wrong expected owner, and a name that exists but is not listed is never this account's.
pub async fn ownership(cx: &Cx<'_>, bucket: &str) -> Result<Ownership, AwsError> {
    cx.reads
        .shared(&format!("s3:bucket-owner:{bucket}"), || async {
            let listed = crate::resources::s3_buckets::listed(cx).await?;
            if let Some((_, region)) = listed.iter().find(|(n, _)| n == bucket) {
                let region = match region.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None => {
                        location(&cx.aws.s3(global_region(cx)), bucket, &cx.aws.account.id).await?
                    }
                };
                return Ok(Ownership::Ours { region });
            }
            match bucket_region(cx, bucket).await {
                Ok(None) => Ok(Ownership::Missing),
                Ok(Some(_)) => Ok(Ownership::Foreign),
                Err(e) if e.kind == ErrorKind::AccessDenied || e.is_code("AccessDenied") => {
                    Ok(Ownership::Foreign)
                }
                Err(e) => Err(e),
            }
        })
        .await
}

/// Why cis-fix will not use `bucket`, naming the setting that picks another name.
pub fn foreign_message(bucket: &str, setting: &str) -> String {
    format!(
        "bucket {bucket} exists but belongs to another account (it is not in this account's \
         bucket list); cis-fix does not write to it or deliver logs there: choose another \
         name with --set {setting}=NAME"
    )
}

fn foreign(operation: &str, bucket: &str, setting: &str) -> AwsError {
    AwsError::new(
        ErrorKind::AccessDenied,
        operation,
        foreign_message(bucket, setting),
    )
}

/// CreateBucket in `region` (us-east-1 takes no location constraint). A name taken
/// meanwhile by another account is refused.
async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    setting: &str,
) -> Result<(), AwsError> {
    let mut req = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match req.send().await.map_err(aws_err("s3:CreateBucket")) {
        Ok(_) => Ok(()),
        Err(e) if e.is_code("BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) if e.is_code("BucketAlreadyExists") => {
            Err(foreign("s3:CreateBucket", bucket, setting))
        }
        Err(e) => Err(e),
    }
}

/// Create `bucket` in `region` unless this account already has it; returns the region it
/// lives in. A name another account owns is an error naming `setting`, never "reused".
pub async fn ensure_bucket(
    cx: &Cx<'_>,
    bucket: &str,
    region: &str,
    setting: &str,
) -> Result<String, AwsError> {
    match ownership(cx, bucket).await? {
        Ownership::Ours { region } => Ok(region),
        Ownership::Foreign => Err(foreign("s3:ListAllMyBuckets", bucket, setting)),
        Ownership::Missing => {
            create_bucket(&cx.aws.s3(region), bucket, region, setting).await?;
            Ok(region.to_string())
        }
    }
}

/// The call [`ensure_bucket`] makes, for a plan.
pub fn ensure_bucket_call(bucket: &str, region: &str) -> ApiCall {
    ApiCall::new(
        "s3:CreateBucket",
        json!({ "Bucket": bucket, "Region": region, "IfMissing": true }),
    )
}

/// The call [`block_public_access`] makes, for a plan.
pub fn block_public_access_call(bucket: &str) -> ApiCall {
    ApiCall::new(
        "s3:PutPublicAccessBlock",
        json!({ "Bucket": bucket, "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true }),
    )
}

/// Create `bucket` in `region` with Block Public Access and `policy`, unless this account
/// has it (then it is used as it is: its policy is the owner's). A bucket of that name in
/// another account is refused, naming `setting`. Returns whether it was created.
pub async fn create_if_missing(
    cx: &Cx<'_>,
    bucket: &str,
    region: &str,
    policy: &Value,
    setting: &str,
) -> Result<bool, AwsError> {
    match ownership(cx, bucket).await? {
        Ownership::Ours { .. } => return Ok(false),
        Ownership::Foreign => return Err(foreign("s3:ListAllMyBuckets", bucket, setting)),
        Ownership::Missing => {}
    }
    let s3 = cx.aws.s3(region);
    let owner = &cx.aws.account.id;
    create_bucket(&s3, bucket, region, setting).await?;
    block_public_access(&s3, bucket, owner).await?;
    put_policy(&s3, bucket, owner, policy).await?;
    Ok(true)
}

/// The calls [`create_if_missing`] makes, for a plan.
pub fn create_if_missing_calls(bucket: &str, region: &str, policy: &Value) -> Vec<ApiCall> {
    vec![
        ApiCall::new(
            "s3:CreateBucket",
            json!({ "Bucket": bucket, "Region": region, "OnlyIfMissing": true }),
        ),
        ApiCall::new(
            "s3:PutPublicAccessBlock",
            json!({ "Bucket": bucket, "BlockPublicAcls": true, "IgnorePublicAcls": true,
                    "BlockPublicPolicy": true, "RestrictPublicBuckets": true,
                    "OnlyIfMissing": true }),
        ),
        ApiCall::new(
            "s3:PutBucketPolicy",
            json!({ "Bucket": bucket, "Policy": policy, "OnlyIfMissing": true }),
        ),
    ]
}

/// The statement every log bucket cis-fix creates carries, so its own buckets pass CIS 2.1.1
/// (`s3-deny-http` adds the same statement to other buckets).
pub fn deny_insecure_transport(bucket_arn: &str) -> Value {
    json!({
        "Sid": SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, format!("{bucket_arn}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })
}

/// All four Block Public Access flags on the bucket.
pub async fn block_public_access(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
) -> Result<(), AwsError> {
    s3.put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .public_access_block_configuration(Pab::ALL.to_s3())
        .send()
        .await
        .map_err(aws_err("s3:PutPublicAccessBlock"))?;
    Ok(())
}

async fn put_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    policy: &Value,
) -> Result<(), AwsError> {
    s3.put_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(aws_err("s3:PutBucketPolicy"))?;
    Ok(())
}

/// Merge `ours` into the policy of `bucket` (expected to be `owner`'s) and write it.
pub async fn merge_bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    ours: Vec<Value>,
) -> Result<(), AwsError> {
    let existing = match s3
        .get_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .send()
        .await
        .map_err(aws_err("s3:GetBucketPolicy"))
    {
        Ok(p) => p.policy().map(str::to_string),
        Err(e) if e.is_code("NoSuchBucketPolicy") => None,
        Err(e) => return Err(e),
    };
    let doc = bucket_policy_doc(existing.as_deref(), ours)
        .map_err(|m| AwsError::new(ErrorKind::Service, "s3:GetBucketPolicy", m))?;
    put_policy(s3, bucket, owner, &doc).await
}

/// `existing` (a bucket policy, if any) with `ours` merged in: statements with the same Sid
/// are replaced, every other statement is kept as it was.
pub fn bucket_policy_doc(existing: Option<&str>, ours: Vec<Value>) -> Result<Value, String> {
    let mut doc = match existing {
        Some(s) if !s.trim().is_empty() => serde_json::from_str::<Value>(s)
            .map_err(|e| format!("the existing bucket policy is not JSON: {e}"))?,
        _ => json!({ "Version": "2012-10-17", "Statement": [] }),
    };
    let mut statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(_)) => vec![doc["Statement"].clone()],
        _ => Vec::new(),
    };
    let sids: Vec<&Value> = ours.iter().map(|s| &s["Sid"]).collect();
    statements.retain(|s| !sids.contains(&&s["Sid"]));
    statements.extend(ours);
    doc["Statement"] = Value::Array(statements);
    if doc.get("Version").is_none() {
        doc["Version"] = json!("2012-10-17");
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraints_map_to_regions() {
        assert_eq!(region_of_location(None), "us-east-1");
        assert_eq!(
            region_of_location(Some(&BucketLocationConstraint::from(""))),
            "us-east-1"
        );
        assert_eq!(
            region_of_location(Some(&BucketLocationConstraint::Eu)),
            "eu-west-1"
        );
        assert_eq!(
            region_of_location(Some(&BucketLocationConstraint::EuCentral1)),
            "eu-central-1"
        );
    }
}
