//! After `apply`, the state cis-fix wrote passes the mainstream CIS checkers, not only
//! cis-fix's own re-read (docs/checkers.md has the table and the sources).
//!
//! Each checker's rule is re-implemented here from its published source, as the table states
//! it, and evaluated on what the SDK reads back from the emulated account:
//! - Prowler (`prowler/providers/aws/services/cloudwatch/lib/metric_filters.py`): every
//!   required clause `$.<field> <op> <value>` appears somewhere in the filter pattern, in any
//!   order, with at most one character (a quote) before the value; event names must end there
//!   (`CreateRoute` is not found in `CreateRouteTable`); an alarm watches the filter's metric.
//!   Its S3 data-event checks read `ReadWriteType` and `DataResources` of every basic selector
//!   and fail (report nothing) when a selector lacks them.
//! - Steampipe `aws_compliance` (`conformance_pack/cloudwatch.pp`, `cloudtrail.pp`): the
//!   pattern matches one regular expression whose terms come in a fixed order; the trail has a
//!   basic selector with `ReadWriteType: All`; the alarm's action is a topic with a
//!   subscription. S3 data events: a basic selector (advanced ones are not read) of type
//!   `AWS::S3::Object` with value `arn:aws:s3` (all buckets) and ReadWriteType WriteOnly/All
//!   (3.8) or ReadOnly/All (3.9).
//! - Security Hub S3.22 / S3.23: at least one multi-region trail logs all S3 write / read data
//!   events.

use std::collections::BTreeMap;

use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
use regex_lite::Regex;

use crate::harness::TestAccount;

// ---------------------------------------------------------------------------------------
// The checkers' filter rules.

/// Prowler: `$.field op value` somewhere, any spacing, one optional character before the
/// value; `word` requires the value to end at a word boundary (event names).
fn prowler_clause(pattern: &str, field: &str, op: &str, value: &str, word: bool) -> bool {
    let re = format!(
        r"\$\.{}\s*{}\s*.?{}{}",
        regex_lite::escape(field),
        regex_lite::escape(op),
        regex_lite::escape(value),
        if word { r"\b" } else { "" }
    );
    Regex::new(&re).unwrap().is_match(pattern)
}

/// Prowler's rule for one control: the event source (when it names one), every event name,
/// and the extra clauses.
struct ProwlerRule {
    check: &'static str,
    source: Option<&'static str>,
    names: &'static [&'static str],
    extra: &'static [(&'static str, &'static str, &'static str)],
}

impl ProwlerRule {
    fn passes(&self, pattern: &str) -> bool {
        self.source
            .is_none_or(|s| prowler_clause(pattern, "eventSource", "=", s, false))
            && self
                .names
                .iter()
                .all(|n| prowler_clause(pattern, "eventName", "=", n, true))
            && self
                .extra
                .iter()
                .all(|(f, op, v)| prowler_clause(pattern, f, op, v, false))
    }
}

const ROUTE_NAMES: &[&str] = &[
    "CreateRoute",
    "CreateRouteTable",
    "ReplaceRoute",
    "ReplaceRouteTableAssociation",
    "DeleteRouteTable",
    "DeleteRoute",
    "DisassociateRouteTable",
];

