//! A closed subsegment as an OpenTelemetry span: the same ids, parent, name and times, its
//! annotations, metadata, HTTP and error facts as attributes, status and events, by the rules
//! documented on [`TraceBackend`](crate::TraceBackend) (those of the OpenTelemetry
//! Collector's X-Ray exporter, so that each direction undoes the other).

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value as OtelValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde_json::Value;

use crate::formats::xray::annotation::AnnotationValue;
use crate::formats::xray::document::{Cause, Exception, Namespace, Record};
use crate::formats::xray::id;
use crate::invocation::lifecycle::FACTS_NAMESPACE;

/// The string-array attribute listing which attributes are X-Ray annotations.
pub(crate) const ANNOTATIONS: &str = "aws.xray.annotations";
/// The prefix of an attribute holding one metadata namespace as JSON text.
pub(crate) const METADATA_PREFIX: &str = "aws.xray.metadata.";
/// The name of an exception event (OpenTelemetry's).
pub(crate) const EXCEPTION_EVENT: &str = "exception";
/// The X-Ray id of an exception, on its event.
pub(crate) const EXCEPTION_ID: &str = "aws.xray.exception.id";

/// The trace an invocation's spans belong to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraceIds {
    pub(crate) trace_id: TraceId,
    pub(crate) trace_state: TraceState,
    /// The span id of Lambda's function segment (the trace header's `Parent`): the handler
    /// span's parent.
    pub(crate) remote_parent: u64,
}

/// An exception recorded on a span of this invocation, for a parent whose cause names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KnownException {
    pub(crate) id: u64,
    pub(crate) kind: String,
    pub(crate) message: String,
}

/// How spans are made: the same for every span of one instrumented handler.
#[derive(Clone, Debug)]
pub(crate) struct SpanRules {
    pub(crate) capture_error: bool,
    pub(crate) scope: InstrumentationScope,
}

