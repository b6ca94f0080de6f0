//! A span exporter given in code whose export never completes (a collector that took the
//! connection and never answers, a client without a timeout): the invocations never wait
//! for it longer than the flush bound, and the spans it cannot take are counted as drops in
//! the EMF lines, as every other loss.
#![cfg(feature = "opentelemetry")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_perf_core::TraceBackend;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::opentelemetry_sdk::error::OTelSdkResult;
use lambda_perf_core::opentelemetry_sdk::trace::{SpanData, SpanExporter};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// A span exporter whose exports never complete: every one, or the first only (it keeps the
/// spans of the others).
#[derive(Debug, Clone, Default)]
struct Stuck {
    first_only: bool,
    exports: Arc<AtomicUsize>,
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl SpanExporter for Stuck {
    #[allow(clippy::manual_async_fn)]
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let is_first = self.exports.fetch_add(1, Ordering::SeqCst) == 0;
        let stuck = is_first || !self.first_only;
        if !stuck {
            self.spans.lock().unwrap().extend(batch);
        }
        async move {
            if stuck {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    }
}

async fn counted(_: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    Ok(json!("ok"))
}

/// The count of `cause` in an EMF line's `lambda_perf.dropped`.
fn dropped(line: &Value, cause: &str) -> u64 {
    line["lambda_perf"]["dropped"][cause].as_u64().unwrap_or(0)
}

/// Waits up to 2 s for `done`.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Behind an export that never completes, the queue holds 256 invocations' spans; the next
/// invocation's are refused, and the EMF line after it counts them.
#[tokio::test]
async fn a_full_export_queue_behind_a_stuck_export_is_counted_in_the_emf_lines() {
    let exporter = Stuck::default();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([] as [TraceBackend; 0])
            .otel_flush_timeout(Duration::from_millis(1))
            // Stuck for the whole test: not given up before the queue is full.
            .otlp_timeout(Duration::from_secs(60))
            .span_exporter(exporter.clone())
    });
    recorder
        .run(service_fn(counted), event(json!({})))
        .await
        .unwrap();
    // The exporter took the first invocation's spans, and is stuck with them.
    until(|| exporter.exports.load(Ordering::SeqCst) == 1).await;
    assert_eq!(exporter.exports.load(Ordering::SeqCst), 1);
    // 256 wait in the queue; the 258th invocation's span is refused.
    for _ in 2..=259 {
        let started = Instant::now();
        let answer = recorder.run(service_fn(counted), event(json!({}))).await;
        assert_eq!(answer.unwrap(), json!("ok"));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    let lines = recorder.emf().lines();
    let full: Vec<u64> = lines
        .iter()
        .map(|line| dropped(line, "otel.export_queue_full"))
        .collect();
    // Each line counts what the invocation before it lost (its own spans leave after it):
    // the last one, the 258th invocation's span.
    let (last, earlier) = full.split_last().unwrap();
    assert_eq!(earlier.iter().sum::<u64>(), 0, "{full:?}");
    assert_eq!(*last, 1, "{:#}", lines[lines.len() - 1]);
}

/// The `lambda_perf.dropped` of a handler span.
fn dropped_on(span: &SpanData) -> Value {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "lambda_perf.dropped")
        .map_or(Value::Null, |kv| {
            serde_json::from_str(&kv.value.as_str()).unwrap()
        })
}

/// An export still running at the export timeout is given up: its spans are counted as lost
/// (`otel.export_failed`, in the next EMF line), the drops its handler span reported are
/// reported again by the next one, and the exporter goes on with the later invocations'
/// spans instead of leaving them behind it for ever.
#[tokio::test]
async fn an_export_that_never_completes_is_given_up_at_the_export_timeout() {
    let exporter = Stuck {
        first_only: true,
        ..Stuck::default()
    };
    let recorder = Recorder::with(|builder| {
        builder
            .traces([] as [TraceBackend; 0])
            .otel_flush_timeout(Duration::from_millis(100))
            .otlp_timeout(Duration::from_millis(300))
            .span_exporter(exporter.clone())
    });
    let annotating = service_fn(|_: LambdaEvent<Value>| async {
        lambda_perf_core::xray::annotate("bad key", 1);
        metrics::add_metric("Orders", Unit::Count, 1.0);
        Ok::<_, Error>(json!("ok"))
    });
    let started = Instant::now();
    let answer = recorder.run(annotating, event(json!({}))).await;
    assert_eq!(answer.unwrap(), json!("ok"));
    // The handler waited the flush bound, no more.
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    // Past the export timeout.
    tokio::time::sleep(Duration::from_millis(600)).await;
    recorder
        .run(service_fn(counted), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let last = lines.last().unwrap();
    assert_eq!(dropped(last, "otel.export_failed"), 1, "{last:#}");
    until(|| !exporter.spans.lock().unwrap().is_empty()).await;
    let spans = exporter.spans.lock().unwrap().clone();
    let handler = spans
        .iter()
        .find(|span| span.name == "## handler")
        .unwrap_or_else(|| panic!("the second invocation's spans never left: {spans:#?}"));
    let reported = dropped_on(handler);
    assert_eq!(reported["xray.invalid_annotation_key"], 1, "{reported}");
    assert_eq!(reported["otel.export_failed"], 1, "{reported}");
}
