//! Whether `PerfLayer`'s cost per invocation rises with the invocations in progress at once in
//! one process (Lambda Managed Instances), and what sharing its writer and socket between
//! threads costs.
//!
//! The warm invocation of `invocation_overhead` (one metric, one annotation, sampled: an EMF
//! line to an opened `/dev/null`, a datagram to a UDP socket on loopback), with the layer set
//! up as on Lambda Managed Instances, the one environment that runs invocations at once in a
//! process (`InitializationType::ManagedInstances`: no timeout watchdog, since Managed
//! Instances do not stop an invocation at its deadline), in N slots, as
//! `lambda_runtime::run_concurrent` runs N: N long-lived tasks, each with its own clone of the
//! service, each calling it again and again. Every handler waits once (a yield to the runtime,
//! where a real one would wait on a downstream call), so the N invocations are all in progress
//! together. N is 1, 8 and 64 on a runtime with 2 worker threads (this machine's cores: two
//! invocations really run at the same instant, on the one EMF writer, its lock and the one UDP
//! socket), and 1 and 64 on a single thread, where nothing is used by two threads at once. And
//! N is 2 and 8 pinned: two threads, each driving a current-thread runtime of its own with half
//! the slots, so that an invocation stays on the thread it began on, where the multi-thread
//! runtime's work stealing moves a task (and the invocation's memory) to the other thread when
//! that one is idle. 2 pinned against 1 on a single thread is what sharing alone costs: the
//! same invocation on each of two threads at once, on the one writer, socket and start
//! counters, none moving. Beside
//! `PerfLayer`, run the same way: the bare handler, and the floor (the bare handler, then one
//! `write(2)` of the EMF line's size and one `send(2)` of the datagram's, on one file and one
//! socket all invocations share).
//!
//! Every setting is measured in rounds, the three handlers next to each other in every round,
//! each first, second and last in turn. Per invocation, each round gives the wall time and
//! the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`: every thread, user and system, read
//! while the workers are idle); "added" is the median over the rounds of a handler minus the
//! bare handler of the same round. The CPU time is the measure of a cost: with 2 threads the
//! wall time is shared between them, and it includes their waits. A round runs every setting
//! once, one after the other, each setting first in turn from one round to the next, and
//! `concurrency.json` keeps what each round added, so that
//! `bench/run` compares two settings round by round, each pair measured within seconds.
//!
//! Contention on what is shared: with 2 threads, a lock held by one makes the other wait,
//! and shared memory (the writer, the socket, the kernel's file and socket structures) moves
//! between the cores; none of that happens on one thread. 2 pinned against 1 on one thread is
//! the price of the sharing alone; 64 at once on 2 threads against 64 on one thread is that
//! and the moves of the tasks between the threads together, for `PerfLayer` and for the
//! floor's own system calls.
//!
//! Measures when run as a benchmark (`cargo bench`), and prints a table; with
//! `LAMBDA_PERF_BENCH_RESULTS=dir` (as `bench/run` sets) also writes `dir/concurrency.json`.
//! `LAMBDA_PERF_BENCH_QUICK=1` measures fewer rounds.

// The table is this bench's report.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::{Layer, Service, service_fn};

#[path = "common/floor.rs"]
mod floor;
#[path = "common/marker_dir.rs"]
mod marker_dir;
#[path = "common/measuring.rs"]
mod measuring;
#[path = "common/scenario.rs"]
mod scenario;

use floor::{Floor, daemon, dev_null, layer, measure_sizes};
use lambda_perf_core::InitializationType;
use lambda_perf_core::layer::PerfLayerBuilder;
use marker_dir::marker_dir;
use measuring::measuring;
use scenario::{bare, event, instrumented};

/// One way to run invocations at once.
struct Setting {
    at_once: usize,
    threads: usize,
    /// Each thread runs a current-thread runtime of its own, with its share of the slots: an
    /// invocation stays on the thread it began on. Otherwise one runtime with `threads` worker
    /// threads, which move tasks between them (work stealing), as `run_concurrent`'s does.
    pinned: bool,
}

const SETTINGS: [Setting; 7] = [
    Setting {
        at_once: 1,
        threads: 2,
        pinned: false,
    },
    Setting {
        at_once: 8,
        threads: 2,
        pinned: false,
    },
    Setting {
        at_once: 64,
        threads: 2,
        pinned: false,
    },
    Setting {
        at_once: 64,
        threads: 1,
        pinned: false,
    },
    Setting {
        at_once: 1,
        threads: 1,
        pinned: false,
    },
    Setting {
        at_once: 2,
        threads: 2,
        pinned: true,
    },
    Setting {
        at_once: 8,
        threads: 2,
        pinned: true,
    },
];

/// What runs in the slots, in the order of a round's `times`.
#[derive(Clone, Copy)]
enum Handler {
    Bare,
    Perf,
    Floor,
}

const HANDLERS: [Handler; 3] = [Handler::Bare, Handler::Perf, Handler::Floor];

/// Invocations per setting, handler and round.
const INVOCATIONS: usize = 64_000;

