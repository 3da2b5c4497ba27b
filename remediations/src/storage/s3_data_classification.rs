//! CIS 5.0 2.1.3: data in S3 is discovered and classified (Amazon Macie). Check-only and
//! regional: Macie is enabled per region. Enabling it is a cost and a judgement (which
//! buckets, which discovery jobs, who acts on findings), so cis-fix reports the state and
//! the steps, and changes nothing.

use async_trait::async_trait;
use serde_json::json;

use crate::aws::{AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::Finding;

pub struct S3DataClassification;

const DESCRIPTION: Description = Description {
    slug: "s3-data-classification",
    scope: Scope::Regional,
    kind: Kind::CheckOnly,
    read_actions: &[OP],
    write_actions: &[],
    change_profile: "",
};

const TARGET: &str = "Amazon Macie";
const OP: &str = "macie2:GetMacieSession";

fn steps(region: &str) -> Vec<String> {
    vec![
        "Decide whether automated data discovery is wanted here: CIS marks this recommendation manual, and Macie is a paid service.".to_string(),
        "Cost (see https://aws.amazon.com/macie/pricing/ for current prices): a monthly charge per S3 bucket evaluated for inventory and security posture, plus a charge per GB of objects inspected by sensitive-data discovery jobs, or per object monitored with automated sensitive data discovery. New accounts get a 30-day free trial; the Macie console's Usage page estimates the monthly cost after it.".to_string(),
        format!("Enable it: aws macie2 enable-macie --region {region} (or Macie console → Get started); in an organization, enable it from the delegated Macie administrator account for all members."),
        format!("Turn on automated sensitive data discovery or create a classification job for the buckets that hold sensitive data: aws macie2 create-classification-job --region {region} --job-type ONE_TIME --name cis-discovery --s3-job-definition '{{\"bucketDefinitions\":[{{\"accountId\":\"ACCOUNT\",\"buckets\":[\"BUCKET\"]}}]}}'."),
        "Route findings to someone who acts on them (Security Hub or EventBridge → a ticket queue), and review them regularly.".to_string(),
        format!("To stop paying for it later: aws macie2 disable-macie --region {region} (this deletes Macie's findings and configuration in the region)."),
    ]
}

fn not_enabled(region: &str, summary: String, status: &str) -> Finding {
    Finding {
        manual_steps: steps(region),
        ..Finding::manual(TARGET, summary, json!({ "status": status }), &[])
    }
    .with_note("Check-only: enabling Macie has a cost and needs decisions on scope, so cis-fix never enables it.")
}

#[async_trait]
impl Control for S3DataClassification {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        Ok(vec![read(&cx.aws.macie2(region), region).await?])
    }
}

