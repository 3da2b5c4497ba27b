//! CIS 5.0 1.19: IAM Access Analyzer (external access) is enabled in every selected region:
//! an ACCOUNT or ORGANIZATION analyzer that is active. Where there is none, cis-fix creates
//! an account analyzer named `cis-fix-analyzer`; undo deletes it.
//!
//! The test emulator (moto 5.2.5) has no Access Analyzer: it answers HTTP 500 with an HTML
//! page. Such an answer makes the region's finding `unknown` instead of failing the plan,
//! and the plan/apply/undo logic is unit-tested with the SDK's StaticReplayClient below.

use async_trait::async_trait;
use aws_sdk_accessanalyzer::types::{AnalyzerStatus, AnalyzerSummary, Type};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk};

pub struct AccessAnalyzer;

const DESCRIPTION: Description = Description {
    slug: "access-analyzer-all-regions",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &[LIST],
    write_actions: &[CREATE, DELETE, "iam:CreateServiceLinkedRole"],
    change_profile: "low (adds a read-only analyzer; no access changes); reversible per region: undo deletes the analyzer cis-fix created",
};

const TARGET: &str = "IAM Access Analyzer (external access)";
const ANALYZER_NAME: &str = "cis-fix-analyzer";
const LIST: &str = "access-analyzer:ListAnalyzers";
const CREATE: &str = "access-analyzer:CreateAnalyzer";
const DELETE: &str = "access-analyzer:DeleteAnalyzer";

