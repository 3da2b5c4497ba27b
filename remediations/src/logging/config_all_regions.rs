//! CIS 5.0 3.3: AWS Config records in every selected region: a recorder recording all
//! supported resource types (global ones — IAM — in the run's home region only, so they are
//! not recorded and billed once per region), a delivery channel to an S3 bucket, the
//! service-linked role, and the recorder started.
//!
//! One target per region, "AWS Config recorder". An existing recorder is fixed in place
//! (started, or its recording group widened — shown as a diff), keeping its name and role;
//! an existing delivery channel is kept. The bucket and the role are shared by every region:
//! they are ensured (created if missing, reused if present) by each apply and never recorded
//! in `before`, nor deleted by undo (the bucket holds configuration history).

use async_trait::async_trait;
use aws_sdk_config::types::{
    ConfigurationRecorder, DeliveryChannel, DeliveryStatus, ExclusionByResourceTypes,
    RecorderStatus, RecordingGroup, RecordingMode, RecordingStrategy, RecordingStrategyType,
    ResourceType,
};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::buckets::{
    create_if_missing, create_if_missing_calls, deny_insecure_transport, foreign_message,
    ownership, Ownership,
};
use crate::resources::landing_zone;

pub struct ConfigAllRegions;

const DESCRIPTION: Description = Description {
    slug: "config-all-regions",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[
        "config:DescribeConfigurationRecorders",
        "config:DescribeConfigurationRecorderStatus",
        "config:DescribeDeliveryChannels",
        "config:DescribeDeliveryChannelStatus",
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
    ],
    write_actions: &[
        "config:PutConfigurationRecorder",
        "config:PutDeliveryChannel",
        "config:StartConfigurationRecorder",
        "config:StopConfigurationRecorder",
        "config:DeleteConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "iam:ListRoles",
        "iam:CreateServiceLinkedRole",
        "iam:PassRole",
        "s3:ListBucket",
        "s3:CreateBucket",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPolicy",
    ],
    change_profile:
        "low risk, but it costs money (per configuration item recorded); reversible per region: \
         undo deletes a recorder and channel cis-fix created, stops a recorder it started and \
         restores a recording group it widened; the Config bucket and service-linked role are \
         kept",
};

const TARGET: &str = "AWS Config recorder";
/// Names of what cis-fix creates (AWS Config allows one recorder and one channel per region).
const CONFIG_SERVICE: &str = "config.amazonaws.com";
/// The service-linked role's path. Its name is AWSServiceRoleForConfig on AWS (the emulator
/// spells it differently), so it is found by path, not by name.
const SLR_PATH: &str = "/aws-service-role/config.amazonaws.com/";

const COST_NOTE: &str = "AWS Config is billed per configuration item recorded (and per rule \
     evaluation); busy regions can cost noticeably. Global resource types (IAM) are recorded \
     in the home region only, so they are not paid for once per region.";

/// A recorder's recording group, as far as this control cares (and enough to restore it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub all_supported: bool,
    pub include_global: bool,
    pub resource_types: Vec<String>,
    pub exclusions: Vec<String>,
    pub strategy: Option<String>,
}

impl Group {
    /// What CIS asks for: everything, global types only where `home`.
    pub fn wanted(home: bool) -> Group {
        Group {
            all_supported: true,
            include_global: home,
            resource_types: Vec::new(),
            exclusions: Vec::new(),
            strategy: Some("ALL_SUPPORTED_RESOURCE_TYPES".into()),
        }
    }

    fn from_sdk(g: Option<&RecordingGroup>) -> Group {
        let Some(g) = g else {
            // No recording group: AWS Config's default is all supported, no global types.
            return Group {
                all_supported: true,
                include_global: false,
                resource_types: Vec::new(),
                exclusions: Vec::new(),
                strategy: None,
            };
        };
        let mut types: Vec<String> = g
            .resource_types()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        types.sort();
        let mut excl: Vec<String> = g
            .exclusion_by_resource_types()
            .map(|e| e.resource_types())
            .unwrap_or_default()
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        excl.sort();
        Group {
            all_supported: g.all_supported(),
            include_global: g.include_global_resource_types(),
            resource_types: types,
            exclusions: excl,
            strategy: g
                .recording_strategy()
                .and_then(|s| s.use_only())
                .map(|u| u.as_str().to_string()),
        }
    }

    fn to_sdk(&self) -> RecordingGroup {
        let mut b = RecordingGroup::builder()
            .all_supported(self.all_supported)
            .include_global_resource_types(self.include_global)
            .set_resource_types(Some(
                self.resource_types
                    .iter()
                    .map(|t| ResourceType::from(t.as_str()))
                    .collect(),
            ));
        if !self.exclusions.is_empty() {
            b = b.exclusion_by_resource_types(
                ExclusionByResourceTypes::builder()
                    .set_resource_types(Some(
                        self.exclusions
                            .iter()
                            .map(|t| ResourceType::from(t.as_str()))
                            .collect(),
                    ))
                    .build(),
            );
        }
        if let Some(s) = &self.strategy {
            b = b.recording_strategy(
                RecordingStrategy::builder()
                    .use_only(RecordingStrategyType::from(s.as_str()))
                    .build(),
            );
        }
        b.build()
    }