/// GetMacieSession in `region`, judged.
async fn read(macie: &aws_sdk_macie2::Client, region: &str) -> Result<Finding, AwsError> {
    match macie.get_macie_session().send().await {
        Ok(out) => {
            let status = out
                .status()
                .map(|s| s.as_str())
                .unwrap_or("UNKNOWN")
                .to_string();
            Ok(if status == "ENABLED" {
                Finding::compliant(
                        TARGET,
                        "Macie is enabled in this region",
                        json!({ "status": status }),
                    )
                    .with_note("Enabled is what the API can show; whether discovery jobs cover the sensitive buckets and findings are acted on needs a person to check.")
            } else {
                not_enabled(region, format!("Macie is {status} in this region"), &status)
            })
        }
        Err(e) => {
            let http = e.raw_response().map(|r| r.status().as_u16());
            let err = AwsError::from_sdk(OP, e);
            // Macie answers AccessDenied "Macie is not enabled" in a region where it was
            // never turned on; any other AccessDenied is a missing permission.
            let off = err.is_code("ResourceNotFoundException")
                || (err.kind == ErrorKind::AccessDenied
                    && err.message.to_ascii_lowercase().contains("not enabled"));
            if off {
                return Ok(not_enabled(
                    region,
                    "Macie is not enabled in this region".to_string(),
                    "NOT_ENABLED",
                ));
            }
            // An API that is not there (5xx/404) or an answer the SDK could not read (no
            // AWS error code; the emulator's session timestamps are not ISO 8601): the
            // status is unknown, the steps still apply.
            if err.kind == ErrorKind::Service
                && (err.code.is_none() || http.is_some_and(|s| s >= 500 || s == 404))
            {
                let http = http.map(|s| format!(", HTTP {s}")).unwrap_or_default();
                return Ok(Finding {
                        manual_steps: steps(region),
                        ..Finding::unknown(
                            TARGET,
                            format!("could not read the Macie status ({}{http}); if Macie is not enabled, the steps below enable it", crate::resources::s3_buckets::describe_err(&err)),
                        )
                    });
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Status;
    use aws_sdk_macie2::config::retry::RetryConfig;
    use aws_sdk_macie2::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_types::body::SdkBody;

    /// GetMacieSession answered with `status`, `body` (and the error type header for errors).
    async fn finding(
        status: u16,
        body: &str,
        error_type: Option<&str>,
    ) -> Result<Finding, AwsError> {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://macie2.eu-west-1.amazonaws.com/macie")
            .unwrap();
        let mut resp =
            HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        resp.headers_mut()
            .insert("content-type", "application/json");
        if let Some(t) = error_type {
            resp.headers_mut().insert("x-amzn-errortype", t.to_string());
        }
        let http = StaticReplayClient::new(vec![ReplayEvent::new(req, resp)]);
        let conf = aws_sdk_macie2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(http.clone())
            .retry_config(RetryConfig::disabled())
            .build();
        let f = read(&aws_sdk_macie2::Client::from_conf(conf), "eu-west-1").await;
        assert_eq!(http.actual_requests().count(), 1);
        f
    }

    #[tokio::test]
    async fn enabled_is_compliant() {
        let body = r#"{"createdAt":"2024-01-02T03:04:05Z","findingPublishingFrequency":"FIFTEEN_MINUTES","serviceRole":"arn:aws:iam::111122223333:role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie","status":"ENABLED","updatedAt":"2024-01-02T03:04:05Z"}"#;
        let f = finding(200, body, None).await.unwrap();
        assert_eq!(f.status, Status::Compliant, "{}", f.summary);
        assert_eq!(f.before, json!({ "status": "ENABLED" }));
    }

    #[tokio::test]
    async fn paused_is_manual_with_cost() {
        let body = r#"{"createdAt":"2024-01-02T03:04:05Z","status":"PAUSED","updatedAt":"2024-01-02T03:04:05Z"}"#;
        let f = finding(200, body, None).await.unwrap();
        assert_eq!(f.status, Status::Manual);
        assert!(f.summary.contains("PAUSED"), "{}", f.summary);
        assert!(f.manual_steps.iter().any(|s| s.contains("pricing")));
    }

    #[tokio::test]
    async fn not_enabled_is_manual_and_other_denials_are_errors() {
        let off = finding(
            403,
            r#"{"message":"Macie is not enabled."}"#,
            Some("AccessDeniedException"),
        )
        .await
        .unwrap();
        assert_eq!(off.status, Status::Manual);
        assert!(off
            .manual_steps
            .iter()
            .any(|s| s.contains("enable-macie --region eu-west-1")));
        let denied = finding(
            403,
            r#"{"message":"User is not authorized to perform: macie2:GetMacieSession"}"#,
            Some("AccessDeniedException"),
        )
        .await
        .unwrap_err();
        assert_eq!(denied.kind, ErrorKind::AccessDenied);
    }

    #[tokio::test]
    async fn missing_api_is_unknown() {
        let f = finding(
            500,
            "<!DOCTYPE html><title>500 Internal Server Error</title>",
            None,
        )
        .await
        .unwrap();
        assert_eq!(f.status, Status::Unknown);
        assert!(!f.manual_steps.is_empty());
    }
}
