//! `examples/http-axum` — an axum router behind `PerfLayer` under `lambda_http::run` — fed
//! API Gateway HTTP API events by the loopback Runtime API.

mod support;

use lambda_perf_local::emulator::{InvokeRequest, TraceHeader, XRayCollector};
use serde_json::{Value, json};
use support::*;

fn http_api_event(path: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": { "host": "orders.example.com", "accept": "application/json" },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "orders.example.com",
            "domainPrefix": "orders",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "lambda-perf-tests"
            },
            "requestId": "api-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:05:57:00 +0000",
            "timeEpoch": 1_795_413_420_000_u64
        },
        "isBase64Encoded": false
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axum_router_behind_perf_layer() {
    let collector = XRayCollector::start().await.unwrap();
    let config = function_config().with_xray_daemon_address(collector.addr().to_string());
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("http-axum"), &config).await;

    let mut kinds = Vec::new();
    for (path, status, body) in [
        ("/orders/7", 200, Some(r#"{"id":7,"status":"shipped"}"#)),
        ("/orders/0", 404, None),
    ] {
        let result = process
            .invoke(&api, InvokeRequest::json(http_api_event(path)))
            .await
            .unwrap();
        let id = result.request_id.clone();
        let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
        let response = result.into_json().unwrap();
        assert_eq!(response["statusCode"], status, "{response}");
        if let Some(body) = body {
            assert_eq!(response["body"], body);
        }

        let end = end_line(&process, &id).await;
        assert_valid_emf(&end);
        assert_eq!(end["OrderLookups"], json!([1.0]));
        assert_eq!(end["lambda_perf"]["outcome"], "success");
        kinds.push(end["lambda_perf"]["start_kind"].clone());

        let root = header.root.clone();
        let handler = collector
            .wait_for(move |doc| doc["trace_id"] == root.as_str(), WAIT)
            .await
            .unwrap();
        assert_valid_xray(&handler);
        assert_eq!(handler["name"], "## orders-fn");
        assert_eq!(handler["parent_id"], header.parent.as_str());
        assert_eq!(
            handler["metadata"]["orders"]["orders-fn response"],
            json!({ "status": status })
        );
    }
    assert_eq!(kinds, [json!("cold"), json!("warm")]);
}
