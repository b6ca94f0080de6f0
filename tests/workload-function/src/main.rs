//! A function behind `PerfLayer` with a known mix of CPU and I/O, for the sizing and tuning
//! tests. The event says what one invocation does, in this order:
//!
//! - `"spin": n`: n units of CPU-bound work (a fixed number of integer operations each, on
//!   one thread), so the same event costs the same CPU time at every memory size;
//! - `"cpu_ms": n`: CPU-bound work until this thread has used n ms of CPU time, so the same
//!   event costs the same CPU time on every machine, however fast;
//! - `"sleep_ms": n`: waits n milliseconds without using the CPU, as a call to a downstream
//!   service would;
//! - `"allocate_mb": n`: allocates n MB and writes to every page, so it is really used;
//! - `"fail_at_mb": n`: at the memory size n MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`), every
//!   second invocation of the process (the 2nd, the 4th…) returns an error of two lines
//!   instead;
//! - `"stall_ms": n` with `"stall_at_mb": m`: at the memory size m MB, the process's second
//!   invocation (its first warm one) first waits n ms more, a single noisy run;
//! - `"fail_once": "timeout"`, `"exit"` or `"oom"`: the first invocation of the execution
//!   environment that gets it (the first to create `fail-once` in the temp dir, which
//!   outlives the process) hangs for an hour, ends the process with exit status 7, or
//!   allocates 64 MB more than its memory size, instead; the invocations after it, in the
//!   process Lambda starts again, do the rest.
//!
//! At init it prints `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=<value>` on stdout. It records the
//! metric `WorkUnits` (the `spin` units), so every invocation writes an EMF
//! line with lambda-perf's facts, and responds
//! `{"spun": n, "slept_ms": n, "allocated_mb": n, "checksum": c}`.

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cpu_time::ThreadTime;
use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tower::ServiceBuilder;

/// Integer operations per unit of `spin`.
const OPERATIONS_PER_UNIT: u64 = 200_000;

/// Integer operations between two looks at the clock in [`spin_cpu`]: well under 1 ms.
const OPERATIONS_PER_CHECK: u64 = 10_000;

/// `operations` steps of a xorshift sequence nothing can skip, from `state`.
fn xorshift(mut state: u64, operations: u64) -> u64 {
    for _ in 0..operations {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    black_box(state)
}

/// `units` of CPU-bound work.
fn spin(units: u64) -> u64 {
    xorshift(
        black_box(0x9e37_79b9_7f4a_7c15),
        units * OPERATIONS_PER_UNIT,
    )
}

/// CPU-bound work until this thread has used `ms` milliseconds of CPU time. Time the thread
/// waits for the CPU (a quota, other processes) does not count.
fn spin_cpu(ms: u64) -> u64 {
    let (start, budget) = (ThreadTime::now(), Duration::from_millis(ms));
    let mut state = black_box(0x9e37_79b9_7f4a_7c15);
    while start.elapsed() < budget {
        state = xorshift(state, OPERATIONS_PER_CHECK);
    }
    state
}

/// Allocates `mb` MB and writes one byte per page.
fn allocate(mb: u64) -> Vec<u8> {
    let len = usize::try_from(mb << 20).unwrap_or(usize::MAX);
    let mut memory = vec![0_u8; len];
    for page in memory.iter_mut().step_by(4096) {
        *page = 1;
    }
    black_box(memory)
}

/// Fails as `failure` says (`timeout`: hangs for an hour; `exit`: exits with 7; `oom`:
/// allocates 64 MB more than the memory size) if this is the first invocation of the
/// environment to ask for it.
async fn fail_once(failure: &str) {
    let flag = std::env::temp_dir().join("fail-once");
    if std::fs::File::create_new(flag).is_err() {
        return;
    }
    match failure {
        "timeout" => tokio::time::sleep(Duration::from_secs(3600)).await,
        "exit" => std::process::exit(7),
        "oom" => {
            let size = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
            drop(allocate(size.parse::<u64>().unwrap_or(128) + 64));
        }
        _ => {}
    }
}

/// The invocations this process has had.
static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let field = |name: &str| event.payload[name].as_u64().unwrap_or(0);
    let invocation = INVOCATIONS.fetch_add(1, Ordering::Relaxed) + 1;
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    let fail_at = event.payload["fail_at_mb"].as_u64();
    if fail_at.is_some_and(|mb| memory == mb.to_string()) && invocation.is_multiple_of(2) {
        return Err(
            format!("invocation {invocation} fails at {memory} MB\nat its second line").into(),
        );
    }
    if let Some(failure) = event.payload["fail_once"].as_str() {
        fail_once(failure).await;
    }
    let stall_at = event.payload["stall_at_mb"].as_u64();
    if stall_at.is_some_and(|mb| memory == mb.to_string()) && invocation == 2 {
        tokio::time::sleep(Duration::from_millis(field("stall_ms"))).await;
    }
    let (units, sleep_ms, allocate_mb) = (field("spin"), field("sleep_ms"), field("allocate_mb"));
    metrics::add_metric("WorkUnits", Unit::Count, units as f64);
    let checksum = spin(units) ^ spin_cpu(field("cpu_ms"));
    if sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
    let memory = allocate(allocate_mb);
    Ok(json!({
        "spun": units,
        "slept_ms": sleep_ms,
        "allocated_mb": memory.len() >> 20,
        "checksum": checksum,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    writeln!(
        std::io::stdout().lock(),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE={memory}"
    )?;
    let service = ServiceBuilder::new()
        .layer(PerfLayer::from_env())
        .service_fn(handler);
    lambda_runtime::run(service).await
}
