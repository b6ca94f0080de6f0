//! `PerfRuntimeLayer` under the real `lambda_runtime` loop against the local Runtime API:
//! the invocation's telemetry is written after the response reached the Runtime API, so the
//! client's latency does not include it.
//!
//! The assertions rest on causality, not on timing luck: the Runtime API records the
//! response (`finished_at`) before it acknowledges the POST, and the runtime waits for that
//! acknowledgement before the companion writes; a slow EMF writer (`SLOW_EMF_MS`) makes the
//! difference between writing before and after the POST hundreds of milliseconds wide.

mod support;

use std::time::Duration;

use lambda_perf_local::emulator::{
    Answer, FunctionConfig, FunctionProcess, InvokeReply, InvokeRequest, RuntimeApi, TraceHeader,
    XRayCollector,
};
use serde_json::{Value, json};
use support::*;

const SLOW: Duration = Duration::from_millis(300);

fn companion_function() -> lambda_perf_local::emulator::FunctionCommand {
    lambda_perf_local::emulator::FunctionCommand::new(env!("CARGO_BIN_EXE_companion-function"))
}

fn config(mode: &str, collector: &XRayCollector) -> FunctionConfig {
    function_config()
        .with_env("COMPANION_MODE", mode)
        .with_xray_daemon_address(collector.addr().to_string())
}

