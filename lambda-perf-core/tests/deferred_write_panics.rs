//! Under `PerfRuntimeLayer`, a deferred write whose sink panics (user code) loses only what
//! it sent: the panic is caught and counted, the other writes of its window run, the
//! invocation is answered, and an invocation kept for the next one starts empty.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{CapturedEmf, event};
use lambda_perf_core::xray::{SubsegmentDocument, SubsegmentSink};
use lambda_perf_core::{PerfLayer, PerfRuntimeLayer};
use lambda_runtime::{Error, LambdaEvent, LambdaInvocation, service_fn};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

static PANICKED: AtomicBool = AtomicBool::new(false);

/// Panics on the first handler subsegment it is sent.
struct PanicOnce;

impl SubsegmentSink for PanicOnce {
    fn send(&self, subsegment: &SubsegmentDocument<'_>) {
        if subsegment.to_json().contains("\"## handler\"") && !PANICKED.swap(true, Ordering::SeqCst)
        {
            panic!("sink failed");
        }
    }
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let name = event.payload["metric"]
        .as_str()
        .unwrap_or("Orders")
        .to_owned();
    metrics::add_metric(name, Unit::Count, 1.0);
    Ok(json!({}))
}

type Stashed = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;
static STASH: Mutex<Option<Stashed>> = Mutex::new(None);

/// Two invocations end for one request inside its window (A, then B); A's write panics in the
/// sink. The request is still answered, A's line counts its lost subsegment, B's is still
/// written, and B's invocation, kept once its future goes, brings nothing of B into the next one (C).
#[test]
fn a_panicking_write_loses_no_other_and_leaks_nothing_into_the_next_invocation() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emf = CapturedEmf::new();
    let layer = PerfLayer::builder()
        .service("s")
        .namespace("N")
        .handler_name("handler")
        .metrics_disabled(false)
        .trace_disabled(false)
        .without_marker()
        .timeout_margin(Duration::ZERO)
        .emf_writer(emf.clone())
        .xray_sink(PanicOnce)
        .build()
        .unwrap();
    let inner_layer = layer.clone();
    // The runtime's service: the handler twice for one request (A, then B, whose finished
    // future is kept past the response), then the POST.
    let inner = tower::service_fn(move |invocation: LambdaInvocation| {
        let layer = inner_layer.clone();
        async move {
            let a = LambdaEvent::new(json!({"metric": "A"}), invocation.context.clone());
            layer.layer(service_fn(handler)).oneshot(a).await?;
            let b = LambdaEvent::new(json!({"metric": "B"}), invocation.context.clone());
            let mut service = layer.layer(service_fn(handler));
            let mut future: Stashed = Box::pin(service.call(b));
            future.as_mut().await?;
            *STASH.lock().unwrap() = Some(future);
            Ok::<_, Error>(())
        }
    });
    let service = PerfRuntimeLayer::new().layer(inner);
    let context = event(()).context;
    let (parts, ()) = http::Response::new(()).into_parts();
    let invocation = LambdaInvocation {
        parts,
        body: bytes::Bytes::new(),
        context,
    };
    let first = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(service.oneshot(invocation))
    }));
    assert!(
        PANICKED.load(Ordering::SeqCst),
        "A's write panicked in the sink"
    );
    assert!(
        matches!(first, Ok(Ok(()))),
        "the sink's panic is caught: the request is answered"
    );
    // B's finished future goes now: its invocation is kept for the next one.
    drop(STASH.lock().unwrap().take());
    let first_lines = emf.take_lines();
    assert!(
        first_lines.iter().any(|line| line.get("B").is_some()),
        "B's write ran although A's panicked: {first_lines:?}"
    );
    // A's handler subsegment is sent before its line, which counts it as lost.
    let a = first_lines
        .iter()
        .find(|line| line.get("A").is_some())
        .expect("A's line");
    assert_eq!(
        a["lambda_perf"]["dropped"]["xray.sink_panicked"], 1,
        "A's lost subsegment is counted: {a}"
    );
    let next = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(
            layer
                .layer(service_fn(handler))
                .oneshot(event(json!({"metric": "C"}))),
        )
    }));
    let lines = emf.take_lines();
    let end = lines
        .iter()
        .find(|line| line.get("C").is_some())
        .expect("C's line");
    assert!(
        end.get("B").is_none(),
        "B's metric (an earlier invocation's) leaked into C's line: {end}"
    );
    assert!(next.is_ok(), "C's end panicked");
}
