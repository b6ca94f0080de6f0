//! Warm invocations in a loop, for counting what each costs in instructions (repeatable on a
//! busy machine, unlike time): `bench/run` runs it under `valgrind --tool=callgrind` at two
//! lengths, takes the growth from one to the other per invocation (the process's start left
//! out) and subtracts the bare handler's. It builds it with one codegen unit: with the default
//! 16, where the compiler splits the crate moves the count by about 300 instructions from one
//! build of the same code to another.
//!
//! ```text
//! CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 cargo build --release -p lambda-perf-core --example warm_invocations
//! valgrind --tool=callgrind target/release/examples/warm_invocations sampled 2000
//! valgrind --tool=callgrind target/release/examples/warm_invocations sampled 12000
//! ```
//!
//! The modes: `bare` (the handler alone), `unsampled` (behind `PerfLayer`, one metric and one
//! annotation, the EMF line written to `/dev/null`), `sampled` (the same, plus the handler
//! subsegment sent to a UDP socket on loopback). The invocation (`benches/common/scenario.rs`)
//! is the `invocation_overhead` bench's. `bare_object` and `sampled_object` are the same
//! handlers answering an object (which a sampled invocation captures as trace metadata)
//! instead of a number. `bare_logged`, `unsampled_logged` and `sampled_logged` are `bare`,
//! `unsampled` and `sampled` under the `tracing` subscriber of `lambda_perf_core::init()`, as
//! most functions run (the handler logs nothing: what the subscriber costs an invocation
//! that writes no line).
//!
//! With `rss` after the count, it also prints the process's resident memory (Linux's `VmRSS`)
//! after 1%, 10% and all of the invocations, one `rss_kb=<invocations>:<kilobytes>` line each:
//! what `bench/run` reads to show that memory does not grow over 10^6 invocations.
//!
//! ```text
//! target/release/examples/warm_invocations sampled 1000000 rss
//! ```

#![allow(clippy::print_stdout)] // the resident memory is its output

use std::fs::File;
use std::net::UdpSocket;

use lambda_perf_core::PerfLayer;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use tower::{Layer, Service, service_fn};

#[path = "../benches/common/scenario.rs"]
mod scenario;

use scenario::{bare, bare_order, event, instrumented, instrumented_order};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let report_rss = args.next().is_some_and(|arg| arg == "rss");
    let (mode, logged) = match mode.strip_suffix("_logged") {
        Some(plain @ ("bare" | "unsampled" | "sampled")) => (plain.to_owned(), true),
        _ => (mode, false),
    };
    let sampled = match mode.as_str() {
        "bare" | "unsampled" => false,
        "sampled" | "bare_object" | "sampled_object" => true,
        _ => {
            return Err("usage: warm_invocations bare|unsampled|sampled|bare_object\
                        |sampled_object|bare_logged|unsampled_logged|sampled_logged \
                        [COUNT [rss]]"
                .into());
        }
    };
    if logged {
        lambda_perf_core::init()?;
    }
    // After how many invocations the resident memory is printed.
    let checkpoints = if report_rss {
        vec![count / 100, count / 10, count]
    } else {
        Vec::new()
    };
    let rss_at = |done: usize| {
        if checkpoints.contains(&done) {
            match resident_kb() {
                Some(kb) => println!("rss_kb={done}:{kb}"),
                None => println!("rss_kb={done}:unknown"),
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let daemon = UdpSocket::bind("127.0.0.1:0")?;
    let markers = tempfile::tempdir()?;
    let perf = PerfLayer::builder()
        .service("bench")
        .namespace("Bench")
        .metrics_disabled(false)
        .trace_disabled(false)
        .resource_usage(false)
        .marker_dir(markers.path())
        .emf_writer(File::options().write(true).open("/dev/null")?)
        .xray_daemon_address(daemon.local_addr()?.to_string())
        .build()?;
    let invocations = Invocations {
        runtime: &runtime,
        count,
        sampled,
        after_each: &rss_at,
    };
    match mode.as_str() {
        "bare" => invocations.run(service_fn(bare)),
        "bare_object" => invocations.run(service_fn(bare_order)),
        "sampled_object" => invocations.run(perf.layer(service_fn(instrumented_order))),
        _ => invocations.run(perf.layer(service_fn(instrumented))),
    }
}

/// `count` warm invocations in a row, each followed by `after_each` (with how many are done).
struct Invocations<'a> {
    runtime: &'a tokio::runtime::Runtime,
    count: usize,
    sampled: bool,
    after_each: &'a dyn Fn(usize),
}

impl Invocations<'_> {
    fn run<S: Service<LambdaEvent<Value>, Error = Error>>(
        &self,
        mut service: S,
    ) -> Result<(), Error> {
        for done in 1..=self.count {
            self.runtime.block_on(service.call(event(self.sampled)))?;
            (self.after_each)(done);
        }
        Ok(())
    }
}

/// The process's resident memory in kilobytes, from `/proc/self/status` (Linux).
fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
