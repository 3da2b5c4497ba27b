//! AWS failures reduced to what an operator needs: which call, what kind of failure, and the
//! service's own code and message. Never the SDK's debug dump, never credentials.

use std::error::Error as StdError;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No credentials could be found by the credential chain.
    NoCredentials,
    /// Credentials were found but AWS rejected them (expired, invalid).
    BadCredentials,
    AccessDenied,
    Throttled,
    /// The call did not reach AWS or no answer came back.
    Network,
    /// The service answered with an error.
    Service,
    /// Local configuration is missing or wrong (no region, bad profile).
    Config,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsError {
    pub kind: ErrorKind,
    /// `service:Operation`, as in IAM policies.
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(kind: ErrorKind, operation: &str, message: impl Into<String>) -> Self {
        AwsError {
            kind,
            operation: operation.to_string(),
            code: None,
            message: message.into(),
        }
    }

    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// The organization policy that denied the call, when AWS's message says so ("… with an
    /// explicit deny in a service control policy", sometimes naming it:
    /// `arn:aws:organizations::…:policy/o-…/service_control_policy/p-…`). Such a denial is
    /// the organization's guardrail, not a permission cis-fix lacks.
    pub fn org_policy_denial(&self) -> Option<OrgPolicyDenial> {
        if self.kind != ErrorKind::AccessDenied {
            return None;
        }
        org_policy_denial(&self.message)
    }

    /// Classify an SDK error for `operation`.
    pub fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        if let Some(cred) = find_source::<CredentialsError>(&err) {
            let kind = match cred {
                CredentialsError::CredentialsNotLoaded(_) => ErrorKind::NoCredentials,
                _ => ErrorKind::BadCredentials,
            };
            return AwsError {
                kind,
                operation: operation.to_string(),
                code: None,
                message: one_line(
                    &aws_smithy_types::error::display::DisplayErrorContext(cred).to_string(),
                ),
            };
        }
        match &err {
            SdkError::ServiceError(_) => {
                let mut code = err.code().map(str::to_string);
                let mut message = err.message().unwrap_or("").to_string();
                if code.is_none() && message.is_empty() {
                    let (status, body) = raw_error(err.raw_response());
                    if let Some((c, m)) = body {
                        // An AWS error the SDK did not read (its elements wrapped where this
                        // protocol does not expect them): its own code and message.
                        code = Some(c);
                        message = m;
                    } else {
                        // An HTML error page (an emulator without this API, a proxy): say
                        // so rather than print an empty reason.
                        let status = status.map(|s| format!("HTTP {s}; ")).unwrap_or_default();
                        message = format!(
                            "the endpoint gave no AWS error ({status}is this API available there?)"
                        );
                    }
                }
                let kind = classify_code(code.as_deref(), &message);
                // An organization policy's deny names the policy at the end of a long
                // message: kept whole so the policy id survives.
                let message = if org_policy_denial(&message).is_some() {
                    message.split_whitespace().collect::<Vec<_>>().join(" ")
                } else {
                    one_line(&message)
                };
                AwsError {
                    kind,
                    operation: operation.to_string(),
                    code,
                    message,
                }
            }
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => AwsError {
                kind: ErrorKind::Network,
                operation: operation.to_string(),
                code: None,
                message: one_line(&source_chain(&err)),
            },
            SdkError::ResponseError(_) => match raw_error(err.raw_response()) {
                // An error status whose body is an AWS error in another protocol's shape
                // (moto's XML denial of a JSON API such as Organizations): its own code.
                (Some(status), Some((code, message))) if status >= 400 => AwsError {
                    kind: classify_code(Some(&code), &message),
                    operation: operation.to_string(),
                    code: Some(code),
                    message: one_line(&message),
                },
                _ => AwsError {
                    kind: ErrorKind::Service,
                    operation: operation.to_string(),
                    code: None,
                    message: format!("unreadable response: {}", one_line(&source_chain(&err))),
                },
            },
            _ => AwsError {
                kind: ErrorKind::Service,
                operation: operation.to_string(),
                code: err.code().map(str::to_string),
                message: one_line(&source_chain(&err)),
            },
        }
    }
}

/// The HTTP status of a raw SDK response, and the `<Code>` and `<Message>` of an XML AWS
/// error in its body. The SDK reads a query API's error (IAM, STS) only as
/// `<ErrorResponse><Error>`, and a JSON API's only as JSON; moto's denials under IAM
/// enforcement come as `<ErrorResponse><Errors><Error>` for every API, which the SDK leaves
/// without a code (IAM, STS) or cannot read at all (Organizations), so a denial would
/// otherwise read as an endpoint without the API or an unreadable response.
fn raw_error<R: 'static>(raw: Option<&R>) -> (Option<u16>, Option<(String, String)>) {
    let Some(resp) = raw.and_then(|r| (r as &dyn std::any::Any).downcast_ref::<HttpResponse>())
    else {
        return (None, None);
    };
    let body = resp
        .body()
        .bytes()
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("");
    let element = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find(&format!("</{name}>"))?;
        Some(xml_text(&body[start..start + len]))
    };
    let error = element("Code")
        .filter(|c| !c.is_empty() && !c.contains('<'))
        .map(|c| (c, element("Message").unwrap_or_default()));
    (Some(resp.status().as_u16()), error)
}