impl SpanRules {
    pub(crate) fn new(capture_error: bool) -> Self {
        Self {
            capture_error,
            scope: InstrumentationScope::builder("lambda-perf")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }

    /// `record` as a span of trace `ids`, with `extra` attributes (the handler's FaaS facts);
    /// the exceptions it records join `known`.
    pub(crate) fn span(
        &self,
        record: &Record,
        ids: &TraceIds,
        extra: Vec<KeyValue>,
        known: &mut Vec<KnownException>,
    ) -> SpanData {
        let start_time = UNIX_EPOCH + Duration::from_nanos(record.start_epoch_nanos);
        let end_time = start_time + record.duration();
        let mut attributes = attributes(record);
        attributes.extend(extra);
        let (status, events) = self.failure(record, end_time, known);
        let mut span_events = SpanEvents::default();
        span_events.events = events;
        let parent_id = record.parent_id.value();
        SpanData {
            span_context: SpanContext::new(
                ids.trace_id,
                span_id(record.id),
                TraceFlags::SAMPLED,
                false,
                ids.trace_state.clone(),
            ),
            parent_span_id: span_id(parent_id),
            parent_span_is_remote: parent_id == ids.remote_parent,
            span_kind: match record.namespace {
                Some(_) => SpanKind::Client,
                None => SpanKind::Internal,
            },
            name: record.name.clone(),
            start_time,
            end_time,
            attributes,
            dropped_attributes_count: 0,
            events: span_events,
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        }
    }

    /// Status `ERROR` and `exception` events for a faulted record.
    fn failure(
        &self,
        record: &Record,
        at: SystemTime,
        known: &mut Vec<KnownException>,
    ) -> (Status, Vec<Event>) {
        let exceptions: Vec<KnownException> = match &record.cause {
            Some(Cause::Exceptions(exceptions)) => {
                let own: Vec<KnownException> = exceptions.iter().map(known_exception).collect();
                known.extend(own.iter().cloned());
                own
            }
            Some(Cause::Reference(exception_id)) => known
                .iter()
                .rev()
                .find(|exception| exception.id == *exception_id)
                .cloned()
                .map_or_else(
                    // A child's exception this output did not see: its id alone.
                    || {
                        vec![KnownException {
                            id: *exception_id,
                            kind: String::new(),
                            message: String::new(),
                        }]
                    },
                    |exception| vec![exception],
                ),
            None => Vec::new(),
        };
        let events = exceptions
            .iter()
            .map(|exception| {
                let mut attributes = Vec::with_capacity(3);
                if !exception.kind.is_empty() {
                    attributes.push(KeyValue::new("exception.type", exception.kind.clone()));
                }
                if self.capture_error && !exception.message.is_empty() {
                    attributes.push(KeyValue::new(
                        "exception.message",
                        exception.message.clone(),
                    ));
                }
                attributes.push(KeyValue::new(EXCEPTION_ID, id::hex(exception.id)));
                Event::new(EXCEPTION_EVENT, at, attributes, 0)
            })
            .collect();
        let status = if record.fault {
            let description = exceptions.first().map_or_else(String::new, |exception| {
                if self.capture_error {
                    exception.message.clone()
                } else {
                    exception.kind.clone()
                }
            });
            Status::error(description)
        } else {
            Status::Unset
        };
        (status, events)
    }
}

fn known_exception(exception: &Exception) -> KnownException {
    KnownException {
        id: exception.id,
        kind: exception.kind.clone(),
        message: exception.message.clone(),
    }
}

/// A subsegment id as a span id (the same 64 bits).
pub(crate) fn span_id(id: u64) -> SpanId {
    SpanId::from_bytes(id.to_be_bytes())
}

/// Annotations, metadata, HTTP, `aws` and the error flags of a record, as attributes.
fn attributes(record: &Record) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(record.annotations.len() + record.metadata.len() + 2);
    for (key, value) in &record.annotations {
        attributes.push(KeyValue::new(key.clone(), annotation_value(value)));
    }
    if !record.annotations.is_empty() {
        let keys: Vec<StringValue> = record
            .annotations
            .iter()
            .map(|(key, _)| StringValue::from(key.clone()))
            .collect();
        attributes.push(KeyValue::new(
            ANNOTATIONS,
            OtelValue::Array(Array::String(keys)),
        ));
    }
    metadata(record, &mut attributes);
    if record.namespace == Some(Namespace::Aws) {
        attributes.push(KeyValue::new("rpc.system", "aws-api"));
    }
    if let Some(http) = &record.http {
        http_attributes(http, &mut attributes);
    }
    if let Some(aws) = &record.aws {
        attributes.push(KeyValue::new("aws.xray.aws", aws.to_string()));
    }
    for (key, flag) in [
        ("aws.xray.error", record.error),
        ("aws.xray.throttle", record.throttle),
    ] {
        if flag {
            attributes.push(KeyValue::new(key, true));
        }
    }
    attributes
}

fn annotation_value(value: &AnnotationValue) -> OtelValue {
    match value {
        AnnotationValue::String(text) => OtelValue::String(text.clone().into()),
        AnnotationValue::Integer(number) => OtelValue::I64(*number),
        AnnotationValue::Float(number) => OtelValue::F64(*number),
        AnnotationValue::Bool(flag) => OtelValue::Bool(*flag),
    }
}

/// `lambda_perf` entries one attribute each; every other namespace one JSON attribute.
fn metadata(record: &Record, attributes: &mut Vec<KeyValue>) {
    let entries = &record.metadata;
    // Each key once, as in the X-Ray document: an entry of a fact's key replaces the fact.
    for (key, value) in &record.facts_map() {
        if record
            .facts_entries()
            .any(|(_, entry, _)| entry == key.as_str())
        {
            continue;
        }
        attributes.push(KeyValue::new(
            format!("{FACTS_NAMESPACE}.{key}"),
            json_value(value),
        ));
    }
    for (index, (namespace, key, value)) in entries.iter().enumerate() {
        if namespace == FACTS_NAMESPACE {
            attributes.push(KeyValue::new(
                format!("{FACTS_NAMESPACE}.{key}"),
                json_value(&value.to_value()),
            ));
            continue;
        }
        if entries[..index].iter().any(|(ns, _, _)| ns == namespace) {
            continue;
        }
        let object: serde_json::Map<String, Value> = entries[index..]
            .iter()
            .filter(|(ns, _, _)| ns == namespace)
            .map(|(_, key, value)| (key.to_string(), value.to_value().into_owned()))
            .collect();
        attributes.push(KeyValue::new(
            format!("{METADATA_PREFIX}{namespace}"),
            Value::Object(object).to_string(),
        ));
    }
}

