//! PerfLayer in-process: start sequence, outputs, errors, panics, isolation, tower contract.

use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::metrics::{self, MetricsError, Unit};
use lambda_perf_core::test_util::CapturedEmf;
use lambda_perf_core::{
    InitializationType, InvocationFacts, PerfLayer, PerfLayerBuilder, StartKind,
};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

struct Harness {
    out: CapturedEmf,
    _marker_dir: tempfile::TempDir,
}

fn harness(configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder) -> (PerfLayer, Harness) {
    let out = CapturedEmf::new();
    let marker_dir = tempfile::tempdir().unwrap();
    let builder = PerfLayer::builder()
        .service("payment")
        .namespace("ServerlessAirline")
        .function_name("my-fn")
        .initialization_type(InitializationType::OnDemand)
        .metrics_disabled(false)
        .cold_start_metric(true)
        .invocation_facts(true)
        .marker_dir(marker_dir.path())
        .emf_writer(out.clone());
    let layer = configure(builder).build().unwrap();
    (
        layer,
        Harness {
            out,
            _marker_dir: marker_dir,
        },
    )
}

fn event(request_id: &str) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    let deadline = SystemTime::now() + Duration::from_secs(3);
    context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    LambdaEvent::new(json!({ "id": request_id }), context)
}

async fn count_handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    Ok(json!({ "echo": event.payload }))
}

fn metric_names(line: &Value) -> Vec<&str> {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect()
}

fn dimension_names(line: &Value) -> Vec<&str> {
    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn cold_then_warm_with_a_cold_start_line_first() {
    let (layer, h) = harness(|b| b);
    let mut service = ServiceBuilder::new().layer(layer).service_fn(count_handler);

    let response = service
        .ready()
        .await
        .unwrap()
        .call(event("r1"))
        .await
        .unwrap();
    assert_eq!(response, json!({ "echo": { "id": "r1" } }));
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");

    let cold = &lines[0];
    assert_eq!(metric_names(cold), ["ColdStart", "InitDuration"]);
    assert_eq!(dimension_names(cold), ["function_name", "service"]);
    assert_eq!(cold["function_name"], "my-fn");
    assert_eq!(cold["service"], "payment");
    assert_eq!(cold["ColdStart"], json!([1.0]));
    // The init the invocation's facts report, in milliseconds.
    let init_ms = cold["lambda_perf"]["init_duration_ms"].as_f64().unwrap();
    assert!(init_ms > 0.0, "{cold}");
    assert_eq!(cold["InitDuration"], json!([init_ms]), "{cold}");
    assert_eq!(lines[1]["lambda_perf"]["init_duration_ms"], init_ms);
    assert_eq!(
        cold["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ServerlessAirline"
    );
    assert_eq!(cold["lambda_perf"]["start_kind"], "cold");

    let first = &lines[1];
    assert_eq!(metric_names(first), ["Orders"]);
    assert_eq!(dimension_names(first), ["service"]);
    assert_eq!(first["Orders"], json!([1.0]));
    let facts = &first["lambda_perf"];
    assert_eq!(facts["start_kind"], "cold");
    assert_eq!(facts["invocation"], 1);
    assert_eq!(facts["request_id"], "r1");
    assert_eq!(facts["outcome"], "success");
    let headroom = facts["deadline_headroom_ms"].as_f64().unwrap();
    assert!(headroom > 2000.0 && headroom <= 3000.0, "{headroom}");
    assert!(facts.get("idle_gap_ms").is_none());

    for (index, id) in [(2, "r2"), (3, "r3")] {
        service
            .ready()
            .await
            .unwrap()
            .call(event(id))
            .await
            .unwrap();
        let lines = h.out.take_lines();
        assert_eq!(lines.len(), 1, "warm invocations write no ColdStart line");
        let facts = &lines[0]["lambda_perf"];
        assert_eq!(facts["start_kind"], "warm");
        assert_eq!(facts["invocation"], index);
        assert!(facts["idle_gap_ms"].as_f64().unwrap() >= 0.0);
    }
}

#[tokio::test]
async fn prewarmed_and_restored_write_no_cold_start_line() {
    for (init, kind) in [
        (InitializationType::ProvisionedConcurrency, "prewarmed"),
        (InitializationType::SnapStart, "restored"),
    ] {
        let (layer, h) = harness(|b| b.initialization_type(init));
        let service = layer.layer(service_fn(count_handler));
        service.oneshot(event("r1")).await.unwrap();
        let lines = h.out.take_lines();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert_eq!(lines[0]["lambda_perf"]["start_kind"], kind);
        assert_eq!(metric_names(&lines[0]), ["Orders"]);
    }
}

#[tokio::test]
async fn facts_are_readable_inside_the_handler() {
    let (layer, _h) = harness(|b| b);
    let mut service = layer.layer(service_fn(|event: LambdaEvent<Value>| async move {
        let facts = InvocationFacts::current().expect("inside an invocation");
        assert_eq!(facts.request_id(), event.context.request_id);
        Ok::<_, Error>((
            facts.start_kind(),
            facts.index(),
            facts.remaining_time().is_some(),
        ))
    }));
    let first = service
        .ready()
        .await
        .unwrap()
        .call(event("a"))
        .await
        .unwrap();
    let second = service
        .ready()
        .await
        .unwrap()
        .call(event("b"))
        .await
        .unwrap();
    assert_eq!(first, (StartKind::Cold, 1, true));
    assert_eq!(second, (StartKind::Warm, 2, true));
    assert!(InvocationFacts::current().is_none());
}

#[tokio::test]
async fn a_handler_error_is_returned_unchanged_and_metrics_still_flush() {
    let (layer, h) = harness(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Attempt", Unit::Count, 1.0);
        Err::<Value, Error>("payment declined".into())
    }));
    let error = service.oneshot(event("r1")).await.unwrap_err();
    assert_eq!(error.to_string(), "payment declined");
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["ColdStart"],
        json!([1.0]),
        "counted although the handler failed"
    );
    assert_eq!(lines[1]["Attempt"], json!([1.0]));
    assert_eq!(lines[1]["lambda_perf"]["outcome"], "error");
}