async fn invoke(api: &RuntimeApi, process: &FunctionProcess) -> InvokeReply {
    let reply = process
        .invoke(api, InvokeRequest::json(json!({})))
        .await
        .unwrap();
    assert_eq!(
        reply.response_body().map(|body| body.to_vec()),
        Some(br#"{"ok":true}"#.to_vec()),
        "the response is the handler's"
    );
    reply
}

/// When the Runtime API recorded the response of `request_id`.
fn response_recorded_at(api: &RuntimeApi, request_id: &str) -> std::time::Instant {
    let logged = api.invocations();
    let invocation = logged.iter().find(|i| i.request_id == request_id).unwrap();
    invocation.finished_at.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_telemetry_is_written_after_the_response_reached_the_runtime_api() {
    let collector = XRayCollector::start().await.unwrap();
    let started = start(&companion_function(), &config("companion", &collector)).await;
    let (api, process) = (&started.api, &started.process);
    for index in 1..=3 {
        let reply = invoke(api, process).await;
        let id = reply.request_id.clone();
        let line = end_output_line(process, &id).await;
        let posted = response_recorded_at(api, &id);
        assert!(
            line.received_at > posted,
            "invocation {index}: the EMF line was read before the response was recorded"
        );
        let emf = line.emf().unwrap();
        assert_valid_emf(emf);
        assert_eq!(emf["Orders"], json!([1.0]));
        assert_eq!(emf["lambda_perf"]["outcome"], "success");
        assert_eq!(emf["lambda_perf"]["invocation"], index);
        let handler = collector
            .wait_for(
                |document: &Value| {
                    document["name"] == "## orders-fn"
                        && document["metadata"]["lambda_perf"]["request_id"] == id.as_str()
                },
                WAIT,
            )
            .await
            .unwrap();
        assert_valid_xray(&handler);
        assert_eq!(handler["annotations"]["tier"], "gold");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_emf_writer_no_longer_delays_the_client() {
    let collector = XRayCollector::start().await.unwrap();
    let mut latencies = Vec::new();
    for mode in ["layer", "companion"] {
        let config = config(mode, &collector).with_env("SLOW_EMF_MS", SLOW.as_millis().to_string());
        let started = start(&companion_function(), &config).await;
        let (api, process) = (&started.api, &started.process);
        // The first invocation is cold: its ColdStart line is written, slowly, before the
        // handler runs. The second is warm.
        invoke(api, process).await;
        let reply = invoke(api, process).await;
        let id = reply.request_id.clone();
        let line = end_output_line(process, &id).await;
        let latency = reply.duration().unwrap();
        let posted = response_recorded_at(api, &id);
        if mode == "companion" {
            assert!(
                line.received_at >= posted + SLOW,
                "the slow write began after the response was recorded"
            );
        }
        latencies.push((mode, latency));
    }
    let [(_, before), (_, after)] = latencies[..] else {
        unreachable!()
    };
    assert!(
        before >= SLOW,
        "PerfLayer alone writes before the POST: {before:?}"
    );
    assert!(
        after < SLOW,
        "with the companion the client does not wait for the write: {after:?}"
    );
}

/// `EXIT_AFTER=n` (what the instruction count under the runtime loop relies on): the process
/// ends by itself, with status 0, once its n-th invocation has been answered and its telemetry
/// written — in every mode, the companion's deferred writes included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_exits_cleanly_after_the_invocations_it_was_given() {
    let collector = XRayCollector::start().await.unwrap();
    for mode in ["bare", "layer", "companion"] {
        let config = config(mode, &collector).with_env("EXIT_AFTER", "2");
        let started = start(&companion_function(), &config).await;
        let (api, process) = (&started.api, &started.process);
        invoke(api, process).await;
        let last = invoke(api, process).await;
        let status = process.wait_for_exit(WAIT).await.unwrap();
        assert!(status.success(), "{mode}: {status}");
        if mode != "bare" {
            // Written before the exit, or never: the process is gone.
            let line = process
                .wait_for_line(|line| is_end_line(line, &last.request_id), WAIT)
                .await;
            assert!(
                line.is_ok(),
                "{mode}: the last invocation's EMF line is missing"
            );
        }
    }
}

/// `lambda-perf run` restarts a process, moves on to a fresh environment or ends, as Lambda
/// would stop or freeze one: once the process is idle, asking for its next event, not in the middle of the telemetry
/// the companion writes after the response (Lambda never stops a runtime there: it freezes
/// it at its next `GET /next`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_a_process_for_a_restart_only_once_its_telemetry_is_written() {
    use lambda_perf_local::run::{Plan, RunOptions, Runner, execute};
    let config = function_config()
        .with_env("COMPANION_MODE", "companion")
        .with_env("SLOW_EMF_MS", SLOW.as_millis().to_string());
    for (restart_after, fresh_environment_after) in [(Some(1), None), (None, Some(1))] {
        let plan = Plan::from_options(&RunOptions {
            invocations: 2,
            restart_after,
            fresh_environment_after,
            ..RunOptions::default()
        });
        let runner = Runner::new(companion_function(), config.clone());
        let result = execute(&plan, &runner, &|_| {}).await;
        assert!(result.early_stop.is_none(), "{:?}", result.early_stop);
        let record = &result.record;
        let first = &record.invocations[0].request_id;
        assert!(
            record.processes[0]
                .output
                .iter()
                .any(|line| is_end_line(line, first)),
            "restart {restart_after:?}, fresh {fresh_environment_after:?}: the first \
             invocation's EMF line is missing from its process's output: {:#?}",
            record.processes[0].output
        );
        // And the last one's, at the end of the run.
        let last = &record.invocations[1].request_id;
        assert!(
            record.processes[1]
                .output
                .iter()
                .any(|line| is_end_line(line, last)),
            "the last invocation's EMF line is missing: {:#?}",
            record.processes[1].output
        );
    }
}

/// Lambda's invoke phase, which `Duration` and `Billed Duration` measure, ends when the
/// runtime asks for its next event (`GET /next`), not when it posts its response: what the
/// companion writes after the response is billed, though the caller does not wait for it.
/// `lambda-perf run` reports both: the duration to the next request, the response time to
/// the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_bills_what_the_companion_writes_after_the_response() {
    use lambda_perf_local::report::Report;
    use lambda_perf_local::run::{Plan, RunOptions, Runner, execute, lambda_log};
    let config = function_config()
        .with_env("COMPANION_MODE", "companion")
        .with_env("SLOW_EMF_MS", SLOW.as_millis().to_string());
    let plan = Plan::from_options(&RunOptions {
        invocations: 2,
        ..RunOptions::default()
    });
    let result = execute(&plan, &Runner::new(companion_function(), config), &|_| {}).await;
    assert!(result.early_stop.is_none(), "{:?}", result.early_stop);
    let report = Report::build(&result.record);
    // The warm one: its end-of-invocation line is written, slowly, after its response.
    let warm = &report.invocations[1];
    let billed = warm.billed_duration_ms.expect("billed");
    assert!(
        billed >= SLOW.as_millis() as u64,
        "billed {billed} ms, though the runtime asked for its next event only after a {SLOW:?} write"
    );
    let response = warm.response_ms.expect("answered");
    let duration = warm.duration_ms.expect("a duration");
    assert!(
        response < SLOW.as_secs_f64() * 1000.0
            && duration >= response + SLOW.as_secs_f64() * 1000.0,
        "the caller had its answer in {response} ms, before the {SLOW:?} write the invocation's \
         duration ({duration} ms) includes"
    );
    // As Lambda logs it: the line written after the response, then END and REPORT.
    let log = lambda_log(&result.record, &report);
    let id = &warm.request_id;
    let position = |needle: &str| {
        log.lines()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{log}"))
    };
    let emf = log
        .lines()
        .position(|line| line.contains("\"_aws\"") && line.contains(id.as_str()))
        .unwrap_or_else(|| panic!("no EMF line of {id} in:\n{log}"));
    assert!(
        emf < position(&format!("END RequestId: {id}")),
        "the EMF line written after the response comes after END:\n{log}"
    );
}

/// The client-latency bench's rows that take the unsampled companion apart run what they
/// are said to: `runtime_layer_threaded` (`PerfRuntimeLayer` without `PerfLayer`) writes no
/// EMF line at all, and `companion_no_calls` (both layers around a handler that records
/// nothing, unsampled) only its cold start's, no end-of-invocation line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decomposition_modes_answer_and_record_nothing() {
    use lambda_perf_local::run::{Plan, RunOptions, Runner, execute};
    let plan = Plan::from_options(&RunOptions {
        invocations: 2,
        sampling: 0.0,
        ..RunOptions::default()
    });
    for mode in ["runtime_layer_threaded", "companion_no_calls"] {
        let config = function_config().with_env("COMPANION_MODE", mode);
        let result = execute(&plan, &Runner::new(companion_function(), config), &|_| {}).await;
        assert!(
            result.early_stop.is_none(),
            "{mode}: {:?}",
            result.early_stop
        );
        let record = &result.record;
        assert_eq!(record.invocations.len(), 2, "{mode}");
        let emf: Vec<&Value> = record
            .processes
            .iter()
            .flat_map(|process| &process.output)
            .filter_map(|line| line.emf())
            .collect();
        if mode == "runtime_layer_threaded" {
            assert!(emf.is_empty(), "{mode}: {emf:#?}");
        } else {
            assert!(
                emf.iter().all(|line| is_cold_start_line(line)),
                "{mode}: {emf:#?}"
            );
            assert!(!emf.is_empty(), "{mode}: the cold start's line is missing");
        }
    }
}