/// XML character data with its five predefined entities replaced.
fn xml_text(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `map_err(aws_err("iam:GetAccountPasswordPolicy"))`.
pub fn aws_err<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    move |e| AwsError::from_sdk(operation, e)
}

fn classify_code(code: Option<&str>, message: &str) -> ErrorKind {
    match code.unwrap_or("") {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnauthorizedAccess" => ErrorKind::AccessDenied,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "AuthFailure"
        | "RequestExpired" => ErrorKind::BadCredentials,
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "SlowDown"
        | "RequestThrottled" => ErrorKind::Throttled,
        "" if message.contains("not authorized") => ErrorKind::AccessDenied,
        _ => ErrorKind::Service,
    }
}

/// An organization policy's explicit deny, recognised from an AccessDenied message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPolicyDenial {
    /// "SCP" (service control policy) or "RCP" (resource control policy).
    pub kind: &'static str,
    /// The policy id (`p-…`) when the message names it.
    pub policy: Option<String>,
}

impl fmt::Display for OrgPolicyDenial {
    /// `denied by an SCP: p-abcd1234`, or `denied by an SCP: policy not named`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "denied by an {}: {}",
            self.kind,
            self.policy.as_deref().unwrap_or("policy not named")
        )
    }
}

fn org_policy_denial(message: &str) -> Option<OrgPolicyDenial> {
    let lower = message.to_ascii_lowercase();
    let (kind, path) = if lower.contains("explicit deny in a service control policy") {
        ("SCP", "service_control_policy/")
    } else if lower.contains("explicit deny in a resource control policy") {
        ("RCP", "resource_control_policy/")
    } else {
        return None;
    };
    let id_at = |start: usize| -> Option<String> {
        let id: String = message[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (id.len() > 2).then_some(id)
    };
    // The policy's ARN names it; else a bare `p-…` id in the message.
    let policy = lower
        .find(path)
        .and_then(|i| id_at(i + path.len()))
        .or_else(|| {
            lower
                .match_indices("p-")
                .filter(|(i, _)| *i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric())
                .find_map(|(i, _)| id_at(i).filter(|id| id.len() >= 6))
        });
    Some(OrgPolicyDenial { kind, policy })
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

fn source_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        let cut: String = flat.chars().take(300).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::NoCredentials => write!(
                f,
                "no AWS credentials found ({}): set AWS_PROFILE or pass --profile, export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
                self.message
            ),
            ErrorKind::BadCredentials => write!(
                f,
                "AWS rejected the credentials ({}{}): they are expired or invalid; refresh them (e.g. `aws sso login`) and retry",
                self.code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default(),
                self.message
            ),
            ErrorKind::AccessDenied if self.org_policy_denial().is_some() => write!(
                f,
                "{} ({} is refused by the organization's policy, not for a permission cis-fix lacks: change it where the organization's policies are managed, or exclude it)",
                self.org_policy_denial().map(|d| d.to_string()).unwrap_or_default(),
                self.operation
            ),
            ErrorKind::AccessDenied => write!(
                f,
                "access denied: missing permission {}{}",
                self.operation,
                if self.message.is_empty() { String::new() } else { format!(" ({})", self.message) }
            ),
            ErrorKind::Config => f.write_str(&self.message),
            _ => {
                write!(f, "{} failed: ", self.operation)?;
                if let Some(c) = &self.code {
                    write!(f, "{c}: ")?;
                }
                f.write_str(&self.message)
            }
        }
    }
}

