//! A client-side rate budget shared by every AWS call of a run (`--max-rps`), so a plan over
//! many regions and controls never starves the account's other users of API quota. It wraps
//! the SDK's default HTTPS client, so every request of every service passes through it,
//! retries included.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::time::Instant;

/// Requests per second a run may send by default.
pub const DEFAULT_MAX_RPS: u32 = 20;

/// Hands out send slots at most `rps` per second, in order.
#[derive(Debug, Clone)]
pub struct RateBudget {
    interval: Duration,
    next: Arc<Mutex<Option<Instant>>>,
}

impl RateBudget {
    pub fn new(rps: u32) -> Self {
        RateBudget {
            interval: Duration::from_secs(1) / rps.max(1),
            next: Arc::new(Mutex::new(None)),
        }
    }

    /// Wait for the next free slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[derive(Debug)]
struct BudgetedClient {
    inner: SharedHttpClient,
    budget: RateBudget,
}

#[derive(Debug)]
struct BudgetedConnector {
    inner: SharedHttpConnector,
    budget: RateBudget,
}

impl HttpConnector for BudgetedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, budget) = (self.inner.clone(), self.budget.clone());
        HttpConnectorFuture::new(async move {
            budget.acquire().await;
            inner.call(request).await
        })
    }
}

impl HttpClient for BudgetedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(BudgetedConnector {
            inner: self.inner.http_connector(settings, components),
            budget: self.budget.clone(),
        })
    }
}

/// The SDK's default HTTPS client (rustls with aws-lc), behind `budget`.
pub fn budgeted_client(budget: RateBudget) -> SharedHttpClient {
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https();
    SharedHttpClient::new(BudgetedClient { inner, budget })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_spaced_by_the_budget() {
        let b = RateBudget::new(10);
        let start = Instant::now();
        for _ in 0..5 {
            b.acquire().await;
        }
        // Five slots at 10/s: the fifth starts 400 ms after the first.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }
}
