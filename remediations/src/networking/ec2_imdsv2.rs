//! CIS 5.0 5.7: EC2 instances use IMDSv2 only (HttpTokens = required), and the region's
//! account-level default for new instances requires it too.

use async_trait::async_trait;
use aws_sdk_ec2::operation::get_instance_metadata_defaults::GetInstanceMetadataDefaultsOutput;
use aws_sdk_ec2::types::{
    HttpTokensState, Instance, InstanceMetadataEndpointState, InstanceStateName, ManagedBy,
    MetadataDefaultHttpTokensState,
};
use serde_json::{json, Value};

use crate::aws::{aws_err, AwsError, ErrorKind};
use crate::control::{region_of, Control, Cx, Description, Kind, Scope};
use crate::plan::{Action, ApiCall, Finding, Risk, Status};

pub struct Ec2Imdsv2;

const DESCRIPTION: Description = Description {
    slug: "ec2-imdsv2",
    scope: Scope::Regional,
    kind: Kind::Fix,
    read_actions: &["ec2:DescribeInstances", GET_DEFAULTS],
    write_actions: &[MODIFY_OPTIONS, MODIFY_DEFAULTS],
    change_profile: "medium (software still on IMDSv1 loses metadata); reversible: undo restores each instance's and the account default's previous setting",
};

/// The region's account-level IMDS default for new instances.
const ACCOUNT_TARGET: &str = "account default for new instances";
const INSTANCE_PREFIX: &str = "instance ";

const GET_DEFAULTS: &str = "ec2:GetInstanceMetadataDefaults";
const MODIFY_DEFAULTS: &str = "ec2:ModifyInstanceMetadataDefaults";
const MODIFY_OPTIONS: &str = "ec2:ModifyInstanceMetadataOptions";

const IMDSV1_NOTE: &str =
    "Software on the instance that still uses IMDSv1 loses access to instance metadata, \
    including its role credentials. Check it works with IMDSv2 first (e.g. the \
    MetadataNoToken CloudWatch metric should be 0).";

fn instance_target(id: &str) -> String {
    format!("{INSTANCE_PREFIX}{id}")
}

/// The instance's observed IMDS state: HttpTokens and HttpEndpoint only (the emulator drops
/// the other MetadataOptions keys after a modify, and they don't bear on this control).
fn instance_before(i: &Instance) -> Value {
    let mo = i.metadata_options();
    json!({
        "HttpTokens": mo.and_then(|m| m.http_tokens()).map(|t| t.as_str()),
        "HttpEndpoint": mo.and_then(|m| m.http_endpoint()).map(|e| e.as_str()),
    })
}

/// One instance's finding. Pure: depends only on the described instance.
fn instance_finding(i: &Instance) -> Finding {
    let id = i.instance_id().unwrap_or_default();
    let target = instance_target(id);
    let name = i
        .tags()
        .iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .filter(|n| !n.is_empty());
    let who = match name {
        Some(n) => format!("instance {id} ({n})"),
        None => format!("instance {id}"),
    };
    let before = instance_before(i);
    let mo = i.metadata_options();
    let tokens = mo.and_then(|m| m.http_tokens());
    let endpoint = mo.and_then(|m| m.http_endpoint());

    if i.state().and_then(|s| s.name()) == Some(&InstanceStateName::ShuttingDown) {
        return Finding {
            status: Status::Skipped,
            before,
            ..Finding::unknown(target, format!("{who} is shutting down; left alone"))
        };
    }
    if tokens == Some(&HttpTokensState::Required) {
        return Finding::compliant(
            target,
            format!("{who} requires IMDSv2 (HttpTokens required)"),
            before,
        );
    }
    if endpoint == Some(&InstanceMetadataEndpointState::Disabled) {
        return Finding::compliant(
            target,
            format!("{who} has the metadata endpoint disabled, so IMDSv1 is off too"),
            before,
        );
    }
    let shown = tokens.map(|t| t.as_str()).unwrap_or("not reported");
    Finding::change(
        target,
        format!("{who} allows IMDSv1 (HttpTokens {shown})"),
        Action::Update,
        before,
        json!({ "HttpTokens": "required", "HttpEndpoint": "enabled" }),
        vec![ApiCall::new(
            MODIFY_OPTIONS,
            json!({ "InstanceId": id, "HttpTokens": "required", "HttpEndpoint": "enabled" }),
        )],
    )
    .with_risk(Risk::Medium)
    .with_note(IMDSV1_NOTE)
}

