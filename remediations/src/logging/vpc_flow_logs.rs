//! CIS 5.0 3.7: every VPC of every selected region has an active flow log capturing at least
//! rejected traffic. A VPC without one gets a flow log (traffic `flow_log_traffic`, REJECT by
//! default) to CloudWatch Logs through a delivery role, or to S3 (`flow_log_destination`).
//!
//! The role (one per account), the log group (one per region) and the bucket (one per
//! account, in the home region) are shared prerequisites: ensured by each apply, never in
//! `before`, never deleted by undo (the log group and bucket hold the logs).

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_ec2::types::{self as ec2, FlowLogsResourceType, LogDestinationType, TrafficType};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::params::FlowLogDestination;
use crate::plan::{Action, ApiCall, Finding};
use crate::resources::buckets::{
    create_if_missing, create_if_missing_calls, deny_insecure_transport, foreign_message,
    ownership, Ownership,
};
use crate::resources::service_role;

pub struct VpcFlowLogs;

const DESCRIPTION: Description = Description {
    slug: "vpc-flow-logs",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[
        "ec2:DescribeVpcs",
        "ec2:DescribeFlowLogs",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
    ],
    write_actions: &[
        "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs",
        "iam:CreateRole",
        "iam:TagRole",
        "iam:PutRolePolicy",
        "iam:PassRole",
        "logs:DescribeLogGroups",
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "s3:ListBucket",
        "s3:CreateBucket",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPolicy",
    ],
    change_profile:
        "low risk, but it costs money (per GB of flow log data); reversible per VPC: undo deletes \
         the flow log cis-fix created; the log group, bucket and delivery role are kept",
};

const VPC_PREFIX: &str = "VPC ";
/// Log group cis-fix creates in each region for CloudWatch Logs delivery.
pub(crate) const LOG_GROUP: &str = "cis-fix-vpc-flow-logs";
const ROLE_POLICY_NAME: &str = "cis-fix-flow-logs-delivery";
const FLOW_LOGS_SERVICE: &str = "vpc-flow-logs.amazonaws.com";

const COST_NOTE: &str = "Flow logs are billed per GB of log data ingested (CloudWatch Logs \
     vended logs, or S3 delivery) plus storage; REJECT-only traffic keeps the volume small, ALL \
     can be large on busy VPCs.";

fn vpc_target(id: &str) -> String {
    format!("{VPC_PREFIX}{id}")
}

fn vpc_id_of(target: &str) -> Result<&str, AwsError> {
    target.strip_prefix(VPC_PREFIX).ok_or_else(|| {
        AwsError::new(
            ErrorKind::Service,
            "ec2",
            format!("internal: '{target}' is not a VPC target"),
        )
    })
}

/// Where a flow log delivers to: its destination ARN, or its log group name.
fn destination(fl: &ec2::FlowLog) -> String {
    fl.log_destination()
        .or(fl.log_group_name())
        .unwrap_or_default()
        .to_string()
}

/// The VPC's flow logs as recorded in `before`: stable fields only (no delivery status,
/// which moves by itself), sorted by id.
fn flow_logs_json(fls: &[&ec2::FlowLog]) -> Value {
    let mut v: Vec<Value> = fls
        .iter()
        .map(|fl| {
            json!({
                "Id": fl.flow_log_id(),
                "TrafficType": fl.traffic_type().map(|t| t.as_str()),
                "DestinationType": fl.log_destination_type().map(|t| t.as_str()).unwrap_or("cloud-watch-logs"),
                "Destination": destination(fl),
                "Status": fl.flow_log_status(),
            })
        })
        .collect();
    v.sort_by(|a, b| a["Id"].as_str().cmp(&b["Id"].as_str()));
    Value::Array(v)
}

/// Whether the flow log satisfies CIS: active, and logging rejected traffic.
fn satisfies(fl: &ec2::FlowLog) -> bool {
    fl.flow_log_status() == Some("ACTIVE")
        && matches!(
            fl.traffic_type(),
            Some(TrafficType::Reject) | Some(TrafficType::All)
        )
}

