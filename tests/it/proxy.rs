//! A recording, fault-injecting proxy in front of the emulator: every request that reaches
//! it is logged with the operation it names, so tests can assert what cis-fix sent (e.g. that
//! `plan` only reads, and reads shared data once); and faults (throttling, 5xx, AccessDenied,
//! delays) can be injected per operation and region.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub access_key: String,
    /// The region of the SigV4 credential scope.
    pub region: String,
    /// The service of the SigV4 credential scope.
    pub service: String,
    /// `Action=` for query protocols, the `X-Amz-Target` operation for JSON protocols,
    /// otherwise `METHOD /path`.
    pub operation: String,
    /// When the request reached the proxy.
    pub at: std::time::Instant,
    /// The request's path and query, as sent (S3 names the bucket here, path style).
    pub path: String,
    /// The `x-amz-expected-bucket-owner` header, when sent.
    pub expected_bucket_owner: Option<String>,
    /// The request body as text (query-protocol parameters, JSON input).
    pub body: String,
}

/// What to do to a matching request instead of (or before) forwarding it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The service's throttling error (IAM/STS `Throttling`, EC2 `RequestLimitExceeded`).
    Throttle,
    /// A bare 5xx with no AWS error body.
    Status(u16),
    /// The service's access-denied error (EC2 `UnauthorizedOperation`, others `AccessDenied`).
    AccessDenied,
    /// An access-denied error with this message (an SCP's explicit deny names its policy).
    AccessDeniedWith(String),
    /// Forward after this long.
    Delay(std::time::Duration),
    /// Drop the connection without an answer.
    Reset,
    /// Answer 200 with this body and never forward: a write that "succeeds" but did nothing.
    FakeOk(&'static str),
}

#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Operation name (`GetAccountPasswordPolicy`); `None` matches every operation.
    pub operation: Option<String>,
    /// SigV4 scope region; `None` matches every region.
    pub region: Option<String>,
    pub fault: Fault,
    /// How many matching requests get the fault; `None` for all of them.
    pub times: Option<usize>,
    /// Of the matching requests, the percentage that get the fault (pseudo-random, seeded).
    pub percent: u32,
    /// Only requests made for this account: AssumeRole calls into it, and requests signed
    /// with the keys an AssumeRole into it returned (the proxy learns them as they pass).
    pub account: Option<String>,
}

impl FaultRule {
    pub fn new(operation: &str, region: Option<&str>, fault: Fault, times: Option<usize>) -> Self {
        FaultRule {
            operation: Some(operation.to_string()),
            region: region.map(str::to_string),
            fault,
            times,
            percent: 100,
            account: None,
        }
    }

    /// Every request made for `account` (see [`FaultRule::account`]).
    pub fn for_account(account: &str, operation: Option<&str>, fault: Fault) -> Self {
        FaultRule {
            operation: operation.map(str::to_string),
            region: None,
            fault,
            times: None,
            percent: 100,
            account: Some(account.to_string()),
        }
    }

    /// `percent`% of every request, whatever the operation or region.
    pub fn sometimes(fault: Fault, percent: u32) -> Self {
        FaultRule {
            operation: None,
            region: None,
            fault,
            times: None,
            percent,
            account: None,
        }
    }
}

pub struct Recorder {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    faults: Arc<Mutex<Vec<FaultRule>>>,
}

impl Recorder {
    pub fn inject(&self, rule: FaultRule) {
        self.faults.lock().unwrap().push(rule);
    }

    /// Wait (up to 5 s) until a request for `operation` signed with `access_key` has arrived.
    pub async fn wait_for(&self, access_key: &str, operation: &str) {
        for _ in 0..100 {
            if self.count(access_key, operation) > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no {operation} request reached the proxy");
    }

    /// Requests for `operation` signed with `access_key`.
    pub fn count(&self, access_key: &str, operation: &str) -> usize {
        self.calls_by(access_key)
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// Requests signed with `access_key`.
    pub fn calls_by(&self, access_key: &str) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.access_key == access_key)
            .cloned()
            .collect()
    }
}

fn parse(req: &hyper::http::request::Parts, body: &[u8]) -> Recorded {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Credential=AKID/20260101/eu-west-1/iam/aws4_request
    let scope: Vec<&str> = auth
        .split("Credential=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
        .split('/')
        .collect();
    let body = String::from_utf8_lossy(body);
    let action = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(str::to_string)
        .or_else(|| {
            req.headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.rsplit('.').next())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("{} {}", req.method, req.uri.path()));
    Recorded {
        access_key: scope.first().copied().unwrap_or("").to_string(),
        region: scope.get(2).copied().unwrap_or("").to_string(),
        service: scope.get(3).copied().unwrap_or("").to_string(),
        operation: action,
        at: std::time::Instant::now(),
        path: req
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        expected_bucket_owner: req
            .headers
            .get("x-amz-expected-bucket-owner")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.to_string(),
    }
}

/// The account a request is made for: the one an AssumeRole names, or the one whose
/// AssumeRole answer handed out the request's key.
fn account_of(r: &Recorded, keys: &Mutex<Vec<(String, String)>>) -> Option<String> {
    if r.operation == "AssumeRole" {
        return assumed_account(&r.body);
    }
    keys.lock()
        .unwrap()
        .iter()
        .find(|(k, _)| *k == r.access_key)
        .map(|(_, a)| a.clone())
}

/// `RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole...` → `111111111111`.
fn assumed_account(body: &str) -> Option<String> {
    let arn = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("RoleArn="))?
        .replace("%3A", ":");
    arn.split(':').nth(4).map(str::to_string)
}

