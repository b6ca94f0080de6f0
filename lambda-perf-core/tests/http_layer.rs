//! `PerfLayer` over `lambda_http` handlers (feature `http`): every response type
//! `lambda_http::run` accepts, captured as its status and handed back unchanged.

#![cfg(feature = "http")]

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, IntoResponse, Request, RequestExt, Response, service_fn};
use lambda_perf_core::test_util::{Recorder, event};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

/// A request as `lambda_http::run` hands it over: with its Lambda context.
fn request() -> Request {
    let context = event(()).context;
    Request::new(Body::Empty).with_lambda_context(context)
}

/// Runs `handler` behind the recorder's layer; returns its response and the recorded status.
async fn run<R, F>(handler: fn(Request) -> F) -> (R, Value)
where
    F: Future<Output = Result<R, Error>> + Send,
    R: IntoResponse,
    lambda_perf_core::layer::HttpStatus: lambda_perf_core::layer::ResponseCapture<R>,
{
    let recorder = Recorder::new();
    let service = recorder.layer().layer(service_fn(handler));
    let response = service.oneshot(request()).await.unwrap();
    let subsegment = recorder.xray().named("## handler").unwrap();
    let status = subsegment["metadata"]["test"]["handler response"].clone();
    (response, status)
}

#[tokio::test]
async fn every_response_lambda_http_accepts_is_captured_as_its_status() {
    let (response, status) = run(|_| async {
        Ok::<_, Error>(Response::builder().status(404).body(Body::Empty).unwrap())
    })
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(status, json!({"status": 404}));

    let (response, status) = run(|_| async { Ok::<_, Error>(json!({"id": 7})) }).await;
    assert_eq!(response, json!({"id": 7}));
    assert_eq!(status, json!({"status": 200}));

    let (response, status) = run(|_| async { Ok::<_, Error>(String::from("hello")) }).await;
    assert_eq!(response, "hello");
    assert_eq!(status, json!({"status": 200}));

    let (response, status) = run(|_| async { Ok::<_, Error>("hello") }).await;
    assert_eq!(response, "hello");
    assert_eq!(status, json!({"status": 200}));

    let (response, status) = run(|_| async { Ok::<_, Error>(vec![1_u8, 2]) }).await;
    assert_eq!(response, [1, 2]);
    assert_eq!(status, json!({"status": 200}));

    let (response, status) = run(|_| async { Ok::<_, Error>(&b"raw"[..]) }).await;
    assert_eq!(response, b"raw");
    assert_eq!(status, json!({"status": 200}));

    let (response, status) =
        run(|_| async { Ok::<_, Error>((StatusCode::CREATED, String::from("made"))) }).await;
    assert_eq!(response, (StatusCode::CREATED, String::from("made")));
    assert_eq!(status, json!({"status": 201}));

    let (_, status) = run(|_| async { Ok::<_, Error>((StatusCode::ACCEPTED, "later")) }).await;
    assert_eq!(status, json!({"status": 202}));

    let (_, status) =
        run(|_| async { Ok::<_, Error>((StatusCode::IM_A_TEAPOT, &b"tea"[..])) }).await;
    assert_eq!(status, json!({"status": 418}));

    let (_, status) =
        run(|_| async { Ok::<_, Error>((StatusCode::SERVICE_UNAVAILABLE, vec![0_u8])) }).await;
    assert_eq!(status, json!({"status": 503}));

    let (_, status) =
        run(|_| async { Ok::<_, Error>((StatusCode::BAD_REQUEST, json!({"error": "no"}))) }).await;
    assert_eq!(status, json!({"status": 400}));
}

/// `without_response_capture()` records no response metadata, over a `lambda_http` handler
/// as over any other: not even the status, and the response is handed back unchanged.
#[tokio::test]
async fn without_response_capture_an_http_response_is_not_recorded() {
    let recorder = Recorder::new();
    let service = recorder
        .layer()
        .without_response_capture()
        .layer(service_fn(|_: Request| async {
            Ok::<_, Error>(Response::builder().status(503).body(Body::Empty).unwrap())
        }));
    let response = service.oneshot(request()).await.unwrap();
    assert_eq!(response.status(), 503);
    let subsegment = recorder.xray().named("## handler").unwrap();
    assert!(subsegment.get("metadata").is_some(), "{subsegment}");
    assert!(
        subsegment["metadata"]["test"]
            .get("handler response")
            .is_none(),
        "{subsegment}"
    );
}
