//! CIS 5.0 3.1: CloudTrail is enabled in all regions.
//!
//! One account-wide finding. A trail that already satisfies the control (an organization
//! trail or a multi-region trail homed in another region included) makes it compliant: no
//! duplicate is ever added. Otherwise the cheapest fix wins: start logging on a stopped
//! multi-region trail, upgrade a single-region trail in place (in its home region: UpdateTrail
//! only works there), and only then create a trail with its bucket, log group and role.
//! The bucket, log group and role are shared prerequisites (3.4, 3.5 and the monitoring
//! section build on them): ensured idempotently and kept out of `before`.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::alarm_topic::CREATED_TAG;
use crate::resources::buckets::{
    block_public_access, block_public_access_call, ensure_bucket, ensure_bucket_call,
    foreign_message, merge_bucket_policy, ownership, Ownership,
};
use crate::resources::service_role::{self, FoundRole};
use crate::resources::trails::{
    cis_or_organization_trail, str_field, trails, unique_by_arn, TrailInfo,
};

pub struct CloudtrailMultiRegion;

const DESCRIPTION: Description = Description {
    slug: "cloudtrail-multi-region",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "s3:ListAllMyBuckets",
            "s3:GetBucketLocation",
            "iam:GetRole",
            "iam:GetRolePolicy",
        ],
    write_actions: &[
            "cloudtrail:CreateTrail",
            "cloudtrail:UpdateTrail",
            "cloudtrail:StartLogging",
            "cloudtrail:StopLogging",
            "cloudtrail:DeleteTrail",
            "cloudtrail:AddTags",
            "cloudtrail:ListTags",
            "s3:CreateBucket",
            "s3:GetBucketLocation",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketVersioning",
            "s3:GetEncryptionConfiguration",
            "s3:PutEncryptionConfiguration",
            "logs:CreateLogGroup",
            "logs:DescribeLogGroups",
            "logs:PutRetentionPolicy",
            "iam:CreateRole",
            "iam:TagRole",
            "iam:ListRoleTags",
            "iam:PutRolePolicy",
            "iam:PassRole",
            "iam:DeleteRolePolicy",
            "iam:DeleteRole",
            "logs:DeleteLogGroup",
            "s3:DeleteBucket",
        ],
    change_profile: "medium; reversible: undo deletes a trail cis-fix created (and its delivery role), puts an upgraded trail back to single-region and stops logging it started; the log bucket and log group are kept (they hold logs); S3 storage, CloudWatch Logs ingestion and one paid copy of management events per extra trail cost money",
};

pub const TARGET: &str = "CloudTrail multi-region trail";
/// The inline policy of the role CloudTrail assumes to deliver to CloudWatch Logs (the
/// role's name is `trail_log_role_name`, by default the same text).
pub const LOG_ROLE_POLICY: &str = "cis-fix-cloudtrail-logs";

#[async_trait]
impl Control for CloudtrailMultiRegion {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    /// A single-region trail is listed only in its own region: the run's regions are read.
    fn reads_regions(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let all = trails(cx).await?;
        if let Some(f) = plan_existing(cx, &all) {
            return Ok(vec![f]);
        }
        // Creating: the bucket and the role are only used if they are this account's and
        // what cis-fix would write.
        let n = names(cx);
        let bucket = ownership(cx, &n.bucket).await?;
        let role = service_role::read(cx, &n.role, LOG_ROLE_POLICY).await?;
        Ok(vec![create_finding(cx, &all, &bucket, role.as_ref())])
    }

