//! The OpenTelemetry span tree, scenario by scenario, through the SDK's in-memory exporter:
//! the spans of an invocation match its X-Ray subsegments one to one — names, ids, parents —
//! and carry the FaaS facts, annotations, metadata, status and events.
#![cfg(feature = "opentelemetry")]

use std::sync::Arc;
use std::time::Duration;

use lambda_perf_core::lazy::TimedLazy;
use lambda_perf_core::opentelemetry::trace::{SpanKind, Status};
use lambda_perf_core::opentelemetry::{Array, Value as OtelValue};
use lambda_perf_core::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use lambda_perf_core::test_util::{Recorder, event, unsampled_event};
use lambda_perf_core::xray::{self, Subsegment, XRayLayer};
use lambda_perf_core::{FaasTrigger, PerfLayerBuilder, TraceBackend, spawn};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};
use tracing_subscriber::layer::SubscriberExt;

/// A recorder whose spans also go to an in-memory exporter (and its subsegments to its
/// collector, as `xray` sends them).
fn recording(
    configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder,
) -> (Recorder, InMemorySpanExporter) {
    let spans = InMemorySpanExporter::default();
    let exporter = spans.clone();
    let recorder = Recorder::with(move |builder| configure(builder.span_exporter(exporter)));
    (recorder, spans)
}

