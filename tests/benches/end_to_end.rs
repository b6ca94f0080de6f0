//! What the client and the cold start see, under the real `lambda_runtime` loop against the
//! local Runtime API (`bench/run` runs it and puts the figures in `BENCHMARKS.md`):
//!
//! - **client latency**: from the Runtime API handing out a warm invocation (`/next`) to the
//!   response reaching it, for `companion-function` bare, behind `PerfLayer`, and behind
//!   `PerfLayer` with `PerfRuntimeLayer` (sampled, and again unsampled), for a second bare
//!   process (the control: how far apart two identical processes measure), and for a bare
//!   process with a second thread that only waits (the watchdog thread's share); and, to take
//!   the companion's added latency apart, `PerfRuntimeLayer` alone and both layers around a
//!   handler that records nothing; and the floor after the POST (the companion's telemetry
//!   written by hand by a bare process once it posted its response, sampled and unsampled),
//!   against which the companion's rows are also measured; the ten invoked in turns, each as
//!   several processes
//!   (replicas) taking the turns in rotation; twice: with the X-Ray datagrams going to a real
//!   UDP receiver and the EMF lines to the harness's stdout pipe (both parsed by the harness),
//!   and with quiet sinks (`/dev/null`, a UDP socket nobody reads), which show the function's
//!   own cost without a reader's work;
//! - **init**: from spawning a fresh process in a fresh environment to its first response
//!   reaching the Runtime API, for each binary named in `LAMBDA_PERF_BENCH_INIT_BINARIES`
//!   (`name=path,name=path`; `bench/run` passes the minimal function's builds), started in
//!   rounds of one start each, so that one binary's round r can be set against another's.
//!
//! On a machine of two or more CPUs the harness runs on one CPU and every function process on
//! another ([`Placement`]), so that each invocation is handed out, run and answered the same
//! way whichever process it goes to.
//!
//! Settings: `LAMBDA_PERF_BENCH_INVOCATIONS` (warm invocations per subject, default 2000),
//! `LAMBDA_PERF_BENCH_REPLICAS` (processes per subject, default 8), `LAMBDA_PERF_BENCH_STARTS`
//! (starts per binary, default 30), `LAMBDA_PERF_BENCH_OUT` (the JSON written, default
//! `end_to_end.json` in the working directory).

#![allow(clippy::print_stdout)]

use std::time::Duration;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, InvokeRequest,
    RuntimeApi, XRayCollector,
};
use serde_json::{Value, json};

/// The processes measured, each a label, the way `companion-function` runs in it, and whether
/// its invocations are sampled (their trace header says `Sampled=1`): without lambda-perf
/// (first: the others are compared with it), the same again (the control: what separates two
/// identical processes, the method's resolution), without lambda-perf but with a second thread
/// that only waits (what the watchdog's thread alone costs: glibc's multi-thread paths), behind
/// `PerfLayer`, and behind `PerfLayer` with `PerfRuntimeLayer`, sampled and unsampled (X-Ray's
/// default rule samples one request a second and 5% of the rest: most invocations are not).
/// A bare process ignores the header, which is as long either way.
///
/// The last two take the unsampled companion's added latency apart, each against the bare
/// handler with a second thread (the thread's share set aside, [`DECOMPOSED`]):
/// `PerfRuntimeLayer` alone around the bare handler (its window, nothing recorded), and both
/// layers around a handler that records nothing (an invocation's beginning and end alone).
///
/// The floor after the POST is the companion's telemetry without lambda-perf: the bare
/// handler, in a process with a second thread, writing by hand after its POST the EMF line
/// and (sampled) the datagram the companion writes then, of the same shape and size. What a
/// reader of them does, on the harness's CPU, it does for both; the companion against it
/// ([`FLOORS`]) is what lambda-perf adds beyond the telemetry existing at all.
const SUBJECTS: [Mode; 10] = [
    Mode::new("bare", "bare", true),
    Mode::new("bare_again", "bare", true),
    Mode::new("bare_threaded", "bare_threaded", true),
    Mode::new("layer", "layer", true),
    Mode::new("companion", "companion", true),
    Mode::new("companion_unsampled", "companion", false),
    Mode::new("runtime_layer_threaded", "runtime_layer_threaded", false),
    Mode::new("companion_no_calls", "companion_no_calls", false),
    Mode::new("floor_after_post", "floor_after_post", true),
    Mode::new("floor_after_post_unsampled", "floor_after_post", false),
];