/// The account-level default's finding, from a GetInstanceMetadataDefaults answer. Pure.
fn account_default_finding(out: &GetInstanceMetadataDefaultsOutput) -> Finding {
    let level = out.account_level();
    let tokens = level.and_then(|l| l.http_tokens());
    let before = json!({ "HttpTokens": tokens.map(|t| t.as_str()) });
    if tokens == Some(&HttpTokensState::Required) {
        return Finding::compliant(
            ACCOUNT_TARGET,
            "new instances require IMDSv2 by default (HttpTokens required)",
            before,
        );
    }
    let shown = tokens.map(|t| t.as_str()).unwrap_or("no preference");
    let summary =
        format!("new instances allow IMDSv1 by default (account default HttpTokens: {shown})");
    if level.and_then(|l| l.managed_by()) == Some(&ManagedBy::DeclarativePolicy) {
        let mut steps = vec!["The IMDS defaults of this account are managed by an AWS Organizations declarative policy: set HttpTokens to required in that policy (in the management account)."];
        if let Some(m) = level.and_then(|l| l.managed_exception_message()) {
            steps.push(m);
        }
        return Finding::manual(ACCOUNT_TARGET, summary, before, &steps);
    }
    Finding::change(
        ACCOUNT_TARGET,
        summary,
        Action::Update,
        before,
        json!({ "HttpTokens": "required" }),
        vec![ApiCall::new(
            MODIFY_DEFAULTS,
            json!({ "HttpTokens": "required" }),
        )],
    )
    .with_risk(Risk::Medium)
    .with_note(
        "Applies to instances launched from now on, unless the AMI or the launch request says \
         otherwise; existing instances stay as they are. Software that still uses IMDSv1 will \
         not get metadata or role credentials on new instances.",
    )
}

/// Whether a failed read means the API is not there (not implemented, unsupported, or a
/// 5xx), as opposed to a refusal or a real failure.
fn api_unavailable(err: &AwsError, http_status: Option<u16>) -> bool {
    err.kind == ErrorKind::Service
        && (http_status.is_some_and(|s| s >= 500)
            || ["NotImplemented", "UnsupportedOperation", "InvalidAction"]
                .iter()
                .any(|c| err.is_code(c)))
}

/// Read the region's account-level default and report it. An API that is not available
/// (the emulator answers 500) gives an `unknown` finding; access denied and other failures
/// are errors.
async fn read_account_default(ec2: &aws_sdk_ec2::Client) -> Result<Finding, AwsError> {
    match ec2.get_instance_metadata_defaults().send().await {
        Ok(out) => Ok(account_default_finding(&out)),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let err = AwsError::from_sdk(GET_DEFAULTS, e);
            if !api_unavailable(&err, status) {
                return Err(err);
            }
            let detail = match (err.message.is_empty(), status) {
                (true, Some(s)) => format!("{err}HTTP {s}"),
                (false, Some(s)) => format!("{err} (HTTP {s})"),
                (_, None) => err.to_string(),
            };
            Ok(Finding::unknown(
                ACCOUNT_TARGET,
                format!("could not read the account default for new instances ({detail})"),
            ))
        }
    }
}

fn str_at<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

#[async_trait]
impl Control for Ec2Imdsv2 {
    fn description(&self) -> &Description {
        &DESCRIPTION
    }
    fn reads_tags(&self) -> bool {
        true
    }
    async fn plan(&self, cx: &Cx<'_>, region: Option<&str>) -> Result<Vec<Finding>, AwsError> {
        let region = region_of(region)?;
        let mut out = vec![read_account_default(&cx.aws.ec2(region)).await?];
        let mut instances = cx.reads.instances(cx.aws, region).await?;
        instances.sort_by(|a, b| a.instance_id().cmp(&b.instance_id()));
        out.extend(
            instances.iter().map(|i| {
                instance_finding(i).with_tags(i.tags().iter().map(|t| (t.key(), t.value())))
            }),
        );
        Ok(out)
    }