    async fn apply(&self, cx: &Cx<'_>, _region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        if f.before["Trail"].is_null() {
            return create(cx).await;
        }
        let arn = str_field(&f.before, "Arn")?;
        let home = str_field(&f.before, "HomeRegion")?;
        let ct = cx.aws.cloudtrail(home);
        if f.before["IsMultiRegionTrail"] != json!(true) {
            ct.update_trail()
                .name(arn)
                .is_multi_region_trail(true)
                .include_global_service_events(true)
                .send()
                .await
                .map_err(aws_err("cloudtrail:UpdateTrail"))?;
        }
        if f.before["IsLogging"] != json!(true) {
            ct.start_logging()
                .name(arn)
                .send()
                .await
                .map_err(aws_err("cloudtrail:StartLogging"))?;
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
        let all = trails(cx).await?;
        if previous["Trail"].is_null() {
            return remove_created(cx, &all, previous).await;
        }
        let arn = str_field(previous, "Arn")?;
        let Some(t) = all.iter().find(|t| t.arn == arn) else {
            return Err(AwsError::new(
                ErrorKind::Service,
                "cloudtrail:DescribeTrails",
                format!("trail {arn} no longer exists; nothing to restore"),
            ));
        };
        let ct = cx.aws.cloudtrail(&t.home_region);
        let was_multi = previous["IsMultiRegionTrail"] == json!(true);
        let was_global = previous["IncludeGlobalServiceEvents"] == json!(true);
        if t.multi_region != was_multi || t.include_global_events != was_global {
            ct.update_trail()
                .name(arn)
                .is_multi_region_trail(was_multi)
                .include_global_service_events(was_global)
                .send()
                .await
                .map_err(aws_err("cloudtrail:UpdateTrail"))?;
        }
        if previous["IsLogging"] == json!(false) && t.logging == Some(true) {
            ct.stop_logging()
                .name(arn)
                .send()
                .await
                .map_err(aws_err("cloudtrail:StopLogging"))?;
        }
        Ok(())
    }
}

/// What 3.1 records about a trail: only the settings it changes, so that other controls'
/// changes to the same trail (validation, KMS) don't make its undo refuse.
fn trail_state(t: &TrailInfo) -> Value {
    json!({
        "Trail": t.name,
        "Arn": t.arn,
        "HomeRegion": t.home_region,
        "OrganizationTrail": t.organization,
        "IsMultiRegionTrail": t.multi_region,
        "IncludeGlobalServiceEvents": t.include_global_events,
        "IsLogging": t.logging,
    })
}

/// The finding when a trail exists to build on (compliant, or fixed in place); `None` when
/// a trail has to be created.
fn plan_existing(cx: &Cx<'_>, all: &[TrailInfo]) -> Option<Finding> {
    let account = &cx.aws.account.id;
    if let Some(t) = cis_or_organization_trail(all) {
        let mut f = Finding::compliant(
            TARGET,
            format!(
                "trail {} (home {}{}) is multi-region, logging, and records read and write management events",
                t.name,
                t.home_region,
                if t.organization { ", organization trail" } else { "" }
            ),
            trail_state(t),
        );
        if t.logging.is_none() {
            f = f.with_note(
                "The organization trail's logging status can't be read from a member account; its management account runs it.",
            );
        }
        return Some(f);
    }
    // A landing zone's multi-region trail that does not qualify: fixed where it is owned,
    // never here, and not duplicated by a trail of cis-fix's.
    if let Some((t, owner)) = unique_by_arn(all)
        .into_iter()
        .filter(|t| t.multi_region)
        .find_map(|t| t.owned_by(account).map(|o| (t, o)))
    {
        let why = if t.logging == Some(false) {
            "is not logging"
        } else {
            "does not record both read and write management events"
        };
        return Some(crate::resources::landing_zone::manual(
            TARGET,
            &format!("multi-region trail {} {why}", t.name),
            &format!("trail {}", t.name),
            &owner,
            trail_state(t),
        ));
    }
    let own: Vec<&TrailInfo> = unique_by_arn(all)
        .into_iter()
        .filter(|t| t.changeable_from(account))
        .collect();
    // A multi-region trail that is stopped: start it.
    if let Some(t) = own.iter().find(|t| t.multi_region) {
        if !t.management_read_write() {
            return Some(Finding::manual(
                TARGET,
                format!(
                    "multi-region trail {} does not record both read and write management events",
                    t.name
                ),
                trail_state(t),
                &[
                    "Edit the trail's event selectors to record management events of type All (read and write); cis-fix does not rewrite another trail's management selectors.",
                ],
            ));
        }
        let mut after = trail_state(t);
        after["IsLogging"] = json!(true);
        return Some(
            Finding::change(
                TARGET,
                format!("multi-region trail {} exists but is not logging", t.name),
                Action::Update,
                trail_state(t),
                after,
                vec![ApiCall::new(
                    "cloudtrail:StartLogging",
                    json!({ "Name": t.arn, "Region": t.home_region }),
                )],
            )
            .with_note("Undo stops logging again."),
        );
    }
    // A single-region trail recording management events: upgrade it in its home region.
    if let Some(t) = own.iter().find(|t| t.management_read_write()) {
        let mut after = trail_state(t);
        after["IsMultiRegionTrail"] = json!(true);
        after["IncludeGlobalServiceEvents"] = json!(true);
        after["IsLogging"] = json!(true);
        let mut calls = vec![ApiCall::new(
            "cloudtrail:UpdateTrail",
            json!({
                "Name": t.arn,
                "Region": t.home_region,
                "IsMultiRegionTrail": true,
                "IncludeGlobalServiceEvents": true,
            }),
        )];
        if t.logging != Some(true) {
            calls.push(ApiCall::new(
                "cloudtrail:StartLogging",
                json!({ "Name": t.arn, "Region": t.home_region }),
            ));
        }
        return Some(Finding::change(
            TARGET,
            format!(
                "no multi-region trail; single-region trail {} ({}) is upgraded to all regions",
                t.name, t.home_region
            ),
            Action::Update,
            trail_state(t),
            after,
            calls,
        )
        .with_risk(Risk::Medium)
        .with_note("The trail keeps its name, bucket and settings; it starts recording in every region (more log volume).")
        .with_note("Undo puts it back to single-region with its previous global-service-events setting."));
    }
    None
}

