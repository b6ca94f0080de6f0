//! A Lambda function behind `PerfLayer` that records a metric per order.
//!
//! Every invocation writes one EMF line on stdout (plus a `ColdStart` line on cold starts):
//! CloudWatch turns them into the `OrdersPlaced`, `ItemsOrdered` and `RejectedOrders` metrics.
//! `lambda_perf_core::init()` makes its `tracing` events JSON log lines that carry the
//! invocation's request id, trace id and cold start flag.

use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;

/// The event this function receives.
#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    quantity: u32,
}

/// What it answers.
#[derive(Debug, PartialEq, Serialize)]
struct Receipt {
    order_id: String,
    quantity: u32,
    status: &'static str,
}

async fn handler(event: LambdaEvent<Order>) -> Result<Receipt, Error> {
    let order = event.payload;
    if order.quantity == 0 {
        tracing::warn!(order_id = %order.order_id, "order rejected: no items");
        metrics::add_metric("RejectedOrders", Unit::Count, 1.0);
        return Err(format!("order {} has no items", order.order_id).into());
    }
    metrics::add_metric("OrdersPlaced", Unit::Count, 1.0);
    metrics::add_metric("ItemsOrdered", Unit::Count, f64::from(order.quantity));
    metrics::add_dimension("channel", "web");
    tracing::info!(order_id = %order.order_id, quantity = order.quantity, "order placed");
    Ok(Receipt {
        order_id: order.order_id,
        quantity: order.quantity,
        status: "accepted",
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON log lines with the invocation's keys, and the X-Ray layer for spans.
    lambda_perf_core::init()?;
    lambda_runtime::run(
        ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service_fn(handler),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_perf_core::test_util::{Recorder, event};
    use serde_json::json;
    use tower::service_fn;

    fn order(quantity: u32) -> LambdaEvent<Order> {
        event(Order {
            order_id: "o-1".into(),
            quantity,
        })
    }

    #[tokio::test]
    async fn places_an_order_and_writes_its_metrics() {
        let recorder = Recorder::with(|layer| layer.service("orders").namespace("Shop"));
        let receipt = recorder.run(service_fn(handler), order(3)).await.unwrap();
        assert_eq!(
            receipt,
            Receipt {
                order_id: "o-1".into(),
                quantity: 3,
                status: "accepted",
            }
        );
        let lines = recorder.emf().lines();
        let written = lines.last().unwrap();
        assert_eq!(written["OrdersPlaced"], json!([1.0]));
        assert_eq!(written["ItemsOrdered"], json!([3.0]));
        assert_eq!(written["channel"], "web");
        assert_eq!(written["service"], "orders");
        assert_eq!(written["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop");
    }

    #[tokio::test]
    async fn rejects_an_empty_order_and_counts_it() {
        let recorder = Recorder::new();
        let error = recorder
            .run(service_fn(handler), order(0))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "order o-1 has no items");
        let lines = recorder.emf().lines();
        let written = lines.last().unwrap();
        assert_eq!(written["RejectedOrders"], json!([1.0]));
        assert_eq!(written["lambda_perf"]["outcome"], "error");
        let subsegment = recorder.xray().named("## handler").unwrap();
        assert_eq!(subsegment["fault"], true);
    }
}