/// Wall and CPU time per invocation, in nanoseconds.
#[derive(Clone, Copy, Default)]
struct Times {
    wall: f64,
    cpu: f64,
}

/// One round of one setting: each handler's times.
type Round = [Times; HANDLERS.len()];

/// One setting's figures over its rounds, as `concurrency.json` has them.
#[derive(Serialize)]
struct SettingResult {
    at_once: usize,
    threads: usize,
    pinned: bool,
    bare_wall_ns: f64,
    bare_cpu_ns: f64,
    added_wall_ns: f64,
    added_cpu_ns: f64,
    added_cpu_quartiles_ns: [f64; 2],
    floor_cpu_ns: f64,
    floor_cpu_quartiles_ns: [f64; 2],
    /// What `PerfLayer` added in each round, in the order of the rounds: a round runs every
    /// setting once, so that two settings compare round by round, each pair measured within
    /// seconds of each other.
    added_cpu_rounds_ns: Vec<f64>,
    /// The same for the floor's system calls.
    floor_cpu_rounds_ns: Vec<f64>,
}

/// `concurrency.json`.
#[derive(Serialize)]
struct Report {
    rounds: usize,
    invocations_per_round: usize,
    line_bytes: usize,
    datagram_bytes: usize,
    settings: Vec<SettingResult>,
}

fn new_runtime(threads: usize) -> Runtime {
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .build()
    }
    .unwrap()
}

/// The runtimes of a setting: one with its worker threads, or, pinned, one current-thread
/// runtime for each thread.
fn runtimes(setting: &Setting) -> Vec<Runtime> {
    if setting.pinned {
        (0..setting.threads).map(|_| new_runtime(1)).collect()
    } else {
        vec![new_runtime(setting.threads)]
    }
}

/// Invocations at once in one process are Lambda Managed Instances'.
fn managed_instances(builder: PerfLayerBuilder) -> PerfLayerBuilder {
    builder.initialization_type(InitializationType::ManagedInstances)
}

/// The bare handler, after waiting once.
async fn bare_waiting(event: LambdaEvent<Value>) -> Result<u32, Error> {
    tokio::task::yield_now().await;
    bare(event).await
}

/// The instrumented handler, after waiting once.
async fn instrumented_waiting(event: LambdaEvent<Value>) -> Result<u32, Error> {
    tokio::task::yield_now().await;
    instrumented(event).await
}

/// The times per invocation of `invocations` in `slots` slots, shared between `runtimes`: as
/// many tasks, each with its own clone of `service`, each calling it `invocations / slots`
/// times. With several runtimes (a pinned setting), each is driven by a thread of its own,
/// with its share of the slots; the threads are new for each call, so what a thread keeps
/// (ended invocations, buffers) is made again in the first of the thousands it runs.
fn measure<S>(runtimes: &[Runtime], service: &S, slots: usize, invocations: usize) -> Times
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let per_slot = invocations / slots;
    let slots_per_runtime = slots / runtimes.len();
    let (wall, cpu) = (Instant::now(), ProcessTime::now());
    if let [runtime] = runtimes {
        run_slots(runtime, service, slots, per_slot);
    } else {
        std::thread::scope(|scope| {
            for runtime in runtimes {
                let service = service.clone();
                scope.spawn(move || run_slots(runtime, &service, slots_per_runtime, per_slot));
            }
        });
    }
    let (wall, cpu) = (wall.elapsed(), cpu.elapsed());
    let run = per_slot * slots_per_runtime * runtimes.len();
    let per_invocation = |d: Duration| d.as_secs_f64() * 1e9 / run as f64;
    Times {
        wall: per_invocation(wall),
        cpu: per_invocation(cpu),
    }
}