/// The run's choices a finding depends on.
pub(crate) struct Setting {
    pub traffic: String,
    pub dest: FlowLogDestination,
    pub log_group: String,
    pub retention: i32,
    /// Role VPC Flow Logs assumes to write to CloudWatch Logs (one per account;
    /// `flow_log_role_name`).
    pub role_name: String,
    pub role_arn: String,
    pub bucket: String,
    pub bucket_region: String,
    pub partition: String,
    pub account: String,
    /// Why the destination's prerequisite cannot be used (a bucket another account owns, a
    /// delivery role that is not cis-fix's): VPCs without a flow log are then not changed.
    pub refusal: Option<String>,
    /// The observed state of the destination's prerequisite, for changes.
    pub prerequisites: Value,
}

impl Setting {
    fn bucket_arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.bucket)
    }
}

fn role_trust(account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": FLOW_LOGS_SERVICE },
            "Action": "sts:AssumeRole",
            "Condition": { "StringEquals": { "aws:SourceAccount": account } },
        }]
    })
}

fn role_policy(partition: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": format!("arn:{partition}:logs:*:{account}:log-group:{LOG_GROUP}:*"),
            },
            {
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": "*",
            },
        ]
    })
}

fn bucket_policy(partition: &str, account: &str, bucket: &str) -> Value {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    let cond = json!({
        "StringEquals": { "aws:SourceAccount": account },
        "ArnLike": { "aws:SourceArn": format!("arn:{partition}:logs:*:{account}:*") },
    });
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSLogDeliveryWrite",
                "Effect": "Allow",
                "Principal": { "Service": "delivery.logs.amazonaws.com" },
                "Action": "s3:PutObject",
                "Resource": format!("{arn}/AWSLogs/{account}/*"),
                "Condition": {
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceAccount": account,
                    },
                    "ArnLike": { "aws:SourceArn": format!("arn:{partition}:logs:*:{account}:*") },
                },
            },
            {
                "Sid": "AWSLogDeliveryAclCheck",
                "Effect": "Allow",
                "Principal": { "Service": "delivery.logs.amazonaws.com" },
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": arn,
                "Condition": cond,
            },
            deny_insecure_transport(&arn),
        ]
    })
}

