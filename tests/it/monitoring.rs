//! Monitoring (v5.0 4.1–4.16): the fifteen metric filters and alarms on the CIS trail's log
//! group, the shared alarm topic, and Security Hub.
//!
//! The prerequisite trail is seeded here with the SDK (not through the 3.1 control), so
//! these tests depend only on the monitoring controls.

use crate::harness::{call_actions, plan_item, plan_json, statuses, TestAccount};

/// v5.0 ids of the fifteen filter controls.
const FILTER_IDS: [&str; 15] = [
    "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8", "4.9", "4.10", "4.11", "4.12", "4.13",
    "4.14", "4.15",
];

fn cloudwatch(acct: &TestAccount, region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&acct.sdk_in(region))
}

fn sns(acct: &TestAccount, region: &str) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&acct.sdk_in(region))
}

/// A multi-region trail homed in `home`, logging, delivering to a CloudWatch Logs group
/// there. Returns the log group's name.
async fn seed_trail(acct: &TestAccount, home: &str) -> String {
    let bucket = acct.create_bucket(home, "monitoring-trail").await;
    let group = "cloudtrail-cis".to_string();
    acct.logs(home)
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let role = acct
        .iam()
        .create_role()
        .role_name("cloudtrail-to-logs")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let ct = acct.cloudtrail(home);
    ct.create_trail()
        .name("org-activity")
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .cloud_watch_logs_log_group_arn(format!(
            "arn:aws:logs:{home}:{}:log-group:{group}:*",
            acct.id
        ))
        .cloud_watch_logs_role_arn(role.role().unwrap().arn())
        .send()
        .await
        .unwrap();
    ct.start_logging()
        .name("org-activity")
        .send()
        .await
        .unwrap();
    group
}

/// Puts a metric filter of the account's own on `group`, counting 1 into `namespace`/`metric`.
async fn put_filter(
    acct: &TestAccount,
    region: &str,
    group: &str,
    name: &str,
    pattern: &str,
    (namespace, metric): (&str, &str),
) {
    acct.logs(region)
        .put_metric_filter()
        .log_group_name(group)
        .filter_name(name)
        .filter_pattern(pattern)
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name(metric)
                .metric_namespace(namespace)
                .metric_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// (name, pattern, metric) of every filter on the group, by name. moto 5.2.5 appends a
/// second entry when PutMetricFilter replaces a filter of the same name (AWS replaces it);
/// the last one listed is the current one.
async fn filters(acct: &TestAccount, region: &str, group: &str) -> Vec<(String, String, String)> {
    let out = acct
        .logs(region)
        .describe_metric_filters()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    let by_name: std::collections::BTreeMap<String, (String, String, String)> = out
        .metric_filters()
        .iter()
        .map(|f| {
            let name = f.filter_name().unwrap().to_string();
            let rec = (
                name.clone(),
                f.filter_pattern().unwrap().to_string(),
                f.metric_transformations()[0].metric_name().to_string(),
            );
            (name, rec)
        })
        .collect();
    by_name.into_values().collect()
}

/// (name, metric, alarm actions) of every metric alarm in the region.
async fn alarms(acct: &TestAccount, region: &str) -> Vec<(String, String, Vec<String>)> {
    let out = cloudwatch(acct, region)
        .describe_alarms()
        .send()
        .await
        .unwrap();
    let mut v: Vec<_> = out
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap().to_string(),
                a.metric_name().unwrap_or_default().to_string(),
                a.alarm_actions().to_vec(),
            )
        })
        .collect();
    v.sort();
    v
}

async fn topics(acct: &TestAccount, region: &str) -> Vec<String> {
    let out = sns(acct, region).list_topics().send().await.unwrap();
    out.topics()
        .iter()
        .filter_map(|t| t.topic_arn().map(str::to_string))
        .collect()
}

fn sel(ids: &[&str]) -> Vec<String> {
    ids.iter()
        .flat_map(|i| ["-c".to_string(), i.to_string()])
        .collect()
}

fn args<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(tail.iter().map(String::as_str))
        .collect()
}

