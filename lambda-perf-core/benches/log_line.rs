//! What one log line costs: a `tracing::info!` with two fields, written by `init`'s layers
//! to a real file descriptor (`/dev/null` opened as a file: one `write(2)` per line) — inside
//! an invocation (the invocation's keys looked up and written), in text, outside one, inside
//! a span with fields — and what an event below the level costs. Beside them, the floor: one
//! `write(2)` of the line written inside an invocation (the same bytes, taken from the log
//! layer), to the same kind of descriptor.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::sync::{Arc, Mutex};

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_perf_core::logs::LogFormat;
use lambda_perf_core::{InitBuilder, PerfLayer};
use lambda_runtime::{Config, Context, Error, LambdaEvent};
use tower::{Layer, Service, service_fn};
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

fn event() -> LambdaEvent<()> {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    context.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders".into();
    context.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into());
    context.env_config = std::sync::Arc::new(Config {
        function_name: "orders".into(),
        memory: 128,
        ..Config::default()
    });
    LambdaEvent::new((), context)
}

fn dev_null() -> File {
    File::options().write(true).open("/dev/null").unwrap()
}

/// The lines written to it, kept.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<u8>>>);

impl Write for Kept {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn subscriber(format: LogFormat) -> tracing::Dispatch {
    subscriber_to(format, dev_null())
}

fn subscriber_to(format: LogFormat, writer: impl Write + Send + 'static) -> tracing::Dispatch {
    let layers = InitBuilder::from_env()
        .log_level(Level::INFO)
        .log_format(format)
        .log_writer(writer)
        .layer::<Registry>()
        .unwrap();
    tracing::Dispatch::new(tracing_subscriber::registry().with(layers))
}

fn log_line(c: &mut Criterion) {
    let layer = PerfLayer::builder()
        .service("orders")
        .namespace("Bench")
        .without_marker()
        .trace_disabled(true)
        // The invocation's own EMF line, written once after the measurements, to a real
        // descriptor as well.
        .emf_writer(dev_null())
        .build()
        .unwrap();
    let mut group = c.benchmark_group("log line");
    // The JSON line written inside an invocation, as the log layer writes it.
    let kept = Kept::default();
    for (name, format) in [("JSON", LogFormat::Json), ("text", LogFormat::Text)] {
        let dispatch = subscriber(format);
        let _default = tracing::dispatcher::set_default(&dispatch);
        // The handler's call runs inside its invocation: the benchmark runs there.
        let mut service = layer.layer(service_fn(|_: LambdaEvent<()>| {
            if format == LogFormat::Json {
                let keeping = subscriber_to(format, kept.clone());
                tracing::dispatcher::with_default(&keeping, || {
                    tracing::info!(order = black_box(7_u64), currency = "EUR", "order placed");
                });
            }
            group.bench_function(format!("{name}, inside an invocation"), |b| {
                b.iter(|| {
                    tracing::info!(order = black_box(7_u64), currency = "EUR", "order placed");
                });
            });
            std::future::ready(Ok::<_, Error>(()))
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(service.call(event())).unwrap();
    }

    let dispatch = subscriber(LogFormat::Json);
    let _default = tracing::dispatcher::set_default(&dispatch);
    group.bench_function("JSON, outside an invocation", |b| {
        b.iter(|| tracing::info!(order = black_box(7_u64), currency = "EUR", "order placed"));
    });
    group.bench_function(
        "JSON, in a span with two fields, outside an invocation",
        |b| {
            let span = tracing::info_span!("checkout", cart = 3_u64, user = "ann");
            let _entered = span.enter();
            b.iter(|| tracing::info!(order = black_box(7_u64), currency = "EUR", "order placed"));
        },
    );
    group.bench_function("debug! below the level", |b| {
        b.iter(|| tracing::debug!(order = black_box(7_u64), "detail"));
    });
    let line = kept.0.lock().unwrap().clone();
    assert!(line.ends_with(b"\n") && line.len() > 100, "one JSON line");
    let file = dev_null();
    group.bench_function(
        format!(
            "floor: one write(2) of the JSON line inside an invocation ({} bytes)",
            line.len()
        ),
        |b| b.iter(|| (&file).write_all(black_box(&line)).unwrap()),
    );
    group.finish();
}

criterion_group!(benches, log_line);
criterion_main!(benches);
