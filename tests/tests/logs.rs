//! Structured logs under the real `lambda_runtime` loop: a function that calls
//! `lambda_perf_core::init()` writes, on stdout, JSON log lines that carry the invocation the
//! test sent (request id, trace id, function, cold start) — on the handler's task, inside a
//! span and on spawned work, sixteen invocations at once — next to EMF lines that still
//! validate, and nothing else. Text format, levels, sampling and the incoming event too.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use lambda_perf_local::emulator::{
    FunctionCommand, FunctionConfig, FunctionProcess, InvokeReply, InvokeRequest, OutputStream,
    RuntimeApi, TraceHeader, XRayCollector,
};
use serde_json::{Value, json};
use support::otlp::{decode_datagram, hex, named, spans_of, trace_id};
use support::*;

struct Running {
    api: RuntimeApi,
    process: FunctionProcess,
    collector: XRayCollector,
    config: FunctionConfig,
    _started: lambda_perf_local::emulator::ExecutionEnvironment,
}

async fn start_logging(configure: impl FnOnce(FunctionConfig) -> FunctionConfig) -> Running {
    let collector = XRayCollector::start().await.unwrap();
    let config =
        configure(function_config().with_xray_daemon_address(collector.addr().to_string()));
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_logging-function"));
    let Started {
        api,
        process,
        environment,
    } = start(&command, &config).await;
    Running {
        api,
        process,
        collector,
        config,
        _started: environment,
    }
}

impl Running {
    /// Invokes with `{"order": order}` and waits until the invocation's EMF line is out
    /// (every log line of the invocation was written before it).
    async fn order(&self, order: u64) -> InvokeReply {
        let result = self
            .process
            .invoke(&self.api, InvokeRequest::json(json!({ "order": order })))
            .await
            .unwrap();
        assert_eq!(
            result.clone().into_json().unwrap(),
            json!({ "order": order })
        );
        end_line(&self.process, &result.request_id).await;
        result
    }

    /// Invokes with `event`, whatever the function answers.
    async fn invoke(&self, event: Value) -> InvokeReply {
        self.process
            .invoke(&self.api, InvokeRequest::json(event))
            .await
            .unwrap()
    }

    fn stdout(&self) -> Vec<String> {
        self.process
            .output()
            .into_iter()
            .filter(|line| line.stream == OutputStream::Stdout)
            .map(|line| line.text)
            .collect()
    }
}

/// `line` has none of an invocation's keys (`why` says why it should not).
fn assert_no_invocation_keys(line: &Value, why: &str) {
    for key in [
        "function_request_id",
        "xray_trace_id",
        "cold_start",
        "service",
    ] {
        assert!(line.get(key).is_none(), "{why}: {line}");
    }
}

fn trace_root(result: &InvokeReply) -> String {
    TraceHeader::parse(result.trace_header.as_deref().unwrap())
        .unwrap()
        .root
}

/// `2026-11-23T05:16:18.886Z`.
fn is_rfc3339_millis_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    bytes.len() == 24
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'.'
        && digits(20..23)
        && bytes[23] == b'Z'
}

/// Every stdout line is a valid EMF line or a JSON log line, and nothing else: returns the
/// log lines.
fn split_stdout(lines: &[String]) -> Vec<Value> {
    let mut logs = Vec::new();
    for line in lines {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("a stdout line that is no JSON ({error}): {line}"));
        if value.get("_aws").is_some() {
            assert_valid_emf(&value);
            continue;
        }
        assert!(
            is_rfc3339_millis_utc(value["timestamp"].as_str().unwrap_or_default()),
            "{line}"
        );
        for key in ["level", "message", "target"] {
            assert!(value[key].is_string(), "no {key}: {line}");
        }
        logs.push(value);
    }
    logs
}

