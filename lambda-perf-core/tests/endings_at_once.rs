//! Invocations ending every way at once under the runtime companion — returning, failing,
//! panicking, dropped by the runtime, some while the watchdog writes their timeout records
//! and some with their writes still waiting for the POST — each write their own values once:
//! nothing of one reaches another's records, whichever ended invocation's memory a later one
//! reuses, and nothing is written twice or lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::PerfRuntimeLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, LambdaInvocation, service_fn};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

/// Records its number `i` as `Before`, in the names of a dimension, a metadata property and an
/// annotation, waits, records it as `After`, then ends as the event says.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let i = event.payload["i"].as_u64().unwrap();
    metrics::add_metric("Before", Unit::Count, i as f64);
    metrics::add_dimension(format!("d{i}"), "of");
    metrics::add_metadata(format!("m{i}"), "of");
    lambda_perf_core::xray::annotate(format!("a{i}"), "of");
    let wait = event.payload["wait_ms"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(wait)).await;
    metrics::add_metric("After", Unit::Count, i as f64);
    match event.payload["end"].as_str().unwrap() {
        "panic" => panic!("asked to panic (expected by the test)"),
        "error" => Err("asked to fail".into()),
        _ => Ok(json!({ "i": i })),
    }
}

/// `lambda_runtime`'s invocation service, in miniature: the instrumented handler, then a
/// POST that takes the event's `post_ms`.
fn runtime_service(
    recorder: &Arc<Recorder>,
) -> impl Service<LambdaInvocation, Response = (), Error = Error, Future: Send> + Clone + use<> {
    let recorder = Arc::clone(recorder);
    tower::service_fn(move |invocation: LambdaInvocation| {
        let layer = recorder.layer();
        async move {
            let payload: Value = serde_json::from_slice(&invocation.body)?;
            let post = Duration::from_millis(payload["post_ms"].as_u64().unwrap());
            let event = LambdaEvent::new(payload, invocation.context);
            let _ = layer.layer(service_fn(handler)).oneshot(event).await;
            tokio::time::sleep(post).await;
            Ok::<(), Error>(())
        }
    })
}

/// The same numbers every run: a xorshift generator.
struct Numbers(u64);

impl Numbers {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Invocation `i`, ending as `end`: due 20 to 35 ms from now, its handler waiting up to 15 ms
/// and its POST up to 8.
fn invocation(i: u64, end: &str, numbers: &mut Numbers) -> LambdaInvocation {
    let mut context = event(()).context;
    let deadline = SystemTime::now() + Duration::from_millis(20 + numbers.below(15));
    context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let payload = json!({
        "i": i,
        "end": end,
        "wait_ms": numbers.below(15),
        "post_ms": numbers.below(8),
    });
    let (parts, ()) = http::Response::new(()).into_parts();
    LambdaInvocation {
        parts,
        body: serde_json::to_vec(&payload).unwrap().into(),
        context,
    }
}

/// Waits for an invocation's task: the handler's panic goes through this miniature runtime
/// (`lambda_runtime` would catch it), no other.
async fn joined(task: tokio::task::JoinHandle<()>, end: &str) {
    match task.await {
        Err(panicked) if end == "panic" && panicked.is_panic() => {}
        joined => joined.unwrap(),
    }
}

/// What the EMF lines of one invocation carried: its `Before` and `After` values, and the
/// outcome of each line.
#[derive(Clone, Debug, Default)]
struct Written {
    before: Vec<f64>,
    after: Vec<f64>,
    outcomes: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invocations_ending_every_way_at_once_each_write_their_own_values_once() {
    // A margin of 20 ms against deadlines 20 to 35 ms away and handlers of up to 15 ms: the
    // watchdog's moment falls before, during and after the handler's end, and the POST's.
    let recorder = Arc::new(Recorder::with(|layer| {
        layer.timeout_margin(Duration::from_millis(20))
    }));
    let service = PerfRuntimeLayer::new().layer(runtime_service(&recorder));
    let mut numbers = Numbers(12_345);
    let mut running = Vec::new();
    let mut sent = HashMap::new();
    for i in 1..=400 {
        let end = ["success", "success", "panic", "error", "dropped"][numbers.below(5) as usize];
        let invocation = invocation(i, end, &mut numbers);
        sent.insert(invocation.context.request_id.clone(), (i, end));
        let dropped_after = Duration::from_millis(numbers.below(25));
        let service = service.clone();
        let task = tokio::spawn(async move {
            let invoked = service.oneshot(invocation);
            if end == "dropped" {
                let _ = tokio::time::timeout(dropped_after, invoked).await;
            } else {
                invoked.await.unwrap();
            }
        });
        running.push((task, end));
        // Sixteen at once.
        if running.len() == 16 {
            let (task, end) = running.remove(0);
            joined(task, end).await;
        }
    }
    for (task, end) in running {
        joined(task, end).await;
    }

    let mut wrong = Vec::new();
    let mut written: HashMap<String, Written> = HashMap::new();
    for line in recorder.emf().lines() {
        if line.get("ColdStart").is_some() {
            continue;
        }
        let request_id = line["lambda_perf"]["request_id"].as_str().unwrap();
        let (i, _) = sent[request_id];
        let own = [format!("d{i}"), format!("m{i}")];
        let keys = line.as_object().unwrap().keys();
        let others: Vec<&String> = keys
            .filter(|key| key.starts_with(['d', 'm']) && !own.contains(key))
            .collect();
        let dimensions = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
        let outcome = line["lambda_perf"]["outcome"].as_str().unwrap();
        // The watchdog's line may come between the handler's `Before` and its dimension.
        let own_dimensions = *dimensions == json!(["service", format!("d{i}")])
            || (outcome == "timeout" && *dimensions == json!(["service"]));
        if !others.is_empty() || !own_dimensions {
            wrong.push(format!(
                "{i}: another's {others:?}, dimensions {dimensions}, outcome {outcome}"
            ));
        }
        let of_it = written.entry(request_id.to_owned()).or_default();
        for (name, values) in [("Before", &mut of_it.before), ("After", &mut of_it.after)] {
            if let Some(written) = line.get(name) {
                values.extend(
                    written
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap()),
                );
            }
        }
        of_it.outcomes.push(outcome.to_owned());
    }
    for (request_id, &(i, end)) in &sent {
        let of_it = written.get(request_id).cloned().unwrap_or_default();
        let own = |values: &[f64]| values.iter().all(|&value| value == i as f64);
        // A dropped one may have been dropped before recording either.
        let most = |values: &[f64]| match end {
            "dropped" => values.len() <= 1,
            _ => values.len() == 1,
        };
        let ends = of_it.outcomes.iter().filter(|o| *o != "timeout").count();
        if !own(&of_it.before)
            || !own(&of_it.after)
            || !most(&of_it.before)
            || !most(&of_it.after)
            || ends > 1
        {
            wrong.push(format!("{i} ({end}): {of_it:?}"));
        }
    }
    for document in recorder.xray().documents() {
        let facts = &document["metadata"]["lambda_perf"];
        let (i, end) = sent[facts["request_id"].as_str().unwrap()];
        let mut keys: Vec<&str> = document["annotations"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let own = format!("a{i}");
        let expected = ["ColdStart", "Service", "StartKind", own.as_str()];
        // Written before the handler annotated: a timeout, or a dropped one's end.
        let early = facts["outcome"] == "timeout" || end == "dropped";
        if keys != expected && !(early && keys == expected[..3]) {
            wrong.push(format!(
                "{i} ({end}): subsegment {}",
                document["annotations"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
