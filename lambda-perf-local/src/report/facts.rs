//! The `lambda_perf` facts a function reports about each invocation, in its EMF lines and in
//! the metadata of its handler subsegment.

use std::collections::HashMap;

use serde_json::Value;

/// What the function told about one invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Facts {
    pub(crate) start_kind: Option<String>,
    /// The invocation's index in its process (1 for the first).
    pub(crate) invocation: Option<u64>,
    pub(crate) idle_gap_ms: Option<f64>,
    pub(crate) init_duration_ms: Option<f64>,
    pub(crate) duration_ms: Option<f64>,
    /// Set on the end-of-invocation line only.
    pub(crate) outcome: Option<String>,
    /// CPU time over duration, with resource usage on (end-of-invocation line).
    pub(crate) cpu_ratio: Option<f64>,
    /// That ratio over the vCPUs the memory size allots (end-of-invocation line).
    pub(crate) cpu_allotment_used: Option<f64>,
}

impl Facts {
    /// Reads a `lambda_perf` object; `None` when `value` is not an object.
    pub(crate) fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| object.get(key).and_then(Value::as_f64);
        Some(Self {
            start_kind: text("start_kind"),
            invocation: object.get("invocation").and_then(Value::as_u64),
            idle_gap_ms: number("idle_gap_ms"),
            init_duration_ms: number("init_duration_ms"),
            duration_ms: number("duration_ms"),
            outcome: text("outcome"),
            cpu_ratio: number("cpu_ratio"),
            cpu_allotment_used: number("cpu_allotment_used"),
        })
    }

    /// Fills what `self` lacks from `other`.
    pub(crate) fn or(self, other: Self) -> Self {
        Self {
            start_kind: self.start_kind.or(other.start_kind),
            invocation: self.invocation.or(other.invocation),
            idle_gap_ms: self.idle_gap_ms.or(other.idle_gap_ms),
            init_duration_ms: self.init_duration_ms.or(other.init_duration_ms),
            duration_ms: self.duration_ms.or(other.duration_ms),
            outcome: self.outcome.or(other.outcome),
            cpu_ratio: self.cpu_ratio.or(other.cpu_ratio),
            cpu_allotment_used: self.cpu_allotment_used.or(other.cpu_allotment_used),
        }
    }
}

/// Facts by request id, gathered from EMF documents: the end-of-invocation line (the one
/// with an `outcome`) wins over the `ColdStart` line written before the handler ran.
#[derive(Debug, Default)]
pub(crate) struct FactsByRequest {
    facts: HashMap<String, Facts>,
}

impl FactsByRequest {
    /// Records the facts of an EMF document, if it has any.
    pub(crate) fn add(&mut self, document: &Value) {
        let record = &document["lambda_perf"];
        let (Some(request_id), Some(facts)) =
            (record["request_id"].as_str(), Facts::from_value(record))
        else {
            return;
        };
        let merged = match self.facts.remove(request_id) {
            Some(known) if known.outcome.is_some() => known.or(facts),
            Some(known) => facts.or(known),
            None => facts,
        };
        self.facts.insert(request_id.to_owned(), merged);
    }

    /// The facts of one request.
    pub(crate) fn get(&self, request_id: &str) -> Option<&Facts> {
        self.facts.get(request_id)
    }
}
