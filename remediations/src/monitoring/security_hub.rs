//! CIS v5.0 4.16 (v7.0 5.16): Security Hub is enabled in every selected region, subscribed
//! to the CIS standard of the plan's benchmark version.
//!
//! Security Hub offers CIS 1.2.0, 1.4.0, 3.0.0 and 5.0.0 only; for 6.0 and 7.0 cis-fix
//! subscribes 5.0.0 (the newest, and AWS's recommendation) and says so. Existing
//! subscriptions (other standards, other CIS versions) are left alone. Default standards are
//! not enabled: which standards to run (and pay for) is the account owner's choice.

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError};
use crate::catalog::Benchmark;
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding};

pub struct SecurityHub;

const DESCRIPTION: Description = Description {
    slug: "security-hub-enabled",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[
            "securityhub:DescribeHub",
            "securityhub:GetEnabledStandards",
            "config:DescribeConfigurationRecorderStatus",
        ],
    write_actions: &[
            "securityhub:EnableSecurityHub",
            "securityhub:BatchEnableStandards",
            "securityhub:DisableSecurityHub",
            "securityhub:BatchDisableStandards",
        ],
    change_profile: "low (additive; has a cost per check); reversible per region: undo disables Security Hub if cis-fix enabled it, or unsubscribes the CIS standard it added",
};

const TARGET: &str = "Security Hub";
const CIS_PREFIX: &str = "cis-aws-foundations-benchmark/v/";

/// The Security Hub CIS standard for `b`: (version it offers, standards ARN).
pub fn cis_standard(b: Benchmark, partition: &str, region: &str) -> (&'static str, String) {
    let v = match b {
        Benchmark::V1_2 => "1.2.0",
        Benchmark::V1_4 => "1.4.0",
        Benchmark::V3_0 => "3.0.0",
        Benchmark::V5_0 | Benchmark::V6_0 | Benchmark::V7_0 => "5.0.0",
    };
    let arn = if v == "1.2.0" {
        format!("arn:{partition}:securityhub:::ruleset/{CIS_PREFIX}{v}")
    } else {
        format!("arn:{partition}:securityhub:{region}::standards/{CIS_PREFIX}{v}")
    };
    (v, arn)
}

/// A CIS subscription as `before` records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Sub {
    standards_arn: String,
    subscription_arn: String,
}

/// What the region shows.
struct State {
    enabled: bool,
    /// The CIS subscriptions; `Err(why)` when the standards API could not be read.
    subs: Result<Vec<Sub>, String>,
    /// Whether AWS Config records in the region (`None`: could not tell).
    config_recording: Option<bool>,
}

impl State {
    fn before(&self) -> Value {
        json!({
            "HubEnabled": self.enabled,
            "CisSubscriptions": match &self.subs {
                Ok(s) => json!(s.iter().map(|s| json!({
                    "StandardsArn": s.standards_arn,
                    "StandardsSubscriptionArn": s.subscription_arn,
                })).collect::<Vec<_>>()),
                Err(_) => Value::Null,
            },
        })
    }
}

/// An error that is not an AWS answer at all (the emulator's HTML 404/500 for an API it
/// lacks): the API is unavailable at this endpoint.
fn unavailable(e: &AwsError) -> bool {
    e.code.is_none() && e.kind == crate::aws::ErrorKind::Service
}

fn not_enabled(e: &AwsError) -> bool {
    e.is_code("InvalidAccessException") || e.is_code("ResourceNotFoundException")
}

