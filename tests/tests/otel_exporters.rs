//! The OpenTelemetry exporters for real, in process: OTLP/HTTP to a collector listening on
//! loopback, `xray-otlp` to a UDP socket, each decoded with the OpenTelemetry protobuf
//! definitions; and the same invocation through `xray` and `otlp` gives the same tree.

mod support;

use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use lambda_perf_core::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use lambda_perf_core::test_util::{Recorder, event, unsampled_event};
use lambda_perf_core::xray::{self, Subsegment};
use lambda_perf_core::{PerfLayerBuilder, TraceBackend};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::{Value, json};
use support::otlp::{
    OtlpCollector, attribute as value, decode_datagram, document_tree, hex, span_of, span_tree,
    spans_of, text,
};

async fn traced(_: LambdaEvent<Value>) -> Result<Value, Error> {
    xray::annotate("tier", "gold");
    xray::add_metadata("orders", "basket", json!({ "items": 2 }));
    Subsegment::new("charge")
        .instrument(async {
            xray::annotate("amount", 42);
            Subsegment::new("fraud check").instrument(async {}).await;
        })
        .await;
    Ok(json!("ok"))
}

/// The header's root (as a trace id) and parent.
fn header_ids(event: &LambdaEvent<Value>) -> (String, String) {
    let header = event.context.xray_trace_id.clone().unwrap();
    let part = |key: &str| {
        header
            .split(';')
            .find_map(|kv| kv.strip_prefix(key))
            .unwrap()
            .to_owned()
    };
    (part("Root=1-").replace('-', ""), part("Parent="))
}

/// A URL's scheme is case-insensitive: an endpoint written `HTTP://` reaches the collector as
/// `http://` does, instead of being refused as no http URL.
#[tokio::test]
async fn an_endpoint_whose_scheme_is_in_capitals_reaches_the_collector() {
    let collector = OtlpCollector::start();
    let endpoint = collector.traces_url().replacen("http://", "HTTP://", 1);
    assert!(endpoint.starts_with("HTTP://"), "{endpoint}");
    let recorder =
        Recorder::with(|builder| builder.traces([TraceBackend::Otlp]).otlp_endpoint(endpoint));
    recorder
        .run(service_fn(traced), event(json!({})))
        .await
        .unwrap();
    let exports = collector.exports();
    assert_eq!(exports.len(), 1, "{exports:#?}");
    assert_eq!(exports[0].path, "/v1/traces");
}

#[tokio::test]
async fn otlp_http_reaches_a_collector_before_the_invocation_returns() {
    let collector = OtlpCollector::start();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            // Given in code: sent as given (only the variables' values are percent-encoded).
            .otlp_header("x-api-key", "s3cret%2Bkey")
            .otlp_gzip(false)
    });
    let sent = event(json!({}));
    let (trace_id, parent) = header_ids(&sent);
    recorder.run(service_fn(traced), sent).await.unwrap();

    // Already there when the handler's answer is: nothing waited for it after.
    let exports = collector.exports();
    assert_eq!(exports.len(), 1, "{exports:#?}");
    let export = &exports[0];
    assert_eq!(export.path, "/v1/traces");
    assert_eq!(export.header("x-api-key"), Some("s3cret%2Bkey"));
    assert_eq!(export.header("content-encoding"), None);
    let request = &export.request;
    let resource = request.resource_spans[0].resource.clone().unwrap();
    assert_eq!(
        value(&resource.attributes, "service.name"),
        Some(any_value::Value::StringValue("test".into()))
    );
    let spans = spans_of(request);
    assert_eq!(spans.len(), 3);
    let handler = spans.iter().find(|s| s.name == "## handler").unwrap();
    assert_eq!(hex(&handler.trace_id), trace_id);
    assert_eq!(hex(&handler.parent_span_id), parent);
    assert!(spans.iter().all(|span| hex(&span.trace_id) == trace_id));
    let charge = spans.iter().find(|s| s.name == "charge").unwrap();
    let check = spans.iter().find(|s| s.name == "fraud check").unwrap();
    assert_eq!(charge.parent_span_id, handler.span_id);
    assert_eq!(check.parent_span_id, charge.span_id);
    assert_eq!(
        value(&handler.attributes, "faas.coldstart"),
        Some(any_value::Value::BoolValue(true))
    );
    assert_eq!(
        value(&charge.attributes, "amount"),
        Some(any_value::Value::IntValue(42))
    );
    // Nothing went to X-Ray: only otlp was chosen.
    assert!(recorder.xray().take().is_empty());
}

