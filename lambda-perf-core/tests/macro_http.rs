//! `#[instrument_lambda]` on `lambda_http` handlers (feature `http`) records what `PerfLayer`
//! records for them: the response's status, whatever body type the handler returns.

#![cfg(all(feature = "http", feature = "macros"))]

#[path = "common/macro_environment.rs"]
mod macro_environment;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use lambda_perf_core::instrument_lambda;
use macro_environment::{daemon_environment, request};
use serde_json::{Value, json};

#[instrument_lambda(name = "web")]
async fn full_response(_request: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder().status(404).body(Body::Empty)?)
}

#[instrument_lambda(name = "web")]
async fn json_body(_request: Request) -> Result<Value, Error> {
    Ok(json!({ "card": "4111 1111 1111 1111" }))
}

#[instrument_lambda(name = "web")]
async fn text_body(_request: Request) -> Result<String, Error> {
    Ok(String::from("a page"))
}

#[instrument_lambda(name = "web")]
async fn status_and_body(_request: Request) -> Result<(StatusCode, String), Error> {
    Ok((StatusCode::CREATED, String::from("made")))
}

/// The handler subsegment's document in the next datagram `daemon` receives.
fn received(daemon: &std::net::UdpSocket) -> Value {
    serde_json::from_slice(&macro_environment::received(daemon)).unwrap()
}

#[test]
fn every_http_response_is_captured_as_its_status_as_perf_layer_captures_it() {
    let (daemon, _markers) = daemon_environment(&[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let captured = |document: Value| document["metadata"]["test"]["web response"].clone();

        let response = full_response(request()).await.unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(captured(received(&daemon)), json!({ "status": 404 }));

        let response = json_body(request()).await.unwrap();
        assert_eq!(response, json!({ "card": "4111 1111 1111 1111" }));
        assert_eq!(captured(received(&daemon)), json!({ "status": 200 }));

        let response = text_body(request()).await.unwrap();
        assert_eq!(response, "a page");
        assert_eq!(captured(received(&daemon)), json!({ "status": 200 }));

        let response = status_and_body(request()).await.unwrap();
        assert_eq!(response.0, StatusCode::CREATED);
        assert_eq!(captured(received(&daemon)), json!({ "status": 201 }));
    });
}