async fn read(cx: &Cx<'_>, region: &str) -> Result<State, AwsError> {
    let sh = cx.aws.securityhub(region);
    let enabled = match sh.describe_hub().send().await {
        Ok(_) => true,
        Err(e) => {
            let e = AwsError::from_sdk("securityhub:DescribeHub", e);
            if !not_enabled(&e) {
                return Err(e);
            }
            false
        }
    };
    let mut subs = Vec::new();
    let mut pages = sh.get_enabled_standards().into_paginator().send();
    let subs = loop {
        match pages.next().await {
            None => break Ok(subs),
            Some(Ok(page)) => {
                for s in page.standards_subscriptions() {
                    let arn = s.standards_arn().unwrap_or_default();
                    let deleting = s.standards_status().is_some_and(|st| {
                        *st == aws_sdk_securityhub::types::StandardsStatus::Deleting
                    });
                    if arn.contains(CIS_PREFIX) && !deleting {
                        subs.push(Sub {
                            standards_arn: arn.to_string(),
                            subscription_arn: s
                                .standards_subscription_arn()
                                .unwrap_or_default()
                                .to_string(),
                        });
                    }
                }
            }
            Some(Err(e)) => {
                let e = AwsError::from_sdk("securityhub:GetEnabledStandards", e);
                // Before the hub is enabled AWS refuses the read: nothing is subscribed.
                if !enabled && not_enabled(&e) {
                    break Ok(Vec::new());
                }
                if unavailable(&e) {
                    break Err(e.to_string());
                }
                return Err(e);
            }
        }
    };
    let subs = subs.map(|mut s| {
        s.sort();
        s
    });
    let config_recording = match cx
        .aws
        .config(region)
        .describe_configuration_recorder_status()
        .send()
        .await
    {
        Ok(out) => Some(
            out.configuration_recorders_status()
                .iter()
                .any(|s| s.recording()),
        ),
        Err(e) => {
            tracing::debug!(region, error = %AwsError::from_sdk("config:DescribeConfigurationRecorderStatus", e), "config status unreadable");
            None
        }
    };
    Ok(State {
        enabled,
        subs,
        config_recording,
    })
}

fn finding(cx: &Cx<'_>, region: &str, st: &State) -> Finding {
    let bench = cx.params.benchmark();
    let (version, want) = cis_standard(bench, &cx.aws.account.partition, region);
    let before = st.before();
    let mut notes = Vec::new();
    if bench.key() != &version[..3] {
        notes.push(format!(
            "Security Hub has no CIS v{} standard (it offers 1.2.0, 1.4.0, 3.0.0 and 5.0.0); cis-fix subscribes CIS v5.0.0, the newest it offers.",
            bench.key()
        ));
    }
    match st.config_recording {
        Some(true) => {}
        Some(false) => notes.push(format!(
            "AWS Config is not recording in {region}: Security Hub's checks need it (CIS 3.3, config-all-regions)."
        )),
        None => notes.push(format!(
            "Could not read whether AWS Config records in {region}; Security Hub's checks need it (CIS 3.3)."
        )),
    }
    let subscribed = st
        .subs
        .as_ref()
        .map(|s| s.iter().any(|s| s.standards_arn == want));
    let enable_call = ApiCall::new(
        "securityhub:EnableSecurityHub",
        json!({ "EnableDefaultStandards": false }),
    );
    let subscribe_call = ApiCall::new(
        "securityhub:BatchEnableStandards",
        json!({ "StandardsSubscriptionRequests": [{ "StandardsArn": want }] }),
    );
    let after_subs = |extra: bool| {
        let mut v = before["CisSubscriptions"].clone();
        if let (true, Some(a)) = (extra, v.as_array_mut()) {
            a.push(json!({ "StandardsArn": want }));
        }
        v
    };
    let mut f = match (st.enabled, subscribed) {
        (true, Ok(true)) => Finding::compliant(
            TARGET,
            format!("Security Hub is enabled and subscribed to CIS v{version}"),
            before,
        ),
        (true, Err(why)) => {
            let mut f = Finding::compliant(
                TARGET,
                "Security Hub is enabled (its standards subscriptions could not be read)",
                before,
            );
            f.notes.push(format!(
                "Could not read the standards subscriptions ({why}); check by hand that CIS v{version} ({want}) is subscribed."
            ));
            f
        }
        (true, Ok(false)) => Finding::change(
            TARGET,
            format!("Security Hub is enabled but not subscribed to CIS v{version}; subscribes it"),
            Action::Update,
            before.clone(),
            json!({ "HubEnabled": true, "CisSubscriptions": after_subs(true) }),
            vec![subscribe_call],
        ),
        (false, Ok(_)) => Finding::change(
            TARGET,
            format!("Security Hub is not enabled; enables it and subscribes CIS v{version}"),
            Action::Create,
            before.clone(),
            json!({ "HubEnabled": true, "CisSubscriptions": after_subs(true) }),
            vec![enable_call, subscribe_call],
        ),
        (false, Err(why)) => {
            let mut f = Finding::change(
                TARGET,
                "Security Hub is not enabled; enables it",
                Action::Create,
                before.clone(),
                json!({ "HubEnabled": true, "CisSubscriptions": Value::Null }),
                vec![enable_call],
            );
            f.notes.push(format!(
                "The standards API does not answer at this endpoint ({why}); CIS v{version} is not subscribed. Subscribe {want} by hand."
            ));
            f
        }
    };
    if f.status == crate::plan::Status::Change {
        f.notes.push(
            "Cost: Security Hub bills per security check and finding ingested; the CIS standard adds checks. Default standards are not enabled."
                .to_string(),
        );
    }
    f.notes.extend(notes);
    f
}

