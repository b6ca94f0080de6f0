//! The bundled demo function: a small checkout handler instrumented with lambda-perf, with
//! an eager client (created in `main`), a lazy one (created by the first order), downstream
//! calls as nested subsegments, metrics, and an error path. It runs under `run_concurrent`:
//! with `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda Managed Instances) it takes several
//! invocations at once.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::lazy::{TimedAsyncLazy, TimedLazy};
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray::{self, Http, Namespace, Subsegment};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};
use tower::ServiceBuilder;

/// Settings parsed at start: 20 ms, eagerly.
struct Settings {
    tax_rate: f64,
}

fn load_settings() -> Settings {
    std::thread::sleep(Duration::from_millis(20));
    Settings { tax_rate: 0.2 }
}

static SETTINGS: TimedLazy<Settings> = TimedLazy::new("settings", load_settings);

/// A catalog client: 40 ms to connect, lazily, on the first order.
struct Catalog;

impl Catalog {
    fn price_cents(&self, _order_id: &str) -> u32 {
        1250
    }
}

static CATALOG: TimedAsyncLazy<Catalog, Error> = TimedAsyncLazy::new("catalog", || {
    Box::pin(async {
        tokio::time::sleep(Duration::from_millis(40)).await;
        Ok(Catalog)
    })
});

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    // Two actions for testing the harness itself: a slow handler, and one that prints a
    // line that looks like EMF but is not.
    if let Some(sleep_ms) = event.payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
    if event.payload["action"] == "garbage" {
        let broken = r#"{"_aws":{"Timestamp":"yesterday","CloudWatchMetrics":[]}}"#;
        let _ = writeln!(std::io::stdout().lock(), "{broken}");
    }
    let order_id = event.payload["order_id"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    metrics::add_metric("Orders", Unit::Count, 1.0);
    xray::annotate("order_id", order_id.clone());

    let catalog = CATALOG.get().await?;
    let price = Subsegment::new("catalog.price")
        .namespace(Namespace::Remote)
        .http(Http::request(
            "GET",
            format!("https://catalog.example/items/{order_id}"),
        ))
        .instrument(async {
            tokio::time::sleep(Duration::from_millis(8)).await;
            xray::set_http_status(200);
            catalog.price_cents(&order_id)
        })
        .await;
    let total = Subsegment::new("tax").in_scope(|| f64::from(price) * (1.0 + SETTINGS.tax_rate));

    if event.payload["action"] == "decline" {
        metrics::add_metric("Declined", Unit::Count, 1.0);
        return Err(format!("payment for {order_id} declined").into());
    }
    // The payment provider answers in 12 ms, or as slowly as the event says.
    let charge_ms = event.payload["charge_ms"].as_u64().unwrap_or(12);
    Subsegment::new("payments.charge")
        .namespace(Namespace::Remote)
        .instrument(tokio::time::sleep(Duration::from_millis(charge_ms)))
        .await;
    metrics::add_metric("Revenue", Unit::None, total / 100.0);
    Ok(json!({ "order_id": order_id, "total_cents": total.round() }))
}

/// Runs the demo function (under the Runtime API given by `AWS_LAMBDA_RUNTIME_API`).
pub(crate) fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(_) => return ExitCode::FAILURE,
    };
    SETTINGS.init_now();
    let service = ServiceBuilder::new()
        .layer(PerfLayer::from_env())
        .service_fn(handler);
    match runtime.block_on(lambda_runtime::run_concurrent(service)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