/// JSON lines, though the harness sets `AWS_LAMBDA_LOG_FORMAT=Text`, as Lambda does on every
/// function left at its default log format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_their_own_invocation_sixteen_at_once() {
    let running = start_logging(|config| config.with_max_concurrency(16)).await;
    let results = join_all((0..16).map(|order| running.order(order))).await;

    let logs = split_stdout(&running.stdout());
    let init: Vec<&Value> = logs
        .iter()
        .filter(|line| line["message"] == "function starting")
        .collect();
    assert_eq!(init.len(), 1, "{logs:#?}");
    assert_eq!(init[0]["phase"], "init");
    assert_eq!(init[0]["level"], "INFO");
    assert_no_invocation_keys(init[0], "outside an invocation");

    let mut cold = BTreeSet::new();
    for (order, result) in results.iter().enumerate() {
        let own: Vec<&Value> = logs
            .iter()
            .filter(|line| line["order"] == order as u64)
            .collect();
        let messages: BTreeSet<&str> = own.iter().map(|l| l["message"].as_str().unwrap()).collect();
        assert_eq!(
            messages,
            BTreeSet::from(["order received", "paying", "spawned work"]),
            "order {order}: {own:#?}"
        );
        assert_eq!(own.len(), 3, "order {order}: {own:#?}");
        for line in &own {
            assert_eq!(
                line["function_request_id"],
                result.request_id.as_str(),
                "{line}"
            );
            assert_eq!(line["xray_trace_id"], trace_root(result), "{line}");
            assert_eq!(line["service"], "orders");
            assert_eq!(line["function_name"], "orders-fn");
            assert_eq!(line["function_memory_size"], running.config.memory_mb());
            assert_eq!(line["function_arn"], running.config.function_arn());
            assert_eq!(line["target"], "logging_function");
            let cold_start = line["cold_start"].as_bool().unwrap();
            let kind = line["start_kind"].as_str().unwrap();
            assert_eq!(cold_start, kind == "cold", "{line}");
            if cold_start {
                cold.insert(result.request_id.clone());
            }
        }
        let paying = own.iter().find(|l| l["message"] == "paying").unwrap();
        assert_eq!(paying["step"], "pay", "the event's field");
        let spawned = own.iter().find(|l| l["message"] == "spawned work").unwrap();
        assert_eq!(spawned["level"], "WARN");
    }
    assert_eq!(
        cold.len(),
        1,
        "exactly one invocation was the process's first"
    );
    assert!(
        logs.iter().all(|line| line["message"] != "order detail"),
        "DEBUG is below the default level"
    );
    assert_eq!(
        logs.len(),
        1 + 16 * 3,
        "no line from anyone else: {logs:#?}"
    );

    // init() installed the X-Ray layer too: the span is a subsegment of its invocation.
    let result = &results[3];
    let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
    let parent = header.parent.clone();
    let root = header.root.clone();
    running
        .collector
        .wait_for(
            move |doc| doc["trace_id"] == root.as_str() && doc["parent_id"] == parent.as_str(),
            WAIT,
        )
        .await
        .unwrap();
    let documents: Vec<Value> = running
        .collector
        .documents()
        .into_iter()
        .filter(|doc| doc["trace_id"] == header.root.as_str())
        .collect();
    documents.iter().for_each(assert_valid_xray);
    let handler = documents
        .iter()
        .find(|d| d["name"] == "## orders-fn")
        .unwrap();
    let checkout = documents.iter().find(|d| d["name"] == "checkout").unwrap();
    assert_eq!(checkout["parent_id"], handler["id"]);
    assert_eq!(checkout["metadata"]["tracing"]["order"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_lines_at_debug_keep_the_transport_crates_quiet() {
    let running = start_logging(|config| {
        config
            .with_env("LAMBDA_PERF_LOG_FORMAT", "Text")
            .with_env("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
    })
    .await;
    let first = running.order(1).await;
    let second = running.order(2).await;

    let mut by_request: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut init_lines = Vec::new();
    for line in running.stdout() {
        if let Ok(value) = serde_json::from_str::<Value>(&line) {
            assert_valid_emf(&value);
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        assert!(is_rfc3339_millis_utc(columns[0]), "{line}");
        match columns.len() {
            3 => init_lines.push(columns[2].to_owned()),
            4 => by_request
                .entry(columns[1].to_owned())
                .or_default()
                .push((columns[2].to_owned(), columns[3].to_owned())),
            _ => panic!("neither EMF nor a log line: {line:?}"),
        }
    }
    assert_eq!(
        init_lines,
        ["logging_function: function starting phase=\"init\""]
    );
    assert_eq!(by_request.len(), 2, "{by_request:#?}");
    for (result, order) in [(&first, 1), (&second, 2)] {
        let lines = &by_request[&result.request_id];
        assert_eq!(
            lines,
            &[
                (
                    "INFO".to_owned(),
                    format!("logging_function: order received order={order}")
                ),
                (
                    "DEBUG".to_owned(),
                    format!("logging_function: order detail order={order}")
                ),
                (
                    "INFO".to_owned(),
                    format!("logging_function: paying order={order} step=\"pay\"")
                ),
                (
                    "WARN".to_owned(),
                    format!("logging_function: spawned work order={order}")
                ),
            ],
            "{lines:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_invocation_logs_debug_and_the_incoming_event_when_asked() {
    let running = start_logging(|config| {
        config
            .with_env("POWERTOOLS_LOGGER_SAMPLE_RATE", "1")
            .with_env("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    })
    .await;
    let result = running.order(5).await;
    let logs = split_stdout(&running.stdout());
    let own: Vec<&Value> = logs
        .iter()
        .filter(|line| line["function_request_id"] == result.request_id.as_str())
        .collect();
    let messages: Vec<&str> = own.iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "Lambda invocation event",
            "order received",
            "order detail",
            "paying",
            "spawned work"
        ]
    );
    assert_eq!(own[0]["event"], json!({ "order": 5 }));
    assert_eq!(own[2]["level"], "DEBUG");
    for line in &own {
        assert_eq!(line["sampling_rate"], 1.0, "{line}");
    }
    let init = logs
        .iter()
        .find(|l| l["message"] == "function starting")
        .unwrap();
    assert!(init.get("sampling_rate").is_none(), "{init}");
}

/// A plain `tokio::spawn`ed task instrumented with `tracing::Span::current()` — the span the
/// handler runs in — carries the handler's invocation to its lines, as a span made in the
/// handler does: `lambda_runtime`'s own span around the invocation (made before lambda-perf
/// begins it, and carrying nothing) is not the handler's current span. Behind `PerfLayer` and
/// under `#[instrument_lambda]`, one at a time and on Managed Instances' workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_in_the_handlers_current_span_carries_its_invocation() {
    lines_in_the_current_span(|config| config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_in_the_attributed_handlers_current_span_carries_its_invocation() {
    lines_in_the_current_span(|config| config.with_env("LOGGING_MACRO", "1")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_in_the_handlers_current_span_carries_its_invocation_on_its_worker() {
    lines_in_the_current_span(|config| config.with_max_concurrency(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_in_the_attributed_handlers_current_span_carries_its_invocation_on_its_worker() {
    lines_in_the_current_span(|config| {
        config
            .with_env("LOGGING_MACRO", "1")
            .with_max_concurrency(3)
    })
    .await;
}

async fn lines_in_the_current_span(configure: impl FnOnce(FunctionConfig) -> FunctionConfig) {
    let running = start_logging(configure).await;
    let mut results = Vec::new();
    for order in [1_u64, 2] {
        let result = running
            .invoke(json!({ "order": order, "in_current_span": true }))
            .await;
        assert_eq!(
            result.clone().into_json().unwrap(),
            json!({ "order": order })
        );
        end_line(&running.process, &result.request_id).await;
        results.push(result);
    }
    let logs = split_stdout(&running.stdout());
    for (order, result) in [1_u64, 2].into_iter().zip(&results) {
        let line = logs
            .iter()
            .find(|line| line["order"] == order && line["message"] == "in the current span")
            .unwrap_or_else(|| panic!("order {order}: {logs:#?}"));
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(
            line["function_request_id"],
            result.request_id.as_str(),
            "{line}"
        );
        assert_eq!(line["xray_trace_id"], trace_root(result), "{line}");
        assert_eq!(line["service"], "orders", "{line}");
        assert_eq!(line["function_name"], "orders-fn", "{line}");
        assert_eq!(line["cold_start"], order == 1, "{line}");
        assert_eq!(
            line.as_object().unwrap().len(),
            logs.iter()
                .find(|l| l["order"] == order && l["message"] == "spawned work")
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            "the same keys as the handler's other spawned line: {line}"
        );
    }
}

/// A field whose `Debug` panics or returns an error, an event's or its span's, is described
/// in the line (`<formatting panicked: …>`, `<formatting failed>`, as the X-Ray layer describes
/// it), which stays one valid JSON line with the invocation's keys; the handler's answer is
/// its own, and the next invocation logs as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_whose_debug_fails_is_described_and_the_handler_answers() {
    let running = start_logging(|config| config).await;
    let result = running
        .invoke(json!({ "order": 8, "hostile_fields": true }))
        .await;
    assert_eq!(
        result.clone().into_json().unwrap(),
        json!({ "order": 8 }),
        "{result:?}"
    );
    end_line(&running.process, &result.request_id).await;
    let after = running.order(9).await;
    let logs = split_stdout(&running.stdout());
    let line = logs
        .iter()
        .find(|line| line["message"] == "hostile fields")
        .unwrap_or_else(|| panic!("no line: {logs:#?}"));
    assert_eq!(line["order"], 8, "{line}");
    assert_eq!(
        line["panics"], "<formatting panicked: this Debug panics>",
        "{line}"
    );
    assert_eq!(
        line["in_span"], "<formatting panicked: this Debug panics>",
        "{line}"
    );
    assert_eq!(line["fails"], "<formatting failed>", "{line}");
    assert_eq!(
        line["function_request_id"],
        result.request_id.as_str(),
        "{line}"
    );
    let next = logs
        .iter()
        .find(|line| line["order"] == 9 && line["message"] == "order received")
        .unwrap_or_else(|| panic!("no line of the next invocation: {logs:#?}"));
    assert_eq!(next["function_request_id"], after.request_id.as_str());
}

/// `init()` installs one layer for spans, and it feeds every trace backend: with
/// `LAMBDA_PERF_TRACES=xray-otlp` the `checkout` span reaches the daemon's socket as an
/// OpenTelemetry span under the handler span, in the invocation's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_opentelemetry_the_spans_init_sees_are_opentelemetry_spans() {
    let running = start_logging(|config| config.with_env("LAMBDA_PERF_TRACES", "xray-otlp")).await;
    let result = running.order(4).await;
    let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
    // Not `replace("1-", "")`: the time part of a root can end in 1 too.
    let trace_id = trace_id(&header);
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = running
            .collector
            .datagrams()
            .iter()
            .flat_map(|datagram| spans_of(&decode_datagram(&datagram.raw).1))
            .filter(|span| hex(&span.trace_id) == trace_id)
            .collect();
        if spans.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let handler = named(&spans, "## orders-fn");
    let checkout = named(&spans, "checkout");
    assert_eq!(checkout.parent_span_id, handler.span_id);
    assert_eq!(hex(&handler.parent_span_id), header.parent);
    assert!(
        running.collector.documents().is_empty(),
        "no X-Ray documents"
    );
}

/// A handler that fails: `lambda_runtime` logs the error (or the panic) once the handler's
/// future has completed, outside the invocation, and those lines still carry its keys; the
/// next invocation's lines carry the next one's. Behind `PerfLayer`, and under
/// `#[instrument_lambda]`, whose future is gone before the runtime's line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtimes_lines_about_a_failed_handler_carry_its_invocation() {
    runtime_lines_about_failures(|config| config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtimes_lines_about_a_failed_attributed_handler_carry_its_invocation() {
    runtime_lines_about_failures(|config| config.with_env("LOGGING_MACRO", "1")).await;
}

/// The same on Managed Instances, where each of the runtime's workers is a task of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtimes_lines_about_a_failed_handler_carry_its_invocation_on_its_worker() {
    runtime_lines_about_failures(|config| config.with_max_concurrency(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtimes_lines_about_a_failed_attributed_handler_carry_its_invocation_on_its_worker() {
    runtime_lines_about_failures(|config| {
        config
            .with_env("LOGGING_MACRO", "1")
            .with_max_concurrency(3)
    })
    .await;
}

async fn runtime_lines_about_failures(configure: impl FnOnce(FunctionConfig) -> FunctionConfig) {
    let running = start_logging(configure).await;
    let mut failed = Vec::new();
    for (order, fail) in [(1_u64, "error"), (2, "panic")] {
        let result = running
            .invoke(json!({ "order": order, "fail": fail }))
            .await;
        assert_eq!(result.answer.kind(), "error", "{result:?}");
        end_line(&running.process, &result.request_id).await;
        failed.push(result);
    }
    // A failure a layer above turns into an answer: no line of the runtime's takes its hold,
    // which is stale once the next invocation has begun (on whichever worker); after it, a
    // failure of that layer on its own, the handler never called, is no invocation's.
    let swallowed = running
        .invoke(json!({ "order": 4, "fail": "swallow" }))
        .await;
    assert_eq!(
        swallowed.clone().into_json().unwrap(),
        json!({ "swallowed": 4 })
    );
    running.order(5).await;
    let outer = running.invoke(json!({ "order": 6, "fail": "outer" })).await;
    assert_eq!(outer.answer.kind(), "error", "{outer:?}");
    // An event the runtime cannot read: it answers with an error without calling the
    // handler, and logs that outside any invocation.
    let unread = running
        .process
        .invoke(&running.api, InvokeRequest::new("not json"))
        .await
        .unwrap();
    assert_eq!(unread.answer.kind(), "error", "{unread:?}");
    let after = running.order(3).await;
    // The runtime's lines come once the handler's result reached it: by the next
    // invocation's end, all are out.

    let logs = split_stdout(&running.stdout());
    let runtime_lines: Vec<&Value> = logs
        .iter()
        .filter(|line| {
            line["target"]
                .as_str()
                .is_some_and(|target| target.starts_with("lambda_runtime"))
        })
        .collect();
    let error_line = runtime_lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .unwrap_or_default()
                .contains("order 1 failed")
        })
        .unwrap_or_else(|| panic!("no runtime line with the error: {logs:#?}"));
    let panic_line = runtime_lines
        .iter()
        .find(|line| line["message"] == "user handler panicked")
        .unwrap_or_else(|| panic!("no runtime line about the panic: {logs:#?}"));
    for (line, result) in [(error_line, &failed[0]), (panic_line, &failed[1])] {
        assert_eq!(line["level"], "ERROR", "{line}");
        assert_eq!(
            line["function_request_id"],
            result.request_id.as_str(),
            "{line}"
        );
        assert_eq!(line["xray_trace_id"], trace_root(result), "{line}");
        assert_eq!(line["function_name"], "orders-fn", "{line}");
        assert_eq!(line["service"], "orders", "{line}");
        assert!(line["cold_start"].is_boolean(), "{line}");
    }
    assert_eq!(
        error_line["cold_start"], true,
        "the first invocation was the process's first"
    );
    for about in [
        "order 6 failed outside the handler",
        "payload deserialization",
    ] {
        let line = runtime_lines
            .iter()
            .find(|line| line["message"].as_str().unwrap_or_default().contains(about))
            .unwrap_or_else(|| panic!("no runtime line with {about:?}: {logs:#?}"));
        assert_no_invocation_keys(line, "no invocation's, though it came after failures");
    }
    // The handler's own line of each invocation carries its own request id, the one after
    // the failures too.
    for (order, result) in [(1_u64, &failed[0]), (2, &failed[1]), (3, &after)] {
        let received = logs
            .iter()
            .find(|line| line["order"] == order && line["message"] == "order received")
            .unwrap_or_else(|| panic!("order {order}: {logs:#?}"));
        assert_eq!(
            received["function_request_id"],
            result.request_id.as_str(),
            "{received}"
        );
    }
}
