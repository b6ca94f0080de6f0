//! What `PerfLayer` adds to a warm invocation, against the floor it is budgeted by.
//!
//! The handler records one metric and one annotation. EMF lines go to a real file descriptor
//! (`/dev/null`, opened here) and, when sampled, the subsegment to a real UDP socket bound on
//! loopback here: the same system calls as in Lambda. The floor is measured in the same run:
//! one `write(2)` of a line as long as the invocation's EMF line (unsampled), plus one
//! `send(2)` of a datagram as long as its subsegment (sampled).
//!
//! Cases (group `warm`):
//! - `bare handler`: the handler alone, through the same `block_on`.
//! - `PerfLayer, unsampled` / `PerfLayer, sampled`: the handler instrumented.
//! - `PerfLayer, unsampled, resource usage`: with `getrusage(2)` before and after (the
//!   summary prints what it adds over `PerfLayer, unsampled`).
//! - `floor: write(2) of the EMF line`, `floor: write(2) + send(2)`: the system calls alone,
//!   in a loop of their own.
//! - `floor in place: bare handler writing the EMF line`, `floor in place: bare handler
//!   writing and sending`: the same system calls made inside an invocation's `block_on`, by
//!   the bare handler itself before it answers (their floor is the case minus the bare
//!   handler). Measured here, they cost more there than in a loop of their own. Our reading:
//!   after the kernel returns, the processor mispredicts the returns up a stack as deep as
//!   the runtime's (a C loop returning through more frames after each `write(2)` paid about
//!   7 ns a frame, up to about 12 frames), and finds again the code and data the kernel
//!   displaced; the loop pays both too, over a shallow stack and a tiny working set.
//! - `reference: the 2 clock reads of an invocation`: what every invocation reads however it
//!   is recorded (its beginning and its end, by the monotonic clock; the wall clock at its
//!   beginning is derived from the first), for scale.
//!
//! After criterion, a summary measures every case again, interleaved, and prints each
//! overhead (instrumented minus bare) as a ratio of its floor; with
//! `LAMBDA_PERF_BENCH_RESULTS=dir` (as `bench/run` sets) it also writes
//! `dir/invocation_overhead_summary.json`. Invocations at once in one
//! process are the `concurrency` bench's.

// The summary is this bench's report, on stdout after criterion's.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
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
    FLOOR, Floor, Sizes, as_is, bare_sending_writing, bare_writing, daemon, dev_null, invoke,
    layer, measure_sizes,
};
use marker_dir::marker_dir;
use measuring::measuring;
use scenario::{bare, instrumented};

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let markers = marker_dir();
    let sizes = measure_sizes(&runtime, markers.path(), as_is);
    let floor = FLOOR.get_or_init(|| Floor::new(&sizes));

    let daemon = daemon();
    let perf = layer(&daemon, markers.path(), dev_null(), as_is);
    let mut plain = service_fn(bare);
    let mut writing = service_fn(bare_writing);
    let mut writing_sending = service_fn(bare_sending_writing);
    let mut unsampled = perf.layer(service_fn(instrumented));
    invoke(&runtime, &mut unsampled, false); // the cold one
    let mut sampled = perf.layer(service_fn(instrumented));
    let mut with_usage = layer(&daemon, markers.path(), dev_null(), |builder| {
        builder.resource_usage(true)
    })
    .layer(service_fn(instrumented));

    {
        let mut group = criterion.benchmark_group("warm");
        group.bench_function("bare handler", |b| {
            b.iter(|| invoke(&runtime, &mut plain, true));
        });
        group.bench_function("PerfLayer, unsampled", |b| {
            b.iter(|| invoke(&runtime, &mut unsampled, false));
        });
        group.bench_function("PerfLayer, unsampled, resource usage", |b| {
            b.iter(|| invoke(&runtime, &mut with_usage, false));
        });
        group.bench_function("PerfLayer, sampled", |b| {
            b.iter(|| invoke(&runtime, &mut sampled, true));
        });
        group.bench_function("floor: write(2) of the EMF line", |b| {
            b.iter(|| floor.write())
        });
        group.bench_function("floor: write(2) + send(2)", |b| {
            b.iter(|| floor.send_and_write());
        });
        group.bench_function("floor in place: bare handler writing the EMF line", |b| {
            b.iter(|| invoke(&runtime, &mut writing, false));
        });
        group.bench_function("floor in place: bare handler writing and sending", |b| {
            b.iter(|| invoke(&runtime, &mut writing_sending, true));
        });
        group.bench_function("reference: the 2 clock reads of an invocation", |b| {
            b.iter(clock_reads);
        });
        group.finish();
    }

    criterion.final_summary();

    if !measuring() {
        return;
    }
    summary(&sizes, |case, iterations| match case {
        Case::Bare => time(iterations, || {
            invoke(&runtime, &mut plain, true);
        }),
        Case::Unsampled => time(iterations, || {
            invoke(&runtime, &mut unsampled, false);
        }),
        Case::Sampled => time(iterations, || {
            invoke(&runtime, &mut sampled, true);
        }),
        Case::ResourceUsage => time(iterations, || {
            invoke(&runtime, &mut with_usage, false);
        }),
        Case::Write => time(iterations, || floor.write()),
        Case::WriteSend => time(iterations, || floor.send_and_write()),
        Case::WriteInPlace => time(iterations, || {
            invoke(&runtime, &mut writing, false);
        }),
        Case::WriteSendInPlace => time(iterations, || {
            invoke(&runtime, &mut writing_sending, true);
        }),
        Case::Clocks => time(iterations, clock_reads),
    });
}