#[tokio::test]
async fn all_fifteen_are_created_in_the_log_groups_region_and_undone() {
    let acct = TestAccount::new().await;
    // The trail and its log group live in us-east-1; the run's region is eu-west-1.
    let group = seed_trail(&acct, "us-east-1").await;
    let mut tail = sel(&FILTER_IDS);
    tail.extend(["--regions", "eu-west-1", "--alarm-email", "sec@example.com"].map(String::from));

    let plan = acct.run(&args(&["plan", "--format", "json"], &tail));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let st = statuses(&doc);
    assert_eq!(st.len(), 15, "{st:?}");
    assert!(
        st.iter().all(|s| s.2 == "change" && s.1.is_none()),
        "{st:?}"
    );
    let first = plan_item(&doc, "metric-filter-unauthorized-api-calls");
    assert_eq!(
        first["target"],
        format!("metric filter cis-unauthorized-api-calls on log group {group}")
    );
    let topic = format!("arn:aws:sns:us-east-1:{}:cis-fix-alarms", acct.id);
    assert_eq!(
        call_actions(first),
        [
            "sns:CreateTopic",
            "sns:Subscribe",
            "logs:PutMetricFilter",
            "cloudwatch:PutMetricAlarm"
        ]
    );
    assert_eq!(first["after"]["AlarmTopic"]["TopicArn"], topic);
    // One read of the trails, the filters, the alarms and the topic for all fifteen.
    let reads = doc["plan"]["api_calls"].as_u64().unwrap();
    assert!(reads <= 10, "{reads} calls to plan fifteen controls");
    assert!(
        first["before"].get("AlarmTopic").is_none(),
        "the shared topic stays out of before"
    );

    let out = acct.run(&args(&["apply", "--yes"], &tail));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    // Re-read with the SDK, in the log group's region.
    let fs = filters(&acct, "us-east-1", &group).await;
    assert_eq!(fs.len(), 15, "{fs:?}");
    let root = fs.iter().find(|f| f.0 == "cis-root-usage").unwrap();
    assert!(root.1.contains("NOT EXISTS"), "{root:?}");
    assert_eq!(root.2, "RootAccountUsage");
    let als = alarms(&acct, "us-east-1").await;
    assert_eq!(als.len(), 15, "{als:?}");
    assert!(als.iter().all(|a| a.2 == [topic.clone()]), "{als:?}");
    assert!(alarms(&acct, "eu-west-1").await.is_empty());
    let subs = sns(&acct, "us-east-1")
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    assert_eq!(subs.subscriptions().len(), 1);
    assert_eq!(subs.subscriptions()[0].endpoint(), Some("sec@example.com"));

    let again = acct.run(&args(&["plan", "--format", "json"], &tail));
    let st = statuses(&plan_json(&again));
    assert!(st.iter().all(|s| s.2 == "compliant"), "{st:?}");
    let second = acct.run(&args(&["apply", "--yes"], &tail));
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("Nothing to apply"),
        "{}",
        second.stdout
    );

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(filters(&acct, "us-east-1", &group).await.is_empty());
    assert!(alarms(&acct, "us-east-1").await.is_empty());
    assert!(
        topics(&acct, "us-east-1").await.is_empty(),
        "the topic cis-fix created is gone"
    );
}

