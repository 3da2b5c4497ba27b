//! A recording proxy in front of the emulator: every request that reaches it is logged with
//! the operation it names, so tests can assert what cis-fix sent (e.g. that `plan` only
//! reads, and reads shared data once).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

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
}

pub struct Recorder {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
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
    }
}

/// Start a proxy to `upstream` on a free loopback port, on its own thread and runtime so it
/// keeps serving while a test blocks on the binary.
pub fn start(upstream: &str) -> Recorder {
    let log = Arc::new(Mutex::new(Vec::new()));
    let upstream = upstream.trim_end_matches('/').to_string();
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    let thread_log = log.clone();
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
                let (client, log, upstream) =
                    (client.clone(), thread_log.clone(), upstream.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (client, log, upstream) =
                            (client.clone(), log.clone(), upstream.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let bytes = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            log.lock().unwrap().push(parse(&parts, &bytes));
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
                            let resp = match client
                                .request(fwd.body(Full::new(bytes)).unwrap())
                                .await
                            {
                                Ok(r) => {
                                    let (p, b) = r.into_parts();
                                    let b =
                                        b.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                    Response::from_parts(p, Full::new(b))
                                }
                                Err(e) => Response::builder()
                                    .status(502)
                                    .body(Full::new(Bytes::from(e.to_string())))
                                    .unwrap(),
                            };
                            Ok::<_, Infallible>(resp)
                        }
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
    }
}