#[tokio::test]
async fn a_panic_flushes_metrics_and_still_reaches_the_caller() {
    let (layer, h) = harness(|b| b);
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Attempt", Unit::Count, 1.0);
        if true {
            panic!("handler exploded");
        }
        Ok::<Value, Error>(Value::Null)
    }));
    let joined = tokio::spawn(service.oneshot(event("r1"))).await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"handler exploded"));
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["Attempt"], json!([1.0]));
    assert_eq!(lines[1]["lambda_perf"]["outcome"], "panic");
}

#[tokio::test]
async fn a_dropped_invocation_still_flushes() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let mut service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Started", Unit::Count, 1.0);
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<Value, Error>(Value::Null)
    }));
    let future = service.ready().await.unwrap().call(event("r1"));
    let timed_out = tokio::time::timeout(Duration::from_millis(20), future).await;
    assert!(timed_out.is_err());
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["Started"], json!([1.0]));
    assert_eq!(lines[0]["lambda_perf"]["outcome"], "cancelled");
}

/// A handler future that is ready at once and, when dropped, records a metric (as a timing
/// guard held by a hand-written or middleware future does) or panics.
struct DropsLoudly {
    panics: bool,
}

impl std::future::Future for DropsLoudly {
    type Output = Result<Value, Error>;

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(Value::Null))
    }
}

impl Drop for DropsLoudly {
    fn drop(&mut self) {
        metrics::add_metric("RecordedOnDrop", Unit::Count, 1.0);
        if self.panics {
            panic!("dropping the handler's future");
        }
    }
}

#[tokio::test]
async fn what_a_completed_future_records_when_dropped_belongs_to_its_invocation() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| DropsLoudly {
        panics: false,
    }));
    service.oneshot(event("r1")).await.unwrap();
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["RecordedOnDrop"], json!([1.0]));
    assert_eq!(lines[0]["lambda_perf"]["outcome"], "success");
}

#[tokio::test]
async fn a_panic_dropping_a_completed_future_is_the_invocations() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| DropsLoudly {
        panics: true,
    }));
    let joined = tokio::spawn(service.oneshot(event("r1"))).await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"dropping the handler's future")
    );
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["RecordedOnDrop"], json!([1.0]));
    assert_eq!(lines[0]["lambda_perf"]["outcome"], "panic");
}

/// An event payload that counts how many times it is dropped.
struct CountsDrops(Arc<Mutex<u32>>);

impl Drop for CountsDrops {
    fn drop(&mut self) {
        *self.0.lock().unwrap() += 1;
    }
}

