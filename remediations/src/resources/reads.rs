//! Reads shared between controls within one phase (planning, or one re-read during apply),
//! so that e.g. the password policy or the credential report is fetched once.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::resources::credential_report::CredentialReport;
use crate::resources::password_policy::PasswordPolicyDoc;
use aws_sdk_ec2::types as ec2;

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
    vpcs: RegionMemo<Vec<ec2::Vpc>>,
    security_groups: RegionMemo<Vec<ec2::SecurityGroup>>,
    security_group_rules: RegionMemo<Vec<ec2::SecurityGroupRule>>,
    network_interfaces: RegionMemo<Vec<ec2::NetworkInterface>>,
    network_acls: RegionMemo<Vec<ec2::NetworkAcl>>,
    route_tables: RegionMemo<Vec<ec2::RouteTable>>,
    instances: RegionMemo<Vec<ec2::Instance>>,
    /// Reads a control module keeps for itself (see [`Reads::shared`]), by key.
    shared: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
    /// The one target this phase re-reads (verification, undo), when it is one: readers that
    /// settle some resources from a summary (the credential report) read that one in full.
    focus: Option<String>,
    /// Reads kept across the phases of one apply or undo run (see [`Carried`]).
    carried: Option<Carried>,
}

/// Services whose shared reads an apply run carries from one change to the next.
/// Only account-wide listings no focus changes: the trails (every region's DescribeTrails,
/// each trail's status and selectors), which the fifteen metric-filter changes, the other
/// CloudTrail controls and their verifications would otherwise each read again; and each
/// bucket's region (`s3-region:NAME`), which no write changes: every change to a bucket
/// would otherwise locate it again before, during and after its write.
const CARRIED_SERVICES: &[&str] = &["cloudtrail", "s3-region"];

/// What an undo run carries: only the reads no parameter shapes. Each undo change has its
/// own parameters (the home region a recorded trail names), so the trails are read afresh;
/// a bucket's region is the same whoever asks.
const LOCATIONS: &[&str] = &["s3-region"];

/// Shared reads that outlive a phase, for one apply or undo run. The engine drops a
/// service's entries ([`Carried::written_by`]) as soon as a change may have written through
/// that service, so a re-read after a write (verification, the next change's check) always
/// sees the write; reads of other services are never carried.
#[derive(Clone)]
pub struct Carried {
    reads: Arc<Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>>,
    services: &'static [&'static str],
}

impl Default for Carried {
    /// What an apply run carries.
    fn default() -> Self {
        Carried {
            reads: Arc::default(),
            services: CARRIED_SERVICES,
        }
    }
}

impl Carried {
    /// What an undo run carries: each bucket's region.
    pub fn locations() -> Self {
        Carried {
            reads: Arc::default(),
            services: LOCATIONS,
        }
    }

    /// Forget what a change of a control with these write actions (`cloudtrail:UpdateTrail`,
    /// ...) may have changed: every carried read of those services.
    pub fn written_by(&self, write_actions: &[&str]) {
        let mut m = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        for service in self.services {
            let prefix = format!("{service}:");
            if write_actions.iter().any(|a| a.starts_with(&prefix)) {
                m.retain(|k, _| !k.starts_with(&prefix));
            }
        }
    }

    fn carries(&self, key: &str) -> bool {
        key.split_once(':')
            .is_some_and(|(service, _)| self.services.contains(&service))
    }
}

/// Collect every page of an EC2 describe call into one list, in pages of `$max` (the
/// largest the call takes): few pages, and a paginated call stays in EC2's larger request
/// bucket (docs/rate-limits.md).
macro_rules! all_pages {
    ($aws:expr, $region:expr, $op:ident, $action:literal, $items:ident, $max:literal) => {{
        let mut out = Vec::new();
        let mut pages = $aws
            .ec2($region)
            .$op()
            .max_results($max)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws_err($action))?;
            out.extend(page.$items().iter().cloned());
        }
        Ok(out)
    }};
}

impl Default for Reads {
    fn default() -> Self {
        Reads {
            password_policy: OnceCell::new(),
            account_summary: OnceCell::new(),
            credential_report: OnceCell::new(),
            assigned_virtual_mfa: OnceCell::new(),
            ebs_encryption_by_default: RegionMemo::new(),
            vpcs: RegionMemo::new(),
            security_groups: RegionMemo::new(),
            security_group_rules: RegionMemo::new(),
            network_interfaces: RegionMemo::new(),
            network_acls: RegionMemo::new(),
            route_tables: RegionMemo::new(),
            instances: RegionMemo::new(),
            shared: Mutex::new(HashMap::new()),
            focus: None,
            carried: None,
        }
    }
}

impl Reads {
    /// Reads for re-reading `target` alone.
    pub fn focused(target: &str) -> Reads {
        Reads {
            focus: Some(target.to_string()),
            ..Reads::default()
        }
    }

    /// Reads for one phase of an apply or undo run, sharing what `carried` holds.
    pub fn carrying(carried: &Carried, focus: Option<&str>) -> Reads {
        Reads {
            focus: focus.map(str::to_string),
            carried: Some(carried.clone()),
            ..Reads::default()
        }
    }