    fn to_json(&self) -> Value {
        json!({
            "AllSupported": self.all_supported,
            "IncludeGlobalResourceTypes": self.include_global,
            "ResourceTypes": self.resource_types,
            "ExclusionResourceTypes": self.exclusions,
            "RecordingStrategy": self.strategy,
        })
    }

    fn from_json(v: &Value) -> Group {
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Group {
            all_supported: v["AllSupported"].as_bool().unwrap_or(false),
            include_global: v["IncludeGlobalResourceTypes"].as_bool().unwrap_or(false),
            resource_types: list("ResourceTypes"),
            exclusions: list("ExclusionResourceTypes"),
            strategy: v["RecordingStrategy"].as_str().map(str::to_string),
        }
    }

    /// Whether it misses something CIS wants recorded here.
    pub fn too_little(&self, home: bool) -> bool {
        !self.all_supported || (home && !self.include_global)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub name: String,
    pub role_arn: String,
    pub group: Group,
    /// Kept as it is on an update.
    pub mode: Option<RecordingMode>,
}

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub name: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub sns: Option<String>,
}

/// One region's AWS Config setup.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub recorder: Option<Recorder>,
    pub recording: bool,
    /// The recorder's last status when it failed: (code, message).
    pub last_failure: Option<(String, String)>,
    pub channel: Option<Channel>,
}

/// The region's setup as one flat object, so a plan shows each field's change on its own
/// line: the recorder (name, role, recording group fields), whether it records, the channel.
/// Deterministic: no times, no statuses that move by themselves.
fn state_json(rec: Option<(&str, &str, &Group)>, recording: bool, ch: Option<&Channel>) -> Value {
    let mut v = json!({
        "RecorderName": rec.map(|r| r.0),
        "RoleARN": rec.map(|r| r.1),
        "Recording": recording,
        "DeliveryChannel": ch.map(|c| c.name.as_str()),
        "DeliveryBucket": ch.map(|c| c.bucket.as_str()),
        "DeliveryPrefix": ch.and_then(|c| c.prefix.as_deref()),
        "DeliverySnsTopic": ch.and_then(|c| c.sns.as_deref()),
    });
    let group = match rec {
        Some(r) => r.2.to_json(),
        None => json!({
            "AllSupported": null, "IncludeGlobalResourceTypes": null, "ResourceTypes": null,
            "ExclusionResourceTypes": null, "RecordingStrategy": null,
        }),
    };
    if let (Some(v), Value::Object(g)) = (v.as_object_mut(), group) {
        v.extend(g);
    }
    v
}

impl State {
    pub fn before(&self) -> Value {
        state_json(
            self.recorder
                .as_ref()
                .map(|r| (r.name.as_str(), r.role_arn.as_str(), &r.group)),
            self.recording,
            self.channel.as_ref(),
        )
    }
}

