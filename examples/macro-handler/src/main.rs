//! A Lambda handler instrumented with `#[instrument_lambda]`: the same start classification,
//! `ColdStart` line, `## <function name>` subsegment and metrics as `PerfLayer`, in one line.

use lambda_perf_core::instrument_lambda;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};

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

/// Places an order.
#[instrument_lambda(service = "orders", namespace = "Shop")]
async fn handler(event: LambdaEvent<Order>) -> Result<Receipt, Error> {
    let order = event.payload;
    if order.quantity == 0 {
        metrics::add_metric("RejectedOrders", Unit::Count, 1.0);
        return Err(format!("order {} has no items", order.order_id).into());
    }
    xray::annotate("order_id", order.order_id.clone());
    metrics::add_metric("OrdersPlaced", Unit::Count, 1.0);
    metrics::add_metric("ItemsOrdered", Unit::Count, f64::from(order.quantity));
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
    lambda_runtime::run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_perf_core::test_util::{Recorder, event};
    use serde_json::json;

    fn order(quantity: u32) -> LambdaEvent<Order> {
        event(Order {
            order_id: "o-1".into(),
            quantity,
        })
    }

    #[tokio::test]
    async fn places_an_order_and_writes_its_metrics() {
        // The recorder runs the handler inside its own test invocation: nothing goes to
        // stdout or the X-Ray daemon, and no marker file is left behind.
        let recorder = Recorder::new();
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
        let subsegment = recorder.xray().named("## handler").unwrap();
        assert_eq!(subsegment["annotations"]["order_id"], "o-1");
    }

    #[tokio::test]
    async fn rejects_an_empty_order() {
        let recorder = Recorder::new();
        let error = recorder
            .run(service_fn(handler), order(0))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "order o-1 has no items");
        assert_eq!(
            recorder.emf().lines().last().unwrap()["RejectedOrders"],
            json!([1.0])
        );
    }

    #[test]
    fn the_instrumented_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        assert_send(&handler(order(1)));
    }
}
