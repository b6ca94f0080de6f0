//! A function behind `PerfLayer` whose event says what the handler does, for the scenarios
//! the examples do not cover. Every event records the metric `Attempts` first, then:
//!
//! - `{"action":"ok"}`: responds `{"done":"ok"}`;
//! - `{"action":"error"}`: returns an error; `{"action":"panic"}`: panics;
//! - `{"action":"many"}`: records 150 metrics, 120 values of one of them, a high-resolution
//!   metric and metadata, so its metrics need several EMF lines;
//! - `{"action":"trace"}`: annotates and adds metadata to the handler subsegment, runs a
//!   nested subsegment `work` holding a `tracing` span `lookup`, and a nested subsegment
//!   `nested_failure` that fails; responds `{"done":"trace"}`;
//! - `{"action":"bad_metrics"}`: records a NaN value and an invalid dimension (twice each),
//!   which the plain API drops with one warning per kind;
//! - `"tag":"x"`: adds the dimension and the annotation `tag=x`; `"sleep_ms":n`: sleeps first;
//!   `"then_sleep_ms":n`: sleeps last, recording nothing after (a handler near its deadline
//!   whose values all went out in the timeout watchdog's line).
//!
//! It runs with `run_concurrent`, so `AWS_LAMBDA_MAX_CONCURRENCY` lets invocations overlap,
//! and with `XRayLayer` installed, so `tracing` spans become subsegments. Its environment:
//! `SCENARIO_INIT_MS=n` spends n ms in init (a sleep before the runtime starts);
//! `SCENARIO_SNAPSTART_HOOK=1` registers lambda-perf's `SnapStartHook` with the runtime;
//! `SCENARIO_COMPANION=1` adds `PerfRuntimeLayer` to it, so that the telemetry is written after
//! the response is posted; `SCENARIO_SLOW_EMF_MS=n` makes every EMF write take n ms more (a
//! slow stdout), so that where the writes happen shows in when the lines arrive.

use std::io::Write;
use std::time::Duration;

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray::{self, Subsegment, XRayLayer};
use lambda_perf_core::{PerfLayer, PerfRuntimeLayer, SnapStartHook};
use lambda_runtime::{Error, LambdaEvent, Runtime};
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tracing_subscriber::prelude::*;

#[tracing::instrument(fields(annotation.table = "users", xray.namespace = "aws"))]
async fn lookup(user: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    user * 2
}

async fn fail() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("boom from nested subsegment"))
}

async fn trace_scenario() -> Value {
    xray::annotate("customer_tier", "gold");
    xray::annotate("order_count", 3);
    xray::annotate("ratio", 0.75);
    xray::annotate("is_retry", false);
    xray::add_metadata(
        "demo_ns",
        "payload",
        json!({ "items": [1, 2], "note": "hi" }),
    );
    let doubled = Subsegment::new("work")
        .instrument(async { lookup(21).await })
        .await;
    let failed = Subsegment::new("nested_failure")
        .instrument_fallible(fail())
        .await
        .is_err();
    json!({ "done": "trace", "doubled": doubled, "failed": failed })
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    metrics::add_metric("Attempts", Unit::Count, 1.0);
    if let Some(tag) = payload["tag"].as_str() {
        metrics::add_dimension("tag", tag.to_owned());
        xray::annotate("tag", tag.to_owned());
    }
    if let Some(sleep_ms) = payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        metrics::add_metric("Attempts", Unit::Count, 1.0);
    }
    if let Some(sleep_ms) = payload["then_sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
    match payload["action"].as_str() {
        Some("error") => Err("the scenario asked for an error".into()),
        Some("panic") => panic!("the scenario asked for a panic"),
        Some("trace") => Ok(trace_scenario().await),
        Some("bad_metrics") => {
            for _ in 0..2 {
                metrics::add_metric("Broken", Unit::Count, f64::NAN);
                metrics::add_dimension("bad\nname", "x");
            }
            Ok(json!({ "done": "bad_metrics" }))
        }
        Some("many") => {
            for i in 0..150 {
                metrics::add_metric(format!("Metric{i}"), Unit::Count, 1.0);
            }
            for i in 0..120 {
                metrics::add_metric("Metric0", Unit::Count, f64::from(i));
            }
            metrics::add_high_resolution_metric("Latency", Unit::Milliseconds, 1.5);
            metrics::add_metadata("detail", json!({ "nested": [1, 2, 3] }));
            Ok(json!({ "done": "many" }))
        }
        _ => Ok(json!({ "done": payload["action"] })),
    }
}

/// Stdout, `.0` slower per write.
struct SlowStdout(Duration);

impl Write for SlowStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(self.0);
        std::io::stdout().lock().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::registry().with(XRayLayer::new()).init();
    let init_ms = std::env::var("SCENARIO_INIT_MS").map_or(0, |ms| ms.parse().unwrap_or(0));
    tokio::time::sleep(Duration::from_millis(init_ms)).await;
    let slow_ms = std::env::var("SCENARIO_SLOW_EMF_MS").map_or(0, |ms| ms.parse().unwrap_or(0));
    let layer = if slow_ms > 0 {
        PerfLayer::builder()
            .emf_writer(SlowStdout(Duration::from_millis(slow_ms)))
            .build()?
    } else {
        PerfLayer::from_env()
    };
    let service = ServiceBuilder::new().layer(layer).service_fn(handler);
    if std::env::var("SCENARIO_COMPANION").as_deref() == Ok("1") {
        return Runtime::new(service)
            .layer(PerfRuntimeLayer::new())
            .run_concurrent()
            .await;
    }
    if std::env::var("SCENARIO_SNAPSTART_HOOK").as_deref() == Ok("1") {
        Runtime::new(service)
            .register_snapstart_resource(std::sync::Arc::new(SnapStartHook))
            .run_concurrent()
            .await
    } else {
        lambda_runtime::run_concurrent(service).await
    }
}
