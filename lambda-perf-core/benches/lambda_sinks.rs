//! What `PerfLayer` adds to a warm invocation when its output is read, against the floor of
//! the same system calls to the same places.
//!
//! `invocation_overhead` writes to the cheapest places there are: `/dev/null`, whose `write(2)`
//! copies nothing, and a UDP socket nobody reads (no reader to wake; once its buffer is full,
//! each datagram is dropped at the receiving socket). On Lambda a function's stdout is a pipe
//! that Lambda reads, and the X-Ray daemon receives every datagram: a `write(2)` or `send(2)`
//! hands its bytes to a reader, and wakes it when it waits. (Powertools' figures in
//! `BENCHMARKS.md` are measured with a UDP receiver too.) Here EMF lines go to a pipe that
//! `cat`, a process of its own, drains, and datagrams to a UDP socket a thread of this process
//! receives from, counting them. The invocations are paced: one at a time, each after a pause
//! (spent spinning, so that this thread keeps its processor) in which both readers can read
//! everything and go back to waiting, so that a `write(2)` or `send(2)` finds its reader
//! waiting. Whether it did is counted, not assumed: the readers' voluntary context switches
//! (`/proc/…/status`), one per wake-up, are read around every case's block.
//!
//! Each invocation is timed on its own (two clock reads, the same for every case). Cases,
//! measured in interleaved rounds so that a change of the machine's load falls on all alike:
//! the bare handler; `PerfLayer` unsampled and sampled (one metric, one annotation); the
//! floor's `write(2)` of a line as long as the EMF line, and that `write(2)` after the
//! `send(2)` of a datagram as long as the subsegment (the layer's order), in a loop of their
//! own (less the clock reads, measured as a case of their own) and made by the bare handler
//! itself before it answers (less the bare handler); and the same `write(2)` to `/dev/null`,
//! for comparison. Each case's figure is the median of its invocations; "added" is a case's
//! median less the bare handler's. What lambda-perf does beyond the floor's system calls is
//! also given per round (a round's added time less its floor in place), for its spread.
//!
//! Measures when run as a benchmark (`cargo bench`) and prints a summary; with
//! `LAMBDA_PERF_BENCH_RESULTS=dir` (as `bench/run` sets) it also writes
//! `dir/lambda_sinks.json`. `LAMBDA_PERF_BENCH_QUICK=1` measures fewer invocations.

// The summary is this bench's report.
#![allow(clippy::print_stdout)]

use std::fs::File;
use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tower::{Layer, service_fn};

#[path = "common/floor.rs"]
mod floor;
#[path = "common/marker_dir.rs"]
mod marker_dir;
#[path = "common/measuring.rs"]
mod measuring;
#[path = "common/receiving_daemon.rs"]
mod receiving_daemon;
#[path = "common/scenario.rs"]
mod scenario;

use floor::{
    FLOOR, Floor, as_is, bare_sending_writing, bare_writing, invoke, layer_to, measure_sizes,
};
use marker_dir::marker_dir;
use measuring::measuring;
use receiving_daemon::ReceivingDaemon;
use scenario::{bare, instrumented};

/// The pause before each invocation: the readers need some microseconds to wake, read and
/// wait again; this leaves them ten times that.
const PAUSE: Duration = Duration::from_micros(50);

