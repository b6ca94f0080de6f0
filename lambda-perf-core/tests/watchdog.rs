//! The timeout watchdog: an invocation still running a margin before its deadline writes what
//! it has recorded, without being interrupted, and without repeating it when it ends in time.

#[path = "common/child_process.rs"]
mod child_process;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::{InitializationType, InvocationFacts};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

/// An event whose deadline is `in_ms` from now.
fn event_due_in(in_ms: u64) -> LambdaEvent<Value> {
    let mut event = event(json!({}));
    let deadline = SystemTime::now() + Duration::from_millis(in_ms);
    event.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    event
}

/// The EMF lines of the invocations' ends (and of the watchdog's), the `ColdStart` line left
/// out.
fn end_lines(recorder: &Recorder) -> Vec<Value> {
    let mut lines = recorder.emf().lines();
    lines.retain(|line| line.get("ColdStart").is_none());
    lines
}

async fn slow(_: LambdaEvent<Value>) -> Result<&'static str, Error> {
    metrics::add_metric("Before", Unit::Count, 1.0);
    tokio::time::sleep(Duration::from_millis(250)).await;
    metrics::add_metric("After", Unit::Count, 1.0);
    metrics::add_metric("Before", Unit::Count, 2.0);
    Ok("done")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_near_its_deadline_writes_early_and_then_finishes_in_time() {
    // Deadline in 400 ms, margin 300 ms: the watchdog fires 100 ms in, the handler ends at 250.
    let recorder = Recorder::with(|layer| layer.timeout_margin(Duration::from_millis(300)));
    let response = recorder
        .run(service_fn(slow), event_due_in(400))
        .await
        .unwrap();
    assert_eq!(response, "done", "the handler was not interrupted");

    let ends = end_lines(&recorder);
    assert_eq!(ends.len(), 2, "{ends:#?}");
    assert_eq!(ends[0]["lambda_perf"]["outcome"], "timeout");
    assert_eq!(ends[0]["Before"], json!([1.0]));
    assert!(ends[0].get("After").is_none());
    assert_eq!(ends[1]["lambda_perf"]["outcome"], "success");
    assert_eq!(ends[1]["Before"], json!([2.0]), "no value is written twice");
    assert_eq!(ends[1]["After"], json!([1.0]));
    assert!(ends[1]["lambda_perf"].get("past_deadline").is_none());

    let documents = recorder.xray().documents();
    let handlers: Vec<&Value> = documents
        .iter()
        .filter(|d| d["name"] == "## handler")
        .collect();
    assert_eq!(handlers.len(), 2);
    assert_eq!(
        handlers[0]["id"], handlers[1]["id"],
        "one subsegment: an in-progress copy, then the complete document"
    );
    // In progress: the complete one replaces it, as X-Ray replaces an in-progress document
    // (which of two complete documents of one id it keeps is not said).
    assert_eq!(handlers[0]["in_progress"], true, "{}", handlers[0]);
    assert!(handlers[0].get("end_time").is_none(), "{}", handlers[0]);
    assert_eq!(handlers[0]["fault"], true);
    assert_eq!(handlers[0]["cause"]["exceptions"][0]["type"], "timeout");
    assert!(
        handlers[0]["cause"]["exceptions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("300 ms before its deadline")
    );
    assert_eq!(handlers[0]["metadata"]["lambda_perf"]["outcome"], "timeout");
    // The final one is complete, and says how the invocation ended.
    assert!(handlers[1].get("in_progress").is_none(), "{}", handlers[1]);
    assert!(handlers[1]["end_time"].is_number(), "{}", handlers[1]);
    assert!(handlers[1].get("fault").is_none(), "{}", handlers[1]);
    assert_eq!(handlers[1]["metadata"]["lambda_perf"]["outcome"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_watchdog_without_a_deadline_in_the_future() {
    let recorder = Recorder::with(|layer| layer.timeout_margin(Duration::from_millis(300)));
    // `cargo lambda watch` sends 600000: no deadline at all.
    let mut emulated = event(json!({}));
    emulated.context.deadline = 600_000;
    recorder.run(service_fn(slow), emulated).await.unwrap();
    // A deadline closer than the margin: off, quietly.
    recorder
        .run(service_fn(slow), event_due_in(100))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    assert!(
        lines
            .iter()
            .all(|l| l["lambda_perf"]["outcome"] != "timeout"),
        "{lines:#?}"
    );
    // The second ended after its deadline: its record says so.
    assert_eq!(lines.last().unwrap()["lambda_perf"]["past_deadline"], true);
}

/// The largest deadline the header can carry (`u64::MAX` ms, far past what nanoseconds since
/// the epoch hold in 64 bits) is a deadline like any other: the handler sees it, nothing
/// overflows, the watchdog waits for it, and the record gives a headroom.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_deadline_the_header_can_carry_is_far_away_not_an_overflow() {
    let recorder = Recorder::with(|layer| layer.timeout_margin(Duration::from_millis(300)));
    let handler = service_fn(|event: LambdaEvent<Value>| async move {
        let facts = InvocationFacts::current().unwrap();
        slow(event)
            .await
            .map(|_| (facts.deadline(), facts.remaining_time()))
    });
    let mut far = event(json!({}));
    far.context.deadline = u64::MAX;
    let (deadline, remaining) = recorder.run(handler, far).await.unwrap();
    assert_eq!(
        deadline,
        UNIX_EPOCH.checked_add(Duration::from_millis(u64::MAX))
    );
    assert!(remaining.unwrap() > Duration::from_secs(100 * 365 * 24 * 3600));
    let lines = recorder.emf().lines();
    let end = lines.last().unwrap();
    assert_eq!(end["lambda_perf"]["outcome"], "success", "{lines:#?}");
    assert!(end["lambda_perf"]["deadline_headroom_ms"].as_f64().unwrap() > 1e12);
    assert!(end["lambda_perf"].get("past_deadline").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_instances_flag_an_invocation_past_its_deadline_instead() {
    let recorder = Recorder::with(|layer| {
        layer
            .timeout_margin(Duration::from_millis(300))
            .initialization_type(InitializationType::ManagedInstances)
    });
    let handler = service_fn(|event: LambdaEvent<Value>| async move {
        let facts = InvocationFacts::current().unwrap();
        slow(event).await.map(|_| facts.remaining_time())
    });
    recorder.run(handler, event_due_in(200)).await.unwrap();
    let lines = recorder.emf().lines();
    let end = lines.last().unwrap();
    assert_eq!(
        lines.len(),
        1,
        "no ColdStart line when pre-warmed, one end line: {lines:#?}"
    );
    assert_eq!(end["lambda_perf"]["outcome"], "success");
    assert_eq!(end["lambda_perf"]["past_deadline"], true);
}

/// A handler that recorded its values before the watchdog's line and none after it, then
/// ended in time: the watchdog's line says `timeout`, with the duration of its moment, so the
/// end still writes its own line (its facts alone: no value is left to carry, and none is
/// written twice), and what the EMF lines say last of the invocation is how it ended. Most
/// invocations are not sampled: for them there is no X-Ray document to say it instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_with_no_value_after_the_timeout_line_still_says_how_it_ended() {
    // Deadline in 400 ms, margin 300 ms: the watchdog writes `Before` 100 ms in, the handler
    // ends at 250 ms.
    let recorder = Recorder::with(|layer| layer.timeout_margin(Duration::from_millis(300)));
    let early_values = service_fn(|_: LambdaEvent<Value>| async {
        metrics::add_metric("Before", Unit::Count, 1.0);
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok::<_, Error>("done")
    });
    let response = recorder.run(early_values, event_due_in(400)).await.unwrap();
    assert_eq!(response, "done");
    let ends = end_lines(&recorder);
    assert_eq!(ends.len(), 2, "{ends:#?}");
    assert_eq!(ends[0]["lambda_perf"]["outcome"], "timeout");
    assert_eq!(ends[0]["Before"], json!([1.0]));
    let end = &ends[1];
    assert_eq!(end["lambda_perf"]["outcome"], "success", "{end}");
    assert!(
        end.get("Before").is_none(),
        "no value is written twice: {end}"
    );
    assert_eq!(end["_aws"]["CloudWatchMetrics"][0]["Metrics"], json!([]));
    let duration = |line: &Value| line["lambda_perf"]["duration_ms"].as_f64().unwrap();
    assert!(duration(end) >= 250.0, "{end}");
    assert!(duration(end) > duration(&ends[0]), "{ends:#?}");
}

/// A handler that records a value and metadata, then, past the watchdog's moment (a
/// deadline 400 ms away, a margin of 300 ms: the watchdog writes 100 ms in), metadata and no
/// more value.
async fn late_metadata(_: LambdaEvent<Value>) -> Result<&'static str, Error> {
    metrics::add_metric("Before", Unit::Count, 1.0);
    metrics::add_metadata("early", "e");
    tokio::time::sleep(Duration::from_millis(250)).await;
    metrics::add_metadata("order", "o-1");
    Ok("done")
}

/// Metadata added after the timeout line, with no later value: the line that says how the
/// invocation ended carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_added_after_the_timeout_line_goes_out_with_the_end() {
    let recorder = Recorder::with(|layer| layer.timeout_margin(Duration::from_millis(300)));
    recorder
        .run(service_fn(late_metadata), event_due_in(400))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    let outcome = |line: &Value| line["lambda_perf"]["outcome"].clone();
    let timeout = lines.iter().find(|l| outcome(l) == "timeout").unwrap();
    assert_eq!(
        timeout["early"], "e",
        "metadata added before the line is in it"
    );
    let end = lines.last().unwrap();
    assert_eq!(outcome(end), "success", "{lines:#?}");
    assert_eq!(end["order"], "o-1", "{lines:#?}");
}

/// With the facts left out of the lines (`LAMBDA_PERF_INVOCATION_FACTS=false`) the end has
/// nothing to say without a value: no line, and the metadata added after the timeout line is
/// not written, with one warning on stderr, as metadata with no metric value is. Runs itself
/// again in a child process, whose stderr it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_facts_metadata_after_the_timeout_line_is_warned_of_not_written() {
    const CHILD: &str = "LAMBDA_PERF_TEST_LATE_METADATA_CHILD";
    if child_process::is_child(CHILD) {
        let recorder = Recorder::with(|layer| {
            layer
                .timeout_margin(Duration::from_millis(300))
                .invocation_facts(false)
        });
        recorder
            .run(service_fn(late_metadata), event_due_in(400))
            .await
            .unwrap();
        let ends = end_lines(&recorder);
        assert_eq!(ends.len(), 1, "{ends:#?}");
        assert_eq!(ends[0]["Before"], json!([1.0]), "{ends:#?}");
        assert!(ends[0].get("order").is_none(), "{ends:#?}");
        return;
    }
    let (warnings, stderr) = child_process::warnings_of_child(
        "without_facts_metadata_after_the_timeout_line_is_warned_of_not_written",
        CHILD,
        "metrics metadata was added",
    );
    assert_eq!(warnings.len(), 1, "{stderr}");
}

/// With resource usage on, the records the watchdog writes near the deadline say what the
/// invocation used so far: a function Lambda then kills at its deadline (a CPU-starved one,
/// most often) leaves only those records, and "was it CPU-bound?" is asked of them first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_records_carry_the_resource_usage_so_far() {
    const RESOURCE_FACTS: [&str; 4] = [
        "cpu_time_ms",
        "peak_rss_mb",
        "cpu_ratio",
        "cpu_allotment_used",
    ];
    let recorder = Recorder::with(|layer| {
        layer
            .timeout_margin(Duration::from_millis(300))
            .resource_usage(true)
    });
    let mut due = event_due_in(400);
    let mut config = (*due.context.env_config).clone();
    config.memory = 1769;
    due.context.env_config = std::sync::Arc::new(config);
    recorder.run(service_fn(slow), due).await.unwrap();

    let lines = recorder.emf().lines();
    let timeout = lines
        .iter()
        .find(|l| l["lambda_perf"]["outcome"] == "timeout")
        .unwrap_or_else(|| panic!("no timeout line: {lines:#?}"));
    let documents = recorder.xray().documents();
    let snapshot = documents
        .iter()
        .find(|d| d["name"] == "## handler" && d["fault"] == true)
        .unwrap_or_else(|| panic!("no timeout subsegment: {documents:#?}"));
    for key in RESOURCE_FACTS {
        assert!(
            timeout["lambda_perf"][key].is_number(),
            "{key} in {timeout}"
        );
        assert_eq!(
            snapshot["metadata"]["lambda_perf"][key], timeout["lambda_perf"][key],
            "{key}: {snapshot}"
        );
    }
    // The final records, written when the handler still finished in time, have them too.
    let end = lines.last().unwrap();
    assert_eq!(end["lambda_perf"]["outcome"], "success");
    for key in RESOURCE_FACTS {
        assert!(end["lambda_perf"][key].is_number(), "{key} in {end}");
    }
}
