//! Our X-Ray documents next to the official Python SDK's, for the same scenario.
//!
//! `tests/xray_reference/reference.py` runs the `{"action":"trace"}` scenario of
//! `src/bin/scenario-function.rs` with `aws-xray-sdk` in Lambda mode and prints the documents
//! it sent; this test runs our scenario function under the loopback Runtime API and compares
//! the two traces subsegment by subsegment (matched by name): the same fields where both SDKs
//! write them, with the same JSON types, the same tree, the same annotations and metadata.
//!
//! The interpreter is the venv that `tests/tools/xray-reference.sh` creates on first use at
//! `${CARGO_TARGET_DIR:-target}/xray-reference-venv` (or `$XRAY_REFERENCE_PYTHON`); when it
//! cannot be installed, the test fails and says why.
//!
//! Differences the test expects, each asserted rather than skipped:
//!
//! | where | Python (aws-xray-sdk 2.15) | ours | why |
//! |---|---|---|---|
//! | every subsegment | `"in_progress": false` | absent | Python serialises its `in_progress` attribute on complete documents; the field is only meaningful as `true` (docs: give `end_time` *or* `in_progress`) |
//! | custom subsegments (handler, `work`, `nested_failure`) | `"namespace": "local"` | absent | `local` is Python's default, not a documented value (`aws`/`remote`); Node omits it too. `lookup` sets `aws` on both sides |
//! | handler annotations | — | extra `StartKind: "cold"` | our layer records how the environment started; Powertools only has `ColdStart` |
//! | handler metadata | — | extra namespaces `orders` (`orders-fn response`) and `lambda_perf` | our layer records the response (as Powertools' `capture_response`) and its own invocation facts |
//! | `cause.exceptions[0].type` | `ValueError` | `Error` | the language's error type: Python's class name, the last path segment of the Rust type (`std::io::Error`) |
//! | `cause.exceptions[0].stack` | array of `{path, line, label}` | absent | Python walks the traceback; a Rust error carries no frames |
//! | `cause.working_directory`, times, ids | different values | | different processes and clocks; only formats and types are compared |

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionProcess, InvokeRequest, RuntimeApi, TraceHeader, XRayCollector,
};
use serde_json::{Map, Value, json};
use support::*;

/// The handler subsegment's name: `## ` and the function name, as Powertools writes it.
const HANDLER: &str = "## orders-fn";
/// Every subsegment of the scenario, in the order both SDKs close (and send) them.
const CLOSE_ORDER: [&str; 4] = ["lookup", "work", "nested_failure", HANDLER];
/// The annotations the handler code of both sides adds, plus the layer's `ColdStart` and
/// `Service`.
const SHARED_HANDLER_ANNOTATIONS: &str = r#"{
    "ColdStart": true, "Service": "orders",
    "customer_tier": "gold", "order_count": 3, "ratio": 0.75, "is_retry": false
}"#;
/// Slack for comparing times written as `f64` epoch seconds (µs resolution on our side).
const TIME_SLACK: f64 = 2e-6;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One SDK's documents for one trace.
struct Trace {
    sdk: &'static str,
    header: TraceHeader,
    /// In arrival order.
    documents: Vec<Value>,
}

impl Trace {
    fn get(&self, name: &str) -> &Value {
        self.documents
            .iter()
            .find(|doc| doc["name"] == name)
            .unwrap_or_else(|| panic!("{}: no subsegment {name:?}", self.sdk))
    }

    fn names(&self) -> Vec<&str> {
        self.documents
            .iter()
            .map(|doc| doc["name"].as_str().unwrap_or_default())
            .collect()
    }
}

/// Runs `reference.py` for `header` and returns the documents it received.
fn python_trace(python: &Path, header: TraceHeader) -> Trace {
    let script = workspace()
        .join("tests")
        .join("xray_reference")
        .join("reference.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(header.to_string())
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|error| {
            panic!("running {} {}: {error}", python.display(), script.display())
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "reference.py failed ({}): {stderr}",
        output.status
    );
    let documents: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "reference.py printed no JSON array ({error}): {}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    Trace {
        sdk: "python",
        header,
        documents,
    }
}

/// Runs our scenario function once with `{"action":"trace"}` and returns its documents.
async fn our_trace() -> Trace {
    let api = RuntimeApi::start().await.unwrap();
    let collector = XRayCollector::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let config = function_config().with_xray_daemon_address(collector.addr().to_string());
    let process =
        FunctionProcess::spawn(&scenario_function(), &config, &environment, &api).unwrap();
    let result = process
        .invoke(&api, InvokeRequest::json(json!({ "action": "trace" })))
        .await
        .unwrap();
    let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
    for name in CLOSE_ORDER {
        let root = header.root.clone();
        collector
            .wait_for(
                move |doc| doc["trace_id"] == root.as_str() && doc["name"] == name,
                WAIT,
            )
            .await
            .unwrap_or_else(|error| panic!("ours: no subsegment {name:?}: {error}"));
    }
    assert_eq!(
        result.into_json().unwrap(),
        json!({ "done": "trace", "doubled": 42, "failed": true })
    );
    let mut documents = Vec::new();
    for datagram in collector.datagrams() {
        assert!(
            datagram
                .raw
                .starts_with(b"{\"format\":\"json\",\"version\":1}\n"),
            "{}",
            String::from_utf8_lossy(&datagram.raw)
        );
        let document = datagram.document.unwrap();
        if document["trace_id"] == header.root.as_str() {
            documents.push(document);
        }
    }
    Trace {
        sdk: "ours",
        header,
        documents,
    }
}