impl StdError for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify_code(Some("AccessDenied"), ""),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            classify_code(Some("ExpiredToken"), ""),
            ErrorKind::BadCredentials
        );
        assert_eq!(classify_code(Some("Throttling"), ""), ErrorKind::Throttled);
        assert_eq!(classify_code(Some("NoSuchEntity"), ""), ErrorKind::Service);
    }

    #[test]
    fn an_scp_deny_is_recognised_with_its_policy_id() {
        let named = AwsError {
            kind: ErrorKind::AccessDenied,
            operation: "iam:UpdateAccountPasswordPolicy".into(),
            code: Some("AccessDenied".into()),
            message: "User: arn:aws:sts::111122223333:assumed-role/Admin/cis-fix is not authorized to perform: iam:UpdateAccountPasswordPolicy on resource: * with an explicit deny in a service control policy: arn:aws:organizations::999988887777:policy/o-abcdef1234/service_control_policy/p-examplescp1".into(),
        };
        assert_eq!(
            named.org_policy_denial(),
            Some(OrgPolicyDenial {
                kind: "SCP",
                policy: Some("p-examplescp1".into())
            })
        );
        let text = named.to_string();
        assert!(
            text.starts_with("denied by an SCP: p-examplescp1 (iam:UpdateAccountPasswordPolicy"),
            "{text}"
        );
        assert!(!text.contains("missing permission"), "{text}");
        let unnamed = AwsError {
            message: "User: arn:aws:iam::1:user/x is not authorized to perform: s3:PutBucketPolicy on resource: arn:aws:s3:::b with an explicit deny in a service control policy".into(),
            ..named.clone()
        };
        assert!(unnamed
            .to_string()
            .starts_with("denied by an SCP: policy not named"));
        let rcp = AwsError {
            message: "… with an explicit deny in a resource control policy p-rcp123456".into(),
            ..named.clone()
        };
        assert_eq!(
            rcp.org_policy_denial().unwrap().to_string(),
            "denied by an RCP: p-rcp123456"
        );
        let plain = AwsError {
            message: "User is not authorized to perform this action with an explicit deny in an identity-based policy".into(),
            ..named.clone()
        };
        assert!(plain.org_policy_denial().is_none());
        let throttled = AwsError {
            kind: ErrorKind::Throttled,
            ..named
        };
        assert!(throttled.org_policy_denial().is_none());
    }

    /// An SDK service error whose body the SDK did not read (no code, no message), as the
    /// Rust SDK reports moto's `<ErrorResponse><Errors><Error>` denials of IAM and STS calls.
    fn unread(status: u16, body: &str) -> AwsError {
        use aws_sdk_iam::operation::update_account_password_policy::UpdateAccountPasswordPolicyError as E;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_string()));
        let err = SdkError::service_error(E::generic(ErrorMetadata::builder().build()), raw);
        AwsError::from_sdk("iam:UpdateAccountPasswordPolicy", err)
    }

    #[test]
    fn an_aws_error_the_sdk_did_not_read_is_read_from_the_body() {
        let e = unread(
            403,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::1:assumed-role/R/s is not authorized to perform: iam:UpdateAccountPasswordPolicy &amp; more</Message><Type>Sender</Type></Error></Errors></ErrorResponse>",
        );
        assert_eq!(e.kind, ErrorKind::AccessDenied);
        assert_eq!(
            e.to_string(),
            "access denied: missing permission iam:UpdateAccountPasswordPolicy (User: arn:aws:sts::1:assumed-role/R/s is not authorized to perform: iam:UpdateAccountPasswordPolicy & more)"
        );
        // No AWS error in the body: the status, and no guess.
        for body in [
            "<html><body>Not Found</body></html>",
            "",
            "<Code><b>x</b></Code>",
        ] {
            let e = unread(404, body);
            assert_eq!(e.kind, ErrorKind::Service, "{body}");
            assert_eq!(
                e.to_string(),
                "iam:UpdateAccountPasswordPolicy failed: the endpoint gave no AWS error (HTTP 404; is this API available there?)",
                "{body}"
            );
        }
    }

    #[test]
    fn an_xml_denial_of_a_json_api_is_read_from_the_body() {
        use aws_sdk_organizations::operation::list_accounts::ListAccountsError;
        use aws_smithy_types::body::SdkBody;
        let body = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: u is not authorized to perform: organizations:ListAccounts</Message></Error></Errors></ErrorResponse>";
        let raw = HttpResponse::new(403.try_into().unwrap(), SdkBody::from(body));
        let err: SdkError<ListAccountsError, HttpResponse> =
            SdkError::response_error("malformed JSON error body", raw);
        let e = AwsError::from_sdk("organizations:ListAccounts", err);
        assert_eq!(
            e.to_string(),
            "access denied: missing permission organizations:ListAccounts (User: u is not authorized to perform: organizations:ListAccounts)"
        );
        // A 200 the SDK could not read stays an unreadable response.
        let raw = HttpResponse::new(200.try_into().unwrap(), SdkBody::from(body));
        let err: SdkError<ListAccountsError, HttpResponse> =
            SdkError::response_error("malformed", raw);
        let e = AwsError::from_sdk("organizations:ListAccounts", err);
        assert_eq!(e.kind, ErrorKind::Service);
        assert!(e.message.starts_with("unreadable response"), "{e}");
    }

    #[test]
    fn access_denied_names_the_action() {
        let e = AwsError {
            kind: ErrorKind::AccessDenied,
            operation: "iam:GetAccountPasswordPolicy".into(),
            code: Some("AccessDenied".into()),
            message: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "access denied: missing permission iam:GetAccountPasswordPolicy"
        );
    }
}
