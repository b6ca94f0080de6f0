//! `PerfService` for `lambda_http` handlers (feature `http`): an axum router, a
//! `lambda_http::service_fn`, anything that is a `Service<lambda_http::Request>`. Under
//! `lambda_http::run_with_streaming_response` the invocation ends when the handler returns
//! the response's head: the body's streaming after it is not in its duration.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::{Value, json};
use tower::Service;

use super::capture::{JsonText, NoResponseCapture, ResponseCapture, SerializeResponse};
use super::{PerfFuture, PerfService, invocation_future};
use crate::formats::faas_trigger::FaasTrigger;
use crate::formats::json::push_u64;
use crate::invocation::instrumentation::Instrumentation;

/// Captures an HTTP response as `{"status": <code>}`: the body of a web response is rarely
/// worth a trace's space. Every response type `lambda_http::run` accepts is captured: a
/// `Response<B>`, a body alone (`String`, `&str`, `Vec<u8>`, `&[u8]`, `serde_json::Value`:
/// status 200), or a `(StatusCode, body)` pair.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpStatus;

/// The status a handler's response is sent with.
trait Status {
    fn status(&self) -> u16;
}

impl<B> Status for http::Response<B> {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// `lambda_http`'s responses that are a body alone: sent with 200.
macro_rules! ok_body {
    ($($body:ty),*) => {$(
        impl Status for $body {
            fn status(&self) -> u16 {
                200
            }
        }

        impl Status for (http::StatusCode, $body) {
            fn status(&self) -> u16 {
                self.0.as_u16()
            }
        }
    )*};
}

ok_body!(String, &str, Vec<u8>, &[u8], Value);

impl<R: Status> ResponseCapture<R> for HttpStatus {
    fn capture(response: &R) -> Option<Value> {
        Some(json!({ "status": response.status() }))
    }

    fn write_json(response: &R, out: JsonText<'_>) -> bool {
        out.0.extend_from_slice(b"{\"status\":");
        push_u64(out.0, response.status().into());
        out.0.push(b'}');
        true
    }
}

/// `PerfLayer` over a `lambda_http` handler: its response is captured as its status
/// ([`HttpStatus`]), or not at all after
/// [`without_response_capture`](crate::PerfLayer::without_response_capture).
macro_rules! http_service {
    ($($capture:ty => $http_capture:ty),*) => {$(
        impl<S> Service<lambda_http::Request> for PerfService<S, $capture>
        where
            S: Service<lambda_http::Request>,
            $http_capture: ResponseCapture<S::Response>,
            S::Error: fmt::Debug + 'static,
        {
            type Response = S::Response;
            type Error = S::Error;
            type Future = PerfFuture<S::Future, $http_capture>;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, request: lambda_http::Request) -> Self::Future {
                let invocation = begin(&self.instrumentation, &request);
                PerfFuture::start(invocation, || self.inner.call(request))
            }
        }
    )*};
}

http_service!(SerializeResponse => HttpStatus, NoResponseCapture => NoResponseCapture);

/// Begins the invocation of `request`, an HTTP one, with its Lambda context (a default one
/// when it has none).
fn begin(
    instrumentation: &Arc<Instrumentation>,
    request: &lambda_http::Request,
) -> invocation_future::Begun {
    use lambda_http::RequestExt;

    let trigger = FaasTrigger::Http;
    match request.lambda_context_ref() {
        Some(context) => invocation_future::begin(instrumentation, context, trigger),
        None => {
            let context = lambda_runtime::Context::default();
            invocation_future::begin(instrumentation, &context, trigger)
        }
    }
}
