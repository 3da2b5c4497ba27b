//! CIS v5.0 4.1–4.15 (v7.0 5.1–5.15): a CloudWatch Logs metric filter for one kind of
//! CloudTrail event, on the log group the CIS trail delivers to, and an alarm on its metric
//! that notifies an SNS topic. One struct serves all fifteen; the patterns, names and alarm
//! settings are data (`remediations/metric_filters.toml`).
//!
//! Compare, don't duplicate: any filter on the log group whose pattern is equivalent to the
//! benchmark version's (see [`super::filter_pattern`]) counts, whatever its name; only the
//! alarm is added when that filter's metric has none with an action. A filter under cis-fix's
//! own name with another pattern (an older version's) is updated in place.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, Statistic};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::catalog::Benchmark;
use crate::control::{Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};
use crate::resources::filter_pattern::{equivalent, term_diff};
use crate::resources::{alarm_topic, cis_trail, landing_zone, trails};

const DATA: &str = include_str!("../../metric_filters.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersFile {
    pub namespace: String,
    pub metric_value: String,
    pub alarm: AlarmSettings,
    pub filter: Vec<FilterDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSettings {
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison_operator: String,
    pub treat_missing_data: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDef {
    pub slug: String,
    pub filter_name: String,
    pub metric_name: String,
    /// Overrides the file's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The pattern of every version not named in `versions`.
    pub pattern: String,
    /// Per benchmark version key ("1.2", …): that version's pattern.
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// Other forms the sources print, accepted as equivalent.
    #[serde(default)]
    pub accepted: Vec<Accepted>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {
    /// Benchmark version keys it is accepted for; empty: all.
    pub versions: Vec<String>,
    pub source: String,
    pub pattern: String,
}

impl FilterDef {
    /// The pattern cis-fix writes for `b`.
    pub fn pattern_for(&self, b: Benchmark) -> &str {
        self.versions.get(b.key()).unwrap_or(&self.pattern)
    }

    /// Whether an existing filter's pattern satisfies version `b`.
    pub fn accepts(&self, b: Benchmark, pattern: &str) -> bool {
        equivalent(pattern, self.pattern_for(b))
            || self.accepted.iter().any(|a| {
                (a.versions.is_empty() || a.versions.iter().any(|v| v == b.key()))
                    && equivalent(pattern, &a.pattern)
            })
    }

    /// The source of the alternate form `pattern` is, when it is one accepted for `b`.
    pub fn alternate_source(&self, b: Benchmark, pattern: &str) -> Option<&str> {
        if equivalent(pattern, self.pattern_for(b)) {
            return None;
        }
        self.accepted
            .iter()
            .find(|a| {
                (a.versions.is_empty() || a.versions.iter().any(|v| v == b.key()))
                    && equivalent(pattern, &a.pattern)
            })
            .map(|a| a.source.as_str())
    }

    /// The benchmark versions whose pattern `pattern` is (empty: none of them).
    pub fn versions_of(&self, pattern: &str) -> Vec<&'static str> {
        Benchmark::ALL
            .iter()
            .filter(|b| self.accepts(**b, pattern))
            .map(|b| b.key())
            .collect()
    }

    pub fn namespace<'a>(&'a self, file: &'a FiltersFile) -> &'a str {
        self.namespace.as_deref().unwrap_or(&file.namespace)
    }
}

fn parse_data() -> Result<FiltersFile, String> {
    toml::from_str(DATA).map_err(|e| format!("remediations/metric_filters.toml: {e}"))
}

/// The embedded filter data.
pub fn data() -> Result<&'static FiltersFile, AwsError> {
    static CELL: OnceLock<Result<FiltersFile, String>> = OnceLock::new();
    CELL.get_or_init(parse_data)
        .as_ref()
        .map_err(|e| AwsError::new(ErrorKind::Config, "internal", e.clone()))
}

/// What the fifteen filters share; each sets its slug.
const FILTER: Description = Description {
    slug: "",
    scope: Scope::Global,
    kind: Kind::Fix,
    read_actions: &[
            "cloudtrail:DescribeTrails",
            "cloudtrail:GetTrailStatus",
            "cloudtrail:GetEventSelectors",
            "logs:DescribeMetricFilters",
            "cloudwatch:DescribeAlarms",
            "sns:GetTopicAttributes",
            "sns:ListSubscriptionsByTopic",
            "sns:ListTagsForResource",
        ],
    write_actions: &[
            "logs:PutMetricFilter",
            "logs:DeleteMetricFilter",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "sns:CreateTopic",
            "sns:TagResource",
            "sns:Subscribe",
            "sns:DeleteTopic",
        ],
    change_profile: "low (additive: a metric filter, an alarm and a shared SNS topic); medium when a filter under cis-fix's name carries another pattern and is replaced. Undo removes what was created, puts replaced patterns back, and removes the topic only if cis-fix created it and nothing else uses it",
};

/// One of the fifteen monitoring controls, by catalog slug.
pub struct MetricFilter(Description);

impl MetricFilter {
    const fn new(slug: &'static str) -> Self {
        MetricFilter(Description { slug, ..FILTER })
    }
}

pub static UNAUTHORIZED_API_CALLS: MetricFilter =
    MetricFilter::new("metric-filter-unauthorized-api-calls");
pub static CONSOLE_SIGNIN_NO_MFA: MetricFilter =
    MetricFilter::new("metric-filter-console-signin-no-mfa");
pub static ROOT_USAGE: MetricFilter = MetricFilter::new("metric-filter-root-usage");
pub static IAM_POLICY_CHANGES: MetricFilter = MetricFilter::new("metric-filter-iam-policy-changes");
pub static CLOUDTRAIL_CHANGES: MetricFilter = MetricFilter::new("metric-filter-cloudtrail-changes");
pub static CONSOLE_AUTH_FAILURES: MetricFilter =
    MetricFilter::new("metric-filter-console-auth-failures");
pub static CMK_DISABLE_DELETION: MetricFilter =
    MetricFilter::new("metric-filter-cmk-disable-deletion");
pub static S3_BUCKET_POLICY_CHANGES: MetricFilter =
    MetricFilter::new("metric-filter-s3-bucket-policy-changes");
pub static CONFIG_CHANGES: MetricFilter = MetricFilter::new("metric-filter-config-changes");
pub static SECURITY_GROUP_CHANGES: MetricFilter =
    MetricFilter::new("metric-filter-security-group-changes");
pub static NACL_CHANGES: MetricFilter = MetricFilter::new("metric-filter-nacl-changes");
pub static NETWORK_GATEWAY_CHANGES: MetricFilter =
    MetricFilter::new("metric-filter-network-gateway-changes");
pub static ROUTE_TABLE_CHANGES: MetricFilter =
    MetricFilter::new("metric-filter-route-table-changes");
pub static VPC_CHANGES: MetricFilter = MetricFilter::new("metric-filter-vpc-changes");
pub static ORGANIZATIONS_CHANGES: MetricFilter =
    MetricFilter::new("metric-filter-organizations-changes");

/// A metric filter as read (first metric transformation only; CIS filters have one).
#[derive(Debug, Clone, PartialEq)]
struct FilterRec {
    name: String,
    pattern: String,
    metric: String,
    namespace: String,
    value: String,
}

impl FilterRec {
    fn json(&self) -> Value {
        json!({
            "FilterName": self.name,
            "FilterPattern": self.pattern,
            "MetricName": self.metric,
            "MetricNamespace": self.namespace,
            "MetricValue": self.value,
        })
    }
    fn from_json(v: &Value) -> Option<FilterRec> {
        Some(FilterRec {
            name: v["FilterName"].as_str()?.to_string(),
            pattern: v["FilterPattern"].as_str()?.to_string(),
            metric: v["MetricName"].as_str()?.to_string(),
            namespace: v["MetricNamespace"].as_str()?.to_string(),
            value: v["MetricValue"].as_str()?.to_string(),
        })
    }
}

/// A metric alarm as read, the settings undo would restore; no state or timestamps.
#[derive(Debug, Clone, PartialEq)]
struct AlarmRec {
    name: String,
    metric: String,
    namespace: String,
    statistic: Option<String>,
    period: Option<i32>,
    evaluation_periods: Option<i32>,
    threshold: Option<f64>,
    comparison_operator: Option<String>,
    treat_missing_data: Option<String>,
    actions_enabled: bool,
    alarm_actions: Vec<String>,
    ok_actions: Vec<String>,
    insufficient_data_actions: Vec<String>,
}

impl AlarmRec {
    fn from_sdk(a: &MetricAlarm) -> AlarmRec {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        AlarmRec {
            name: a.alarm_name().unwrap_or_default().to_string(),
            metric: a.metric_name().unwrap_or_default().to_string(),
            namespace: a.namespace().unwrap_or_default().to_string(),
            statistic: a.statistic().map(|s| s.as_str().to_string()),
            period: a.period(),
            evaluation_periods: a.evaluation_periods(),
            threshold: a.threshold(),
            comparison_operator: a.comparison_operator().map(|c| c.as_str().to_string()),
            treat_missing_data: a.treat_missing_data().map(str::to_string),
            actions_enabled: a.actions_enabled().unwrap_or(true),
            alarm_actions: sorted(a.alarm_actions()),
            ok_actions: sorted(a.ok_actions()),
            insufficient_data_actions: sorted(a.insufficient_data_actions()),
        }
    }

    fn json(&self) -> Value {
        json!({
            "AlarmName": self.name,
            "MetricName": self.metric,
            "Namespace": self.namespace,
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
            "ActionsEnabled": self.actions_enabled,
            "AlarmActions": self.alarm_actions,
            "OKActions": self.ok_actions,
            "InsufficientDataActions": self.insufficient_data_actions,
        })
    }

    fn from_json(v: &Value) -> Option<AlarmRec> {
        let strs = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let opt_str = |k: &str| v[k].as_str().map(str::to_string);
        Some(AlarmRec {
            name: v["AlarmName"].as_str()?.to_string(),
            metric: v["MetricName"].as_str()?.to_string(),
            namespace: v["Namespace"].as_str()?.to_string(),
            statistic: opt_str("Statistic"),
            period: v["Period"].as_i64().map(|n| n as i32),
            evaluation_periods: v["EvaluationPeriods"].as_i64().map(|n| n as i32),
            threshold: v["Threshold"].as_f64(),
            comparison_operator: opt_str("ComparisonOperator"),
            treat_missing_data: opt_str("TreatMissingData"),
            actions_enabled: v["ActionsEnabled"].as_bool().unwrap_or(true),
            alarm_actions: strs("AlarmActions"),
            ok_actions: strs("OKActions"),
            insufficient_data_actions: strs("InsufficientDataActions"),
        })
    }

    fn notifies(&self) -> bool {
        self.actions_enabled && !self.alarm_actions.is_empty()
    }
}

/// The log group's metric filters, read once per phase (all pages).
async fn filters(cx: &Cx<'_>, region: &str, group: &str) -> Result<Vec<FilterRec>, AwsError> {
    cx.reads
        .shared(&format!("logs:metric-filters:{region}:{group}"), || {
            read_filters(cx, region, group)
        })
        .await
}

async fn read_filters(cx: &Cx<'_>, region: &str, group: &str) -> Result<Vec<FilterRec>, AwsError> {
    // By name: filter names are unique per log group, and PutMetricFilter replaces. moto
    // 5.2.5 appends a second entry instead; the last one listed is the newest, as AWS would
    // keep it.
    let mut out = BTreeMap::new();
    let mut pages = cx
        .aws
        .logs(region)
        .describe_metric_filters()
        .log_group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("logs:DescribeMetricFilters"))?;
        for f in page.metric_filters() {
            // The prefix parameter does not exist here; a group name filter does, but be
            // strict anyway (other groups' filters never count).
            if f.log_group_name().is_some_and(|g| g != group) {
                continue;
            }
            let t = f.metric_transformations().first();
            let name = f.filter_name().unwrap_or_default().to_string();
            out.insert(
                name,
                FilterRec {
                    name: f.filter_name().unwrap_or_default().to_string(),
                    pattern: f.filter_pattern().unwrap_or_default().to_string(),
                    metric: t.map(|t| t.metric_name().to_string()).unwrap_or_default(),
                    namespace: t
                        .map(|t| t.metric_namespace().to_string())
                        .unwrap_or_default(),
                    value: t.map(|t| t.metric_value().to_string()).unwrap_or_default(),
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

/// The region's metric alarms, read once per phase (all pages).
async fn alarms(cx: &Cx<'_>, region: &str) -> Result<Vec<AlarmRec>, AwsError> {
    cx.reads
        .shared(&format!("cloudwatch:alarms:{region}"), || {
            read_alarms(cx, region)
        })
        .await
}

async fn read_alarms(cx: &Cx<'_>, region: &str) -> Result<Vec<AlarmRec>, AwsError> {
    let mut out = Vec::new();
    let mut pages = cx
        .aws
        .cloudwatch(region)
        .describe_alarms()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws_err("cloudwatch:DescribeAlarms"))?;
        out.extend(page.metric_alarms().iter().map(AlarmRec::from_sdk));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What an apply writes.
struct Todo {
    region: String,
    group: String,
    put_filter: Option<FilterRec>,
    alarm: AlarmRec,
}

struct Assessed {
    finding: Finding,
    todo: Option<Todo>,
}

/// This control's part of the log group: its filters (cis-fix's name, or a pattern of any
/// version of this control) and the alarms on their metrics (or under cis-fix's name).
fn related(
    def: &FilterDef,
    all_filters: &[FilterRec],
    all_alarms: &[AlarmRec],
) -> (Vec<FilterRec>, Vec<AlarmRec>) {
    let fs: Vec<FilterRec> = all_filters
        .iter()
        .filter(|f| f.name == def.filter_name || !def.versions_of(&f.pattern).is_empty())
        .cloned()
        .collect();
    let als = all_alarms
        .iter()
        .filter(|a| {
            a.name == def.filter_name
                || fs
                    .iter()
                    .any(|f| f.metric == a.metric && f.namespace == a.namespace)
        })
        .cloned()
        .collect();
    (fs, als)
}

fn before_json(region: &str, group: &str, fs: &[FilterRec], als: &[AlarmRec]) -> Value {
    json!({
        "LogGroup": group,
        "Region": region,
        "MetricFilters": fs.iter().map(FilterRec::json).collect::<Vec<_>>(),
        "Alarms": als.iter().map(AlarmRec::json).collect::<Vec<_>>(),
    })
}

impl MetricFilter {
    fn def(&self) -> Result<&'static FilterDef, AwsError> {
        let file = data()?;
        file.filter
            .iter()
            .find(|f| f.slug == self.0.slug)
            .ok_or_else(|| {
                AwsError::new(
                    ErrorKind::Config,
                    "internal",
                    format!("no metric filter data for {}", self.0.slug),
                )
            })
    }

    async fn assess(&self, cx: &Cx<'_>) -> Result<Assessed, AwsError> {
        let file = data()?;
        let def = self.def()?;
        let short = format!("metric filter {}", def.filter_name);
        let all_trails = trails(cx).await?;
        let Some(trail) = cis_trail(&all_trails) else {
            return Ok(Assessed {
                finding: Finding::blocked(
                    short,
                    "no multi-region trail is logging read and write management events (CIS 3.1); \
                     the filter needs the CloudWatch Logs group such a trail delivers to",
                    &["cloudtrail-multi-region"],
                ),
                todo: None,
            });
        };
        let Some((region, group)) = trail.log_group() else {
            let steps = [
                "Create a CloudWatch Logs log group for the trail (logs:CreateLogGroup) and an IAM role CloudTrail can assume with logs:CreateLogStream and logs:PutLogEvents on it.".to_string(),
                format!(
                    "Call cloudtrail:UpdateTrail on {} in {} with CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn.",
                    trail.name, trail.home_region
                ),
                "Run cis-fix again: the metric filters go on that log group.".to_string(),
            ];
            let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
            return Ok(Assessed {
                finding: Finding::manual(
                    short,
                    format!(
                        "trail {} does not deliver to CloudWatch Logs, so there is no log group to filter",
                        trail.name
                    ),
                    json!({ "Trail": trail.name, "CloudWatchLogsLogGroupArn": null }),
                    &steps,
                ),
                todo: None,
            });
        };
        let target = format!("metric filter {} on log group {group}", def.filter_name);
        // An organization trail may deliver to a log group of another account (the
        // management account's): its filters are made there.
        let owner = trail
            .log_group_arn
            .as_deref()
            .and_then(|a| a.split(':').nth(4))
            .unwrap_or_default();
        if !owner.is_empty() && owner != cx.aws.account.id {
            return Ok(Assessed {
                finding: Finding::manual(
                    target,
                    format!(
                        "trail {} delivers to log group {group} in account {owner}; its metric filters and alarms belong there",
                        trail.name
                    ),
                    json!({ "Trail": trail.name, "LogGroupAccount": owner }),
                    &["Run cis-fix for this control in the account that owns the log group (usually the organization's management or logging account)."],
                ),
                todo: None,
            });
        }
        let all_filters = match filters(cx, &region, &group).await {
            Ok(f) => f,
            Err(e) if e.is_code("ResourceNotFoundException") => {
                return Ok(Assessed {
                    finding: Finding::manual(
                        target,
                        format!(
                            "trail {} delivers to log group {group} in {region}, which does not exist",
                            trail.name
                        ),
                        json!({ "Trail": trail.name, "LogGroup": group, "Exists": false }),
                        &["Create the log group (logs:CreateLogGroup), or point the trail at an existing one (cloudtrail:UpdateTrail CloudWatchLogsLogGroupArn), then run cis-fix again."],
                    ),
                    todo: None,
                });
            }
            Err(e) => return Err(e),
        };
        let all_alarms = alarms(cx, &region).await?;
        let (fs, als) = related(def, &all_filters, &all_alarms);
        let before = before_json(&region, &group, &fs, &als);
        let bench = cx.params.benchmark();
        let want = def.pattern_for(bench);
        let namespace = def.namespace(file);

        // Filters that already satisfy this version, cis-fix's own first.
        let mut good: Vec<&FilterRec> = fs
            .iter()
            .filter(|f| def.accepts(bench, &f.pattern))
            .collect();
        good.sort_by_key(|f| f.name != def.filter_name);
        let alarm_on = |f: &FilterRec| {
            als.iter()
                .find(|a| a.metric == f.metric && a.namespace == f.namespace && a.notifies())
        };
        if let Some((f, a)) = good.iter().find_map(|f| alarm_on(f).map(|a| (*f, a))) {
            // The filter and alarm are in place; whether anyone receives the alarm is the
            // subscriber's to confirm: reported as a manual step, not a change.
            let step = alarm_topic::alarm_step(cx, &a.alarm_actions).await?;
            let mut finding = Finding::compliant(
                target,
                format!(
                    "filter {} matches the v{bench} pattern{}; alarm {} notifies {}",
                    f.name,
                    def.alternate_source(bench, &f.pattern)
                        .map(|s| format!(" (in the form of {s})"))
                        .unwrap_or_default(),
                    a.name,
                    a.alarm_actions.join(", ")
                ),
                before,
            );
            finding.notes.extend(step);
            return Ok(Assessed {
                finding,
                todo: None,
            });
        }

        let topic = alarm_topic::state(cx, &region).await?;
        if let Some(problem) = topic.problem(&region) {
            return Ok(Assessed {
                finding: Finding::error(target, problem),
                todo: None,
            });
        }
        // The alarm topic of a landing zone (aws-controltower-SecurityNotifications) may be
        // notified, but cis-fix never creates it or subscribes to it.
        if let Some(owner) = landing_zone::by_name(&topic.arn) {
            if !topic.calls().is_empty() {
                return Ok(Assessed {
                    finding: landing_zone::manual(
                        target,
                        "the alarm topic needs a change (created or an e-mail subscribed)",
                        &format!("topic {}", topic.arn),
                        &owner,
                        before,
                    ),
                    todo: None,
                });
            }
        }
        let own = fs.iter().find(|f| f.name == def.filter_name);
        // The filter the alarm watches: a satisfying one, else cis-fix's (created or updated).
        let (watched, put_filter, action, summary, destructive) = if let Some(f) = good.first() {
            (
                (*f).clone(),
                None,
                Action::Create,
                format!(
                    "filter {} matches the v{bench} pattern, but no alarm with an action watches its metric {}; adds alarm {}",
                    f.name, f.metric, def.filter_name
                ),
                false,
            )
        } else {
            let new = FilterRec {
                name: def.filter_name.clone(),
                pattern: want.to_string(),
                metric: own.map_or_else(|| def.metric_name.clone(), |f| f.metric.clone()),
                namespace: own.map_or_else(|| namespace.to_string(), |f| f.namespace.clone()),
                value: own.map_or_else(|| file.metric_value.clone(), |f| f.value.clone()),
            };
            // An own filter without a metric cannot carry the alarm: give it the data's.
            let new = if new.metric.is_empty() {
                FilterRec {
                    metric: def.metric_name.clone(),
                    namespace: namespace.to_string(),
                    value: file.metric_value.clone(),
                    ..new
                }
            } else {
                new
            };
            match own {
                Some(old) => {
                    let versions = def.versions_of(&old.pattern);
                    let what = if versions.is_empty() {
                        "a pattern of no benchmark version".to_string()
                    } else {
                        format!("the v{} pattern", versions.join("/v"))
                    };
                    (
                        new.clone(),
                        Some(new),
                        Action::Update,
                        format!(
                            "filter {} has {what}; replaces its pattern with the v{bench} one",
                            old.name
                        ),
                        true,
                    )
                }
                None => (
                    new.clone(),
                    Some(new),
                    Action::Create,
                    format!(
                        "no metric filter on log group {group} matches the v{bench} pattern; adds filter and alarm {}",
                        def.filter_name
                    ),
                    false,
                ),
            }
        };
        // A landing zone's log group (aws-controltower/CloudTrailLogs): its filters are the
        // landing zone's to add; an alarm on a filter already there is not a change to it.
        if let (Some(_), Some(owner)) = (&put_filter, landing_zone::by_name(&group)) {
            return Ok(Assessed {
                finding: landing_zone::manual(
                    target,
                    &format!("no metric filter on the log group matches the v{bench} pattern"),
                    &format!("log group {group}"),
                    &owner,
                    before,
                ),
                todo: None,
            });
        }
        let s = &file.alarm;
        let own_alarm = als.iter().find(|a| a.name == def.filter_name);
        let mut alarm_actions = own_alarm
            .filter(|a| a.metric == watched.metric && a.namespace == watched.namespace)
            .map(|a| a.alarm_actions.clone())
            .unwrap_or_default();
        if !alarm_actions.contains(&topic.arn) {
            alarm_actions.push(topic.arn.clone());
            alarm_actions.sort();
        }
        let alarm = AlarmRec {
            name: def.filter_name.clone(),
            metric: watched.metric.clone(),
            namespace: watched.namespace.clone(),
            statistic: Some(s.statistic.clone()),
            period: Some(s.period),
            evaluation_periods: Some(s.evaluation_periods),
            threshold: Some(s.threshold),
            comparison_operator: Some(s.comparison_operator.clone()),
            treat_missing_data: Some(s.treat_missing_data.clone()),
            actions_enabled: true,
            alarm_actions,
            ok_actions: own_alarm.map(|a| a.ok_actions.clone()).unwrap_or_default(),
            insufficient_data_actions: own_alarm
                .map(|a| a.insufficient_data_actions.clone())
                .unwrap_or_default(),
        };
        let mut calls = topic.calls();
        if let Some(f) = &put_filter {
            calls.push(ApiCall::new(
                "logs:PutMetricFilter",
                json!({
                    "logGroupName": group,
                    "filterName": f.name,
                    "filterPattern": f.pattern,
                    "metricTransformations": [{
                        "metricName": f.metric,
                        "metricNamespace": f.namespace,
                        "metricValue": f.value,
                    }],
                }),
            ));
        }
        calls.push(ApiCall::new("cloudwatch:PutMetricAlarm", alarm.json()));
        let mut after_filters: Vec<FilterRec> = fs
            .iter()
            .filter(|f| put_filter.as_ref().is_none_or(|p| p.name != f.name))
            .cloned()
            .chain(put_filter.clone())
            .collect();
        after_filters.sort_by(|a, b| a.name.cmp(&b.name));
        let mut after_alarms: Vec<AlarmRec> = als
            .iter()
            .filter(|a| a.name != alarm.name)
            .cloned()
            .chain(Some(alarm.clone()))
            .collect();
        after_alarms.sort_by(|a, b| a.name.cmp(&b.name));
        let mut after = before_json(&region, &group, &after_filters, &after_alarms);
        after["AlarmTopic"] = topic.after();
        let mut finding = Finding::change(target, summary, action, before, after, calls);
        finding.prerequisites = topic.prerequisites();
        finding.destructive = destructive;
        if destructive {
            finding.risk = Risk::Medium;
        }
        if let (Some(old), Some(new)) = (own.filter(|_| put_filter.is_some()), &put_filter) {
            finding
                .notes
                .push(format!("Pattern before: {}", old.pattern));
            finding
                .notes
                .push(format!("Pattern after:  {}", new.pattern));
            let (removed, added) = term_diff(&old.pattern, &new.pattern);
            if !removed.is_empty() {
                finding
                    .notes
                    .push(format!("Terms removed: {}", removed.join(" ")));
            }
            if !added.is_empty() {
                finding
                    .notes
                    .push(format!("Terms added: {}", added.join(" ")));
            }
            finding
                .notes
                .push("Undo puts the previous pattern back.".to_string());
        }
        for f in fs
            .iter()
            .filter(|f| f.name != def.filter_name && !def.accepts(bench, &f.pattern))
        {
            finding.notes.push(format!(
                "Filter {} has the v{} pattern of this control; it is left alone.",
                f.name,
                def.versions_of(&f.pattern).join("/v")
            ));
        }
        finding.notes.extend(topic.notes());
        finding.notes.push(
            "Cost: the metric filter is free; the alarm is a standard-resolution CloudWatch alarm (about USD 0.10 a month). Alerts can be noisy.".to_string(),
        );
        Ok(Assessed {
            finding,
            todo: Some(Todo {
                region,
                group,
                put_filter,
                alarm,
            }),
        })
    }
}

async fn put_filter(cx: &Cx<'_>, region: &str, group: &str, f: &FilterRec) -> Result<(), AwsError> {
    let t = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
        .metric_name(&f.metric)
        .metric_namespace(&f.namespace)
        .metric_value(&f.value)
        .build()
        .map_err(|e| AwsError::new(ErrorKind::Service, "logs:PutMetricFilter", e.to_string()))?;
    cx.aws
        .logs(region)
        .put_metric_filter()
        .log_group_name(group)
        .filter_name(&f.name)
        .filter_pattern(&f.pattern)
        .metric_transformations(t)
        .send()
        .await
        .map_err(aws_err("logs:PutMetricFilter"))?;
    Ok(())
}

async fn put_alarm(cx: &Cx<'_>, region: &str, a: &AlarmRec) -> Result<(), AwsError> {
    let mut req = cx
        .aws
        .cloudwatch(region)
        .put_metric_alarm()
        .alarm_name(&a.name)
        .metric_name(&a.metric)
        .namespace(&a.namespace)
        .actions_enabled(a.actions_enabled)
        .set_alarm_actions(Some(a.alarm_actions.clone()))
        .set_ok_actions(Some(a.ok_actions.clone()))
        .set_insufficient_data_actions(Some(a.insufficient_data_actions.clone()))
        .set_period(a.period)
        .set_evaluation_periods(a.evaluation_periods)
        .set_threshold(a.threshold)
        .set_treat_missing_data(a.treat_missing_data.clone());
    if let Some(s) = &a.statistic {
        req = req.statistic(Statistic::from(s.as_str()));
    }
    if let Some(c) = &a.comparison_operator {
        req = req.comparison_operator(ComparisonOperator::from(c.as_str()));
    }
    req.send()
        .await
        .map_err(aws_err("cloudwatch:PutMetricAlarm"))?;
    Ok(())
}

#[async_trait]
impl Control for MetricFilter {
    fn description(&self) -> &Description {
        &self.0
    }

    async fn plan(&self, cx: &Cx<'_>, _region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        Ok(vec![self.assess(cx).await?.finding])
    }

    async fn apply(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        _f: &Finding,
    ) -> Result<(), AwsError> {
        let Some(todo) = self.assess(cx).await?.todo else {
            return Ok(());
        };
        let topic = alarm_topic::ensure(cx, &todo.region).await?;
        if let Some(f) = &todo.put_filter {
            put_filter(cx, &todo.region, &todo.group, f).await?;
        }
        let mut alarm = todo.alarm.clone();
        if !alarm.alarm_actions.contains(&topic) {
            alarm.alarm_actions.push(topic);
        }
        put_alarm(cx, &todo.region, &alarm).await
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        _region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let def = self.def()?;
        let (Some(region), Some(group)) =
            (previous["Region"].as_str(), previous["LogGroup"].as_str())
        else {
            return Err(AwsError::new(
                ErrorKind::Service,
                self.0.slug,
                format!("{target}: the recorded state names no log group; nothing to restore"),
            ));
        };
        let prev_filters: Vec<FilterRec> = previous["MetricFilters"]
            .as_array()
            .map(|a| a.iter().filter_map(FilterRec::from_json).collect())
            .unwrap_or_default();
        let prev_alarms: Vec<AlarmRec> = previous["Alarms"]
            .as_array()
            .map(|a| a.iter().filter_map(AlarmRec::from_json).collect())
            .unwrap_or_default();
        let now_filters = read_filters(cx, region, group).await?;
        let now_alarms = read_alarms(cx, region).await?;
        let (fs, als) = related(def, &now_filters, &now_alarms);

        // Alarms first (they reference the metrics), then filters, then the topic.
        let mut freed_topics = Vec::new();
        let extra: Vec<&AlarmRec> = als
            .iter()
            .filter(|a| !prev_alarms.iter().any(|p| p.name == a.name))
            .collect();
        if !extra.is_empty() {
            cx.aws
                .cloudwatch(region)
                .delete_alarms()
                .set_alarm_names(Some(extra.iter().map(|a| a.name.clone()).collect()))
                .send()
                .await
                .map_err(aws_err("cloudwatch:DeleteAlarms"))?;
            freed_topics.extend(extra.iter().flat_map(|a| a.alarm_actions.clone()));
        }
        for p in &prev_alarms {
            if let Some(now) = als.iter().find(|a| a.name == p.name) {
                if now != p {
                    freed_topics.extend(now.alarm_actions.clone());
                    put_alarm(cx, region, p).await?;
                }
            } else {
                put_alarm(cx, region, p).await?;
            }
        }
        for f in fs
            .iter()
            .filter(|f| !prev_filters.iter().any(|p| p.name == f.name))
        {
            cx.aws
                .logs(region)
                .delete_metric_filter()
                .log_group_name(group)
                .filter_name(&f.name)
                .send()
                .await
                .map_err(aws_err("logs:DeleteMetricFilter"))?;
        }
        for p in &prev_filters {
            if fs.iter().find(|f| f.name == p.name) != Some(p) {
                put_filter(cx, region, group, p).await?;
            }
        }
        freed_topics.sort();
        freed_topics.dedup();
        if !freed_topics.is_empty() {
            let in_use: Vec<String> = read_alarms(cx, region)
                .await?
                .into_iter()
                .flat_map(|a| {
                    a.alarm_actions
                        .into_iter()
                        .chain(a.ok_actions)
                        .chain(a.insufficient_data_actions)
                })
                .collect();
            alarm_topic::remove_if_unused(cx, region, &freed_topics, &in_use).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn every_metric_filter_slug_in_the_catalog_has_data_and_a_control() {
        let file = parse_data().unwrap();
        let cat = Catalog::embedded().unwrap();
        let slugs: Vec<&str> = cat
            .entries
            .iter()
            .map(|e| e.slug.as_str())
            .filter(|s| s.starts_with("metric-filter-"))
            .collect();
        assert_eq!(slugs.len(), 15, "{slugs:?}");
        for s in &slugs {
            let def = file.filter.iter().find(|f| f.slug == *s);
            assert!(def.is_some(), "{s} has no data in metric_filters.toml");
            assert!(crate::registry::find(s).is_some(), "{s} has no control");
        }
        assert_eq!(file.filter.len(), 15);
        for f in &file.filter {
            assert!(
                slugs.contains(&f.slug.as_str()),
                "{} not in catalog",
                f.slug
            );
            for v in f
                .versions
                .keys()
                .chain(f.accepted.iter().flat_map(|a| &a.versions))
            {
                assert!(
                    Benchmark::ALL.iter().any(|b| b.key() == v),
                    "{}: unknown version {v}",
                    f.slug
                );
            }
        }
        // Names are unique: one filter and alarm name per control.
        let mut names: Vec<_> = file.filter.iter().map(|f| &f.filter_name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 15);
    }

    #[test]
    fn every_pattern_parses() {
        let file = parse_data().unwrap();
        for f in &file.filter {
            let all = std::iter::once(&f.pattern)
                .chain(f.versions.values())
                .chain(f.accepted.iter().map(|a| &a.pattern));
            for p in all {
                assert!(
                    crate::resources::filter_pattern::parse(p).is_ok(),
                    "{}: {p}",
                    f.slug
                );
            }
        }
    }

    #[test]
    fn versions_and_alternates() {
        let file = parse_data().unwrap();
        let def = |s: &str| file.filter.iter().find(|f| f.slug == s).unwrap();
        let u = def("metric-filter-unauthorized-api-calls");
        let v12 = u.pattern_for(Benchmark::V1_2);
        let v14 = u.pattern_for(Benchmark::V1_4);
        let v50 = u.pattern_for(Benchmark::V5_0);
        assert_eq!(u.versions_of(v12), ["1.2"]);
        assert!(!u.accepts(Benchmark::V5_0, v12));
        // v3.0: the two sources disagree; both are accepted for 3.0 only.
        assert!(u.accepts(Benchmark::V3_0, v14));
        assert!(u.accepts(Benchmark::V3_0, v50));
        assert!(!u.accepts(Benchmark::V5_0, v14));
        // S1's unquoted v7.0 text is the same pattern.
        assert!(u.accepts(
            Benchmark::V7_0,
            "{ ($.errorCode =*UnauthorizedOperation) || ($.errorCode =AccessDenied*) && ($.sourceIPAddress!=delivery.logs.amazonaws.com) && ($.eventName!=HeadBucket) }"
        ));
        // The SSO variant of 4.2 counts in every version; ASR's spacing too.
        let m = def("metric-filter-console-signin-no-mfa");
        assert!(m.accepts(Benchmark::V5_0, &m.accepted[0].pattern));
        assert!(m.accepts(
            Benchmark::V1_2,
            r#"{($.eventName="ConsoleLogin") && ($.additionalEventData.MFAUsed !="Yes")}"#
        ));
        // 4.10 gained ModifySecurityGroupRules in 5.0.
        let sg = def("metric-filter-security-group-changes");
        assert!(!sg.accepts(Benchmark::V5_0, sg.pattern_for(Benchmark::V3_0)));
        assert_eq!(
            sg.versions_of(sg.pattern_for(Benchmark::V5_0)),
            ["5.0", "6.0", "7.0"]
        );
        // 4.13: cis-fix writes the parenthesised audit form (with the eventSource term) for
        // every version; the remediation form it wrote before still counts everywhere; the
        // unparenthesised audit text is accepted from 3.0, not in 1.4.
        let rt = def("metric-filter-route-table-changes");
        for b in [Benchmark::V1_4, Benchmark::V5_0, Benchmark::V7_0] {
            assert!(rt
                .pattern_for(b)
                .contains("($.eventSource = ec2.amazonaws.com) && (("));
            assert!(rt.accepts(b, &rt.accepted[0].pattern));
        }
        assert!(!rt.accepts(Benchmark::V5_0, "{ ($.eventName = CreateRoute) }"));
        assert!(rt.accepts(Benchmark::V5_0, &rt.accepted[1].pattern));
        assert!(!rt.accepts(Benchmark::V1_4, &rt.accepted[1].pattern));
        assert_eq!(
            rt.versions_of(&rt.accepted[0].pattern).len(),
            Benchmark::ALL.len()
        );
        // 4.15: the CIS text without Prowler's three extra names still counts.
        let org = def("metric-filter-organizations-changes");
        assert!(org.accepts(Benchmark::V5_0, &org.accepted[0].pattern));
        assert!(org
            .pattern_for(Benchmark::V5_0)
            .contains("EnableAllFeatures"));
    }

    fn alarm(name: &str, metric: &str, actions: &[&str]) -> AlarmRec {
        AlarmRec {
            name: name.into(),
            metric: metric.into(),
            namespace: "CISBenchmark".into(),
            statistic: Some("Sum".into()),
            period: Some(300),
            evaluation_periods: Some(1),
            threshold: Some(1.0),
            comparison_operator: Some("GreaterThanOrEqualToThreshold".into()),
            treat_missing_data: Some("notBreaching".into()),
            actions_enabled: true,
            alarm_actions: actions.iter().map(|s| s.to_string()).collect(),
            ok_actions: vec![],
            insufficient_data_actions: vec![],
        }
    }

    #[test]
    fn related_picks_this_controls_filters_and_their_alarms() {
        let file = parse_data().unwrap();
        let def = &file.filter[2]; // root usage
        let f = |name: &str, pattern: &str, metric: &str| FilterRec {
            name: name.into(),
            pattern: pattern.into(),
            metric: metric.into(),
            namespace: "CISBenchmark".into(),
            value: "1".into(),
        };
        let filters = vec![
            f(
                "mine",
                r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#,
                "Root",
            ),
            f("other", "{ $.eventName = CreateVpc }", "Vpc"),
            f(&def.filter_name, "{ $.x = 1 }", "RootAccountUsage"),
        ];
        let alarms = vec![
            alarm("a-root", "Root", &["arn:aws:sns:us-east-1:1:t"]),
            alarm("a-vpc", "Vpc", &[]),
        ];
        let (fs, als) = related(def, &filters, &alarms);
        let names: Vec<_> = fs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["mine", "cis-root-usage"]);
        assert_eq!(als.len(), 1);
        assert_eq!(als[0].name, "a-root");
        // Round trip through the journal's JSON.
        assert_eq!(AlarmRec::from_json(&als[0].json()).unwrap(), als[0]);
        assert_eq!(FilterRec::from_json(&fs[0].json()).unwrap(), fs[0]);
    }
}