fn main() {
    if !measuring() {
        return;
    }
    let quick = std::env::var("LAMBDA_PERF_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (rounds, iterations) = if quick { (3, 1_000) } else { (7, 4_000) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let markers = marker_dir();
    let sizes = measure_sizes(&runtime, markers.path(), as_is);

    let (pipe, mut reader) = drained_pipe();
    let reader_status = PathBuf::from(format!("/proc/{}/status", reader.id()));
    let daemon = ReceivingDaemon::start();
    let floor = FLOOR.get_or_init(|| Floor::to(&sizes, pipe.try_clone().unwrap(), daemon.address));
    let dev_null_floor = Floor::new(&sizes);
    let perf = layer_to(daemon.address, markers.path(), pipe, as_is);
    let mut plain = service_fn(bare);
    let mut writing = service_fn(bare_writing);
    let mut sending_writing = service_fn(bare_sending_writing);
    let mut unsampled = perf.layer(service_fn(instrumented));
    invoke(&runtime, &mut unsampled, false); // the cold one
    let mut sampled = perf.layer(service_fn(instrumented));

    let mut cases = [
        Case::new(Kind::ClockReads),
        Case::new(Kind::Bare),
        Case::new(Kind::Unsampled),
        Case::new(Kind::Sampled),
        Case::new(Kind::Write),
        Case::new(Kind::SendWrite),
        Case::new(Kind::WriteInPlace),
        Case::new(Kind::SendWriteInPlace),
        Case::new(Kind::WriteDevNull),
    ];
    let received_before = daemon.received();
    for _ in 0..rounds {
        for case in &mut cases {
            let kind = case.kind;
            let mut one = || match kind {
                Kind::ClockReads => 0,
                Kind::Bare => invoke(&runtime, &mut plain, true),
                Kind::Unsampled => invoke(&runtime, &mut unsampled, false),
                Kind::Sampled => invoke(&runtime, &mut sampled, true),
                Kind::Write => {
                    floor.write();
                    0
                }
                Kind::SendWrite => {
                    floor.send_and_write();
                    0
                }
                Kind::WriteInPlace => invoke(&runtime, &mut writing, false),
                Kind::SendWriteInPlace => invoke(&runtime, &mut sending_writing, true),
                Kind::WriteDevNull => {
                    dev_null_floor.write();
                    0
                }
            };
            let (pipe_wakes, daemon_wakes) =
                (wake_ups(&reader_status), wake_ups(&daemon.thread_status));
            let mut round = Vec::with_capacity(iterations);
            paced(iterations, &mut one, &mut round);
            case.pipe_wakes += wake_ups(&reader_status) - pipe_wakes;
            case.daemon_wakes += wake_ups(&daemon.thread_status) - daemon_wakes;
            case.rounds.push(round);
        }
    }
    let received = daemon.settled() - received_before;
    let sent: u64 = cases
        .iter()
        .filter(|case| case.kind.sends())
        .map(|case| case.invocations())
        .sum();
    let _ = reader.kill();
    let _ = reader.wait();

    let [
        clocks,
        bare,
        unsampled,
        sampled,
        write,
        send_write,
        write_in_place,
        send_write_in_place,
        write_dev_null,
    ] = cases.each_ref().map(Case::median_ns);
    let report = Report {
        unsampled_added: unsampled - bare,
        sampled_added: sampled - bare,
        write: write - clocks,
        send_write: send_write - clocks,
        write_in_place: write_in_place - bare,
        send_write_in_place: send_write_in_place - bare,
    };
    // What lambda-perf does beyond the floor's system calls, per round: the round's
    // instrumented median less its floor in place (both measured against the same bare
    // handler, which cancels).
    let own_work = |instrumented: Kind, in_place: Kind| -> Vec<f64> {
        let of = |kind: Kind| {
            cases
                .iter()
                .find(|case| case.kind == kind)
                .expect("every kind is measured")
        };
        let (instrumented, in_place) = (of(instrumented), of(in_place));
        (0..rounds)
            .map(|round| {
                round_median_ns(&instrumented.rounds[round])
                    - round_median_ns(&in_place.rounds[round])
            })
            .collect()
    };
    let own_unsampled = own_work(Kind::Unsampled, Kind::WriteInPlace);
    let own_sampled = own_work(Kind::Sampled, Kind::SendWriteInPlace);
    println!(
        "\nwith the output read (a pipe `cat` drains, a UDP socket a thread receives from; \
         medians of {rounds} interleaved rounds of {iterations}, each invocation after a \
         {PAUSE:?} pause; EMF line {} bytes, datagram {} bytes)",
        sizes.line, sizes.datagram
    );
    println!(
        "  bare handler {bare:7.0} ns, clock reads {clocks:5.0} ns, write(2) to /dev/null {:5.0} ns",
        write_dev_null - clocks
    );
    print_ratio(
        "unsampled: added",
        "floor write(2)        ",
        report.unsampled_added,
        report.write,
        report.write_in_place,
        2.0,
    );
    print_ratio(
        "sampled:   added",
        "floor send(2)+write(2)",
        report.sampled_added,
        report.send_write,
        report.send_write_in_place,
        1.5,
    );
    println!(
        "  beyond the floor in place, per round: unsampled {}, sampled {} ns",
        spread(&own_unsampled),
        spread(&own_sampled)
    );
    for case in &cases {
        println!(
            "  {:<32} the pipe's reader woken at {:.2} of the invocations, the daemon at {:.2}",
            case.kind.name(),
            case.pipe_wakes as f64 / case.invocations() as f64,
            case.daemon_wakes as f64 / case.invocations() as f64,
        );
    }
    println!("  datagrams received {received} of {sent} sent");
    if let Some(dir) = std::env::var_os("LAMBDA_PERF_BENCH_RESULTS") {
        let path = std::path::Path::new(&dir).join("lambda_sinks.json");
        let wakes: serde_json::Map<String, serde_json::Value> = cases
            .iter()
            .map(|case| {
                let per = |count: u64| count as f64 / case.invocations() as f64;
                (
                    case.kind.name().to_owned(),
                    serde_json::json!({
                        "pipe_reader": per(case.pipe_wakes),
                        "daemon": per(case.daemon_wakes),
                    }),
                )
            })
            .collect();
        let json = serde_json::json!({
            "rounds": rounds,
            "iterations": iterations,
            "pause_us": PAUSE.as_secs_f64() * 1e6,
            "line_bytes": sizes.line,
            "datagram_bytes": sizes.datagram,
            "bare_ns": bare,
            "clock_reads_ns": clocks,
            "unsampled_added_ns": report.unsampled_added,
            "sampled_added_ns": report.sampled_added,
            "write_ns": report.write,
            "write_send_ns": report.send_write,
            "write_in_place_ns": report.write_in_place,
            "write_send_in_place_ns": report.send_write_in_place,
            "write_dev_null_ns": write_dev_null - clocks,
            "unsampled_beyond_floor_ns_per_round": own_unsampled,
            "sampled_beyond_floor_ns_per_round": own_sampled,
            "wake_ups_per_invocation": wakes,
            "datagrams_sent": sent,
            "datagrams_received": received,
        });
        match std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(error) => println!("could not write {}: {error}", path.display()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Nothing but the two clock reads that time each invocation.
    ClockReads,
    Bare,
    Unsampled,
    Sampled,
    Write,
    SendWrite,
    /// The bare handler, writing the line itself before it answers.
    WriteInPlace,
    /// The bare handler, sending the datagram and writing the line itself before it answers.
    SendWriteInPlace,
    /// The floor's `write(2)` to `/dev/null` instead of the pipe.
    WriteDevNull,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::ClockReads => "clock reads",
            Self::Bare => "bare handler",
            Self::Unsampled => "PerfLayer, unsampled",
            Self::Sampled => "PerfLayer, sampled",
            Self::Write => "floor: write(2)",
            Self::SendWrite => "floor: send(2) + write(2)",
            Self::WriteInPlace => "floor in place: write(2)",
            Self::SendWriteInPlace => "floor in place: send(2) + write(2)",
            Self::WriteDevNull => "write(2) to /dev/null",
        }
    }

    /// Whether each of its invocations sends a datagram.
    fn sends(self) -> bool {
        matches!(
            self,
            Self::Sampled | Self::SendWrite | Self::SendWriteInPlace
        )
    }
}

/// One case's measurements: each round's invocations, and how often its readers woke.
struct Case {
    kind: Kind,
    rounds: Vec<Vec<Duration>>,
    pipe_wakes: u64,
    daemon_wakes: u64,
}

impl Case {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            rounds: Vec::new(),
            pipe_wakes: 0,
            daemon_wakes: 0,
        }
    }

    fn invocations(&self) -> u64 {
        self.rounds.iter().map(|round| round.len() as u64).sum()
    }

    /// The median of every round's invocations, in nanoseconds.
    fn median_ns(&self) -> f64 {
        round_median_ns(&self.rounds.concat())
    }
}