/// The names and ARNs of everything the create path makes.
struct Names {
    trail: String,
    region: String,
    arn: String,
    bucket: String,
    log_group: String,
    log_group_arn: String,
    /// The delivery role's name (`trail_log_role_name`) and ARN.
    role: String,
    role_arn: String,
    retention: i32,
}

fn names(cx: &Cx<'_>) -> Names {
    let account = &cx.aws.account.id;
    let part = &cx.aws.account.partition;
    let region = cx.params.trail_region(&cx.aws.home_region);
    let trail = cx.params.trail_name();
    let log_group = cx.params.trail_log_group();
    let role = cx.params.trail_log_role_name();
    Names {
        arn: format!("arn:{part}:cloudtrail:{region}:{account}:trail/{trail}"),
        bucket: cx.params.trail_bucket(account),
        log_group_arn: format!("arn:{part}:logs:{region}:{account}:log-group:{log_group}:*"),
        role_arn: format!("arn:{part}:iam::{account}:role/{role}"),
        role,
        retention: cx.params.log_retention_days(),
        trail,
        region,
        log_group,
    }
}

/// What the create path records in `before`: no trail, and whether the delivery role and
/// its inline policy were there already (undo deletes only what this run created). The
/// names (parameters) are not recorded: undo finds the trail by cis-fix's tag and the role
/// from the trail, whatever they were called.
fn create_before(role: Option<&FoundRole>) -> Value {
    json!({
        "Trail": null,
        "LogRoleExisted": role.is_some(),
        "LogRolePolicyExisted": role.is_some_and(|r| r.inline.is_some()),
    })
}