/// The companion's rows, each with the floor after the POST it is measured against
/// (`added_vs_floor`, `added_vs_floor_over_replicas`): sampled against the line and the
/// datagram, unsampled against the line alone.
const FLOORS: [(&str, &str); 2] = [
    ("companion", "floor_after_post"),
    ("companion_unsampled", "floor_after_post_unsampled"),
];

/// The subject the decomposition is measured against, and the subjects measured against it
/// (`added_vs_bare_threaded_over_replicas`).
const THREADED: &str = "bare_threaded";
const DECOMPOSED: [&str; 3] = [
    "runtime_layer_threaded",
    "companion_no_calls",
    "companion_unsampled",
];
const _: () = {
    assert!(is_subject(THREADED), "THREADED names no subject");
    let mut floor = 0;
    while floor < FLOORS.len() {
        assert!(is_subject(FLOORS[floor].0), "FLOORS names no subject");
        assert!(is_subject(FLOORS[floor].1), "FLOORS names no subject");
        floor += 1;
    }
    let mut index = 0;
    while index < DECOMPOSED.len() {
        assert!(is_subject(DECOMPOSED[index]), "DECOMPOSED names no subject");
        index += 1;
    }
};

/// Where the subject labelled `label` is in [`SUBJECTS`] (every label the bench names is a
/// subject's: checked as it is built).
fn index_of_subject(label: &str) -> usize {
    SUBJECTS
        .iter()
        .position(|mode| mode.label == label)
        .unwrap()
}

/// Whether `label` is one of the [`SUBJECTS`]' labels: checked as the bench is built, so that
/// a misspelt one fails the build rather than leaving its figures out of the JSON.
const fn is_subject(label: &str) -> bool {
    let mut index = 0;
    while index < SUBJECTS.len() {
        if same(SUBJECTS[index].label.as_bytes(), label.as_bytes()) {
            return true;
        }
        index += 1;
    }
    false
}

/// `a == b`, in a const fn.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// One of the [`SUBJECTS`].
#[derive(Clone, Copy)]
struct Mode {
    label: &'static str,
    /// `COMPANION_MODE`.
    mode: &'static str,
    sampled: bool,
}

impl Mode {
    const fn new(label: &'static str, mode: &'static str, sampled: bool) -> Self {
        Self {
            label,
            mode,
            sampled,
        }
    }
}

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

/// Where a function's telemetry goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sinks {
    /// EMF lines to the harness's stdout pipe, datagrams to the harness's X-Ray collector:
    /// both read and parsed by the harness, on the same cores.
    Harness,
    /// EMF lines to `/dev/null`, datagrams to a UDP socket nobody reads: what the function
    /// itself spends, without a reader's work.
    Quiet,
}

/// Where the harness and the function processes run. Left to the scheduler, the four
/// processes of one run (`bench/run` of 2105ce8, harness sinks) fell into two groups whose
/// medians were 30 µs apart (bare 80–86 µs, the instrumented ones 50–55 µs): where each
/// process woke, not what ran in it. Pinned, every
/// invocation crosses the same two CPUs: the harness (its runtime's threads, the Runtime API,
/// the readers of the telemetry) on one, the function processes on the other.
#[derive(Clone, Copy)]
enum Placement {
    /// The harness on the first CPU, the functions on the second.
    Pinned { harness: usize, functions: usize },
    /// Fewer than two CPUs are allowed to this process: nothing is pinned.
    Unpinned,
}