fn counted_event(drops: &Arc<Mutex<u32>>) -> LambdaEvent<CountsDrops> {
    LambdaEvent::new(CountsDrops(Arc::clone(drops)), event("r1").context)
}

#[tokio::test]
async fn a_panic_creating_the_future_is_the_invocations_and_drops_the_event_once() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let mut service = layer.layer(service_fn(
        |_: LambdaEvent<CountsDrops>| -> std::future::Ready<Result<Value, Error>> {
            metrics::add_metric("Creating", Unit::Count, 1.0);
            panic!("creating the handler's future")
        },
    ));
    let drops = Arc::new(Mutex::new(0));
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        service.call(counted_event(&drops))
    }));
    let panic = called.expect_err("the panic reaches the caller");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"creating the handler's future")
    );
    assert_eq!(*drops.lock().unwrap(), 1, "the event is dropped once");
    assert!(
        InvocationFacts::current().is_none(),
        "the unwinding left no invocation current"
    );
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["Creating"], json!([1.0]));
    assert_eq!(lines[0]["lambda_perf"]["outcome"], "panic");
}

/// The invocation is current while its future is polled, and no longer once a panic has
/// unwound out of the poll.
#[tokio::test]
async fn a_panic_in_the_poll_leaves_no_invocation_current() {
    let (layer, _h) = harness(|b| b.cold_start_metric(false));
    // What the handler saw, kept outside it: an assertion failing inside the handler would
    // only be one more panic reaching the caller.
    let seen = Arc::new(Mutex::new(None));
    let mut service = layer.layer(service_fn(|_: LambdaEvent<Value>| {
        let seen = Arc::clone(&seen);
        async move {
            *seen.lock().unwrap() =
                Some(InvocationFacts::current().map(|facts| facts.request_id().to_owned()));
            if true {
                panic!("handler exploded");
            }
            Ok::<Value, Error>(Value::Null)
        }
    }));
    let mut future = std::pin::pin!(service.call(event("r1")));
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut cx = TaskContext::from_waker(std::task::Waker::noop());
        std::future::Future::poll(future.as_mut(), &mut cx)
    }));
    let panic = polled.expect_err("the panic reaches the caller");
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"handler exploded"));
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some(Some("r1".to_owned())),
        "the invocation is current while its future is polled"
    );
    assert!(InvocationFacts::current().is_none());
}

#[tokio::test]
async fn the_event_is_dropped_once_by_the_handler() {
    let (layer, _h) = harness(|b| b.cold_start_metric(false));
    let service = layer.layer(service_fn(|_: LambdaEvent<CountsDrops>| async {
        Ok::<Value, Error>(Value::Null)
    }));
    let drops = Arc::new(Mutex::new(0));
    service.oneshot(counted_event(&drops)).await.unwrap();
    assert_eq!(*drops.lock().unwrap(), 1);
}

/// A layer inside another begins no invocation of its own (the outer one records it): the
/// event still reaches the handler, and is dropped once.
#[tokio::test]
async fn a_layer_inside_another_drops_the_event_once() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let service = layer.layer(layer.layer(service_fn(|_: LambdaEvent<CountsDrops>| async {
        metrics::add_metric("Handled", Unit::Count, 1.0);
        Ok::<Value, Error>(Value::Null)
    })));
    let drops = Arc::new(Mutex::new(0));
    service.oneshot(counted_event(&drops)).await.unwrap();
    assert_eq!(*drops.lock().unwrap(), 1, "the event is dropped once");
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["Handled"], json!([1.0]));
}