fn create_finding(
    cx: &Cx<'_>,
    all: &[TrailInfo],
    bucket: &Ownership,
    role: Option<&FoundRole>,
) -> Finding {
    let n = names(cx);
    let account = &cx.aws.account.id;
    let part = &cx.aws.account.partition;
    let before = create_before(role);
    if *bucket == Ownership::Foreign {
        return Finding::manual(
            TARGET,
            format!(
                "no trail qualifies, and {}",
                foreign_message(&n.bucket, "trail_bucket")
            ),
            before,
            &["Set trail_bucket (cis-fix.toml or --set) to a bucket name this account owns or that is free, then plan again."],
        );
    }
    let trust = role_trust(account);
    let inline = role_policy(part, account, &n.region, &n.log_group);
    if let Some(why) = role.and_then(|r| service_role::difference(&n.role, r, &trust, &inline)) {
        let mut f = Finding::manual(
            TARGET,
            format!("no trail qualifies, and {why}"),
            before,
            &[],
        );
        f.manual_steps = service_role::refused_steps(&n.role);
        return f;
    }
    let policy = crate::resources::buckets::bucket_policy_doc(
        None,
        trail_bucket_statements(part, account, &n.bucket, &n.arn),
    )
    .unwrap_or(Value::Null);
    let trail_params = json!({
        "Name": n.trail,
        "Region": n.region,
        "S3BucketName": n.bucket,
        "IsMultiRegionTrail": true,
        "IncludeGlobalServiceEvents": true,
        "EnableLogFileValidation": true,
        "CloudWatchLogsLogGroupArn": n.log_group_arn,
        "CloudWatchLogsRoleArn": n.role_arn,
        "TagsList": [{ "Key": CREATED_TAG, "Value": service_role::CREATED_VALUE }],
    });
    let mut calls = vec![
        ensure_bucket_call(&n.bucket, &n.region),
        ApiCall::new(
            "s3:PutBucketPolicy",
            json!({ "Bucket": n.bucket, "Policy": policy, "MergedIntoExisting": true }),
        ),
        block_public_access_call(&n.bucket),
        ApiCall::new(
            "s3:PutBucketVersioning",
            json!({ "Bucket": n.bucket, "Status": "Enabled" }),
        ),
        ApiCall::new(
            "s3:PutBucketEncryption",
            json!({ "Bucket": n.bucket, "SSEAlgorithm": "AES256", "IfNoneSet": true }),
        ),
        ApiCall::new(
            "logs:CreateLogGroup",
            json!({ "logGroupName": n.log_group, "Region": n.region, "IfMissing": true }),
        ),
        ApiCall::new(
            "logs:PutRetentionPolicy",
            json!({ "logGroupName": n.log_group, "retentionInDays": n.retention, "IfNoneSet": true }),
        ),
    ];
    if role.is_none() {
        calls.push(ApiCall::new(
            "iam:CreateRole",
            json!({ "RoleName": n.role, "AssumeRolePolicyDocument": trust,
                    "Tags": [{ "Key": crate::resources::alarm_topic::CREATED_TAG, "Value": service_role::CREATED_VALUE }] }),
        ));
    }
    if role.is_none_or(|r| r.inline.is_none()) {
        calls.push(ApiCall::new(
            "iam:PutRolePolicy",
            json!({ "RoleName": n.role, "PolicyName": LOG_ROLE_POLICY, "PolicyDocument": inline }),
        ));
    }
    calls.push(ApiCall::new("cloudtrail:CreateTrail", trail_params.clone()));
    calls.push(ApiCall::new(
        "cloudtrail:StartLogging",
        json!({ "Name": n.arn, "Region": n.region }),
    ));
    let others: Vec<String> = all
        .iter()
        .map(|t| {
            format!(
                "{} ({}{})",
                t.name,
                t.home_region,
                if t.multi_region { ", multi-region" } else { "" }
            )
        })
        .collect();
    let summary = if others.is_empty() {
        "no trail: a multi-region trail is created".to_string()
    } else {
        format!(
            "no trail qualifies ({}): a multi-region trail is created",
            others.join(", ")
        )
    };
    // What `before` records for undo stays as it is: not a change, so not in the diff.
    let (role_existed, policy_existed) = (
        before["LogRoleExisted"].clone(),
        before["LogRolePolicyExisted"].clone(),
    );
    let mut f = Finding::change(
        TARGET,
        summary,
        Action::Create,
        before,
        json!({
            "LogRoleExisted": role_existed,
            "LogRolePolicyExisted": policy_existed,
            "Trail": n.trail,
            "Arn": n.arn,
            "HomeRegion": n.region,
            "IsMultiRegionTrail": true,
            "IncludeGlobalServiceEvents": true,
            "LogFileValidationEnabled": true,
            "IsLogging": true,
            "S3BucketName": n.bucket,
            "CloudWatchLogsLogGroupArn": n.log_group_arn,
            "CloudWatchLogsRoleArn": n.role_arn,
        }),
        calls,
    )
    .with_risk(Risk::Medium)
    .with_note(format!(
        "Costs: S3 storage for the logs in {}, CloudWatch Logs ingestion and storage for {} ({} days' retention); the first copy of management events is free.",
        n.bucket, n.log_group, n.retention
    ))
    .with_note(format!(
        "Undo deletes the trail and the role {}; the bucket {} and the log group {} are kept because they hold logs.",
        n.role, n.bucket, n.log_group
    ))
    .with_note("An existing bucket of this account or log group of the same name is reused (the bucket policy statements are merged into any existing policy); an existing role of the same name only if its trust and inline policy are exactly what cis-fix writes, and undo then keeps it.")
    .with_note(format!(
        "Trails were looked for in {}: a single-region trail homed in a region the run does not cover is not seen; include its region in --regions to upgrade it in place instead.",
        crate::resources::trails::trail_regions(cx).join(", ")
    ));
    f.prerequisites = json!({
        "TrailBucket": { "Name": n.bucket, "Owner": bucket.as_str() },
        "LogRole": service_role::prerequisite(role),
    });
    f
}

