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
//! - `floor: write(2) of the EMF line`, `floor: write(2) + send(2)`.
//!
//! Group `concurrent` (Lambda Managed Instances: several invocations at once in one process,
//! on a multi-threaded runtime): `bare handler, N at once` and `PerfLayer, sampled, N at once`
//! for N in 1, 8 and 64; each iteration runs N invocations as N tasks and waits for all.
//!
//! After criterion, a summary measures every case again, interleaved, and prints each
//! overhead (instrumented minus bare) as a ratio of its floor, and the per-invocation
//! overhead at each concurrency.

// The summary is this bench's report, on stdout after criterion's.
#![allow(clippy::print_stdout)]

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use lambda_perf_core::PerfLayer;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::{Layer, Service, service_fn};

#[path = "common/scenario.rs"]
mod scenario;

use scenario::{bare, event, instrumented};

/// `/dev/null`, opened for writing: a real file descriptor, every line one `write(2)`.
fn dev_null() -> File {
    File::options().write(true).open("/dev/null").unwrap()
}

/// Counts the bytes of the last write, on the way to `/dev/null`.
#[derive(Clone)]
struct Measuring(Arc<Mutex<usize>>, Arc<Mutex<File>>);

impl Write for Measuring {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        *self.0.lock().unwrap() = bytes.len();
        self.1.lock().unwrap().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A daemon on loopback that receives nothing: datagrams are dropped when its buffer is
/// full, which costs the sender nothing more.
fn daemon() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

fn layer(
    daemon: &UdpSocket,
    marker_dir: &std::path::Path,
    emf: impl Write + Send + 'static,
) -> PerfLayer {
    layer_with(daemon, marker_dir, emf, false)
}

fn layer_with(
    daemon: &UdpSocket,
    marker_dir: &std::path::Path,
    emf: impl Write + Send + 'static,
    resource_usage: bool,
) -> PerfLayer {
    PerfLayer::builder()
        .service("bench")
        .namespace("Bench")
        .metrics_disabled(false)
        .trace_disabled(false)
        .resource_usage(resource_usage)
        .marker_dir(marker_dir)
        .emf_writer(emf)
        .xray_daemon_address(daemon.local_addr().unwrap().to_string())
        .build()
        .unwrap()
}

/// The sizes the floor is made of: the EMF line of a warm sampled invocation and its
/// subsegment's datagram, as this build writes them.
struct Sizes {
    line: usize,
    datagram: usize,
}

fn measure_sizes(runtime: &Runtime, marker_dir: &std::path::Path) -> Sizes {
    let daemon = daemon();
    daemon
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let written = Arc::new(Mutex::new(0));
    let emf = Measuring(Arc::clone(&written), Arc::new(Mutex::new(dev_null())));
    let mut service = layer(&daemon, marker_dir, emf).layer(service_fn(instrumented));
    runtime.block_on(service.call(event(true))).unwrap(); // the cold one
    let mut buffer = vec![0; 65_536];
    while daemon.recv(&mut buffer).is_ok() {} // its subsegment
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    runtime.block_on(service.call(event(true))).unwrap();
    let datagram = daemon.recv(&mut buffer).unwrap();
    let line = *written.lock().unwrap();
    Sizes { line, datagram }
}

/// The floor: one `write(2)` of `line` to `/dev/null`, and one `send(2)` of `datagram` on a
/// connected UDP socket.
struct Floor {
    file: File,
    line: Vec<u8>,
    socket: UdpSocket,
    datagram: Vec<u8>,
    _receiver: UdpSocket,
}

impl Floor {
    fn new(sizes: &Sizes) -> Self {
        let receiver = daemon();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        socket.connect(receiver.local_addr().unwrap()).unwrap();
        let mut line = vec![b'x'; sizes.line];
        if let Some(last) = line.last_mut() {
            *last = b'\n';
        }
        Self {
            file: dev_null(),
            line,
            socket,
            datagram: vec![b'x'; sizes.datagram],
            _receiver: receiver,
        }
    }

    fn write(&mut self) {
        self.file.write_all(black_box(&self.line)).unwrap();
    }

    fn write_and_send(&mut self) {
        self.write();
        let _ = black_box(self.socket.send(black_box(&self.datagram)));
    }
}

/// `count` invocations of `service` at once, as tasks of `runtime`, waited for.
fn at_once<S>(runtime: &Runtime, service: &S, count: usize, sampled: bool)
where
    S: Service<LambdaEvent<Value>, Response = u32, Error = Error> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    runtime.block_on(async {
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let mut service = service.clone();
                let event = event(sampled);
                tokio::spawn(async move { service.call(event).await.unwrap() })
            })
            .collect();
        for task in tasks {
            black_box(task.await.unwrap());
        }
    });
}

