//! CIS 5.0 3.4: S3 server access logging is on for the CloudTrail bucket.
//!
//! The bucket of the trail 3.1 relies on gets access logs delivered to the access-log
//! bucket (a shared prerequisite: created if missing, in the same region, since S3 refuses
//! cross-region log delivery; with Block Public Access and a policy that lets the logging
//! service write). Undo turns logging off; the target bucket keeps its logs.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding};
use crate::resources::buckets::{
    block_public_access, block_public_access_call, ensure_bucket, ensure_bucket_call,
    foreign_message, merge_bucket_policy, ownership, Ownership,
};
use crate::resources::landing_zone;
use crate::resources::trails::str_field;
use crate::resources::trails::trail_or_blocked;

pub struct CloudtrailBucketAccessLogging;

const DESCRIPTION: Description = Description {
    slug: "cloudtrail-bucket-access-logging",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "s3:ListAllMyBuckets",
            "s3:GetBucketLocation",
            "s3:GetBucketLogging",
        ],
    write_actions: &[
            "s3:CreateBucket",
            "s3:PutBucketPublicAccessBlock",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:PutBucketLogging",
        ],
    change_profile: "low; reversible: undo turns access logging off on the CloudTrail bucket; the access-log bucket and its logs are kept; access logs add S3 storage cost",
};

fn target(bucket: &str) -> String {
    format!("server access logging of CloudTrail bucket {bucket}")
}

/// What cis-fix merges into the access-log bucket's policy: log delivery for `source`, and the
/// deny of plain HTTP that CIS 2.1.1 asks of every bucket.
pub fn log_bucket_statements(
    part: &str,
    account: &str,
    source: &str,
    target: &str,
    prefix: &str,
) -> Vec<Value> {
    vec![
        logging_statement(part, account, source, target, prefix),
        crate::resources::buckets::deny_insecure_transport(&format!("arn:{part}:s3:::{target}")),
    ]
}

/// The statement that lets S3 server access logging deliver `source`'s logs into `target`
/// under `prefix`. moto (like S3) checks that the Resource covers the prefix.
pub fn logging_statement(
    part: &str,
    account: &str,
    source: &str,
    target: &str,
    prefix: &str,
) -> Value {
    let sid: String = format!("CisFixAccessLogs{source}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "Service": "logging.s3.amazonaws.com" },
        "Action": "s3:PutObject",
        "Resource": format!("arn:{part}:s3:::{target}/{prefix}*"),
        "Condition": {
            "ArnLike": { "aws:SourceArn": format!("arn:{part}:s3:::{source}") },
            "StringEquals": { "aws:SourceAccount": account },
        },
    })
}

fn prefix_for(source: &str) -> String {
    format!("{source}/")
}

