//! Request budgets where AWS has them. AWS does not throttle an account with one global
//! number: EC2 throttles per region (and per action), CloudTrail, Config, Logs and KMS per
//! region, IAM, STS, Organizations and S3's control plane per account. So a run has one token
//! bucket per (service, region), one per account for global services, each refilled
//! continuously with a burst (defaults in [`DEFAULTS`], sources in `docs/rate-limits.md`).
//!
//! Every request of every service passes through here: the budgets wrap the SDK's HTTPS
//! client, and read the service and region from the request's SigV4 credential scope, so
//! nothing upstream has to say which budget it spends. On a throttling answer the bucket that
//! answered halves its rate and then recovers additively with each success (AIMD): the only
//! adaptive mechanism of a run (the SDK's own adaptive retry mode is never used, so the two
//! cannot fight; its standard mode only spaces the retries of one call). `--max-rps` adds one
//! optional overall cap on top.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use tokio::time::Instant;

/// A service's default budget: `rate` requests per second, refilled continuously, and up to
/// `burst` at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

impl Limit {
    pub const fn new(rate: f64, burst: f64) -> Limit {
        Limit { rate, burst }
    }
}

/// Budgets by SigV4 signing name, set well inside what AWS documents for the read actions
/// cis-fix makes (`docs/rate-limits.md` gives each figure with its source). A service not
/// listed gets [`FALLBACK`].
pub const DEFAULTS: &[(&str, Limit)] = &[
    ("ec2", Limit::new(5.0, 25.0)),
    ("iam", Limit::new(20.0, 40.0)),
    ("sts", Limit::new(20.0, 40.0)),
    ("organizations", Limit::new(2.0, 4.0)),
    ("account", Limit::new(1.0, 2.0)),
    // Per region: a bucket's calls go to its own region's endpoint (docs/rate-limits.md).
    ("s3", Limit::new(50.0, 100.0)),
    ("cloudtrail", Limit::new(5.0, 5.0)),
    ("config", Limit::new(2.0, 5.0)),
    ("logs", Limit::new(2.0, 5.0)),
    ("monitoring", Limit::new(4.0, 4.0)),
    ("sns", Limit::new(10.0, 10.0)),
    ("kms", Limit::new(50.0, 100.0)),
    ("securityhub", Limit::new(5.0, 15.0)),
    ("access-analyzer", Limit::new(2.0, 5.0)),
    ("rds", Limit::new(2.0, 5.0)),
    ("elasticfilesystem", Limit::new(2.0, 5.0)),
    ("macie2", Limit::new(2.0, 5.0)),
];

/// `SERVICE=RATE` or `SERVICE=RATE/BURST` (`--rate-limit`, `rate_limits` in cis-fix.toml):
/// a service's budget set to the account's own figure (Service Quotas shows raised quotas),
/// in requests per second; the burst is twice the rate unless given. `Err`: one line saying
/// what is wrong.
pub fn parse_limit(s: &str) -> Result<(String, Limit), String> {
    let Some((service, value)) = s.split_once('=') else {
        return Err(format!(
            "'{s}' is not SERVICE=RATE (requests per second, e.g. iam=20 or s3=50/100)"
        ));
    };
    let service = service.trim();
    if !DEFAULTS.iter().any(|(n, _)| *n == service) {
        let names: Vec<&str> = DEFAULTS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "'{service}' is not a service cis-fix budgets (one of: {})",
            names.join(", ")
        ));
    }
    let (rate, burst) = match value.split_once('/') {
        Some((r, b)) => (r, Some(b)),
        None => (value, None),
    };
    let rate: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0 && *r <= 1000.0)
        .ok_or_else(|| {
            format!("{service}: rate '{}' is not a number of requests per second above 0 and at most 1000", rate.trim())
        })?;
    let burst = match burst {
        None => (rate * 2.0).max(1.0),
        Some(b) => b
            .trim()
            .parse()
            .ok()
            .filter(|b: &f64| b.is_finite() && *b >= 1.0 && *b <= 10_000.0)
            .ok_or_else(|| {
                format!(
                    "{service}: burst '{}' is not a number of requests from 1 to 10000",
                    b.trim()
                )
            })?,
    };
    Ok((service.to_string(), Limit::new(rate, burst)))
}