fn finished(spans: &InMemorySpanExporter) -> Vec<SpanData> {
    spans.get_finished_spans().unwrap()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {:#?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|span| span.name.to_string()).collect()
}

fn attribute(span: &SpanData, key: &str) -> Option<OtelValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn text(span: &SpanData, key: &str) -> String {
    attribute(span, key)
        .unwrap_or_else(|| panic!("{} has no {key}: {:#?}", span.name, span.attributes))
        .as_str()
        .into_owned()
}

fn annotation_keys(span: &SpanData) -> Vec<String> {
    match attribute(span, "aws.xray.annotations") {
        Some(OtelValue::Array(Array::String(keys))) => {
            keys.iter().map(|key| key.as_str().to_owned()).collect()
        }
        other => panic!("{}: aws.xray.annotations is {other:?}", span.name),
    }
}

/// The trace header's root and parent, as hex.
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

/// An event as Lambda sends it, with the function's ARN and configuration.
fn lambda_event(payload: Value) -> LambdaEvent<Value> {
    let mut event = event(payload);
    event.context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn".to_owned();
    event.context.env_config = Arc::new(lambda_runtime::Config {
        function_name: "orders-fn".to_owned(),
        memory: 256,
        version: "$LATEST".to_owned(),
        log_stream: "2026/01/01/[$LATEST]0123".to_owned(),
        log_group: "/aws/lambda/orders-fn".to_owned(),
    });
    event
}

/// Every span of one trace, and its subsegments: the same names, ids and parents.
fn assert_same_tree(spans: &[SpanData], documents: &[Value]) {
    let mut from_spans: Vec<(String, String, String)> = spans
        .iter()
        .map(|span| {
            (
                span.name.to_string(),
                span.span_context.span_id().to_string(),
                span.parent_span_id.to_string(),
            )
        })
        .collect();
    let mut from_documents: Vec<(String, String, String)> = documents
        .iter()
        .map(|doc| {
            (
                doc["name"].as_str().unwrap().to_owned(),
                doc["id"].as_str().unwrap().to_owned(),
                doc["parent_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    from_spans.sort();
    from_documents.sort();
    assert_eq!(from_spans, from_documents);
}

async fn ok(event: LambdaEvent<Value>) -> Result<Value, Error> {
    xray::annotate("customer_tier", "gold");
    Ok(json!({ "echo": event.payload }))
}

#[tokio::test]
async fn cold_then_warm_handler_spans_carry_the_start_and_the_function() {
    let (recorder, spans) = recording(|builder| builder);
    let first = lambda_event(json!(1));
    let (trace_id, parent) = header_ids(&first);
    let request_id = first.context.request_id.clone();
    recorder.run(service_fn(ok), first).await.unwrap();

    let cold = finished(&spans);
    assert_eq!(names(&cold), ["## handler"]);
    let handler = &cold[0];
    assert_eq!(handler.span_context.trace_id().to_string(), trace_id);
    assert_eq!(handler.parent_span_id.to_string(), parent);
    assert!(handler.parent_span_is_remote);
    assert!(handler.span_context.is_sampled());
    assert_eq!(handler.span_kind, SpanKind::Internal);
    assert_eq!(handler.status, Status::Unset);
    assert!(handler.events.is_empty());
    assert!(handler.end_time >= handler.start_time);
    for (key, expected) in [
        ("faas.coldstart", OtelValue::Bool(true)),
        // A `LambdaEvent` handler's event is not read: its trigger is not known.
        ("faas.trigger", "other".into()),
        ("faas.invocation_id", request_id.clone().into()),
        ("faas.name", "orders-fn".into()),
        ("faas.version", "$LATEST".into()),
        ("faas.instance", "2026/01/01/[$LATEST]0123".into()),
        ("faas.max_memory", OtelValue::I64(256 << 20)),
        ("cloud.provider", "aws".into()),
        ("cloud.platform", "aws_lambda".into()),
        ("cloud.region", "eu-west-1".into()),
        ("cloud.account.id", "123456789012".into()),
        ("lambda_perf.start_kind", "cold".into()),
        ("lambda_perf.invocation", OtelValue::I64(1)),
        ("lambda_perf.request_id", request_id.into()),
        ("lambda_perf.outcome", "success".into()),
        ("ColdStart", OtelValue::Bool(true)),
        ("StartKind", "cold".into()),
        ("Service", "test".into()),
        ("customer_tier", "gold".into()),
    ] {
        assert_eq!(attribute(handler, key), Some(expected), "{key}");
    }
    assert!(matches!(
        attribute(handler, "lambda_perf.init_duration_ms"),
        Some(OtelValue::F64(_))
    ));
    assert_eq!(attribute(handler, "lambda_perf.idle_gap_ms"), None);
    assert_eq!(
        annotation_keys(handler),
        ["ColdStart", "StartKind", "Service", "customer_tier"]
    );
    let response: Value = serde_json::from_str(&text(handler, "aws.xray.metadata.test")).unwrap();
    assert_eq!(response, json!({ "handler response": { "echo": 1 } }));
    assert_same_tree(&cold, &recorder.xray().take());

    spans.reset();
    recorder
        .run(service_fn(ok), lambda_event(json!(2)))
        .await
        .unwrap();
    let warm = finished(&spans);
    let handler = named(&warm, "## handler");
    assert_eq!(
        attribute(handler, "faas.coldstart"),
        Some(OtelValue::Bool(false))
    );
    assert_eq!(text(handler, "lambda_perf.start_kind"), "warm");
    assert_eq!(
        attribute(handler, "lambda_perf.invocation"),
        Some(OtelValue::I64(2))
    );
    assert!(matches!(
        attribute(handler, "lambda_perf.idle_gap_ms"),
        Some(OtelValue::F64(_))
    ));
    assert_eq!(attribute(handler, "lambda_perf.init_duration_ms"), None);
    assert_eq!(
        attribute(handler, "ColdStart"),
        Some(OtelValue::Bool(false))
    );
    assert_same_tree(&warm, &recorder.xray().take());
}

#[tokio::test]
async fn the_trigger_given_in_code_is_every_handler_spans() {
    let (recorder, spans) = recording(|builder| builder.faas_trigger(FaasTrigger::PubSub));
    for payload in [1, 2] {
        recorder
            .run(service_fn(ok), lambda_event(json!(payload)))
            .await
            .unwrap();
    }
    let triggers: Vec<String> = finished(&spans)
        .iter()
        .map(|span| text(span, "faas.trigger"))
        .collect();
    assert_eq!(triggers, ["pubsub", "pubsub"]);
}

/// The region given in code is every handler span's `cloud.region`, over the ARN's (and
/// `AWS_REGION`'s, which Lambda sets).
#[tokio::test]
async fn the_region_given_in_code_is_every_handler_spans() {
    let (recorder, spans) = recording(|builder| builder.region("eu-central-1"));
    for payload in [1, 2] {
        recorder
            .run(service_fn(ok), lambda_event(json!(payload)))
            .await
            .unwrap();
    }
    let regions: Vec<String> = finished(&spans)
        .iter()
        .map(|span| text(span, "cloud.region"))
        .collect();
    // The ARN says eu-west-1.
    assert_eq!(regions, ["eu-central-1", "eu-central-1"]);
}

/// A `lambda_http` request is an HTTP trigger, unless the builder says otherwise.
#[cfg(feature = "http")]
#[tokio::test]
async fn a_lambda_http_handler_span_is_an_http_trigger_unless_given_another() {
    use lambda_http::{Body, Request, RequestExt};

    async fn hello(_: Request) -> Result<&'static str, Error> {
        Ok("hello")
    }
    for (given, expected) in [(None, "http"), (Some(FaasTrigger::Timer), "timer")] {
        let (recorder, spans) = recording(|builder| match given {
            Some(trigger) => builder.faas_trigger(trigger),
            None => builder,
        });
        let request = Request::new(Body::Empty).with_lambda_context(lambda_event(json!(1)).context);
        let service = recorder.layer().layer(lambda_http::service_fn(hello));
        assert_eq!(service.oneshot(request).await.unwrap(), "hello");
        let spans = finished(&spans);
        assert_eq!(text(named(&spans, "## handler"), "faas.trigger"), expected);
    }
}

async fn declined(_: LambdaEvent<Value>) -> Result<Value, Error> {
    Err("card declined".into())
}

#[tokio::test]
async fn an_error_is_status_error_and_an_exception_event() {
    for capture_error in [true, false] {
        let (recorder, spans) = recording(|builder| builder.capture_error(capture_error));
        let outcome = recorder.run(service_fn(declined), event(json!({}))).await;
        assert_eq!(outcome.unwrap_err().to_string(), "card declined");
        let handler = named(&finished(&spans), "## handler").clone();
        let expected_status = if capture_error {
            "card declined"
        } else {
            "lambda_runtime::Error"
        };
        assert_eq!(handler.status, Status::error(expected_status));
        assert_eq!(text(&handler, "lambda_perf.outcome"), "error");
        assert_eq!(handler.events.len(), 1);
        let event = &handler.events[0];
        assert_eq!(event.name, "exception");
        let get = |key: &str| {
            event
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.as_str().into_owned())
        };
        assert_eq!(
            get("exception.type").as_deref(),
            Some("lambda_runtime::Error")
        );
        assert_eq!(
            get("exception.message").as_deref(),
            capture_error.then_some("card declined")
        );
        // The same exception as the X-Ray cause.
        let document = recorder.xray().named("## handler").unwrap();
        assert_eq!(
            get("aws.xray.exception.id").as_deref(),
            document["cause"]["exceptions"][0]["id"].as_str()
        );
        // The captured error is metadata, there only when capture is on.
        assert_eq!(
            attribute(&handler, "aws.xray.metadata.test").is_some(),
            capture_error
        );
    }
}

async fn panics(_: LambdaEvent<Value>) -> Result<Value, Error> {
    panic!("the handler gave up")
}

#[tokio::test]
async fn a_panic_is_status_error_and_an_exception_event() {
    let (recorder, spans) = recording(|builder| builder);
    let service = recorder.layer().layer(service_fn(panics));
    let joined = tokio::spawn(service.oneshot(event(json!({})))).await;
    assert!(joined.unwrap_err().is_panic());
    let exported = finished(&spans);
    let handler = named(&exported, "## handler");
    assert_eq!(handler.status, Status::error("the handler gave up"));
    assert_eq!(text(handler, "lambda_perf.outcome"), "panic");
    let event = &handler.events[0];
    assert_eq!(event.name, "exception");
    assert!(
        event
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.type" && kv.value.as_str() == "panic")
    );
    assert_same_tree(&exported, &recorder.xray().take());
}

async fn lookup(user: u64) -> u64 {
    use tracing::Instrument;
    let span = tracing::info_span!("lookup", annotation.table = "users");
    async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        user * 2
    }
    .instrument(span)
    .await
}

async fn nested(_: LambdaEvent<Value>) -> Result<Value, Error> {
    xray::add_metadata("demo_ns", "payload", json!({ "items": [1, 2] }));
    let doubled = Subsegment::new("work")
        .instrument(async {
            xray::annotate("stage", 1);
            lookup(21).await
        })
        .await;
    let failed = Subsegment::new("nested_failure")
        .instrument_fallible(async { Err::<(), _>(std::io::Error::other("boom")) })
        .await
        .is_err();
    Ok(json!({ "doubled": doubled, "failed": failed }))
}

#[tokio::test(flavor = "current_thread")]
async fn nested_subsegments_and_tracing_spans_nest_as_spans() {
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(XRayLayer::new()));
    let (recorder, spans) = recording(|builder| builder);
    recorder
        .run(service_fn(nested), event(json!({})))
        .await
        .unwrap();
    let exported = finished(&spans);
    assert_eq!(exported.len(), 4, "{:#?}", names(&exported));
    let handler = named(&exported, "## handler");
    let work = named(&exported, "work");
    let lookup = named(&exported, "lookup");
    let failure = named(&exported, "nested_failure");
    let id = |span: &SpanData| span.span_context.span_id();
    assert_eq!(work.parent_span_id, id(handler));
    assert_eq!(lookup.parent_span_id, id(work));
    assert_eq!(failure.parent_span_id, id(handler));
    assert!(!work.parent_span_is_remote);
    assert!(
        exported
            .iter()
            .all(|span| span.span_context.trace_id() == handler.span_context.trace_id())
    );
    assert!(lookup.start_time >= work.start_time && lookup.end_time <= work.end_time);

    assert_eq!(attribute(work, "stage"), Some(OtelValue::I64(1)));
    assert_eq!(annotation_keys(work), ["stage"]);
    assert_eq!(attribute(lookup, "table"), Some("users".into()));
    assert_eq!(work.status, Status::Unset);
    assert_eq!(failure.status, Status::error("boom"));
    assert_eq!(failure.events.len(), 1);
    let metadata: Value =
        serde_json::from_str(&text(handler, "aws.xray.metadata.demo_ns")).unwrap();
    assert_eq!(metadata, json!({ "payload": { "items": [1, 2] } }));
    assert_same_tree(&exported, &recorder.xray().take());
}

fn client() -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    7
}

