//! Warm invocations in a loop, for counting what each costs in instructions (repeatable on a
//! busy machine, unlike time): `bench/run` runs it under `valgrind --tool=callgrind` and
//! subtracts the bare handler's count.
//!
//! ```text
//! cargo build --release -p lambda-perf-core --example warm_invocations
//! valgrind --tool=callgrind target/release/examples/warm_invocations sampled 20000
//! ```
//!
//! The modes: `bare` (the handler alone), `unsampled` (behind `PerfLayer`, one metric and one
//! annotation, the EMF line written to `/dev/null`), `sampled` (the same, plus the handler
//! subsegment sent to a UDP socket on loopback). The invocation (`benches/common/scenario.rs`)
//! is the `invocation_overhead` bench's.

use std::fs::File;
use std::net::UdpSocket;

use lambda_perf_core::PerfLayer;
use lambda_runtime::Error;
use tower::{Layer, Service, service_fn};

#[path = "../benches/common/scenario.rs"]
mod scenario;

use scenario::{bare, event, instrumented};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let sampled = match mode.as_str() {
        "bare" | "unsampled" => false,
        "sampled" => true,
        _ => return Err("usage: warm_invocations bare|unsampled|sampled [COUNT]".into()),
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
    if mode == "bare" {
        let mut service = service_fn(bare);
        for _ in 0..count {
            runtime.block_on(service.call(event(sampled)))?;
        }
    } else {
        let mut service = perf.layer(service_fn(instrumented));
        for _ in 0..count {
            runtime.block_on(service.call(event(sampled)))?;
        }
    }
    Ok(())
}