fn is_lower_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|text| {
        text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn is_trace_id(value: &Value) -> bool {
    let parts: Vec<&str> = value.as_str().unwrap_or_default().split('-').collect();
    parts.len() == 3
        && parts[0] == "1"
        && is_lower_hex(&json!(parts[1]), 8)
        && is_lower_hex(&json!(parts[2]), 24)
}

/// The JSON type of a value, telling integers from other numbers.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn object<'a>(what: &str, value: &'a Value) -> &'a Map<String, Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"))
}

fn keys(map: &Map<String, Value>) -> BTreeSet<&str> {
    map.keys().map(String::as_str).collect()
}

/// Asserts that two objects have the same keys but for exactly `python_only` and `ours_only`,
/// and that every shared key holds the same JSON type on both sides.
fn compare_fields<'a>(
    what: &str,
    python: &'a Value,
    ours: &'a Value,
    python_only: &[&'a str],
    ours_only: &[&'a str],
) {
    let (python, ours) = (object(what, python), object(what, ours));
    let (python_keys, our_keys) = (keys(python), keys(ours));
    let only = |a: &BTreeSet<&'a str>, b: &BTreeSet<&'a str>| -> BTreeSet<&'a str> {
        a.difference(b).copied().collect()
    };
    assert_eq!(
        only(&python_keys, &our_keys),
        python_only.iter().copied().collect(),
        "{what}: fields only Python writes\npython: {python:?}\nours:   {ours:?}"
    );
    assert_eq!(
        only(&our_keys, &python_keys),
        ours_only.iter().copied().collect(),
        "{what}: fields only we write\npython: {python:?}\nours:   {ours:?}"
    );
    for key in python_keys.intersection(&our_keys) {
        assert_eq!(
            kind(&python[*key]),
            kind(&ours[*key]),
            "{what}.{key}: python {} vs ours {}",
            python[*key],
            ours[*key]
        );
    }
}