/// A JSON scalar as itself; an object, an array or null as its JSON text.
fn json_value(value: &Value) -> OtelValue {
    match value {
        Value::String(text) => OtelValue::String(text.clone().into()),
        Value::Bool(flag) => OtelValue::Bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => OtelValue::I64(integer),
            None => OtelValue::F64(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => {
            OtelValue::String(value.to_string().into())
        }
    }
}

/// The `http` object's fields under their OpenTelemetry names.
fn http_attributes(http: &crate::formats::xray::Http, attributes: &mut Vec<KeyValue>) {
    let Ok(value) = serde_json::to_value(http) else {
        return;
    };
    let request = &value["request"];
    let response = &value["response"];
    let text = |name: &'static str, value: &Value| {
        value
            .as_str()
            .map(|text| KeyValue::new(name, Cow::Owned(text.to_owned())))
    };
    let integer = |name: &'static str, value: &Value| {
        value.as_i64().map(|number| KeyValue::new(name, number))
    };
    attributes.extend(text("http.request.method", &request["method"]));
    attributes.extend(text("url.full", &request["url"]));
    attributes.extend(
        request["traced"]
            .as_bool()
            .map(|traced| KeyValue::new("aws.xray.traced", traced)),
    );
    attributes.extend(integer("http.response.status_code", &response["status"]));
    attributes.extend(integer(
        "http.response.body.size",
        &response["content_length"],
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::xray::Http;
    use serde_json::json;
    use std::time::Duration;

    fn ids() -> TraceIds {
        TraceIds {
            trace_id: TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
            trace_state: TraceState::default(),
            remote_parent: 0x5399_5c3f_42cd_8ad8,
        }
    }

    fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a OtelValue> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn a_handler_record_keeps_ids_times_and_parent() {
        let mut record = Record::open(0xabcd, 0x5399_5c3f_42cd_8ad8, "## orders".into());
        record.duration = Some(Duration::from_micros(1500));
        let span = SpanRules::new(true).span(&record, &ids(), Vec::new(), &mut Vec::new());
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(span.span_context.span_id().to_string(), "000000000000abcd");
        assert_eq!(span.parent_span_id.to_string(), "53995c3f42cd8ad8");
        assert!(span.parent_span_is_remote);
        assert!(span.span_context.is_sampled());
        assert_eq!(span.name, "## orders");
        assert_eq!(span.span_kind, SpanKind::Internal);
        assert_eq!(
            span.end_time.duration_since(span.start_time).unwrap(),
            Duration::from_micros(1500)
        );
        assert_eq!(span.status, Status::Unset);
        assert_eq!(span.instrumentation_scope.name(), "lambda-perf");
    }

    #[test]
    fn annotations_metadata_and_http_become_attributes() {
        let mut record = Record::open(2, 1, "call".into());
        record.close();
        record.namespace = Some(Namespace::Aws);
        record.annotate("tier".into(), "gold".into());
        record.annotate("count".into(), 3.into());
        record.add_metadata(
            "orders".into(),
            "payload".into(),
            json!({ "items": [1, 2] }),
        );
        record.add_metadata("orders".into(), "note".into(), json!("hi"));
        record.add_metadata("lambda_perf".into(), "start_kind".into(), json!("warm"));
        record.add_metadata("lambda_perf".into(), "idle_gap_ms".into(), json!(1.5));
        record.add_metadata(
            "lambda_perf".into(),
            "cache".into(),
            json!({ "c": { "hits": 1 } }),
        );
        record.http = Some(
            Http::request("GET", "https://x.example/a")
                .status(200)
                .content_length(12),
        );
        let span = SpanRules::new(true).span(&record, &ids(), Vec::new(), &mut Vec::new());
        assert_eq!(span.span_kind, SpanKind::Client);
        assert!(!span.parent_span_is_remote);
        assert_eq!(attribute(&span, "tier"), Some(&OtelValue::from("gold")));
        assert_eq!(attribute(&span, "count"), Some(&OtelValue::I64(3)));
        assert_eq!(
            attribute(&span, ANNOTATIONS),
            Some(&OtelValue::Array(Array::String(vec![
                "tier".into(),
                "count".into()
            ])))
        );
        let orders: Value = serde_json::from_str(
            &attribute(&span, "aws.xray.metadata.orders")
                .unwrap()
                .as_str(),
        )
        .unwrap();
        assert_eq!(
            orders,
            json!({ "payload": { "items": [1, 2] }, "note": "hi" })
        );
        assert_eq!(
            attribute(&span, "lambda_perf.start_kind"),
            Some(&OtelValue::from("warm"))
        );
        assert_eq!(
            attribute(&span, "lambda_perf.idle_gap_ms"),
            Some(&OtelValue::F64(1.5))
        );
        assert_eq!(
            attribute(&span, "lambda_perf.cache"),
            Some(&OtelValue::from(r#"{"c":{"hits":1}}"#))
        );
        assert_eq!(
            attribute(&span, "rpc.system"),
            Some(&OtelValue::from("aws-api"))
        );
        assert_eq!(
            attribute(&span, "http.request.method"),
            Some(&OtelValue::from("GET"))
        );
        assert_eq!(
            attribute(&span, "url.full"),
            Some(&OtelValue::from("https://x.example/a"))
        );
        assert_eq!(
            attribute(&span, "http.response.status_code"),
            Some(&OtelValue::I64(200))
        );
        assert_eq!(
            attribute(&span, "http.response.body.size"),
            Some(&OtelValue::I64(12))
        );
    }

    /// Each attribute key once, as X-Ray writes each key of the namespace once: an entry of
    /// the `lambda_perf` namespace with a fact's key replaces the fact.
    #[test]
    fn an_entry_of_a_facts_key_replaces_the_fact() {
        let mut record = Record::open(1, 0x5399_5c3f_42cd_8ad8, "## h".into());
        record.set_facts(&json!({ "outcome": "success", "invocation": 2 }));
        record.add_metadata("lambda_perf".into(), "outcome".into(), json!("mine"));
        record.close();
        let span = SpanRules::new(true).span(&record, &ids(), Vec::new(), &mut Vec::new());
        let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys.iter()
                .filter(|key| **key == "lambda_perf.outcome")
                .count(),
            1,
            "{keys:?}"
        );
        assert_eq!(
            attribute(&span, "lambda_perf.outcome"),
            Some(&OtelValue::from("mine"))
        );
        assert_eq!(
            attribute(&span, "lambda_perf.invocation"),
            Some(&OtelValue::I64(2))
        );
    }

    #[test]
    fn faults_become_error_status_and_exception_events() {
        let mut child = Record::open(2, 1, "nested".into());
        child.record_exception(Exception {
            id: 0x77,
            kind: "Error".into(),
            message: "boom".into(),
        });
        child.close();
        let mut parent = Record::open(1, 0x5399_5c3f_42cd_8ad8, "## h".into());
        parent.reference_exception(0x77);
        parent.error = true;
        parent.close();
        for capture in [true, false] {
            let rules = SpanRules::new(capture);
            let mut known = Vec::new();
            let child_span = rules.span(&child, &ids(), Vec::new(), &mut known);
            let parent_span = rules.span(&parent, &ids(), Vec::new(), &mut known);
            for span in [&child_span, &parent_span] {
                let expected = if capture { "boom" } else { "Error" };
                assert_eq!(span.status, Status::error(expected));
                assert_eq!(span.events.len(), 1);
                let event = &span.events[0];
                assert_eq!(event.name, EXCEPTION_EVENT);
                let get = |key: &str| {
                    event
                        .attributes
                        .iter()
                        .find(|kv| kv.key.as_str() == key)
                        .map(|kv| kv.value.as_str().into_owned())
                };
                assert_eq!(get("exception.type").as_deref(), Some("Error"));
                assert_eq!(get(EXCEPTION_ID).as_deref(), Some("0000000000000077"));
                assert_eq!(get("exception.message").is_some(), capture);
            }
            assert_eq!(
                attribute(&parent_span, "aws.xray.error"),
                Some(&OtelValue::Bool(true))
            );
        }
    }
}
