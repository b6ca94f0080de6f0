//! The runtime-level companion (`PerfRuntimeLayer`): the invocation's telemetry is written
//! after the runtime posted the response, and exactly as without it otherwise.
//!
//! The service the companion wraps here stands in for `lambda_runtime`'s own: it runs the
//! instrumented handler, then "posts" the response, noting what had been written by then.
//! (`tests/tests/runtime_companion.rs` of the workspace does the same under the real runtime
//! loop and Runtime API.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::PerfRuntimeLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, LambdaInvocation, service_fn};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    lambda_perf_core::xray::annotate("tier", "gold");
    if let Some(ms) = event.payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if event.payload["quiet"] != true {
            metrics::add_metric("Slept", Unit::Count, 1.0);
        }
    }
    if event.payload["fail"] == true {
        return Err("asked to fail".into());
    }
    Ok(json!({ "ok": true }))
}

/// What had been written when the response was "posted".
#[derive(Debug, Default, Clone)]
struct AtPost {
    response: Option<Result<Value, String>>,
    end_lines: usize,
    handler_subsegments: usize,
}

fn end_lines(recorder: &Recorder) -> usize {
    let lines = recorder.emf().lines();
    lines
        .iter()
        .filter(|l| l.get("ColdStart").is_none())
        .count()
}

fn handler_subsegments(recorder: &Recorder) -> usize {
    let documents = recorder.xray().documents();
    documents
        .iter()
        .filter(|d| d["name"] == "## handler")
        .count()
}

/// `lambda_runtime`'s invocation service, in miniature: the handler, then the POST.
fn runtime_service(
    recorder: &Arc<Recorder>,
    at_post: &Arc<Mutex<AtPost>>,
) -> impl Service<LambdaInvocation, Response = (), Error = Error, Future: Send> + Clone {
    let recorder = Arc::clone(recorder);
    let at_post = Arc::clone(at_post);
    tower::service_fn(move |invocation: LambdaInvocation| {
        let recorder = Arc::clone(&recorder);
        let at_post = Arc::clone(&at_post);
        async move {
            let payload: Value = serde_json::from_slice(&invocation.body)?;
            let post_ms = payload["post_ms"].as_u64();
            let event = LambdaEvent::new(payload, invocation.context);
            let handler = recorder.layer().layer(service_fn(handler));
            let response = handler.oneshot(event).await;
            // The POST: the client has its answer from here on.
            *at_post.lock().unwrap() = AtPost {
                response: Some(response.map_err(|e| e.to_string())),
                end_lines: end_lines(&recorder),
                handler_subsegments: handler_subsegments(&recorder),
            };
            // A POST that takes its time.
            if let Some(ms) = post_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Ok::<(), Error>(())
        }
    })
}

/// An invocation as `lambda_runtime` hands it to its layers: a traced event's context.
fn invocation(payload: Value) -> LambdaInvocation {
    let context = event(()).context;
    let (parts, ()) = http::Response::new(()).into_parts();
    LambdaInvocation {
        parts,
        body: bytes::Bytes::from(serde_json::to_vec(&payload).unwrap()),
        context,
    }
}

#[tokio::test]
async fn with_the_companion_the_telemetry_follows_the_response() {
    let recorder = Arc::new(Recorder::new());
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let service = PerfRuntimeLayer::new().layer(runtime_service(&recorder, &at_post));
    for round in 1..=2 {
        service
            .clone()
            .oneshot(invocation(json!({})))
            .await
            .unwrap();
        let posted = at_post.lock().unwrap().clone();
        assert_eq!(posted.response, Some(Ok(json!({ "ok": true }))));
        assert_eq!(
            posted.end_lines,
            round - 1,
            "nothing of this invocation before the POST"
        );
        assert_eq!(posted.handler_subsegments, round - 1);
        // Once the companion's future is done (before the runtime's next `/next`): all of it.
        assert_eq!(end_lines(&recorder), round);
        assert_eq!(handler_subsegments(&recorder), round);
    }
    let lines = recorder.emf().lines();
    let end = lines.last().unwrap();
    assert_eq!(end["Orders"], json!([1.0]));
    assert_eq!(end["lambda_perf"]["outcome"], "success");
    assert_eq!(end["lambda_perf"]["start_kind"], "warm");
    let handler = recorder.xray().named("## handler").unwrap();
    assert_eq!(handler["annotations"]["tier"], "gold");
}