/// The budget of a service the table does not name.
pub const FALLBACK: Limit = Limit::new(2.0, 5.0);

/// Services AWS throttles per account, whatever region signs the request.
const GLOBAL: &[&str] = &[
    "iam",
    "sts",
    "organizations",
    "account",
    "cloudfront",
    "route53",
];

/// A throttled bucket never drops below this share of its default rate.
const FLOOR_SHARE: f64 = 1.0 / 16.0;
/// Each success gives back this share of the default rate.
const RECOVERY_SHARE: f64 = 1.0 / 50.0;

/// Which budget a request spends: a service and a region, or `global`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BudgetKey {
    pub service: String,
    pub region: String,
}

impl std::fmt::Display for BudgetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.service, self.region)
    }
}

impl BudgetKey {
    /// From the SigV4 `Authorization` header: `... Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
    pub fn from_authorization(header: &str) -> Option<BudgetKey> {
        let scope = header.split("Credential=").nth(1)?;
        let scope = scope.split([',', ' ']).next()?;
        let mut parts = scope.split('/').skip(2);
        let region = parts.next()?;
        let service = parts.next()?;
        if service.is_empty() || region.is_empty() {
            return None;
        }
        let region = if GLOBAL.contains(&service) {
            "global"
        } else {
            region
        };
        Some(BudgetKey {
            service: service.to_string(),
            region: region.to_string(),
        })
    }
}

/// One token bucket, as a virtual schedule (GCRA): each request reserves the next free
/// slot, so waiting requests go out in order and a quiet bucket lets `burst` out at once.
#[derive(Debug)]
struct Bucket {
    default: Limit,
    state: Mutex<BucketState>,
}

#[derive(Debug, Default)]
struct BucketState {
    rate: f64,
    /// The theoretical arrival time of the next request at the current rate.
    tat: Option<Instant>,
    sent: u64,
    throttled: u64,
    waited: Duration,
    /// Time between sending and the answer, summed over this bucket's requests.
    busy: Duration,
    lowest_rate: f64,
}