async fn read_state(cfg: &aws_sdk_config::Client) -> Result<State, AwsError> {
    let recs = cfg
        .describe_configuration_recorders()
        .send()
        .await
        .map_err(aws_err("config:DescribeConfigurationRecorders"))?;
    // Service-linked recorders (made by other AWS services) are not the account's own.
    let recorder = recs
        .configuration_recorders()
        .iter()
        .find(|r| r.service_principal().is_none())
        .map(|r| Recorder {
            name: r.name().unwrap_or_default().to_string(),
            role_arn: r.role_arn().unwrap_or_default().to_string(),
            group: Group::from_sdk(r.recording_group()),
            mode: r.recording_mode().cloned(),
        });
    let (mut recording, mut last_failure) = (false, None);
    if let Some(r) = &recorder {
        let st = cfg
            .describe_configuration_recorder_status()
            .configuration_recorder_names(&r.name)
            .send()
            .await
            .map_err(aws_err("config:DescribeConfigurationRecorderStatus"))?;
        if let Some(s) = st.configuration_recorders_status().first() {
            recording = s.recording();
            // The emulator answers "PENDING" (upper case), which the SDK reads as
            // Unknown("PENDING"): only an explicit Failure counts as one.
            if s.last_status() == Some(&RecorderStatus::Failure) {
                last_failure = Some((
                    s.last_error_code().unwrap_or_default().to_string(),
                    s.last_error_message().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    let chans = cfg
        .describe_delivery_channels()
        .send()
        .await
        .map_err(aws_err("config:DescribeDeliveryChannels"))?;
    let channel = chans.delivery_channels().first().map(|c| Channel {
        name: c.name().unwrap_or_default().to_string(),
        bucket: c.s3_bucket_name().unwrap_or_default().to_string(),
        prefix: c.s3_key_prefix().map(str::to_string),
        sns: c.sns_topic_arn().map(str::to_string),
    });
    Ok(State {
        recorder,
        recording,
        last_failure,
        channel,
    })
}

/// What the delivery channel's last deliveries say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryHealth {
    Ok,
    Failing(String),
    /// The status could not be read (the emulator lacks the API: HTTP 500): not a failure.
    Unknown(String),
}

/// DescribeDeliveryChannelStatus, reduced to a health. Never an error: the status is
/// informational, and the plan of this region must not fail because it is unavailable.
pub(crate) async fn delivery_health(cfg: &aws_sdk_config::Client, name: &str) -> DeliveryHealth {
    match cfg
        .describe_delivery_channel_status()
        .delivery_channel_names(name)
        .send()
        .await
    {
        Ok(out) => {
            let Some(st) = out.delivery_channels_status().first() else {
                return DeliveryHealth::Unknown("no status reported for the channel".into());
            };
            let failed = [
                ("configuration history", st.config_history_delivery_info()),
                ("configuration snapshot", st.config_snapshot_delivery_info()),
            ]
            .into_iter()
            .filter_map(|(what, info)| {
                let info = info?;
                (info.last_status() == Some(&DeliveryStatus::Failure)).then(|| {
                    format!(
                        "{what} delivery failed: {} {}",
                        info.last_error_code().unwrap_or_default(),
                        info.last_error_message().unwrap_or_default()
                    )
                    .trim()
                    .to_string()
                })
            })
            .collect::<Vec<_>>();
            if failed.is_empty() {
                DeliveryHealth::Ok
            } else {
                DeliveryHealth::Failing(failed.join("; "))
            }
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let err = AwsError::from_sdk("config:DescribeDeliveryChannelStatus", e);
            DeliveryHealth::Unknown(match status {
                // The emulator's answer for an API it lacks (an HTML page, not an AWS error).
                Some(s) if s >= 500 && err.code.is_none() => {
                    format!("config:DescribeDeliveryChannelStatus is not available here (HTTP {s})")
                }
                Some(s) => format!("{err} (HTTP {s})"),
                None => err.to_string(),
            })
        }
    }
}

fn config_bucket_policy(partition: &str, account: &str, bucket: &str) -> Value {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    let src = json!({ "StringEquals": { "AWS:SourceAccount": account } });
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSConfigBucketPermissionsCheck",
                "Effect": "Allow",
                "Principal": { "Service": CONFIG_SERVICE },
                "Action": "s3:GetBucketAcl",
                "Resource": arn,
                "Condition": src,
            },
            {
                "Sid": "AWSConfigBucketExistenceCheck",
                "Effect": "Allow",
                "Principal": { "Service": CONFIG_SERVICE },
                "Action": "s3:ListBucket",
                "Resource": arn,
                "Condition": src,
            },
            {
                "Sid": "AWSConfigBucketDelivery",
                "Effect": "Allow",
                "Principal": { "Service": CONFIG_SERVICE },
                "Action": "s3:PutObject",
                "Resource": format!("{arn}/AWSLogs/{account}/Config/*"),
                "Condition": { "StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "AWS:SourceAccount": account,
                } },
            },
            deny_insecure_transport(&arn),
        ]
    })
}

/// The AWS Config service-linked role's ARN: found by its path, created when missing.
async fn ensure_config_role(cx: &Cx<'_>) -> Result<String, AwsError> {
    let iam = cx.aws.iam();
    let find = || async {
        let out = iam
            .list_roles()
            .path_prefix(SLR_PATH)
            .send()
            .await
            .map_err(aws_err("iam:ListRoles"))?;
        Ok::<_, AwsError>(out.roles().first().map(|r| r.arn().to_string()))
    };
    if let Some(arn) = find().await? {
        return Ok(arn);
    }
    match iam
        .create_service_linked_role()
        .aws_service_name(CONFIG_SERVICE)
        .send()
        .await
    {
        Ok(out) => out.role.map(|r| r.arn().to_string()).ok_or_else(|| {
            AwsError::new(
                ErrorKind::Service,
                "iam:CreateServiceLinkedRole",
                "no role in the answer",
            )
        }),
        Err(e) => {
            let err = AwsError::from_sdk("iam:CreateServiceLinkedRole", e);
            // Created meanwhile (the name is taken): use it.
            match find().await? {
                Some(arn) => Ok(arn),
                None => Err(err),
            }
        }
    }
}

fn describe_group_diff(from: &Group, to: &Group) -> String {
    let mut parts = Vec::new();
    if from.all_supported != to.all_supported {
        parts.push(format!(
            "allSupported {} → {}",
            from.all_supported, to.all_supported
        ));
    }
    if from.include_global != to.include_global {
        parts.push(format!(
            "includeGlobalResourceTypes {} → {}",
            from.include_global, to.include_global
        ));
    }
    if from.resource_types != to.resource_types {
        parts.push(format!(
            "resourceTypes [{}] → [{}]",
            from.resource_types.join(", "),
            to.resource_types.join(", ")
        ));
    }
    if from.exclusions != to.exclusions {
        parts.push(format!(
            "exclusionByResourceTypes [{}] → [{}]",
            from.exclusions.join(", "),
            to.exclusions.join(", ")
        ));
    }
    if from.strategy != to.strategy {
        parts.push(format!(
            "recordingStrategy {} → {}",
            from.strategy.as_deref().unwrap_or("(none)"),
            to.strategy.as_deref().unwrap_or("(none)")
        ));
    }
    parts.join(", ")
}