    /// The target this phase re-reads, if it is one.
    pub fn focus(&self) -> Option<&str> {
        self.focus.as_deref()
    }

    /// A read memoised under `key` for this phase: the first caller runs `f`, every other
    /// caller (any control, any task) gets its result. Keys name the service, the call and
    /// the region, e.g. `"cloudtrail:trails"` or `"s3:bucket-policy:NAME"`; one key always
    /// holds one type.
    pub async fn shared<T, F, Fut>(&self, key: &str, f: F) -> Result<T, AwsError>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let cell: Arc<Cell<T>> = {
            let mut m = match &self.carried {
                Some(c) if c.carries(key) => c.reads.lock(),
                _ => self.shared.lock(),
            }
            .unwrap_or_else(|p| p.into_inner());
            let any = m
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(Cell::<T>::new()) as Arc<dyn Any + Send + Sync>)
                .clone();
            any.downcast::<Cell<T>>().map_err(|_| {
                AwsError::new(
                    crate::aws::ErrorKind::Service,
                    "internal",
                    format!("internal: shared read {key} used with two types"),
                )
            })?
        };
        let out = cell.get_or_init(f).await.clone();
        // A failed read is not carried into the next phase: that one asks again.
        if let (Err(_), Some(c)) = (&out, &self.carried) {
            if c.carries(key) {
                c.reads
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(key);
            }
        }
        out
    }

    /// The account password policy; `None` when the account has none.
    pub async fn password_policy(
        &self,
        aws: &AwsContext,
    ) -> Result<Option<PasswordPolicyDoc>, AwsError> {
        self.password_policy
            .get_or_init(|| crate::resources::password_policy::read(aws))
            .await
            .clone()
    }

    /// Every IAM user (ListUsers, all pages), shared by the controls that look at users.
    pub async fn iam_users(
        &self,
        aws: &AwsContext,
    ) -> Result<Vec<aws_sdk_iam::types::User>, AwsError> {
        self.shared("iam:ListUsers", || async {
            let mut out = Vec::new();
            let mut pages = aws
                .iam()
                .list_users()
                .max_items(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(aws_err("iam:ListUsers"))?;
                out.extend(page.users().iter().cloned());
            }
            Ok(out)
        })
        .await
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
                    .max_items(1000)
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

    pub async fn vpcs(&self, aws: &AwsContext, region: &str) -> Result<Vec<ec2::Vpc>, AwsError> {
        self.vpcs
            .get(region, || async {
                all_pages!(aws, region, describe_vpcs, "ec2:DescribeVpcs", vpcs, 1000)
            })
            .await
    }

    pub async fn security_groups(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<Vec<ec2::SecurityGroup>, AwsError> {
        self.security_groups
            .get(region, || async {
                all_pages!(
                    aws,
                    region,
                    describe_security_groups,
                    "ec2:DescribeSecurityGroups",
                    security_groups,
                    1000
                )
            })
            .await
    }

    /// Every security-group rule of the region, with its `sgr-` id.
    pub async fn security_group_rules(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<Vec<ec2::SecurityGroupRule>, AwsError> {
        self.security_group_rules
            .get(region, || async {
                all_pages!(
                    aws,
                    region,
                    describe_security_group_rules,
                    "ec2:DescribeSecurityGroupRules",
                    security_group_rules,
                    1000
                )
            })
            .await
    }

    pub async fn network_interfaces(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<Vec<ec2::NetworkInterface>, AwsError> {
        self.network_interfaces
            .get(region, || async {
                all_pages!(
                    aws,
                    region,
                    describe_network_interfaces,
                    "ec2:DescribeNetworkInterfaces",
                    network_interfaces,
                    1000
                )
            })
            .await
    }

    pub async fn network_acls(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<Vec<ec2::NetworkAcl>, AwsError> {
        self.network_acls
            .get(region, || async {
                all_pages!(
                    aws,
                    region,
                    describe_network_acls,
                    "ec2:DescribeNetworkAcls",
                    network_acls,
                    100
                )
            })
            .await
    }

    pub async fn route_tables(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<Vec<ec2::RouteTable>, AwsError> {
        self.route_tables
            .get(region, || async {
                all_pages!(
                    aws,
                    region,
                    describe_route_tables,
                    "ec2:DescribeRouteTables",
                    route_tables,
                    100
                )
            })
            .await
    }

    /// Every instance of the region that is not terminated.
    pub async fn instances(
        &self,
        aws: &AwsContext,
        region: &str,
    ) -> Result<Vec<ec2::Instance>, AwsError> {
        self.instances
            .get(region, || async {
                let mut out = Vec::new();
                let mut pages = aws
                    .ec2(region)
                    .describe_instances()
                    .max_results(1000)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(aws_err("ec2:DescribeInstances"))?;
                    for r in page.reservations() {
                        out.extend(
                            r.instances()
                                .iter()
                                .filter(|i| {
                                    i.state().and_then(|s| s.name())
                                        != Some(&ec2::InstanceStateName::Terminated)
                                })
                                .cloned(),
                        );
                    }
                }
                Ok(out)
            })
            .await
    }
}