impl Bucket {
    fn new(default: Limit) -> Bucket {
        Bucket {
            default,
            state: Mutex::new(BucketState {
                rate: default.rate,
                lowest_rate: default.rate,
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserve a send slot; the caller sleeps until it.
    fn reserve(&self, now: Instant) -> Instant {
        let mut s = self.lock();
        let interval = Duration::from_secs_f64(1.0 / s.rate);
        let tolerance = interval.mul_f64((self.default.burst - 1.0).max(0.0));
        let tat = s.tat.map_or(now, |t| t.max(now));
        let slot = tat.checked_sub(tolerance).map_or(now, |t| t.max(now));
        s.tat = Some(tat + interval);
        s.sent += 1;
        s.waited += slot - now;
        slot
    }

    /// AWS said "throttled": halve the rate and push the schedule back by one new interval.
    fn throttled(&self, now: Instant) -> f64 {
        let mut s = self.lock();
        s.rate = (s.rate / 2.0).max(self.default.rate * FLOOR_SHARE);
        s.lowest_rate = s.lowest_rate.min(s.rate);
        let interval = Duration::from_secs_f64(1.0 / s.rate);
        s.tat = Some(s.tat.map_or(now, |t| t.max(now)) + interval);
        s.throttled += 1;
        s.rate
    }

    fn succeeded(&self) {
        self.answered(Duration::ZERO, true);
    }

    /// A request came back after `rtt`; a success gives back some of a backed-off rate.
    fn answered(&self, rtt: Duration, success: bool) {
        let mut s = self.lock();
        s.busy += rtt;
        if success && s.rate < self.default.rate {
            s.rate = (s.rate + self.default.rate * RECOVERY_SHARE).min(self.default.rate);
        }
    }
}

/// What one budget did in a run (for `-v` logs and the benchmark).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetUse {
    pub key: BudgetKey,
    pub limit: Limit,
    pub sent: u64,
    pub throttled: u64,
    pub waited: Duration,
    /// Round trips (send to answer), summed.
    pub busy: Duration,
    pub lowest_rate: f64,
}

/// Every budget of a run, created on first use.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    inner: Arc<BudgetsInner>,
}

#[derive(Debug, Default)]
struct BudgetsInner {
    buckets: Mutex<HashMap<BudgetKey, Arc<Bucket>>>,
    /// `--max-rps`: one cap over every account of the run.
    overall: Option<Arc<Bucket>>,
    /// Per-service overrides of [`DEFAULTS`] (tests, and `rate_limits` in cis-fix.toml).
    overrides: HashMap<String, Limit>,
    /// Every round trip of the run, in microseconds (the benchmark's floor is their median).
    round_trips: Mutex<Vec<u32>>,
    /// Requests in flight to each endpoint (host and port): [`IN_FLIGHT_PER_ENDPOINT`].
    endpoints: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// The limit of each endpoint ([`Budgets::in_flight`]).
    in_flight: usize,
}

/// Requests in flight to one endpoint (host and port) at most. More would only queue at that
/// endpoint, each holding a connection and its buffers. On AWS each service and region is an
/// endpoint of its own, so the budgets pace a run, not this; it bounds a run against one
/// endpoint for everything (an emulator, a proxy), where a plan of every region would
/// otherwise open hundreds of connections at once.
pub const IN_FLIGHT_PER_ENDPOINT: usize = 32;

impl Budgets {
    /// Budgets at their defaults, under an overall cap of `max_rps` when given.
    pub fn new(max_rps: Option<u32>) -> Budgets {
        Budgets::with_overrides(max_rps, HashMap::new())
    }

    pub fn with_overrides(max_rps: Option<u32>, overrides: HashMap<String, Limit>) -> Budgets {
        Budgets {
            inner: Arc::new(BudgetsInner {
                buckets: Mutex::new(HashMap::new()),
                overall: max_rps.map(|r| {
                    Arc::new(Bucket::new(Limit {
                        rate: f64::from(r.max(1)),
                        burst: 1.0,
                    }))
                }),
                overrides,
                round_trips: Mutex::new(Vec::new()),
                endpoints: Mutex::new(HashMap::new()),
                in_flight: IN_FLIGHT_PER_ENDPOINT,
            }),
        }
    }

    /// These budgets with at most `n` requests in flight to one endpoint (`--concurrency`:
    /// 1 sends one request at a time), within [`IN_FLIGHT_PER_ENDPOINT`]. Before any request.
    pub fn in_flight(mut self, n: usize) -> Budgets {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.in_flight = n.clamp(1, IN_FLIGHT_PER_ENDPOINT);
        }
        self
    }

    /// Budgets for another account of the same run: fresh buckets (each account has its own
    /// AWS limits), the same overrides, and the same overall cap.
    pub fn for_another_account(&self) -> Budgets {
        Budgets {
            inner: Arc::new(BudgetsInner {
                buckets: Mutex::new(HashMap::new()),
                overall: self.inner.overall.clone(),
                overrides: self.inner.overrides.clone(),
                round_trips: Mutex::new(Vec::new()),
                endpoints: Mutex::new(HashMap::new()),
                in_flight: self.inner.in_flight,
            }),
        }
    }

    /// The default budget of a service (by signing name).
    pub fn limit_of(&self, service: &str) -> Limit {
        self.inner
            .overrides
            .get(service)
            .copied()
            .or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(s, _)| *s == service)
                    .map(|(_, l)| *l)
            })
            .unwrap_or(FALLBACK)
    }

    /// The in-flight limit of the endpoint `uri` is sent to.
    fn endpoint(&self, uri: &str) -> Arc<tokio::sync::Semaphore> {
        let mut map = self
            .inner
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(authority(uri).to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.inner.in_flight)))
            .clone()
    }

    fn bucket(&self, key: &BudgetKey) -> Arc<Bucket> {
        let mut map = self.inner.buckets.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.clone())
            .or_insert_with(|| Arc::new(Bucket::new(self.limit_of(&key.service))))
            .clone()
    }

    /// Wait for a slot in `key`'s budget (and the overall cap). Returns how long it waited.
    pub async fn acquire(&self, key: Option<&BudgetKey>) -> Duration {
        let bucket = key.map(|k| self.bucket(k));
        self.wait(bucket.as_deref()).await
    }

    /// Wait for a slot in `bucket` (and the overall cap).
    async fn wait(&self, bucket: Option<&Bucket>) -> Duration {
        let now = Instant::now();
        let mut slot = now;
        if let Some(b) = bucket {
            slot = slot.max(b.reserve(now));
        }
        if let Some(all) = &self.inner.overall {
            slot = slot.max(all.reserve(now));
        }
        tokio::time::sleep_until(slot).await;
        slot - now
    }

    /// AWS throttled a request of `key`: back that budget off. Returns its new rate.
    pub fn throttled(&self, key: &BudgetKey) -> f64 {
        self.bucket(key).throttled(Instant::now())
    }

    pub fn succeeded(&self, key: &BudgetKey) {
        self.bucket(key).succeeded();
    }

    /// Note a round trip for the run's median.
    fn record_round_trip(&self, rtt: Duration) {
        if let Ok(mut v) = self.inner.round_trips.lock() {
            v.push(u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX));
        }
    }

    /// The median round trip (send to answer) of the run's requests so far.
    pub fn median_round_trip(&self) -> Option<Duration> {
        median_of(self.round_trips_us())
    }

    /// Every round trip so far, in microseconds.
    pub fn round_trips_us(&self) -> Vec<u32> {
        self.inner
            .round_trips
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

/// The median of round trips in microseconds (several runs' budgets pooled).
pub fn median_of(mut v: Vec<u32>) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(Duration::from_micros(u64::from(v[v.len() / 2])))
}

