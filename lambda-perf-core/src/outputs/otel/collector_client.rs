//! The HTTP client of the OTLP exporter: the HTTP/1.1 client `lambda_runtime` already has for
//! the Runtime API (`lambda_runtime_api_client` over hyper), pointed at the collector — no
//! second HTTP stack, no TLS stack, and the same compiled code. It runs on the export thread's
//! runtime. Plain `http://` only: the collector of the ADOT and OpenTelemetry Lambda layers
//! listens on the function's own host.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use lambda_runtime_api_client::Client;
use lambda_runtime_api_client::body::Body;
use opentelemetry_http::{HttpClient, HttpError};

/// The largest response body read from a collector (an `ExportTraceServiceResponse` is a
/// few bytes, or a short error).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// POSTs export requests to one collector, each within a timeout.
pub(crate) struct CollectorClient {
    inner: Client,
    timeout: Duration,
}

impl CollectorClient {
    /// A client for the collector at `endpoint` (an `http://` URL, validated by the
    /// configuration); requests keep their own path.
    pub(crate) fn new(endpoint: &str, timeout: Duration) -> Result<Self, String> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|error| format!("{endpoint:?} is not a URL: {error}"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{endpoint:?} names no host"))?;
        let origin: Uri = format!("http://{authority}")
            .parse()
            .map_err(|error| format!("{endpoint:?}: {error}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let inner = Client::builder()
            .with_connector(connector)
            .with_endpoint(origin)
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Self { inner, timeout })
    }
}

impl fmt::Debug for CollectorClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorClient")
            .field("collector", &self.inner.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait]
impl HttpClient for CollectorClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, Body::from(body));
        let exchange = async {
            let response = self.inner.call(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES).collect().await?;
            Ok::<_, HttpError>(Response::from_parts(parts, body.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
    }
}