/// `slots` tasks on `runtime`, each with its own clone of `service`, each calling it
/// `per_slot` times.
fn run_slots<S>(runtime: &Runtime, service: &S, slots: usize, per_slot: usize)
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let services: Vec<S> = (0..slots).map(|_| service.clone()).collect();
    runtime.block_on(async move {
        let workers: Vec<_> = services
            .into_iter()
            .map(|mut service| {
                tokio::spawn(async move {
                    for _ in 0..per_slot {
                        black_box(service.call(event(true)).await.unwrap());
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
    });
}

/// The `q` quantile of `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn quartiles(values: &[f64]) -> [f64; 2] {
    [quantile(values, 0.25), quantile(values, 0.75)]
}

fn main() {
    if !measuring() {
        return;
    }
    let quick = std::env::var("LAMBDA_PERF_BENCH_QUICK").is_ok_and(|v| v == "1");
    // A multiple of the handlers, so that each is first, second and last equally often.
    let rounds = if quick { 6 } else { 21 };
    let markers = marker_dir();
    let sizes = measure_sizes(&new_runtime(1), markers.path(), managed_instances);
    let daemon = daemon();
    let plain = service_fn(bare_waiting);
    let perf = layer(&daemon, markers.path(), dev_null(), managed_instances)
        .layer(service_fn(instrumented_waiting));
    // One file and one socket for every invocation, without a shared count of references.
    let shared_floor: &'static Floor = Box::leak(Box::new(Floor::new(&sizes)));
    let with_floor = service_fn(move |event: LambdaEvent<Value>| async move {
        tokio::task::yield_now().await;
        shared_floor.send_and_write();
        bare(event).await
    });
    let run =
        |handler: Handler, runtime: &[Runtime], slots: usize, invocations: usize| match handler {
            Handler::Bare => measure(runtime, &plain, slots, invocations),
            Handler::Perf => measure(runtime, &perf, slots, invocations),
            Handler::Floor => measure(runtime, &with_floor, slots, invocations),
        };
    let runtimes: Vec<Vec<Runtime>> = SETTINGS.iter().map(runtimes).collect();

    // The cold invocation, and a warm-up of every setting.
    for (setting, runtime) in SETTINGS.iter().zip(&runtimes) {
        for handler in HANDLERS {
            run(handler, runtime, setting.at_once, INVOCATIONS / 4);
        }
    }
    let mut measured: Vec<Vec<Round>> = vec![Vec::new(); SETTINGS.len()];
    for round in 0..rounds {
        // Each setting first in turn, so that where a round's drift falls moves from one
        // setting to the next.
        for place in 0..SETTINGS.len() {
            let setting = (round + place) % SETTINGS.len();
            let mut times = Round::default();
            for turn in 0..HANDLERS.len() {
                let index = (round + turn) % HANDLERS.len();
                times[index] = run(
                    HANDLERS[index],
                    &runtimes[setting],
                    SETTINGS[setting].at_once,
                    INVOCATIONS,
                );
            }
            measured[setting].push(times);
        }
    }

    let settings: Vec<SettingResult> = SETTINGS
        .iter()
        .zip(&measured)
        .map(|(setting, setting_rounds)| summarize(setting, setting_rounds))
        .collect();
    print_table(&settings, rounds, sizes.line, sizes.datagram);
    let report = Report {
        rounds,
        invocations_per_round: INVOCATIONS,
        line_bytes: sizes.line,
        datagram_bytes: sizes.datagram,
        settings,
    };
    if let Some(dir) = std::env::var_os("LAMBDA_PERF_BENCH_RESULTS") {
        let path = std::path::Path::new(&dir).join("concurrency.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
        println!("wrote {}", path.display());
    }
}

/// Over `rounds`: what `handler` adds over the bare handler of the same round, as `time` reads
/// it.
fn added(rounds: &[Round], handler: Handler, time: impl Fn(&Times) -> f64) -> Vec<f64> {
    let bare = Handler::Bare as usize;
    rounds
        .iter()
        .map(|round| time(&round[handler as usize]) - time(&round[bare]))
        .collect()
}

/// One setting's figures over its rounds: medians, and the quartiles of what `PerfLayer` and
/// the floor add over the bare handler of the same round.
fn summarize(setting: &Setting, rounds: &[Round]) -> SettingResult {
    let median = |values: &[f64]| quantile(values, 0.5);
    let bare = |time: fn(&Times) -> f64| -> Vec<f64> {
        rounds
            .iter()
            .map(|round| time(&round[Handler::Bare as usize]))
            .collect()
    };
    let perf_cpu = added(rounds, Handler::Perf, |t| t.cpu);
    let floor_cpu = added(rounds, Handler::Floor, |t| t.cpu);
    SettingResult {
        at_once: setting.at_once,
        threads: setting.threads,
        pinned: setting.pinned,
        bare_wall_ns: median(&bare(|t| t.wall)),
        bare_cpu_ns: median(&bare(|t| t.cpu)),
        added_wall_ns: median(&added(rounds, Handler::Perf, |t| t.wall)),
        added_cpu_ns: median(&perf_cpu),
        added_cpu_quartiles_ns: quartiles(&perf_cpu),
        floor_cpu_ns: median(&floor_cpu),
        floor_cpu_quartiles_ns: quartiles(&floor_cpu),
        added_cpu_rounds_ns: perf_cpu,
        floor_cpu_rounds_ns: floor_cpu,
    }
}

fn print_table(settings: &[SettingResult], rounds: usize, line: usize, datagram: usize) {
    println!(
        "\nper invocation, median of {rounds} rounds of {INVOCATIONS} (added: minus the bare \
         handler of the same round; EMF line {line} bytes, datagram {datagram} bytes)"
    );
    println!(
        "  at once    threads   bare wall    bare CPU   PerfLayer: added wall  added CPU   \
         floor: added CPU   ratio"
    );
    for s in settings {
        let threads = format!("{}{}", s.threads, if s.pinned { " pinned" } else { "" });
        println!(
            "  {:7}  {:>9}  {:7.0} ns  {:7.0} ns  {:18.0} ns  {:7.0} ns  {:14.0} ns  {:5.2}x",
            s.at_once,
            threads,
            s.bare_wall_ns,
            s.bare_cpu_ns,
            s.added_wall_ns,
            s.added_cpu_ns,
            s.floor_cpu_ns,
            s.added_cpu_ns / s.floor_cpu_ns,
        );
    }
}