/// The floor after the POST writes, once each response reached the Runtime API, an EMF line
/// and (sampled) a datagram shaped as the companion's, which validate and carry the
/// invocation's ids; unsampled, the line alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_after_the_post_writes_the_companions_telemetry_by_hand() {
    let collector = XRayCollector::start().await.unwrap();
    let started = start(
        &companion_function(),
        &config("floor_after_post", &collector),
    )
    .await;
    let (api, process) = (&started.api, &started.process);
    for sampled in [true, false, true] {
        let request = InvokeRequest::json(json!({}));
        let request = if sampled {
            request
        } else {
            request.unsampled()
        };
        let reply = process.invoke(api, request).await.unwrap();
        assert_eq!(
            reply.response_body().map(|body| body.to_vec()),
            Some(br#"{"ok":true}"#.to_vec())
        );
        let id = reply.request_id.clone();
        let line = process
            .wait_for_line(
                |line| {
                    line.emf()
                        .is_some_and(|emf| emf["lambda_perf"]["request_id"] == id.as_str())
                },
                WAIT,
            )
            .await
            .unwrap();
        assert!(line.received_at > response_recorded_at(api, &id));
        let emf = line.emf().unwrap();
        assert_valid_emf(emf);
        assert_eq!(emf["Orders"], json!([1.0]));
        let root = TraceHeader::parse(reply.trace_header.as_deref().unwrap())
            .unwrap()
            .root;
        let document = collector
            .wait_for(
                |document: &Value| document["trace_id"] == root.as_str(),
                Duration::from_millis(if sampled { 5_000 } else { 300 }),
            )
            .await;
        if sampled {
            let document = document.unwrap();
            assert_valid_xray(&document);
            assert_eq!(document["name"], "## orders-fn");
            assert_eq!(
                document["metadata"]["lambda_perf"]["request_id"],
                id.as_str()
            );
        } else {
            assert!(document.is_err(), "unsampled, no datagram: {document:?}");
        }
    }
}

