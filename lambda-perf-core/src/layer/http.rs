//! `PerfService` for `lambda_http` handlers (feature `http`): an axum router, a
//! `lambda_http::service_fn`, anything that is a `Service<lambda_http::Request>`.

use std::fmt;
use std::task::{Context, Poll};

use serde_json::{Value, json};
use tower::Service;

use super::capture::{JsonText, ResponseCapture};
use super::{PerfFuture, PerfService, invocation_future};
use crate::formats::faas_trigger::FaasTrigger;
use crate::formats::json::push_u64;

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

impl<S, C> Service<lambda_http::Request> for PerfService<S, C>
where
    S: Service<lambda_http::Request>,
    HttpStatus: ResponseCapture<S::Response>,
    S::Error: fmt::Debug + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = PerfFuture<S::Future, HttpStatus>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: lambda_http::Request) -> Self::Future {
        use lambda_http::RequestExt;

        let trigger = FaasTrigger::Http;
        let invocation = match request.lambda_context_ref() {
            Some(context) => invocation_future::begin(&self.instrumentation, context, trigger),
            None => {
                let context = lambda_runtime::Context::default();
                invocation_future::begin(&self.instrumentation, &context, trigger)
            }
        };
        PerfFuture::start(invocation, || self.inner.call(request))
    }
}
