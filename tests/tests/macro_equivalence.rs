//! `#[instrument_lambda]` and `PerfLayer` instrument a handler identically: the same EMF lines
//! and the same X-Ray documents, ids and times aside, with the handler subsegment named by the
//! same rule (`## <function name>`, here `## orders-fn`).

mod support;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, InvokeReply,
    InvokeRequest, RuntimeApi, TraceHeader, XRayCollector,
};
use serde_json::{Value, json};
use support::otlp::{OtlpCollector, named, text, trace_id};
use support::*;

/// The handler subsegment of both faces: `## ` and the function name.
const HANDLER: &str = "## orders-fn";

/// The twin function in `mode` (`TWIN_MODE`), configured by `config`, started against a
/// Runtime API of its own; the environment must outlive the process.
async fn twin(
    mode: &str,
    config: FunctionConfig,
) -> (RuntimeApi, ExecutionEnvironment, FunctionProcess) {
    let api = RuntimeApi::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let config = config.with_env("TWIN_MODE", mode);
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_twin-function"));
    let process = FunctionProcess::spawn(&command, &config, &environment, &api).unwrap();
    (api, environment, process)
}

/// Runs the twin function in `mode` through cold, warm and failing invocations; returns its
/// EMF lines and X-Ray documents with ids, times and request ids blanked.
async fn run(mode: &str) -> (Vec<Value>, Vec<Value>) {
    let collector = XRayCollector::start().await.unwrap();
    let config = function_config().with_xray_daemon_address(collector.addr().to_string());
    let (api, _environment, process) = twin(mode, config).await;
    let mut documents = Vec::new();
    for event in [
        json!({}),
        json!({}),
        json!({ "fail": true }),
        json!({ "panic": true }),
    ] {
        let result = process
            .invoke(&api, InvokeRequest::json(event))
            .await
            .unwrap();
        end_line(&process, &result.request_id).await;
        let root = trace_root(&result);
        let handler = collector
            .wait_for(
                |doc| doc["trace_id"] == root.as_str() && doc["name"] == HANDLER,
                WAIT,
            )
            .await
            .unwrap();
        let mut trace: Vec<Value> = collector
            .documents()
            .into_iter()
            .filter(|doc| doc["trace_id"] == root.as_str())
            .collect();
        trace.sort_by_key(|doc| doc["name"].to_string());
        assert_eq!(trace.len(), 2, "{trace:#?}");
        assert_eq!(
            trace[1]["parent_id"], handler["id"],
            "price nests in the handler"
        );
        documents.extend(trace);
    }
    process.kill().await.unwrap();
    let lines = process.emf_lines().into_iter().map(blank).collect();
    (lines, documents.into_iter().map(blank).collect())
}