fn role_trust(account: &str) -> Value {
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

fn role_policy(part: &str, account: &str, region: &str, group: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": format!("arn:{part}:logs:{region}:{account}:log-group:{group}:log-stream:*"),
        }],
    })
}

/// The statements that let CloudTrail deliver this trail's logs, and only this trail's.
pub fn trail_bucket_statements(
    part: &str,
    account: &str,
    bucket: &str,
    trail_arn: &str,
) -> Vec<Value> {
    vec![
        json!({
            "Sid": "CisFixCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": { "Service": "cloudtrail.amazonaws.com" },
            "Action": "s3:GetBucketAcl",
            "Resource": format!("arn:{part}:s3:::{bucket}"),
            "Condition": { "StringEquals": { "aws:SourceArn": trail_arn } },
        }),
        json!({
            "Sid": "CisFixCloudTrailWrite",
            "Effect": "Allow",
            "Principal": { "Service": "cloudtrail.amazonaws.com" },
            "Action": "s3:PutObject",
            "Resource": format!("arn:{part}:s3:::{bucket}/AWSLogs/{account}/*"),
            "Condition": { "StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": trail_arn,
            } },
        }),
        // cis-fix's own log bucket passes CIS 2.1.1 from the start.
        crate::resources::buckets::deny_insecure_transport(&format!("arn:{part}:s3:::{bucket}")),
    ]
}

/// What one create attempt made that was not there before, so a failed attempt can take it
/// away again.
#[derive(Debug, Default)]
struct Made {
    /// The bucket (its region).
    bucket: Option<String>,
    log_group: bool,
    role: bool,
    /// The inline policy on a role that existed without it.
    inline: bool,
    trail: bool,
}

impl Made {
    fn describe(&self, n: &Names) -> Vec<String> {
        let mut v = Vec::new();
        if self.bucket.is_some() {
            v.push(format!("bucket {}", n.bucket));
        }
        if self.log_group {
            v.push(format!("log group {}", n.log_group));
        }
        if self.role {
            v.push(format!("role {}", n.role));
        } else if self.inline {
            v.push(format!(
                "inline policy {LOG_ROLE_POLICY} of role {}",
                n.role
            ));
        }
        v
    }
}

/// Create the trail and what it needs. When an attempt fails before the trail exists, what it
/// made (the bucket, log group, role — all still empty) is removed again, so a failed
/// creation leaves no orphans; the error says what was removed, or what is left and why. Once
/// the trail exists, a later failure (StartLogging) leaves everything for undo, which deletes
/// the trail and the role it created.
async fn create(cx: &Cx<'_>) -> Result<(), AwsError> {
    let n = names(cx);
    let mut made = Made::default();
    let Err(e) = create_steps(cx, &n, &mut made).await else {
        return Ok(());
    };
    if made.trail {
        return Err(e);
    }
    let what = made.describe(&n);
    if what.is_empty() {
        return Err(e);
    }
    let left = roll_back(cx, &n, &made).await;
    let tail = if left.is_empty() {
        format!(
            "; removed what this attempt had created ({})",
            what.join(", ")
        )
    } else {
        format!(
            "; could not remove what this attempt had created: {} — delete it by hand",
            left.join("; ")
        )
    };
    Err(AwsError {
        message: format!("{}{tail}", e.message),
        ..e
    })
}

/// Remove what a failed attempt made, newest first; returns what could not be removed.
async fn roll_back(cx: &Cx<'_>, n: &Names, made: &Made) -> Vec<String> {
    let mut left = Vec::new();
    if made.role || made.inline {
        let r = service_role::delete_inline(cx, &n.role, LOG_ROLE_POLICY).await;
        if let Err(e) = r {
            left.push(format!("inline policy of role {}: {e}", n.role));
        }
    }
    if made.role {
        if let Err(e) = service_role::delete_if_tagged(cx, &n.role, LOG_ROLE_POLICY).await {
            left.push(format!("role {}: {e}", n.role));
        }
    }
    if made.log_group {
        let r = cx
            .aws
            .logs(&n.region)
            .delete_log_group()
            .log_group_name(&n.log_group)
            .send()
            .await;
        if let Err(e) = r {
            left.push(format!(
                "log group {}: {}",
                n.log_group,
                AwsError::from_sdk("logs:DeleteLogGroup", e)
            ));
        }
    }
    if let Some(region) = &made.bucket {
        let r = cx
            .aws
            .s3(region)
            .delete_bucket()
            .bucket(&n.bucket)
            .expected_bucket_owner(&cx.aws.account.id)
            .send()
            .await;
        if let Err(e) = r {
            left.push(format!(
                "bucket {}: {}",
                n.bucket,
                AwsError::from_sdk("s3:DeleteBucket", e)
            ));
        }
    }
    left
}

