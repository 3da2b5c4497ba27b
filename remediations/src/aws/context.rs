//! The AWS context of one run: SDK configuration, who we are, and the clients.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::credential_feature::AwsCredentialFeature as Feature;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::call_log::CallLog;
use super::error::{aws_err, AwsError, ErrorKind};
use super::regions::{self, RegionSpec};

/// What the command line says about reaching AWS. Everything unset falls back to the
/// standard chain (environment, shared config and credentials files, SSO, instance roles).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub max_attempts: Option<u32>,
    /// An overall cap on requests per second, on top of the per-service budgets.
    pub max_rps: Option<u32>,
    /// Per-service budgets instead of the defaults (`--rate-limit`, `rate_limits`).
    pub rate_limits: Vec<(String, super::budget::Limit)>,
    /// Most requests in flight to one endpoint (`--concurrency`; default and most:
    /// [`super::budget::IN_FLIGHT_PER_ENDPOINT`]).
    pub in_flight: Option<usize>,
    /// Ask for the account's enabled regions while asking who we are (one round trip instead
    /// of two before the first control can read), when the run covers regional controls.
    pub prefetch_regions: bool,
}

/// How to reach another account: the role to assume there, and the account it must lead to.
#[derive(Debug, Clone)]
pub struct AssumeRequest {
    pub role_arn: String,
    pub expected_account: String,
    /// Says cis-fix and the run, so CloudTrail in the member account names who acted.
    pub session_name: String,
    pub external_id: Option<String>,
    /// List the account's enabled regions in the same round trip as the identity check.
    pub prefetch_regions: bool,
}

/// Credentials of an assumed role, asked again from STS whenever the SDK's identity cache
/// finds the last ones expired (a long apply outlives one session).
#[derive(Debug)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    /// The answer of the AssumeRole made while connecting, handed out once.
    first: Mutex<Option<aws_credential_types::Credentials>>,
}

impl AssumedRole {
    async fn assume(&self) -> Result<aws_credential_types::Credentials, AwsError> {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .send()
            .await
            .map_err(aws_err("sts:AssumeRole"))?;
        let c = out.credentials().ok_or_else(|| {
            AwsError::new(
                ErrorKind::Service,
                "sts:AssumeRole",
                "the answer carried no credentials",
            )
        })?;
        Ok(aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            std::time::SystemTime::try_from(*c.expiration()).ok(),
            "cis-fix-assume-role",
        ))
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
            match first {
                Some(c) => Ok(c),
                None => self.assume().await.map_err(|e| {
                    aws_credential_types::provider::error::CredentialsError::provider_error(e)
                }),
            }
        })
    }
}

/// The account a run works on, as STS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub caller_arn: String,
    pub partition: String,
}

/// The SDK's first retry back-off (see [`AwsContext::connect`]).
const RETRY_INITIAL_BACKOFF: std::time::Duration = std::time::Duration::from_millis(100);

pub struct AwsContext {
    sdk: SdkConfig,
    pub account: Account,
    /// Where the credentials came from (a profile, the environment, an instance role, ...).
    pub credentials: CredentialSource,
    pub home_region: String,
    calls: CallLog,
    budgets: super::budget::Budgets,
    iam: aws_sdk_iam::Client,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    /// Every other service's clients, one per (service, region), built on first use.
    clients: Mutex<HashMap<(&'static str, String), AnyClient>>,
    enabled_regions: OnceCell<Vec<String>>,
    /// The regions the plans of this command covered (see [`AwsContext::covered_regions`]).
    covered: Mutex<Vec<String>>,
}

/// A service client behind the cache; each accessor downcasts to its own type.
type AnyClient = Box<dyn std::any::Any + Send>;

/// A regional client accessor: built once per region from the run's configuration, with the
/// call-log interceptor, and cached.
macro_rules! regional_client {
    ($(#[$m:meta])* $name:ident, $krate:ident) => {
        $(#[$m])*
        pub fn $name(&self, region: &str) -> $krate::Client {
            self.client(stringify!($name), region, |sdk, calls| {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(sdk)
                        .region(Region::new(region.to_string()))
                        .interceptor(calls.clone())
                        .build(),
                )
            })
        }
    };
}

impl std::fmt::Debug for AwsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsContext")
            .field("account", &self.account)
            .field("credentials", &self.credentials)
            .field("home_region", &self.home_region)
            .finish_non_exhaustive()
    }
}