impl Budgets {
    /// What each budget did so far, by key.
    pub fn usage(&self) -> Vec<BudgetUse> {
        let map = self.inner.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let sorted: BTreeMap<&BudgetKey, &Arc<Bucket>> = map.iter().collect();
        sorted
            .into_iter()
            .map(|(k, b)| {
                let s = b.lock();
                BudgetUse {
                    key: k.clone(),
                    limit: b.default,
                    sent: s.sent,
                    throttled: s.throttled,
                    waited: s.waited,
                    busy: s.busy,
                    lowest_rate: s.lowest_rate,
                }
            })
            .collect()
    }
}

/// The error codes AWS services use for "slow down" (the SDK's retry classifier's list).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Whether an error answer says "throttled": HTTP 429, the `x-amzn-ErrorType` header of JSON
/// protocols, or the `<Code>` / `__type` of the body.
fn is_throttling(status: u16, error_type: Option<&str>, body: &[u8]) -> bool {
    if status == 429 {
        return true;
    }
    let named = |code: &str| THROTTLING_CODES.contains(&code);
    if let Some(t) = error_type {
        let code = t.split(':').next().unwrap_or(t);
        return named(code.rsplit('#').next().unwrap_or(code));
    }
    let text = String::from_utf8_lossy(body);
    if let Some(code) = between(&text, "<Code>", "</Code>") {
        return named(code.trim());
    }
    if let Some(rest) = text.split("\"__type\"").nth(1) {
        let v = rest.split('"').nth(1).unwrap_or("");
        return named(v.rsplit('#').next().unwrap_or(v));
    }
    false
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

#[derive(Debug)]
struct BudgetedClient {
    inner: SharedHttpClient,
    budgets: Budgets,
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budgets: Budgets,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, budgets) = (self.inner.clone(), self.budgets.clone());
        HttpConnectorFuture::new(async move {
            let key = request
                .headers()
                .get("authorization")
                .and_then(BudgetKey::from_authorization);
            // One lookup per request: the bucket is kept for the answer.
            let bucket = key.as_ref().map(|k| budgets.bucket(k));
            let waited = budgets.wait(bucket.as_deref()).await;
            // After the budget: a request waiting on its budget holds no place at the endpoint.
            let endpoint = budgets.endpoint(request.uri());
            let permit = endpoint.acquire().await.ok();
            let sent = Instant::now();
            let response = inner.call(request).await?;
            drop(permit);
            let (Some(key), Some(bucket)) = (key, bucket) else {
                return Ok(response);
            };
            let rtt = sent.elapsed();
            budgets.record_round_trip(rtt);
            let status = response.status().as_u16();
            bucket.answered(rtt, status < 400);
            if status < 400 {
                return Ok(response);
            }
            if status != 400 && status != 429 && status != 503 {
                return Ok(response);
            }
            // An error answer is small: read it to see whether it says "throttled", then
            // hand the SDK the same bytes.
            let (response, body) = buffer_body(response).await;
            let error_type = response
                .headers()
                .get("x-amzn-errortype")
                .map(str::to_string);
            if is_throttling(status, error_type.as_deref(), &body) || status == 503 {
                let rate = bucket.throttled(Instant::now());
                tracing::info!(
                    target: "cis_fix::budget",
                    budget = %key,
                    waited_ms = waited.as_millis() as u64,
                    new_rate = format!("{rate:.2}/s"),
                    "AWS throttled a request; its budget backs off"
                );
            }
            Ok(response)
        })
    }
}