/// What the floor after the POST writes is what the companion writes, shape and size: the
/// handler subsegment's annotations (`Service` among them) and members, the EMF line's facts,
/// each within a few bytes of the companion's (numbers of other digits aside). A floor
/// smaller than the companion's writes would flatter it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_after_the_post_is_the_companions_telemetry_in_shape_and_size() {
    let collector = XRayCollector::start().await.unwrap();
    let mut written = Vec::new();
    for mode in ["companion", "floor_after_post"] {
        let started = start(&companion_function(), &config(mode, &collector)).await;
        let (api, process) = (&started.api, &started.process);
        // The second invocation, warm.
        invoke(api, process).await;
        let reply = invoke(api, process).await;
        let id = reply.request_id.clone();
        let emf = end_line(process, &id).await;
        let document = collector
            .wait_for(
                |document: &Value| document["metadata"]["lambda_perf"]["request_id"] == id.as_str(),
                WAIT,
            )
            .await
            .unwrap();
        written.push((mode, emf, document));
    }
    let keys = |value: &Value| -> Vec<String> {
        value
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default()
    };
    let size = |value: &Value| serde_json::to_string(value).unwrap().len();
    let [(_, emf, document), (_, floor_emf, floor_document)] = &written[..] else {
        unreachable!()
    };
    assert_eq!(floor_document["annotations"], document["annotations"]);
    assert_eq!(keys(floor_document), keys(document));
    assert_eq!(
        keys(&floor_document["metadata"]),
        keys(&document["metadata"])
    );
    assert_eq!(
        keys(&floor_document["metadata"]["lambda_perf"]),
        keys(&document["metadata"]["lambda_perf"])
    );
    assert_eq!(keys(floor_emf), keys(emf));
    assert_eq!(keys(&floor_emf["lambda_perf"]), keys(&emf["lambda_perf"]));
    for (what, floor, companion) in [
        ("datagram", size(floor_document), size(document)),
        ("EMF line", size(floor_emf), size(emf)),
    ] {
        assert!(
            floor.abs_diff(companion) <= 16,
            "the floor's {what} is {floor} bytes, the companion's {companion}"
        );
    }
}

/// A `COMPANION_MODE` the function does not know ends it with an error, rather than running
/// the default: a bench's misspelt mode (here a row's label, not a mode) would otherwise
/// measure the companion under another name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mode_is_an_error() {
    let collector = XRayCollector::start().await.unwrap();
    let started = start(
        &companion_function(),
        &config("companion_unsampled", &collector),
    )
    .await;
    let process = &started.process;
    let status = process.wait_for_exit(WAIT).await.unwrap();
    assert!(!status.success(), "{status}");
    let said = process
        .wait_for_line(|line| line.text.contains("COMPANION_MODE"), WAIT)
        .await;
    assert!(said.is_ok(), "{:?}", process.last_lines(10));
}

/// The scenario function (`PerfLayer` under `run_concurrent`) with `PerfRuntimeLayer` added,
/// its EMF writes `SLOW` slower.
fn scenario_with_companion(max_concurrency: u32) -> FunctionConfig {
    function_config()
        .with_env("SCENARIO_COMPANION", "1")
        .with_env("SCENARIO_SLOW_EMF_MS", SLOW.as_millis().to_string())
        .with_max_concurrency(max_concurrency)
}

/// The end-of-invocation line of `request_id`: one only, whose slow write began after the
/// Runtime API recorded the answer.
async fn end_line_after_post(api: &RuntimeApi, process: &FunctionProcess, id: &str) -> Value {
    let line = end_output_line(process, id).await;
    let logged = api.invocations();
    let invocation = logged.iter().find(|i| i.request_id == id).unwrap();
    assert!(
        line.received_at >= invocation.finished_at.unwrap() + SLOW,
        "{id}: the end line's slow write began before the answer was recorded"
    );
    let ends = process
        .output()
        .iter()
        .filter(|line| is_end_line(line, id))
        .count();
    assert_eq!(ends, 1, "{id}: one end line, not {ends}");
    line.emf().unwrap().clone()
}

/// A panic and an error under the companion: answered as without it, recorded once, after
/// their POST, and the runtime goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_and_an_error_are_recorded_after_their_post() {
    let started = start(&scenario_function(), &scenario_with_companion(1)).await;
    let (api, process) = (&started.api, &started.process);
    for (action, outcome) in [("panic", "panic"), ("ok", "success"), ("error", "error")] {
        let result = process
            .invoke(api, InvokeRequest::json(json!({ "action": action })))
            .await
            .unwrap();
        let id = result.request_id.clone();
        match (&result.answer, outcome) {
            (Answer::Error { error, .. }, "panic") => assert!(
                error
                    .error_message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("the scenario asked for a panic"),
                "{error:?}"
            ),
            (Answer::Error { .. }, "error") => {}
            (Answer::Response { .. }, "success") => {
                assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
            }
            (other, _) => panic!("{action}: unexpected answer {other:?}"),
        }
        let end = end_line_after_post(api, process, &id).await;
        assert_valid_emf(&end);
        assert_eq!(end["Attempts"], json!([1.0]), "{action}");
        assert_eq!(end["lambda_perf"]["outcome"], outcome, "{action}");
    }
}

