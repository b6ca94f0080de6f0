//! Whether `PerfLayer`'s cost per invocation rises with the invocations running at once in one
//! process (Lambda Managed Instances), and what sharing its writer and socket between threads
//! costs.
//!
//! The warm invocation of `invocation_overhead` (one metric, one annotation, sampled: an EMF
//! line to an opened `/dev/null`, a datagram to a UDP socket on loopback), run N at once as N
//! tasks spawned by one driving task (as the runtime's loop spawns them) and waited for
//! together, for N in 1, 8 and 64, on a runtime with 2 worker threads (this machine's cores:
//! two invocations really run at the same instant, on the one EMF writer, its lock and the one
//! UDP socket); and 64 at once on a single thread, where nothing is used by two threads at
//! once. Beside `PerfLayer`, the same way: the bare handler, and the floor (the bare handler,
//! then one `write(2)` of the EMF line's size and one `send(2)` of the datagram's, on one file
//! and one socket all invocations share).
//!
//! Every setting is measured in rounds, the three handlers next to each other in every round,
//! each first, second and last in turn. Per invocation, each round gives the wall time and
//! the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`: every thread, user and system);
//! "added" is the median over the rounds of a handler minus the bare handler of the same
//! round. The CPU time is the measure of a cost: with 2 threads the wall time is shared
//! between them, and it includes their waits.
//!
//! Contention on what is shared: with 2 threads, a lock held by one makes the other wait,
//! and shared memory (the writer, the socket, the kernel's file and socket structures) moves
//! between the cores; none of that happens on one thread. "64 at once on 2 threads" against
//! "64 at once on 1 thread" is the price of the sharing, for `PerfLayer` and for the floor's
//! own system calls.
//!
//! Prints a table; with `LAMBDA_PERF_BENCH_RESULTS=dir` (as `bench/run` sets) also writes
//! `dir/concurrency.json`. `LAMBDA_PERF_BENCH_QUICK=1` measures fewer rounds.

// The table is this bench's report.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tower::{Layer, Service, service_fn};

#[path = "common/floor.rs"]
mod floor;
#[path = "common/scenario.rs"]
mod scenario;

use floor::{Floor, daemon, dev_null, layer, measure_sizes};
use scenario::{bare, event, instrumented};

/// One way to run invocations at once.
struct Setting {
    at_once: usize,
    threads: usize,
}

const SETTINGS: [Setting; 4] = [
    Setting {
        at_once: 1,
        threads: 2,
    },
    Setting {
        at_once: 8,
        threads: 2,
    },
    Setting {
        at_once: 64,
        threads: 2,
    },
    Setting {
        at_once: 64,
        threads: 1,
    },
];

/// Invocations per setting, handler and round.
const INVOCATIONS: usize = 12_800;

/// The CPU time of the whole process, every thread: `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`.
#[allow(unsafe_code)] // A plain system call into a local struct; std has no CPU-time clock.
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's duration.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn runtime(threads: usize) -> Runtime {
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .build()
    }
    .unwrap()
}

/// Wall and CPU time per invocation, in nanoseconds, of `invocations` run `count` at once: a
/// task of `runtime` (as the runtime's loop is one) spawns `count` invocations as tasks and
/// waits for them all, then the next `count`. Each of the `count` slots has its own clone of
/// the service, made once, as `lambda_runtime::run_concurrent` clones it once per slot.
fn measure<S>(runtime: &Runtime, service: &S, count: usize, invocations: usize) -> [f64; 2]
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let batches = invocations / count;
    let mut slots: Vec<S> = (0..count).map(|_| service.clone()).collect();
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    runtime.block_on(async move {
        let driver = tokio::spawn(async move {
            for _ in 0..batches {
                let tasks: Vec<_> = slots
                    .drain(..)
                    .map(|mut service| {
                        let event = event(true);
                        tokio::spawn(async move {
                            black_box(service.call(event).await.unwrap());
                            service
                        })
                    })
                    .collect();
                for task in tasks {
                    slots.push(task.await.unwrap());
                }
            }
        });
        driver.await.unwrap();
    });
    let (wall, cpu) = (wall.elapsed(), process_cpu_time() - cpu);
    let per_invocation = |d: Duration| d.as_secs_f64() * 1e9 / (batches * count) as f64;
    [per_invocation(wall), per_invocation(cpu)]
}

/// The `q` quantile of `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The handlers measured in every setting and round: the bare handler, `PerfLayer`, the floor.
const HANDLERS: usize = 3;