static CLIENT: TimedLazy<u64> = TimedLazy::new("orders-db", client);

async fn uses_a_lazy_client(_: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!(*CLIENT.get()))
}

#[tokio::test]
async fn a_lazy_client_initialized_in_the_invocation_is_an_init_span() {
    let (recorder, spans) = recording(|builder| builder);
    recorder
        .run(service_fn(uses_a_lazy_client), event(json!({})))
        .await
        .unwrap();
    let exported = finished(&spans);
    let handler = named(&exported, "## handler");
    let init = named(&exported, "## init orders-db");
    assert_eq!(init.parent_span_id, handler.span_context.span_id());
    assert!(init.end_time.duration_since(init.start_time).unwrap() >= Duration::from_millis(5));
    let record: Value = serde_json::from_str(&text(init, "lambda_perf.client_init")).unwrap();
    assert_eq!(record["client"], "orders-db");
    assert_eq!(record["phase"], "invocation");
    assert_same_tree(&exported, &recorder.xray().take());
}

async fn fans_out(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let branch = |name: &'static str, ms: u64| {
        spawn(Subsegment::new(name).instrument(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            xray::annotate("branch", name);
        }))
    };
    let (a, b) = tokio::join!(branch("branch a", 20), branch("branch b", 5));
    a?;
    b?;
    Ok(json!("done"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_on_spawned_tasks_is_spans_of_its_invocation() {
    let (recorder, spans) = recording(|builder| builder);
    recorder
        .run(service_fn(fans_out), event(json!({})))
        .await
        .unwrap();
    let exported = finished(&spans);
    let handler = named(&exported, "## handler");
    let a = named(&exported, "branch a");
    let b = named(&exported, "branch b");
    for branch in [a, b] {
        assert_eq!(branch.parent_span_id, handler.span_context.span_id());
        assert_eq!(
            branch.span_context.trace_id(),
            handler.span_context.trace_id()
        );
    }
    assert!(
        a.start_time < b.end_time && b.start_time < a.end_time,
        "side by side"
    );
    assert_eq!(attribute(a, "branch"), Some("branch a".into()));
    assert_same_tree(&exported, &recorder.xray().take());
}

#[tokio::test]
async fn an_unsampled_invocation_exports_nothing() {
    let (recorder, spans) = recording(|builder| builder);
    recorder
        .run(service_fn(nested), unsampled_event(json!({})))
        .await
        .unwrap();
    assert!(finished(&spans).is_empty());
    assert!(recorder.xray().take().is_empty());
    // A sampled one afterwards does: the exporter was there all along.
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    assert_eq!(names(&finished(&spans)), ["## handler"]);
}

#[tokio::test]
async fn none_and_trace_disabled_record_nothing_and_xray_alone_exports_no_span() {
    let (recorder, spans) = recording(|builder| builder.trace_disabled(true));
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    assert!(finished(&spans).is_empty());
    assert!(recorder.xray().take().is_empty());

    // `none`: the exporter given in code still gets the spans, X-Ray nothing.
    let (recorder, spans) = recording(|builder| builder.traces([] as [TraceBackend; 0]));
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    assert_eq!(names(&finished(&spans)), ["## handler"]);
    assert!(recorder.xray().take().is_empty());

    // The default alone: subsegments, and no OpenTelemetry output at all.
    let recorder = Recorder::new();
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    assert_eq!(recorder.xray().take().len(), 1);
}

/// How a span exporter's first export fails.
#[derive(Debug, Clone, Copy)]
enum FirstExport {
    /// Its future answers an error.
    Errs,
    /// `export` panics before it returns its future (a plain `fn export` that does some
    /// work first).
    PanicsBeforeItsFuture,
    /// Its future answers an error, then panics when it is dropped.
    ErrsThenPanicsWhenDropped,
}

/// A future that panics when it is dropped, once `armed`.
struct PanicsWhenDropped<F> {
    inner: std::pin::Pin<Box<F>>,
    armed: bool,
}

impl<F: std::future::Future> std::future::Future for PanicsWhenDropped<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<F> Drop for PanicsWhenDropped<F> {
    fn drop(&mut self) {
        if self.armed {
            panic!("the export's future panics when dropped (expected by the test)");
        }
    }
}

/// A span exporter given in code whose first export fails as `first` says; it keeps the spans
/// of the others.
#[derive(Debug, Clone)]
struct FailsFirstExport {
    first: FirstExport,
    exports: Arc<std::sync::atomic::AtomicUsize>,
    spans: Arc<std::sync::Mutex<Vec<SpanData>>>,
}

impl lambda_perf_core::opentelemetry_sdk::trace::SpanExporter for FailsFirstExport {
    #[allow(clippy::manual_async_fn)]
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = lambda_perf_core::opentelemetry_sdk::error::OTelSdkResult>
    + Send {
        let is_first = self
            .exports
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0;
        if is_first && matches!(self.first, FirstExport::PanicsBeforeItsFuture) {
            panic!("the exporter fails before its future (expected by the test)");
        }
        if !is_first {
            self.spans.lock().unwrap().extend(batch);
        }
        PanicsWhenDropped {
            inner: Box::pin(async move {
                if is_first {
                    return Err(
                        lambda_perf_core::opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                            "the collector is gone".into(),
                        ),
                    );
                }
                Ok(())
            }),
            armed: is_first && matches!(self.first, FirstExport::ErrsThenPanicsWhenDropped),
        }
    }
}

/// Two invocations through an exporter whose first export fails as `first` says: the first
/// invocation takes less than 2 s of a 3 s flush bound, and the second one's handler span,
/// exported, reports the drops the first one's reported.
async fn the_drops_of_a_failed_first_export_come_back(first: FirstExport) {
    let exporter = FailsFirstExport {
        first,
        exports: Arc::default(),
        spans: Arc::default(),
    };
    let recorder = Recorder::with(|builder| {
        builder
            .traces([] as [TraceBackend; 0])
            .metrics_disabled(true)
            .otel_flush_timeout(Duration::from_secs(3))
            .span_exporter(exporter.clone())
    });
    let started = std::time::Instant::now();
    recorder
        .run(
            service_fn(|_: LambdaEvent<Value>| async {
                xray::annotate("bad key", 1);
                Ok::<_, Error>(Value::Null)
            }),
            event(json!({})),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?} for an export that had failed",
        started.elapsed()
    );
    recorder
        .run(service_fn(ok), event(json!({})))
        .await
        .unwrap();
    let spans = exporter.spans.lock().unwrap().clone();
    let handler = named(&spans, "## handler");
    let dropped = text(handler, "lambda_perf.dropped");
    assert!(
        dropped.contains("xray.invalid_annotation_key"),
        "{:#?}",
        handler.attributes
    );
    // The failed export is counted, and so are its spans (the count is the process's).
    let failed_exports = handler
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "lambda_perf.otel.failed_exports")
        .map(|kv| kv.value.clone());
    assert!(
        matches!(failed_exports, Some(lambda_perf_core::opentelemetry::Value::I64(n)) if n >= 1),
        "{:#?}",
        handler.attributes
    );
    assert!(
        dropped.contains("otel.export_failed"),
        "{:#?}",
        handler.attributes
    );
}