#[async_trait]
impl Control for SecurityHub {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let st = read(cx, region).await?;
        Ok(vec![finding(cx, region, &st)])
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, _f: &Finding) -> Result<(), AwsError> {
        let region = region_of(region)?;
        let st = read(cx, region).await?;
        let (_, want) = cis_standard(cx.params.benchmark(), &cx.aws.account.partition, region);
        let sh = cx.aws.securityhub(region);
        if !st.enabled {
            sh.enable_security_hub()
                .enable_default_standards(false)
                .send()
                .await
                .map_err(aws_err("securityhub:EnableSecurityHub"))?;
        }
        if let Ok(subs) = &st.subs {
            if !subs.iter().any(|s| s.standards_arn == want) {
                sh.batch_enable_standards()
                    .standards_subscription_requests(
                        aws_sdk_securityhub::types::StandardsSubscriptionRequest::builder()
                            .standards_arn(&want)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(aws_err("securityhub:BatchEnableStandards"))?;
            }
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
        let region = region_of(region)?;
        let sh = cx.aws.securityhub(region);
        if previous["HubEnabled"] == json!(false) {
            // Disabling the hub also ends every subscription cis-fix added.
            match sh.disable_security_hub().send().await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    let e = AwsError::from_sdk("securityhub:DisableSecurityHub", e);
                    if not_enabled(&e) {
                        return Ok(());
                    }
                    return Err(e);
                }
            }
        }
        let st = read(cx, region).await?;
        let (Ok(now), Some(prev)) = (&st.subs, previous["CisSubscriptions"].as_array()) else {
            return Ok(());
        };
        let added: Vec<String> = now
            .iter()
            .filter(|s| {
                !prev
                    .iter()
                    .any(|p| p["StandardsArn"] == s.standards_arn.as_str())
            })
            .map(|s| s.subscription_arn.clone())
            .collect();
        if !added.is_empty() {
            sh.batch_disable_standards()
                .set_standards_subscription_arns(Some(added))
                .send()
                .await
                .map_err(aws_err("securityhub:BatchDisableStandards"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsContext;
    use crate::plan::Status;
    use crate::{params::Params, resources::Reads};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_runtime_api::shared::IntoShared;
    use aws_smithy_types::body::SdkBody;

    const ACCOUNT: &str = "111122223333";
    const REGION: &str = "eu-west-1";

    fn event(status: u16, body: &str) -> ReplayEvent {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://securityhub.eu-west-1.amazonaws.com/")
            .unwrap();
        let mut resp =
            HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        resp.headers_mut()
            .insert("content-type", "application/json");
        ReplayEvent::new(req, resp)
    }

    fn hub_on() -> ReplayEvent {
        event(
            200,
            r#"{"HubArn":"arn:aws:securityhub:eu-west-1:111122223333:hub/default","SubscribedAt":"2024-01-01T00:00:00.000Z","AutoEnableControls":true}"#,
        )
    }

    fn hub_off() -> ReplayEvent {
        event(
            401,
            r#"{"__type":"InvalidAccessException","Code":"InvalidAccessException","Message":"Account 111122223333 is not subscribed to AWS Security Hub"}"#,
        )
    }

    fn standards(versions: &[&str]) -> ReplayEvent {
        let subs: Vec<String> = versions
            .iter()
            .map(|v| {
                format!(
                    r#"{{"StandardsSubscriptionArn":"arn:aws:securityhub:eu-west-1:111122223333:subscription/cis-aws-foundations-benchmark/v/{v}","StandardsArn":"arn:aws:securityhub:eu-west-1::standards/cis-aws-foundations-benchmark/v/{v}","StandardsInput":{{}},"StandardsStatus":"READY"}}"#
                )
            })
            .collect();
        event(
            200,
            &format!(r#"{{"StandardsSubscriptions":[{}]}}"#, subs.join(",")),
        )
    }

    fn recording(on: bool) -> ReplayEvent {
        event(
            200,
            &format!(
                r#"{{"ConfigurationRecordersStatus":[{{"name":"default","recording":{on}}}]}}"#
            ),
        )
    }

    fn params(b: Benchmark) -> Params {
        Params {
            benchmark: Some(b),
            ..Params::default()
        }
    }

    async fn plan_with(events: Vec<ReplayEvent>, b: Benchmark) -> (Finding, StaticReplayClient) {
        let http = StaticReplayClient::new(events);
        let aws = AwsContext::for_replay(http.clone().into_shared(), ACCOUNT, REGION);
        let reads = Reads::default();
        let p = params(b);
        let cx = Cx {
            aws: &aws,
            reads: &reads,
            params: &p,
        };
        let f = SecurityHub.plan(&cx, Some(REGION)).await.unwrap().remove(0);
        (f, http)
    }

    #[test]
    fn standard_arns_per_benchmark() {
        assert_eq!(
            cis_standard(Benchmark::V1_2, "aws", REGION).1,
            "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0"
        );
        assert_eq!(
            cis_standard(Benchmark::V3_0, "aws-us-gov", "us-gov-west-1").1,
            "arn:aws-us-gov:securityhub:us-gov-west-1::standards/cis-aws-foundations-benchmark/v/3.0.0"
        );
        assert_eq!(cis_standard(Benchmark::V7_0, "aws", REGION).0, "5.0.0");
    }

    #[tokio::test]
    async fn enabled_hub_with_another_cis_version_gets_the_plans_one_added() {
        let (f, http) = plan_with(
            vec![hub_on(), standards(&["1.4.0"]), recording(true)],
            Benchmark::V3_0,
        )
        .await;
        assert_eq!(f.status, Status::Change, "{f:?}");
        assert_eq!(f.action, Some(Action::Update));
        assert_eq!(f.calls.len(), 1);
        assert_eq!(f.calls[0].action, "securityhub:BatchEnableStandards");
        assert_eq!(
            f.calls[0].params["StandardsSubscriptionRequests"][0]["StandardsArn"],
            "arn:aws:securityhub:eu-west-1::standards/cis-aws-foundations-benchmark/v/3.0.0"
        );
        // The 1.4.0 subscription is recorded and left alone.
        assert_eq!(f.before["CisSubscriptions"].as_array().unwrap().len(), 1);
        assert_eq!(f.after["CisSubscriptions"].as_array().unwrap().len(), 2);
        assert!(
            !f.notes.iter().any(|n| n.contains("Config")),
            "{:?}",
            f.notes
        );
        let uris: Vec<String> = http
            .actual_requests()
            .map(|r| r.uri().to_string())
            .collect();
        assert!(uris[1].contains("/standards/get"), "{uris:?}");
    }

    #[tokio::test]
    async fn disabled_hub_for_v7_enables_and_subscribes_v5_and_warns_about_config() {
        let (f, _) = plan_with(
            vec![hub_off(), hub_off(), recording(false)],
            Benchmark::V7_0,
        )
        .await;
        assert_eq!(f.status, Status::Change, "{f:?}");
        assert_eq!(f.action, Some(Action::Create));
        let calls: Vec<&str> = f.calls.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(
            calls,
            [
                "securityhub:EnableSecurityHub",
                "securityhub:BatchEnableStandards"
            ]
        );
        assert_eq!(f.calls[0].params["EnableDefaultStandards"], false);
        assert!(f.calls[1].params.to_string().contains("v/5.0.0"));
        assert!(
            f.notes.iter().any(|n| n.contains("no CIS v7.0 standard")),
            "{:?}",
            f.notes
        );
        assert!(
            f.notes
                .iter()
                .any(|n| n.contains("AWS Config is not recording")),
            "{:?}",
            f.notes
        );
        assert_eq!(
            f.before,
            json!({ "HubEnabled": false, "CisSubscriptions": [] })
        );
    }

    #[tokio::test]
    async fn subscribed_is_compliant_and_unreadable_standards_are_a_note() {
        let (f, _) = plan_with(
            vec![hub_on(), standards(&["5.0.0", "1.4.0"]), recording(true)],
            Benchmark::V5_0,
        )
        .await;
        assert_eq!(f.status, Status::Compliant, "{f:?}");
        // What the emulator answers for the standards API (no route: HTML 404).
        let (f, _) = plan_with(
            vec![
                hub_on(),
                event(404, "<!DOCTYPE html><title>404 Not Found</title>"),
                recording(true),
            ],
            Benchmark::V5_0,
        )
        .await;
        assert_eq!(f.status, Status::Compliant, "{f:?}");
        assert!(
            f.notes[0].contains("Could not read the standards"),
            "{:?}",
            f.notes
        );
        assert_eq!(f.before["CisSubscriptions"], Value::Null);
    }

    #[tokio::test]
    async fn apply_subscribes_and_undo_unsubscribes_only_what_it_added() {
        let http = StaticReplayClient::new(vec![
            // apply: re-read, then subscribe
            hub_on(),
            standards(&["1.4.0"]),
            recording(true),
            event(
                200,
                r#"{"StandardsSubscriptions":[{"StandardsSubscriptionArn":"arn:aws:securityhub:eu-west-1:111122223333:subscription/cis-aws-foundations-benchmark/v/5.0.0","StandardsArn":"arn:aws:securityhub:eu-west-1::standards/cis-aws-foundations-benchmark/v/5.0.0","StandardsInput":{},"StandardsStatus":"PENDING"}]}"#,
            ),
            // undo: re-read, then unsubscribe 5.0.0 only
            hub_on(),
            standards(&["1.4.0", "5.0.0"]),
            recording(true),
            event(200, r#"{"StandardsSubscriptions":[]}"#),
        ]);
        let aws = AwsContext::for_replay(http.clone().into_shared(), ACCOUNT, REGION);
        let p = params(Benchmark::V5_0);
        let reads = Reads::default();
        let cx = Cx {
            aws: &aws,
            reads: &reads,
            params: &p,
        };
        let dummy = Finding::unknown(TARGET, "");
        SecurityHub.apply(&cx, Some(REGION), &dummy).await.unwrap();
        let previous = json!({
            "HubEnabled": true,
            "CisSubscriptions": [{
                "StandardsArn": "arn:aws:securityhub:eu-west-1::standards/cis-aws-foundations-benchmark/v/1.4.0",
                "StandardsSubscriptionArn": "arn:aws:securityhub:eu-west-1:111122223333:subscription/cis-aws-foundations-benchmark/v/1.4.0",
            }],
        });
        SecurityHub
            .undo(&cx, Some(REGION), TARGET, &previous)
            .await
            .unwrap();
        let reqs: Vec<_> = http.actual_requests().collect();
        assert_eq!(reqs.len(), 8);
        let body = |i: usize| String::from_utf8_lossy(reqs[i].body().bytes().unwrap()).into_owned();
        assert!(reqs[3].uri().to_string().contains("/standards/register"));
        assert!(
            body(3).contains("standards/cis-aws-foundations-benchmark/v/5.0.0"),
            "{}",
            body(3)
        );
        assert!(reqs[7].uri().to_string().contains("/standards/deregister"));
        assert!(
            body(7).contains("subscription/cis-aws-foundations-benchmark/v/5.0.0"),
            "{}",
            body(7)
        );
        assert!(!body(7).contains("1.4.0"), "{}", body(7));
    }
}