/// The finding for one VPC (pure).
pub(crate) fn finding(vpc: &ec2::Vpc, all: &[ec2::FlowLog], s: &Setting) -> Finding {
    let id = vpc.vpc_id().unwrap_or_default();
    let mine: Vec<&ec2::FlowLog> = all
        .iter()
        .filter(|fl| fl.resource_id() == Some(id))
        .collect();
    let before = json!({ "FlowLogs": flow_logs_json(&mine) });
    let name = vpc
        .tags()
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .filter(|n| !n.is_empty());
    let who = match (name, vpc.is_default()) {
        (Some(n), _) => format!("VPC {id} ({n})"),
        (None, Some(true)) => format!("VPC {id} (default)"),
        _ => format!("VPC {id}"),
    };
    if let Some(fl) = mine.iter().find(|fl| satisfies(fl)) {
        let mut f = Finding::compliant(
            vpc_target(id),
            format!(
                "{who} has an active flow log ({} traffic to {})",
                fl.traffic_type().map(|t| t.as_str()).unwrap_or("?"),
                destination(fl)
            ),
            before,
        );
        // Delivery status moves by itself: a note, never part of `before`.
        if fl.deliver_logs_status() == Some("FAILED") {
            f = f.with_note(format!(
                "Flow log {} is not delivering ({}): check its role or destination.",
                fl.flow_log_id().unwrap_or("?"),
                fl.deliver_logs_error_message().unwrap_or("no reason given")
            ));
        }
        return f;
    }
    if let Some(why) = &s.refusal {
        let mut f = Finding::manual(
            vpc_target(id),
            format!("{who} has no active flow log of rejected traffic, and {why}"),
            before,
            &[],
        );
        f.manual_steps = vec![match s.dest {
            FlowLogDestination::S3 => "Set flow_log_bucket (cis-fix.toml or --set) to a bucket name this account owns or that is free, then plan again.".to_string(),
            FlowLogDestination::CloudWatchLogs => service_role::refused_steps(&s.role_name).join(" "),
        }];
        return f;
    }
    let (dest_type, dest, mut calls) = match s.dest {
        FlowLogDestination::CloudWatchLogs => (
            "cloud-watch-logs",
            s.log_group.clone(),
            vec![
                ApiCall::new("iam:GetRole", json!({ "RoleName": s.role_name })),
                ApiCall::new(
                    "iam:CreateRole",
                    json!({ "RoleName": &s.role_name, "AssumeRolePolicyDocument": role_trust(&s.account),
                            "Tags": [{ "Key": crate::resources::alarm_topic::CREATED_TAG, "Value": service_role::CREATED_VALUE }],
                            "OnlyIfMissing": true }),
                ),
                ApiCall::new(
                    "iam:PutRolePolicy",
                    json!({ "RoleName": &s.role_name, "PolicyName": ROLE_POLICY_NAME,
                            "PolicyDocument": role_policy(&s.partition, &s.account),
                            "OnlyIfMissing": true }),
                ),
                ApiCall::new(
                    "logs:CreateLogGroup",
                    json!({ "logGroupName": s.log_group, "OnlyIfMissing": true }),
                ),
                ApiCall::new(
                    "logs:PutRetentionPolicy",
                    json!({ "logGroupName": s.log_group, "retentionInDays": s.retention,
                            "OnlyIfMissing": true }),
                ),
            ],
        ),
        FlowLogDestination::S3 => (
            "s3",
            s.bucket_arn(),
            create_if_missing_calls(
                &s.bucket,
                &s.bucket_region,
                &bucket_policy(&s.partition, &s.account, &s.bucket),
            ),
        ),
    };
    let mut create = json!({
        "ResourceType": "VPC",
        "ResourceIds": [id],
        "TrafficType": s.traffic,
        "LogDestinationType": dest_type,
    });
    match s.dest {
        FlowLogDestination::CloudWatchLogs => {
            create["LogGroupName"] = json!(s.log_group);
            create["DeliverLogsPermissionArn"] = json!(s.role_arn);
        }
        FlowLogDestination::S3 => create["LogDestination"] = json!(dest),
    }
    calls.push(ApiCall::new("ec2:CreateFlowLogs", create));
    let mut after_logs = before["FlowLogs"].as_array().cloned().unwrap_or_default();
    after_logs.push(json!({
        "Id": null,
        "TrafficType": s.traffic,
        "DestinationType": dest_type,
        "Destination": dest,
        "Status": "ACTIVE",
    }));
    let summary = if mine.is_empty() {
        format!("{who} has no flow log")
    } else {
        format!("{who} has no active flow log of rejected traffic (existing ones are kept)")
    };
    let keep = match s.dest {
        FlowLogDestination::CloudWatchLogs => format!(
            "The log group {} (this region, {}-day retention) and the role {} are \
             created once if missing and shared; undo deletes only the flow log, never the log \
             group (it holds the logs) or the role.",
            s.log_group, s.retention, s.role_name
        ),
        FlowLogDestination::S3 => format!(
            "The bucket s3://{} (in {}) is created once if missing and shared; undo deletes \
             only the flow log, never the bucket (it holds the logs).",
            s.bucket, s.bucket_region
        ),
    };
    let mut f = Finding::change(
        vpc_target(id),
        format!(
            "{summary}: cis-fix creates one ({} traffic to {dest})",
            s.traffic
        ),
        Action::Create,
        before,
        json!({ "FlowLogs": after_logs }),
        calls,
    )
    .with_note(COST_NOTE)
    .with_note(keep);
    f.prerequisites = s.prerequisites.clone();
    f
}

async fn read_flow_logs(
    aws: &crate::aws::AwsContext,
    region: &str,
) -> Result<Vec<ec2::FlowLog>, AwsError> {
    let mut out = Vec::new();
    let mut pages = aws
        .ec2(region)
        .describe_flow_logs()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("ec2:DescribeFlowLogs"))?;
        out.extend(page.flow_logs().iter().cloned());
    }
    Ok(out)
}