async fn create_steps(cx: &Cx<'_>, n: &Names, made: &mut Made) -> Result<(), AwsError> {
    let account = &cx.aws.account.id;
    let part = &cx.aws.account.partition;

    // The bucket, in the trail's region when cis-fix creates it.
    // The role first: a role cis-fix must not use stops the change before anything is
    // written.
    let trust = role_trust(account);
    let inline = role_policy(part, account, &n.region, &n.log_group);
    let role = service_role::read(cx, &n.role, LOG_ROLE_POLICY).await?;
    if let Some(why) = role
        .as_ref()
        .and_then(|r| service_role::difference(&n.role, r, &trust, &inline))
    {
        return Err(AwsError::new(ErrorKind::Service, "iam:GetRole", why));
    }
    let missing = ownership(cx, &n.bucket).await? == Ownership::Missing;
    let bucket_region = ensure_bucket(cx, &n.bucket, &n.region, "trail_bucket").await?;
    if missing {
        made.bucket = Some(bucket_region.clone());
    }
    let s3 = cx.aws.s3(&bucket_region);
    merge_bucket_policy(
        &s3,
        &n.bucket,
        account,
        trail_bucket_statements(part, account, &n.bucket, &n.arn),
    )
    .await?;
    block_public_access(&s3, &n.bucket, account).await?;
    s3.put_bucket_versioning()
        .bucket(&n.bucket)
        .expected_bucket_owner(account)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(aws_err("s3:PutBucketVersioning"))?;
    // Keep an existing default encryption (it may be a KMS key); add SSE-S3 where none.
    let has_encryption = match s3
        .get_bucket_encryption()
        .bucket(&n.bucket)
        .expected_bucket_owner(account)
        .send()
        .await
        .map_err(aws_err("s3:GetBucketEncryption"))
    {
        Ok(o) => o
            .server_side_encryption_configuration()
            .is_some_and(|c| !c.rules().is_empty()),
        Err(e) if e.is_code("ServerSideEncryptionConfigurationNotFoundError") => false,
        Err(e) => return Err(e),
    };
    if !has_encryption {
        use aws_sdk_s3::types::{
            ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| {
                AwsError::new(ErrorKind::Service, "s3:PutBucketEncryption", e.to_string())
            })?;
        let conf = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(|e| {
                AwsError::new(ErrorKind::Service, "s3:PutBucketEncryption", e.to_string())
            })?;
        s3.put_bucket_encryption()
            .bucket(&n.bucket)
            .expected_bucket_owner(account)
            .server_side_encryption_configuration(conf)
            .send()
            .await
            .map_err(aws_err("s3:PutBucketEncryption"))?;
    }

    // The log group, with retention unless it already has one.
    let logs = cx.aws.logs(&n.region);
    match logs
        .create_log_group()
        .log_group_name(&n.log_group)
        .send()
        .await
        .map_err(aws_err("logs:CreateLogGroup"))
    {
        Ok(_) => made.log_group = true,
        Err(e) if e.is_code("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(e),
    }
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(&n.log_group)
        .send()
        .await
        .map_err(aws_err("logs:DescribeLogGroups"))?;
    let retention = groups
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(n.log_group.as_str()))
        .and_then(|g| g.retention_in_days());
    if retention.is_none() {
        logs.put_retention_policy()
            .log_group_name(&n.log_group)
            .retention_in_days(n.retention)
            .send()
            .await
            .map_err(aws_err("logs:PutRetentionPolicy"))?;
    }

    // The delivery role: created (tagged) when missing; an existing one is exactly cis-fix's
    // (checked above) and only gets its inline policy when it has none.
    if role.is_none() {
        service_role::create(
            cx,
            &n.role,
            &trust,
            "cis-fix: CloudTrail delivers to CloudWatch Logs",
        )
        .await?;
        made.role = true;
    }
    if role.as_ref().is_none_or(|r| r.inline.is_none()) {
        made.inline = true;
        cx.aws
            .iam()
            .put_role_policy()
            .role_name(&n.role)
            .policy_name(LOG_ROLE_POLICY)
            .policy_document(inline.to_string())
            .send()
            .await
            .map_err(aws_err("iam:PutRolePolicy"))?;
    }

    // The trail. A role or bucket policy written a moment ago may not be visible to
    // CloudTrail yet (IAM is eventually consistent): retry those refusals for a while.
    let ct = cx.aws.cloudtrail(&n.region);
    let mut attempt = 0;
    loop {
        let r = ct
            .create_trail()
            .name(&n.trail)
            .s3_bucket_name(&n.bucket)
            .is_multi_region_trail(true)
            .include_global_service_events(true)
            .enable_log_file_validation(true)
            .cloud_watch_logs_log_group_arn(&n.log_group_arn)
            .cloud_watch_logs_role_arn(&n.role_arn)
            .tags_list(
                aws_sdk_cloudtrail::types::Tag::builder()
                    .key(CREATED_TAG)
                    .value(service_role::CREATED_VALUE)
                    .build()
                    .map_err(|e| {
                        AwsError::new(ErrorKind::Service, "cloudtrail:CreateTrail", e.to_string())
                    })?,
            )
            .send()
            .await
            .map_err(aws_err("cloudtrail:CreateTrail"));
        match r {
            Ok(_) => {
                made.trail = true;
                break;
            }
            Err(e)
                if attempt < 8
                    && (e.is_code("InvalidCloudWatchLogsRoleArnException")
                        || e.is_code("InsufficientS3BucketPolicyException")) =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            Err(e) => return Err(e),
        }
    }
    ct.start_logging()
        .name(&n.arn)
        .send()
        .await
        .map_err(aws_err("cloudtrail:StartLogging"))?;
    Ok(())
}