impl AwsContext {
    /// Load the SDK configuration and ask STS who we are. Fails with one clear error when
    /// credentials are missing, expired or rejected.
    pub async fn connect(opts: &AwsOptions) -> Result<AwsContext, AwsError> {
        // A profile that is not there is an error before any call, never a silent fallback
        // to whatever else the chain finds.
        if let Some(p) = &opts.profile {
            ProfileFiles::from_env().require(p)?;
        }
        let budgets = super::budget::Budgets::with_overrides(
            opts.max_rps,
            opts.rate_limits.iter().cloned().collect(),
        )
        .in_flight(
            opts.in_flight
                .unwrap_or(super::budget::IN_FLIGHT_PER_ENDPOINT),
        );
        let http = super::budget::budgeted_client(budgets.clone());
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http.clone());
        if let Some(p) = &opts.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &opts.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &opts.endpoint_url {
            loader = loader.endpoint_url(e);
        }
        let sdk = loader.load().await;
        // The budgets are the run's one adaptive mechanism: the SDK's retries stay in standard
        // mode (AWS_RETRY_MODE=adaptive would add a second rate limiter fighting them), with the
        // attempts the flag, AWS_MAX_ATTEMPTS or the profile asks for.
        let attempts = opts
            .max_attempts
            .or_else(|| sdk.retry_config().map(|r| r.max_attempts()));
        // The SDK's first back-off is up to 1 s; AWS's other SDKs start at 100 ms for an
        // error that is not throttling. Throttling is the budgets' to pace (the bucket halves
        // and the retry waits on it), so the SDK's back-off only spaces out a transient error
        // (a 500, a dropped connection): 100 ms, doubling up to 20 s.
        let mut retry = RetryConfig::standard().with_initial_backoff(RETRY_INITIAL_BACKOFF);
        if let Some(n) = attempts {
            retry = retry.with_max_attempts(n);
        }
        let sdk = sdk.into_builder().retry_config(retry).build();
        // The SDK's default chain reads the environment's keys before any profile, even one
        // named with `profile_name`. An explicit profile must win, as `--profile` does in the
        // AWS CLI: its credentials come from the profile alone.
        let chain = match &opts.profile {
            Some(p) => Some(SharedCredentialsProvider::new(
                ProfileFileCredentialsProvider::builder()
                    .configure(
                        &ProviderConfig::without_region()
                            .with_region(sdk.region().cloned())
                            .with_http_client(http),
                    )
                    .profile_name(p)
                    .build(),
            )),
            None => sdk.credentials_provider(),
        };
        let seen = Arc::new(OnceLock::new());
        let sdk = match chain {
            Some(inner) => sdk
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(Observed {
                    inner,
                    seen: seen.clone(),
                }))
                .build(),
            None => sdk,
        };
        let home_region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| {
                AwsError::new(
                    ErrorKind::Config,
                    "config:region",
                    "no AWS region configured: pass --region, set AWS_REGION, or set a region in your profile",
                )
            })?;
        let profile = opts
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| "default".into());
        let mut ctx = Self::from_sdk(sdk, budgets, home_region, opts.prefetch_regions).await?;
        // GetCallerIdentity resolved the credentials, so the observer has seen them.
        ctx.credentials = seen
            .get()
            .map(|f: &Vec<Feature>| CredentialSource::classify(f, &profile))
            .unwrap_or(CredentialSource::Unknown);
        Ok(ctx)
    }

    /// Ask STS who `sdk`'s credentials are (and, with `prefetch_regions`, list the enabled
    /// regions in the same round trip) and build the context around the answer.
    async fn from_sdk(
        sdk: SdkConfig,
        budgets: super::budget::Budgets,
        home_region: String,
        prefetch_regions: bool,
    ) -> Result<AwsContext, AwsError> {
        let calls = CallLog::default();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let ec2_home = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&sdk)
                .region(Region::new(home_region.clone()))
                .interceptor(calls.clone())
                .build(),
        );
        let (me, listed) = tokio::join!(sts.get_caller_identity().send(), async {
            match prefetch_regions {
                true => Some(list_regions(&ec2_home).await),
                false => None,
            }
        });
        let me = me.map_err(aws_err("sts:GetCallerIdentity"))?;
        let caller_arn = me.arn().unwrap_or_default().to_string();
        let account = Account {
            id: me.account().unwrap_or_default().to_string(),
            partition: caller_arn.split(':').nth(1).unwrap_or("aws").to_string(),
            caller_arn,
        };
        // A failed prefetch is asked again (and reported) when the regions are resolved.
        let enabled_regions = match listed {
            Some(Ok(names)) => OnceCell::new_with(Some(in_partition(names, &account.partition))),
            _ => OnceCell::new(),
        };
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let home_region_key = home_region.clone();
        Ok(AwsContext {
            sdk,
            account,
            credentials: CredentialSource::Unknown,
            home_region,
            calls,
            budgets,
            iam,
            ec2: Mutex::new(HashMap::from([(home_region_key, ec2_home)])),
            clients: Mutex::new(HashMap::new()),
            enabled_regions,
            covered: Mutex::new(Vec::new()),
        })
    }

    /// A context for another account, reached by assuming `role_arn` with this context's
    /// credentials. The AssumeRole calls go through this context's STS budget (the caller's);
    /// the new context has budgets of its own, as the account has its own AWS limits. The
    /// account STS then reports must be `expected_account`: a role that leads elsewhere is
    /// refused before anything is read.
    pub async fn assume(&self, req: &AssumeRequest) -> Result<AwsContext, AwsError> {
        // Not on this context's call log: that log counts the calls made for the caller's
        // own account (its plan's `api_calls`), whichever other accounts the run reaches.
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&self.sdk)
                .interceptor(CallLog::default())
                .build(),
        );
        let provider = AssumedRole {
            sts,
            role_arn: req.role_arn.clone(),
            session_name: req.session_name.clone(),
            external_id: req.external_id.clone(),
            first: Mutex::new(None),
        };
        // The first AssumeRole is made here, so a refusal is this call's one clear error (not
        // a credentials failure inside the first read); its answer serves the first request.
        let creds = provider.assume().await?;
        *provider.first.lock().unwrap_or_else(|p| p.into_inner()) = Some(creds);
        let budgets = self.budgets.for_another_account();
        let sdk = self
            .sdk
            .to_builder()
            .http_client(super::budget::budgeted_client(budgets.clone()))
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        let mut ctx =
            Self::from_sdk(sdk, budgets, self.home_region.clone(), req.prefetch_regions).await?;
        if ctx.account.id != req.expected_account {
            return Err(AwsError::new(
                ErrorKind::Config,
                "sts:GetCallerIdentity",
                format!(
                    "role {} leads to account {}, not {}: refused",
                    req.role_arn, ctx.account.id, req.expected_account
                ),
            ));
        }
        ctx.credentials = CredentialSource::AssumedRole {
            role_arn: req.role_arn.clone(),
            from: Box::new(self.credentials.clone()),
        };
        Ok(ctx)
    }

    /// A context over a given HTTP client and fixed credentials, for unit tests that replay
    /// recorded responses (the SDK's StaticReplayClient) where the emulator lacks an API.
    pub fn for_replay(
        http: aws_smithy_runtime_api::client::http::SharedHttpClient,
        account_id: &str,
        region: &str,
    ) -> AwsContext {
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .http_client(http)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIDTEST", "secret", None, None, "replay",
                    ),
                ),
            )
            .build();
        let calls = CallLog::default();
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        AwsContext {
            sdk,
            account: Account {
                id: account_id.to_string(),
                caller_arn: format!("arn:aws:iam::{account_id}:user/replay"),
                partition: "aws".into(),
            },
            credentials: CredentialSource::Static,
            home_region: region.to_string(),
            calls,
            budgets: super::budget::Budgets::new(None),
            iam,
            ec2: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            enabled_regions: OnceCell::new(),
            covered: Mutex::new(Vec::new()),
        }
    }

    /// Whether the run talks to an endpoint override (an emulator or a proxy) rather than
    /// AWS's own endpoints: S3 then needs path-style addressing.
    fn has_endpoint_override(&self) -> bool {
        self.sdk.endpoint_url().is_some()
    }

    fn client<C: Clone + Send + 'static>(
        &self,
        service: &'static str,
        region: &str,
        build: impl FnOnce(&SdkConfig, &CallLog) -> C,
    ) -> C {
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((service, region.to_string()))
            .or_insert_with(|| Box::new(build(&self.sdk, &self.calls)))
            .downcast_ref::<C>()
            .expect("one client type per service")
            .clone()
    }

    regional_client!(cloudtrail, aws_sdk_cloudtrail);
    regional_client!(
        /// AWS Config.
        config,
        aws_sdk_config
    );
    regional_client!(kms, aws_sdk_kms);
    regional_client!(logs, aws_sdk_cloudwatchlogs);
    regional_client!(cloudwatch, aws_sdk_cloudwatch);
    regional_client!(sns, aws_sdk_sns);
    regional_client!(securityhub, aws_sdk_securityhub);
    regional_client!(accessanalyzer, aws_sdk_accessanalyzer);
    regional_client!(rds, aws_sdk_rds);
    regional_client!(efs, aws_sdk_efs);
    regional_client!(macie2, aws_sdk_macie2);
    regional_client!(
        /// Elastic Load Balancing v2 (application and network load balancers).
        elbv2,
        aws_sdk_elasticloadbalancingv2
    );

    /// AWS Organizations is global; its client lives in the home region (the SDK's endpoint
    /// rules send it to the partition's one endpoint).
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        let home = self.home_region.clone();
        self.client("organizations", &home, |sdk, calls| {
            aws_sdk_organizations::Client::from_conf(
                aws_sdk_organizations::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            )
        })
    }

    /// CloudFront is global; its client lives in the home region.
    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        let home = self.home_region.clone();
        self.client("cloudfront", &home, |sdk, calls| {
            aws_sdk_cloudfront::Client::from_conf(
                aws_sdk_cloudfront::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            )
        })
    }

    /// The Account API (alternate contacts) is global; its client lives in the home region.
    pub fn account_api(&self) -> aws_sdk_account::Client {
        let home = self.home_region.clone();
        self.client("account", &home, |sdk, calls| {
            aws_sdk_account::Client::from_conf(
                aws_sdk_account::config::Builder::from(sdk)
                    .interceptor(calls.clone())
                    .build(),
            )
        })
    }

    /// S3 in `region`. Behind an endpoint override, path-style addressing: virtual-host
    /// names like `bucket.127.0.0.1` do not resolve.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let path_style = self.has_endpoint_override();
        self.client("s3", region, |sdk, calls| {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .region(Region::new(region.to_string()))
                    .force_path_style(path_style)
                    .interceptor(calls.clone())
                    .build(),
            )
        })
    }

    /// S3 Control (account-level Block Public Access). Behind an endpoint override the SDK's
    /// rules would prefix the host with the account id (`123….127.0.0.1`), which does not
    /// resolve; the override is then used as is.
    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        let home = self.home_region.clone();
        let fixed = self.sdk.endpoint_url().map(str::to_string);
        self.client("s3control", &home, |sdk, calls| {
            let mut b = aws_sdk_s3control::config::Builder::from(sdk).interceptor(calls.clone());
            if let Some(url) = fixed {
                b = b.endpoint_resolver(FixedEndpoint(url));
            }
            aws_sdk_s3control::Client::from_conf(b.build())
        })
    }

    /// Every AWS operation this run has sent so far.
    pub fn call_log(&self) -> &CallLog {
        &self.calls
    }

    /// The run's request budgets (what each spent, waited and was throttled).
    pub fn budgets(&self) -> &super::budget::Budgets {
        &self.budgets
    }

    /// IAM is global: one client, in the home region's partition.
    pub fn iam(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut map = self.ec2.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(region.to_string())
            .or_insert_with(|| {
                aws_sdk_ec2::Client::from_conf(
                    aws_sdk_ec2::config::Builder::from(&self.sdk)
                        .region(Region::new(region.to_string()))
                        .interceptor(self.calls.clone())
                        .build(),
                )
            })
            .clone()
    }

    /// Regions enabled for this account in the caller's partition. Asked once per run.
    pub async fn enabled_regions(&self) -> Result<&[String], AwsError> {
        self.enabled_regions
            .get_or_try_init(|| async {
                let names = list_regions(&self.ec2(&self.home_region)).await?;
                Ok(in_partition(names, &self.account.partition))
            })
            .await
            .map(Vec::as_slice)
    }

    /// Record that a plan of this command covers `regions` (the planner does), so that a
    /// later phase of the same command run with parameters that do not carry them (the
    /// guide applies with the session's parameters) reads the same regions.
    pub fn cover_regions(&self, regions: &[String]) {
        let mut c = self.covered.lock().unwrap_or_else(|p| p.into_inner());
        for r in regions {
            if !c.contains(r) {
                c.push(r.clone());
            }
        }
    }

    /// The regions plans of this command covered, in the order first seen.
    pub fn covered_regions(&self) -> Vec<String> {
        self.covered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Turn `--regions` into the list a run covers, checking each name against the regions
    /// enabled for the account.
    pub async fn resolve_regions(&self, spec: &RegionSpec) -> Result<Vec<String>, RegionsError> {
        match spec {
            RegionSpec::Home => Ok(vec![self.home_region.clone()]),
            RegionSpec::All => Ok(self.enabled_regions().await?.to_vec()),
            RegionSpec::List(list) => {
                let enabled = self.enabled_regions().await?;
                let mut out = Vec::new();
                for r in list {
                    if !enabled.contains(r) {
                        return Err(RegionsError::NotEnabled(regions::not_enabled_message(
                            r,
                            &self.account.id,
                            enabled,
                        )));
                    }
                    if !out.contains(r) {
                        out.push(r.clone());
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Every region DescribeRegions lists that the account has not left opted out.
async fn list_regions(ec2: &aws_sdk_ec2::Client) -> Result<Vec<String>, AwsError> {
    let out = ec2
        .describe_regions()
        .send()
        .await
        .map_err(aws_err("ec2:DescribeRegions"))?;
    Ok(out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status() != Some("not-opted-in"))
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect())
}

/// The regions of `partition`, sorted, once each.
fn in_partition(mut names: Vec<String>, partition: &str) -> Vec<String> {
    names.retain(|n| regions::partition_of(n) == partition);
    names.sort();
    names.dedup();
    names
}

/// An endpoint used exactly as given (S3 Control behind an emulator or proxy).
#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegionsError {
    #[error("{0}")]
    NotEnabled(String),
    #[error("could not list the account's regions: {0}")]
    Aws(#[from] AwsError),
}

/// Where a run's credentials came from, shown in the header of `plan`, `apply` and `guide`:
/// with keys in the environment and a profile on the command line, the operator sees which
/// one is in use before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A profile of the shared config and credentials files; `how` names what it holds when
    /// it is more than keys (SSO, an assumed role, a credential process, web identity).
    Profile {
        name: String,
        how: Option<&'static str>,
    },
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` (e.g. EKS service accounts).
    WebIdentity,
    /// The container credentials endpoint (ECS task role, EKS pod identity).
    Container,
    /// The EC2 instance metadata service.
    InstanceRole,
    /// Fixed credentials given in code (replay tests).
    Static,
    /// A role assumed into another account, with credentials from `from`.
    AssumedRole {
        role_arn: String,
        from: Box<CredentialSource>,
    },
    Unknown,
}

impl CredentialSource {
    /// From the features the SDK's providers record on the credentials they return.
    /// `profile` is the profile the chain would read (`--profile`, `AWS_PROFILE`, `default`).
    pub fn classify(features: &[Feature], profile: &str) -> CredentialSource {
        let has = |f: &[Feature]| f.iter().any(|f| features.contains(f));
        let how = if has(&[Feature::CredentialsSso, Feature::CredentialsProfileSso]) {
            Some("SSO")
        } else if has(&[
            Feature::CredentialsProcess,
            Feature::CredentialsProfileProcess,
        ]) {
            Some("credential_process")
        } else if has(&[
            Feature::CredentialsProfileStsWebIdToken,
            Feature::CredentialsStsAssumeRoleWebId,
        ]) {
            Some("web identity")
        } else if has(&[Feature::CredentialsStsAssumeRole]) {
            Some("assumed role")
        } else if has(&[Feature::CredentialsImds]) {
            Some("instance role")
        } else if has(&[Feature::CredentialsHttp]) {
            Some("container role")
        } else if has(&[Feature::CredentialsEnvVars]) {
            Some("environment")
        } else {
            None
        };
        if has(&[Feature::CredentialsProfile]) {
            CredentialSource::Profile {
                name: profile.to_string(),
                how,
            }
        } else if has(&[Feature::CredentialsEnvVars]) {
            CredentialSource::Environment
        } else if how == Some("web identity") {
            CredentialSource::WebIdentity
        } else if has(&[Feature::CredentialsHttp]) {
            CredentialSource::Container
        } else if has(&[Feature::CredentialsImds]) {
            CredentialSource::InstanceRole
        } else if how == Some("SSO") {
            CredentialSource::Profile {
                name: profile.to_string(),
                how,
            }
        } else {
            CredentialSource::Unknown
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Profile { name, how: None } => write!(f, "profile {name}"),
            CredentialSource::Profile {
                name,
                how: Some(how),
            } => write!(f, "profile {name} ({how})"),
            CredentialSource::Environment => f.write_str("environment (AWS_ACCESS_KEY_ID)"),
            CredentialSource::WebIdentity => {
                f.write_str("web identity (AWS_WEB_IDENTITY_TOKEN_FILE)")
            }
            CredentialSource::Container => f.write_str("container role (ECS/EKS)"),
            CredentialSource::InstanceRole => f.write_str("instance role (EC2 instance metadata)"),
            CredentialSource::Static => f.write_str("static credentials"),
            CredentialSource::AssumedRole { role_arn, from } => {
                write!(f, "role {role_arn}, assumed with {from}")
            }
            CredentialSource::Unknown => f.write_str("unknown source"),
        }
    }
}

/// The run's credentials provider, noting where the first credentials it hands out came
/// from. It sits under the SDK's identity cache, so it adds no call of its own.
#[derive(Debug)]
struct Observed {
    inner: SharedCredentialsProvider,
    seen: Arc<OnceLock<Vec<Feature>>>,
}

impl ProvideCredentials for Observed {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let creds = self.inner.provide_credentials().await?;
            let features = creds
                .get_property::<Vec<Feature>>()
                .cloned()
                .unwrap_or_default();
            let _ = self.seen.set(features);
            Ok(creds)
        })
    }
}

/// The shared config and credentials files, where the SDK looks for them.
struct ProfileFiles {
    config: PathBuf,
    credentials: PathBuf,
}

impl ProfileFiles {
    fn from_env() -> ProfileFiles {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from)
            .unwrap_or_default();
        let pick = |var: &str, default: &str| match std::env::var(var) {
            Ok(v) if !v.is_empty() => match v.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(v),
            },
            _ => home.join(".aws").join(default),
        };
        ProfileFiles {
            config: pick("AWS_CONFIG_FILE", "config"),
            credentials: pick("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        }
    }

    /// `Ok` when `name` is a profile of either file; otherwise one line naming both files
    /// and the profiles they do have.
    fn require(&self, name: &str) -> Result<(), AwsError> {
        let read = |p: &PathBuf, config: bool| {
            std::fs::read_to_string(p)
                .map(|t| profile_names(&t, config))
                .unwrap_or_default()
        };
        let mut names = read(&self.config, true);
        names.extend(read(&self.credentials, false));
        if names.iter().any(|n| n == name) {
            return Ok(());
        }
        names.sort();
        names.dedup();
        let known = if names.is_empty() {
            "they define no profile".to_string()
        } else {
            format!("profiles there: {}", names.join(", "))
        };
        Err(AwsError::new(
            ErrorKind::Config,
            "config:profile",
            format!(
                "profile '{name}' not found in {} (AWS_CONFIG_FILE) or {} (AWS_SHARED_CREDENTIALS_FILE); {known}",
                self.config.display(),
                self.credentials.display()
            ),
        ))
    }
}

/// The profile names a shared file defines: `[profile NAME]` and `[default]` in the config
/// file, `[NAME]` in the credentials file (SSO sessions and services are not profiles).
fn profile_names(text: &str, config: bool) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('[')?;
            let header = inner[..inner.find(']')?].trim();
            if !config {
                return Some(header.to_string());
            }
            if header == "default" {
                return Some(header.to_string());
            }
            let rest = header.strip_prefix("profile")?;
            rest.starts_with(char::is_whitespace)
                .then(|| rest.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_follow_each_file_s_syntax() {
        let config = "[default]\nregion = eu-west-1\n[profile prod-admin]\nsso_session = s\n[sso-session s]\n[ profile  spaced ] # note\n[profileless]\n";
        assert_eq!(
            profile_names(config, true),
            vec!["default", "prod-admin", "spaced"]
        );
        assert_eq!(
            profile_names("[dev]\naws_access_key_id = x\n[ other ]\n", false),
            vec!["dev", "other"]
        );
    }

    #[test]
    fn an_unknown_profile_names_both_files() {
        let dir = std::env::temp_dir().join(format!("cis-fix-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = ProfileFiles {
            config: dir.join("config"),
            credentials: dir.join("credentials"),
        };
        std::fs::write(&files.credentials, "[prod-admin]\n").unwrap();
        assert!(files.require("prod-admin").is_ok());
        let e = files.require("nope").unwrap_err().to_string();
        assert!(e.contains("profile 'nope' not found"), "{e}");
        assert!(e.contains(&files.config.display().to_string()), "{e}");
        assert!(e.contains(&files.credentials.display().to_string()), "{e}");
        assert!(e.contains("profiles there: prod-admin"), "{e}");
        assert!(!e.contains('\n'));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sources_are_named() {
        let env = CredentialSource::classify(&[Feature::CredentialsEnvVars], "default");
        assert_eq!(env, CredentialSource::Environment);
        let p = CredentialSource::classify(&[Feature::CredentialsProfile], "prod-admin");
        assert_eq!(p.to_string(), "profile prod-admin");
        let sso = CredentialSource::classify(
            &[Feature::CredentialsSso, Feature::CredentialsProfile],
            "prod-admin",
        );
        assert_eq!(sso.to_string(), "profile prod-admin (SSO)");
        let role = CredentialSource::classify(
            &[
                Feature::CredentialsProfile,
                Feature::CredentialsStsAssumeRole,
            ],
            "ops",
        );
        assert_eq!(role.to_string(), "profile ops (assumed role)");
        assert_eq!(
            CredentialSource::classify(&[Feature::CredentialsImds], "default"),
            CredentialSource::InstanceRole
        );
        assert_eq!(
            CredentialSource::classify(&[Feature::CredentialsProfileStsWebIdToken], "default"),
            CredentialSource::WebIdentity
        );
    }
}
