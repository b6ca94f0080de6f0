//! What init code and lazily created clients cost, per client: an eager client created in
//! `main` and a lazy one created by the first invocation that needs it.
//!
//! The clients hide behind traits, as an AWS SDK client would in a real function (no SDK is
//! needed to build this example); their constructors sleep a known time to stand in for TLS
//! handshakes, credential lookups and connection pools.

use std::time::Duration;

use lambda_perf_core::instrument_lambda;
use lambda_perf_core::lazy::{TimedAsyncLazy, TimedLazy};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};

/// Where orders live (a DynamoDB table in a real function).
trait OrderStore: Send + Sync {
    fn quantity(&self, order_id: &str) -> Option<u32>;
}

/// Prices items (an HTTP API in a real function).
trait PriceList: Send + Sync {
    fn unit_price_cents(&self) -> u32;
}

struct FixedStore;

impl OrderStore for FixedStore {
    fn quantity(&self, order_id: &str) -> Option<u32> {
        order_id.strip_prefix("o-").and_then(|n| n.parse().ok())
    }
}

struct FlatPrices;

impl PriceList for FlatPrices {
    fn unit_price_cents(&self) -> u32 {
        250
    }
}

/// Creating the store client takes 50 ms; `main` does it eagerly, at init.
fn connect_store() -> Box<dyn OrderStore> {
    std::thread::sleep(Duration::from_millis(50));
    Box::new(FixedStore)
}

static STORE: TimedLazy<Box<dyn OrderStore>> = TimedLazy::new("orders-table", connect_store);

/// Creating the price client takes 30 ms; the first invocation that needs it pays.
static PRICES: TimedAsyncLazy<Box<dyn PriceList>, Error> = TimedAsyncLazy::new("price-api", || {
    Box::pin(async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok(Box::new(FlatPrices) as Box<dyn PriceList>)
    })
});

#[derive(Debug, Deserialize)]
struct Request {
    order_id: String,
}

#[derive(Debug, PartialEq, Serialize)]
struct Quote {
    order_id: String,
    total_cents: u32,
}

#[instrument_lambda]
async fn handler(event: LambdaEvent<Request>) -> Result<Quote, Error> {
    let order_id = event.payload.order_id;
    let quantity = STORE
        .quantity(&order_id)
        .ok_or_else(|| format!("no order {order_id}"))?;
    let prices = PRICES.get().await?;
    Ok(Quote {
        total_cents: quantity * prices.unit_price_cents(),
        order_id,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON log lines with the invocation's keys, and the X-Ray layer for spans.
    lambda_perf_core::init()?;
    // Eager: paid during Lambda's init phase, recorded with phase `init`.
    STORE.init_now();
    lambda_runtime::run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_perf_core::test_util::{Recorder, event};

    fn request(order_id: &str) -> LambdaEvent<Request> {
        event(Request {
            order_id: order_id.to_owned(),
        })
    }

    #[tokio::test]
    async fn quotes_an_order_and_records_the_lazy_client_once() {
        let recorder = Recorder::new();
        let quote = recorder
            .run(service_fn(handler), request("o-4"))
            .await
            .unwrap();
        assert_eq!(
            quote,
            Quote {
                order_id: "o-4".into(),
                total_cents: 1000
            }
        );
        // The first invocation waited for the price client: its own subsegment and line.
        let init = recorder.xray().named("## init price-api").unwrap();
        assert_eq!(
            init["metadata"]["lambda_perf"]["client_init"]["phase"],
            "invocation"
        );
        let lines = recorder.emf().take_lines();
        let client = lines
            .iter()
            .find(|line| line["client"] == "price-api")
            .unwrap();
        assert!(client["ClientInitDuration"][0].as_f64().unwrap() >= 30.0);
        // The next one finds it made.
        recorder
            .run(service_fn(handler), request("o-1"))
            .await
            .unwrap();
        assert!(
            recorder
                .emf()
                .lines()
                .iter()
                .all(|line| line.get("client").is_none())
        );
    }

    #[tokio::test]
    async fn an_unknown_order_is_an_error() {
        let recorder = Recorder::new();
        let error = recorder
            .run(service_fn(handler), request("x"))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "no order x");
    }
}