#[tokio::test]
async fn an_error_is_recorded_after_its_post_too() {
    let recorder = Arc::new(Recorder::new());
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let service = PerfRuntimeLayer::new().layer(runtime_service(&recorder, &at_post));
    service
        .oneshot(invocation(json!({ "fail": true })))
        .await
        .unwrap();
    let posted = at_post.lock().unwrap().clone();
    assert_eq!(posted.response, Some(Err("asked to fail".to_owned())));
    assert_eq!(posted.end_lines, 0);
    let lines = recorder.emf().lines();
    assert_eq!(lines.last().unwrap()["lambda_perf"]["outcome"], "error");
    let handler = recorder.xray().named("## handler").unwrap();
    assert_eq!(handler["fault"], true);
}

#[tokio::test]
async fn without_the_companion_nothing_changes() {
    let recorder = Arc::new(Recorder::new());
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    runtime_service(&recorder, &at_post)
        .oneshot(invocation(json!({})))
        .await
        .unwrap();
    let posted = at_post.lock().unwrap().clone();
    assert_eq!(posted.end_lines, 1, "written when the handler returned");
    assert_eq!(posted.handler_subsegments, 1);
}

#[tokio::test]
async fn a_dropped_invocation_still_writes_its_telemetry() {
    let recorder = Arc::new(Recorder::new());
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let mut service = PerfRuntimeLayer::new().layer(runtime_service(&recorder, &at_post));
    let future = service.call(invocation(json!({ "sleep_ms": 10_000 })));
    // The runtime gives up on it (shutting down, say) while the handler still runs.
    let _ = tokio::time::timeout(Duration::from_millis(50), future).await;
    let lines = recorder.emf().lines();
    assert_eq!(lines.last().unwrap()["lambda_perf"]["outcome"], "cancelled");
    assert!(at_post.lock().unwrap().response.is_none());
}

/// A response whose `Serialize` opens a map key and, when `broken`, never gives its value:
/// `serde_json` then writes what is not JSON.
struct Answer {
    broken: bool,
}

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_key("status")?;
        if !self.broken {
            map.serialize_value("paid")?;
        }
        map.end()
    }
}

/// Under the companion the response is captured as the runtime writes it, and checked only
/// after the POST: text that is not JSON is still left out of the trace, and counted in the
/// records of the invocation that answered it, not in the next one's.
#[tokio::test]
async fn a_response_that_is_not_json_is_left_out_after_its_post_and_counted_in_its_own_records() {
    let recorder = Arc::new(Recorder::new());
    let runtime = {
        let recorder = Arc::clone(&recorder);
        tower::service_fn(move |invocation: LambdaInvocation| {
            let recorder = Arc::clone(&recorder);
            async move {
                let payload: Value = serde_json::from_slice(&invocation.body)?;
                let broken = payload["broken"] == true;
                let handler = recorder
                    .layer()
                    .layer(service_fn(move |_: LambdaEvent<Value>| {
                        metrics::add_metric("Orders", Unit::Count, 1.0);
                        async move { Ok::<_, Error>(Answer { broken }) }
                    }));
                let response = handler
                    .oneshot(LambdaEvent::new(payload, invocation.context))
                    .await?;
                // The POST's body, as `lambda_runtime` writes it.
                serde_json::to_vec(&response)?;
                Ok::<(), Error>(())
            }
        })
    };
    let service = PerfRuntimeLayer::new().layer(runtime);
    for broken in [true, false, true] {
        service
            .clone()
            .oneshot(invocation(json!({ "broken": broken })))
            .await
            .unwrap();
        let lines = recorder.emf().lines();
        let end = lines
            .iter()
            .rfind(|l| l.get("ColdStart").is_none())
            .unwrap();
        let documents = recorder.xray().documents();
        let handler = documents
            .iter()
            .rfind(|d| d["name"] == "## handler")
            .unwrap();
        let dropped = |facts: &Value| {
            facts["dropped"]["capture.response_not_serializable"]
                .as_u64()
                .unwrap_or(0)
        };
        assert_eq!(dropped(&end["lambda_perf"]), u64::from(broken), "{end}");
        assert_eq!(
            dropped(&handler["metadata"]["lambda_perf"]),
            u64::from(broken),
            "{handler}"
        );
        let captured = &handler["metadata"]["test"]["handler response"];
        if broken {
            assert!(captured.is_null(), "{handler}");
        } else {
            assert_eq!(*captured, json!({ "status": "paid" }), "{handler}");
        }
    }
}