/// Prowler's rules by cis-fix filter name (checks named in docs/checkers.md).
fn prowler_rules() -> BTreeMap<&'static str, ProwlerRule> {
    let r = |check, source, names, extra| ProwlerRule {
        check,
        source,
        names,
        extra,
    };
    BTreeMap::from([
        ("cis-unauthorized-api-calls", r("cloudwatch_log_metric_filter_unauthorized_api_calls", None, &[],
            &[("errorCode", "=", "*UnauthorizedOperation"), ("errorCode", "=", "AccessDenied*")])),
        ("cis-console-signin-without-mfa", r("cloudwatch_log_metric_filter_sign_in_without_mfa", None, &["ConsoleLogin"],
            &[("additionalEventData.MFAUsed", "!=", "Yes")])),
        ("cis-root-usage", r("cloudwatch_log_metric_filter_root_usage", None, &[],
            &[("userIdentity.type", "=", "Root"), ("userIdentity.invokedBy", "NOT", "EXISTS"), ("eventType", "!=", "AwsServiceEvent")])),
        ("cis-iam-policy-changes", r("cloudwatch_log_metric_filter_policy_changes", None, &[
            "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy",
            "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy",
            "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"], &[])),
        ("cis-cloudtrail-changes", r("cloudwatch_log_metric_filter_and_alarm_for_cloudtrail_configuration_changes_enabled", None,
            &["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"], &[])),
        ("cis-console-auth-failures", r("cloudwatch_log_metric_filter_authentication_failures", None, &["ConsoleLogin"],
            &[("errorMessage", "=", "Failed authentication")])),
        ("cis-cmk-disable-deletion", r("cloudwatch_log_metric_filter_disable_or_scheduled_deletion_of_kms_cmk",
            Some("kms.amazonaws.com"), &["DisableKey", "ScheduleKeyDeletion"], &[])),
        ("cis-s3-bucket-policy-changes", r("cloudwatch_log_metric_filter_for_s3_bucket_policy_changes", Some("s3.amazonaws.com"), &[
            "PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication",
            "DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle", "DeleteBucketReplication"], &[])),
        ("cis-config-changes", r("cloudwatch_log_metric_filter_and_alarm_for_aws_config_configuration_changes_enabled",
            Some("config.amazonaws.com"),
            &["StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"], &[])),
        ("cis-security-group-changes", r("cloudwatch_log_metric_filter_security_group_changes", None, &[
            "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup"], &[])),
        ("cis-nacl-changes", r("cloudwatch_changes_to_network_acls_alarm_configured", None, &[
            "CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"], &[])),
        ("cis-network-gateway-changes", r("cloudwatch_changes_to_network_gateways_alarm_configured", None, &[
            "CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway", "CreateInternetGateway",
            "DeleteInternetGateway", "DetachInternetGateway"], &[])),
        ("cis-route-table-changes", r("cloudwatch_changes_to_network_route_tables_alarm_configured",
            Some("ec2.amazonaws.com"), ROUTE_NAMES, &[])),
        ("cis-vpc-changes", r("cloudwatch_changes_to_vpcs_alarm_configured", None, &[
            "CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection", "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc",
            "DisableVpcClassicLink", "EnableVpcClassicLink"], &[])),
        ("cis-organizations-changes", r("cloudwatch_log_metric_filter_aws_organizations_changes",
            Some("organizations.amazonaws.com"), &[
            "AcceptHandshake", "AttachPolicy", "CancelHandshake", "CreateAccount", "CreateOrganization",
            "CreateOrganizationalUnit", "CreatePolicy", "DeclineHandshake", "DeleteOrganization", "DeleteOrganizationalUnit",
            "DeletePolicy", "EnableAllFeatures", "EnablePolicyType", "InviteAccountToOrganization", "LeaveOrganization",
            "DetachPolicy", "DisablePolicyType", "MoveAccount", "RemoveAccountFromOrganization",
            "UpdateOrganizationalUnit", "UpdatePolicy"], &[])),
    ])
}

/// Steampipe: terms that must appear in this order (any text between), each `$.field op
/// value` with any spacing; `q` says how the value is quoted: "" bare, "\"" quoted,
/// "\"?" either.
fn steampipe_ordered(terms: &[(&str, &str, &str, &str)]) -> String {
    terms
        .iter()
        .map(|(field, op, value, q)| {
            format!(
                r"\$\.{}\s*{}\s*{q}{}{q}",
                regex_lite::escape(field),
                regex_lite::escape(op),
                regex_lite::escape(value)
            )
        })
        .collect::<Vec<_>>()
        .join(".+")
}

fn names<'a>(source: Option<&'a str>, names: &[&'a str], q: &'a str) -> String {
    let mut terms: Vec<(&str, &str, &str, &str)> = Vec::new();
    if let Some(s) = source {
        terms.push(("eventSource", "=", s, ""));
    }
    terms.extend(names.iter().map(|n| ("eventName", "=", *n, q)));
    steampipe_ordered(&terms)
}

/// Steampipe's rule (a regular expression) by cis-fix filter name.
fn steampipe_rules() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("cis-unauthorized-api-calls", steampipe_ordered(&[
            ("errorCode", "=", "*UnauthorizedOperation", "\""), ("errorCode", "=", "AccessDenied*", "\""),
            ("sourceIPAddress", "!=", "delivery.logs.amazonaws.com", "\""), ("eventName", "!=", "HeadBucket", "\"")])),
        // Structural: `($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes"`.
        ("cis-console-signin-without-mfa",
            r#"\(\s*\$\.eventName\s*=\s*"ConsoleLogin"\)\s+&&\s+\(\s*\$\.additionalEventData\.MFAUsed\s*!=\s*"Yes""#.to_string()),
        ("cis-root-usage", steampipe_ordered(&[("userIdentity.type", "=", "Root", "\"")])
            + r".+\$\.userIdentity\.invokedBy NOT EXISTS.+"
            + &steampipe_ordered(&[("eventType", "!=", "AwsServiceEvent", "\"")])),
        ("cis-iam-policy-changes", names(None, &[
            "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy",
            "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy",
            "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"], "")),
        ("cis-cloudtrail-changes", names(None, &["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"], "")),
        ("cis-console-auth-failures", steampipe_ordered(&[
            ("eventName", "=", "ConsoleLogin", ""), ("errorMessage", "=", "Failed authentication", "\"")])),
        ("cis-cmk-disable-deletion", names(Some("kms.amazonaws.com"), &["DisableKey", "ScheduleKeyDeletion"], "")),
        ("cis-s3-bucket-policy-changes", names(Some("s3.amazonaws.com"), &[
            "PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication",
            "DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle", "DeleteBucketReplication"], "")),
        ("cis-config-changes", names(Some("config.amazonaws.com"), &[
            "StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"], "")),
        ("cis-security-group-changes", names(None, &[
            "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup", "ModifySecurityGroupRules"], "")),
        ("cis-nacl-changes", names(None, &[
            "CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"], "")),
        ("cis-network-gateway-changes", names(None, &[
            "CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway", "CreateInternetGateway",
            "DeleteInternetGateway", "DetachInternetGateway"], "")),
        ("cis-route-table-changes", names(None, ROUTE_NAMES, "")),
        ("cis-vpc-changes", names(None, &[
            "CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection", "CreateVpcPeeringConnection",
            "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc",
            "DisableVpcClassicLink", "EnableVpcClassicLink"], "")),
        ("cis-organizations-changes", names(Some("organizations.amazonaws.com"), &[
            "AcceptHandshake", "AttachPolicy", "CreateAccount", "CreateOrganizationalUnit", "CreatePolicy",
            "DeclineHandshake", "DeleteOrganization", "DeleteOrganizationalUnit", "DeletePolicy", "DetachPolicy",
            "DisablePolicyType", "EnablePolicyType", "InviteAccountToOrganization", "LeaveOrganization", "MoveAccount",
            "RemoveAccountFromOrganization", "UpdatePolicy", "UpdateOrganizationalUnit"], "\"?")),
    ])
}