fn setting(cx: &Cx<'_>) -> Setting {
    let role_name = cx.params.flow_log_role_name();
    let account = cx.aws.account.id.clone();
    let partition = cx.aws.account.partition.clone();
    Setting {
        traffic: cx.params.flow_log_traffic(),
        dest: cx.params.flow_log_destination(),
        log_group: LOG_GROUP.to_string(),
        retention: cx.params.log_retention_days(),
        role_arn: format!("arn:{partition}:iam::{account}:role/{role_name}"),
        role_name,
        bucket: cx.params.flow_log_bucket(&account),
        bucket_region: cx.aws.home_region.clone(),
        partition,
        account,
        refusal: None,
        prerequisites: Value::Null,
    }
}

/// Read the destination's prerequisite (the bucket's owner, or the delivery role) into `s`:
/// whether it may be used, and its observed state.
async fn read_prerequisites(cx: &Cx<'_>, s: &mut Setting) -> Result<(), AwsError> {
    match s.dest {
        FlowLogDestination::S3 => {
            let owner = ownership(cx, &s.bucket).await?;
            if owner == Ownership::Foreign {
                s.refusal = Some(foreign_message(&s.bucket, "flow_log_bucket"));
            }
            s.prerequisites =
                json!({ "FlowLogBucket": { "Name": s.bucket, "Owner": owner.as_str() } });
        }
        FlowLogDestination::CloudWatchLogs => {
            let role = service_role::read(cx, &s.role_name, ROLE_POLICY_NAME).await?;
            s.refusal = role.as_ref().and_then(|r| {
                service_role::difference(
                    &s.role_name,
                    r,
                    &role_trust(&s.account),
                    &role_policy(&s.partition, &s.account),
                )
            });
            s.prerequisites = json!({ "DeliveryRole": service_role::prerequisite(role.as_ref()) });
        }
    }
    Ok(())
}

/// The delivery role's ARN: reused when it exists and is exactly what cis-fix writes (a role
/// of that name trusted by anyone else is refused), else created, tagged, with its inline
/// policy.
async fn ensure_role(cx: &Cx<'_>, s: &Setting) -> Result<String, AwsError> {
    let trust = role_trust(&s.account);
    if let Some(r) = service_role::read(cx, &s.role_name, ROLE_POLICY_NAME).await? {
        let inline = role_policy(&s.partition, &s.account);
        if let Some(why) = service_role::difference(&s.role_name, &r, &trust, &inline) {
            return Err(AwsError::new(ErrorKind::Service, "iam:GetRole", why));
        }
        return Ok(r.arn);
    }
    let arn = service_role::create(
        cx,
        &s.role_name,
        &trust,
        "cis-fix: lets VPC Flow Logs deliver to CloudWatch Logs",
    )
    .await?;
    cx.aws
        .iam()
        .put_role_policy()
        .role_name(&s.role_name)
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(role_policy(&s.partition, &s.account).to_string())
        .send()
        .await
        .map_err(aws_err("iam:PutRolePolicy"))?;
    Ok(if arn.is_empty() {
        s.role_arn.clone()
    } else {
        arn
    })
}

/// The region's log group: reused when it exists (its retention is the owner's), else
/// created with the configured retention.
async fn ensure_log_group(cx: &Cx<'_>, region: &str, s: &Setting) -> Result<(), AwsError> {
    let logs = cx.aws.logs(region);
    let found = logs
        .describe_log_groups()
        .log_group_name_prefix(&s.log_group)
        .send()
        .await
        .map_err(aws_err("logs:DescribeLogGroups"))?
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(s.log_group.as_str()));
    if found {
        return Ok(());
    }
    logs.create_log_group()
        .log_group_name(&s.log_group)
        .send()
        .await
        .map_err(aws_err("logs:CreateLogGroup"))?;
    logs.put_retention_policy()
        .log_group_name(&s.log_group)
        .retention_in_days(s.retention)
        .send()
        .await
        .map_err(aws_err("logs:PutRetentionPolicy"))?;
    Ok(())
}