/// External-access analyzers (ACCOUNT or ORGANIZATION), as "name (TYPE)", sorted. Status is
/// left out of the state: it moves from CREATING to ACTIVE on its own.
fn external(list: &[AnalyzerSummary]) -> Vec<&AnalyzerSummary> {
    let mut v: Vec<&AnalyzerSummary> = list
        .iter()
        .filter(|a| matches!(a.r#type(), Type::Account | Type::Organization))
        .collect();
    v.sort_by(|a, b| a.name().cmp(b.name()));
    v
}

/// The region's finding from its analyzers. Pure.
fn finding(list: &[AnalyzerSummary]) -> Finding {
    let ext = external(list);
    let names: Vec<String> = ext
        .iter()
        .map(|a| format!("{} ({})", a.name(), a.r#type().as_str()))
        .collect();
    let before = json!({ "analyzers": names });
    // CREATING counts: a just-created analyzer is on its way to ACTIVE.
    let working: Vec<&&AnalyzerSummary> = ext
        .iter()
        .filter(|a| {
            matches!(
                a.status(),
                AnalyzerStatus::Active | AnalyzerStatus::Creating
            )
        })
        .collect();
    if let Some(a) = working.first() {
        return Finding::compliant(
            TARGET,
            format!(
                "analyzer {} ({}, {}) covers this region",
                a.name(),
                a.r#type().as_str(),
                a.status().as_str()
            ),
            before,
        );
    }
    let why = if ext.is_empty() {
        "no external-access analyzer in this region".to_string()
    } else {
        format!(
            "no active external-access analyzer (found {})",
            ext.iter()
                .map(|a| format!("{} {}", a.name(), a.status().as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut after_names = names.clone();
    after_names.push(format!("{ANALYZER_NAME} (ACCOUNT)"));
    after_names.sort();
    Finding::change(
        TARGET,
        format!("{why}: create account analyzer {ANALYZER_NAME}"),
        Action::Create,
        before,
        json!({ "analyzers": after_names }),
        vec![ApiCall::new(
            CREATE,
            json!({ "analyzerName": ANALYZER_NAME, "type": "ACCOUNT" }),
        )],
    )
    .with_risk(Risk::Low)
    .with_note("Read-only: the analyzer reports resources shared outside the account; it changes no access. An organization analyzer needs the management or delegated-administrator account.")
}

/// Whether a failed call means the API is not there (the emulator's 500/404 HTML), as
/// opposed to a refusal or a real failure.
fn api_unavailable(err: &AwsError, http_status: Option<u16>) -> bool {
    err.kind == ErrorKind::Service
        && err.code.is_none()
        && http_status.is_some_and(|s| s >= 500 || s == 404)
}

/// The region's analyzers; `Ok(Err(detail))` when the API is not available.
async fn list(
    client: &aws_sdk_accessanalyzer::Client,
) -> Result<Result<Vec<AnalyzerSummary>, String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = client.list_analyzers().into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => out.extend(p.analyzers().iter().cloned()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let err = AwsError::from_sdk(LIST, e);
                if !api_unavailable(&err, status) {
                    return Err(err);
                }
                let detail = match status {
                    Some(s) => format!("{LIST} answered HTTP {s}"),
                    None => err.to_string(),
                };
                return Ok(Err(detail));
            }
        }
    }
    Ok(Ok(out))
}

async fn region_finding(client: &aws_sdk_accessanalyzer::Client) -> Result<Finding, AwsError> {
    Ok(match list(client).await? {
        Ok(l) => finding(&l),
        Err(detail) => Finding::unknown(
            TARGET,
            format!("could not read the region's analyzers ({detail}); the Access Analyzer API is not available here"),
        ),
    })
}

#[async_trait]
impl Control for AccessAnalyzer {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(vec![region_finding(&cx.aws.accessanalyzer(region)).await?])
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, _f: &Finding) -> Result<(), AwsError> {
        cx.aws
            .accessanalyzer(region_of(region)?)
            .create_analyzer()
            .analyzer_name(ANALYZER_NAME)
            .r#type(Type::Account)
            .send()
            .await
            .map_err(aws_err(CREATE))?;
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        _target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let mine = format!("{ANALYZER_NAME} (ACCOUNT)");
        let had_it = previous["analyzers"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n.as_str() == Some(mine.as_str())));
        if had_it {
            return Ok(());
        }
        match cx
            .aws
            .accessanalyzer(region_of(region)?)
            .delete_analyzer()
            .analyzer_name(ANALYZER_NAME)
            .send()
            .await
            .map_err(aws_err(DELETE))
        {
            Err(e) if e.is_code("ResourceNotFoundException") => Ok(()),
            r => r.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! moto 5.2.5 has no Access Analyzer backend, so these tests replay recorded answers
    //! with the SDK's StaticReplayClient instead of running against the emulator.
    use super::*;
    use crate::aws::AwsContext;
    use crate::plan::Status;
    use crate::{params::Params, resources::Reads};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_types::body::SdkBody;

    fn event(status: u16, body: &str) -> ReplayEvent {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://access-analyzer.eu-west-1.amazonaws.com/analyzer")
            .unwrap();
        let resp = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        ReplayEvent::new(req, resp)
    }

    fn analyzers_json(items: &[(&str, &str, &str)]) -> String {
        let list: Vec<Value> = items
            .iter()
            .map(|(name, ty, status)| {
                json!({
                    "arn": format!("arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/{name}"),
                    "name": name,
                    "type": ty,
                    "createdAt": "2023-11-14T22:13:20Z",
                    "status": status,
                })
            })
            .collect();
        json!({ "analyzers": list }).to_string()
    }

    fn ctx(events: Vec<ReplayEvent>) -> (AwsContext, StaticReplayClient) {
        let http = StaticReplayClient::new(events);
        let aws = AwsContext::for_replay(
            aws_smithy_runtime_api::client::http::SharedHttpClient::new(http.clone()),
            "111122223333",
            "eu-west-1",
        );
        (aws, http)
    }

    async fn plan_with(aws: &AwsContext) -> Finding {
        let reads = Reads::default();
        let params = Params::default();
        let cx = Cx {
            aws,
            reads: &reads,
            params: &params,
        };
        let mut f = AccessAnalyzer.plan(&cx, Some("eu-west-1")).await.unwrap();
        assert_eq!(f.len(), 1);
        f.remove(0)
    }

    #[tokio::test]
    async fn no_analyzer_plans_create_apply_creates_and_undo_deletes() {
        let (aws, http) = ctx(vec![
            event(
                200,
                &analyzers_json(&[("unused", "ACCOUNT_UNUSED_ACCESS", "ACTIVE")]),
            ),
            event(
                200,
                r#"{"arn":"arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/cis-fix-analyzer"}"#,
            ),
            event(
                200,
                &analyzers_json(&[("cis-fix-analyzer", "ACCOUNT", "CREATING")]),
            ),
            event(200, "{}"),
        ]);
        let f = plan_with(&aws).await;
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.before, json!({ "analyzers": [] }));
        assert_eq!(f.calls[0].action, CREATE);
        assert!(f.reversible);

        let reads = Reads::default();
        let params = Params::default();
        let cx = Cx {
            aws: &aws,
            reads: &reads,
            params: &params,
        };
        AccessAnalyzer
            .apply(&cx, Some("eu-west-1"), &f)
            .await
            .unwrap();
        // Re-read: a creating analyzer already counts.
        let again = plan_with(&aws).await;
        assert_eq!(again.status, Status::Compliant, "{}", again.summary);
        assert_eq!(
            again.before,
            json!({ "analyzers": ["cis-fix-analyzer (ACCOUNT)"] })
        );

        AccessAnalyzer
            .undo(&cx, Some("eu-west-1"), TARGET, &f.before)
            .await
            .unwrap();
        let reqs: Vec<_> = http.actual_requests().collect();
        assert_eq!(reqs.len(), 4);
        let create = String::from_utf8_lossy(reqs[1].body().bytes().unwrap()).into_owned();
        assert_eq!(reqs[1].method(), "PUT");
        assert!(
            create.contains(r#""analyzerName":"cis-fix-analyzer""#),
            "{create}"
        );
        assert!(create.contains(r#""type":"ACCOUNT""#), "{create}");
        assert_eq!(reqs[3].method(), "DELETE");
        assert!(
            reqs[3].uri().contains("/analyzer/cis-fix-analyzer"),
            "{}",
            reqs[3].uri()
        );
    }

    #[tokio::test]
    async fn an_active_organization_analyzer_is_compliant() {
        let (aws, _) = ctx(vec![event(
            200,
            &analyzers_json(&[("org", "ORGANIZATION", "ACTIVE")]),
        )]);
        let f = plan_with(&aws).await;
        assert_eq!(f.status, Status::Compliant);
        assert_eq!(f.before, json!({ "analyzers": ["org (ORGANIZATION)"] }));
    }

    #[tokio::test]
    async fn a_disabled_analyzer_is_not_enough() {
        let (aws, _) = ctx(vec![event(
            200,
            &analyzers_json(&[("old", "ACCOUNT", "DISABLED")]),
        )]);
        let f = plan_with(&aws).await;
        assert_eq!(f.status, Status::Change);
        assert!(f.summary.contains("old DISABLED"), "{}", f.summary);
    }

    #[tokio::test]
    async fn undo_keeps_an_analyzer_that_was_there_before() {
        let (aws, http) = ctx(vec![]);
        let reads = Reads::default();
        let params = Params::default();
        let cx = Cx {
            aws: &aws,
            reads: &reads,
            params: &params,
        };
        let prev = json!({ "analyzers": ["cis-fix-analyzer (ACCOUNT)"] });
        AccessAnalyzer
            .undo(&cx, Some("eu-west-1"), TARGET, &prev)
            .await
            .unwrap();
        assert_eq!(http.actual_requests().count(), 0);
    }

    /// What moto 5.2.5 answers (HTTP 500, HTML): unknown, not a failed plan. Built without
    /// retries (the replay context's clients would retry a 500).
    #[tokio::test]
    async fn emulator_without_the_api_is_unknown() {
        for status in [500, 404] {
            let http = StaticReplayClient::new(vec![event(
                status,
                "<!DOCTYPE html><title>500 Internal Server Error</title>",
            )]);
            let conf = aws_sdk_accessanalyzer::Config::builder()
                .behavior_version(aws_sdk_accessanalyzer::config::BehaviorVersion::latest())
                .region(aws_sdk_accessanalyzer::config::Region::new("eu-west-1"))
                .credentials_provider(aws_sdk_accessanalyzer::config::Credentials::new(
                    "AKID", "SECRET", None, None, "test",
                ))
                .http_client(http)
                .retry_config(aws_sdk_accessanalyzer::config::retry::RetryConfig::disabled())
                .build();
            let f = region_finding(&aws_sdk_accessanalyzer::Client::from_conf(conf))
                .await
                .unwrap();
            assert_eq!(f.status, Status::Unknown);
            assert!(
                f.summary.contains(&format!("HTTP {status}")),
                "{}",
                f.summary
            );
        }
    }

    #[tokio::test]
    async fn access_denied_is_an_error() {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://access-analyzer.eu-west-1.amazonaws.com/analyzer")
            .unwrap();
        let mut resp = HttpResponse::new(
            403.try_into().unwrap(),
            SdkBody::from(r#"{"message":"User is not authorized"}"#),
        );
        resp.headers_mut()
            .insert("x-amzn-errortype", "AccessDeniedException");
        let (aws, _) = ctx(vec![ReplayEvent::new(req, resp)]);
        let e = region_finding(&aws.accessanalyzer("eu-west-1"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert_eq!(e.operation, LIST);
    }
}