#[tokio::test]
async fn an_equivalent_filter_counts_and_one_without_alarm_gets_only_the_alarm() {
    let acct = TestAccount::new().await;
    let group = seed_trail(&acct, "eu-west-1").await;
    // Root usage as Security Hub / ASR print it (no spaces), with an alarm on its metric.
    put_filter(
        &acct,
        "eu-west-1",
        &group,
        "root-activity",
        r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#,
        ("Security", "RootActivity"),
    )
    .await;
    let own_topic = sns(&acct, "eu-west-1")
        .create_topic()
        .name("secops")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    cloudwatch(&acct, "eu-west-1")
        .put_metric_alarm()
        .alarm_name("root-activity")
        .metric_name("RootActivity")
        .namespace("Security")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(
            aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
        )
        .alarm_actions(&own_topic)
        .send()
        .await
        .unwrap();
    // CloudTrail changes with the terms in another order and unquoted, but no alarm.
    put_filter(
        &acct,
        "eu-west-1",
        &group,
        "trail-changes",
        "{($.eventName=StopLogging)||($.eventName=DeleteTrail)||($.eventName=CreateTrail)||($.eventName=UpdateTrail)||($.eventName=StartLogging)}",
        ("Security", "TrailChanges"),
    )
    .await;

    // Alarms notify the team's own topic, given by ARN.
    let mut tail = sel(&["4.3", "4.5"]);
    tail.extend(["--alarm-topic".to_string(), own_topic.clone()]);
    let plan = acct.run(&args(&["plan", "--format", "json"], &tail));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let root = plan_item(&doc, "metric-filter-root-usage");
    assert_eq!(root["status"], "compliant", "{root}");
    let trail = plan_item(&doc, "metric-filter-cloudtrail-changes");
    assert_eq!(trail["status"], "change", "{trail}");
    assert_eq!(call_actions(trail), ["cloudwatch:PutMetricAlarm"]);

    let out = acct.run(&args(&["apply", "--yes"], &tail));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let fs = filters(&acct, "eu-west-1", &group).await;
    assert_eq!(
        fs.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["root-activity", "trail-changes"],
        "no duplicate filter"
    );
    let als = alarms(&acct, "eu-west-1").await;
    let added = als
        .iter()
        .find(|a| a.0 == "cis-cloudtrail-changes")
        .unwrap();
    assert_eq!(
        added.1, "TrailChanges",
        "the alarm watches the existing filter's metric"
    );
    assert_eq!(added.2, std::slice::from_ref(&own_topic));
    assert_eq!(als.len(), 2);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert_eq!(filters(&acct, "eu-west-1", &group).await.len(), 2);
    let als = alarms(&acct, "eu-west-1").await;
    assert_eq!(als.len(), 1);
    assert_eq!(als[0].0, "root-activity");
    assert_eq!(topics(&acct, "eu-west-1").await, [own_topic]);
}

#[tokio::test]
async fn an_outdated_pattern_is_updated_and_undo_restores_it() {
    let acct = TestAccount::new().await;
    let group = seed_trail(&acct, "eu-west-1").await;
    let v12 = r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;
    put_filter(
        &acct,
        "eu-west-1",
        &group,
        "cis-unauthorized-api-calls",
        v12,
        ("CISBenchmark", "UnauthorizedAPICalls"),
    )
    .await;
    let tail = sel(&["4.1"]);
    let plan = acct.run(&args(&["plan", "--format", "json"], &tail));
    let doc = plan_json(&plan);
    let it = plan_item(&doc, "metric-filter-unauthorized-api-calls");
    assert_eq!(it["status"], "change");
    assert_eq!(it["action"], "update");
    assert_eq!(it["destructive"], true);
    assert!(
        it["summary"].as_str().unwrap().contains("v1.2 pattern"),
        "{}",
        it["summary"]
    );
    let notes = it["notes"].to_string();
    assert!(notes.contains("Pattern before"), "{notes}");
    assert!(notes.contains("HeadBucket"), "{notes}");
    // The 1.2 benchmark is satisfied by it.
    let old = acct.run(&args(
        &["plan", "--benchmark", "1.2", "--format", "json"],
        &sel(&["3.1"]),
    ));
    let st = statuses(&plan_json(&old));
    assert_eq!(st[0].2, "change", "the alarm is still missing: {st:?}");

    let out = acct.run(&args(&["apply", "--yes"], &tail));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let fs = filters(&acct, "eu-west-1", &group).await;
    assert_eq!(fs.len(), 1);
    assert!(fs[0].1.contains("HeadBucket"), "{fs:?}");
    assert_eq!(alarms(&acct, "eu-west-1").await.len(), 1);

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    let fs = filters(&acct, "eu-west-1", &group).await;
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].1, v12, "the old pattern is back");
    assert!(alarms(&acct, "eu-west-1").await.is_empty());
    assert!(topics(&acct, "eu-west-1").await.is_empty());
}