#[tokio::test]
async fn both_backends_give_the_same_tree() {
    let collector = OtlpCollector::start();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::XRay, TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
    });
    recorder
        .run(service_fn(traced), event(json!({})))
        .await
        .unwrap();
    let documents = recorder.xray().take();
    let spans = spans_of(&collector.exports()[0].request);
    assert_eq!(span_tree(&spans), document_tree(&documents));
    for document in &documents {
        let span = span_of(&spans, document);
        assert_eq!(
            hex(&span.trace_id),
            document["trace_id"].as_str().unwrap()[2..].replace('-', "")
        );
        // Annotations: the same keys and values, listed for X-Ray to index.
        let annotations = document["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let listed: Vec<String> = match value(&span.attributes, "aws.xray.annotations") {
            Some(any_value::Value::ArrayValue(array)) => array
                .values
                .iter()
                .filter_map(|v| match &v.value {
                    Some(any_value::Value::StringValue(key)) => Some(key.clone()),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
            other => panic!("{other:?}"),
        };
        let mut listed = listed;
        listed.sort();
        assert_eq!(listed, annotations.keys().cloned().collect::<Vec<_>>());
        for (key, expected) in &annotations {
            let actual = match value(&span.attributes, key) {
                Some(any_value::Value::StringValue(text)) => json!(text),
                Some(any_value::Value::IntValue(number)) => json!(number),
                Some(any_value::Value::DoubleValue(number)) => json!(number),
                Some(any_value::Value::BoolValue(flag)) => json!(flag),
                other => panic!("{key}: {other:?}"),
            };
            assert_eq!(&actual, expected, "{key}");
        }
        // Metadata: each namespace as JSON (lambda-perf's own facts one attribute each).
        for (namespace, entries) in document["metadata"]
            .as_object()
            .cloned()
            .unwrap_or_default()
        {
            if namespace == "lambda_perf" {
                for (key, expected) in entries.as_object().unwrap() {
                    let attribute = format!("lambda_perf.{key}");
                    assert!(
                        value(&span.attributes, &attribute).is_some(),
                        "{attribute}: {expected}"
                    );
                }
                continue;
            }
            let Some(any_value::Value::StringValue(text)) =
                value(&span.attributes, &format!("aws.xray.metadata.{namespace}"))
            else {
                panic!("no metadata {namespace} on {}", span.name);
            };
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), entries);
        }
        // Times: the same to the microsecond.
        let start = document["start_time"].as_f64().unwrap();
        let end = document["end_time"].as_f64().unwrap();
        assert!((span.start_time_unix_nano as f64 / 1e9 - start).abs() < 2e-6);
        assert!((span.end_time_unix_nano as f64 / 1e9 - end).abs() < 2e-6);
    }
}

#[tokio::test]
async fn xray_otlp_datagrams_carry_the_tree_through_the_daemon_socket() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let address = daemon.local_addr().unwrap().to_string();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::XRayOtlp])
            .xray_daemon_address(address)
    });
    let sent = event(json!({}));
    let (trace_id, parent) = header_ids(&sent);
    recorder.run(service_fn(traced), sent).await.unwrap();

    let mut buffer = vec![0; 65_536];
    let length = daemon.recv(&mut buffer).unwrap();
    let (kind, request) = decode_datagram(&buffer[..length]);
    assert_eq!(kind, "T1S");
    let spans = spans_of(&request);
    assert_eq!(spans.len(), 3);
    let handler = spans.iter().find(|s| s.name == "## handler").unwrap();
    assert_eq!(hex(&handler.trace_id), trace_id);
    assert_eq!(hex(&handler.parent_span_id), parent);
    let charge = spans.iter().find(|s| s.name == "charge").unwrap();
    assert_eq!(charge.parent_span_id, handler.span_id);
    // One datagram for the invocation, and no X-Ray document.
    daemon.set_nonblocking(true).unwrap();
    assert!(daemon.recv(&mut buffer).is_err());
    assert!(recorder.xray().take().is_empty());
}