#[async_trait]
impl Control for CloudtrailBucketAccessLogging {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let account = &cx.aws.account.id;
        let part = &cx.aws.account.partition;
        let t = match trail_or_blocked(
            cx,
            "server access logging of the CloudTrail bucket",
            "no multi-region trail yet, so no CloudTrail bucket to log",
        )
        .await?
        {
            Ok(t) => t,
            Err(blocked) => return Ok(vec![blocked]),
        };
        let Some(bucket) = t.s3_bucket.clone() else {
            return Ok(vec![Finding::unknown(
                "server access logging of the CloudTrail bucket",
                format!("trail {} reports no S3 bucket", t.name),
            )]);
        };
        if let Some(owner) = t.owned_by(account) {
            return Ok(vec![Finding::manual(
                target(&bucket),
                format!(
                    "the bucket of trail {} belongs to the trail's owner ({})",
                    t.name,
                    owner.owned_by()
                ),
                json!({ "Bucket": bucket }),
                &["In the account that owns the bucket: enable S3 server access logging on it (PutBucketLogging), through the landing zone where one owns it."],
            )]);
        }
        let region = match ownership(cx, &bucket).await {
            Ok(Ownership::Ours { region }) => region,
            Ok(Ownership::Missing) => {
                return Ok(vec![Finding::unknown(
                    target(&bucket),
                    "the trail's bucket does not exist",
                )])
            }
            // A central logging bucket of another account: cis-fix does not configure it.
            Ok(Ownership::Foreign) => {
                return Ok(vec![Finding::manual(
                    target(&bucket),
                    format!("the trail's bucket {bucket} belongs to another account"),
                    json!({ "Bucket": bucket }),
                    &["In the account that owns the bucket: enable S3 server access logging on it (PutBucketLogging)."],
                )])
            }
            Err(e) => {
                return Ok(vec![Finding::unknown(
                    target(&bucket),
                    format!(
                    "the bucket's region could not be read ({e}); it may belong to another account"
                ),
                )])
            }
        };
        let logging = cx
            .aws
            .s3(&region)
            .get_bucket_logging()
            .bucket(&bucket)
            .expected_bucket_owner(account)
            .send()
            .await
            .map_err(aws_err("s3:GetBucketLogging"))?;
        let enabled = logging.logging_enabled().map(
            |l| json!({ "TargetBucket": l.target_bucket(), "TargetPrefix": l.target_prefix() }),
        );
        let before = json!({ "Bucket": bucket, "Region": region, "LoggingEnabled": enabled });
        if let (None, Some(owner)) = (&enabled, landing_zone::by_name(&bucket)) {
            return Ok(vec![landing_zone::manual(
                target(&bucket),
                "access logging is off",
                &format!("bucket {bucket}"),
                &owner,
                before,
            )]);
        }
        if let Some(e) = enabled {
            return Ok(vec![Finding::compliant(
                target(&bucket),
                format!(
                    "access logs go to {}",
                    e["TargetBucket"].as_str().unwrap_or("?")
                ),
                before,
            )]);
        }
        let log_bucket = cx.params.access_log_bucket(account);
        let log_owner = ownership(cx, &log_bucket).await?;
        if log_owner == Ownership::Foreign {
            return Ok(vec![Finding::manual(
                target(&bucket),
                format!(
                    "access logging is off, and {}",
                    foreign_message(&log_bucket, "access_log_bucket")
                ),
                before,
                &["Set access_log_bucket (cis-fix.toml or --set) to a bucket name this account owns or that is free, then plan again."],
            )]);
        }
        if let Ownership::Ours { region: r } = &log_owner {
            if *r != region {
                return Ok(vec![Finding::manual(
                    target(&bucket),
                    format!("access logging is off, and the access-log bucket {log_bucket} is in {r}, not {region} (S3 only delivers within a region)"),
                    before,
                    &["Set access_log_bucket (cis-fix.toml or --set) to a bucket in the CloudTrail bucket's region, then plan again."],
                )]);
            }
        }
        let prefix = prefix_for(&bucket);
        let after = json!({
            "Bucket": bucket,
            "Region": region,
            "LoggingEnabled": { "TargetBucket": log_bucket, "TargetPrefix": prefix },
        });
        let mut f = Finding::change(
            target(&bucket),
            "server access logging is off on the CloudTrail bucket",
            Action::Update,
            before,
            after,
            vec![
                ensure_bucket_call(&log_bucket, &region),
                block_public_access_call(&log_bucket),
                ApiCall::new("s3:PutBucketPolicy", json!({ "Bucket": log_bucket, "MergedIntoExisting": true, "Statements": log_bucket_statements(part, account, &bucket, &log_bucket, &prefix) })),
                ApiCall::new("s3:PutBucketLogging", json!({ "Bucket": bucket, "TargetBucket": log_bucket, "TargetPrefix": prefix })),
            ],
        )
        .with_note(format!("Access logs add S3 storage cost in {log_bucket}; undo turns logging off and keeps {log_bucket} and its logs."));
        f.prerequisites =
            json!({ "AccessLogBucket": { "Name": log_bucket, "Owner": log_owner.as_str() } });
        Ok(vec![f])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let account = &cx.aws.account.id;
        let part = &cx.aws.account.partition;
        let bucket = str_field(&f.before, "Bucket")?;
        let region = str_field(&f.before, "Region")?;
        let log_bucket = cx.params.access_log_bucket(account);
        let prefix = prefix_for(bucket);
        let log_region = ensure_bucket(cx, &log_bucket, region, "access_log_bucket").await?;
        let s3 = cx.aws.s3(&log_region);
        block_public_access(&s3, &log_bucket, account).await?;
        merge_bucket_policy(
            &s3,
            &log_bucket,
            account,
            log_bucket_statements(part, account, bucket, &log_bucket, &prefix),
        )
        .await?;
        put_logging(cx, region, bucket, Some((&log_bucket, &prefix))).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let bucket = str_field(previous, "Bucket")?;
        let region = str_field(previous, "Region")?;
        let target = previous["LoggingEnabled"].as_object().map(|e| {
            (
                e["TargetBucket"].as_str().unwrap_or_default(),
                e["TargetPrefix"].as_str().unwrap_or_default(),
            )
        });
        put_logging(cx, region, bucket, target).await
    }
}

/// Set `bucket`'s server access logging: to `(target bucket, prefix)`, or off with `None`.
async fn put_logging(
    cx: &Cx<'_>,
    region: &str,
    bucket: &str,
    target: Option<(&str, &str)>,
) -> Result<(), AwsError> {
    let mut status = aws_sdk_s3::types::BucketLoggingStatus::builder();
    if let Some((target_bucket, prefix)) = target {
        status = status.logging_enabled(
            aws_sdk_s3::types::LoggingEnabled::builder()
                .target_bucket(target_bucket)
                .target_prefix(prefix)
                .build()
                .map_err(|e| {
                    AwsError::new(
                        crate::aws::ErrorKind::Service,
                        "s3:PutBucketLogging",
                        e.to_string(),
                    )
                })?,
        );
    }
    cx.aws
        .s3(region)
        .put_bucket_logging()
        .bucket(bucket)
        .expected_bucket_owner(&cx.aws.account.id)
        .bucket_logging_status(status.build())
        .send()
        .await
        .map_err(aws_err("s3:PutBucketLogging"))?;
    Ok(())
}