/// The CIS v5.0 audit text of 4.13 (and Prowler's parse of it): the eventSource term is there.
fn cis_audit_4_13(pattern: &str) -> bool {
    prowler_clause(pattern, "eventSource", "=", "ec2.amazonaws.com", false)
        && ROUTE_NAMES
            .iter()
            .all(|n| prowler_clause(pattern, "eventName", "=", n, true))
}

#[test]
fn the_rules_tell_the_forms_apart() {
    let remediation = "{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }";
    let p = &prowler_rules()["cis-route-table-changes"];
    assert!(!p.passes(remediation), "Prowler wants the eventSource term");
    assert!(!cis_audit_4_13(remediation));
    let sp = Regex::new(&steampipe_rules()["cis-route-table-changes"]).unwrap();
    assert!(sp.is_match(remediation));
    // Word boundary: CreateRouteTable alone does not satisfy CreateRoute.
    assert!(!prowler_clause(
        "{ ($.eventName = CreateRouteTable) }",
        "eventName",
        "=",
        "CreateRoute",
        true
    ));
}

// ---------------------------------------------------------------------------------------
// The account.

fn cloudwatch(acct: &TestAccount, region: &str) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&acct.sdk_in(region))
}

fn sns(acct: &TestAccount, region: &str) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&acct.sdk_in(region))
}

