//! An interceptor that records every AWS operation a run sends, so the summary and the
//! benchmark can report API calls and tests can check that nothing is read twice.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The operations sent in this process, in order, as `service:Operation`.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
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
            let entry = format!("{}:{}", m.service().to_ascii_lowercase(), m.name());
            tracing::debug!(call = %entry, "aws call");
            if let Ok(mut v) = self.0.lock() {
                v.push(entry);
            }
        }
        Ok(())
    }
}