/// The clock reads every recorded invocation makes: its beginning and its end, by the
/// monotonic clock.
fn clock_reads() {
    black_box(Instant::now());
    black_box(Instant::now());
}

#[derive(Clone, Copy)]
enum Case {
    Bare,
    Unsampled,
    Sampled,
    Write,
    WriteSend,
    /// The bare handler, writing the line itself before it answers.
    WriteInPlace,
    /// The bare handler, writing the line and sending the datagram itself before it answers.
    WriteSendInPlace,
    /// Unsampled, with resource usage on.
    ResourceUsage,
    /// [`clock_reads`].
    Clocks,
}

/// The mean time of one of `iterations` calls of `f`.
fn time(iterations: usize, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed() / iterations as u32
}

/// Every case measured in rounds, interleaved, keeping each case's fastest round; then the
/// ratios the budget is stated in.
fn summary(sizes: &Sizes, mut measure: impl FnMut(Case, usize) -> Duration) {
    const ROUNDS: usize = 7;
    const ITERATIONS: usize = 20_000;
    let cases = [
        Case::Bare,
        Case::Unsampled,
        Case::Sampled,
        Case::Write,
        Case::WriteSend,
        Case::WriteInPlace,
        Case::WriteSendInPlace,
        Case::ResourceUsage,
        Case::Clocks,
    ];
    let mut best = vec![Duration::MAX; cases.len()];
    for _ in 0..ROUNDS {
        for (index, case) in cases.iter().enumerate() {
            best[index] = best[index].min(measure(*case, ITERATIONS));
        }
    }
    let ns = |d: Duration| d.as_secs_f64() * 1e9;
    let [
        bare,
        unsampled,
        sampled,
        write,
        write_send,
        write_in_place,
        write_send_in_place,
        usage,
        clocks,
    ] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(|i| ns(best[i]));
    let (write_in_place, write_send_in_place) = (write_in_place - bare, write_send_in_place - bare);
    println!(
        "\nsummary (fastest of {ROUNDS} interleaved rounds of {ITERATIONS}; EMF line {} bytes, \
         datagram {} bytes)",
        sizes.line, sizes.datagram
    );
    println!("  bare handler                       {bare:9.0} ns");
    println!(
        "  unsampled: added {:7.0} ns, floor write(2)          {write:7.0} ns, ratio {:.2} (budget 2.0)",
        unsampled - bare,
        (unsampled - bare) / write
    );
    println!(
        "  sampled:   added {:7.0} ns, floor write(2)+send(2)  {write_send:7.0} ns, ratio {:.2} (budget 1.5)",
        sampled - bare,
        (sampled - bare) / write_send
    );
    println!(
        "  in place (made by the bare handler itself): write(2) {write_in_place:7.0} ns, \
         unsampled ratio {:.2}; write(2)+send(2) {write_send_in_place:7.0} ns, sampled ratio {:.2}",
        (unsampled - bare) / write_in_place,
        (sampled - bare) / write_send_in_place
    );
    println!(
        "  the 2 clock reads of an invocation: {clocks:7.0} ns, {:.2} times a write(2)",
        clocks / write
    );
    println!(
        "  resource usage (off by default): added {:7.0} ns over unsampled, {:.2} times a write(2)",
        usage - unsampled,
        (usage - unsampled) / write
    );
    if let Some(dir) = std::env::var_os("LAMBDA_PERF_BENCH_RESULTS") {
        let path = std::path::Path::new(&dir).join("invocation_overhead_summary.json");
        let report = serde_json::json!({
            "rounds": ROUNDS,
            "iterations": ITERATIONS,
            "line_bytes": sizes.line,
            "datagram_bytes": sizes.datagram,
            "bare_ns": bare,
            "unsampled_added_ns": unsampled - bare,
            "sampled_added_ns": sampled - bare,
            "write_ns": write,
            "write_send_ns": write_send,
            "write_in_place_ns": write_in_place,
            "write_send_in_place_ns": write_send_in_place,
            "resource_usage_added_ns": usage - unsampled,
            "clock_reads_ns": clocks,
        });
        // Said, not a panic: criterion's figures, already written, stay usable.
        match std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(error) => println!("could not write {}: {error}", path.display()),
        }
    }
}