impl Placement {
    /// The first two CPUs this process may run on, if it may run on two.
    #[allow(unsafe_code)]
    fn choose() -> Self {
        // SAFETY: `cpu_set_t` is plain data, all-zero is the empty set, and
        // `sched_getaffinity` writes at most `size_of::<cpu_set_t>()` bytes into it.
        let allowed = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Self::Unpinned;
            }
            set
        };
        // SAFETY: `CPU_ISSET` reads a bit of the set, below its size (`CPU_SETSIZE`).
        let mut cpus = (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed) });
        match (cpus.next(), cpus.next()) {
            (Some(harness), Some(functions)) => Self::Pinned { harness, functions },
            _ => Self::Unpinned,
        }
    }

    /// Moves the calling thread onto the harness's CPU: called by every thread of the
    /// harness's runtime as it starts, and by the main thread.
    fn enter_harness(self) {
        if let Self::Pinned { harness, .. } = self {
            pin_current_thread(harness);
        }
    }

    /// Runs `spawn` from the functions' CPU, so that the process it starts (which inherits
    /// the spawning thread's CPUs, for all its threads) runs there; then moves back.
    fn spawn_function<T>(self, spawn: impl FnOnce() -> T) -> T {
        let Self::Pinned { harness, functions } = self else {
            return spawn();
        };
        pin_current_thread(functions);
        let spawned = spawn();
        pin_current_thread(harness);
        spawned
    }

    fn describe(self) -> Value {
        match self {
            Self::Pinned { harness, functions } => {
                json!({ "harness_cpu": harness, "function_cpu": functions })
            }
            Self::Unpinned => json!("unpinned"),
        }
    }
}

#[allow(unsafe_code)]
fn pin_current_thread(cpu: usize) {
    // SAFETY: as in `Placement::choose`; `CPU_SET` sets a bit below `CPU_SETSIZE` (`cpu` came
    // from the allowed set), and `sched_setaffinity` reads the set it is given.
    let pinned = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(
        pinned,
        0,
        "pinning a thread to CPU {cpu}: {}",
        std::io::Error::last_os_error()
    );
}

/// A function process of `companion-function`, with a Runtime API of its own.
struct Subject {
    label: &'static str,
    sampled: bool,
    api: RuntimeApi,
    process: FunctionProcess,
    _environment: ExecutionEnvironment,
    _unread: Option<std::net::UdpSocket>,
    samples: Vec<Duration>,
}

impl Subject {
    async fn start(
        Mode {
            label,
            mode,
            sampled,
        }: Mode,
        sinks: Sinks,
        collector: &XRayCollector,
        placement: Placement,
    ) -> Self {
        let api = RuntimeApi::start().await.unwrap();
        let environment = ExecutionEnvironment::new().unwrap();
        let command = FunctionCommand::new(env!("CARGO_BIN_EXE_companion-function"));
        let config = config(collector).with_env("COMPANION_MODE", mode);
        let (process, unread) = match sinks {
            Sinks::Harness => (
                placement
                    .spawn_function(|| {
                        FunctionProcess::spawn(&command, &config, &environment, &api)
                    })
                    .unwrap(),
                None,
            ),
            Sinks::Quiet => {
                let unread = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let config =
                    config.with_xray_daemon_address(unread.local_addr().unwrap().to_string());
                let null = std::fs::File::options()
                    .write(true)
                    .open("/dev/null")
                    .unwrap();
                let process = placement
                    .spawn_function(|| {
                        FunctionProcess::spawn_with_stdout(
                            &command,
                            &config,
                            &environment,
                            &api,
                            null.into(),
                        )
                    })
                    .unwrap();
                (process, Some(unread))
            }
        };
        Self {
            label,
            sampled,
            api,
            process,
            _environment: environment,
            _unread: unread,
            samples: Vec::new(),
        }
    }

    /// One invocation; its latency, from `/next` handing it out to the response.
    async fn invoke(&self, index: usize) -> Duration {
        let request = InvokeRequest::json(json!({ "index": index }));
        let request = if self.sampled {
            request
        } else {
            request.unsampled()
        };
        let reply = self.process.invoke(&self.api, request).await.unwrap();
        assert!(
            reply.response_body().is_some(),
            "{}: {:?}",
            self.label,
            reply.answer
        );
        reply.duration().unwrap()
    }
}

/// What `with` adds over `without`, invocation by invocation (the n-th of each was taken at
/// the same place of the same round): the median of the differences, with its interval.
fn added_per_invocation(with: &[Duration], without: &[Duration]) -> Value {
    let micros = |d: &Duration| d.as_secs_f64() * 1e6;
    median_with_interval(
        with.iter()
            .zip(without)
            .map(|(with, without)| micros(with) - micros(without))
            .collect(),
    )
}