/// As for X-Ray (`tests/xray.rs`): a handler span that did not get out (its export failed)
/// takes nothing with it; the drops its `lambda_perf.dropped` reported are reported again by
/// the next handler span.
#[tokio::test]
async fn drops_reported_by_a_handler_span_whose_export_failed_are_reported_by_the_next() {
    the_drops_of_a_failed_first_export_come_back(FirstExport::Errs).await;
}

/// An exporter that panics in `export` itself, not in its future, is caught as one whose
/// future panics: the invocation does not wait the whole flush bound for it, the exporter
/// exports the next invocation's spans, and the drops the lost handler span reported are
/// reported by the next one.
#[tokio::test]
async fn an_exporter_that_panics_before_its_future_costs_one_export_and_no_drops() {
    the_drops_of_a_failed_first_export_come_back(FirstExport::PanicsBeforeItsFuture).await;
}

/// An export whose future panics when it is dropped, after it answered (an exporter given in
/// code is user code): caught as a panic of the future is, so the invocation does not wait
/// the whole flush bound, the exporter is not lost for the later invocations, and the drops
/// its handler span reported are reported by the next one.
#[tokio::test]
async fn an_export_whose_future_panics_when_dropped_costs_one_export_and_no_drops() {
    the_drops_of_a_failed_first_export_come_back(FirstExport::ErrsThenPanicsWhenDropped).await;
}

