//! `PerfService` for `lambda_http` handlers (feature `http`): an axum router, a
//! `lambda_http::service_fn`, anything that is a `Service<lambda_http::Request>`.

use std::fmt;
use std::task::{Context, Poll};

use serde_json::{Value, json};
use tower::Service;

use super::capture::{JsonText, ResponseCapture};
use super::{PerfFuture, PerfService, invocation_future};
use crate::formats::json::push_u64;

/// Captures an HTTP response as `{"status": <code>}`: the body of a web response is rarely
/// worth a trace's space.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpStatus;

impl<B> ResponseCapture<http::Response<B>> for HttpStatus {
    fn capture(response: &http::Response<B>) -> Option<Value> {
        Some(json!({ "status": response.status().as_u16() }))
    }

    fn write_json(response: &http::Response<B>, out: JsonText<'_>) -> bool {
        out.0.extend_from_slice(b"{\"status\":");
        push_u64(out.0, response.status().as_u16().into());
        out.0.push(b'}');
        true
    }
}

impl<S, C, B> Service<lambda_http::Request> for PerfService<S, C>
where
    S: Service<lambda_http::Request, Response = http::Response<B>>,
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

        let invocation = match request.lambda_context_ref() {
            Some(context) => invocation_future::begin(&self.instrumentation, context),
            None => {
                invocation_future::begin(&self.instrumentation, &lambda_runtime::Context::default())
            }
        };
        PerfFuture::start(invocation, || self.inner.call(request))
    }
}