#[tokio::test]
async fn concurrent_invocations_keep_their_metrics_apart() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let service = layer.layer(service_fn(move |event: LambdaEvent<Value>| {
        let barrier = Arc::clone(&barrier);
        async move {
            let id = event.context.request_id;
            metrics::add_metric(format!("Only_{id}"), Unit::Count, 1.0);
            metrics::add_dimension("request", id.clone());
            // Both invocations are in flight here before either records more.
            barrier.wait().await;
            metrics::add_metric(format!("Only_{id}"), Unit::Count, 2.0);
            Ok::<_, Error>(id)
        }
    }));
    let a = tokio::spawn(service.clone().oneshot(event("a")));
    let b = tokio::spawn(service.oneshot(event("b")));
    assert_eq!(a.await.unwrap().unwrap(), "a");
    assert_eq!(b.await.unwrap().unwrap(), "b");

    let mut lines = h.out.take_lines();
    lines.sort_by_key(|line| line["request"].as_str().unwrap().to_owned());
    assert_eq!(lines.len(), 2);
    for (line, id) in lines.iter().zip(["a", "b"]) {
        assert_eq!(metric_names(line), [format!("Only_{id}")]);
        assert_eq!(line[format!("Only_{id}")], json!([1.0, 2.0]));
        assert_eq!(line["lambda_perf"]["request_id"], id);
        assert_eq!(dimension_names(line), ["service", "request"]);
    }
    let kinds: Vec<_> = lines
        .iter()
        .map(|l| l["lambda_perf"]["start_kind"].clone())
        .collect();
    assert!(
        kinds.contains(&json!("cold")) && kinds.contains(&json!("warm")),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn metrics_outside_an_invocation_are_typed_errors() {
    assert_eq!(
        metrics::try_add_metric("Orders", Unit::Count, 1.0),
        Err(MetricsError::NoInvocation)
    );
    let (layer, _h) = harness(|b| b);
    let layer = layer.without_response_capture();
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let spawned = tokio::spawn(async { metrics::try_add_metric("Orders", Unit::Count, 1.0) });
        Ok::<_, Error>(spawned.await.unwrap())
    }));
    assert_eq!(
        service.oneshot(event("r1")).await.unwrap(),
        Err(MetricsError::NoInvocation),
        "a spawned task does not inherit the invocation"
    );
}

#[tokio::test]
async fn invalid_data_points_are_refused_and_the_rest_is_written() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let service =
        layer
            .without_response_capture()
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                let results = vec![
                    metrics::try_add_metric("Latency", Unit::Milliseconds, 12.5),
                    metrics::try_add_metric("Latency", Unit::Seconds, 1.0),
                    metrics::try_add_metric("Bad", Unit::Count, f64::NAN),
                    metrics::try_add_metric("", Unit::Count, 1.0),
                    metrics::try_add_dimension("Latency", "x"),
                    metrics::try_add_metadata("service", "x"),
                ];
                // The plain forms drop the same data points with a warning and no panic.
                metrics::add_metric("Bad", Unit::Count, f64::INFINITY);
                metrics::add_dimension("naïve", "x");
                Ok::<_, Error>(results)
            }));
    let results = service.oneshot(event("r1")).await.unwrap();
    assert_eq!(results[0], Ok(()));
    assert!(matches!(results[1], Err(MetricsError::UnitConflict { .. })));
    assert!(matches!(
        results[2],
        Err(MetricsError::NonFiniteValue { .. })
    ));
    assert!(matches!(
        results[3],
        Err(MetricsError::InvalidMetricName { .. })
    ));
    assert!(matches!(results[4], Err(MetricsError::KeyCollision { .. })));
    assert!(matches!(results[5], Err(MetricsError::KeyCollision { .. })));
    let lines = h.out.take_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(metric_names(&lines[0]), ["Latency"]);
    assert_eq!(lines[0]["Latency"], json!([12.5]));
    assert_eq!(dimension_names(&lines[0]), ["service"]);
}

#[tokio::test]
async fn disabled_metrics_write_nothing_but_still_validate() {
    let (layer, h) = harness(|b| b.metrics_disabled(true));
    let service =
        layer
            .without_response_capture()
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                Ok::<_, Error>(metrics::try_add_metric("Bad", Unit::Count, f64::NAN))
            }));
    let result = service.oneshot(event("r1")).await.unwrap();
    assert!(matches!(result, Err(MetricsError::NonFiniteValue { .. })));
    assert!(h.out.take_lines().is_empty());
}

#[tokio::test]
async fn no_metrics_means_no_line() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(())
    }));
    service.oneshot(event("r1")).await.unwrap();
    assert!(h.out.take_lines().is_empty());
}

#[tokio::test]
async fn default_dimensions_and_metadata_are_written() {
    let (layer, h) = harness(|b| {
        b.cold_start_metric(false)
            .default_dimension("environment", "prod")
    });
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_high_resolution_metric("Latency", Unit::Milliseconds, 3.5);
        metrics::add_metadata("booking", json!({ "id": "abc", "items": [1, 2] }));
        Ok::<_, Error>(())
    }));
    service.oneshot(event("r1")).await.unwrap();
    let lines = h.out.take_lines();
    let line = &lines[0];
    assert_eq!(dimension_names(line), ["environment", "service"]);
    assert_eq!(line["environment"], "prod");
    assert_eq!(line["booking"], json!({ "id": "abc", "items": [1, 2] }));
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
        json!({ "Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1 })
    );
}

