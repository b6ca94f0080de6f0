//! A function whose handler moves work off its own task, behind `PerfLayer` under
//! `run_concurrent`, with `XRayLayer` installed. The event's `action`:
//!
//! - `fan_out`: records on work spawned every way lambda-perf carries the invocation —
//!   `lambda_perf_core::spawn`, `tokio::spawn(….in_current_invocation())`, a `JoinSet`,
//!   `lambda_perf_core::spawn_blocking`, and plain `tokio::spawn` of a future inside a
//!   `tracing` span — each branch in a subsegment of its own, and first uses the lazy client
//!   `spawned-client` on a spawned task. Every branch is awaited.
//! - `outlive`: spawns carried work that records only after `delay_ms`, long after the
//!   handler returned, and prints what the calls returned on stderr (`outlived: …`).
//! - `background_client`: a plain `tokio::spawn`ed task (carrying nothing) creates the lazy
//!   client `background-client`, slowly; the handler waits for it too.
//! - anything else: responds at once.
//!
//! Every invocation records the metric `Calls`, so each writes its line.

use std::time::Duration;

use lambda_perf_core::lazy::{TimedAsyncLazy, TimedLazy};
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray::{self, Subsegment, XRayLayer};
use lambda_perf_core::{InCurrentInvocation, PerfLayer};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tower::ServiceBuilder;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

static SPAWNED_CLIENT: TimedLazy<u32> = TimedLazy::new("spawned-client", || {
    std::thread::sleep(Duration::from_millis(15));
    7
});

static BACKGROUND_CLIENT: TimedAsyncLazy<u32> = TimedAsyncLazy::new("background-client", || {
    Box::pin(async {
        tokio::time::sleep(Duration::from_millis(80)).await;
        Ok(9)
    })
});

async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[tracing::instrument]
async fn inside_the_span() {
    pause(5).await;
    metrics::add_metric("InNestedSpan", Unit::Count, 1.0);
}

async fn fan_out() -> Value {
    let a = lambda_perf_core::spawn(async {
        metrics::add_metric("SpawnedA", Unit::Count, 1.0);
        xray::annotate("spawned_a", true);
        Subsegment::new("branch a").instrument(pause(30)).await;
    });
    let b = tokio::spawn(
        async {
            metrics::add_metric("SpawnedB", Unit::Count, 1.0);
            Subsegment::new("branch b").instrument(pause(30)).await;
        }
        .in_current_invocation(),
    );
    let mut set = JoinSet::new();
    for item in 0..3 {
        set.spawn(
            async move {
                metrics::add_metric("JoinSetItems", Unit::Count, 1.0);
                Subsegment::new(format!("item {item}"))
                    .instrument(pause(10))
                    .await;
            }
            .in_current_invocation(),
        );
    }
    let blocking = lambda_perf_core::spawn_blocking(|| {
        metrics::add_metric("Blocking", Unit::Count, 1.0);
    });
    let span = tracing::info_span!("spawned span");
    let in_span = tokio::spawn(
        async {
            pause(20).await;
            metrics::add_metric("InSpan", Unit::Count, 1.0);
            inside_the_span().await;
        }
        .instrument(span),
    );
    let client = lambda_perf_core::spawn(async { *SPAWNED_CLIENT });

    a.await.unwrap();
    b.await.unwrap();
    while set.join_next().await.is_some() {}
    blocking.await.unwrap();
    in_span.await.unwrap();
    let client = client.await.unwrap();
    // The handler's own work after the branches: their subsegments must have ended before.
    pause(60).await;
    json!({ "done": "fan_out", "client": client })
}

fn outlive(delay_ms: u64) -> Value {
    lambda_perf_core::spawn(async move {
        pause(delay_ms).await;
        let metric = metrics::try_add_metric("Late", Unit::Count, 1.0);
        let annotation = xray::try_annotate("late", 1);
        let line = format!("outlived: metric={metric:?} annotation={annotation:?}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    });
    json!({ "done": "outlive" })
}

async fn background_client() -> Value {
    tokio::spawn(async { BACKGROUND_CLIENT.get().await.copied() });
    pause(10).await;
    let value = *BACKGROUND_CLIENT.get().await.unwrap_or(&0);
    json!({ "done": "background_client", "client": value })
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    metrics::add_metric("Calls", Unit::Count, 1.0);
    Ok(match payload["action"].as_str() {
        Some("fan_out") => fan_out().await,
        Some("outlive") => outlive(payload["delay_ms"].as_u64().unwrap_or(100)),
        Some("background_client") => background_client().await,
        _ => json!({ "done": payload["action"] }),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::registry().with(XRayLayer::new()).init();
    lambda_runtime::run_concurrent(
        ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service_fn(handler),
    )
    .await
}