/// A span exporter given in code whose every export fails (a collector that is gone for good).
#[derive(Debug, Clone)]
struct AlwaysFails;

impl lambda_perf_core::opentelemetry_sdk::trace::SpanExporter for AlwaysFails {
    async fn export(
        &self,
        _batch: Vec<SpanData>,
    ) -> lambda_perf_core::opentelemetry_sdk::error::OTelSdkResult {
        Err(
            lambda_perf_core::opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                "the collector is gone".into(),
            ),
        )
    }
}

/// Spans lost to exports that fail are counted where they can be seen whatever becomes of
/// the exports: in the EMF lines, as every other drop (a count carried only by later spans is
/// never seen when no export gets out).
#[tokio::test]
async fn spans_of_failed_exports_are_counted_in_the_emf_lines() {
    let recorder = Recorder::with(|builder| {
        builder
            .traces([] as [TraceBackend; 0])
            .span_exporter(AlwaysFails)
    });
    let counted = service_fn(|_: LambdaEvent<Value>| async {
        lambda_perf_core::metrics::add_metric(
            "Orders",
            lambda_perf_core::metrics::Unit::Count,
            1.0,
        );
        Ok::<_, Error>(Value::Null)
    });
    for _ in 0..2 {
        recorder.run(counted, event(json!({}))).await.unwrap();
    }
    let lines = recorder.emf().lines();
    let last = lines.last().unwrap();
    // The last line counts the first invocation's span (its own is exported after it).
    assert_eq!(
        last["lambda_perf"]["dropped"]["otel.export_failed"],
        json!(1),
        "{lines:#?}"
    );
}