/// What each SDK must get right on its own: the shape the scenario prescribes.
fn check_trace(trace: &Trace) {
    let sdk = trace.sdk;
    assert_eq!(
        trace.names(),
        CLOSE_ORDER,
        "{sdk}: one document per subsegment, each sent when it closes"
    );
    let mut ids = BTreeSet::new();
    for doc in &trace.documents {
        let name = doc["name"].as_str().unwrap();
        assert_valid_xray(doc);
        assert!(
            is_lower_hex(&doc["id"], 16),
            "{sdk} {name}: id {}",
            doc["id"]
        );
        assert!(
            ids.insert(doc["id"].as_str().unwrap()),
            "{sdk}: duplicate id"
        );
        assert!(
            is_trace_id(&doc["trace_id"]),
            "{sdk} {name}: {}",
            doc["trace_id"]
        );
        assert_eq!(doc["trace_id"], trace.header.root.as_str(), "{sdk} {name}");
        assert!(is_lower_hex(&doc["parent_id"], 16), "{sdk} {name}");
        assert_eq!(doc["type"], "subsegment", "{sdk} {name}");
        assert!(
            doc["start_time"].is_f64() && doc["end_time"].is_f64(),
            "{sdk} {name}: times are JSON numbers with a fraction: {doc}"
        );
        let (start, end) = times(doc);
        assert!(start > 1.7e9 && end >= start, "{sdk} {name}: {start} {end}");
        for flag in ["error", "throttle"] {
            assert!(doc.get(flag).is_none(), "{sdk} {name}: {flag}");
        }
    }

    // The tree: handler under the Lambda function segment (the header's Parent), `work` and
    // `nested_failure` under the handler, `lookup` under `work`; children inside their parents.
    let (handler, work) = (trace.get(HANDLER), trace.get("work"));
    let (lookup, failure) = (trace.get("lookup"), trace.get("nested_failure"));
    assert_eq!(handler["parent_id"], trace.header.parent.as_str(), "{sdk}");
    for (child, parent) in [(work, handler), (failure, handler), (lookup, work)] {
        assert_eq!(child["parent_id"], parent["id"], "{sdk}: {}", child["name"]);
        let (child_times, parent_times) = (times(child), times(parent));
        assert!(
            child_times.0 + TIME_SLACK >= parent_times.0
                && child_times.1 <= parent_times.1 + TIME_SLACK,
            "{sdk}: {} {child_times:?} inside {} {parent_times:?}",
            child["name"],
            parent["name"]
        );
    }
    assert!(
        times(work).1 <= times(failure).0 + TIME_SLACK,
        "{sdk}: work before nested_failure"
    );

    // The handler recovered from the nested failure: only `nested_failure` faulted.
    for doc in [handler, work, lookup] {
        assert!(
            doc.get("fault").is_none() && doc.get("cause").is_none(),
            "{sdk}: {doc}"
        );
    }
    assert_eq!(failure["fault"], true, "{sdk}");
    let cause = object("cause", &failure["cause"]);
    assert!(cause["working_directory"].is_string(), "{sdk}: {failure}");
    let exceptions = cause["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 1, "{sdk}: {failure}");
    let exception = &exceptions[0];
    assert!(is_lower_hex(&exception["id"], 16), "{sdk}: {exception}");
    assert_ne!(exception["id"], failure["id"], "{sdk}");
    assert_eq!(exception["message"], "boom from nested subsegment", "{sdk}");
    assert!(exception["type"].is_string(), "{sdk}: {exception}");
    assert_eq!(exception["remote"], false, "{sdk}");

    assert_eq!(lookup["namespace"], "aws", "{sdk}");
    assert_eq!(lookup["annotations"], json!({ "table": "users" }), "{sdk}");
    assert_eq!(
        lookup["metadata"],
        json!({ "tracing": { "user": 21 } }),
        "{sdk}"
    );
    let annotations = object("annotations", &handler["annotations"]);
    let shared: Value = serde_json::from_str(SHARED_HANDLER_ANNOTATIONS).unwrap();
    for (key, value) in object("annotations", &shared) {
        assert_eq!(&annotations[key], value, "{sdk}: annotation {key}");
    }
    for (namespace, entries) in object("metadata", &handler["metadata"]) {
        assert!(entries.is_object(), "{sdk}: metadata namespace {namespace}");
    }
    assert_eq!(
        handler["metadata"]["demo_ns"],
        json!({ "payload": { "items": [1, 2], "note": "hi" } }),
        "{sdk}"
    );
}

fn times(doc: &Value) -> (f64, f64) {
    (
        doc["start_time"].as_f64().unwrap(),
        doc["end_time"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_documents_match_the_official_python_sdk() {
    let python = tools::install("xray-reference");
    let python_trace =
        tokio::task::spawn_blocking(move || python_trace(&python, TraceHeader::generate()));
    let ours = our_trace().await;
    let python = python_trace.await.unwrap();
    check_trace(&python);
    check_trace(&ours);

    for name in CLOSE_ORDER {
        let (py, our) = (python.get(name), ours.get(name));

        // Top-level fields: Python adds `in_progress: false` everywhere and `namespace: "local"`
        // on custom subsegments; `lookup` has `namespace: "aws"` on both sides.
        let python_only: &[&str] = if name == "lookup" {
            &["in_progress"]
        } else {
            &["in_progress", "namespace"]
        };
        compare_fields(name, py, our, python_only, &[]);
        assert_eq!(py["in_progress"], false, "python {name}");
        assert!(our.get("in_progress").is_none(), "ours {name}");
        if name != "lookup" {
            assert_eq!(py["namespace"], "local", "python {name}");
            assert!(our.get("namespace").is_none(), "ours {name}");
        }
        for field in ["annotations", "metadata"] {
            if py.get(field).is_some() {
                // Namespaces are objects on both sides (checked in check_trace); here their
                // keys and, for shared ones, their exact values (and so their types).
                let ours_only: &[&str] = match (name, field) {
                    (HANDLER, "annotations") => &["StartKind"],
                    (HANDLER, "metadata") => &["lambda_perf", "orders"],
                    _ => &[],
                };
                let what = format!("{name}.{field}");
                compare_fields(&what, &py[field], &our[field], &[], ours_only);
                for (key, value) in object(&what, &py[field]) {
                    assert_eq!(value, &our[field][key], "{what}.{key}");
                }
            }
        }
    }

    // Our extras on the handler subsegment.
    let handler = ours.get(HANDLER);
    assert_eq!(handler["annotations"]["StartKind"], "cold");
    assert_eq!(
        handler["metadata"]["orders"],
        json!({ "orders-fn response": { "done": "trace", "doubled": 42, "failed": true } })
    );
    assert!(handler["metadata"]["lambda_perf"].is_object());

    // The failure: same cause fields; one exception with the same fields but Python's stack,
    // and each language's own type name.
    let (py, our) = (python.get("nested_failure"), ours.get("nested_failure"));
    compare_fields(
        "nested_failure.cause",
        &py["cause"],
        &our["cause"],
        &[],
        &[],
    );
    let (py_exception, our_exception) = (
        &py["cause"]["exceptions"][0],
        &our["cause"]["exceptions"][0],
    );
    compare_fields(
        "nested_failure.cause.exceptions[0]",
        py_exception,
        our_exception,
        &["stack"],
        &[],
    );
    assert_eq!(py_exception["type"], "ValueError");
    assert_eq!(our_exception["type"], "Error");
    let stack = py_exception["stack"].as_array().unwrap();
    let frame = stack.last().expect("python records the raising frame");
    assert_eq!(frame["path"], "reference.py");
    assert_eq!(frame["label"], "handler");
    assert!(frame["line"].is_u64(), "{frame}");
}
