//! AWS failures reduced to what an operator needs: which call, what kind of failure, and the
//! service's own code and message. Never the SDK's debug dump, never credentials.

use std::error::Error as StdError;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
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
                let code = err.code().map(str::to_string);
                let mut message = err.message().unwrap_or("").to_string();
                if code.is_none() && message.is_empty() {
                    // An HTML error page (an emulator without this API, a proxy): say so
                    // rather than print an empty reason.
                    message =
                        "the endpoint gave no AWS error (is this API available there?)".into();
                }
                let kind = classify_code(code.as_deref(), &message);
                AwsError {
                    kind,
                    operation: operation.to_string(),
                    code,
                    message: one_line(&message),
                }
            }
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => AwsError {
                kind: ErrorKind::Network,
                operation: operation.to_string(),
                code: None,
                message: one_line(&source_chain(&err)),
            },
            SdkError::ResponseError(_) => AwsError {
                kind: ErrorKind::Service,
                operation: operation.to_string(),
                code: None,
                message: format!("unreadable response: {}", one_line(&source_chain(&err))),
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
