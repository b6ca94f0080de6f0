//! What `PerfLayer` adds to a warm invocation when its output goes where Lambda's goes, against
//! the floor of the same system calls to the same places.
//!
//! `invocation_overhead` writes to the cheapest places there are: `/dev/null`, whose `write(2)`
//! copies nothing, and a UDP socket nobody reads, whose full buffer drops each datagram at
//! once. On Lambda, a function's stdout is a pipe that Lambda reads, and the X-Ray daemon
//! receives every datagram: each `write(2)` and `send(2)` hands its bytes to a reader waiting
//! for them, and wakes it. (Powertools' figures in `BENCHMARKS.md` are measured with a UDP
//! receiver too.) Here EMF lines go to a pipe that `cat`, a process of its own, drains, and
//! datagrams to a UDP socket a thread receives from, counting them. The invocations are paced:
//! one at a time, each after a pause (spent spinning, so that this thread keeps its core) long
//! enough for both readers to have read everything and gone back to waiting, as they have on
//! Lambda when an invocation begins after the Runtime API's round trip; so every `write(2)`
//! and `send(2)` here wakes its reader.
//!
//! Each invocation is timed on its own (two clock reads, the same for every case). Cases,
//! measured in interleaved rounds so that a change of the machine's load falls on all alike:
//! the bare handler; `PerfLayer` unsampled and sampled (one metric, one annotation); the
//! floor's `write(2)` of a line as long as the EMF line, and that `write(2)` plus the `send(2)`
//! of a datagram as long as the subsegment, in a loop of their own (less the clock reads,
//! measured as a case of their own) and made by the bare handler itself before it answers
//! (less the bare handler). Each case's figure is the median of its invocations; "added" is
//! a case's median less the bare handler's.
//!
//! Measures when run as a benchmark (`cargo bench`) and prints a summary; with
//! `LAMBDA_PERF_BENCH_RESULTS=dir` (as `bench/run` sets) it also writes
//! `dir/lambda_sinks.json`. `LAMBDA_PERF_BENCH_QUICK=1` measures fewer invocations.

// The summary is this bench's report.
#![allow(clippy::print_stdout)]

use std::fs::File;
use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tower::{Layer, service_fn};

#[path = "common/floor.rs"]
mod floor;
#[path = "common/marker_dir.rs"]
mod marker_dir;
#[path = "common/measuring.rs"]
mod measuring;
#[path = "common/scenario.rs"]
mod scenario;

use floor::{
    FLOOR, Floor, as_is, bare_writing, bare_writing_sending, invoke, layer_to, measure_sizes,
};
use marker_dir::marker_dir;
use measuring::measuring;
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
    let daemon = ReceivingDaemon::start();
    let floor = FLOOR.get_or_init(|| Floor::to(&sizes, pipe.try_clone().unwrap(), daemon.address));
    let perf = layer_to(daemon.address, markers.path(), pipe, as_is);
    let mut plain = service_fn(bare);
    let mut writing = service_fn(bare_writing);
    let mut writing_sending = service_fn(bare_writing_sending);
    let mut unsampled = perf.layer(service_fn(instrumented));
    invoke(&runtime, &mut unsampled, false); // the cold one
    let mut sampled = perf.layer(service_fn(instrumented));

    let cases = [
        Case::ClockReads,
        Case::Bare,
        Case::Unsampled,
        Case::Sampled,
        Case::Write,
        Case::WriteSend,
        Case::WriteInPlace,
        Case::WriteSendInPlace,
    ];
    let mut samples: Vec<Vec<Duration>> =
        vec![Vec::with_capacity(rounds * iterations); cases.len()];
    let received_before = daemon.received();
    let mut sent = 0;
    for _ in 0..rounds {
        for (index, case) in cases.iter().enumerate() {
            let mut one = || match case {
                Case::ClockReads => 0,
                Case::Bare => invoke(&runtime, &mut plain, true),
                Case::Unsampled => invoke(&runtime, &mut unsampled, false),
                Case::Sampled => invoke(&runtime, &mut sampled, true),
                Case::Write => {
                    floor.write();
                    0
                }
                Case::WriteSend => {
                    floor.write_and_send();
                    0
                }
                Case::WriteInPlace => invoke(&runtime, &mut writing, false),
                Case::WriteSendInPlace => invoke(&runtime, &mut writing_sending, true),
            };
            paced(iterations, &mut one, &mut samples[index]);
            if matches!(
                case,
                Case::Sampled | Case::WriteSend | Case::WriteSendInPlace
            ) {
                sent += iterations as u64;
            }
        }
    }
    let received = daemon.settled() - received_before;
    let _ = reader.kill();
    let _ = reader.wait();

    let [
        clocks,
        bare,
        unsampled,
        sampled,
        write,
        write_send,
        write_in_place,
        write_send_in_place,
    ] = [0, 1, 2, 3, 4, 5, 6, 7].map(|index| median_ns(&mut samples[index]));
    let report = Report {
        unsampled_added: unsampled - bare,
        sampled_added: sampled - bare,
        write: write - clocks,
        write_send: write_send - clocks,
        write_in_place: write_in_place - bare,
        write_send_in_place: write_send_in_place - bare,
    };
    println!(
        "\nwith Lambda's sinks (a pipe `cat` drains, a UDP socket a thread receives from; \
         medians of {rounds} interleaved rounds of {iterations}, each invocation after a \
         {PAUSE:?} pause; EMF line {} bytes, datagram {} bytes)",
        sizes.line, sizes.datagram
    );
    println!("  bare handler {bare:7.0} ns, clock reads {clocks:5.0} ns");
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
        "floor write(2)+send(2)",
        report.sampled_added,
        report.write_send,
        report.write_send_in_place,
        1.5,
    );
    println!("  datagrams received {received} of {sent} sent");
    if let Some(dir) = std::env::var_os("LAMBDA_PERF_BENCH_RESULTS") {
        let path = std::path::Path::new(&dir).join("lambda_sinks.json");
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
            "write_send_ns": report.write_send,
            "write_in_place_ns": report.write_in_place,
            "write_send_in_place_ns": report.write_send_in_place,
            "datagrams_sent": sent,
            "datagrams_received": received,
        });
        match std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(error) => println!("could not write {}: {error}", path.display()),
        }
    }
}

#[derive(Clone, Copy)]
enum Case {
    /// Nothing but the two clock reads that time each invocation.
    ClockReads,
    Bare,
    Unsampled,
    Sampled,
    Write,
    WriteSend,
    /// The bare handler, writing the line itself before it answers.
    WriteInPlace,
    /// The bare handler, writing the line and sending the datagram itself before it answers.
    WriteSendInPlace,
}

/// The figures the budget is judged by, in nanoseconds.
struct Report {
    unsampled_added: f64,
    sampled_added: f64,
    write: f64,
    write_send: f64,
    write_in_place: f64,
    write_send_in_place: f64,
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
fn median_ns(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e9
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

/// A UDP socket on loopback that a thread receives every datagram from, as the X-Ray daemon
/// does, counting them.
struct ReceivingDaemon {
    address: SocketAddr,
    received: Arc<AtomicU64>,
}

impl ReceivingDaemon {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut buffer = vec![0; 65_536];
            while socket.recv(&mut buffer).is_ok() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self { address, received }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The count once it has stopped moving: the last datagrams may still be on their way.
    fn settled(&self) -> u64 {
        let mut last = self.received();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.received();
            if now == last {
                return now;
            }
            last = now;
        }
    }
}