/// Invocations at once in one process (Managed Instances) under the companion: each is
/// recorded once, with its own metrics and trace, after its own POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_are_each_recorded_after_their_own_post() {
    let collector = XRayCollector::start().await.unwrap();
    let config = scenario_with_companion(3).with_xray_daemon_address(collector.addr().to_string());
    let started = start(&scenario_function(), &config).await;
    let (api, process) = (&started.api, &started.process);
    let invoke = |tag: &str, sleep_ms: u64| {
        let event = json!({ "action": "trace", "tag": tag, "sleep_ms": sleep_ms });
        process.invoke(api, InvokeRequest::json(event))
    };
    for _ in 0..2 {
        let (a, b, c) = tokio::join!(invoke("a", 300), invoke("b", 100), invoke("c", 0));
        for (result, tag) in [(a.unwrap(), "a"), (b.unwrap(), "b"), (c.unwrap(), "c")] {
            let id = result.request_id.clone();
            let root = result.trace_header.clone().unwrap();
            let root = root.split(';').next().unwrap().trim_start_matches("Root=");
            assert_eq!(result.into_json().unwrap()["done"], "trace");
            let end = end_line_after_post(api, process, &id).await;
            assert_valid_emf(&end);
            assert_eq!(end["tag"], tag);
            assert_eq!(end["lambda_perf"]["outcome"], "success");
            let handler = collector
                .wait_for(
                    |doc: &Value| doc["trace_id"] == root && doc["name"] == "## orders-fn",
                    WAIT,
                )
                .await
                .unwrap();
            assert_eq!(handler["annotations"]["tag"], tag);
            assert_eq!(
                handler["metadata"]["lambda_perf"]["request_id"],
                id.as_str()
            );
        }
    }
}

/// A handler whose values all went out in the timeout watchdog's line (it recorded them, then
/// waited past the watchdog's moment, recording nothing more) and that ends in time, with and
/// without the companion: its end still writes a line, valid EMF with no metric, saying how it
/// ended; the last line of the request says `success`, with the whole duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_after_the_timeout_line_with_no_value_left_still_says_how_it_ended() {
    for companion in [false, true] {
        let mut config = function_config().with_env("LAMBDA_PERF_TIMEOUT_MARGIN_MS", "700");
        if companion {
            config = config.with_env("SCENARIO_COMPANION", "1");
        }
        let started = start(&scenario_function(), &config).await;
        let (api, process) = (&started.api, &started.process);
        // Deadline a second after the hand-out, margin 700 ms: the watchdog writes 300 ms in,
        // the handler answers at about 500 ms.
        let reply = process
            .invoke(
                api,
                InvokeRequest::json(json!({ "action": "ok", "then_sleep_ms": 500 }))
                    .with_deadline_after_hand_out(Duration::from_secs(1)),
            )
            .await
            .unwrap();
        let id = reply.request_id.clone();
        assert_eq!(reply.into_json().unwrap(), json!({ "done": "ok" }));
        process
            .wait_for_line(
                |line| {
                    is_end_line(line, &id)
                        && line.emf().unwrap()["lambda_perf"]["outcome"] == "success"
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|_| panic!("companion {companion}: {:#?}", process.last_lines(10)));
        let ends: Vec<Value> = process
            .output()
            .iter()
            .filter(|line| is_end_line(line, &id))
            .map(|line| line.emf().unwrap().clone())
            .collect();
        assert_eq!(ends.len(), 2, "companion {companion}: {ends:#?}");
        for end in &ends {
            assert_valid_emf(end);
        }
        let (timeout, last) = (&ends[0], &ends[1]);
        assert_eq!(timeout["lambda_perf"]["outcome"], "timeout");
        assert_eq!(timeout["Attempts"], json!([1.0]));
        assert_eq!(last["lambda_perf"]["outcome"], "success");
        assert!(last.get("Attempts").is_none(), "no value twice: {last}");
        let duration = last["lambda_perf"]["duration_ms"].as_f64().unwrap();
        assert!(duration >= 500.0, "companion {companion}: {last}");
    }
}