/// A handler span whose `xray-otlp` datagram could not be sent (the daemon was gone) takes
/// nothing with it: the drops its `lambda_perf.dropped` reported are reported again by the
/// next handler span that gets out, with the failed send.
#[tokio::test]
async fn drops_reported_by_an_unsent_xray_otlp_handler_span_are_reported_by_the_next() {
    let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = gone.local_addr().unwrap();
    drop(gone);
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::XRayOtlp])
            .xray_daemon_address(address.to_string())
    });
    // The first datagram to the closed port goes out and draws the "port unreachable" that
    // fails the next send: the one whose handler span reports the invalid annotation key.
    recorder
        .run(service_fn(traced), event(json!({})))
        .await
        .unwrap();
    let annotating = service_fn(|_: LambdaEvent<Value>| async {
        xray::annotate("bad key", 1);
        Ok::<_, Error>(json!({}))
    });
    recorder.run(annotating, event(json!({}))).await.unwrap();
    let daemon = UdpSocket::bind(address).unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    recorder
        .run(service_fn(traced), event(json!({})))
        .await
        .unwrap();
    let mut buffer = vec![0; 65_536];
    let length = daemon.recv(&mut buffer).unwrap();
    let spans = spans_of(&decode_datagram(&buffer[..length]).1);
    let handler = spans.iter().find(|s| s.name == "## handler").unwrap();
    let dropped = match value(&handler.attributes, "lambda_perf.dropped") {
        Some(any_value::Value::StringValue(text)) => text,
        other => panic!("lambda_perf.dropped is {other:?}"),
    };
    let dropped: Value = serde_json::from_str(&dropped).unwrap();
    assert_eq!(dropped["xray.invalid_annotation_key"], 1, "{dropped}");
    assert!(
        dropped["otel.xray_otlp_send_failed"].as_u64() >= Some(1),
        "{dropped}"
    );
}

#[tokio::test]
async fn a_slow_collector_costs_the_invocation_the_flush_bound_at_most() {
    let collector = OtlpCollector::answering_after(Duration::from_millis(600));
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_millis(50))
    });
    let started = Instant::now();
    recorder
        .run(service_fn(traced), event(json!({})))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_millis(400), "{took:?}");
    // The export went on in the background and arrived.
    let deadline = Instant::now() + Duration::from_secs(5);
    while collector.exports().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(collector.exports().len(), 1);
}

#[tokio::test]
async fn the_wait_never_passes_the_deadline() {
    let collector = OtlpCollector::answering_after(Duration::from_millis(800));
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_secs(5))
    });
    let mut soon = event(json!({}));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    soon.context.deadline = u64::try_from((now + Duration::from_millis(60)).as_millis()).unwrap();
    let started = Instant::now();
    recorder.run(service_fn(traced), soon).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[tokio::test]
async fn an_unreachable_collector_never_fails_the_invocation() {
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (recorder, spans) = recorder_keeping_spans(|builder| {
        builder
            .traces([TraceBackend::Otlp, TraceBackend::XRay])
            .otlp_endpoint(format!("http://{closed}/v1/traces"))
    });
    for _ in 0..2 {
        let started = Instant::now();
        let answer = recorder.run(service_fn(traced), event(json!({}))).await;
        assert_eq!(answer.unwrap(), json!("ok"));
        assert!(started.elapsed() < Duration::from_millis(400));
    }
    // X-Ray and the other exporter got both traces; the second handler span counts the
    // export that failed (the count is the process's).
    let documents = recorder.xray().take();
    assert_eq!(
        documents
            .iter()
            .filter(|doc| doc["name"] == "## handler")
            .count(),
        2
    );
    let handlers = two_handler_spans(&spans).await;
    assert_eq!(handlers.len(), 2);
    let failed = handlers[1]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "lambda_perf.otel.failed_exports")
        .map(|kv| kv.value.clone());
    assert!(
        matches!(failed, Some(lambda_perf_core::opentelemetry::Value::I64(n)) if n >= 1),
        "{failed:?}"
    );
}