/// Undo of a create: delete the trail cis-fix made (by its configured name, homed in this
/// account), and, when no other trail uses the delivery role, what this run added to it: the
/// role itself only if it was not there before (`previous`) and carries cis-fix's tag, else
/// only the inline policy the run added. Bucket and log group stay.
async fn remove_created(cx: &Cx<'_>, all: &[TrailInfo], previous: &Value) -> Result<(), AwsError> {
    // Undo runs without the plan's parameters: the trail is the one cis-fix tagged when it
    // created it (whatever trail_name was), else (made by an older cis-fix, untagged) the
    // default name; the role is the one that trail delivers with, else the default.
    let n = names(cx);
    let account = &cx.aws.account.id;
    let mine: Vec<&TrailInfo> = all.iter().filter(|t| t.changeable_from(account)).collect();
    let mut ours = None;
    for t in &mine {
        if created_by_cis_fix(cx, t).await? {
            ours = Some(*t);
            break;
        }
    }
    let ours = ours.or_else(|| mine.iter().copied().find(|t| t.name == n.trail));
    let role_arn = ours
        .and_then(|t| t.log_role_arn.clone())
        .filter(|a| a.contains(":role/"))
        .unwrap_or(n.role_arn.clone());
    let role = role_arn.rsplit('/').next().unwrap_or(&n.role).to_string();
    let role = role.as_str();
    if let Some(t) = ours {
        // By name in its home region (moto 5.2.5's DeleteTrail ignores ARNs silently).
        cx.aws
            .cloudtrail(&t.home_region)
            .delete_trail()
            .name(&t.name)
            .send()
            .await
            .map_err(aws_err("cloudtrail:DeleteTrail"))?;
    }
    let role_in_use = all.iter().any(|t| {
        Some(&t.arn) != ours.map(|o| &o.arn) && t.log_role_arn.as_deref() == Some(role_arn.as_str())
    });
    if role_in_use {
        return Ok(());
    }
    // Journals written before these fields existed record neither: the role is kept.
    if previous["LogRoleExisted"] == json!(false) {
        service_role::delete_if_tagged(cx, role, LOG_ROLE_POLICY).await?;
    } else if previous["LogRoleExisted"] == json!(true)
        && previous["LogRolePolicyExisted"] == json!(false)
    {
        service_role::delete_inline(cx, role, LOG_ROLE_POLICY).await?;
    }
    Ok(())
}