/// Blanks what differs between any two runs: ids, times, durations, request ids.
fn blank(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    let varies = matches!(
                        key.as_str(),
                        "id" | "parent_id"
                            | "trace_id"
                            | "start_time"
                            | "end_time"
                            | "Timestamp"
                            | "request_id"
                            | "idle_gap_ms"
                            | "environment_age_ms"
                            | "init_duration_ms"
                            | "duration_ms"
                            | "deadline_headroom_ms"
                            | "InitDuration"
                            | "working_directory"
                    );
                    if varies {
                        *field = Value::String("…".into());
                    } else {
                        walk(field);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// Takes `first_request_wait_ms` out of each line's facts: the one fact only `PerfLayer` can
/// know, because it sees its service built right before the runtime asks for work (a handler
/// given to `service_fn` is not seen until its first call).
/// `facts` points at the facts in each value (`/lambda_perf` in a line,
/// `/metadata/lambda_perf` in a handler subsegment).
fn take_first_request_wait(values: &mut [Value], facts: &str) -> Vec<Option<f64>> {
    values
        .iter_mut()
        .filter_map(|value| value.pointer_mut(facts)?.as_object_mut())
        .map(|facts| {
            let wait = facts.remove("first_request_wait_ms");
            wait.map(|wait| wait.as_f64().unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_macro_and_the_layer_write_the_same_lines_and_documents() {
    the_faces_write_the_same_lines_and_documents("layer", "macro").await;
}

/// With `PerfRuntimeLayer` too, which moves the records' writes after the response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_macro_and_the_layer_write_the_same_lines_and_documents_under_the_companion() {
    the_faces_write_the_same_lines_and_documents("layer-companion", "macro-companion").await;
    // And what the companion is for: the client does not wait for the records. The redaction
    // hook both faces call as they write them is made slow.
    for mode in ["layer-companion", "macro-companion"] {
        let config = function_config().with_env("TWIN_SLOW_REDACT_MS", "300");
        let (api, _environment, process) = twin(mode, config).await;
        for _ in 0..2 {
            let result = process
                .invoke(&api, InvokeRequest::json(json!({})))
                .await
                .unwrap();
            let latency = result.duration().unwrap();
            assert!(
                latency < std::time::Duration::from_millis(300),
                "{mode}: the client waited {latency:?}, the slow hook included"
            );
            end_line(&process, &result.request_id).await;
        }
        process.kill().await.unwrap();
    }
}

/// `layer` and `macro`: the layer's mode and the macro's, which write the same lines and
/// documents.
async fn the_faces_write_the_same_lines_and_documents(layer: &str, r#macro: &str) {
    let (mut layer_lines, mut layer_documents) = run(layer).await;
    let (mut macro_lines, mut macro_documents) = run(r#macro).await;
    let in_lines = take_first_request_wait(&mut layer_lines, "/lambda_perf");
    let in_documents = take_first_request_wait(&mut layer_documents, "/metadata/lambda_perf");
    for (waits, first) in [(in_lines, 2), (in_documents, 1)] {
        assert!(
            waits[..first].iter().all(Option::is_some)
                && waits[first..].iter().all(Option::is_none),
            "the first invocation's records, and only those, carry the wait: {waits:?}"
        );
    }
    for (values, facts) in [
        (&mut macro_lines, "/lambda_perf"),
        (&mut macro_documents, "/metadata/lambda_perf"),
    ] {
        assert!(
            take_first_request_wait(values, facts)
                .iter()
                .all(Option::is_none)
        );
    }
    // Cold (ColdStart + invocation), warm, failing warm, panicking warm.
    assert_eq!(layer_lines.len(), 5, "{layer_lines:#?}");
    assert_eq!(layer_documents.len(), 8);
    assert_eq!(macro_lines, layer_lines);
    assert_eq!(macro_documents, layer_documents);
    // And they say what they should.
    assert_eq!(layer_documents[0]["annotations"]["ColdStart"], true);
    assert_eq!(
        layer_documents[0]["metadata"]["orders"]["orders-fn response"],
        json!({ "price": 42, "masked": true }),
        "both faces pass the response through their redaction hook"
    );
    assert_eq!(layer_documents[4]["fault"], true);
    assert_eq!(
        layer_documents[4]["metadata"]["orders"]["orders-fn error"],
        json!({ "type": "lambda_runtime::Error", "message": "twin failure" })
    );
    assert_eq!(layer_lines[3]["lambda_perf"]["outcome"], "error");
    assert_eq!(layer_documents[6]["fault"], true);
    assert_eq!(layer_lines[4]["lambda_perf"]["outcome"], "panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracing_span_above_the_macro_nests_in_the_handler_subsegment() {
    let collector = XRayCollector::start().await.unwrap();
    let config = function_config().with_xray_daemon_address(collector.addr().to_string());
    let (api, _environment, process) = twin("macro-traced", config).await;
    let result = process
        .invoke(&api, InvokeRequest::json(json!({})))
        .await
        .unwrap();
    let root = trace_root(&result);
    let root = root.as_str();
    let handler = collector
        .wait_for(
            |doc| doc["trace_id"] == root && doc["name"] == HANDLER,
            WAIT,
        )
        .await
        .unwrap();
    let trace: Vec<Value> = collector
        .documents()
        .into_iter()
        .filter(|doc| doc["trace_id"] == root)
        .collect();
    process.kill().await.unwrap();
    let named = |name: &str| {
        trace
            .iter()
            .find(|doc| doc["name"] == name)
            .unwrap_or_else(|| panic!("no subsegment {name:?} in {trace:#?}"))
    };
    // `#[tracing::instrument]` names its span after the Rust function: `traced`.
    let span = named("traced");
    assert_eq!(span["parent_id"], handler["id"], "{trace:#?}");
    assert_eq!(named("price")["parent_id"], span["id"], "{trace:#?}");
    assert_eq!(trace.len(), 3, "{trace:#?}");
    trace.iter().for_each(assert_valid_xray);
}

/// Both faces give their OpenTelemetry handler span the trigger they are told: the macro's
/// `faas_trigger = "pubsub"`, the layer's `PerfLayerBuilder::faas_trigger`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_faces_give_the_handler_span_the_trigger_they_are_told() {
    for mode in ["layer-companion", "macro-companion"] {
        let otlp = OtlpCollector::start();
        let config = function_config()
            .with_env("LAMBDA_PERF_TRACES", "otlp")
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
            // A loaded machine must not make the export (the first opens a connection) late.
            .with_env("LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS", "5000");
        let (api, _environment, process) = twin(mode, config).await;
        let result = process
            .invoke(&api, InvokeRequest::json(json!({})))
            .await
            .unwrap();
        let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
        let spans = otlp.wait_for(&trace_id(&header), WAIT);
        process.kill().await.unwrap();
        let handler = named(&spans, HANDLER);
        assert_eq!(
            text(&handler.attributes, "faas.trigger").as_deref(),
            Some("pubsub"),
            "{mode}"
        );
    }
}

/// Where the macro cannot capture what `PerfLayer` would — a generic handler whose response
/// type has no `Serialize` bound where it is written, run as `unbounded::<Value>` — it answers
/// and records as the layer does, without the response, and says so once, naming the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_macro_cannot_capture_is_left_out_with_one_warning() {
    let collector = XRayCollector::start().await.unwrap();
    let config = function_config().with_xray_daemon_address(collector.addr().to_string());
    let (api, _environment, process) = twin("macro-unbounded", config).await;
    for _ in 0..2 {
        let result = process
            .invoke(&api, InvokeRequest::json(json!({})))
            .await
            .unwrap();
        let root = trace_root(&result);
        let root = root.as_str();
        assert_eq!(result.into_json().unwrap(), json!({ "price": 42 }));
        let handler = collector
            .wait_for(
                |doc| doc["trace_id"] == root && doc["name"] == HANDLER,
                WAIT,
            )
            .await
            .unwrap();
        assert_eq!(
            handler["metadata"]["orders"].get("orders-fn response"),
            None,
            "{handler:#}"
        );
        // Each response left out is counted, on its own invocation's subsegment.
        assert_eq!(
            handler["metadata"]["lambda_perf"]["dropped"]["xray.response_not_capturable"], 1,
            "{handler:#}"
        );
    }
    process.kill().await.unwrap();
    let warned: Vec<String> = warnings(&process)
        .into_iter()
        .filter(|line| line.contains("cannot capture a response"))
        .collect();
    assert_eq!(warned.len(), 1, "{:#?}", process.last_lines(20));
    assert!(
        warned[0].contains("serde_json::value::Value") && warned[0].contains("generic"),
        "{warned:?}"
    );
}

/// The trace id of the header the Runtime API handed out with `result`'s invocation.
fn trace_root(result: &InvokeReply) -> String {
    TraceHeader::parse(result.trace_header.as_deref().unwrap())
        .unwrap()
        .root
}
