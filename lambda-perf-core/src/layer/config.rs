//! The resolved configuration every service of a layer shares.

use std::sync::{Arc, OnceLock};

use crate::InitializationType;
use crate::metrics::EmfWriter;
use crate::metrics::dimension::Dimension;
use crate::start_tracker::StartTracker;

/// Settings with defaults applied, validated, and the shared parts (tracker, writer).
#[derive(Debug)]
pub(crate) struct PerfConfig {
    pub(crate) namespace: String,
    pub(crate) service: String,
    pub(crate) function_name: Option<String>,
    pub(crate) metrics_disabled: bool,
    pub(crate) cold_start_metric: bool,
    pub(crate) invocation_facts: bool,
    pub(crate) initialization_type: InitializationType,
    /// The default dimensions, then `service`: part of every invocation's dimension set.
    pub(crate) fixed_dimensions: Vec<Dimension>,
    pub(crate) writer: EmfWriter,
    pub(crate) tracker: Arc<StartTracker>,
}

impl PerfConfig {
    /// The configuration the environment gives, for metrics written outside any layer.
    pub(crate) fn process_default() -> Arc<Self> {
        static PROCESS: OnceLock<Arc<PerfConfig>> = OnceLock::new();
        Arc::clone(PROCESS.get_or_init(|| super::PerfLayer::from_env().config))
    }
}