/// Cleared default dimensions are written by no line: the cold start's nor the handler's.
#[tokio::test]
async fn cleared_default_dimensions_are_not_written() {
    let (layer, h) = harness(|b| {
        b.default_dimension("environment", "staging")
            .default_dimension("team", "core")
            .clear_default_dimensions()
            .default_dimension("environment", "prod")
    });
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Orders", Unit::Count, 1.0);
        Ok::<_, Error>(())
    }));
    service.oneshot(event("r1")).await.unwrap();
    let lines = h.out.take_lines();
    assert!(lines.len() >= 2, "{lines:#?}");
    for line in &lines {
        let names = dimension_names(line);
        assert!(names.contains(&"environment"), "{line}");
        assert!(!names.contains(&"team"), "{line}");
        assert_eq!(line["environment"], "prod");
        assert_eq!(line.get("team"), None, "{line}");
    }
}

#[tokio::test]
async fn many_metrics_are_split_over_lines_of_100() {
    let (layer, h) = harness(|b| b.cold_start_metric(false));
    let service = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        for i in 0..150 {
            metrics::add_metric(format!("M{i}"), Unit::Count, 1.0);
        }
        for i in 0..120 {
            metrics::add_metric("M0", Unit::Count, f64::from(i));
        }
        Ok::<_, Error>(())
    }));
    service.oneshot(event("r1")).await.unwrap();
    let lines = h.out.take_lines();
    let shape: Vec<usize> = lines.iter().map(|l| metric_names(l).len()).collect();
    assert_eq!(shape, [100, 50, 1]);
    assert_eq!(lines[0]["M0"].as_array().unwrap().len(), 100);
    assert_eq!(lines[2]["M0"].as_array().unwrap().len(), 21);
}

#[test]
fn invalid_settings_in_code_are_typed_errors() {
    let error = PerfLayer::builder()
        .namespace("AWS/Lambda")
        .build()
        .unwrap_err();
    assert_eq!(error.setting, "namespace");
    let error = PerfLayer::builder().service("naïve").build().unwrap_err();
    assert_eq!(error.setting, "service");
    let error = PerfLayer::builder()
        .default_dimension("service", "x")
        .build()
        .unwrap_err();
    assert_eq!(error.setting, "default dimension");
    let error = PerfLayer::builder()
        .default_dimension("_aws", "x")
        .build()
        .unwrap_err();
    assert_eq!(error.setting, "default dimension");
    assert!(error.reason.contains("reserved"), "{error}");
    let mut builder = PerfLayer::builder();
    for i in 0..30 {
        builder = builder.default_dimension(format!("d{i}"), "v");
    }
    assert_eq!(builder.build().unwrap_err().setting, "default dimension");
}

/// An inner service that is ready only on every other poll.
#[derive(Clone, Default)]
struct Reluctant {
    polls: Arc<Mutex<u32>>,
}

impl Service<LambdaEvent<Value>> for Reluctant {
    type Response = ();
    type Error = Error;
    type Future = std::future::Ready<Result<(), Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        let mut polls = self.polls.lock().unwrap();
        *polls += 1;
        if *polls % 2 == 1 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn call(&mut self, _: LambdaEvent<Value>) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn poll_ready_is_the_inner_services() {
    let (layer, _h) = harness(|b| b);
    let inner = Reluctant::default();
    let mut service = layer.layer(inner.clone());
    let waker = futures_noop_waker();
    let mut cx = TaskContext::from_waker(&waker);
    assert!(service.poll_ready(&mut cx).is_pending());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    assert_eq!(*inner.polls.lock().unwrap(), 2);
    service.call(event("r1")).await.unwrap();
}

fn futures_noop_waker() -> std::task::Waker {
    std::task::Waker::noop().clone()
}

#[test]
fn the_wrapped_future_is_send_when_the_handlers_is() {
    fn assert_send<T: Send>(_: &T) {}
    let (layer, _h) = harness(|b| b);
    let mut service = layer.layer(service_fn(count_handler));
    let future = service.call(event("r1"));
    assert_send(&future);
}