/// The median of `values`, with a 95% confidence interval for it (distribution-free: the
/// order statistics around the middle), in microseconds.
fn median_with_interval(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let half_width = (1.96 * (n as f64).sqrt() / 2.0).ceil() as usize;
    let middle = n / 2;
    json!({
        "median_us": values[middle],
        "low_us": values[middle.saturating_sub(half_width)],
        "high_us": values[(middle + half_width).min(n - 1)],
    })
}

/// Two-sided 95% quantiles of Student's t distribution, for 1 to 30 degrees of freedom.
const T_95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The mean of `values` (one per replica), with a 95% confidence interval for it by Student's
/// t, in microseconds; the values themselves too. Each replica's samples share what sets
/// that process apart (where its code and memory land), so its samples are not independent
/// of one another: the replicas are the independent units, and this interval counts them,
/// not the samples. `None` for fewer than two.
fn mean_with_interval_over_replicas(values: Vec<f64>) -> Option<Value> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T_95[(n - 2).min(T_95.len() - 1)];
    let half_width = t * (variance / n as f64).sqrt();
    Some(json!({
        "mean_us": mean,
        "low_us": mean - half_width,
        "high_us": mean + half_width,
        "replicas_us": values,
    }))
}

/// What a subject adds to another, per process: its replica r's median less the other's
/// replica r (the two took the same blocks of rounds), one difference per replica, with
/// [`mean_with_interval_over_replicas`].
fn added_over_replicas(with: &[f64], without: &[f64]) -> Option<Value> {
    let by_replica = with
        .iter()
        .zip(without)
        .map(|(with, without)| with - without)
        .collect();
    mean_with_interval_over_replicas(by_replica)
}

/// The order of the subjects' turns, round after round: each subject comes at each place, and
/// after each other subject, equally often ([`williams`]), so that what one process leaves
/// behind (the companion's writes after its last response) falls on all of them alike, the
/// control included. Balanced over every `SUBJECTS.len()` rounds: the rounds are rounded up to
/// a whole number of them.
const ORDERS: [[usize; SUBJECTS.len()]; SUBJECTS.len()] = williams();

/// A Williams design for an even count `N` of subjects: the first row 0, 1, N-1, 2, N-2, ...,
/// each next row the one before shifted by one. Every subject comes at every place once, and
/// right after every other subject once.
const fn williams<const N: usize>() -> [[usize; N]; N] {
    assert!(
        N.is_multiple_of(2),
        "a Williams design of one square needs an even count"
    );
    let mut orders = [[0; N]; N];
    let mut round = 0;
    while round < N {
        let mut place = 0;
        while place < N {
            let first = if place == 0 {
                0
            } else if place % 2 == 1 {
                place.div_ceil(2)
            } else {
                N - place / 2
            };
            orders[round][place] = (first + round) % N;
            place += 1;
        }
        round += 1;
    }
    orders
}
const _: () = assert!(is_balanced(&ORDERS));
// Not a turn order, though each place has every subject once and each ordered pair is
// adjacent once: every round gives one subject four turns and three subjects none.
const _: () = assert!(!is_balanced(&[
    [0, 1, 0, 2, 0, 3, 0, 4],
    [1, 2, 1, 3, 1, 4, 1, 5],
    [2, 3, 2, 4, 2, 5, 2, 6],
    [3, 4, 3, 5, 3, 6, 3, 7],
    [4, 5, 4, 6, 4, 7, 4, 0],
    [5, 6, 5, 7, 5, 0, 5, 1],
    [6, 7, 6, 0, 6, 1, 6, 2],
    [7, 0, 7, 1, 7, 2, 7, 3],
]));

/// Whether every round of `orders` gives every subject one turn, every subject comes at every
/// place once, and right after every other subject once: checked as the bench is built.
const fn is_balanced<const N: usize>(orders: &[[usize; N]; N]) -> bool {
    let mut at_place = [[false; N]; N];
    let mut after = [[false; N]; N];
    let mut round = 0;
    while round < N {
        let mut in_round = [false; N];
        let mut place = 0;
        while place < N {
            let subject = orders[round][place];
            if subject >= N || at_place[subject][place] || in_round[subject] {
                return false;
            }
            at_place[subject][place] = true;
            in_round[subject] = true;
            if place > 0 {
                let before = orders[round][place - 1];
                if before == subject || after[before][subject] {
                    return false;
                }
                after[before][subject] = true;
            }
            place += 1;
        }
        round += 1;
    }
    true
}

