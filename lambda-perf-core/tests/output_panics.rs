//! A user's output (an X-Ray sink, an EMF writer, a log writer) that panics while an invocation's records
//! are written must not change what the handler returned: without `PerfRuntimeLayer` those
//! writes happen inside the handler's future, before `lambda_runtime` posts the response.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{CapturedEmf, CollectedSubsegments, Recorder, event};
use lambda_perf_core::xray::{SubsegmentDocument, SubsegmentSink};
use lambda_perf_core::{InitBuilder, PerfLayer, PerfLayerBuilder};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

/// Panics on every subsegment.
struct PanickingSink;

impl SubsegmentSink for PanickingSink {
    fn send(&self, _: &SubsegmentDocument<'_>) {
        panic!("the sink fails (expected by the test)");
    }
}

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    Ok(json!({ "ok": true }))
}

/// Panics on every write.
struct PanickingWriter;

impl std::io::Write for PanickingWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        panic!("the writer fails (expected by the test)");
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The layer of `builder`, recording metrics and traces.
fn layer(builder: PerfLayerBuilder) -> PerfLayer {
    builder
        .service("s")
        .namespace("N")
        .handler_name("handler")
        .metrics_disabled(false)
        .trace_disabled(false)
        .without_marker()
        .timeout_margin(Duration::ZERO)
        .build()
        .unwrap()
}

/// Runs one sampled invocation of `handler` behind `layer` on a runtime of its own: the
/// handler's answer, or the panic that replaced it.
fn answer(layer: &PerfLayer) -> std::thread::Result<Result<Value, Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(layer.layer(service_fn(handler)).oneshot(event(json!({}))))
    }))
}

#[test]
fn a_panicking_sink_does_not_change_the_handlers_response() {
    let emf = CapturedEmf::new();
    let answered = answer(&layer(
        PerfLayer::builder()
            .emf_writer(emf.clone())
            .xray_sink(PanickingSink),
    ));
    let response = answered.expect("the handler's response, not the sink's panic");
    assert_eq!(response.unwrap(), json!({ "ok": true }));
    // The metrics were still written, and the lost subsegment is counted in their line.
    let lines = emf.take_lines();
    let line = lines
        .iter()
        .find(|line| line.get("Orders").is_some())
        .expect("the invocation's line");
    assert_eq!(
        line["lambda_perf"]["dropped"]["xray.sink_panicked"], 1,
        "{line}"
    );
}

#[test]
fn a_panicking_emf_writer_does_not_change_the_handlers_response() {
    let documents = CollectedSubsegments::new();
    let layer = layer(
        PerfLayer::builder()
            .emf_writer(PanickingWriter)
            .xray_sink(documents.clone()),
    );
    for invocation in 1..=2 {
        let response = answer(&layer).expect("the handler's response, not the writer's panic");
        assert_eq!(
            response.unwrap(),
            json!({ "ok": true }),
            "invocation {invocation}"
        );
    }
    // The subsegments were still sent; the second counts the line the first lost (a handler
    // subsegment is sent before its invocation's line).
    let handlers: Vec<Value> = documents
        .documents()
        .into_iter()
        .filter(|document| document["name"] == "## handler")
        .collect();
    assert_eq!(handlers.len(), 2, "{handlers:?}");
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["emf.write_failed"], 1,
        "{}",
        handlers[1]
    );
}

async fn logging_handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!("an order");
    metrics::add_metric("Orders", Unit::Count, 1.0);
    Ok(json!({ "ok": true }))
}

#[test]
fn a_panicking_log_writer_does_not_change_the_handlers_response() {
    let layers = InitBuilder::from_env()
        .log_level(tracing::Level::INFO)
        .xray_layer(false)
        .log_writer(PanickingWriter)
        .layer::<Registry>()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layers));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorder = Recorder::new();
    for invocation in 1..=2 {
        let answered = catch_unwind(AssertUnwindSafe(|| {
            tracing::dispatcher::with_default(&dispatch, || {
                rt.block_on(recorder.run(service_fn(logging_handler), event(json!({}))))
            })
        }));
        let response = answered.expect("the handler's response, not the writer's panic");
        assert_eq!(
            response.unwrap(),
            json!({ "ok": true }),
            "invocation {invocation}"
        );
    }
    // Both log lines were lost, and counted: each in the EMF line that followed it (the first
    // invocation's line is written after its log line).
    let lines = recorder.emf().take_lines();
    let counted: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("Orders").is_some())
        .map(|line| &line["lambda_perf"]["dropped"]["logs.write_failed"])
        .collect();
    assert_eq!(counted, [&json!(1), &json!(1)], "{lines:#?}");
}

/// Collects every subsegment but the first handler subsegment, on which it panics.
#[derive(Clone, Default)]
struct PanicsOnFirstHandler(
    CollectedSubsegments,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
);

impl SubsegmentSink for PanicsOnFirstHandler {
    fn send(&self, subsegment: &SubsegmentDocument<'_>) {
        let json: Value = serde_json::from_str(&subsegment.to_json()).unwrap();
        if json["name"] == "## handler" && !self.1.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("the sink fails once (expected by the test)");
        }
        self.0.send(subsegment);
    }
}

#[test]
fn drops_reported_by_a_lost_handler_subsegment_are_reported_by_the_next() {
    let sink = PanicsOnFirstHandler::default();
    let layer = layer(
        PerfLayer::builder()
            .xray_sink(sink.clone())
            .metrics_disabled(true),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let annotating = service_fn(|_: LambdaEvent<Value>| async {
        lambda_perf_core::xray::annotate("bad key", 1);
        Ok::<_, Error>(json!({}))
    });
    rt.block_on(layer.layer(annotating).oneshot(event(json!({}))))
        .unwrap();
    rt.block_on(layer.layer(service_fn(handler)).oneshot(event(json!({}))))
        .unwrap();
    let handlers: Vec<Value> = sink
        .0
        .documents()
        .into_iter()
        .filter(|document| document["name"] == "## handler")
        .collect();
    assert_eq!(handlers.len(), 1, "{handlers:?}");
    assert_eq!(
        handlers[0]["metadata"]["lambda_perf"]["dropped"],
        json!({ "xray.invalid_annotation_key": 1, "xray.sink_panicked": 1 }),
        "{}",
        handlers[0]
    );
}
