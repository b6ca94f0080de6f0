//! Clients created at init are reported with the process's first invocation — the cold one,
//! which waited for them — also when several invocations begin at once (Lambda Managed
//! Instances, `run_concurrent`).
//!
//! Which invocation begins first is a race, and what is decided once per process cannot be
//! run twice in one: the test runs fresh processes of itself, one trial each.

use std::process::Command;
use std::sync::Arc;

use lambda_perf_core::lazy::TimedLazy;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt, service_fn};

static CLIENT: TimedLazy<u32> = TimedLazy::new("init-client", || 7);

const TRIAL: &str = "LAMBDA_PERF_INIT_CLIENTS_TRIAL";
const AT_ONCE: usize = 8;
/// A trial's exit status when the clients were reported with the cold invocation.
const ON_COLD: i32 = 3;

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "client": *CLIENT.get() }))
}

/// One trial: a client created at init, then `AT_ONCE` first invocations at once. Exits 0 when
/// the cold invocation reported the client, 1 when another did.
fn trial() {
    CLIENT.init_now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let recorder = Arc::new(Recorder::new());
    runtime.block_on(async {
        let barrier = Arc::new(std::sync::Barrier::new(AT_ONCE));
        let mut threads = Vec::new();
        for _ in 0..AT_ONCE {
            let barrier = Arc::clone(&barrier);
            let service = recorder.layer().layer(service_fn(handler));
            let handle = tokio::runtime::Handle::current();
            threads.push(std::thread::spawn(move || {
                barrier.wait();
                handle.block_on(service.oneshot(event(json!({})))).unwrap();
            }));
        }
        for thread in threads {
            thread.join().unwrap();
        }
    });
    let client_lines: Vec<Value> = recorder
        .emf()
        .lines()
        .into_iter()
        .filter(|line| line["client"] == "init-client")
        .collect();
    assert_eq!(client_lines.len(), 1, "{client_lines:#?}");
    let kind = client_lines[0]["lambda_perf"]["start_kind"].clone();
    let handlers: Vec<Value> = recorder
        .xray()
        .documents()
        .into_iter()
        .filter(|d| d["name"] == "## handler")
        .filter(|d| d["metadata"]["lambda_perf"].get("init_clients").is_some())
        .collect();
    let on_cold = handlers.len() == 1 && handlers[0]["annotations"]["ColdStart"] == true;
    // Neither 0 nor 101: a child that ran no test (its name not matched) exits 0, one that
    // panicked 101, and neither may count as a trial.
    std::process::exit(if kind == "cold" && on_cold {
        ON_COLD
    } else {
        1
    });
}

#[test]
fn the_clients_created_at_init_are_reported_with_the_cold_invocation() {
    if std::env::var_os(TRIAL).is_some() {
        trial();
    }
    let exe = std::env::current_exe().unwrap();
    let trials = 600;
    let mut misattributed = 0;
    for _ in 0..trials {
        let status = Command::new(&exe)
            .args([
                "the_clients_created_at_init_are_reported_with_the_cold_invocation",
                "--exact",
                "--nocapture",
            ])
            .env(TRIAL, "1")
            .status()
            .unwrap();
        match status.code() {
            Some(ON_COLD) => {}
            Some(1) => misattributed += 1,
            other => panic!("the trial failed: {other:?}"),
        }
    }
    assert_eq!(
        misattributed, 0,
        "{misattributed} of {trials} trials reported the init clients with a warm invocation"
    );
}
