//! What an instrumented handler's invocations record, resolved and validated once.

use serde_json::Value;

use super::InitializationType;
use super::redaction::{self, Captured, Redactor};
use crate::formats::emf::dimension::Dimension;

/// The settings of one instrumented handler that its invocations read.
#[derive(Debug)]
pub(crate) struct InvocationSettings {
    /// The service: `service` dimension and trace metadata namespace.
    pub(crate) service: String,
    /// The service when one was configured: the `Service` annotation.
    pub(crate) explicit_service: Option<String>,
    /// The default dimensions, then `service`: part of every invocation's dimension set.
    pub(crate) fixed_dimensions: Vec<Dimension>,
    pub(crate) initialization_type: InitializationType,
    /// Whether sampled invocations are traced.
    pub(crate) tracing: bool,
    pub(crate) capture_response: bool,
    pub(crate) capture_error: bool,
    pub(crate) capture_limit: usize,
    /// Sees the response or error before it is captured.
    pub(crate) redact: Option<Redactor>,
    /// `## <name>`.
    pub(crate) handler_subsegment_name: String,
    /// `<name> response`.
    pub(crate) response_key: String,
    /// `<name> error`.
    pub(crate) error_key: String,
    /// How long before its deadline a still running invocation writes its records; `None`:
    /// never.
    pub(crate) timeout_margin: Option<std::time::Duration>,
    /// Whether invocations measure the CPU time and memory the process used.
    pub(crate) resource_usage: bool,
}

impl InvocationSettings {
    /// `value` as the redaction hook leaves it (`None`: not captured).
    pub(crate) fn redacted(&self, kind: Captured, value: Value) -> Option<Value> {
        match &self.redact {
            Some(redactor) => redaction::redact_with(redactor, kind, value),
            None => Some(value),
        }
    }
}