    async fn apply(&self, cx: &Cx<'_>, region: Option<&str>, f: &Finding) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region_of(region)?);
        if f.target == ACCOUNT_TARGET {
            ec2.modify_instance_metadata_defaults()
                .http_tokens(MetadataDefaultHttpTokensState::Required)
                .send()
                .await
                .map_err(aws_err(MODIFY_DEFAULTS))?;
            return Ok(());
        }
        let id = instance_id_of(&f.target)?;
        ec2.modify_instance_metadata_options()
            .instance_id(id)
            .http_tokens(HttpTokensState::Required)
            .http_endpoint(InstanceMetadataEndpointState::Enabled)
            .send()
            .await
            .map_err(aws_err(MODIFY_OPTIONS))?;
        Ok(())
    }

    async fn undo(
        &self,
        cx: &Cx<'_>,
        region: Option<&str>,
        target: &str,
        previous: &Value,
    ) -> Result<(), AwsError> {
        let ec2 = cx.aws.ec2(region_of(region)?);
        if target == ACCOUNT_TARGET {
            // Unset before: "no-preference" clears the account default again.
            let tokens = str_at(previous, "HttpTokens").unwrap_or("no-preference");
            ec2.modify_instance_metadata_defaults()
                .http_tokens(MetadataDefaultHttpTokensState::from(tokens))
                .send()
                .await
                .map_err(aws_err(MODIFY_DEFAULTS))?;
            return Ok(());
        }
        let id = instance_id_of(target)?;
        let tokens = str_at(previous, "HttpTokens");
        let endpoint = str_at(previous, "HttpEndpoint");
        if tokens.is_none() && endpoint.is_none() {
            return Ok(());
        }
        ec2.modify_instance_metadata_options()
            .instance_id(id)
            .set_http_tokens(tokens.map(HttpTokensState::from))
            .set_http_endpoint(endpoint.map(InstanceMetadataEndpointState::from))
            .send()
            .await
            .map_err(aws_err(MODIFY_OPTIONS))?;
        Ok(())
    }
}

