//! An interceptor that records every AWS operation a run sends, so the summary and the
//! benchmark can report API calls (in total, per operation and per control) and tests can
//! check that nothing is read twice.
//!
//! A call is charged to the control whose read is running in the current task
//! ([`charged_to`]); a read shared between controls is charged to the first one that asked.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

tokio::task_local! {
    static CONTROL: Arc<str>;
}

/// Run `f` with every AWS call it makes charged to `control`.
pub async fn charged_to<F: Future>(control: &str, f: F) -> F::Output {
    CONTROL.scope(Arc::from(control), f).await
}

/// One call: `service:Operation`, and the control it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub operation: String,
    pub control: Option<Arc<str>>,
}

/// The operations sent in this process, in order.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    first_at: OnceLock<Instant>,
}

impl CallLog {
    /// Every call, as `service:Operation`.
    pub fn calls(&self) -> Vec<String> {
        self.entries().into_iter().map(|c| c.operation).collect()
    }

    pub fn entries(&self) -> Vec<Call> {
        self.0.calls.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.0.calls.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// When the first call of the run was sent.
    pub fn first_call_at(&self) -> Option<Instant> {
        self.0.first_at.get().copied()
    }

    /// Calls per control (`-` for calls outside any control: identity, regions).
    pub fn per_control(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in self.entries() {
            *out.entry(c.control.as_deref().unwrap_or("-").to_string())
                .or_default() += 1;
        }
        out
    }

    /// Calls per operation.
    pub fn per_operation(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in self.entries() {
            *out.entry(c.operation).or_default() += 1;
        }
        out
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "cis-fix-call-log"
    }

    // Not read_before_execution: client interceptors run that before the operation's
    // metadata is in the config bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            let operation = format!("{}:{}", m.service().to_ascii_lowercase(), m.name());
            let control = CONTROL.try_with(Arc::clone).ok();
            tracing::debug!(call = %operation, control = control.as_deref().unwrap_or("-"), "aws call");
            let _ = self.0.first_at.set(Instant::now());
            if let Ok(mut v) = self.0.calls.lock() {
                v.push(Call { operation, control });
            }
        }
        Ok(())
    }
}
