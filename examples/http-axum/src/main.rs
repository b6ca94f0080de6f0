//! An axum router behind `PerfLayer`, served by `lambda_http::run` (API Gateway HTTP API,
//! Function URLs): every request is classified, measured and traced like any handler.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use lambda_http::Error;
use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use serde::Serialize;
use tower::ServiceBuilder;

/// An order as the API returns it.
#[derive(Debug, PartialEq, Serialize)]
struct Order {
    id: u32,
    status: &'static str,
}

async fn get_order(Path(id): Path<u32>) -> Result<Json<Order>, StatusCode> {
    metrics::add_metric("OrderLookups", Unit::Count, 1.0);
    if id == 0 {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(Json(Order {
        id,
        status: "shipped",
    }))
}

fn app() -> Router {
    Router::new().route("/orders/{id}", get(get_order))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON log lines with the invocation's keys, and the X-Ray layer for spans.
    lambda_perf_core::init()?;
    lambda_http::run(
        ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service(app()),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn get(uri: &str) -> (StatusCode, String) {
        let request = axum::http::Request::get(uri).body(Body::empty()).unwrap();
        let response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn finds_an_order() {
        assert_eq!(
            get("/orders/7").await,
            (StatusCode::OK, r#"{"id":7,"status":"shipped"}"#.to_owned())
        );
    }

    #[tokio::test]
    async fn order_zero_does_not_exist() {
        assert_eq!(get("/orders/0").await.0, StatusCode::NOT_FOUND);
    }

    /// Behind the layer, as `lambda_http::run` serves it: each request is an invocation
    /// whose metrics and subsegment the recorder keeps (nothing goes to stdout or to the
    /// X-Ray daemon), with the response's status as the response metadata.
    #[tokio::test]
    async fn each_request_is_measured_and_traced_with_its_status() {
        use lambda_http::RequestExt;
        use lambda_perf_core::test_util::{Recorder, event};
        use serde_json::json;
        use tower::{Layer, Service};

        let recorder = Recorder::new();
        let mut service = recorder.layer().layer(app());
        for (uri, status) in [
            ("/orders/7", StatusCode::OK),
            ("/orders/0", StatusCode::NOT_FOUND),
        ] {
            // A request as `lambda_http::run` hands it over: with its Lambda context.
            let request = axum::http::Request::get(uri)
                .body(lambda_http::Body::Empty)
                .unwrap()
                .with_lambda_context(event(()).context);
            let response = service.ready().await.unwrap().call(request).await.unwrap();
            assert_eq!(response.status(), status);

            let lines = recorder.emf().lines();
            let written = lines.last().unwrap();
            assert_eq!(written["OrderLookups"], json!([1.0]));
            assert_eq!(written["lambda_perf"]["outcome"], "success");
            let subsegment = recorder.xray().take().pop().unwrap();
            assert_eq!(subsegment["name"], "## handler");
            assert_eq!(
                subsegment["metadata"]["test"]["handler response"],
                json!({ "status": status.as_u16() })
            );
        }
    }
}