const CONCURRENCY: [usize; 3] = [1, 8, 64];

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let concurrent = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let marker_dir = std::env::temp_dir().join(format!("lambda-perf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&marker_dir).unwrap();
    let sizes = measure_sizes(&runtime, &marker_dir);
    let mut floor = Floor::new(&sizes);

    let daemon = daemon();
    let perf = layer(&daemon, &marker_dir, dev_null());
    let mut plain = service_fn(bare);
    let mut unsampled = perf.layer(service_fn(instrumented));
    runtime.block_on(unsampled.call(event(false))).unwrap(); // the cold one
    let mut sampled = perf.layer(service_fn(instrumented));
    let mut with_usage =
        layer_with(&daemon, &marker_dir, dev_null(), true).layer(service_fn(instrumented));

    {
        let mut group = criterion.benchmark_group("warm");
        group.bench_function("bare handler", |b| {
            b.iter(|| {
                runtime
                    .block_on(plain.call(black_box(event(true))))
                    .unwrap()
            });
        });
        group.bench_function("PerfLayer, unsampled", |b| {
            b.iter(|| {
                runtime
                    .block_on(unsampled.call(black_box(event(false))))
                    .unwrap()
            });
        });
        group.bench_function("PerfLayer, unsampled, resource usage", |b| {
            b.iter(|| {
                runtime
                    .block_on(with_usage.call(black_box(event(false))))
                    .unwrap()
            });
        });
        group.bench_function("PerfLayer, sampled", |b| {
            b.iter(|| {
                runtime
                    .block_on(sampled.call(black_box(event(true))))
                    .unwrap()
            });
        });
        group.bench_function("floor: write(2) of the EMF line", |b| {
            b.iter(|| floor.write())
        });
        group.bench_function("floor: write(2) + send(2)", |b| {
            b.iter(|| floor.write_and_send());
        });
        group.finish();
    }

    let concurrent_bare = service_fn(bare);
    let concurrent_perf = perf.layer(service_fn(instrumented));
    {
        let mut group = criterion.benchmark_group("concurrent");
        for count in CONCURRENCY {
            group.bench_function(format!("bare handler, {count} at once"), |b| {
                b.iter(|| at_once(&concurrent, &concurrent_bare, count, true));
            });
            group.bench_function(format!("PerfLayer, sampled, {count} at once"), |b| {
                b.iter(|| at_once(&concurrent, &concurrent_perf, count, true));
            });
        }
        group.finish();
    }
    criterion.final_summary();

    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    summary(&sizes, |case, iterations| match case {
        Case::Bare => time(iterations, || {
            runtime
                .block_on(plain.call(black_box(event(true))))
                .unwrap();
        }),
        Case::Unsampled => time(iterations, || {
            runtime
                .block_on(unsampled.call(black_box(event(false))))
                .unwrap();
        }),
        Case::Sampled => time(iterations, || {
            runtime
                .block_on(sampled.call(black_box(event(true))))
                .unwrap();
        }),
        Case::ResourceUsage => time(iterations, || {
            runtime
                .block_on(with_usage.call(black_box(event(false))))
                .unwrap();
        }),
        Case::Write => time(iterations, || floor.write()),
        Case::WriteSend => time(iterations, || floor.write_and_send()),
        Case::Concurrent(count, instrumented) => {
            let rounds = (iterations / count).max(1);
            let elapsed = if instrumented {
                time(rounds, || {
                    at_once(&concurrent, &concurrent_perf, count, true)
                })
            } else {
                time(rounds, || {
                    at_once(&concurrent, &concurrent_bare, count, true)
                })
            };
            elapsed / count as u32
        }
    });
    let _ = std::fs::remove_dir_all(&marker_dir);
}

#[derive(Clone, Copy)]
enum Case {
    Bare,
    Unsampled,
    Sampled,
    Write,
    WriteSend,
    /// Unsampled, with resource usage on.
    ResourceUsage,
    /// (invocations at once, instrumented)
    Concurrent(usize, bool),
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
    let mut cases = vec![
        Case::Bare,
        Case::Unsampled,
        Case::Sampled,
        Case::Write,
        Case::WriteSend,
        Case::ResourceUsage,
    ];
    for count in CONCURRENCY {
        cases.push(Case::Concurrent(count, false));
        cases.push(Case::Concurrent(count, true));
    }
    let mut best = vec![Duration::MAX; cases.len()];
    for _ in 0..ROUNDS {
        for (index, case) in cases.iter().enumerate() {
            best[index] = best[index].min(measure(*case, ITERATIONS));
        }
    }
    let ns = |d: Duration| d.as_secs_f64() * 1e9;
    let [bare, unsampled, sampled, write, write_send, usage] =
        [0, 1, 2, 3, 4, 5].map(|i| ns(best[i]));
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
        "  resource usage (off by default): added {:7.0} ns over unsampled, {:.2} times a write(2)",
        usage - unsampled,
        (usage - unsampled) / write
    );
    for (index, count) in CONCURRENCY.into_iter().enumerate() {
        let bare = ns(best[6 + 2 * index]);
        let instrumented = ns(best[7 + 2 * index]);
        println!(
            "  {count:2} at once, sampled: per invocation added {:7.0} ns (bare {bare:.0} ns)",
            instrumented - bare
        );
    }
}
