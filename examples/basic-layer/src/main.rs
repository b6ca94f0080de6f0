//! A Lambda function behind `PerfLayer` that records a metric per order.
//!
//! Every invocation writes one EMF line on stdout (plus a `ColdStart` line on cold starts):
//! CloudWatch turns them into the `OrdersPlaced`, `ItemsOrdered` and `RejectedOrders` metrics.

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
        metrics::add_metric("RejectedOrders", Unit::Count, 1.0);
        return Err(format!("order {} has no items", order.order_id).into());
    }
    metrics::add_metric("OrdersPlaced", Unit::Count, 1.0);
    metrics::add_metric("ItemsOrdered", Unit::Count, f64::from(order.quantity));
    metrics::add_dimension("channel", "web");
    Ok(Receipt {
        order_id: order.order_id,
        quantity: order.quantity,
        status: "accepted",
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
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
    use lambda_runtime::Context;
    use serde_json::Value;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tower::{Layer, ServiceExt, service_fn};

    fn order(quantity: u32) -> LambdaEvent<Order> {
        let order = Order {
            order_id: "o-1".into(),
            quantity,
        };
        LambdaEvent::new(order, Context::default())
    }

    /// Collects the EMF lines the layer writes instead of printing them.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn parsed(&self) -> Vec<Value> {
            let bytes = self.0.lock().unwrap();
            std::str::from_utf8(&bytes)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        }
    }

    #[tokio::test]
    async fn places_an_order() {
        let receipt = handler(order(3)).await.unwrap();
        assert_eq!(
            receipt,
            Receipt {
                order_id: "o-1".into(),
                quantity: 3,
                status: "accepted",
            }
        );
    }

    #[tokio::test]
    async fn rejects_an_empty_order() {
        let error = handler(order(0)).await.unwrap_err();
        assert_eq!(error.to_string(), "order o-1 has no items");
    }

    #[tokio::test]
    async fn the_layer_writes_the_order_metrics() {
        let lines = Lines::default();
        let marker_dir =
            std::env::temp_dir().join(format!("basic-layer-test-{}", std::process::id()));
        std::fs::create_dir_all(&marker_dir).unwrap();
        let layer = PerfLayer::builder()
            .namespace("Shop")
            .service("orders")
            .cold_start_metric(false)
            .marker_dir(&marker_dir)
            .emf_writer(lines.clone())
            .build()
            .unwrap();
        layer
            .layer(service_fn(handler))
            .oneshot(order(3))
            .await
            .unwrap();

        let written = lines.parsed();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0]["OrdersPlaced"], serde_json::json!([1.0]));
        assert_eq!(written[0]["ItemsOrdered"], serde_json::json!([3.0]));
        assert_eq!(written[0]["channel"], "web");
        assert_eq!(written[0]["service"], "orders");
        std::fs::remove_dir_all(marker_dir).unwrap();
    }
}
