//! Writing an invocation's end holds no lock of the invocation: work of it still running
//! elsewhere (a spawned task, a lazy client's initialization) is refused at once, and user
//! code run while writing (a redaction hook) can wait for such work without a deadlock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_perf_core::PerfLayer;
use lambda_perf_core::lazy::TimedLazy;
use lambda_perf_core::metrics::{self, MetricsError, Unit};
use lambda_perf_core::test_util::{CapturedEmf, Recorder, event};
use lambda_perf_core::xray::{SubsegmentDocument, SubsegmentSink};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer, Service, service_fn};

static HOOK_RUNNING: AtomicBool = AtomicBool::new(false);
static INIT_STARTED: AtomicBool = AtomicBool::new(false);

fn load_rules() -> u32 {
    INIT_STARTED.store(true, Ordering::SeqCst);
    // Finishes while the hook runs (or after 2 s at most).
    let until = Instant::now() + Duration::from_secs(2);
    while !HOOK_RUNNING.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    7
}

static RULES: TimedLazy<u32> = TimedLazy::new("rules", load_rules);

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    // Background work of this invocation that uses the rules first.
    drop(lambda_perf_core::spawn_blocking(|| *RULES.get()));
    while !INIT_STARTED.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(json!({ "ok": true }))
}

#[test]
fn a_hook_and_background_work_sharing_a_lazy_client_do_not_deadlock() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let recorder = Recorder::with(|layer| {
            layer.redact(|_, value| {
                HOOK_RUNNING.store(true, Ordering::SeqCst);
                let _rules = *RULES.get();
                Some(value)
            })
        });
        let response = runtime.block_on(recorder.run(service_fn(handler), event(json!({}))));
        let _ = done.send(response.is_ok());
    });
    let outcome = finished.recv_timeout(Duration::from_secs(10));
    assert_eq!(outcome, Ok(true), "the invocation never ended: deadlock");
}

static SINK_SLOW: AtomicBool = AtomicBool::new(false);

struct SlowSink;

impl SubsegmentSink for SlowSink {
    fn send(&self, subsegment: &SubsegmentDocument<'_>) {
        if subsegment.to_json().contains("\"## handler\"") {
            SINK_SLOW.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

type Seen = Arc<Mutex<Option<(Duration, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_work_is_not_held_up_by_the_end_being_written() {
    let seen: Seen = Arc::default();
    let layer = PerfLayer::builder()
        .service("s")
        .namespace("N")
        .handler_name("handler")
        .metrics_disabled(false)
        .trace_disabled(false)
        .without_marker()
        .emf_writer(CapturedEmf::new())
        .xray_sink(SlowSink)
        .build()
        .unwrap();
    let task_seen = Arc::clone(&seen);
    let handler = service_fn(move |_: LambdaEvent<Value>| {
        let seen = Arc::clone(&task_seen);
        async move {
            drop(lambda_perf_core::spawn(async move {
                while !SINK_SLOW.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let started = Instant::now();
                let result = metrics::try_add_metric("Late", Unit::Count, 1.0);
                let error = match result {
                    Err(MetricsError::InvocationEnded) => "InvocationEnded".to_owned(),
                    other => format!("{other:?}"),
                };
                *seen.lock().unwrap() = Some((started.elapsed(), error));
            }));
            Ok::<_, Error>(json!({}))
        }
    });
    let mut service = layer.layer(handler);
    service.call(event(json!({}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    let (waited, error) = seen.expect("the background task finished");
    assert_eq!(error, "InvocationEnded");
    assert!(
        waited < Duration::from_millis(100),
        "the metric call waited {waited:?}"
    );
}
