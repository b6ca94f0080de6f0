//! Property tests of bad input: whatever a handler records — metric names, units, values,
//! dimensions, annotation keys and values, metadata of any shape, depth and size — and
//! whatever trace header the invocation carries, lambda-perf never panics and never writes an
//! invalid record. Each call either returns a typed error or its data reaches a record, and
//! every record validates: each EMF line is exactly one line of at most 256,000 bytes and
//! valid against the CloudWatch EMF schema; each X-Ray datagram is the daemon header and one
//! document of at most 64,000 bytes valid against the segment document schema.
//!
//! The handler runs behind `PerfLayer` in this process, with the EMF lines captured and the
//! subsegments sent over UDP to a socket of the test (the daemon's path, trimming included).
//! Case counts keep each test at a few seconds.

mod support;

use std::collections::BTreeSet;
use std::net::UdpSocket;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, SingleMetric, Unit};
use lambda_perf_core::test_util::{CapturedEmf, event};
use lambda_perf_core::xray::{self, AnnotationValue};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower::{Layer, ServiceExt};

use support::{assert_valid_emf, assert_valid_xray};

/// CloudWatch's limit on one EMF line (a log event).
const MAX_LINE_BYTES: usize = 256_000;
/// The X-Ray daemon's limit on one document.
const MAX_DOCUMENT_BYTES: usize = 64_000;
const DAEMON_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

// Strategies.

/// Any text: arbitrary Unicode, text of the shapes the limits care about, long text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        3 => "[A-Za-z0-9_]{0,12}",
        2 => "[A-Za-z0-9_ .:/#-]{0,300}",
        1 => "\\PC{0,2000}",
        1 => (0usize..3_000).prop_map(|n| "é".repeat(n)),
        1 => Just(String::new()),
        1 => Just("_aws".to_owned()),
        1 => Just("service".to_owned()),
        1 => Just("lambda_perf".to_owned()),
    ]
}

/// Any value, the edges of CloudWatch's range and of `f64` included.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => -1e6..1e6f64,
        1 => prop::sample::select(vec![
            0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN,
            f64::MIN_POSITIVE, 5e-324, 1e-200, 1e200, 8.515_920_255_080_21e-109,
            1.174_271_193_56e108,
        ]),
    ]
}

/// JSON of any shape: nested to any depth, wide, holding long strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
        (0usize..120_000).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(24, 200, 12, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..12)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A value nested `depth` arrays deep.
fn deep(depth: usize) -> Value {
    (0..depth).fold(Value::from("bottom"), |inner, _| Value::Array(vec![inner]))
}

#[derive(Clone, Debug)]
enum MetricCall {
    Metric {
        name: String,
        unit: Unit,
        value: f64,
        high_resolution: bool,
    },
    Dimension {
        name: String,
        value: String,
    },
    Metadata {
        key: String,
        value: Value,
    },
    Single {
        name: String,
        unit: Unit,
        value: f64,
        dimensions: Vec<(String, String)>,
    },
}

fn metric_call() -> impl Strategy<Value = MetricCall> {
    let unit = || prop::sample::select(Unit::ALL);
    prop_oneof![
        5 => (text(), unit(), number(), any::<bool>()).prop_map(|(name, unit, value, high_resolution)| {
            MetricCall::Metric { name, unit, value, high_resolution }
        }),
        3 => (text(), text()).prop_map(|(name, value)| MetricCall::Dimension { name, value }),
        2 => (text(), json_value()).prop_map(|(key, value)| MetricCall::Metadata { key, value }),
        1 => (text(), unit(), number(), prop::collection::vec((text(), text()), 0..4))
            .prop_map(|(name, unit, value, dimensions)| MetricCall::Single { name, unit, value, dimensions }),
    ]
}

#[derive(Clone, Debug)]
enum TraceCall {
    Annotate {
        key: String,
        value: AnnotationValue,
    },
    Metadata {
        namespace: String,
        key: String,
        value: Value,
    },
    Deep {
        depth: usize,
    },
    Nested {
        name: String,
        calls: Vec<(String, AnnotationValue)>,
    },
}