fn ok(out: crate::harness::Output) -> crate::harness::Output {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

/// A multi-region, logging trail homed in `home` delivering to log group `cloudtrail-cis`,
/// whose one selector was written (as some tools do) without `DataResources` and
/// `ExcludeManagementEventSources`. Returns the log group.
async fn seed_trail(acct: &TestAccount, home: &str) -> String {
    let bucket = acct.create_bucket(home, "checkers-trail").await;
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
    ct.put_event_selectors()
        .trail_name("org-activity")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .build(),
        )
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

async fn selectors(acct: &TestAccount, home: &str) -> Vec<EventSelector> {
    acct.cloudtrail(home)
        .get_event_selectors()
        .trail_name("org-activity")
        .send()
        .await
        .unwrap()
        .event_selectors()
        .to_vec()
}

/// Prowler's S3 data-event rule on basic selectors: it reads `ReadWriteType` and
/// `DataResources` of every selector (a selector without them stops the check: `None` here);
/// a pass needs ReadWriteType `kind` or All and an `AWS::S3::Object` resource whose values
/// include `arn:aws:s3`, `arn:aws:s3:::` or `arn:aws:s3:::*/*`.
fn prowler_s3(sel: &[EventSelector], kind: ReadWriteType) -> Option<bool> {
    let mut pass = false;
    for s in sel {
        let rw = s.read_write_type()?;
        if *rw == ReadWriteType::All || *rw == kind {
            for d in s.data_resources.as_ref()? {
                let all = ["arn:aws:s3", "arn:aws:s3:::", "arn:aws:s3:::*/*"];
                if d.r#type() == Some("AWS::S3::Object")
                    && d.values().iter().any(|v| all.contains(&v.as_str()))
                {
                    pass = true;
                }
            }
        }
    }
    Some(pass)
}

/// Steampipe's S3 data-event rule (basic selectors only): a resource of type
/// `AWS::S3::Object` with value `arn:aws:s3` in a selector of ReadWriteType `kind` or All.
fn steampipe_s3(sel: &[EventSelector], kind: ReadWriteType) -> bool {
    sel.iter().any(|s| {
        matches!(s.read_write_type(), Some(rw) if *rw == ReadWriteType::All || *rw == kind)
            && s.data_resources().iter().any(|d| {
                d.r#type() == Some("AWS::S3::Object")
                    && d.values().iter().any(|v| v == "arn:aws:s3")
            })
    })
}

/// Steampipe's trail condition for every monitoring control: a basic selector with
/// `ReadWriteType: All`.
fn steampipe_trail(sel: &[EventSelector]) -> bool {
    sel.iter()
        .any(|s| s.read_write_type() == Some(&ReadWriteType::All))
}

/// The canonical shape AWS returns: every member present, empty lists as `[]`.
fn canonical(sel: &[EventSelector]) -> Vec<EventSelector> {
    sel.iter()
        .map(|s| {
            let mut s = s.clone();
            s.data_resources.get_or_insert_with(Vec::new);
            s.exclude_management_event_sources
                .get_or_insert_with(Vec::new);
            s
        })
        .collect()
}

#[tokio::test]
async fn after_apply_every_checker_passes_the_trail_filters_and_s3_data_events() {
    let acct = TestAccount::new().await;
    let home = "us-east-1";
    let group = seed_trail(&acct, home).await;
    let original = selectors(&acct, home).await;
    let mut args: Vec<&str> = vec!["apply", "--yes", "--regions", home];
    for id in [
        "3.8", "3.9", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8", "4.9", "4.10",
        "4.11", "4.12", "4.13", "4.14", "4.15",
    ] {
        args.extend(["-c", id]);
    }
    args.extend(["--alarm-email", "sec@example.com"]);
    ok(acct.run(&args));

    // The trail's selectors, as read back.
    let sel = selectors(&acct, home).await;
    for s in &sel {
        assert!(
            s.read_write_type().is_some()
                && s.include_management_events().is_some()
                && s.data_resources.is_some()
                && s.exclude_management_event_sources.is_some(),
            "a selector lacks a member the service returns: {s:?}"
        );
    }
    let s3: Vec<&EventSelector> = sel
        .iter()
        .filter(|s| {
            s.data_resources()
                .iter()
                .any(|d| d.r#type() == Some("AWS::S3::Object"))
        })
        .collect();
    assert_eq!(s3.len(), 1, "one S3 data-event selector: {sel:?}");
    assert_eq!(s3[0].read_write_type(), Some(&ReadWriteType::All));
    assert_eq!(
        s3[0].data_resources(),
        [DataResource::builder()
            .r#type("AWS::S3::Object")
            .values("arn:aws:s3")
            .build()]
    );
    for kind in [ReadWriteType::WriteOnly, ReadWriteType::ReadOnly] {
        assert_eq!(
            prowler_s3(&sel, kind.clone()),
            Some(true),
            "Prowler {kind:?}"
        );
        assert!(steampipe_s3(&sel, kind.clone()), "Steampipe {kind:?}");
    }
    assert!(steampipe_trail(&sel));
    // Security Hub S3.22/S3.23: a multi-region trail logging all S3 write and read data events.
    let trail = acct
        .cloudtrail(home)
        .get_trail()
        .name("org-activity")
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    assert_eq!(trail.is_multi_region_trail(), Some(true));

    // The filters and alarms, as read back.
    let filters = acct
        .logs(home)
        .describe_metric_filters()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let by_name: BTreeMap<String, (String, String)> = filters
        .metric_filters()
        .iter()
        .map(|f| {
            (
                f.filter_name().unwrap().to_string(),
                (
                    f.filter_pattern().unwrap().to_string(),
                    f.metric_transformations()[0].metric_name().to_string(),
                ),
            )
        })
        .collect();
    let alarms = cloudwatch(&acct, home)
        .describe_alarms()
        .send()
        .await
        .unwrap();
    let prowler = prowler_rules();
    let steampipe = steampipe_rules();
    let mut failures = Vec::new();
    for (name, rule) in &prowler {
        let Some((pattern, metric)) = by_name.get(*name) else {
            failures.push(format!("{name}: no filter"));
            continue;
        };
        if !rule.passes(pattern) {
            failures.push(format!("Prowler {}: {pattern}", rule.check));
        }
        if !Regex::new(&steampipe[name]).unwrap().is_match(pattern) {
            failures.push(format!("Steampipe {name}: {pattern}"));
        }
        if *name == "cis-route-table-changes" && !cis_audit_4_13(pattern) {
            failures.push(format!("CIS 5.0 4.13 audit: {pattern}"));
        }
        // Both: an alarm on the filter's metric, whose action is a topic with a subscription.
        let alarm = alarms
            .metric_alarms()
            .iter()
            .find(|a| a.metric_name() == Some(metric.as_str()));
        let Some(alarm) = alarm else {
            failures.push(format!("{name}: no alarm on {metric}"));
            continue;
        };
        for topic in alarm.alarm_actions() {
            let subs = sns(&acct, home)
                .list_subscriptions_by_topic()
                .topic_arn(topic)
                .send()
                .await
                .unwrap();
            if subs.subscriptions().is_empty() {
                failures.push(format!("{name}: topic {topic} has no subscription"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Undo: the trail's selectors exactly as they were (in the shape the service returns).
    ok(acct.run(&["undo", "--yes"]));
    assert_eq!(
        canonical(&selectors(&acct, home).await),
        canonical(&original)
    );
}

/// CIS (and the alarm's purpose) want a confirmed subscriber on the alarm topic; cis-fix
/// reports its absence as a manual step on the otherwise compliant control. moto 5.2.5
/// confirms every subscription at once (it never lists `PendingConfirmation`), so the pending
/// case is covered by the unit test in `resources/alarm_topic.rs`; here: none, then one.
#[tokio::test]
async fn an_alarm_topic_without_a_confirmed_subscriber_is_a_manual_step() {
    let acct = TestAccount::new().await;
    let home = "us-east-1";
    seed_trail(&acct, home).await;
    let sel = ["-c", "4.13", "--regions", home];
    ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    let notes = || {
        let doc = crate::harness::plan_json(
            &acct.run(&[&["plan", "--format", "json"][..], &sel[..]].concat()),
        );
        let item = crate::harness::plan_item(&doc, "metric-filter-route-table-changes").clone();
        assert_eq!(item["status"], "compliant", "{item}");
        item["notes"].to_string()
    };
    let before = notes();
    assert!(
        before.contains("Manual step") && before.contains("nobody subscribes"),
        "{before}"
    );
    let topic = format!("arn:aws:sns:{home}:{}:cis-fix-alarms", acct.id);
    sns(&acct, home)
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("ops@example.com")
        .send()
        .await
        .unwrap();
    let after = notes();
    assert!(!after.contains("Manual step"), "{after}");
}

/// The names cis-fix gives what it creates are parameters (defaults: today's names): the
/// trail's delivery role, the flow-log role, the Config recorder and channel. Undo runs
/// without the plan's parameters, so it must find the created trail and role by the names the
/// change recorded.
#[tokio::test]
async fn created_names_are_parameters_and_undo_finds_them() {
    let acct = TestAccount::new().await;
    let home = "us-east-1";
    let set = [
        "--set",
        "trail_name=team-trail",
        "--set",
        "trail_log_role_name=team-trail-logs",
        "--set",
        "flow_log_role_name=team-flow-logs",
        "--set",
        "config_recorder_name=team-recorder",
        "--set",
        "config_channel_name=team-channel",
    ];
    let sel = ["-c", "3.1", "-c", "3.3", "-c", "3.7", "--regions", home];
    ok(acct.run(&[&["apply", "--yes"][..], &sel[..], &set[..]].concat()));
    let role = |name: &'static str| {
        let iam = acct.iam();
        async move { iam.get_role().role_name(name).send().await.is_ok() }
    };
    assert!(role("team-trail-logs").await && role("team-flow-logs").await);
    assert!(!role("cis-fix-cloudtrail-logs").await && !role("cis-fix-flow-logs").await);
    let trails = acct
        .cloudtrail(home)
        .describe_trails()
        .send()
        .await
        .unwrap();
    let t = &trails.trail_list()[0];
    assert_eq!(t.name(), Some("team-trail"));
    assert!(t
        .cloud_watch_logs_role_arn()
        .unwrap()
        .ends_with("role/team-trail-logs"));
    let cfg = aws_sdk_config::Client::new(&acct.sdk_in(home));
    let rec = cfg.describe_configuration_recorders().send().await.unwrap();
    assert_eq!(
        rec.configuration_recorders()[0].name(),
        Some("team-recorder")
    );
    let ch = cfg.describe_delivery_channels().send().await.unwrap();
    assert_eq!(ch.delivery_channels()[0].name(), Some("team-channel"));

    ok(acct.run(&["undo", "--yes"]));
    let trails = acct
        .cloudtrail(home)
        .describe_trails()
        .send()
        .await
        .unwrap();
    assert!(trails.trail_list().is_empty(), "{trails:?}");
    assert!(
        !role("team-trail-logs").await,
        "the created delivery role is removed"
    );
}

#[test]
fn a_bad_role_name_is_one_line_before_any_call() {
    let out = crate::harness::run(
        crate::harness::base_command(),
        &["plan", "-c", "3.7", "--set", "flow_log_role_name=bad/name"],
    );
    out.assert_one_line_error(1, "flow_log_role_name");
}

/// A trail creation that fails at CreateTrail (here: denied, through the fault-injecting
/// proxy) leaves no orphan: the bucket, log group and role the attempt made are removed
/// again, and the error says so.
#[tokio::test]
async fn a_failed_trail_creation_leaves_no_orphans() {
    use crate::proxy::{self, Fault, FaultRule};
    let acct = TestAccount::new().await;
    let p = proxy::start(&crate::harness::endpoint());
    p.inject(FaultRule::new(
        "CreateTrail",
        None,
        Fault::AccessDenied,
        None,
    ));
    let out = acct.run_via(&p.url, &["apply", "--yes", "-c", "3.1"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("removed what this attempt had created"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let home = crate::harness::REGION;
    let buckets = acct.s3(home).list_buckets().send().await.unwrap();
    assert!(
        !buckets
            .buckets()
            .iter()
            .any(|b| b.name().unwrap_or("").starts_with("cis-fix-cloudtrail-")),
        "{buckets:?}"
    );
    assert!(acct
        .iam()
        .get_role()
        .role_name("cis-fix-cloudtrail-logs")
        .send()
        .await
        .is_err());
    let groups = acct
        .logs(home)
        .describe_log_groups()
        .log_group_name_prefix("cis-fix-cloudtrail")
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty(), "{groups:?}");
}

/// Prowler's `s3_bucket_secure_transport_policy`: a Deny whose Action has `s3:*`, `*` or
/// `s3:PutObject` and whose `Condition.Bool."aws:SecureTransport"` equals the string "false".
fn prowler_s3_tls(policy: &serde_json::Value) -> bool {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let actions: Vec<&str> = match &s["Action"] {
                serde_json::Value::String(a) => vec![a.as_str()],
                serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                _ => vec![],
            };
            s["Effect"] == "Deny"
                && actions
                    .iter()
                    .any(|a| ["s3:PutObject", "*", "s3:*"].contains(a))
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        })
}

/// Steampipe's `s3_bucket_enforces_ssl`: a Deny for principal `*` (`"*"` or `{"AWS": "*"}`)
/// with a `Bool` condition `aws:securetransport` (any case) that is false.
fn steampipe_s3_tls(policy: &serde_json::Value) -> bool {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let everyone = s["Principal"] == "*"
                || s["Principal"]["AWS"] == "*"
                || s["Principal"]["AWS"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|p| p == "*"));
            let tls = s["Condition"]["Bool"].as_object().is_some_and(|m| {
                m.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("aws:securetransport")
                        && (v == "false"
                            || v == false
                            || v.as_array()
                                .is_some_and(|a| a.iter().any(|x| x == "false" || x == false)))
                })
            });
            s["Effect"] == "Deny" && everyone && tls
        })
}

/// A bucket whose only TLS deny uses a form IAM accepts but Prowler does not read (the JSON
/// boolean) gets cis-fix's statement; afterwards both checkers pass it.
#[tokio::test]
async fn a_tls_deny_every_checker_reads_is_added() {
    let acct = TestAccount::new().await;
    let region = crate::harness::REGION;
    let bucket = acct.create_bucket(region, "tls-bool").await;
    let arn = format!("arn:aws:s3:::{bucket}");
    let own = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": false}}}]
    });
    acct.s3(region)
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(own.to_string())
        .send()
        .await
        .unwrap();
    let read = || async {
        let p = acct
            .s3(region)
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        serde_json::from_str::<serde_json::Value>(p.policy().unwrap()).unwrap()
    };
    assert!(
        !prowler_s3_tls(&read().await),
        "the boolean form fails Prowler"
    );
    let sel = ["--control", "s3-deny-http"];
    ok(acct.run(&[&["apply", "--yes", "--allow-destructive"][..], &sel[..]].concat()));
    let now = read().await;
    assert!(prowler_s3_tls(&now), "Prowler: {now}");
    assert!(steampipe_s3_tls(&now), "Steampipe: {now}");
    assert_eq!(
        now["Statement"][0], own["Statement"][0],
        "the bucket's own deny is kept"
    );
}

