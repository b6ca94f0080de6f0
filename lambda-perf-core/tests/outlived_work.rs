//! Work spawned with its invocation that records after the invocation ended: refused, and the
//! refusal counted (`lambda_perf.dropped` of the next record) rather than silently lost. Its
//! own process under nextest: the drop counts are per process.

use std::sync::Mutex;

use lambda_perf_core::lazy::TimedCache;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray::Subsegment;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The spawned task, and what lets it go on once the invocation has ended.
static OUTLIVING: Mutex<Option<(JoinHandle<()>, oneshot::Sender<()>)>> = Mutex::new(None);

/// Spawns `late` with the current invocation, to run only once [`after_late_work`] lets it.
fn spawn_late(late: impl Future<Output = ()> + Send + 'static) {
    let (go, wait) = oneshot::channel();
    let task = lambda_perf_core::spawn(async move {
        let _ = wait.await;
        late.await;
    });
    *OUTLIVING.lock().unwrap() = Some((task, go));
}

/// Lets the work [`spawn_late`] spawned run to its end (its invocation has ended), then runs
/// a plain invocation; returns every X-Ray document the recorder received.
async fn after_late_work(recorder: &Recorder) -> Vec<Value> {
    let (task, go) = OUTLIVING.lock().unwrap().take().unwrap();
    go.send(()).unwrap();
    task.await.unwrap();
    let next =
        lambda_runtime::service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({})) });
    recorder.run(next, event(json!({}))).await.unwrap();
    recorder.xray().documents()
}

/// The handler subsegments among `documents`.
fn handlers(documents: &[Value]) -> Vec<&Value> {
    documents
        .iter()
        .filter(|document| document["name"] == "## handler")
        .collect()
}

#[tokio::test]
async fn a_subsegment_opened_after_its_invocation_ended_is_counted_as_dropped() {
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        spawn_late(async {
            Subsegment::new("late").in_scope(|| ());
            Subsegment::new("late async").instrument(async {}).await;
        });
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    assert!(
        documents
            .iter()
            .all(|document| !document["name"].as_str().unwrap().starts_with("late")),
        "{documents:#?}"
    );
    let handlers = handlers(&documents);
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 2,
        "the two subsegments of work that outlived its invocation are lost without a trace: \
         {:#}",
        handlers[1]
    );
}

static SECRET: TimedCache<u8> = TimedCache::new("secret");

#[tokio::test]
async fn a_cache_use_after_its_invocation_ended_is_counted_as_dropped() {
    let recorder = Recorder::new();
    let fetch = || async { Ok::<_, Error>(1) };
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async move {
        SECRET.get_or_fetch(fetch).await?;
        spawn_late(async move {
            // A hit the ended invocation can no longer count.
            SECRET.get_or_fetch(fetch).await.unwrap();
        });
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    let handlers = handlers(&documents);
    assert_eq!(
        handlers[0]["metadata"]["lambda_perf"]["cache"],
        json!({ "secret": { "hits": 0, "misses": 1 } })
    );
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["cache.invocation_ended"], 1,
        "a cache use by work that outlived its invocation is counted nowhere: {:#}",
        handlers[1]
    );
}

#[cfg(feature = "tracing")]
#[tokio::test(flavor = "current_thread")]
async fn a_span_opened_after_its_invocation_ended_is_counted_as_dropped() {
    use tracing_subscriber::layer::SubscriberExt;
    let _default = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(lambda_perf_core::xray::XRayLayer::new()),
    );
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        spawn_late(async {
            tracing::info_span!("late").in_scope(|| ());
        });
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    assert!(documents.iter().all(|document| document["name"] != "late"));
    let handlers = handlers(&documents);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 1,
        "the span of work that outlived its invocation is lost without a trace: {:#}",
        handlers[1]
    );
}

#[tokio::test]
async fn an_error_recorded_after_its_invocation_ended_is_counted_as_dropped() {
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        spawn_late(async {
            lambda_perf_core::xray::record_error("a failure of work that outlived it");
        });
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    let handlers = handlers(&documents);
    assert_eq!(handlers.len(), 2);
    assert!(handlers[1].get("fault").is_none(), "{:#}", handlers[1]);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 1,
        "an error recorded by work that outlived its invocation is lost without a trace: {:#}",
        handlers[1]
    );
}

