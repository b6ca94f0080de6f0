//! The HTTP client of the OTLP exporter: HTTP/1.1 over hyper, which `lambda_runtime` already
//! brings for the Runtime API — no second HTTP stack, no TLS stack, no runtime of its own
//! (it runs on the export thread's). Plain `http://` only: the collector of the ADOT and
//! OpenTelemetry Lambda layers listens on the function's own host.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError};

/// The largest response body read from a collector (an `ExportTraceServiceResponse` is a
/// few bytes, or a short error).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// POSTs export requests to a collector, each within a timeout.
#[derive(Debug, Clone)]
pub(crate) struct CollectorClient {
    inner: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl CollectorClient {
    pub(crate) fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        Self {
            inner: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }
}

#[async_trait]
impl HttpClient for CollectorClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, Full::new(body));
        let exchange = async {
            let response = self.inner.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await?;
            Ok::<_, HttpError>(Response::from_parts(parts, body.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
    }
}
