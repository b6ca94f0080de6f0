//! A Lambda function whose trace is OpenTelemetry spans, sent over OTLP/HTTP to the collector
//! of the ADOT (or OpenTelemetry) Lambda layer.
//!
//! The code says nothing about where traces go: `PerfLayer::from_env()` reads
//! `LAMBDA_PERF_TRACES`. Deployed with `LAMBDA_PERF_TRACES=otlp`, the spans go to
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`); with
//! `LAMBDA_PERF_TRACES=xray-otlp`, the same spans go straight into X-Ray through the Lambda
//! X-Ray daemon, with no collector; with `xray` (the default), as X-Ray subsegments.
//!
//! Each invocation is one tree: the handler span `## <function name>`, the `price lookup`
//! subsegment around the call to the pricing service, and the `reserve_stock` span of
//! `tracing` under it.

use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::xray::{self, Namespace, Subsegment, XRayLayer};
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;
use tracing_subscriber::prelude::*;

/// The event this function receives.
#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    quantity: u32,
}

/// What it answers.
#[derive(Debug, PartialEq, Serialize)]
struct Quote {
    order_id: String,
    total_cents: u64,
}

/// A `tracing` span: with `XRayLayer` installed, a nested subsegment, so a span too.
#[tracing::instrument(fields(annotation.warehouse = "eu-1"))]
async fn reserve_stock(quantity: u32) -> bool {
    tokio::time::sleep(Duration::from_millis(2)).await;
    quantity <= 100
}

/// A call to another service: its own subsegment, `remote`, so a CLIENT span; an error
/// faults it (status `ERROR` and an `exception` event).
async fn price_lookup(order: &Order) -> Result<u64, Error> {
    Subsegment::new("price lookup")
        .namespace(Namespace::Remote)
        .instrument_fallible(async {
            if !reserve_stock(order.quantity).await {
                return Err(Error::from(format!(
                    "{} items are not in stock",
                    order.quantity
                )));
            }
            Ok(u64::from(order.quantity) * 1_250)
        })
        .await
}

async fn handler(event: LambdaEvent<Order>) -> Result<Quote, Error> {
    let order = event.payload;
    // An annotation: an attribute of the handler span, listed in `aws.xray.annotations`.
    xray::annotate("order_id", order.order_id.clone());
    let total_cents = price_lookup(&order).await?;
    Ok(Quote {
        order_id: order.order_id,
        total_cents,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // `tracing` spans become subsegments (and so spans) of the invocation they run in.
    tracing_subscriber::registry().with(XRayLayer::new()).init();
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
    use lambda_perf_core::opentelemetry::trace::Status;
    use lambda_perf_core::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
    use lambda_perf_core::test_util::{Recorder, event};
    use tower::service_fn;

    fn order(quantity: u32) -> LambdaEvent<Order> {
        event(Order {
            order_id: "o-1".into(),
            quantity,
        })
    }

    /// A recorder whose spans go to an in-memory exporter.
    fn recorder() -> (Recorder, InMemorySpanExporter) {
        let spans = InMemorySpanExporter::default();
        let exporter = spans.clone();
        (Recorder::with(|layer| layer.span_exporter(exporter)), spans)
    }

    fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
        spans.iter().find(|span| span.name == name).unwrap()
    }

    /// `XRayLayer` as the global subscriber, as in `main`, for every test of the process.
    /// (A subscriber set for one test's thread only is not enough: `tracing` may decide,
    /// while another test runs the same code without one, that `reserve_stock`'s span is
    /// never wanted.)
    fn install_tracing() {
        // The first test to get here installs it; the others wait until it is installed.
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| tracing_subscriber::registry().with(XRayLayer::new()).init());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_invocation_is_one_tree_of_spans() {
        install_tracing();
        let (recorder, spans) = recorder();
        let quote = recorder.run(service_fn(handler), order(3)).await.unwrap();
        assert_eq!(quote.total_cents, 3_750);

        let spans = spans.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 3);
        let handler = named(&spans, "## handler");
        let lookup = named(&spans, "price lookup");
        let reserve = named(&spans, "reserve_stock");
        assert_eq!(lookup.parent_span_id, handler.span_context.span_id());
        assert_eq!(reserve.parent_span_id, lookup.span_context.span_id());
        let attribute = |span: &SpanData, key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.as_str().into_owned())
        };
        assert_eq!(attribute(handler, "order_id").as_deref(), Some("o-1"));
        // Always there; `true` only for the process's first invocation, which `cargo test`
        // may have given to the other test.
        assert!(matches!(
            attribute(handler, "faas.coldstart").as_deref(),
            Some("true" | "false")
        ));
        assert_eq!(attribute(reserve, "warehouse").as_deref(), Some("eu-1"));
        // The same tree as the X-Ray subsegments.
        assert_eq!(recorder.xray().documents().len(), 3);
    }

    #[tokio::test]
    async fn an_order_out_of_stock_is_an_error_span() {
        install_tracing();
        let (recorder, spans) = recorder();
        let error = recorder
            .run(service_fn(handler), order(500))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "500 items are not in stock");
        let spans = spans.get_finished_spans().unwrap();
        let lookup = named(&spans, "price lookup");
        assert_eq!(lookup.status, Status::error("500 items are not in stock"));
        let handler = named(&spans, "## handler");
        assert_eq!(handler.events[0].name, "exception");
    }
}