/// One invocation of `event` through the companion, with its deadline `deadline_in` away and
/// the watchdog's margin `margin`: the recorder, and what was written when the POST came.
async fn invoked_near_deadline(
    event: Value,
    deadline_in: Duration,
    margin: Duration,
) -> (Arc<Recorder>, AtPost) {
    let recorder = Arc::new(Recorder::with(|layer| layer.timeout_margin(margin)));
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let service = PerfRuntimeLayer::new().layer(runtime_service(&recorder, &at_post));
    let mut invocation = invocation(event);
    let deadline = SystemTime::now() + deadline_in;
    invocation.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    service.oneshot(invocation).await.unwrap();
    let posted = at_post.lock().unwrap().clone();
    (recorder, posted)
}

/// The outcome of each invocation line, the `ColdStart` line aside.
fn outcomes(recorder: &Recorder) -> Vec<Value> {
    recorder
        .emf()
        .lines()
        .iter()
        .filter(|l| l.get("ColdStart").is_none())
        .map(|l| l["lambda_perf"]["outcome"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_writes_at_once_under_the_companion() {
    // Deadline in 400 ms, margin 300 ms: the watchdog fires about 100 ms in, while the
    // handler (250 ms) runs and long before any response is posted.
    let (recorder, posted) = invoked_near_deadline(
        json!({ "sleep_ms": 250 }),
        Duration::from_millis(400),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(
        posted.end_lines, 1,
        "the watchdog's line came before the POST"
    );
    assert_eq!(outcomes(&recorder), [json!("timeout"), json!("success")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_writes_an_ended_invocations_waiting_writes_as_they_are() {
    // Deadline in 1,000 ms, margin 700 ms: the watchdog's moment, about 300 ms in, comes after
    // the handler returned and while its writes wait for the POST (900 ms): it writes them
    // then, as the success they are, never as a timeout, and the window finds nothing left.
    let (recorder, _) = invoked_near_deadline(
        json!({ "post_ms": 900 }),
        Duration::from_millis(1_000),
        Duration::from_millis(700),
    )
    .await;
    assert_eq!(outcomes(&recorder), [json!("success")], "no timeout line");
    assert_eq!(handler_subsegments(&recorder), 1);
    let handler = recorder.xray().named("## handler").unwrap();
    assert!(handler.get("fault").is_none(), "{handler}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_waiting_for_a_post_that_outlasts_the_deadline_are_out_by_the_deadline() {
    // Deadline in 600 ms, margin 300 ms: the handler returns at once, and its writes wait for
    // a POST that takes 1,200 ms (a streamed response, say). Lambda kills the function at its
    // deadline: what waits for the POST must be out by then, as the watchdog's writes are.
    let recorder = Arc::new(Recorder::with(|layer| {
        layer.timeout_margin(Duration::from_millis(300))
    }));
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let service = PerfRuntimeLayer::new().layer(runtime_service(&recorder, &at_post));
    let mut invocation = invocation(json!({ "post_ms": 1_200 }));
    let deadline_in = Duration::from_millis(600);
    let deadline = SystemTime::now() + deadline_in;
    invocation.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let at_deadline = async {
        tokio::time::sleep(deadline_in).await;
        (end_lines(&recorder), handler_subsegments(&recorder))
    };
    let (invoked, (lines, subsegments)) = tokio::join!(service.oneshot(invocation), at_deadline);
    invoked.unwrap();
    assert_eq!(
        (lines, subsegments),
        (1, 1),
        "the end line and the handler subsegment by the deadline"
    );
    // Written once, as the success it was.
    assert_eq!(outcomes(&recorder), [json!("success")]);
    assert_eq!(handler_subsegments(&recorder), 1);
    let handler = recorder.xray().named("## handler").unwrap();
    assert!(handler.get("fault").is_none(), "{handler}");
}

/// Writes lines to `lines`, those that hold `slow` `delay` late (a slow stdout).
#[derive(Clone)]
struct SlowEndLines {
    lines: lambda_perf_core::test_util::CapturedLines,
    slow: &'static [u8],
    delay: Duration,
}

impl std::io::Write for SlowEndLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.windows(self.slow.len()).any(|w| w == self.slow) {
            std::thread::sleep(self.delay);
        }
        self.lines.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.lines.flush()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_watchdog_took_over_are_out_before_the_runtime_goes_on() {
    // Deadline in 600 ms, margin 400 ms: the watchdog's moment, about 200 ms in, comes while
    // the handler's writes wait for a POST of 300 ms, and it writes them, slowly (400 ms). The
    // POST ends meanwhile. The runtime asks for its next event (and Lambda may freeze the
    // process) once the companion's future is done: the writes must be out by then, whoever
    // runs them, as they are when the window runs them itself.
    let lines = lambda_perf_core::test_util::CapturedLines::new();
    let slow = SlowEndLines {
        lines: lines.clone(),
        slow: b"\"outcome\"",
        delay: Duration::from_millis(400),
    };
    let recorder = Arc::new(Recorder::with(|layer| {
        layer
            .timeout_margin(Duration::from_millis(400))
            .emf_writer(slow)
    }));
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let service = PerfRuntimeLayer::new().layer(runtime_service(&recorder, &at_post));
    let mut invocation = invocation(json!({ "post_ms": 300 }));
    let deadline = SystemTime::now() + Duration::from_millis(600);
    invocation.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    service.oneshot(invocation).await.unwrap();
    // The runtime would ask for its next event now.
    let end_lines: Vec<Value> = lines
        .lines()
        .into_iter()
        .filter(|l| l.get("ColdStart").is_none())
        .collect();
    assert_eq!(
        end_lines.len(),
        1,
        "the end line is out before the companion's future is done"
    );
    assert_eq!(end_lines[0]["lambda_perf"]["outcome"], "success");
    assert_eq!(handler_subsegments(&recorder), 1);
}

/// One invocation whose handler records `Orders`, then sleeps 250 ms and records nothing
/// more, with its deadline 500 ms away and a margin of 300 ms: the watchdog's moment, about
/// 200 ms in, comes while it sleeps, and its timeout line (the only line that carries
/// `Orders`) takes 400 ms to write. The handler ends meanwhile. Run through the companion or
/// not: the lines written once the runtime's future is done (the runtime then asks for its
/// next event, and Lambda may freeze the process, or end it).
async fn ended_while_the_watchdog_writes(companion: bool) -> Vec<Value> {
    let lines = lambda_perf_core::test_util::CapturedLines::new();
    let slow = SlowEndLines {
        lines: lines.clone(),
        slow: b"\"timeout\"",
        delay: Duration::from_millis(400),
    };
    let recorder = Arc::new(Recorder::with(|layer| {
        layer
            .timeout_margin(Duration::from_millis(300))
            .emf_writer(slow)
    }));
    let at_post = Arc::new(Mutex::new(AtPost::default()));
    let mut invocation = invocation(json!({ "sleep_ms": 250, "quiet": true }));
    let deadline = SystemTime::now() + Duration::from_millis(500);
    invocation.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let runtime = runtime_service(&recorder, &at_post);
    if companion {
        PerfRuntimeLayer::new()
            .layer(runtime)
            .oneshot(invocation)
            .await
            .unwrap();
    } else {
        runtime.oneshot(invocation).await.unwrap();
    }
    assert_eq!(
        handler_subsegments(&recorder),
        2,
        "the timeout's and the final one"
    );
    lines
        .lines()
        .into_iter()
        .filter(|l| l.get("ColdStart").is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdogs_timeout_line_is_out_before_the_runtime_goes_on_under_the_companion() {
    let lines = ended_while_the_watchdog_writes(true).await;
    assert_eq!(
        lines.len(),
        2,
        "the timeout line is out, and the end's: {lines:#?}"
    );
    assert_eq!(lines[0]["lambda_perf"]["outcome"], "timeout");
    assert_eq!(lines[0]["Orders"], json!([1.0]));
    // The end says how the invocation ended, with no value left to carry.
    assert_eq!(lines[1]["lambda_perf"]["outcome"], "success");
    assert!(lines[1].get("Orders").is_none(), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "without PerfRuntimeLayer nothing of lambda-perf runs between the response's POST and \
            the next /next: the end could only wait for the watchdog's writes before the POST, \
            which delays the response, up to its deadline (an export waits up to the deadline); \
            the companion waits after the POST instead"]
async fn the_watchdogs_timeout_line_is_out_before_the_runtime_goes_on_without_the_companion() {
    let lines = ended_while_the_watchdog_writes(false).await;
    assert_eq!(
        lines.len(),
        2,
        "the timeout line is out, and the end's: {lines:#?}"
    );
    assert_eq!(lines[0]["lambda_perf"]["outcome"], "timeout");
    assert_eq!(lines[0]["Orders"], json!([1.0]));
}