#[tokio::test]
async fn without_a_trail_the_filters_wait_for_3_1() {
    let acct = TestAccount::new().await;
    let plan = acct.run(&args(&["plan", "--format", "json"], &sel(&["4.3"])));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let it = plan_item(&doc, "metric-filter-root-usage");
    assert_eq!(it["status"], "blocked", "{it}");
    assert_eq!(it["needs"][0], "cloudtrail-multi-region");
    assert!(it["summary"].as_str().unwrap().contains("3.1"), "{it}");
}

async fn hub_enabled(acct: &TestAccount, region: &str) -> bool {
    let sh = aws_sdk_securityhub::Client::new(&acct.sdk_in(region));
    match sh.describe_hub().send().await {
        Ok(_) => true,
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_invalid_access_exception(), "unexpected error: {e:?}");
            false
        }
    }
}

#[tokio::test]
async fn security_hub_is_enabled_per_region_and_undo_disables_it() {
    let acct = TestAccount::new().await;
    let tail = sel(&["4.16"])
        .into_iter()
        .chain(["--regions", "eu-west-1,us-east-1"].map(String::from))
        .collect::<Vec<_>>();
    let plan = acct.run(&args(&["plan", "--format", "json"], &tail));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let doc = plan_json(&plan);
    let st = statuses(&doc);
    assert_eq!(st.len(), 2, "{st:?}");
    assert!(st.iter().all(|s| s.2 == "change"), "{st:?}");
    let it = plan_item(&doc, "security-hub-enabled");
    assert_eq!(it["calls"][0]["action"], "securityhub:EnableSecurityHub");
    let notes = it["notes"].to_string();
    // moto 5.2.5 has no standards API (HTTP 404 HTML): the plan says the standard is not
    // subscribed (the subscription itself is covered by replay tests in security_hub.rs).
    assert!(notes.contains("standards API does not answer"), "{notes}");
    assert!(notes.contains("AWS Config is not recording"), "{notes}");

    let out = acct.run(&args(&["apply", "--yes"], &tail));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(hub_enabled(&acct, "eu-west-1").await);
    assert!(hub_enabled(&acct, "us-east-1").await);
    assert!(
        !hub_enabled(&acct, "ap-southeast-2").await,
        "unselected region untouched"
    );

    let again = acct.run(&args(&["plan", "--detailed-exitcode"], &tail));
    assert_eq!(again.code, 0, "{}", again.stdout);
    let second = acct.run(&args(&["apply", "--yes"], &tail));
    assert!(
        second.stdout.contains("Nothing to apply"),
        "{}",
        second.stdout
    );

    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(!hub_enabled(&acct, "eu-west-1").await);
    assert!(!hub_enabled(&acct, "us-east-1").await);
}

#[tokio::test]
async fn a_created_topic_someone_else_subscribed_to_survives_undo() {
    let acct = TestAccount::new().await;
    let group = seed_trail(&acct, "eu-west-1").await;
    let tail = sel(&["4.3"]);
    let out = acct.run(&args(&["apply", "--yes"], &tail));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let topic = format!("arn:aws:sns:eu-west-1:{}:cis-fix-alarms", acct.id);
    assert_eq!(
        topics(&acct, "eu-west-1").await,
        std::slice::from_ref(&topic)
    );
    sns(&acct, "eu-west-1")
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("oncall@example.com")
        .send()
        .await
        .unwrap();
    let undo = acct.run(&["undo", "--yes"]);
    assert_eq!(undo.code, 0, "{}\n{}", undo.stdout, undo.stderr);
    assert!(filters(&acct, "eu-west-1", &group).await.is_empty());
    assert!(alarms(&acct, "eu-west-1").await.is_empty());
    assert_eq!(
        topics(&acct, "eu-west-1").await,
        [topic],
        "another subscriber keeps the topic"
    );
}