/// A single-region, logging trail homed in `region`, named `name`.
async fn seed_single_region_trail(acct: &TestAccount, region: &str, name: &str) {
    let bucket = acct.create_bucket(region, "single-trail").await;
    let ct = acct.cloudtrail(region);
    ct.create_trail()
        .name(name)
        .s3_bucket_name(&bucket)
        .is_multi_region_trail(false)
        .include_global_service_events(false)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(name).send().await.unwrap();
}

async fn trail_settings(acct: &TestAccount, region: &str, name: &str) -> (bool, bool) {
    let t = acct
        .cloudtrail(region)
        .get_trail()
        .name(name)
        .send()
        .await
        .unwrap()
        .trail
        .unwrap();
    (
        t.is_multi_region_trail().unwrap_or(false),
        t.log_file_validation_enabled().unwrap_or(false),
    )
}

/// A single-region trail is listed only in its own region. Prowler, Security Hub
/// (CloudTrail.1, CloudTrail.4) and Steampipe judge every trail of every region, so cis-fix
/// reads the trails in every region the run covers (one DescribeTrails each): a trail homed
/// outside the run's home region (eu-west-1 here) is upgraded in place by 3.1 instead of a
/// second trail being created, and 3.2 turns its validation on; undo finds it again.
#[tokio::test]
async fn a_single_region_trail_outside_the_home_region_is_seen() {
    use crate::harness::{plan_item, plan_json};
    let acct = TestAccount::new().await;
    let elsewhere = "us-east-1";
    seed_single_region_trail(&acct, elsewhere, "team-us").await;
    let regions = format!("{},{elsewhere}", crate::harness::REGION);
    let sel = ["-c", "3.1", "-c", "3.2", "--regions", regions.as_str()];
    let doc = plan_json(&ok(
        acct.run(&[&["plan", "--format", "json"][..], &sel[..]].concat())
    ));
    let multi = plan_item(&doc, "cloudtrail-multi-region");
    assert_eq!(multi["action"], "update", "{multi}");
    assert!(
        multi["summary"]
            .as_str()
            .unwrap()
            .contains("single-region trail team-us (us-east-1) is upgraded"),
        "{multi}"
    );
    let validation = plan_item(&doc, "cloudtrail-log-validation");
    assert_eq!(
        validation["target"], "log file validation of trail team-us (us-east-1)",
        "{validation}"
    );

    // 3.2 alone, then undone: the trail is still single-region, so undo must read us-east-1.
    ok(acct.run(&["apply", "--yes", "-c", "3.2", "--regions", regions.as_str()]));
    assert_eq!(
        trail_settings(&acct, elsewhere, "team-us").await,
        (false, true)
    );
    ok(acct.run(&["undo", "--yes"]));
    assert_eq!(
        trail_settings(&acct, elsewhere, "team-us").await,
        (false, false)
    );

    // 3.1 upgrades it in place: no second trail anywhere.
    ok(acct.run(&[&["apply", "--yes"][..], &sel[..]].concat()));
    assert_eq!(
        trail_settings(&acct, elsewhere, "team-us").await,
        (true, true)
    );
    for region in [crate::harness::REGION, elsewhere] {
        let listed = acct
            .cloudtrail(region)
            .describe_trails()
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = listed
            .trail_list()
            .iter()
            .filter_map(|t| t.name())
            .collect();
        assert_eq!(names, ["team-us"], "{region}");
    }
    ok(acct.run(&["undo", "--yes"]));
    assert_eq!(
        trail_settings(&acct, elsewhere, "team-us").await,
        (false, false)
    );
}

