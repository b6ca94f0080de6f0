//! The resolved configuration every service of a layer shares.

use std::sync::{Arc, OnceLock};

use crate::InitializationType;
use crate::metrics::EmfWriter;
use crate::metrics::dimension::Dimension;
use crate::start_tracker::StartTracker;
use crate::xray::SubsegmentSink;

/// Settings with defaults applied, validated, and the shared parts (tracker, writer).
pub(crate) struct PerfConfig {
    pub(crate) namespace: String,
    /// The service: `service` dimension and trace metadata namespace.
    pub(crate) service: String,
    /// The service when one was configured: the `Service` annotation.
    pub(crate) explicit_service: Option<String>,
    pub(crate) function_name: Option<String>,
    pub(crate) metrics_disabled: bool,
    pub(crate) cold_start_metric: bool,
    pub(crate) invocation_facts: bool,
    pub(crate) initialization_type: InitializationType,
    /// The default dimensions, then `service`: part of every invocation's dimension set.
    pub(crate) fixed_dimensions: Vec<Dimension>,
    pub(crate) writer: EmfWriter,
    pub(crate) tracker: Arc<StartTracker>,
    pub(crate) trace_disabled: bool,
    pub(crate) capture_response: bool,
    pub(crate) capture_error: bool,
    pub(crate) capture_limit: usize,
    /// The handler's name: `"<name> response"` metadata keys.
    pub(crate) handler_name: String,
    /// `## <name>`.
    pub(crate) handler_subsegment_name: String,
    pub(crate) xray_sink: Arc<dyn SubsegmentSink>,
}

impl std::fmt::Debug for PerfConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfConfig")
            .field("namespace", &self.namespace)
            .field("service", &self.service)
            .field("function_name", &self.function_name)
            .field("metrics_disabled", &self.metrics_disabled)
            .field("trace_disabled", &self.trace_disabled)
            .field("handler_subsegment_name", &self.handler_subsegment_name)
            .finish_non_exhaustive()
    }
}

impl PerfConfig {
    /// The configuration the environment gives, for metrics written outside any layer.
    pub(crate) fn process_default() -> Arc<Self> {
        static PROCESS: OnceLock<Arc<PerfConfig>> = OnceLock::new();
        Arc::clone(PROCESS.get_or_init(|| super::PerfLayer::from_env().config))
    }
}