/// Client latency of the subjects, measured in turns: every round invokes each subject a few
/// times, the first of them not counted, in an order that changes from round to round
/// ([`ORDERS`]), so that whatever the machine does meanwhile falls on all of them alike.
///
/// Each subject is `replicas` processes of the same build, and each block of rounds (one
/// whole [`ORDERS`]) goes to the next of them, the same for every subject: what separates
/// one process from another (where its memory and code land, measured at up to 5 µs between
/// two bare ones) then averages over the replicas instead of weighing on the whole subject.
///
/// A pause comes before every invocation, so that each is handed out the same way: to a
/// process waiting in `/next`, its work for the one before done. Back to back, the latency
/// (timed from the hand-out) favoured the companion: its `/next` comes after its writes, from a
/// process still running, which then takes the event at once, where the others' event wakes
/// a process gone idle (measured: −3.7 and −3.9 µs against the bare process, with quiet sinks).
///
/// Besides each subject's figures (and each replica's median), what it adds to the bare
/// handler two ways: the differences from the bare handler's invocation at the same place of
/// the same round, with a confidence interval for their median that takes every sample as
/// independent (too narrow: a replica's samples share its process's luck); and each replica's
/// median less the bare handler's same replica, with a confidence interval for their mean
/// over the replicas, the independent units (the one the verdict uses).
async fn client_latency(
    invocations: usize,
    replicas: usize,
    sinks: Sinks,
    collector: &XRayCollector,
    placement: Placement,
) -> Value {
    /// Invocations of one process in a row; the first is not counted.
    const TURN: usize = 11;
    // `subjects[mode][replica]`.
    let mut subjects: Vec<Vec<Subject>> = Vec::new();
    for mode in SUBJECTS {
        let mut processes = Vec::with_capacity(replicas);
        for _ in 0..replicas {
            processes.push(Subject::start(mode, sinks, collector, placement).await);
        }
        subjects.push(processes);
    }
    // The first (cold) and 50 warm-up invocations of each process.
    for subject in subjects.iter().flatten() {
        for index in 0..51 {
            subject.invoke(index).await;
        }
    }
    let block = ORDERS.len();
    let rounds = invocations
        .div_ceil(TURN - 1)
        .next_multiple_of(block * replicas);
    // Each subject's samples in the order they were taken, whichever replica took them: the
    // n-th of one subject and of another come from the same place of the same round.
    let mut taken: Vec<Vec<Duration>> = vec![Vec::new(); SUBJECTS.len()];
    for round in 0..rounds {
        let replica = (round / block) % replicas;
        for &mode in &ORDERS[round % block] {
            let subject = &mut subjects[mode][replica];
            for index in 0..TURN {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let latency = subject.invoke(round * TURN + index).await;
                if index > 0 {
                    subject.samples.push(latency);
                    taken[mode].push(latency);
                }
            }
        }
    }
    let mut figures = serde_json::Map::new();
    // Each subject's replica medians, `medians[mode][replica]`: replica r of every subject took
    // the same blocks of rounds.
    let medians: Vec<Vec<f64>> = subjects
        .iter()
        .map(|processes| {
            processes
                .iter()
                .map(|process| {
                    summary(process.samples.clone())["median_us"]
                        .as_f64()
                        .unwrap()
                })
                .collect()
        })
        .collect();
    for ((mode, samples), mode_medians) in SUBJECTS.iter().zip(&taken).zip(&medians) {
        let mut figures_of_mode = summary(samples.clone());
        figures_of_mode["replica_medians_us"] = json!(mode_medians);
        if mode.label != "bare" {
            figures_of_mode["added_vs_bare"] = added_per_invocation(samples, &taken[0]);
            if let Some(over) = added_over_replicas(mode_medians, &medians[0]) {
                figures_of_mode["added_vs_bare_over_replicas"] = over;
            }
        }
        figures.insert(mode.label.to_owned(), figures_of_mode);
    }
    // Each companion row against its floor after the POST, invocation by invocation and
    // process by process.
    for (label, floor) in FLOORS {
        let (with, without) = (index_of_subject(label), index_of_subject(floor));
        figures[label]["added_vs_floor"] = added_per_invocation(&taken[with], &taken[without]);
        if let Some(over) = added_over_replicas(&medians[with], &medians[without]) {
            figures[label]["added_vs_floor_over_replicas"] = over;
        }
    }
    // The decomposition, against the bare handler with a second thread as the rows are
    // against the bare one (every label it names is a subject's: checked as the bench is
    // built).
    let threaded = index_of_subject(THREADED);
    for label in DECOMPOSED {
        if let Some(over) =
            added_over_replicas(&medians[index_of_subject(label)], &medians[threaded])
        {
            figures[label]["added_vs_bare_threaded_over_replicas"] = over;
        }
    }
    for subject in subjects.into_iter().flatten() {
        subject.process.kill().await.unwrap();
    }
    figures.insert("replicas".to_owned(), json!(replicas));
    Value::Object(figures)
}