/// The figures the budget is judged by, in nanoseconds.
struct Report {
    unsampled_added: f64,
    sampled_added: f64,
    write: f64,
    send_write: f64,
    write_in_place: f64,
    send_write_in_place: f64,
}

/// One line of the summary: what a case adds, against its floor in a loop of its own and in
/// place, and the budget's ratio.
fn print_ratio(case: &str, floor_name: &str, added: f64, floor: f64, in_place: f64, budget: f64) {
    println!(
        "  {case} {added:7.0} ns, {floor_name} {floor:7.0} ns, ratio {:.2} (budget {budget:.1}); \
         in place {in_place:7.0} ns, ratio {:.2}",
        added / floor,
        added / in_place,
    );
}

/// The median and the range of per-round figures, in nanoseconds.
fn spread(per_round: &[f64]) -> String {
    let mut sorted = per_round.to_vec();
    sorted.sort_by(f64::total_cmp);
    format!(
        "{:.0} ({:.0} to {:.0})",
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1]
    )
}

/// `iterations` calls of `one`, each after [`PAUSE`] spent spinning, each timed on its own
/// into `samples`.
fn paced(iterations: usize, one: &mut impl FnMut() -> u32, samples: &mut Vec<Duration>) {
    let mut next = Instant::now() + PAUSE;
    for _ in 0..iterations {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        black_box(one());
        let end = Instant::now();
        samples.push(end - start);
        next = end + PAUSE;
    }
}

/// The median of `samples`, in nanoseconds.
fn round_median_ns(samples: &[Duration]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2].as_secs_f64() * 1e9
}

/// The voluntary context switches of the thread or process whose `status` file this is: one
/// each time it waited and was woken. 0 where it cannot be read (not Linux), which shows as
/// no wake-ups in the summary.
fn wake_ups(status: &std::path::Path) -> u64 {
    std::fs::read_to_string(status)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|count| count.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A pipe whose other end `cat` reads (and writes to `/dev/null`), as Lambda reads a
/// function's stdout; and the reader, to stop when done.
fn drained_pipe() -> (File, Child) {
    let mut reader = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("`cat`, to drain the pipe");
    let pipe = reader.stdin.take().expect("piped");
    (File::from(OwnedFd::from(pipe)), reader)
}
