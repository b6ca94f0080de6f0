//! What each trace backend adds to a warm sampled invocation (feature `opentelemetry`): the
//! handler of `invocation_overhead` (one metric, one annotation) behind `PerfLayer` with
//! `xray` (a datagram per subsegment), `xray-otlp` (the invocation's spans as one OTLP
//! datagram) and `otlp` (one OTLP/HTTP export to a collector on loopback, waited for), each
//! receiver draining what it gets; and `otlp` and `xray` on an unsampled invocation, which
//! sends no trace (what each backend costs an invocation it does not trace). The EMF line
//! goes to `/dev/null` opened as a file: one `write(2)` per invocation, as in the other
//! benches.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::{PerfLayer, TraceBackend, xray};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use tower::{Layer, Service, service_fn};

#[path = "common/marker_dir.rs"]
mod marker_dir;
#[path = "common/receiving_daemon.rs"]
mod receiving_daemon;

use marker_dir::marker_dir;
use receiving_daemon::ReceivingDaemon;

fn event(sampled: bool) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    context.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    ));
    LambdaEvent::new(Value::Null, context)
}

async fn instrumented(_: LambdaEvent<Value>) -> Result<u32, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    xray::annotate("tier", "gold");
    Ok(1)
}

/// An OTLP/HTTP collector that reads each request and answers 200.
fn collector() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if writer.write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    endpoint
}

fn warm_invocation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let markers = marker_dir();
    let marker_dir = markers.path();
    let daemon = ReceivingDaemon::start().address.to_string();
    let endpoint = collector();
    let layer = |backends: &[TraceBackend]| {
        PerfLayer::builder()
            .service("bench")
            .namespace("Bench")
            .metrics_disabled(false)
            .trace_disabled(false)
            .marker_dir(marker_dir)
            .emf_writer(File::options().write(true).open("/dev/null").unwrap())
            .xray_daemon_address(daemon.clone())
            .otlp_endpoint(endpoint.clone())
            .traces(backends.iter().copied())
            .build()
            .unwrap()
    };

    let mut group = c.benchmark_group("otel warm");
    for (name, backends, sampled) in [
        ("xray, sampled", &[TraceBackend::XRay][..], true),
        ("xray-otlp, sampled", &[TraceBackend::XRayOtlp][..], true),
        ("otlp, sampled", &[TraceBackend::Otlp][..], true),
        ("otlp, unsampled", &[TraceBackend::Otlp][..], false),
        ("xray, unsampled", &[TraceBackend::XRay][..], false),
    ] {
        let mut service = layer(backends).layer(service_fn(instrumented));
        // The cold one (and the export thread's start).
        runtime.block_on(service.call(event(sampled))).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(service.call(black_box(event(sampled))))
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, warm_invocation);
criterion_main!(benches);
