//! OpenTelemetry spans of an invocation that the timeout watchdog wrote early and that then
//! finished in time: the watchdog's timeout spans are exported at its moment (Lambda may end
//! the process at the deadline), and the final ones, with the same ids, when the handler
//! ends (X-Ray gets the watchdog's copies in progress, and replaces them by the complete
//! documents of their ids; a span cannot be in progress, and an OpenTelemetry backend gets
//! both), each handler span with the function's facts.
#![cfg(feature = "opentelemetry")]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::opentelemetry::trace::Status;
use lambda_perf_core::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray::Subsegment;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// The spans `exporter` got, once they are `done` (or after two seconds): exports not waited
/// for go on in the background, where a loaded machine may still be running them.
async fn exported_when(
    exporter: &InMemorySpanExporter,
    done: impl Fn(&[SpanData]) -> bool,
) -> Vec<SpanData> {
    for _ in 0..200 {
        let finished = exporter.get_finished_spans().unwrap();
        if done(&finished) {
            return finished;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    exporter.get_finished_spans().unwrap()
}

async fn stuck_a_while(_: LambdaEvent<Value>) -> Result<Value, Error> {
    // The watchdog fires 100 ms in, inside `downstream`; the handler ends at 250 ms.
    Subsegment::new("downstream")
        .instrument(tokio::time::sleep(Duration::from_millis(250)))
        .await;
    Ok(json!({ "ok": true }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_finishes_in_time_exports_its_timeout_spans_then_its_final_ones() {
    let spans = InMemorySpanExporter::default();
    let exporter = spans.clone();
    let recorder = Recorder::with(move |builder| {
        builder
            .span_exporter(exporter)
            .timeout_margin(Duration::from_millis(300))
    });
    let mut sent = event(json!({}));
    let deadline = SystemTime::now() + Duration::from_millis(400);
    sent.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    recorder.run(service_fn(stuck_a_while), sent).await.unwrap();

    // X-Ray: the watchdog's copies in progress, then the complete documents of the same ids.
    let documents = recorder.xray().documents();
    let downstream: Vec<&Value> = documents
        .iter()
        .filter(|d| d["name"] == "downstream")
        .collect();
    assert_eq!(
        downstream.len(),
        2,
        "the watchdog's copy and the final one: {documents:#?}"
    );
    assert_eq!(downstream[0]["in_progress"], true, "{}", downstream[0]);
    assert!(downstream[1]["end_time"].is_number(), "{}", downstream[1]);

    // The final export is not waited for (the time left is within the margin): it goes on in
    // the background, where a loaded machine may still be running it.
    let finished = exported_when(&spans, |finished| finished.len() >= 4).await;
    let mut by_id: HashMap<String, Vec<(String, Status)>> = HashMap::new();
    for span in &finished {
        by_id
            .entry(span.span_context.span_id().to_string())
            .or_default()
            .push((span.name.to_string(), span.status.clone()));
    }
    // Each handler span carries the function's facts (the first one sent once took them).
    for span in finished.iter().filter(|span| span.name == "## handler") {
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "faas.coldstart"),
            "a handler span without its FaaS facts: {:?}",
            span.attributes
        );
    }
    // The handler's span and `downstream`: each id twice, the timeout first, then the end.
    let twice: Vec<_> = by_id.values().filter(|spans| spans.len() > 1).collect();
    assert_eq!(twice.len(), 2, "{by_id:?}");
    for spans in twice {
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert!(matches!(spans[0].1, Status::Error { .. }), "{spans:?}");
        assert!(!matches!(spans[1].1, Status::Error { .. }), "{spans:?}");
    }
}

/// An EMF writer that holds up the watchdog's line (outcome `timeout`) for 300 ms and the
/// final one for 600 ms: the handler ends while the watchdog is writing, and the watchdog's
/// export comes before the end's.
#[derive(Clone, Default)]
struct SlowLines;

impl std::io::Write for SlowLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes);
        if text.contains("\"outcome\":\"timeout\"") {
            std::thread::sleep(Duration::from_millis(300));
        } else if text.contains("\"outcome\":\"success\"") {
            std::thread::sleep(Duration::from_millis(600));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The handler spans among `finished` that report the invalid annotation key's drop: their
/// ids and statuses.
fn reporting(finished: &[SpanData]) -> Vec<(String, String)> {
    finished
        .iter()
        .filter(|span| span.name == "## handler")
        .filter(|span| dropped_of(span).contains("xray.invalid_annotation_key"))
        .map(|span| {
            (
                span.span_context.span_id().to_string(),
                format!("{:?}", span.status),
            )
        })
        .collect()
}

fn dropped_of(span: &SpanData) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "lambda_perf.dropped")
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_default()
}

/// The handler ends while the watchdog writes its records: the watchdog's export may then
/// carry the final handler span, with the drops it reported; they are reported once, not
/// again by the next handler span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_span_the_watchdogs_export_carried_takes_its_drops_with_it() {
    let spans = InMemorySpanExporter::default();
    let exporter = spans.clone();
    let recorder = Recorder::with(move |builder| {
        builder
            .traces([] as [lambda_perf_core::TraceBackend; 0])
            .emf_writer(SlowLines)
            .span_exporter(exporter)
            .timeout_margin(Duration::from_millis(300))
    });
    let mut sent = event(json!({}));
    let deadline = SystemTime::now() + Duration::from_millis(400);
    sent.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    recorder
        .run(
            service_fn(|_: LambdaEvent<Value>| async {
                lambda_perf_core::xray::annotate("bad key", 1);
                metrics::add_metric("Before", Unit::Count, 1.0);
                // The watchdog fires 100 ms in; the handler ends at 150 ms, while it writes.
                tokio::time::sleep(Duration::from_millis(150)).await;
                metrics::add_metric("After", Unit::Count, 1.0);
                Ok::<_, Error>(json!({ "ok": true }))
            }),
            sent,
        )
        .await
        .unwrap();
    recorder
        .run(
            service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({})) }),
            event(json!({})),
        )
        .await
        .unwrap();
    // Drops are counted per process: alone in its process (under nextest, which runs each
    // test in a process of its own), exactly one handler span reports them; under `cargo
    // test`, the other test of this file may take them first, so at most one does.
    let alone =
        std::env::var_os("NEXTEST_EXECUTION_MODE").is_some_and(|mode| mode == "process-per-test");
    // Exports not waited for go on in the background: given time on a loaded machine.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let finished =
        exported_when(&spans, |finished| !alone || !reporting(finished).is_empty()).await;
    let reporting = reporting(&finished);
    if alone {
        assert_eq!(
            reporting.len(),
            1,
            "the drops reported by one handler span: {reporting:#?}"
        );
    } else {
        assert!(
            reporting.len() <= 1,
            "the drops reported by more than one handler span: {reporting:#?}"
        );
    }
}
