//! Init and age as Lambda means them, under the real `lambda_runtime` loop: init ends when the
//! runtime first asks for work, a pre-warmed environment's wait for its first request is a
//! fact of its own, and a SnapStart restore is where a restored environment's clock starts.

mod support;

use std::time::Duration;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionConfig, FunctionProcess, InvokeRequest, RuntimeApi,
    RuntimeApiOptions,
};
use serde_json::{Value, json};
use support::*;

/// The first invocation of the scenario function, as the harness saw it and as the function
/// recorded it.
struct First {
    /// Its end line.
    line: Value,
    /// From the process start to the first request for work (Lambda's init), in ms.
    platform_init_ms: f64,
    /// From the process start to the invocation handed out, in ms.
    process_age_ms: f64,
}

/// Starts the scenario function with `config`; once it has asked for work, waits `idle`
/// before queueing its first invocation (`None`: queues it at once, before the function
/// asks, as Lambda does on demand).
async fn first_invocation(
    api: RuntimeApi,
    config: FunctionConfig,
    idle: Option<Duration>,
) -> First {
    let environment = ExecutionEnvironment::new().unwrap();
    let process =
        FunctionProcess::spawn(&scenario_function(), &config, &environment, &api).unwrap();
    if let Some(idle) = idle {
        api.wait_for_first_poll(WAIT).await.unwrap();
        tokio::time::sleep(idle).await;
    }
    let result = process
        .invoke(&api, InvokeRequest::json(json!({ "action": "ok" })))
        .await
        .unwrap();
    let id = result.request_id.clone();
    let since_start = |at: std::time::Instant| {
        at.saturating_duration_since(process.spawned_at())
            .as_secs_f64()
            * 1000.0
    };
    let platform_init_ms = since_start(api.first_poll_at().unwrap());
    let process_age_ms = since_start(result.handed_out_at.unwrap());
    assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    let line = end_line(&process, &id).await;
    assert_valid_emf(&line);
    process.kill().await.unwrap();
    First {
        line,
        platform_init_ms,
        process_age_ms,
    }
}

fn fact(line: &Value, name: &str) -> f64 {
    line["lambda_perf"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prewarmed_environment_reports_its_init_and_its_wait_apart() {
    // 40 ms of init, then 400 ms waiting for the first request.
    let config = function_config()
        .with_initialization_type("provisioned-concurrency")
        .with_env("SCENARIO_INIT_MS", "40");
    let api = RuntimeApi::start().await.unwrap();
    let first = first_invocation(api, config, Some(Duration::from_millis(400))).await;
    let line = &first.line;
    assert_eq!(line["lambda_perf"]["start_kind"], "prewarmed");
    let init = fact(line, "init_duration_ms");
    let wait = fact(line, "first_request_wait_ms");
    let seen = format!(
        "init {init} ms, wait {wait} ms, platform init {} ms",
        first.platform_init_ms
    );
    assert!(init >= 40.0, "{seen}");
    // Init ends where the runtime asked for work, as the Runtime API saw it, not 400 ms later.
    assert!(init <= first.platform_init_ms + 5.0, "{seen}");
    assert!(wait >= 400.0, "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_the_first_request_does_not_wait() {
    let config = function_config().with_env("SCENARIO_INIT_MS", "40");
    let api = RuntimeApi::start().await.unwrap();
    // The invocation is queued before the runtime asks for it, as on Lambda.
    let first = first_invocation(api, config, None).await;
    let line = &first.line;
    assert_eq!(line["lambda_perf"]["start_kind"], "cold");
    assert!(fact(line, "init_duration_ms") >= 40.0, "{line}");
    assert!(fact(line, "first_request_wait_ms") < 40.0, "{line}");
}

/// A `snap-start` function whose snapshot is stored for 600 ms: its age and init run from
/// the restore, not from a process start more than 600 ms earlier.
async fn restored(hook: bool) -> First {
    let api = RuntimeApi::start_with(
        RuntimeApiOptions::default().with_snapshot_stored_for(Duration::from_millis(600)),
    )
    .await
    .unwrap();
    let mut config = function_config()
        .with_initialization_type("snap-start")
        .with_env("SCENARIO_INIT_MS", "40");
    if hook {
        config = config.with_env("SCENARIO_SNAPSTART_HOOK", "1");
    }
    let first = first_invocation(api, config, None).await;
    assert_eq!(first.line["lambda_perf"]["start_kind"], "restored");
    assert!(first.line.get("ColdStart").is_none());
    // The process is at least 640 ms old (40 ms of init, 600 ms stored); the environment,
    // as a restored one counts it, only as old as the time since the restore.
    let age = fact(&first.line, "environment_age_ms");
    assert!(first.process_age_ms >= 640.0, "{}", first.process_age_ms);
    assert!(
        age <= first.process_age_ms - 600.0,
        "age {age} ms, process {} ms",
        first.process_age_ms
    );
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_environment_counts_from_the_restore_marked_by_the_hook() {
    let first = restored(true).await;
    let line = &first.line;
    assert!(
        fact(line, "init_duration_ms") <= first.process_age_ms - 600.0,
        "{line}"
    );
    assert!(
        line["lambda_perf"].get("first_request_wait_ms").is_none(),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_environment_counts_from_its_first_invocation_without_the_hook() {
    let first = restored(false).await;
    assert!(
        fact(&first.line, "init_duration_ms") < 1.0,
        "{}",
        first.line
    );
}

/// The subsegment ids each of two clones of one process sent (see `snapshot-clones`).
fn clone_ids(restored: bool) -> [Vec<String>; 2] {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_snapshot-clones"));
    command.arg(dir);
    if !restored {
        command.arg("--on-demand");
    }
    let status = command.status().unwrap();
    assert!(status.success(), "{status}");
    let read = |clone: usize| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join(format!("clone-{clone}.ids"))).unwrap();
        text.lines().map(str::to_owned).collect()
    };
    [read(0), read(1)]
}

#[test]
fn two_restores_from_one_snapshot_draw_disjoint_ids() {
    let [first, second] = clone_ids(true);
    assert_eq!(first.len(), 120, "20 invocations of 6 subsegments each");
    assert_eq!(second.len(), 120);
    let first: std::collections::BTreeSet<&String> = first.iter().collect();
    assert!(
        second.iter().all(|id| !first.contains(id)),
        "{first:?} {second:?}"
    );
}

#[test]
fn clones_that_do_not_know_they_were_restored_repeat_each_others_ids() {
    // What the reseed prevents: the same state gives the same ids.
    let [first, second] = clone_ids(false);
    assert_eq!(first.len(), 120);
    assert_eq!(first, second);
}