/// From spawn to the first response reaching the Runtime API, for one fresh process of
/// `path` in a fresh environment.
async fn one_start(path: &str, collector: &XRayCollector, placement: Placement) -> Duration {
    let command = FunctionCommand::new(path);
    let api = RuntimeApi::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let process = placement
        .spawn_function(|| FunctionProcess::spawn(&command, &config(collector), &environment, &api))
        .unwrap();
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
    let taken = answered.duration_since(process.spawned_at());
    process.kill().await.unwrap();
    taken
}

/// `starts` starts of each of `binaries` (name, path), in rounds of one start of each, each
/// binary first in turn from one round to the next, so that the machine's drift over the
/// minutes they take falls on each alike and round r of one can be set against round r of
/// another. Per binary, its summary and every start's time in round order (`rounds_us`).
async fn init(
    binaries: &[(String, String)],
    starts: usize,
    collector: &XRayCollector,
    placement: Placement,
) -> serde_json::Map<String, Value> {
    let mut taken = vec![Vec::with_capacity(starts); binaries.len()];
    for round in 0..starts {
        for turn in 0..binaries.len() {
            let index = (round + turn) % binaries.len();
            let taken_now = one_start(&binaries[index].1, collector, placement).await;
            taken[index].push(taken_now);
        }
    }
    let mut figures = serde_json::Map::new();
    for ((name, _), samples) in binaries.iter().zip(taken) {
        let rounds: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        let mut summarized = summary(samples);
        summarized["rounds_us"] = json!(rounds);
        figures.insert(name.clone(), summarized);
    }
    figures
}

fn main() {
    let placement = Placement::choose();
    placement.enter_harness();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || placement.enter_harness())
        .build()
        .unwrap()
        .block_on(measure(placement));
}

async fn measure(placement: Placement) {
    // `cargo bench` passes `--bench`; a filter, if any, is ignored.
    let invocations = setting("LAMBDA_PERF_BENCH_INVOCATIONS", 2000).max(1);
    let replicas = setting("LAMBDA_PERF_BENCH_REPLICAS", 8).max(1);
    let starts = setting("LAMBDA_PERF_BENCH_STARTS", 30).max(1);
    let out = std::env::var("LAMBDA_PERF_BENCH_OUT").unwrap_or_else(|_| "end_to_end.json".into());
    let collector = XRayCollector::start().await.unwrap();

    let latency =
        client_latency(invocations, replicas, Sinks::Harness, &collector, placement).await;
    println!("client latency: {latency}");
    let quiet = client_latency(invocations, replicas, Sinks::Quiet, &collector, placement).await;
    println!("client latency, quiet sinks: {quiet}");
    let binaries: Vec<(String, String)> = std::env::var("LAMBDA_PERF_BENCH_INIT_BINARIES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(name, path)| (name.to_owned(), path.to_owned()))
        .collect();
    let starts_by_binary = init(&binaries, starts, &collector, placement).await;
    for (name, figures) in &starts_by_binary {
        println!("init, {name}: {figures}");
    }
    let report = json!({
        "client_latency": latency,
        "client_latency_quiet_sinks": quiet,
        "init": starts_by_binary,
        "placement": placement.describe(),
        "x_ray_datagrams_received": collector.datagrams().len(),
    });
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
    println!("wrote {out}");
}
