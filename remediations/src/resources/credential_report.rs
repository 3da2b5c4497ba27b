//! The IAM credential report: generated on demand, then parsed from CSV.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::aws::{aws_err, AwsContext, AwsError, ErrorKind};

pub const ROOT_ROW: &str = "<root_account>";

/// The report's rows, shared (controls clone the report freely) and indexed by user name:
/// an account with thousands of users is looked up once per user, not scanned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CredentialReport {
    pub rows: Arc<Vec<BTreeMap<String, String>>>,
    by_user: Arc<HashMap<String, usize>>,
}

impl CredentialReport {
    /// Ask IAM to generate a report and wait (bounded) until it is complete.
    pub async fn fetch(aws: &AwsContext) -> Result<CredentialReport, AwsError> {
        let mut delay = Duration::from_millis(200);
        for _ in 0..12 {
            let out = aws
                .iam()
                .generate_credential_report()
                .send()
                .await
                .map_err(aws_err("iam:GenerateCredentialReport"))?;
            if out.state() == Some(&aws_sdk_iam::types::ReportStateType::Complete) {
                let rep = aws
                    .iam()
                    .get_credential_report()
                    .send()
                    .await
                    .map_err(aws_err("iam:GetCredentialReport"))?;
                let bytes = rep
                    .content()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                return CredentialReport::parse(&text)
                    .map_err(|e| AwsError::new(ErrorKind::Service, "iam:GetCredentialReport", e));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(3));
        }
        Err(AwsError::new(
            ErrorKind::Service,
            "iam:GenerateCredentialReport",
            "the credential report was still not complete after 30 seconds",
        ))
    }

    pub fn parse(csv_text: &str) -> Result<CredentialReport, String> {
        let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| format!("credential report: {e}"))?
            .clone();
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| format!("credential report: {e}"))?;
            rows.push(
                headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect(),
            );
        }
        Ok(CredentialReport::from_rows(rows))
    }

    pub fn from_rows(rows: Vec<BTreeMap<String, String>>) -> CredentialReport {
        let by_user = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((r.get("user")?.clone(), i)))
            .collect();
        CredentialReport {
            rows: Arc::new(rows),
            by_user: Arc::new(by_user),
        }
    }

    /// The row of a user (or of [`ROOT_ROW`]).
    pub fn row(&self, user: &str) -> Option<&BTreeMap<String, String>> {
        self.by_user.get(user).and_then(|i| self.rows.get(*i))
    }

    pub fn root(&self) -> Option<&BTreeMap<String, String>> {
        self.row(ROOT_ROW)
    }

    /// What the report says of a user's console password: `None` when the user is not in
    /// the report (created after it was generated) or the column says neither.
    pub fn password_enabled(&self, user: &str) -> Option<bool> {
        flag(self.row(user)?.get("password_enabled")?)
    }

    /// What the report says of a user's MFA.
    pub fn mfa_active(&self, user: &str) -> Option<bool> {
        flag(self.row(user)?.get("mfa_active")?)
    }
}

fn flag(v: &str) -> Option<bool> {
    match v {
        "true" | "TRUE" => Some(true),
        "false" | "FALSE" => Some(false),
        _ => None,
    }
}

/// A report date column: a timestamp, or one of `N/A`, `no_information`, `not_supported`.
pub fn parse_date(v: Option<&String>) -> Option<OffsetDateTime> {
    v.and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

#[cfg(test)]
pub(crate) mod fixtures {
    /// The header AWS documents, with a root row used 3 days before `now`.
    pub fn report(root_password_last_used: &str, key1_last_used: &str) -> String {
        format!(
            "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,{root_password_last_used},not_supported,not_supported,true,false,N/A,{key1_last_used},N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
alice,arn:aws:iam::111122223333:user/alice,2021-01-01T00:00:00+00:00,true,2024-05-01T10:00:00+00:00,2021-01-01T00:00:00+00:00,N/A,false,true,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_finds_root() {
        let r =
            CredentialReport::parse(&fixtures::report("2024-06-01T12:00:00+00:00", "N/A")).unwrap();
        assert_eq!(r.rows.len(), 2);
        let root = r.root().unwrap();
        assert!(parse_date(root.get("password_last_used")).is_some());
        assert!(parse_date(root.get("access_key_1_last_used_date")).is_none());
    }
}