/// A collector that refuses an export (4xx or 5xx) fails it: the invocations answer as they
/// would have, the failed exports are counted on later handler spans and their spans in the
/// next EMF line (`otel.export_failed`), as every drop is.
#[tokio::test]
async fn an_export_a_collector_refuses_is_counted_as_failed() {
    for status in ["400 Bad Request", "500 Internal Server Error"] {
        let collector = OtlpCollector::answering_with(Duration::ZERO, status, Vec::new());
        let (recorder, spans) = recorder_keeping_spans(|builder| {
            builder
                .traces([TraceBackend::Otlp])
                .otlp_endpoint(collector.traces_url())
        });
        let counted = service_fn(|event: LambdaEvent<Value>| async move {
            lambda_perf_core::metrics::add_metric(
                "Orders",
                lambda_perf_core::metrics::Unit::Count,
                1.0,
            );
            traced(event).await
        });
        for _ in 0..2 {
            let answer = recorder.run(counted, event(json!({}))).await;
            assert_eq!(answer.unwrap(), json!("ok"), "{status}");
        }
        assert!(
            !collector.exports().is_empty(),
            "{status}: the collector was reached"
        );
        let handlers = two_handler_spans(&spans).await;
        assert_eq!(handlers.len(), 2, "{status}");
        assert!(
            count_on(&handlers[1], "lambda_perf.otel.failed_exports").is_some_and(|n| n >= 1),
            "{status}: {:#?}",
            handlers[1].attributes
        );
        let lines = recorder.emf().lines();
        let last = lines.last().unwrap();
        assert!(
            last["lambda_perf"]["dropped"]["otel.export_failed"]
                .as_u64()
                .is_some_and(|n| n >= 1),
            "{status}: {lines:#?}"
        );
    }
}

/// An export to a collector that never answers fails once the OTLP timeout given in code
/// has passed, and is counted on a later handler span (under the default timeout, 10 s, it
/// would still be waiting); the invocations wait the flush bound at most.
#[tokio::test]
async fn an_export_outlasting_the_otlp_timeout_given_in_code_fails_and_is_counted() {
    // The kernel accepts its connections; nothing ever reads or answers them.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    let (recorder, spans) = recorder_keeping_spans(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(format!("http://{address}/v1/traces"))
            .otlp_timeout(Duration::from_millis(100))
            .otel_flush_timeout(Duration::from_millis(20))
    });
    let started = Instant::now();
    let answer = recorder.run(service_fn(traced), event(json!({}))).await;
    assert_eq!(answer.unwrap(), json!("ok"));
    assert!(started.elapsed() < Duration::from_millis(400));
    std::thread::sleep(Duration::from_secs(1));
    let answer = recorder.run(service_fn(traced), event(json!({}))).await;
    assert_eq!(answer.unwrap(), json!("ok"));
    let handlers = two_handler_spans(&spans).await;
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        count_on(&handlers[1], "lambda_perf.otel.failed_exports"),
        Some(1),
        "{:#?}",
        handlers[1].attributes
    );
    drop(silent);
}

/// The handler spans `spans` got, once it has two (or after 5 s): an end past the deadline
/// does not wait for its export, so the second may come after the invocation returns.
/// A recorder configured with `configure` whose spans, as exported, are also kept in memory.
fn recorder_keeping_spans(
    configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder,
) -> (Recorder, InMemorySpanExporter) {
    let spans = InMemorySpanExporter::default();
    let in_memory = spans.clone();
    let recorder = Recorder::with(|builder| configure(builder).span_exporter(in_memory));
    (recorder, spans)
}

async fn two_handler_spans(spans: &InMemorySpanExporter) -> Vec<SpanData> {
    let handlers = || -> Vec<SpanData> {
        spans
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|span| span.name == "## handler")
            .collect()
    };
    let until = Instant::now() + Duration::from_secs(5);
    while handlers().len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handlers()
}