fn instance_id_of(target: &str) -> Result<&str, AwsError> {
    target
        .strip_prefix(INSTANCE_PREFIX)
        .filter(|id| id.starts_with("i-"))
        .ok_or_else(|| {
            AwsError::new(
                ErrorKind::Service,
                "ec2-imdsv2",
                format!("internal: unexpected target '{target}'"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::config::retry::RetryConfig;
    use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_ec2::types::{InstanceMetadataOptionsResponse, InstanceState, Tag};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_runtime_api::http::{Request as HttpRequest, Response as HttpResponse};
    use aws_smithy_types::body::SdkBody;

    /// An EC2 client whose one call gets `status` and `body` back.
    fn replay(status: u16, body: &str) -> (aws_sdk_ec2::Client, StaticReplayClient) {
        let mut req = HttpRequest::new(SdkBody::empty());
        req.set_uri("https://ec2.eu-west-1.amazonaws.com/").unwrap();
        let resp = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        let http = StaticReplayClient::new(vec![ReplayEvent::new(req, resp)]);
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .http_client(http.clone())
            // The engine's real clients retry 5xx; one canned answer per test here.
            .retry_config(RetryConfig::disabled())
            .build();
        (aws_sdk_ec2::Client::from_conf(conf), http)
    }

    fn defaults_xml(account_level: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<GetInstanceMetadataDefaultsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
    <accountLevel>{account_level}</accountLevel>
</GetInstanceMetadataDefaultsResponse>"#
        )
    }

    async fn account_finding(status: u16, body: &str) -> Result<Finding, AwsError> {
        let (client, http) = replay(status, body);
        let f = read_account_default(&client).await;
        let reqs: Vec<_> = http.actual_requests().collect();
        assert_eq!(reqs.len(), 1);
        let sent = String::from_utf8_lossy(reqs[0].body().bytes().unwrap()).into_owned();
        assert!(
            sent.contains("Action=GetInstanceMetadataDefaults"),
            "{sent}"
        );
        f
    }

    #[tokio::test]
    async fn account_default_optional_is_a_change() {
        let f = account_finding(200, &defaults_xml("<httpTokens>optional</httpTokens>"))
            .await
            .unwrap();
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, ACCOUNT_TARGET);
        assert_eq!(f.before, json!({ "HttpTokens": "optional" }));
        assert_eq!(f.after, json!({ "HttpTokens": "required" }));
        assert_eq!(f.calls[0].action, MODIFY_DEFAULTS);
        assert_eq!(f.risk, Risk::Medium);
    }

    #[tokio::test]
    async fn account_default_unset_is_a_change_from_null() {
        let f = account_finding(200, &defaults_xml("")).await.unwrap();
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.before, json!({ "HttpTokens": null }));
        assert!(f.summary.contains("no preference"), "{}", f.summary);
    }

    #[tokio::test]
    async fn account_default_required_is_compliant() {
        let f = account_finding(
            200,
            &defaults_xml("<httpTokens>required</httpTokens><managedBy>account</managedBy>"),
        )
        .await
        .unwrap();
        assert_eq!(f.status, Status::Compliant);
        assert_eq!(f.before, json!({ "HttpTokens": "required" }));
    }

    #[tokio::test]
    async fn account_default_under_declarative_policy_is_manual() {
        let f = account_finding(
            200,
            &defaults_xml(
                "<httpTokens>optional</httpTokens><managedBy>declarative-policy</managedBy>\
                 <managedExceptionMessage>Ask the cloud team</managedExceptionMessage>",
            ),
        )
        .await
        .unwrap();
        assert_eq!(f.status, Status::Manual);
        assert!(f.calls.is_empty());
        assert_eq!(f.manual_steps.last().unwrap(), "Ask the cloud team");
    }

    #[tokio::test]
    async fn unimplemented_api_is_unknown() {
        // What the emulator answers for an operation it lacks.
        let f = account_finding(
            500,
            "<!DOCTYPE html><title>500 Internal Server Error</title>",
        )
        .await
        .unwrap();
        assert_eq!(f.status, Status::Unknown);
        assert!(
            f.summary.contains("could not read the account default"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("500"), "{}", f.summary);
    }

    #[tokio::test]
    async fn access_denied_is_an_error() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r1</RequestID></Response>"#;
        let e = account_finding(403, body).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert_eq!(e.operation, GET_DEFAULTS);
    }

    fn instance(tokens: Option<&str>, endpoint: Option<&str>) -> Instance {
        let mut mo = InstanceMetadataOptionsResponse::builder();
        if let Some(t) = tokens {
            mo = mo.http_tokens(HttpTokensState::from(t));
        }
        if let Some(e) = endpoint {
            mo = mo.http_endpoint(InstanceMetadataEndpointState::from(e));
        }
        Instance::builder()
            .instance_id("i-0123456789abcdef0")
            .state(
                InstanceState::builder()
                    .name(InstanceStateName::Running)
                    .build(),
            )
            .tags(Tag::builder().key("Name").value("web").build())
            .metadata_options(mo.build())
            .build()
    }

    #[test]
    fn instance_findings() {
        let f = instance_finding(&instance(Some("optional"), Some("enabled")));
        assert_eq!(f.status, Status::Change);
        assert_eq!(f.target, "instance i-0123456789abcdef0");
        assert!(f.summary.contains("(web)"), "{}", f.summary);
        assert_eq!(
            f.before,
            json!({ "HttpTokens": "optional", "HttpEndpoint": "enabled" })
        );
        assert_eq!(f.risk, Risk::Medium);
        assert!(f.reversible);
        assert_eq!(
            f.calls[0].params,
            json!({ "InstanceId": "i-0123456789abcdef0", "HttpTokens": "required", "HttpEndpoint": "enabled" })
        );

        let f = instance_finding(&instance(Some("required"), Some("enabled")));
        assert_eq!(f.status, Status::Compliant);

        let f = instance_finding(&instance(Some("optional"), Some("disabled")));
        assert_eq!(f.status, Status::Compliant);
        assert!(f.summary.contains("disabled"), "{}", f.summary);

        let f = instance_finding(&instance(None, None));
        assert_eq!(f.status, Status::Change);
        assert_eq!(
            f.before,
            json!({ "HttpTokens": null, "HttpEndpoint": null })
        );
    }

    #[test]
    fn targets_round_trip() {
        assert_eq!(
            instance_id_of(&instance_target("i-0abc")).unwrap(),
            "i-0abc"
        );
        assert!(instance_id_of(ACCOUNT_TARGET).is_err());
    }
}