fn annotation_value() -> impl Strategy<Value = AnnotationValue> {
    prop_oneof![
        text().prop_map(AnnotationValue::from),
        any::<i64>().prop_map(AnnotationValue::from),
        number().prop_map(AnnotationValue::from),
        any::<bool>().prop_map(AnnotationValue::from),
    ]
}

fn annotation_key() -> impl Strategy<Value = String> {
    prop_oneof![text(), "[A-Za-z0-9_]{1,600}"]
}

fn trace_call() -> impl Strategy<Value = TraceCall> {
    prop_oneof![
        4 => (annotation_key(), annotation_value()).prop_map(|(key, value)| TraceCall::Annotate { key, value }),
        3 => (text(), text(), json_value())
            .prop_map(|(namespace, key, value)| TraceCall::Metadata { namespace, key, value }),
        1 => (0usize..120).prop_map(|depth| TraceCall::Deep { depth }),
        1 => (subsegment_name(), prop::collection::vec((annotation_key(), annotation_value()), 0..4))
            .prop_map(|(name, calls)| TraceCall::Nested { name, calls }),
    ]
}

/// A subsegment name: any ASCII (controls and every symbol included), Latin and CJK letters.
/// Not any Unicode: the segment schema spells `\p{L}` out as the letters of Unicode 8's
/// basic plane, so a letter it does not list (a newer one, one beyond the basic plane) fails
/// the schema though X-Ray's own `\p{L}` takes it; lambda-perf keeps those.
fn subsegment_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\x00-\\x7f]{0,250}",
        "[ -~]{0,20}",
        "[A-Za-z\u{c0}-\u{d6}\u{d8}-\u{f6}\u{f8}-\u{ff}0-9 _.:/%&#=+@\u{a0}\u{3000}-]{1,220}",
        "[\u{4e00}-\u{9fa5}]{1,12}",
    ]
}

/// A trace header: Lambda's shape with any of its parts broken, or anything at all.
fn trace_header() -> impl Strategy<Value = Option<String>> {
    let part = prop_oneof![
        "Root=1-[0-9a-f]{8}-[0-9a-f]{24}",
        "Root=[0-9a-zA-Z-]{0,40}",
        "Parent=[0-9a-f]{16}",
        "Parent=[0-9a-zA-Z]{0,20}",
        "Sampled=[01?]",
        "Sampled=.{0,3}",
        "Lineage=[0-9a-f:|]{0,30}",
        "[A-Za-z]{0,8}=?[^;]{0,20}",
    ];
    prop_oneof![
        1 => Just(None),
        1 => ("[0-9a-f]{8}", "[0-9a-f]{24}", "[0-9a-f]{16}")
            .prop_map(|(time, random, parent)| Some(format!("Root=1-{time}-{random};Parent={parent};Sampled=1"))),
        4 => prop::collection::vec(part, 0..6).prop_map(|parts| Some(parts.join(";"))),
        2 => any::<String>().prop_map(Some),
    ]
}

/// Whether `header` is exactly Lambda's sampled shape, `Root=1-<8 hex>-<24 hex>;Parent=<16
/// hex>;Sampled=1`, in lower-case hex.
fn is_lambdas_sampled_header(header: &str) -> bool {
    let hex = |text: &str, len: usize| {
        text.len() == len
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let parts: Vec<&str> = header.split(';').collect();
    let [root, parent, sampled] = parts[..] else {
        return false;
    };
    let root_ok = root.strip_prefix("Root=1-").is_some_and(|ids| {
        ids.split_once('-')
            .is_some_and(|(time, random)| hex(time, 8) && hex(random, 24))
    });
    let parent_ok = parent.strip_prefix("Parent=").is_some_and(|id| hex(id, 16));
    root_ok && parent_ok && sampled == "Sampled=1"
}

// The function under test.

/// A layer whose EMF lines go to a buffer and whose subsegments go over UDP to `daemon`.
fn layer(emf: &CapturedEmf, daemon: &UdpSocket) -> PerfLayer {
    PerfLayer::builder()
        .service("props")
        .namespace("Props")
        .handler_name("handler")
        .metrics_disabled(false)
        .trace_disabled(false)
        .without_marker()
        .emf_writer(emf.clone())
        .xray_daemon_address(daemon.local_addr().unwrap().to_string())
        .build()
        .unwrap()
}

/// The socket standing in for the X-Ray daemon.
fn daemon() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Loopback delivers a datagram before `send` returns, and every subsegment is sent by the
    // time the handler's response is: what has not arrived then was not sent.
    socket.set_nonblocking(true).unwrap();
    socket
}