/// The run's inputs the finding depends on besides the state.
pub(crate) struct Setting<'a> {
    pub home: bool,
    pub home_region: &'a str,
    pub bucket: &'a str,
    pub partition: &'a str,
    pub account: &'a str,
    /// Whose the bucket is; read only when a delivery channel is to be created.
    pub bucket_owner: Option<Ownership>,
    /// Names of a recorder and channel cis-fix creates (`config_recorder_name`,
    /// `config_channel_name`); existing ones keep theirs.
    pub recorder_name: String,
    pub channel_name: String,
}

/// The finding for one region (pure).
pub(crate) fn finding(st: &State, s: &Setting<'_>) -> Finding {
    let mut f = finding_for(st, s);
    // A landing zone's recorder or channel (Control Tower's
    // aws-controltower-BaselineConfigRecorder): compliant as it is, never changed here.
    let owned = [
        st.recorder.as_ref().map(|r| ("recorder", r.name.as_str())),
        st.channel
            .as_ref()
            .map(|c| ("delivery channel", c.name.as_str())),
    ]
    .into_iter()
    .flatten()
    .find_map(|(kind, name)| landing_zone::by_name(name).map(|o| (format!("{kind} '{name}'"), o)));
    if let Some((what, owner)) = owned {
        f = landing_zone::guard(f, &what, Some(&owner));
    }
    if f.status == crate::plan::Status::Change && st.channel.is_none() {
        // The bucket the new channel delivers to: the change builds on it.
        f.prerequisites = json!({ "ConfigBucket": {
            "Name": s.bucket,
            "Owner": s.bucket_owner.as_ref().map(Ownership::as_str),
        } });
    }
    f
}

fn finding_for(st: &State, s: &Setting<'_>) -> Finding {
    let before = st.before();
    if st.channel.is_none() && s.bucket_owner == Some(Ownership::Foreign) {
        // Another account would receive the whole configuration inventory.
        return Finding::manual(
            TARGET,
            format!(
                "AWS Config has no delivery channel in this region, and {}",
                foreign_message(s.bucket, "config_bucket")
            ),
            before,
            &["Set config_bucket (cis-fix.toml or --set) to a bucket name this account owns or that is free, then plan again."],
        );
    }
    let want = Group::wanted(s.home);
    let global_where = if s.home {
        "global resource types recorded here, the home region"
    } else {
        "global resource types left to the home region"
    };
    let policy = config_bucket_policy(s.partition, s.account, s.bucket);
    let channel_calls = |calls: &mut Vec<ApiCall>| {
        calls.extend(create_if_missing_calls(s.bucket, s.home_region, &policy));
        calls.push(ApiCall::new(
            "config:PutDeliveryChannel",
            json!({ "DeliveryChannel": { "name": s.channel_name, "s3BucketName": s.bucket } }),
        ));
    };
    let new_channel = Channel {
        name: s.channel_name.clone(),
        bucket: s.bucket.into(),
        prefix: None,
        sns: None,
    };
    let channel_after = st.channel.as_ref().unwrap_or(&new_channel);

    let Some(rec) = &st.recorder else {
        let role = format!(
            "arn:{}:iam::{}:role{SLR_PATH}AWSServiceRoleForConfig",
            s.partition, s.account
        );
        let mut calls = vec![
            ApiCall::new("iam:ListRoles", json!({ "PathPrefix": SLR_PATH })),
            ApiCall::new(
                "iam:CreateServiceLinkedRole",
                json!({ "AWSServiceName": CONFIG_SERVICE, "OnlyIfMissing": true }),
            ),
            ApiCall::new(
                "config:PutConfigurationRecorder",
                json!({ "ConfigurationRecorder": {
                    "name": s.recorder_name, "roleARN": role,
                    "recordingGroup": want.to_json() } }),
            ),
        ];
        if st.channel.is_none() {
            channel_calls(&mut calls);
        }
        calls.push(ApiCall::new(
            "config:StartConfigurationRecorder",
            json!({ "ConfigurationRecorderName": s.recorder_name }),
        ));
        let after = state_json(
            Some((s.recorder_name.as_str(), role.as_str(), &want)),
            true,
            Some(channel_after),
        );
        return Finding::change(
            TARGET,
            format!(
                "AWS Config is not recording in this region: cis-fix creates recorder \
                 '{}' (all supported resources, {global_where}), a delivery \
                 channel to s3://{} and starts it",
                s.recorder_name, s.bucket
            ),
            Action::Create,
            before,
            after,
            calls,
        )
        .with_risk(Risk::Low)
        .with_note(COST_NOTE)
        .with_note(keep_note(s.bucket));
    };

    let mut problems = Vec::new();
    let mut calls = Vec::new();
    let mut destructive = false;
    let mut group_after = rec.group.clone();
    if rec.group.too_little(s.home) {
        // Keep what it records beyond CIS (global types outside the home region).
        let mut fixed = want.clone();
        fixed.include_global = want.include_global || rec.group.include_global;
        problems.push(format!(
            "recorder '{}' records too little; its recording group is replaced: {}",
            rec.name,
            describe_group_diff(&rec.group, &fixed)
        ));
        calls.push(ApiCall::new(
            "config:PutConfigurationRecorder",
            json!({ "ConfigurationRecorder": {
                "name": rec.name, "roleARN": rec.role_arn,
                "recordingGroup": fixed.to_json() } }),
        ));
        destructive = true;
        group_after = fixed;
    }
    if st.channel.is_none() {
        problems.push("no delivery channel".to_string());
        channel_calls(&mut calls);
    }
    if !st.recording {
        problems.push(format!("recorder '{}' is stopped", rec.name));
        calls.push(ApiCall::new(
            "config:StartConfigurationRecorder",
            json!({ "ConfigurationRecorderName": rec.name }),
        ));
    }
    if problems.is_empty() {
        let mut f = Finding::compliant(
            TARGET,
            format!(
                "recorder '{}' records all supported resources ({}) and delivers to s3://{}",
                rec.name,
                if rec.group.include_global {
                    "with global resource types"
                } else {
                    "global resource types left to the home region"
                },
                st.channel
                    .as_ref()
                    .map(|c| c.bucket.as_str())
                    .unwrap_or("?")
            ),
            before,
        );
        if !s.home && rec.group.include_global {
            f = f.with_note(
                "This region records global resource types too; so does the home region, so \
                 they are recorded (and billed) more than once. Not changed by cis-fix.",
            );
        }
        if let Some((code, msg)) = &st.last_failure {
            f = f.with_note(format!(
                "The recorder's last recording attempt failed: {code} {msg} — check its role."
            ));
        }
        return f;
    }
    let after = state_json(
        Some((rec.name.as_str(), rec.role_arn.as_str(), &group_after)),
        true,
        Some(channel_after),
    );
    let mut f = Finding::change(
        TARGET,
        format!("{}; fixed in place", problems.join("; ")),
        Action::Update,
        before,
        after,
        calls,
    )
    .with_note(COST_NOTE);
    f.destructive = destructive;
    if st.channel.is_none() {
        f = f.with_note(keep_note(s.bucket));
    }
    f
}

