//! A span exporter given in code that needs the function's runtime to make progress, as an
//! exporter over a tonic channel built in `main` does (the channel's worker is a task of the
//! runtime it was built on), while an invocation waits for its export.
#![cfg(feature = "opentelemetry")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_perf_core::TraceBackend;
use lambda_perf_core::opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use lambda_perf_core::opentelemetry_sdk::trace::{SpanData, SpanExporter};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// A span exporter whose exports are carried out by a task on the runtime that built it.
#[derive(Debug, Clone)]
struct OnItsRuntime {
    requests: mpsc::UnboundedSender<(Vec<SpanData>, oneshot::Sender<()>)>,
    /// The spans of the exports carried out.
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl OnItsRuntime {
    fn new() -> Self {
        let (requests, mut received) =
            mpsc::unbounded_channel::<(Vec<SpanData>, oneshot::Sender<()>)>();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&spans);
        tokio::spawn(async move {
            while let Some((batch, done)) = received.recv().await {
                kept.lock().unwrap().extend(batch);
                let _ = done.send(());
            }
        });
        Self { requests, spans }
    }
}

impl SpanExporter for OnItsRuntime {
    #[allow(clippy::manual_async_fn)]
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let (done, answered) = oneshot::channel();
        let sent = self.requests.send((batch, done)).is_ok();
        async move {
            if sent && answered.await.is_ok() {
                Ok(())
            } else {
                Err(OTelSdkError::InternalFailure("the worker is gone".into()))
            }
        }
    }
}

async fn ok(_: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!("ok"))
}

/// Under the multi-thread runtime (`#[tokio::main]`'s default) the wait hands the thread's
/// other tasks to another thread: the exporter's worker runs, and the invocation waits for
/// its export only as long as it takes. (Under `current_thread` it cannot: the wait holds the
/// whole runtime, and each invocation waits its whole flush bound; see `span_exporter`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_exporter_that_needs_the_functions_runtime_is_not_stalled_by_the_wait() {
    let exporter = OnItsRuntime::new();
    let recorder = Arc::new(Recorder::with(|builder| {
        builder
            .traces([] as [TraceBackend; 0])
            .otel_flush_timeout(Duration::from_secs(2))
            .span_exporter(exporter.clone())
    }));
    for _ in 0..2 {
        let recorder = Arc::clone(&recorder);
        // On the runtime's one worker, where the exporter's worker task runs too.
        let (answer, took) = tokio::spawn(async move {
            let started = Instant::now();
            let answer = recorder.run(service_fn(ok), event(json!({}))).await;
            (answer.unwrap(), started.elapsed())
        })
        .await
        .unwrap();
        assert_eq!(answer, json!("ok"));
        assert!(
            took < Duration::from_secs(1),
            "the invocation took {took:?}: its wait held the thread its exporter needs"
        );
    }
    assert_eq!(exporter.spans.lock().unwrap().len(), 2);
}

/// Under `current_thread` the exporter's worker cannot run while an invocation waits (the
/// wait holds the runtime's one thread): each invocation waits its whole flush bound, and its
/// export is late, counted on the next handler span (`lambda_perf.otel.late_exports`), not
/// lost: the worker carries it out once the runtime is free again.
#[tokio::test(flavor = "current_thread")]
async fn under_current_thread_each_export_is_late_and_counted_not_lost() {
    let bound = Duration::from_millis(200);
    let exporter = OnItsRuntime::new();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([] as [TraceBackend; 0])
            .otel_flush_timeout(bound)
            .span_exporter(exporter.clone())
    });
    for _ in 0..2 {
        let started = Instant::now();
        let answer = recorder.run(service_fn(ok), event(json!({}))).await;
        assert_eq!(answer.unwrap(), json!("ok"));
        let took = started.elapsed();
        assert!(
            took >= bound,
            "the invocation waited {took:?}, not its flush bound"
        );
    }
    let until = Instant::now() + Duration::from_secs(5);
    while exporter.spans.lock().unwrap().len() < 2 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let spans = exporter.spans.lock().unwrap().clone();
    assert_eq!(
        spans.len(),
        2,
        "both exports carried out once the runtime was free"
    );
    let late = |span: &SpanData| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == "lambda_perf.otel.late_exports")
            .map(|kv| kv.value.clone())
    };
    assert_eq!(late(&spans[0]), None);
    assert_eq!(
        late(&spans[1]),
        Some(lambda_perf_core::opentelemetry::Value::I64(1))
    );
}