/// `https://ec2.eu-west-1.amazonaws.com/path?q` → `ec2.eu-west-1.amazonaws.com`.
fn authority(uri: &str) -> &str {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

async fn buffer_body(mut response: HttpResponse) -> (HttpResponse, Vec<u8>) {
    let body = response.take_body();
    let bytes = match ByteStream::new(body).collect().await {
        Ok(b) => b.into_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    *response.body_mut() = SdkBody::from(bytes.clone());
    (response, bytes)
}

impl HttpClient for BudgetedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budgets: self.budgets.clone(),
        })
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc), behind `budgets`.
pub fn budgeted_client(budgets: Budgets) -> SharedHttpClient {
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https();
    SharedHttpClient::new(BudgetedClient { inner, budgets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str, r: &str) -> BudgetKey {
        BudgetKey {
            service: s.into(),
            region: r.into(),
        }
    }

    #[test]
    fn the_scope_names_the_budget() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20261130/eu-west-1/ec2/aws4_request, SignedHeaders=host, Signature=ab";
        assert_eq!(
            BudgetKey::from_authorization(h),
            Some(key("ec2", "eu-west-1"))
        );
        let iam = "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/iam/aws4_request,SignedHeaders=host,Signature=ab";
        assert_eq!(
            BudgetKey::from_authorization(iam),
            Some(key("iam", "global"))
        );
        let s3 = "AWS4-HMAC-SHA256 Credential=AKID/20261130/eu-central-1/s3/aws4_request, SignedHeaders=host, Signature=ab";
        assert_eq!(
            BudgetKey::from_authorization(s3),
            Some(key("s3", "eu-central-1"))
        );
        assert_eq!(BudgetKey::from_authorization("Bearer x"), None);
    }

    #[test]
    fn an_endpoint_is_its_host_and_port() {
        assert_eq!(
            authority("https://ec2.eu-west-1.amazonaws.com/?Action=X"),
            "ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            authority("http://127.0.0.1:5000/b?tagging"),
            "127.0.0.1:5000"
        );
        assert_eq!(authority("http://127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[tokio::test]
    async fn one_endpoint_has_a_bounded_number_of_requests_in_flight() {
        let b = Budgets::new(None);
        let e = b.endpoint("http://127.0.0.1:5000/x");
        assert!(Arc::ptr_eq(&e, &b.endpoint("http://127.0.0.1:5000/?y")));
        assert!(!Arc::ptr_eq(&e, &b.endpoint("http://127.0.0.1:5001/x")));
        let held: Vec<_> = (0..IN_FLIGHT_PER_ENDPOINT)
            .map(|_| e.clone().try_acquire_owned().unwrap())
            .collect();
        assert!(e.try_acquire().is_err(), "the next one waits");
        drop(held);
        assert!(e.try_acquire().is_ok());
        let one = Budgets::new(None).in_flight(1).endpoint("http://h/");
        let _held = one.try_acquire().unwrap();
        assert!(one.try_acquire().is_err(), "--concurrency 1: one at a time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_bucket_lets_its_burst_out_then_paces_at_its_rate() {
        let mut o = HashMap::new();
        o.insert(
            "ec2".to_string(),
            Limit {
                rate: 10.0,
                burst: 5.0,
            },
        );
        let b = Budgets::with_overrides(None, o);
        let k = key("ec2", "eu-west-1");
        let start = Instant::now();
        for _ in 0..5 {
            b.acquire(Some(&k)).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..5 {
            b.acquire(Some(&k)).await;
        }
        // Then 10 per second: five more take 500 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn regions_and_services_do_not_share_a_budget() {
        let mut o = HashMap::new();
        for s in ["ec2", "kms"] {
            o.insert(
                s.to_string(),
                Limit {
                    rate: 1.0,
                    burst: 1.0,
                },
            );
        }
        let b = Budgets::with_overrides(None, o);
        let start = Instant::now();
        b.acquire(Some(&key("ec2", "eu-west-1"))).await;
        b.acquire(Some(&key("ec2", "us-east-1"))).await;
        b.acquire(Some(&key("kms", "eu-west-1"))).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        b.acquire(Some(&key("ec2", "eu-west-1"))).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_overall_cap_spaces_every_request() {
        let b = Budgets::new(Some(10));
        let start = Instant::now();
        for r in [
            "eu-west-1",
            "us-east-1",
            "eu-central-1",
            "ap-south-1",
            "sa-east-1",
        ] {
            b.acquire(Some(&key("ec2", r))).await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_successes_bring_it_back() {
        let b = Budgets::new(None);
        let k = key("iam", "global");
        let default = DEFAULTS.iter().find(|(n, _)| *n == "iam").unwrap().1.rate;
        assert_eq!(b.throttled(&k), default / 2.0);
        assert_eq!(b.throttled(&k), default / 4.0);
        for _ in 0..200 {
            b.succeeded(&k);
        }
        let u = b.usage();
        assert_eq!(u[0].throttled, 2);
        assert_eq!(u[0].lowest_rate, default / 4.0);
        assert_eq!(b.bucket(&k).lock().rate, default, "recovered, never above");
        for _ in 0..20 {
            b.throttled(&k);
        }
        assert_eq!(
            b.bucket(&k).lock().rate,
            default * FLOOR_SHARE,
            "never below"
        );
    }

    #[test]
    fn throttling_answers_are_recognised_in_every_protocol() {
        assert!(is_throttling(429, None, b""));
        assert!(is_throttling(
            400,
            Some("ThrottlingException:http://internal.amazon.com/coral/"),
            b""
        ));
        assert!(is_throttling(
            400,
            None,
            b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"
        ));
        assert!(is_throttling(
            503,
            None,
            b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>"
        ));
        assert!(is_throttling(
            400,
            None,
            br#"{"__type":"com.amazonaws.kms#ThrottlingException","message":"x"}"#
        ));
        assert!(!is_throttling(
            400,
            None,
            b"<ErrorResponse><Error><Code>NoSuchEntity</Code></Error></ErrorResponse>"
        ));
        assert!(!is_throttling(403, Some("AccessDeniedException"), b""));
    }

    #[test]
    fn a_rate_limit_names_a_budgeted_service_and_a_sane_rate() {
        assert_eq!(
            parse_limit("iam=20"),
            Ok(("iam".to_string(), Limit::new(20.0, 40.0)))
        );
        assert_eq!(
            parse_limit("s3=50/80"),
            Ok(("s3".to_string(), Limit::new(50.0, 80.0)))
        );
        assert_eq!(
            parse_limit("iam=0.5"),
            Ok(("iam".to_string(), Limit::new(0.5, 1.0)))
        );
        for bad in [
            "iam", "iam=", "iam=0", "iam=-1", "iam=x", "iam=2000", "iam=5/0", "nope=5", "=5",
            "iam=nan",
        ] {
            let e = parse_limit(bad).expect_err(bad);
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(parse_limit("nope=5")
            .unwrap_err()
            .contains("one of: ec2, iam"));
    }
}