/// An event whose deadline is `in_ms` from now.
fn event_due_in(in_ms: u64) -> LambdaEvent<Value> {
    let mut sent = event(json!({}));
    let deadline = std::time::SystemTime::now() + Duration::from_millis(in_ms);
    sent.context.deadline = u64::try_from(
        deadline
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_stuck_at_its_deadline_exports_its_spans_as_a_timeout() {
    // Deadline in 400 ms, margin 300 ms: the watchdog fires 100 ms in. The handler is still
    // stuck when Lambda would end the process at the deadline: what the watchdog wrote is all
    // that will ever leave, in X-Ray as in OpenTelemetry.
    let (recorder, spans) = recorder_keeping_spans(|builder| {
        builder
            .traces([TraceBackend::XRay])
            .timeout_margin(Duration::from_millis(300))
    });
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(Some(released)));
    let stuck = service_fn(move |_: LambdaEvent<Value>| {
        let released = released.lock().unwrap().take().unwrap();
        async move {
            Subsegment::new("downstream")
                .instrument(async {
                    let _ = released.await;
                })
                .await;
            Ok::<_, Error>(json!("late"))
        }
    });
    let run = tokio::spawn(async move {
        let answer = recorder.run(stuck, event_due_in(400)).await;
        (recorder, answer)
    });
    // Past the watchdog's moment, before the deadline: X-Ray has the timeout.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let exported: Vec<SpanData> = spans.get_finished_spans().unwrap();
    let _ = release.send(());
    let (recorder, answer) = run.await.unwrap();
    assert_eq!(answer.unwrap(), json!("late"));
    let documents = recorder.xray().documents();
    assert!(
        documents
            .iter()
            .any(|doc| doc["name"] == "## handler" && doc["fault"] == true),
        "{documents:#?}"
    );
    let names: Vec<&str> = exported.iter().map(|span| span.name.as_ref()).collect();
    let handler = exported
        .iter()
        .find(|span| span.name == "## handler")
        .unwrap_or_else(|| panic!("no handler span exported at the deadline: {names:?}"));
    assert!(
        matches!(
            handler.status,
            lambda_perf_core::opentelemetry::trace::Status::Error { .. }
        ),
        "{:?}",
        handler.status
    );
    assert!(names.contains(&"downstream"), "{names:?}");
    // The handler finished in time after all: its final spans follow, with the same ids,
    // the handler's carrying the function's facts as the first did.
    let handlers = two_handler_spans(&spans).await;
    assert_eq!(handlers.len(), 2);
    assert_eq!(handlers[0].span_context, handlers[1].span_context);
    for handler in &handlers {
        assert!(
            handler
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "faas.coldstart"),
            "{:?}",
            handler.attributes
        );
    }
}

#[tokio::test]
async fn a_trimmed_xray_otlp_span_with_a_long_non_ascii_error_keeps_the_answer() {
    // A nested subsegment too large for a datagram (its metadata), faulted with a long
    // message of two-byte characters: trimmed to fit, its message cut, the answer unchanged.
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let address = daemon.local_addr().unwrap().to_string();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::XRayOtlp])
            .xray_daemon_address(address)
    });
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let _ = Subsegment::new("charge").in_scope_fallible(|| {
            xray::add_metadata("orders", "basket", json!("x".repeat(70_000)));
            Err::<(), _>(format!("declined {}", "é".repeat(300)))
        });
        Ok::<_, Error>(json!("ok"))
    });
    let answer = recorder.run(handler, event(json!({}))).await;
    assert_eq!(answer.unwrap(), json!("ok"));
    let mut buffer = vec![0; 65_536];
    let mut spans = Vec::new();
    while let Ok(length) = daemon.recv(&mut buffer) {
        let (_, request) = decode_datagram(&buffer[..length]);
        spans.extend(spans_of(&request));
        daemon.set_nonblocking(true).unwrap();
    }
    let mut names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["## handler", "charge"]);
    // The message kept: the error's, up to its last whole character within 256 bytes.
    let charge = spans.iter().find(|span| span.name == "charge").unwrap();
    let message = &charge.status.as_ref().unwrap().message;
    let error = format!("declined {}", "é".repeat(300));
    assert_eq!(message, &error[..255], "{} bytes", message.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn one_invocations_export_wait_does_not_stall_another_running_at_once() {
    // Several invocations at once in one process (Lambda Managed Instances,
    // `run_concurrent`): A waits for its export to a slow collector; B, unsampled (nothing
    // to export), takes 50 ms and should not wait for A's export.
    let collector = OtlpCollector::answering_after(Duration::from_millis(1_500));
    let recorder = std::sync::Arc::new(Recorder::with(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_millis(600))
    }));
    let b = {
        let recorder = std::sync::Arc::clone(&recorder);
        tokio::spawn(async move {
            let started = Instant::now();
            let quick = service_fn(|_: LambdaEvent<Value>| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, Error>(json!("b"))
            });
            let answer = recorder.run(quick, unsampled_event(json!({}))).await;
            (answer.unwrap(), started.elapsed())
        })
    };
    let a = {
        let recorder = std::sync::Arc::clone(&recorder);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            recorder
                .run(service_fn(traced), event(json!({})))
                .await
                .unwrap()
        })
    };
    let (answer, took) = b.await.unwrap();
    assert_eq!(answer, json!("b"));
    assert_eq!(a.await.unwrap(), json!("ok"));
    assert!(
        took < Duration::from_millis(400),
        "B took {took:?}: A's wait for its export blocked the thread B runs on"
    );
}