/// Per round and handler: wall and CPU time, nanoseconds per invocation.
type Round = [[f64; 2]; HANDLERS];

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let quick = std::env::var("LAMBDA_PERF_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds = if quick { 5 } else { 21 };
    let marker_dir = std::env::temp_dir().join(format!("lambda-perf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&marker_dir).unwrap();
    let sizes = measure_sizes(&runtime(1), &marker_dir);
    let daemon = daemon();
    let plain = service_fn(bare);
    let instrumented = layer(&daemon, &marker_dir, dev_null()).layer(service_fn(instrumented));
    let floor = Arc::new(Floor::new(&sizes));
    let with_floor = service_fn(move |event: LambdaEvent<Value>| {
        let floor = Arc::clone(&floor);
        async move {
            floor.write_and_send();
            bare(event).await
        }
    });
    let run = |handler: usize, runtime: &Runtime, count: usize, invocations: usize| match handler {
        0 => measure(runtime, &plain, count, invocations),
        1 => measure(runtime, &instrumented, count, invocations),
        _ => measure(runtime, &with_floor, count, invocations),
    };
    let runtimes: Vec<Runtime> = SETTINGS.iter().map(|s| runtime(s.threads)).collect();

    // The cold invocation, and a warm-up of every setting.
    for (setting, runtime) in SETTINGS.iter().zip(&runtimes) {
        for handler in 0..HANDLERS {
            run(handler, runtime, setting.at_once, INVOCATIONS / 4);
        }
    }
    let mut measured: Vec<Vec<Round>> = vec![Vec::new(); SETTINGS.len()];
    for round in 0..rounds {
        for ((setting, runtime), measured) in SETTINGS.iter().zip(&runtimes).zip(&mut measured) {
            let mut times = [[0.0; 2]; HANDLERS];
            for turn in 0..HANDLERS {
                let handler = (round + turn) % HANDLERS;
                times[handler] = run(handler, runtime, setting.at_once, INVOCATIONS);
            }
            measured.push(times);
        }
    }
    let _ = std::fs::remove_dir_all(&marker_dir);

    let results: Vec<Value> = SETTINGS
        .iter()
        .zip(&measured)
        .map(|(setting, rounds)| summarize(setting, rounds))
        .collect();
    println!(
        "\nper invocation, median of {rounds} rounds of {INVOCATIONS} (added: minus the bare \
         handler of the same round; EMF line {} bytes, datagram {} bytes)",
        sizes.line, sizes.datagram
    );
    println!(
        "  at once  threads   bare wall    bare CPU   PerfLayer: added wall  added CPU   \
         floor: added CPU   ratio"
    );
    for result in &results {
        let ns = |key: &str| result[key].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {:7}  {:7}  {:7.0} ns  {:7.0} ns  {:18.0} ns  {:7.0} ns  {:14.0} ns  {:5.2}x",
            result["at_once"].as_u64().unwrap_or(0),
            result["threads"].as_u64().unwrap_or(0),
            ns("bare_wall_ns"),
            ns("bare_cpu_ns"),
            ns("added_wall_ns"),
            ns("added_cpu_ns"),
            ns("floor_cpu_ns"),
            ns("added_cpu_ns") / ns("floor_cpu_ns"),
        );
    }
    let report = json!({
        "rounds": rounds,
        "invocations_per_round": INVOCATIONS,
        "line_bytes": sizes.line,
        "datagram_bytes": sizes.datagram,
        "settings": results,
    });
    if let Some(dir) = std::env::var_os("LAMBDA_PERF_BENCH_RESULTS") {
        let path = std::path::Path::new(&dir).join("concurrency.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
        println!("wrote {}", path.display());
    }
}

/// One setting's figures over its rounds: medians, and the quartiles of what `PerfLayer` and
/// the floor add.
fn summarize(setting: &Setting, rounds: &[Round]) -> Value {
    // `kind`: 0 wall, 1 CPU.
    let time = |handler: usize, kind: usize| {
        let values: Vec<f64> = rounds.iter().map(|round| round[handler][kind]).collect();
        quantile(&values, 0.5)
    };
    let added = |handler: usize, kind: usize| -> Vec<f64> {
        rounds
            .iter()
            .map(|round| round[handler][kind] - round[0][kind])
            .collect()
    };
    let (perf, floor) = (added(1, 1), added(2, 1));
    json!({
        "at_once": setting.at_once,
        "threads": setting.threads,
        "bare_wall_ns": time(0, 0),
        "bare_cpu_ns": time(0, 1),
        "added_wall_ns": quantile(&added(1, 0), 0.5),
        "added_cpu_ns": quantile(&perf, 0.5),
        "added_cpu_quartiles_ns": [quantile(&perf, 0.25), quantile(&perf, 0.75)],
        "floor_cpu_ns": quantile(&floor, 0.5),
        "floor_cpu_quartiles_ns": [quantile(&floor, 0.25), quantile(&floor, 0.75)],
    })
}
