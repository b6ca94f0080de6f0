//! The `lambda_perf` facts a function reports about each invocation, in its EMF lines and in
//! the metadata of its handler subsegment.

use std::collections::HashMap;

use lambda_perf_core::StartKind;
use serde_json::Value;

use super::problem::quote;

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

/// The start kind lambda-perf reports by the name `name`, if any.
fn known_start_kind(name: &str) -> Option<StartKind> {
    StartKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == name)
}

/// The `lambda_perf` fields that are durations (milliseconds), which cannot be negative.
const DURATIONS: [&str; 3] = ["init_duration_ms", "idle_gap_ms", "duration_ms"];

impl Facts {
    /// What cannot be in a `lambda_perf` object: each duration that is negative, and a start
    /// kind lambda-perf does not report (the report would count it as a warm start).
    pub(crate) fn impossible(value: &Value) -> Vec<String> {
        let mut found: Vec<String> = DURATIONS
            .iter()
            .filter_map(|key| {
                let duration = value.get(key)?.as_f64()?;
                (duration < 0.0).then(|| format!("lambda_perf.{key} is negative: {duration}"))
            })
            .collect();
        if let Some(kind) = value.get("start_kind").and_then(Value::as_str) {
            if known_start_kind(kind).is_none() {
                let known: Vec<&str> = StartKind::ALL.iter().map(|k| k.as_str()).collect();
                found.push(format!(
                    "lambda_perf.start_kind {} is none of {}: counted as a warm start",
                    quote(format_args!("{kind:?}")),
                    known.join(", ")
                ));
            }
        }
        found
    }

    /// Whether the invocation was a cold start, as lambda-perf's `ColdStart` says
    /// ([`StartKind::is_cold_start`]): `false` for a start kind lambda-perf does not report
    /// (flagged by [`Facts::impossible`]) and when none was reported.
    pub(crate) fn is_cold_start(&self) -> bool {
        self.start_kind
            .as_deref()
            .and_then(known_start_kind)
            .is_some_and(StartKind::is_cold_start)
    }

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

    /// What is known of one invocation once `line`, one more of its EMF lines (in the order
    /// written), is read beside `known`: the facts of the line that says most about its end
    /// win (the later one among equals, until the end is known), the other's fill what they
    /// lack. The end-of-invocation line wins over the `ColdStart` line written before the
    /// handler ran, and over the timeout watchdog's line, written while the handler was still
    /// running (its `duration_ms` is the watchdog's moment): a handler that still ended wrote
    /// its own end after that.
    pub(crate) fn merged(known: Self, line: Self) -> Self {
        let (known_rank, line_rank) = (known.end_rank(), line.end_rank());
        if known_rank < 2 && line_rank >= known_rank {
            line.or(known)
        } else {
            known.or(line)
        }
    }

    /// How much these facts say about the invocation's end: 0 without an outcome (the
    /// `ColdStart` line), 1 for the watchdog's `timeout`, 2 for how it ended.
    fn end_rank(&self) -> u8 {
        match self.outcome.as_deref() {
            None => 0,
            Some("timeout") => 1,
            Some(_) => 2,
        }
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

/// Facts by request id, gathered from EMF documents, merged as [`Facts::merged`] says.
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
            Some(known) => Facts::merged(known, facts),
            None => facts,
        };
        self.facts.insert(request_id.to_owned(), merged);
    }

    /// The facts of one request.
    pub(crate) fn get(&self, request_id: &str) -> Option<&Facts> {
        self.facts.get(request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_start_kind(kind: Option<&str>) -> Facts {
        Facts {
            start_kind: kind.map(str::to_owned),
            ..Facts::default()
        }
    }

    #[test]
    fn a_cold_start_is_what_the_start_kind_says() {
        for kind in StartKind::ALL {
            assert_eq!(
                with_start_kind(Some(kind.as_str())).is_cold_start(),
                kind.is_cold_start(),
                "{kind}"
            );
        }
        assert!(with_start_kind(Some("cold")).is_cold_start());
        assert!(!with_start_kind(Some("banana")).is_cold_start());
        assert!(!with_start_kind(None).is_cold_start());
    }
}