/// The value of the integer attribute `key` of `span`.
fn count_on(span: &SpanData, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            lambda_perf_core::opentelemetry::Value::I64(count) => Some(count),
            _ => None,
        })
}

#[tokio::test]
async fn spans_a_collector_rejects_in_a_partial_success_are_counted() {
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    use prost::Message;

    // OTLP's partial success: HTTP 200, and the response says how many spans were dropped.
    let answer = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 2,
            error_message: "span attributes over the limit".to_owned(),
        }),
    }
    .encode_to_vec();
    let collector = OtlpCollector::answering_with(Duration::ZERO, "200 OK", answer);
    let (recorder, spans) = recorder_keeping_spans(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
    });
    for _ in 0..2 {
        let answer = recorder.run(service_fn(traced), event(json!({}))).await;
        assert_eq!(answer.unwrap(), json!("ok"));
    }
    assert_eq!(collector.exports().len(), 2);
    // The second handler span counts the spans the collector dropped from the first export.
    let handlers = two_handler_spans(&spans).await;
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        count_on(&handlers[1], "lambda_perf.otel.rejected_spans"),
        Some(2),
        "{:#?}",
        handlers[1].attributes
    ); // And so does the handler span's `lambda_perf.dropped`, as every drop.
    let dropped = handlers[1]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "lambda_perf.dropped")
        .map(|kv| kv.value.to_string())
        .unwrap_or_default();
    assert!(dropped.contains("\"otel.rejected_spans\":2"), "{dropped}");
}

/// A partial success that rejects every span of an export rejected its handler spans: the
/// drops they reported reached no one and are reported again by the next handler span, as
/// when an export fails. (One that rejects fewer does not say which: the handler span may
/// have got out, and its drops are not reported twice.)
#[tokio::test]
async fn drops_reported_by_a_handler_span_a_collector_rejected_are_reported_by_the_next() {
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    use prost::Message;

    // Each export holds one span, the handler's; the collector rejects one.
    let answer = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 1,
            error_message: "span attributes over the limit".to_owned(),
        }),
    }
    .encode_to_vec();
    let collector = OtlpCollector::answering_with(Duration::ZERO, "200 OK", answer);
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_secs(2))
    });
    let annotating = service_fn(|_: LambdaEvent<Value>| async {
        xray::annotate("bad key", 1);
        Ok::<_, Error>(json!("ok"))
    });
    recorder.run(annotating, event(json!({}))).await.unwrap();
    recorder
        .run(
            service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!("ok")) }),
            event(json!({})),
        )
        .await
        .unwrap();
    let exports = collector.exports();
    assert_eq!(exports.len(), 2, "{exports:#?}");
    let dropped_of = |export: &support::otlp::Export| -> Value {
        let spans = export.spans();
        let handler = spans.iter().find(|s| s.name == "## handler").unwrap();
        serde_json::from_str(&text(&handler.attributes, "lambda_perf.dropped").unwrap()).unwrap()
    };
    assert_eq!(dropped_of(&exports[0])["xray.invalid_annotation_key"], 1);
    let second = dropped_of(&exports[1]);
    assert_eq!(second["xray.invalid_annotation_key"], 1, "{second}");
    assert_eq!(second["otel.rejected_spans"], 1, "{second}");
}

