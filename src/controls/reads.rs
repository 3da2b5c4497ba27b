//! Reads shared between controls within one phase (planning, or one re-read during apply),
//! so that e.g. the password policy or the credential report is fetched once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::credential_report::CredentialReport;
use super::password_policy::PasswordPolicyDoc;
use crate::aws::{aws_err, AwsContext, AwsError};

type Cell<T> = OnceCell<Result<T, AwsError>>;

/// One memoised read per region.
struct RegionMemo<T>(Mutex<HashMap<String, Arc<Cell<T>>>>);

impl<T: Clone> RegionMemo<T> {
    fn new() -> Self {
        RegionMemo(Mutex::new(HashMap::new()))
    }

    async fn get<F, Fut>(&self, region: &str, f: F) -> Result<T, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let cell = {
            let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(region.to_string()).or_default().clone()
        };
        cell.get_or_init(f).await.clone()
    }
}

pub struct Reads {
    password_policy: Cell<Option<PasswordPolicyDoc>>,
    account_summary: Cell<HashMap<String, i32>>,
    credential_report: Cell<CredentialReport>,
    assigned_virtual_mfa: Cell<Vec<String>>,
    ebs_encryption_by_default: RegionMemo<bool>,
}

impl Default for Reads {
    fn default() -> Self {
        Reads {
            password_policy: OnceCell::new(),
            account_summary: OnceCell::new(),
            credential_report: OnceCell::new(),
            assigned_virtual_mfa: OnceCell::new(),
            ebs_encryption_by_default: RegionMemo::new(),
        }
    }
}

impl Reads {
    /// The account password policy; `None` when the account has none.
    pub async fn password_policy(
        &self,
        aws: &AwsContext,
    ) -> Result<Option<PasswordPolicyDoc>, AwsError> {
        self.password_policy
            .get_or_init(|| super::password_policy::read(aws))
            .await
            .clone()
    }

    /// IAM GetAccountSummary, keyed by the summary key name (`AccountMFAEnabled`, …).
    pub async fn account_summary(
        &self,
        aws: &AwsContext,
    ) -> Result<HashMap<String, i32>, AwsError> {
        self.account_summary
            .get_or_init(|| async {
                let out = aws
                    .iam()
                    .get_account_summary()
                    .send()
                    .await
                    .map_err(aws_err("iam:GetAccountSummary"))?;
                Ok(out
                    .summary_map()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.as_str().to_string(), *v))
                            .collect()
                    })
                    .unwrap_or_default())
            })
            .await
            .clone()
    }

    pub async fn credential_report(&self, aws: &AwsContext) -> Result<CredentialReport, AwsError> {
        self.credential_report
            .get_or_init(|| CredentialReport::fetch(aws))
            .await
            .clone()
    }

    /// Serial numbers of assigned virtual MFA devices, with the ARN of the user each is
    /// assigned to (`serial|user-arn`).
    pub async fn assigned_virtual_mfa(&self, aws: &AwsContext) -> Result<Vec<String>, AwsError> {
        self.assigned_virtual_mfa
            .get_or_init(|| async {
                let mut out = Vec::new();
                let mut pages = aws
                    .iam()
                    .list_virtual_mfa_devices()
                    .assignment_status(aws_sdk_iam::types::AssignmentStatusType::Assigned)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(aws_err("iam:ListVirtualMFADevices"))?;
                    for d in page.virtual_mfa_devices() {
                        let user = d.user().map(|u| u.arn()).unwrap_or_default();
                        out.push(format!("{}|{user}", d.serial_number()));
                    }
                }
                Ok(out)
            })
            .await
            .clone()
    }

    pub async fn ebs_encryption_by_default(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<bool, AwsError> {
        self.ebs_encryption_by_default
            .get(region, || async {
                let out = aws
                    .ec2(region)
                    .get_ebs_encryption_by_default()
                    .send()
                    .await
                    .map_err(aws_err("ec2:GetEbsEncryptionByDefault"))?;
                Ok(out.ebs_encryption_by_default().unwrap_or(false))
            })
            .await
    }
}