fn keep_note(bucket: &str) -> String {
    format!(
        "The bucket s3://{bucket} and the service-linked role are shared by every region and \
         are created once if missing; undo never deletes them (the bucket holds the \
         configuration history)."
    )
}

fn setting<'a>(
    cx: &'a Cx<'_>,
    region: &str,
    bucket: &'a str,
    bucket_owner: Option<Ownership>,
) -> Setting<'a> {
    Setting {
        home: region == cx.aws.home_region,
        home_region: &cx.aws.home_region,
        bucket,
        partition: &cx.aws.account.partition,
        account: &cx.aws.account.id,
        bucket_owner,
        recorder_name: cx.params.config_recorder_name(),
        channel_name: cx.params.config_channel_name(),
    }
}

#[async_trait]
impl Control for ConfigAllRegions {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let cfg = cx.aws.config(region);
        let st = cx
            .reads
            .shared(&format!("config:recorder-state:{region}"), || {
                read_state(&cfg)
            })
            .await?;
        let bucket = cx.params.config_bucket(&cx.aws.account.id);
        // Whose the bucket is matters only when a channel is to be created (one shared
        // ListBuckets per phase).
        let owner = match st.channel {
            None => Some(ownership(cx, &bucket).await?),
            Some(_) => None,
        };
        let mut f = finding(&st, &setting(cx, region, &bucket, owner));
        if f.status == crate::plan::Status::Compliant {
            if let Some(ch) = &st.channel {
                match delivery_health(&cfg, &ch.name).await {
                    DeliveryHealth::Ok => {}
                    DeliveryHealth::Failing(why) => {
                        f = f.with_note(format!(
                            "The delivery channel is failing ({why}): check the bucket policy."
                        ))
                    }
                    DeliveryHealth::Unknown(why) => {
                        f = f.with_note(format!("Delivery channel status unknown: {why}."))
                    }
                }
            }
        }
        Ok(vec![f])
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, _f: &Finding) -> Result<(), AwsError> {
        let region = region_of(region)?;
        let cfg = cx.aws.config(region);
        let st = read_state(&cfg).await?;
        let bucket = cx.params.config_bucket(&cx.aws.account.id);
        let s = setting(cx, region, &bucket, None);
        let want = Group::wanted(s.home);
        // The bucket first: one another account owns stops the change before anything is
        // written or any recorder points at it.
        if st.channel.is_none() {
            let policy = config_bucket_policy(s.partition, s.account, &bucket);
            create_if_missing(cx, &bucket, s.home_region, &policy, "config_bucket").await?;
        }
        let name = match &st.recorder {
            None => {
                let role = ensure_config_role(cx).await?;
                // A service-linked role created a moment ago may not be usable by Config yet
                // (IAM is eventually consistent): retry that one refusal a few times.
                let mut tries = 0;
                loop {
                    match put_recorder(&cfg, &s.recorder_name, &role, &want, None).await {
                        Err(e) if e.is_code("InvalidRoleException") && tries < 5 => {
                            tries += 1;
                            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                        }
                        other => break other?,
                    }
                }
                s.recorder_name.clone()
            }
            Some(rec) => {
                if rec.group.too_little(s.home) {
                    let mut fixed = want.clone();
                    fixed.include_global = want.include_global || rec.group.include_global;
                    put_recorder(&cfg, &rec.name, &rec.role_arn, &fixed, rec.mode.clone()).await?;
                }
                rec.name.clone()
            }
        };
        if st.channel.is_none() {
            cfg.put_delivery_channel()
                .delivery_channel(
                    DeliveryChannel::builder()
                        .name(&s.channel_name)
                        .s3_bucket_name(&bucket)
                        .build(),
                )
                .send()
                .await
                .map_err(aws_err("config:PutDeliveryChannel"))?;
        }
        if !st.recording {
            cfg.start_configuration_recorder()
                .configuration_recorder_name(&name)
                .send()
                .await
                .map_err(aws_err("config:StartConfigurationRecorder"))?;
        }
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let cfg = cx.aws.config(region_of(region)?);
        let now = read_state(&cfg).await?;
        let Some(cur) = &now.recorder else {
            return Ok(());
        };
        let stop = || async {
            cfg.stop_configuration_recorder()
                .configuration_recorder_name(&cur.name)
                .send()
                .await
                .map_err(aws_err("config:StopConfigurationRecorder"))
        };
        let prev_rec = &previous["RecorderName"];
        let prev_recording = previous["Recording"].as_bool().unwrap_or(false);
        let drop_channel = previous["DeliveryChannel"].is_null() && now.channel.is_some();
        if now.recording && (!prev_recording || prev_rec.is_null()) {
            stop().await?;
        }
        if drop_channel {
            if let Some(ch) = &now.channel {
                cfg.delete_delivery_channel()
                    .delivery_channel_name(&ch.name)
                    .send()
                    .await
                    .map_err(aws_err("config:DeleteDeliveryChannel"))?;
            }
        }
        if prev_rec.is_null() {
            cfg.delete_configuration_recorder()
                .configuration_recorder_name(&cur.name)
                .send()
                .await
                .map_err(aws_err("config:DeleteConfigurationRecorder"))?;
            return Ok(());
        }
        let prev_group = Group::from_json(previous);
        if prev_group != cur.group {
            let role = previous["RoleARN"].as_str().unwrap_or(&cur.role_arn);
            put_recorder(&cfg, &cur.name, role, &prev_group, cur.mode.clone()).await?;
        }
        Ok(())
    }
}