#[cfg(feature = "tracing")]
#[tokio::test(flavor = "current_thread")]
async fn a_span_field_or_error_recorded_after_its_invocation_ended_is_counted_as_dropped() {
    use tracing_subscriber::layer::SubscriberExt;
    let _default = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(lambda_perf_core::xray::XRayLayer::new()),
    );
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        let span = tracing::info_span!("work", annotation.late = tracing::field::Empty);
        spawn_late(async move {
            span.record("annotation.late", 1);
            tracing::error!(parent: &span, "a failure of work that outlived it");
        });
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    let handlers = handlers(&documents);
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 2,
        "a span's annotation and error recorded after its invocation ended are lost without a \
         trace: {documents:#?}"
    );
}

/// Lets [`SHARED_POOL`]'s creation finish.
static POOL_MAY_FINISH: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

static SHARED_POOL: lambda_perf_core::lazy::TimedAsyncLazy<u8, String> =
    lambda_perf_core::lazy::TimedAsyncLazy::new("shared-pool", || {
        Box::pin(async {
            while !POOL_MAY_FINISH.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Ok(1)
        })
    });

/// The task of the invocation that waits for [`SHARED_POOL`].
static POOL_WAITER: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

#[tokio::test]
async fn a_wait_for_a_client_that_ends_after_its_invocation_is_counted_as_dropped() {
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        // Created by work of no invocation; waited for by work of this one, which outlives it.
        tokio::spawn(async {
            let _ = SHARED_POOL.get().await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let waiter = lambda_perf_core::spawn(async {
            let _ = SHARED_POOL.get().await;
        });
        *POOL_WAITER.lock().unwrap() = Some(waiter);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    POOL_MAY_FINISH.store(true, std::sync::atomic::Ordering::SeqCst);
    let waiter = POOL_WAITER.lock().unwrap().take().unwrap();
    waiter.await.unwrap();
    let next =
        lambda_runtime::service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!({})) });
    recorder.run(next, event(json!({}))).await.unwrap();
    let documents = recorder.xray().documents();
    let handlers = handlers(&documents);
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 1,
        "the wait of work that outlived its invocation is lost without a trace: {documents:#?}"
    );
}

/// Spawns `work` with the current invocation inside a subsegment `call` (an HTTP call), and
/// returns once the subsegment is open; `work` goes on only once [`after_late_work`] lets it.
async fn spawn_open_call<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    subsegment: impl FnOnce(Subsegment, BoxedCall<T>) -> BoxedCall<T>,
) {
    let (go, wait) = oneshot::channel();
    let (opened, is_open) = oneshot::channel();
    let call: BoxedCall<T> = Box::pin(async move {
        let _ = opened.send(());
        let _ = wait.await;
        work()
    });
    let call = subsegment(
        Subsegment::new("call").http(lambda_perf_core::xray::Http::request(
            "GET",
            "https://downstream.example/items",
        )),
        call,
    );
    let task = lambda_perf_core::spawn(async move {
        let _ = call.await;
    });
    is_open.await.unwrap();
    *OUTLIVING.lock().unwrap() = Some((task, go));
}

type BoxedCall<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// The one `call` subsegment among `documents`.
fn the_call(documents: &[Value]) -> &Value {
    let calls: Vec<&Value> = documents
        .iter()
        .filter(|document| document["name"] == "call")
        .collect();
    assert_eq!(calls.len(), 1, "{documents:#?}");
    calls[0]
}

#[tokio::test]
async fn an_http_status_set_after_its_invocation_ended_is_counted_as_dropped() {
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        spawn_open_call(
            || lambda_perf_core::xray::set_http_status(503),
            |subsegment, call| Box::pin(subsegment.instrument(call)),
        )
        .await;
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    // Closed and sent with its invocation, before the status came.
    let call = the_call(&documents);
    assert!(call.get("fault").is_none(), "{call:#}");
    let handlers = handlers(&documents);
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 1,
        "an HTTP status set by work that outlived its invocation is lost without a trace: {:#}",
        handlers[1]
    );
}

#[tokio::test]
async fn a_subsegment_failing_after_its_invocation_ended_is_counted_as_dropped() {
    let recorder = Recorder::new();
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        spawn_open_call(
            || Err::<(), _>("the call failed after its invocation ended"),
            |subsegment, call| Box::pin(subsegment.instrument_fallible(call)),
        )
        .await;
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let documents = after_late_work(&recorder).await;
    let call = the_call(&documents);
    assert!(call.get("fault").is_none(), "{call:#}");
    let handlers = handlers(&documents);
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[1]["metadata"]["lambda_perf"]["dropped"]["xray.invocation_ended"], 1,
        "the failure of a subsegment of work that outlived its invocation is lost without a \
         trace: {:#}",
        handlers[1]
    );
}