/// How long before the deadline the answer is handed back when a collector answers after
/// 3 s, an invocation is due in 400 ms, and the flush bound is 5 s; `margin`: the timeout
/// margin given in code.
async fn time_left_after_a_slow_export(margin: Option<Duration>) -> Duration {
    let collector = OtlpCollector::answering_after(Duration::from_secs(3));
    let recorder = Recorder::with(|builder| {
        let builder = builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_secs(5));
        match margin {
            Some(margin) => builder.timeout_margin(margin),
            None => builder,
        }
    });
    let sent = event_due_in(400);
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(sent.context.deadline);
    let answer = recorder.run(service_fn(traced), sent).await;
    assert_eq!(answer.unwrap(), json!("ok"));
    deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
}

/// The wait for a slow export stops short of the deadline, by the timeout margin (the
/// watchdog's, `LAMBDA_PERF_TIMEOUT_MARGIN_MS`, 100 ms by default): the handler's answer must
/// still be posted before the deadline, or Lambda times the invocation out and it is lost.
#[tokio::test]
async fn the_wait_leaves_the_answer_time_to_be_posted_before_the_deadline() {
    let left = time_left_after_a_slow_export(None).await;
    assert!(
        left >= Duration::from_millis(50),
        "the answer came back {left:?} before the deadline"
    );
}

/// An export its invocation stopped waiting for (here at the timeout margin before the
/// deadline) goes on in the background and is counted: the next handler span carries
/// `lambda_perf.otel.late_exports`.
#[tokio::test]
async fn an_export_its_invocation_stopped_waiting_for_is_counted_as_late() {
    let collector = OtlpCollector::answering_after(Duration::from_secs(1));
    let (recorder, spans) = recorder_keeping_spans(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_secs(5))
    });
    for _ in 0..2 {
        let answer = recorder.run(service_fn(traced), event_due_in(400)).await;
        assert_eq!(answer.unwrap(), json!("ok"));
    }
    let handlers = two_handler_spans(&spans).await;
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        count_on(&handlers[0], "lambda_perf.otel.late_exports"),
        None
    );
    assert_eq!(
        count_on(&handlers[1], "lambda_perf.otel.late_exports"),
        Some(1),
        "{:#?}",
        handlers[1].attributes
    );
}

/// A zero timeout margin turns the watchdog off, not the time the answer needs: the wait
/// still stops the default margin (100 ms) before the deadline.
#[tokio::test]
async fn with_the_watchdog_off_the_wait_still_leaves_the_answer_time() {
    let left = time_left_after_a_slow_export(Some(Duration::ZERO)).await;
    assert!(
        left >= Duration::from_millis(50),
        "the answer came back {left:?} before the deadline"
    );
}

/// A kept-alive connection the collector closed meanwhile (an idle timeout, which may fire as
/// a frozen process thaws) costs no export: the export, answered by nothing, is sent again,
/// once, on a new connection.
#[tokio::test]
async fn an_export_on_a_connection_the_collector_closed_is_sent_again() {
    let collector = OtlpCollector::closing_kept_alive_connections();
    let (recorder, spans) = recorder_keeping_spans(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otel_flush_timeout(Duration::from_secs(2))
    });
    for _ in 0..3 {
        let answer = recorder.run(service_fn(traced), event(json!({}))).await;
        assert_eq!(answer.unwrap(), json!("ok"));
    }
    assert_eq!(collector.exports().len(), 3);
    // None failed: the third handler span (exported with the second's export done) counts none.
    let handlers: Vec<SpanData> = spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|span| span.name.starts_with("## "))
        .collect();
    assert_eq!(handlers.len(), 3);
    assert_eq!(
        count_on(&handlers[2], "lambda_perf.otel.failed_exports"),
        None
    );
}