async fn put_recorder(
    cfg: &aws_sdk_config::Client,
    name: &str,
    role: &str,
    group: &Group,
    mode: Option<RecordingMode>,
) -> Result<(), AwsError> {
    cfg.put_configuration_recorder()
        .configuration_recorder(
            ConfigurationRecorder::builder()
                .name(name)
                .role_arn(role)
                .recording_group(group.to_sdk())
                .set_recording_mode(mode)
                .build(),
        )
        .send()
        .await
        .map_err(aws_err("config:PutConfigurationRecorder"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;
    use aws_sdk_config::config::retry::RetryConfig;
    use aws_sdk_config::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_types::body::SdkBody;

    fn replay(status: u16, body: &str) -> (aws_sdk_config::Client, StaticReplayClient) {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://config.eu-west-1.amazonaws.com/")
            .unwrap();
        let resp = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        let http = StaticReplayClient::new(vec![ReplayEvent::new(req, resp)]);
        let conf = aws_sdk_config::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(http.clone())
            .retry_config(RetryConfig::disabled())
            .build();
        (aws_sdk_config::Client::from_conf(conf), http)
    }

    /// The emulator has no DescribeDeliveryChannelStatus (HTTP 500 with an HTML body): the
    /// status is unknown, not a failure, and no error escapes.
    #[tokio::test]
    async fn delivery_status_missing_api_is_unknown() {
        let (cfg, http) = replay(
            500,
            "<!DOCTYPE html><title>500 Internal Server Error</title>",
        );
        let h = delivery_health(&cfg, "default").await;
        match &h {
            DeliveryHealth::Unknown(why) => assert!(why.contains("500"), "{why}"),
            other => panic!("{other:?}"),
        }
        let reqs: Vec<_> = http.actual_requests().collect();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].headers().get("x-amz-target"),
            Some("StarlingDoveService.DescribeDeliveryChannelStatus")
        );
    }

    #[tokio::test]
    async fn delivery_status_failure_and_success() {
        let (cfg, _) = replay(
            200,
            r#"{"DeliveryChannelsStatus":[{"name":"default",
                "configHistoryDeliveryInfo":{"lastStatus":"Failure","lastErrorCode":"AccessDenied","lastErrorMessage":"no PutObject"},
                "configSnapshotDeliveryInfo":{"lastStatus":"Success"}}]}"#,
        );
        match delivery_health(&cfg, "default").await {
            DeliveryHealth::Failing(why) => {
                assert!(
                    why.contains("history delivery failed: AccessDenied"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        let (cfg, _) = replay(
            200,
            r#"{"DeliveryChannelsStatus":[{"name":"default","configHistoryDeliveryInfo":{"lastStatus":"Success"}}]}"#,
        );
        assert_eq!(delivery_health(&cfg, "default").await, DeliveryHealth::Ok);
    }

    fn replay_all(bodies: &[&str]) -> aws_sdk_config::Client {
        let events = bodies
            .iter()
            .map(|b| {
                let mut req = HttpRequest::new(SdkBody::empty());
                req.set_uri("https://config.eu-west-1.amazonaws.com/")
                    .unwrap();
                let resp = HttpResponse::new(200.try_into().unwrap(), SdkBody::from(b.to_string()));
                ReplayEvent::new(req, resp)
            })
            .collect();
        let conf = aws_sdk_config::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(StaticReplayClient::new(events))
            .retry_config(RetryConfig::disabled())
            .build();
        aws_sdk_config::Client::from_conf(conf)
    }

    /// The emulator reports lastStatus "PENDING" (upper case), which the SDK reads as
    /// RecorderStatus::Unknown: not a failure. A real "Failure" is kept for a note.
    #[tokio::test]
    async fn pending_status_is_not_a_failure() {
        let recs = r#"{"ConfigurationRecorders":[{"name":"default","roleARN":"arn:aws:iam::111122223333:role/r",
            "recordingGroup":{"allSupported":true,"includeGlobalResourceTypes":false,"resourceTypes":[],
            "exclusionByResourceTypes":{"resourceTypes":[]},"recordingStrategy":{"useOnly":"ALL_SUPPORTED_RESOURCE_TYPES"}}}]}"#;
        let chans = r#"{"DeliveryChannels":[{"name":"default","s3BucketName":"b"}]}"#;
        for (last, failed) in [("PENDING", false), ("Failure", true), ("Success", false)] {
            let status = format!(
                r#"{{"ConfigurationRecordersStatus":[{{"name":"default","recording":true,"lastStatus":"{last}","lastErrorCode":"E"}}]}}"#
            );
            let st = read_state(&replay_all(&[recs, &status, chans]))
                .await
                .unwrap();
            assert!(st.recording);
            assert_eq!(st.last_failure.is_some(), failed, "{last}");
            assert_eq!(st.recorder.as_ref().unwrap().group, Group::wanted(false));
            let f = finding(&st, &set(false));
            assert_eq!(f.status, Status::Compliant, "{last}");
            assert_eq!(f.notes.iter().any(|n| n.contains("failed: E")), failed);
        }
    }

    fn set(home: bool) -> Setting<'static> {
        Setting {
            home,
            home_region: "eu-west-1",
            bucket: "cis-fix-config-111122223333",
            partition: "aws",
            account: "111122223333",
            bucket_owner: None,
            recorder_name: "default".into(),
            channel_name: "default".into(),
        }
    }

    fn rec(group: Group) -> Recorder {
        Recorder {
            name: "mine".into(),
            role_arn: "arn:aws:iam::111122223333:role/cfg".into(),
            group,
            mode: None,
        }
    }

    fn chan() -> Channel {
        Channel {
            name: "ch".into(),
            bucket: "theirs".into(),
            prefix: None,
            sns: None,
        }
    }

    #[test]
    fn nothing_is_created_with_global_types_only_at_home() {
        let st = State {
            recorder: None,
            recording: false,
            last_failure: None,
            channel: None,
        };
        let home = finding(&st, &set(true));
        assert_eq!(home.status, Status::Change);
        assert_eq!(home.action, Some(Action::Create));
        assert_eq!(home.after["IncludeGlobalResourceTypes"], json!(true));
        let away = finding(&st, &set(false));
        assert_eq!(away.after["IncludeGlobalResourceTypes"], json!(false));
        assert_eq!(
            away.before,
            json!({ "RecorderName": null, "RoleARN": null, "Recording": false,
                    "AllSupported": null, "IncludeGlobalResourceTypes": null,
                    "ResourceTypes": null, "ExclusionResourceTypes": null,
                    "RecordingStrategy": null, "DeliveryChannel": null, "DeliveryBucket": null,
                    "DeliveryPrefix": null, "DeliverySnsTopic": null })
        );
        let actions: Vec<&str> = away.calls.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "iam:ListRoles",
                "iam:CreateServiceLinkedRole",
                "config:PutConfigurationRecorder",
                "s3:CreateBucket",
                "s3:PutPublicAccessBlock",
                "s3:PutBucketPolicy",
                "config:PutDeliveryChannel",
                "config:StartConfigurationRecorder"
            ]
        );
        let policy = &away.calls[5].params["Policy"];
        assert_eq!(
            policy["Statement"][2]["Resource"],
            "arn:aws:s3:::cis-fix-config-111122223333/AWSLogs/111122223333/Config/*"
        );
    }

    #[test]
    fn a_control_tower_recorder_is_compliant_or_manual_never_changed() {
        let mut r = rec(Group::wanted(true));
        r.name = "aws-controltower-BaselineConfigRecorder".into();
        let mut c = chan();
        c.name = "aws-controltower-BaselineConfigDeliveryChannel".into();
        let mut st = State {
            recorder: Some(r),
            recording: true,
            last_failure: None,
            channel: Some(c),
        };
        assert_eq!(finding(&st, &set(true)).status, Status::Compliant);
        st.recording = false;
        let f = finding(&st, &set(true));
        assert_eq!(f.status, Status::Manual, "{f:?}");
        assert!(f.calls.is_empty());
        assert!(
            f.summary.contains("owned by Control Tower"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn stopped_recorder_is_started_and_kept() {
        let st = State {
            recorder: Some(rec(Group::wanted(false))),
            recording: false,
            last_failure: None,
            channel: Some(chan()),
        };
        let f = finding(&st, &set(false));
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.action, Some(Action::Update));
        assert!(!f.destructive);
        assert_eq!(f.calls.len(), 1);
        assert_eq!(f.calls[0].action, "config:StartConfigurationRecorder");
        assert_eq!(f.calls[0].params["ConfigurationRecorderName"], "mine");
        assert_eq!(f.after["DeliveryBucket"], "theirs");
        assert_eq!(f.after["RecorderName"], "mine");
    }

    #[test]
    fn narrow_recorder_is_widened_with_a_diff() {
        let narrow = Group {
            all_supported: false,
            include_global: false,
            resource_types: vec!["AWS::EC2::Instance".into()],
            exclusions: vec![],
            strategy: Some("INCLUSION_BY_RESOURCE_TYPES".into()),
        };
        let st = State {
            recorder: Some(rec(narrow.clone())),
            recording: true,
            last_failure: None,
            channel: Some(chan()),
        };
        let f = finding(&st, &set(true));
        assert!(f.destructive);
        assert!(
            f.summary.contains("allSupported false → true")
                && f.summary
                    .contains("includeGlobalResourceTypes false → true")
                && f.summary
                    .contains("resourceTypes [AWS::EC2::Instance] → []"),
            "{}",
            f.summary
        );
        assert_eq!(f.calls[0].params["ConfigurationRecorder"]["name"], "mine");
        // Round trip of the recorded group, for undo.
        assert_eq!(Group::from_json(&f.before), narrow);
        // Outside the home region, global types are not required.
        let st = State {
            recorder: Some(rec(Group::wanted(false))),
            recording: true,
            last_failure: None,
            channel: Some(chan()),
        };
        assert_eq!(finding(&st, &set(false)).status, Status::Compliant);
        assert_eq!(finding(&st, &set(true)).status, Status::Change);
    }

    #[test]
    fn a_config_bucket_of_another_account_is_refused_and_the_owner_is_a_prerequisite() {
        let st = State {
            recorder: None,
            recording: false,
            last_failure: None,
            channel: None,
        };
        let mut s = set(true);
        s.bucket_owner = Some(Ownership::Foreign);
        let f = finding(&st, &s);
        assert_eq!(f.status, Status::Manual, "{f:?}");
        assert!(
            f.summary.contains("cis-fix-config-111122223333")
                && f.summary.contains("another account")
                && f.summary.contains("config_bucket"),
            "{}",
            f.summary
        );
        assert!(f.calls.is_empty());
        s.bucket_owner = Some(Ownership::Missing);
        let f = finding(&st, &s);
        assert_eq!(f.status, Status::Change);
        assert_eq!(
            f.prerequisites,
            json!({ "ConfigBucket": { "Name": "cis-fix-config-111122223333", "Owner": "missing" } })
        );
        assert_eq!(
            f.prerequisites,
            finding(&st, &s).prerequisites,
            "deterministic"
        );
        // An existing channel: the bucket is not this control's concern.
        let st = State {
            recorder: Some(rec(Group::wanted(true))),
            recording: false,
            last_failure: None,
            channel: Some(chan()),
        };
        s.bucket_owner = Some(Ownership::Foreign);
        let f = finding(&st, &s);
        assert_eq!(f.status, Status::Change);
        assert!(f.prerequisites.is_null());
    }
}