/// The datagrams received.
fn received(daemon: &UdpSocket) -> Vec<Value> {
    let mut documents = Vec::new();
    let mut buffer = vec![0; 70_000];
    while let Ok(length) = daemon.recv(&mut buffer) {
        let text = std::str::from_utf8(&buffer[..length]).expect("a datagram is UTF-8");
        let body = text
            .strip_prefix(DAEMON_HEADER)
            .unwrap_or_else(|| panic!("no daemon header: {text:.200}"));
        assert!(body.len() <= MAX_DOCUMENT_BYTES, "{} bytes", body.len());
        assert!(!body.contains('\n'), "one document per datagram");
        let document: Value = serde_json::from_str(body).expect("a datagram holds JSON");
        assert_valid_xray(&document);
        documents.push(document);
    }
    documents
}

/// Every EMF line written: complete, within CloudWatch's size, valid.
fn emf_lines(emf: &CapturedEmf) -> Vec<Value> {
    let text = emf.text();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "an incomplete line"
    );
    text.lines()
        .map(|line| {
            assert!(
                line.len() <= MAX_LINE_BYTES,
                "a line of {} bytes",
                line.len()
            );
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            assert_valid_emf(&value);
            value
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The names of the metrics the lines define.
fn defined_metrics(lines: &[Value]) -> BTreeSet<String> {
    lines
        .iter()
        .flat_map(|line| {
            line["_aws"]["CloudWatchMetrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|directive| directive["Metrics"].as_array().cloned().unwrap_or_default())
        .filter_map(|metric| metric["Name"].as_str().map(str::to_owned))
        .collect()
}

/// What lambda-perf counted as dropped or trimmed in the lines.
fn dropped(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|line| line["lambda_perf"].get("dropped").cloned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_metrics_dimensions_and_metadata_give_valid_lines_or_typed_errors(
        calls in prop::collection::vec(metric_call(), 0..40),
        convenient in any::<bool>(),
    ) {
        let emf = CapturedEmf::new();
        let daemon = daemon();
        let service = layer(&emf, &daemon).layer(service_fn(move |_: LambdaEvent<Value>| {
            let calls = calls.clone();
            async move {
                let mut accepted = BTreeSet::new();
                for call in calls {
                    match call {
                        MetricCall::Metric { name, unit, value, high_resolution } if convenient => {
                            if high_resolution {
                                metrics::add_high_resolution_metric(name, unit, value);
                            } else {
                                metrics::add_metric(name, unit, value);
                            }
                        }
                        MetricCall::Metric { name, unit, value, high_resolution } => {
                            let result = if high_resolution {
                                metrics::try_add_high_resolution_metric(name.clone(), unit, value)
                            } else {
                                metrics::try_add_metric(name.clone(), unit, value)
                            };
                            if result.is_ok() {
                                accepted.insert(name);
                            }
                        }
                        MetricCall::Dimension { name, value } if convenient => {
                            metrics::add_dimension(name, value);
                        }
                        MetricCall::Dimension { name, value } => {
                            let _typed: Result<(), metrics::MetricsError> =
                                metrics::try_add_dimension(name, value);
                        }
                        MetricCall::Metadata { key, value } if convenient => {
                            metrics::add_metadata(key, value);
                        }
                        MetricCall::Metadata { key, value } => {
                            let _typed = metrics::try_add_metadata(key, value);
                        }
                        MetricCall::Single { name, unit, value, dimensions } => {
                            let mut single = SingleMetric::new(name.clone(), unit, value);
                            for (key, value) in dimensions {
                                single = single.dimension(key, value);
                            }
                            if single.try_emit().is_ok() {
                                accepted.insert(name);
                            }
                        }
                    }
                }
                Ok::<_, Error>(accepted)
            }
        }));
        let accepted = runtime().block_on(service.oneshot(event(json!({})))).unwrap();
        let lines = emf_lines(&emf);
        received(&daemon);
        // What was accepted is in a line, unless a drop was counted where it can be seen.
        let defined = defined_metrics(&lines);
        let missing: Vec<_> = accepted.difference(&defined).collect();
        prop_assert!(
            missing.is_empty() || !dropped(&lines).is_empty(),
            "accepted, then lost without a count: {:?}", missing
        );
    }

    #[test]
    fn any_annotations_and_metadata_give_valid_documents_or_typed_errors(
        calls in prop::collection::vec(trace_call(), 0..24),
        convenient in any::<bool>(),
    ) {
        let emf = CapturedEmf::new();
        let daemon = daemon();
        let service = layer(&emf, &daemon).layer(service_fn(move |_: LambdaEvent<Value>| {
            let calls = calls.clone();
            async move {
                let mut accepted = BTreeSet::new();
                for call in calls {
                    match call {
                        TraceCall::Annotate { key, value } if convenient => xray::annotate(key, value),
                        TraceCall::Annotate { key, value } => {
                            if xray::try_annotate(key.clone(), value).is_ok() {
                                accepted.insert(key);
                            }
                        }
                        TraceCall::Metadata { namespace, key, value } if convenient => {
                            xray::add_metadata(namespace, key, value);
                        }
                        TraceCall::Metadata { namespace, key, value } => {
                            let _typed = xray::try_add_metadata(namespace, key, value);
                        }
                        TraceCall::Deep { depth } => {
                            let _typed = xray::try_add_metadata("deep", "value", deep(depth));
                            let _typed = metrics::try_add_metadata("deep", deep(depth));
                        }
                        TraceCall::Nested { name, calls } => {
                            xray::in_subsegment(name, async move {
                                for (key, value) in calls {
                                    xray::annotate(key, value);
                                }
                            })
                            .await;
                        }
                    }
                }
                Ok::<_, Error>(accepted)
            }
        }));
        let accepted = runtime().block_on(service.oneshot(event(json!({})))).unwrap();
        emf_lines(&emf);
        let documents = received(&daemon);
        let handler = documents
            .iter()
            .find(|document| document["name"] == "## handler")
            .expect("the handler's subsegment");
        // An accepted annotation is on the handler's subsegment, unless it was trimmed, which
        // the subsegment says.
        let trimmed = handler["metadata"]["lambda_perf"].get("trimmed").is_some();
        for key in &accepted {
            prop_assert!(
                trimmed || handler["annotations"].get(key).is_some(),
                "annotation {:?} lost: {}", key, handler
            );
        }
    }

    #[test]
    fn any_trace_header_gives_the_handlers_response_and_valid_records(header in trace_header()) {
        let emf = CapturedEmf::new();
        let daemon = daemon();
        let service = layer(&emf, &daemon).layer(service_fn(|event: LambdaEvent<Value>| async move {
            xray::annotate("token", "t");
            metrics::add_metric("Calls", Unit::Count, 1.0);
            Ok::<_, Error>(event.payload)
        }));
        let mut invocation = event(json!({ "echo": "this" }));
        invocation.context.xray_trace_id = header.clone();
        let response = runtime().block_on(service.oneshot(invocation)).unwrap();
        prop_assert_eq!(response, json!({ "echo": "this" }));
        let lines = emf_lines(&emf);
        prop_assert!(defined_metrics(&lines).contains("Calls"));
        // A document is sent only into the trace the header names, and always into a
        // well-formed sampled one.
        let documents = received(&daemon);
        let well_formed = header.as_deref().is_some_and(is_lambdas_sampled_header);
        prop_assert!(!well_formed || !documents.is_empty(), "nothing sent for {:?}", header);
        for document in documents {
            let root = document["trace_id"].as_str().unwrap().to_owned();
            let header = header.as_deref().unwrap_or_default();
            prop_assert!(header.contains(&format!("Root={root}")), "{} from {:?}", root, header);
        }
    }
}