/// The selectors a plan item's `after` shows, in the JSON shape cis-fix records.
fn planned_selectors(item: &serde_json::Value) -> Vec<serde_json::Value> {
    item["after"]["EventSelectors"]
        .as_array()
        .unwrap_or_else(|| panic!("no basic selectors after: {item}"))
        .clone()
}

/// A selector as read back, in the JSON shape cis-fix records.
fn selector_json(s: &EventSelector) -> serde_json::Value {
    serde_json::json!({
        "ReadWriteType": s.read_write_type().map(|t| t.as_str()).unwrap_or("All"),
        "IncludeManagementEvents": s.include_management_events().unwrap_or(true),
        "DataResources": s.data_resources().iter().map(|d| serde_json::json!({
            "Type": d.r#type(), "Values": d.values(),
        })).collect::<Vec<_>>(),
        "ExcludeManagementEventSources": s.exclude_management_event_sources(),
    })
}

/// With 3.8 and 3.9 in one plan, the plan shows what apply writes: 3.9's change is planned
/// onto 3.8's, so its `after` is the one `ReadWriteType: All` selector (not a WriteOnly plus a
/// ReadOnly one), and a saved plan applied as it reads leaves exactly those selectors.
#[tokio::test]
async fn the_plan_shows_the_one_all_selector_apply_writes_for_3_8_and_3_9() {
    use crate::harness::{plan_item, plan_json};
    let acct = TestAccount::new().await;
    let home = crate::harness::REGION;
    seed_trail(&acct, home).await;
    let sel = ["-c", "3.8", "-c", "3.9", "--regions", home];
    let doc = plan_json(&ok(
        acct.run(&[&["plan", "--format", "json"][..], &sel[..]].concat())
    ));
    let read = planned_selectors(plan_item(&doc, "s3-object-read-logging"));
    let s3: Vec<&serde_json::Value> = read
        .iter()
        .filter(|s| s["DataResources"].as_array().is_some_and(|d| !d.is_empty()))
        .collect();
    assert_eq!(s3.len(), 1, "one S3 selector planned: {read:?}");
    assert_eq!(s3[0]["ReadWriteType"], "All", "{read:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let f = file.to_str().unwrap();
    ok(acct.run(&[&["plan", "-o", f][..], &sel[..]].concat()));
    ok(acct.run(&["apply", "--yes", f]));
    let written: Vec<serde_json::Value> = selectors(&acct, home)
        .await
        .iter()
        .map(selector_json)
        .collect();
    assert_eq!(written, read, "apply wrote what the plan showed");
}

/// Seed, with boto3 from the emulator's virtualenv (the test binary has no ELBv2 or
/// CloudFront SDK crate; adding them would change Cargo.lock for one fixture), either an
/// Application Load Balancer in `region` whose HTTPS listener serves certificate ARN `cert`
/// (`what` = "lb"), or a CloudFront distribution serving IAM certificate id `cert` ("cdn").
fn seed_certificate_user(acct: &TestAccount, what: &str, region: &str, cert: &str) {
    const SCRIPT: &str = r#"
import os, boto3
ep, cert = os.environ["EP"], os.environ["CERT"]
s = boto3.Session(region_name=os.environ["REGION"])
if os.environ["WHAT"] == "lb":
    ec2 = s.client("ec2", endpoint_url=ep)
    subnets = [x["SubnetId"] for x in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]][:2]
    elb = s.client("elbv2", endpoint_url=ep)
    lb = elb.create_load_balancer(Name="web", Subnets=subnets, Type="application")
    elb.create_listener(
        LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"], Protocol="HTTPS", Port=443,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}])
else:
    cf = s.client("cloudfront", endpoint_url=ep)
    cf.create_distribution(DistributionConfig={
        "CallerReference": "cis-fix-test", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "example.com",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https"},
        "ViewerCertificate": {"IAMCertificateId": cert, "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021"}})
"#;
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let out = std::process::Command::new(python)
        .args(["-c", SCRIPT])
        .env("EP", crate::harness::endpoint())
        .env("REGION", region)
        .env("WHAT", what)
        .env("CERT", cert)
        .env("AWS_ACCESS_KEY_ID", acct.creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", acct.creds.secret_access_key())
        .env(
            "AWS_SESSION_TOKEN",
            acct.creds.session_token().unwrap_or_default(),
        )
        .output()
        .expect("run the emulator's python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn upload_expired_cert(
    acct: &TestAccount,
    name: &str,
) -> aws_sdk_iam::types::ServerCertificateMetadata {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures");
    let body = std::fs::read_to_string(format!("{dir}/expired-server-cert.pem")).unwrap();
    let key = std::fs::read_to_string(format!("{dir}/expired-server-cert.key")).unwrap();
    acct.iam()
        .upload_server_certificate()
        .server_certificate_name(name)
        .certificate_body(body)
        .private_key(key)
        .send()
        .await
        .unwrap()
        .server_certificate_metadata
        .unwrap()
}

/// 1.18 deletes an expired certificate only when nothing uses it: one used by an ELBv2
/// listener (in a region other than the home region) or a CloudFront distribution is its own
/// change, naming the user as in use, and `--yes --allow-irreversible` leaves it alone (it
/// needs `--force-in-use`). moto reports every uploaded server certificate as expired (2012);
/// the fixture also is a real certificate that expired on 2021-01-01. moto gives every server
/// certificate the same id (`ASCACKCEVSQ6C2EXAMPLE`), so once a distribution uses one, every
/// certificate looks used by it: the CloudFront case comes last.
#[tokio::test]
async fn an_expired_certificate_in_use_is_named_and_not_deleted_under_yes() {
    use crate::harness::plan_json;
    let acct = TestAccount::new().await;
    upload_expired_cert(&acct, "old-web").await;
    let lb_cert = upload_expired_cert(&acct, "lb-web").await;
    let elsewhere = "us-east-1";
    seed_certificate_user(&acct, "lb", elsewhere, lb_cert.arn());
    let certs = || async {
        let mut v: Vec<String> = acct
            .iam()
            .list_server_certificates()
            .send()
            .await
            .unwrap()
            .server_certificate_metadata_list()
            .iter()
            .map(|m| m.server_certificate_name().to_string())
            .collect();
        v.sort();
        v
    };
    let regions = format!("{},{elsewhere}", crate::harness::REGION);
    let sel = ["-c", "1.18", "--regions", regions.as_str()];
    let plan = || {
        plan_json(&ok(
            acct.run(&[&["plan", "--format", "json"][..], &sel[..]].concat())
        ))
    };
    let item = |doc: &serde_json::Value, t: &str| {
        doc["plan"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["target"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("no item {t}: {doc}"))
    };
    let doc = plan();
    assert_eq!(doc["plan"]["items"].as_array().unwrap().len(), 2, "{doc}");
    let unused = item(&doc, "IAM server certificates");
    assert_eq!(
        unused["before"]["expired"],
        serde_json::json!([{"name": "old-web", "expiration": unused["before"]["expired"][0]["expiration"]}])
    );
    assert!(unused["in_use"].is_null(), "{unused}");
    let lb = item(&doc, "IAM server certificate lb-web");
    assert_eq!(
        lb["in_use"],
        serde_json::json!(["load balancer web listener port 443 (us-east-1)"]),
        "{lb}"
    );

    // --yes with --allow-irreversible deletes the unused one only; the one in use is skipped
    // (a refusal: exit 4), naming the flag it needs.
    let out = acct.run(&[&["apply", "--yes", "--allow-irreversible"][..], &sel[..]].concat());
    assert_eq!(out.code, 4, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("skipped 1.18 expired-server-certificates on IAM server certificate lb-web")
            && out.stdout.contains("--force-in-use"),
        "{}",
        out.stdout
    );
    assert_eq!(certs().await, ["lb-web"]);

    let cdn_cert = upload_expired_cert(&acct, "cdn-web").await;
    seed_certificate_user(&acct, "cdn", elsewhere, cdn_cert.server_certificate_id());
    let cdn = item(&plan(), "IAM server certificate cdn-web");
    assert!(
        cdn["in_use"][0]
            .as_str()
            .unwrap()
            .starts_with("CloudFront distribution "),
        "{cdn}"
    );
}
