//! What the client and the cold start see, under the real `lambda_runtime` loop against the
//! local Runtime API (`bench/run` runs it and puts the figures in `BENCHMARKS.md`):
//!
//! - **client latency**: from the Runtime API handing out a warm invocation (`/next`) to the
//!   response reaching it, for `companion-function` bare, behind `PerfLayer`, and behind
//!   `PerfLayer` with `PerfRuntimeLayer`; the X-Ray datagrams go to a real UDP receiver, the
//!   EMF lines to the harness's stdout pipe;
//! - **init**: from spawning a fresh process in a fresh environment to its first response
//!   reaching the Runtime API, for each binary named in `LAMBDA_PERF_BENCH_INIT_BINARIES`
//!   (`name=path,name=path`; `bench/run` passes the minimal function's builds).
//!
//! Settings: `LAMBDA_PERF_BENCH_INVOCATIONS` (warm invocations per mode, default 2000),
//! `LAMBDA_PERF_BENCH_STARTS` (starts per binary, default 30), `LAMBDA_PERF_BENCH_OUT` (the
//! JSON written, default `end_to_end.json` in the working directory).

#![allow(clippy::print_stdout)]

use std::time::Duration;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, InvokeRequest,
    RuntimeApi, XRayCollector,
};
use serde_json::{Value, json};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Median, 90th percentile and mean, in microseconds.
fn summary(mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| micros(samples[((samples.len() - 1) as f64 * q).round() as usize]);
    let mean = samples.iter().copied().map(micros).sum::<f64>() / samples.len() as f64;
    json!({
        "samples": samples.len(),
        "median_us": at(0.5),
        "p90_us": at(0.9),
        "p99_us": at(0.99),
        "mean_us": mean,
    })
}

fn config(collector: &XRayCollector) -> FunctionConfig {
    FunctionConfig::new()
        .with_function_name("bench-fn")
        .with_env("POWERTOOLS_SERVICE_NAME", "bench")
        .with_env("POWERTOOLS_METRICS_NAMESPACE", "Bench")
        .with_xray_daemon_address(collector.addr().to_string())
}

async fn client_latency(mode: &str, invocations: usize, collector: &XRayCollector) -> Value {
    let api = RuntimeApi::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_companion-function"));
    let config = config(collector).with_env("COMPANION_MODE", mode);
    let process = FunctionProcess::spawn(&command, &config, &environment, &api).unwrap();
    let mut samples = Vec::with_capacity(invocations);
    for index in 0..invocations + 51 {
        let reply = process
            .invoke(&api, InvokeRequest::json(json!({ "index": index })))
            .await
            .unwrap();
        assert!(
            reply.response_body().is_some(),
            "{mode}: {:?}",
            reply.answer
        );
        // The first (cold) and 50 warm-up invocations are not counted.
        if index > 50 {
            samples.push(reply.duration().unwrap());
        }
    }
    process.kill().await.unwrap();
    summary(samples)
}

async fn init(path: &str, starts: usize, collector: &XRayCollector) -> Value {
    let command = FunctionCommand::new(path);
    let mut samples = Vec::with_capacity(starts);
    for _ in 0..starts {
        let api = RuntimeApi::start().await.unwrap();
        let environment = ExecutionEnvironment::new().unwrap();
        let process =
            FunctionProcess::spawn(&command, &config(collector), &environment, &api).unwrap();
        let reply = process
            .invoke(&api, InvokeRequest::json(json!({})))
            .await
            .unwrap();
        assert!(
            reply.response_body().is_some(),
            "{path}: {:?}",
            reply.answer
        );
        let logged = api.invocations();
        let answered = logged[0].finished_at.unwrap();
        samples.push(answered.duration_since(process.spawned_at()));
        process.kill().await.unwrap();
    }
    summary(samples)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; a filter, if any, is ignored.
    let invocations = setting("LAMBDA_PERF_BENCH_INVOCATIONS", 2000).max(1);
    let starts = setting("LAMBDA_PERF_BENCH_STARTS", 30).max(1);
    let out = std::env::var("LAMBDA_PERF_BENCH_OUT").unwrap_or_else(|_| "end_to_end.json".into());
    let collector = XRayCollector::start().await.unwrap();

    let mut latency = serde_json::Map::new();
    for mode in ["bare", "layer", "companion"] {
        let figures = client_latency(mode, invocations, &collector).await;
        println!("client latency, {mode}: {figures}");
        latency.insert(mode.to_owned(), figures);
    }
    let mut starts_by_binary = serde_json::Map::new();
    if let Ok(binaries) = std::env::var("LAMBDA_PERF_BENCH_INIT_BINARIES") {
        for entry in binaries.split(',').filter(|e| !e.is_empty()) {
            let Some((name, path)) = entry.split_once('=') else {
                continue;
            };
            let figures = init(path, starts, &collector).await;
            println!("init, {name}: {figures}");
            starts_by_binary.insert(name.to_owned(), figures);
        }
    }
    let report = json!({
        "client_latency": latency,
        "init": starts_by_binary,
        "x_ray_datagrams_received": collector.datagrams().len(),
    });
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    println!("wrote {out}");
}