/// Whether cis-fix created the trail (its tag, read in the trail's home region).
async fn created_by_cis_fix(cx: &Cx<'_>, t: &TrailInfo) -> Result<bool, AwsError> {
    let out = cx
        .aws
        .cloudtrail(&t.home_region)
        .list_tags()
        .resource_id_list(&t.arn)
        .send()
        .await
        .map_err(aws_err("cloudtrail:ListTags"))?;
    Ok(out.resource_tag_list().iter().any(|r| {
        r.tags_list()
            .iter()
            .any(|tag| tag.key() == CREATED_TAG && tag.value() == Some(service_role::CREATED_VALUE))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsContext;
    use crate::plan::Status;
    use crate::resources::buckets::bucket_policy_doc;
    use crate::{params::Params, resources::Reads};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_types::body::SdkBody;

    fn event(status: u16, body: &str) -> ReplayEvent {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://cloudtrail.us-east-1.amazonaws.com/")
            .unwrap();
        let mut resp =
            HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        resp.headers_mut()
            .insert("content-type", "application/x-amz-json-1.1");
        ReplayEvent::new(req, resp)
    }

    /// moto has no organizations: an organization trail seen from a member account, whose
    /// status and selectors the member may not read, replayed from canned answers.
    #[tokio::test]
    async fn an_organization_trail_seen_from_a_member_is_compliant_and_left_alone() {
        let http = StaticReplayClient::new(vec![
            event(
                200,
                r#"{"trailList":[{"Name":"org","TrailARN":"arn:aws:cloudtrail:us-east-1:999988887777:trail/org","HomeRegion":"us-east-1","IsMultiRegionTrail":true,"IsOrganizationTrail":true,"LogFileValidationEnabled":false,"IncludeGlobalServiceEvents":true,"S3BucketName":"org-logs"}]}"#,
            ),
            event(
                400,
                r#"{"__type":"TrailNotFoundException","message":"Unknown trail"}"#,
            ),
            event(
                400,
                r#"{"__type":"TrailNotFoundException","message":"Unknown trail"}"#,
            ),
        ]);
        let aws = AwsContext::for_replay(
            aws_smithy_runtime_api::client::http::SharedHttpClient::new(http.clone()),
            "111122223333",
            "eu-west-1",
        );
        let reads = Reads::default();
        let params = Params::default();
        let cx = Cx {
            aws: &aws,
            reads: &reads,
            params: &params,
        };
        let f = CloudtrailMultiRegion.plan(&cx, None).await.unwrap();
        assert_eq!(f[0].status, Status::Compliant, "{f:?}");
        assert!(f[0].summary.contains("organization trail"));
        let v = crate::registry::find("cloudtrail-log-validation")
            .unwrap()
            .plan(&cx, None)
            .await
            .unwrap();
        assert_eq!(v[0].status, Status::Manual, "{v:?}");
        let s = crate::registry::find("s3-object-write-logging")
            .unwrap()
            .plan(&cx, None)
            .await
            .unwrap();
        assert_eq!(s[0].status, Status::Manual, "{s:?}");
        // One read of the trails for all three controls.
        assert_eq!(http.actual_requests().count(), 3);
    }

    #[test]
    fn bucket_policy_merge_keeps_other_statements_and_replaces_ours() {
        let existing = json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Sid": "Theirs", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "x" },
                { "Sid": "CisFixCloudTrailWrite", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "old" }
            ]
        })
        .to_string();
        let ours = trail_bucket_statements(
            "aws",
            "111122223333",
            "b",
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t",
        );
        let doc = bucket_policy_doc(Some(&existing), ours).unwrap();
        let st = doc["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 4);
        assert_eq!(st[0]["Sid"], "Theirs");
        assert_eq!(st[2]["Resource"], "arn:aws:s3:::b/AWSLogs/111122223333/*");
        assert_eq!(st[3]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(
            st[2]["Condition"]["StringEquals"]["aws:SourceArn"],
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t"
        );
        assert!(bucket_policy_doc(Some("{not json"), vec![]).is_err());
        let fresh = bucket_policy_doc(None, vec![json!({"Sid": "A"})]).unwrap();
        assert_eq!(fresh["Statement"].as_array().unwrap().len(), 1);
    }
}