#[async_trait]
impl Control for VpcFlowLogs {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let vpcs = cx.reads.vpcs(cx.aws, region).await?;
        let fls = cx
            .reads
            .shared(&format!("ec2:flow-logs:{region}"), || {
                read_flow_logs(cx.aws, region)
            })
            .await?;
        let mut s = setting(cx);
        let mut out: Vec<Finding> = vpcs.iter().map(|v| finding(v, &fls, &s)).collect();
        // Some VPC needs a flow log: its destination's prerequisite decides whether it can
        // be made (read only then, once per phase).
        if out.iter().any(|f| f.status == crate::plan::Status::Change) {
            read_prerequisites(cx, &mut s).await?;
            out = vpcs.iter().map(|v| finding(v, &fls, &s)).collect();
        }
        out.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let region = region_of(region)?;
        let vpc = vpc_id_of(&f.target)?;
        let s = setting(cx);
        let ec2c = cx.aws.ec2(region);
        let mut req = ec2c
            .create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(vpc)
            .traffic_type(TrafficType::from(s.traffic.as_str()));
        match s.dest {
            FlowLogDestination::CloudWatchLogs => {
                let role = ensure_role(cx, &s).await?;
                ensure_log_group(cx, region, &s).await?;
                req = req
                    .log_destination_type(LogDestinationType::CloudWatchLogs)
                    .log_group_name(&s.log_group)
                    .deliver_logs_permission_arn(role);
            }
            FlowLogDestination::S3 => {
                let policy = bucket_policy(&s.partition, &s.account, &s.bucket);
                create_if_missing(cx, &s.bucket, &s.bucket_region, &policy, "flow_log_bucket")
                    .await?;
                req = req
                    .log_destination_type(LogDestinationType::S3)
                    .log_destination(s.bucket_arn());
            }
        }
        let out = req.send().await.map_err(aws_err("ec2:CreateFlowLogs"))?;
        if let Some(u) = out.unsuccessful().first() {
            let why = u
                .error()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            return Err(AwsError::new(
                ErrorKind::Service,
                "ec2:CreateFlowLogs",
                format!("flow log for {vpc} not created: {}", why.trim()),
            ));
        }
        Ok(())
    }

    /// Deletes the flow logs of the VPC that were not there before (the one cis-fix created:
    /// the engine refuses the undo when the VPC's flow logs changed since, unless --force).
    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let region = region_of(region)?;
        let vpc = vpc_id_of(target)?;
        let had: BTreeSet<&str> = previous["FlowLogs"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["Id"].as_str()).collect())
            .unwrap_or_default();
        let now = read_flow_logs(cx.aws, region).await?;
        let added: Vec<String> = now
            .iter()
            .filter(|fl| fl.resource_id() == Some(vpc))
            .filter_map(|fl| fl.flow_log_id())
            .filter(|id| !had.contains(id))
            .map(str::to_string)
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        cx.aws
            .ec2(region)
            .delete_flow_logs()
            .set_flow_log_ids(Some(added))
            .send()
            .await
            .map_err(aws_err("ec2:DeleteFlowLogs"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;

    fn s(dest: FlowLogDestination, traffic: &str) -> Setting {
        Setting {
            traffic: traffic.into(),
            dest,
            log_group: LOG_GROUP.into(),
            retention: 365,
            role_name: "cis-fix-flow-logs".into(),
            role_arn: "arn:aws:iam::111122223333:role/cis-fix-flow-logs".into(),
            bucket: "cis-fix-flow-logs-111122223333".into(),
            bucket_region: "eu-west-1".into(),
            partition: "aws".into(),
            account: "111122223333".into(),
            refusal: None,
            prerequisites: Value::Null,
        }
    }

    fn vpc() -> ec2::Vpc {
        ec2::Vpc::builder().vpc_id("vpc-1").is_default(true).build()
    }

    fn fl(id: &str, traffic: TrafficType, status: &str) -> ec2::FlowLog {
        ec2::FlowLog::builder()
            .flow_log_id(id)
            .resource_id("vpc-1")
            .traffic_type(traffic)
            .flow_log_status(status)
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name("theirs")
            .deliver_logs_status("SUCCESS")
            .build()
    }

    #[test]
    fn reject_or_all_and_active_is_compliant() {
        let set = s(FlowLogDestination::CloudWatchLogs, "REJECT");
        for t in [TrafficType::Reject, TrafficType::All] {
            let f = finding(&vpc(), &[fl("fl-1", t, "ACTIVE")], &set);
            assert_eq!(f.status, Status::Compliant, "{}", f.summary);
            assert_eq!(f.before["FlowLogs"][0]["Destination"], "theirs");
            assert!(f.before["FlowLogs"][0].get("DeliverLogsStatus").is_none());
        }
        let mut failing = fl("fl-1", TrafficType::Reject, "ACTIVE");
        failing.deliver_logs_status = Some("FAILED".into());
        failing.deliver_logs_error_message = Some("Access error".into());
        let f = finding(&vpc(), &[failing], &set);
        assert_eq!(f.status, Status::Compliant);
        assert!(f.notes[0].contains("Access error"), "{:?}", f.notes);
        let f = finding(&vpc(), &[fl("fl-1", TrafficType::Accept, "ACTIVE")], &set);
        assert_eq!(f.status, Status::Change);
        assert!(
            f.summary.contains("existing ones are kept"),
            "{}",
            f.summary
        );
        assert_eq!(f.after["FlowLogs"].as_array().unwrap().len(), 2);
        // Another VPC's flow log does not count.
        let other = ec2::FlowLog::builder()
            .flow_log_id("fl-9")
            .resource_id("vpc-2")
            .traffic_type(TrafficType::All)
            .flow_log_status("ACTIVE")
            .build();
        let f = finding(&vpc(), &[other], &set);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.before, json!({ "FlowLogs": [] }));
        assert_eq!(f.target, "VPC vpc-1");
        assert_eq!(vpc_id_of(&f.target).unwrap(), "vpc-1");
    }

    #[test]
    fn create_call_follows_the_destination() {
        let f = finding(
            &vpc(),
            &[],
            &s(FlowLogDestination::CloudWatchLogs, "REJECT"),
        );
        let create = &f.calls.last().unwrap().params;
        assert_eq!(create["LogGroupName"], LOG_GROUP);
        assert_eq!(create["TrafficType"], "REJECT");
        assert_eq!(
            create["DeliverLogsPermissionArn"],
            "arn:aws:iam::111122223333:role/cis-fix-flow-logs"
        );
        assert!(f.notes.iter().any(|n| n.contains("per GB")));
        assert!(f.notes.iter().any(|n| n.contains("never the log group")));

        let f = finding(&vpc(), &[], &s(FlowLogDestination::S3, "ALL"));
        let create = &f.calls.last().unwrap().params;
        assert_eq!(
            create["LogDestination"],
            "arn:aws:s3:::cis-fix-flow-logs-111122223333"
        );
        assert_eq!(create["TrafficType"], "ALL");
        assert_eq!(f.calls[0].action, "s3:CreateBucket");
        let policy = &f.calls[2].params["Policy"];
        assert_eq!(
            policy["Statement"][0]["Resource"],
            "arn:aws:s3:::cis-fix-flow-logs-111122223333/AWSLogs/111122223333/*"
        );
    }

    #[test]
    fn a_refused_prerequisite_makes_no_change_and_a_used_one_is_recorded() {
        let mut set = s(FlowLogDestination::S3, "REJECT");
        set.refusal = Some(
            "bucket cis-fix-flow-logs-111122223333 exists but belongs to another account".into(),
        );
        let f = finding(&vpc(), &[], &set);
        assert_eq!(f.status, Status::Manual, "{f:?}");
        assert!(
            f.summary.contains("belongs to another account"),
            "{}",
            f.summary
        );
        assert!(f.manual_steps[0].contains("flow_log_bucket"));
        assert!(f.calls.is_empty());
        // A compliant VPC stays compliant whatever the prerequisite.
        let ok = finding(&vpc(), &[fl("fl-1", TrafficType::Reject, "ACTIVE")], &set);
        assert_eq!(ok.status, Status::Compliant);
        set.refusal = None;
        set.prerequisites = json!({ "FlowLogBucket": { "Name": "b", "Owner": "missing" } });
        let f = finding(&vpc(), &[], &set);
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.prerequisites, set.prerequisites);
        let create_role = &finding(
            &vpc(),
            &[],
            &s(FlowLogDestination::CloudWatchLogs, "REJECT"),
        )
        .calls[1];
        assert_eq!(create_role.params["Tags"][0]["Key"], "cis-fix:created-by");
    }
}