/// The fault that applies to `r`, if any (using up one of its `times`).
fn take_fault(
    faults: &Mutex<Vec<FaultRule>>,
    r: &Recorded,
    account: Option<&str>,
) -> Option<Fault> {
    static DRAWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x9e37_79b9);
    let mut rules = faults.lock().unwrap();
    let rule = rules.iter_mut().find(|f| {
        f.operation.as_deref().is_none_or(|o| o == r.operation)
            && f.region.as_deref().is_none_or(|g| g == r.region)
            && f.account.as_deref().is_none_or(|a| Some(a) == account)
            // An account's rule for every operation leaves its STS identity calls alone, as
            // an SCP does (AssumeRole into it and GetCallerIdentity cannot be denied by one).
            && !(f.account.is_some()
                && f.operation.is_none()
                && ["AssumeRole", "GetCallerIdentity"].contains(&r.operation.as_str()))
            && f.times != Some(0)
            && (f.percent >= 100 || {
                // A small deterministic mixer: the same test draws the same sequence.
                let n =
                    DRAWS.fetch_add(0x9e37_79b9_7f4a_7c15, std::sync::atomic::Ordering::Relaxed);
                let x = (n ^ (n >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                ((x >> 33) % 100) < u64::from(f.percent)
            })
    })?;
    if let Some(n) = rule.times.as_mut() {
        *n -= 1;
    }
    Some(rule.fault.clone())
}

/// An AWS-shaped error response for the request's protocol.
fn error_response(r: &Recorded, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = if r.service == "ec2" {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault-1</RequestID></Response>")
    } else {
        format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-1</RequestId></ErrorResponse>")
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn fault_response(r: &Recorded, f: &Fault) -> Option<Response<Full<Bytes>>> {
    match f {
        Fault::Throttle if r.service == "ec2" => Some(error_response(
            r,
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        )),
        Fault::Throttle => Some(error_response(r, 400, "Throttling", "Rate exceeded")),
        Fault::AccessDenied if r.service == "ec2" => Some(error_response(
            r,
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        )),
        Fault::AccessDenied => Some(error_response(
            r,
            403,
            "AccessDenied",
            "User is not authorized to perform this action",
        )),
        Fault::AccessDeniedWith(message) => Some(error_response(
            r,
            403,
            if r.service == "ec2" {
                "UnauthorizedOperation"
            } else {
                "AccessDenied"
            },
            message,
        )),
        Fault::Status(code) => Some(
            Response::builder()
                .status(*code)
                .body(Full::new(Bytes::from_static(b"injected failure")))
                .unwrap(),
        ),
        Fault::FakeOk(body) => Some(
            Response::builder()
                .status(200)
                .header("content-type", "text/xml")
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap(),
        ),
        Fault::Delay(_) | Fault::Reset => None,
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// One request: record it, apply a fault if one matches, else forward it upstream.
async fn handle(
    req: Request<Incoming>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    log: Shared<Vec<Recorded>>,
    faults: Shared<Vec<FaultRule>>,
    keys: Shared<Vec<(String, String)>>,
    upstream: String,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let rec = parse(&parts, &bytes);
    log.lock().unwrap().push(rec.clone());
    let account = account_of(&rec, &keys);
    if let Some(f) = take_fault(&faults, &rec, account.as_deref()) {
        match f {
            Fault::Delay(d) => tokio::time::sleep(d).await,
            // An error from the service makes hyper drop the connection unanswered.
            Fault::Reset => {
                return Err(Box::new(std::io::Error::other("injected connection reset")))
            }
            _ => {
                if let Some(resp) = fault_response(&rec, &f) {
                    return Ok(resp);
                }
            }
        }
    }
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut fwd = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{upstream}{pq}"));
    for (k, v) in parts.headers.iter() {
        fwd = fwd.header(k, v);
    }
    Ok(
        match client.request(fwd.body(Full::new(bytes)).unwrap()).await {
            Ok(r) => {
                let (p, b) = r.into_parts();
                let b = b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                // Learn which account an assumed role's key belongs to.
                if let (Some(a), true) = (&account, rec.operation == "AssumeRole") {
                    let text = String::from_utf8_lossy(&b);
                    if let Some(key) = text
                        .split("<AccessKeyId>")
                        .nth(1)
                        .and_then(|t| t.split('<').next())
                    {
                        keys.lock().unwrap().push((key.to_string(), a.clone()));
                    }
                }
                Response::from_parts(p, Full::new(b))
            }
            Err(e) => Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(e.to_string())))
                .unwrap(),
        },
    )
}

/// Start a proxy to `upstream` on a free loopback port, on its own thread and runtime so it
/// keeps serving while a test blocks on the binary.
pub fn start(upstream: &str) -> Recorder {
    let log = Arc::new(Mutex::new(Vec::new()));
    let faults: Shared<Vec<FaultRule>> = Arc::new(Mutex::new(Vec::new()));
    let keys: Shared<Vec<(String, String)>> = Arc::new(Mutex::new(Vec::new()));
    let upstream = upstream.trim_end_matches('/').to_string();
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (thread_log, thread_faults, thread_keys) = (log.clone(), faults.clone(), keys.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (client, log, faults, keys, upstream) = (
                    client.clone(),
                    thread_log.clone(),
                    thread_faults.clone(),
                    thread_keys.clone(),
                    upstream.clone(),
                );
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        handle(
                            req,
                            client.clone(),
                            log.clone(),
                            faults.clone(),
                            keys.clone(),
                            upstream.clone(),
                        )
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    let addr = rx.recv().expect("proxy started");
    Recorder {
        url: format!("http://{addr}"),
        log,
        faults,
    }
}
