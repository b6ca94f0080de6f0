//! What `PerfLayer` adds to a warm invocation: a bare handler against the same handler
//! instrumented, recording one metric and one annotation, with EMF lines written to a sink
//! that discards them and, when sampled, the subsegment sent to a local UDP socket.

use std::hint::black_box;
use std::io;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray;
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use tower::{Layer, Service, service_fn};

fn event(sampled: bool) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    context.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    ));
    LambdaEvent::new(Value::Null, context)
}

async fn bare(_: LambdaEvent<Value>) -> Result<u32, Error> {
    Ok(1)
}

async fn instrumented(_: LambdaEvent<Value>) -> Result<u32, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    xray::annotate("tier", "gold");
    Ok(1)
}

fn warm_invocation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let marker_dir = std::env::temp_dir().join(format!("lambda-perf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&marker_dir).unwrap();
    let layer = PerfLayer::builder()
        .service("bench")
        .namespace("Bench")
        .metrics_disabled(false)
        .trace_disabled(false)
        .marker_dir(&marker_dir)
        .emf_writer(io::sink())
        .xray_daemon_address(daemon.local_addr().unwrap().to_string())
        .build()
        .unwrap();

    let mut group = c.benchmark_group("warm");
    let mut plain = service_fn(bare);
    group.bench_function("bare handler", |b| {
        b.iter(|| {
            runtime
                .block_on(plain.call(black_box(event(true))))
                .unwrap()
        });
    });
    let mut unsampled = layer.layer(service_fn(instrumented));
    runtime.block_on(unsampled.call(event(false))).unwrap(); // the cold one
    group.bench_function("PerfLayer, unsampled", |b| {
        b.iter(|| {
            runtime
                .block_on(unsampled.call(black_box(event(false))))
                .unwrap()
        });
    });
    let measured = PerfLayer::builder()
        .service("bench")
        .namespace("Bench")
        .metrics_disabled(false)
        .trace_disabled(false)
        .resource_usage(true)
        .marker_dir(&marker_dir)
        .emf_writer(io::sink())
        .xray_daemon_address(daemon.local_addr().unwrap().to_string())
        .build()
        .unwrap();
    let mut with_usage = measured.layer(service_fn(instrumented));
    group.bench_function("PerfLayer, unsampled, resource usage", |b| {
        b.iter(|| {
            runtime
                .block_on(with_usage.call(black_box(event(false))))
                .unwrap()
        });
    });
    let mut sampled = layer.layer(service_fn(instrumented));
    group.bench_function("PerfLayer, sampled", |b| {
        b.iter(|| {
            runtime
                .block_on(sampled.call(black_box(event(true))))
                .unwrap()
        });
    });
    group.finish();
    drop(daemon);
}

criterion_group!(benches, warm_invocation);
criterion_main!(benches);
