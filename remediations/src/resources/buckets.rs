//! The S3 buckets the logging controls deliver to (CloudTrail 3.1 and its access logs 3.4,
//! AWS Config 3.3, VPC flow logs 3.7), and where any bucket lives (the storage reads too).
//!
//! Two ways of ensuring a bucket, kept apart on purpose: the CloudTrail controls take over
//! the bucket by name wherever it is (their callers then lock it down and merge their policy
//! statements in, existing bucket or not), while Config and flow logs leave an existing bucket
//! exactly as its owner set it up and only set up one they create.

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

/// The region `bucket` lives in, asked of the endpoint `s3` talks to.
pub async fn location(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<String, AwsError> {
    let out = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(aws_err("s3:GetBucketLocation"))?;
    Ok(region_of_location(out.location_constraint()))
}

/// The region a bucket lives in, `None` when it does not exist. Asked of us-east-1 in the
/// commercial partition, which answers for buckets of every region (a regional endpoint may
/// refuse a request for a bucket elsewhere).
pub async fn bucket_region(cx: &Cx<'_>, bucket: &str) -> Result<Option<String>, AwsError> {
    let ask = if cx.aws.account.partition == "aws" {
        "us-east-1"
    } else {
        cx.aws.home_region.as_str()
    };
    match location(&cx.aws.s3(ask), bucket).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_code("NoSuchBucket") => Ok(None),
        Err(e) => Err(e),
    }
}

/// CreateBucket in `region` (us-east-1 takes no location constraint).
async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
) -> Result<(), AwsError> {
    let mut req = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.map_err(aws_err("s3:CreateBucket"))?;
    Ok(())
}

/// Create `bucket` in `region` unless this account already has it; returns the region it
/// lives in. A name taken by another account is an error, never "reused".
pub async fn ensure_bucket(cx: &Cx<'_>, bucket: &str, region: &str) -> Result<String, AwsError> {
    let taken = |e: AwsError| {
        AwsError::new(
            e.kind,
            &e.operation,
            format!(
                "bucket {bucket} exists but is not this account's ({}); choose another name with --set (trail_bucket / access_log_bucket)",
                e.message
            ),
        )
    };
    match bucket_region(cx, bucket).await {
        Ok(Some(r)) => return Ok(r),
        Ok(None) => {}
        Err(e) if e.kind == ErrorKind::AccessDenied => return Err(taken(e)),
        Err(e) => return Err(e),
    }
    match create_bucket(&cx.aws.s3(region), bucket, region).await {
        Ok(()) => Ok(region.to_string()),
        Err(e) if e.is_code("BucketAlreadyOwnedByYou") => Ok(region.to_string()),
        Err(e) if e.is_code("BucketAlreadyExists") => Err(taken(e)),
        Err(e) => Err(e),
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

/// Create `bucket` in `region` with Block Public Access and `policy`, unless it exists (then
/// it is used as it is: its policy is the owner's). Returns whether it was created.
pub async fn create_if_missing(
    cx: &Cx<'_>,
    bucket: &str,
    region: &str,
    policy: &Value,
) -> Result<bool, AwsError> {
    let s3 = cx.aws.s3(region);
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(false),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let missing =
                e.as_service_error().is_some_and(|s| s.is_not_found()) || status == Some(404);
            match status {
                // It exists, in another region: use it.
                Some(301) => return Ok(false),
                Some(403) => {
                    return Err(AwsError::new(
                        ErrorKind::AccessDenied,
                        "s3:HeadBucket",
                        format!(
                            "bucket {bucket} exists but this account cannot use it (another \
                             account may own the name); choose another name in the settings"
                        ),
                    ))
                }
                _ if !missing => return Err(AwsError::from_sdk("s3:HeadBucket", e)),
                _ => {}
            }
        }
    }
    create_bucket(&s3, bucket, region).await?;
    block_public_access(&s3, bucket).await?;
    put_policy(&s3, bucket, policy).await?;
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
pub async fn block_public_access(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), AwsError> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(Pab::ALL.to_s3())
        .send()
        .await
        .map_err(aws_err("s3:PutPublicAccessBlock"))?;
    Ok(())
}

async fn put_policy(s3: &aws_sdk_s3::Client, bucket: &str, policy: &Value) -> Result<(), AwsError> {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(aws_err("s3:PutBucketPolicy"))?;
    Ok(())
}

/// Merge `ours` into the bucket's policy and write it.
pub async fn merge_bucket_policy(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    ours: Vec<Value>,
) -> Result<(), AwsError> {
    let existing = match s3
        .get_bucket_policy()
        .bucket(bucket)
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
    put_policy(s3, bucket, &doc).await
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
