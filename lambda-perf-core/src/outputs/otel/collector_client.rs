//! The HTTP client of the OTLP exporter: the HTTP/1.1 client `lambda_runtime` already has for
//! the Runtime API (`lambda_runtime_api_client` over hyper), pointed at the collector — no
//! second HTTP stack, no TLS stack, and the same compiled code. It runs on the export thread's
//! runtime. Plain `http://` only: the collector of the ADOT and OpenTelemetry Lambda layers
//! listens on the function's own host. The headers and the compression of each request are
//! the settings' alone (those given in code over the environment's), applied here: the
//! values as the settings hold them (those of the variables percent-decoded when read, those
//! given in code as given). One exception: a body the exporter compressed itself (see
//! [`CollectorClient::prepared`]) goes as it made it.
//!
//! Connections are kept alive between exports. A collector may close one meanwhile (its idle
//! timeout, which may fire just as the process thaws from a Lambda freeze, as the export
//! arrives); the client's pool retries only a request it had not yet written, so an export
//! that finds its connection closed under it is sent again here, once, on another.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, Uri};
use http_body_util::{BodyExt, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use lambda_runtime_api_client::Client;
use lambda_runtime_api_client::body::Body;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::formats::capped::preview;
use crate::warn::WarnOnce;

/// The largest response body read from a collector (an `ExportTraceServiceResponse` is a
/// few bytes, or a short error).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

static INVALID_HEADER: WarnOnce = WarnOnce::new();
static REJECTED: WarnOnce = WarnOnce::new();

/// Spans collectors accepted the export of but dropped (OTLP's partial success), in this
/// process.
static REJECTED_SPANS: AtomicU64 = AtomicU64::new(0);

/// The spans collectors reported dropping in a partial success, in this process.
pub(crate) fn rejected_spans() -> u64 {
    REJECTED_SPANS.load(Ordering::Relaxed)
}

/// Counts and warns of the spans a successful answer says the collector dropped (OTLP's
/// partial success: HTTP 200 with `partial_success.rejected_spans`), which the exporter
/// itself takes for a success.
fn count_rejected(answer: &[u8]) {
    let Ok(response) = ExportTraceServiceResponse::decode(answer) else {
        return;
    };
    let Some(partial) = response.partial_success else {
        return;
    };
    let Ok(rejected) = u64::try_from(partial.rejected_spans) else {
        return;
    };
    if rejected == 0 {
        return;
    }
    let total = REJECTED_SPANS.fetch_add(rejected, Ordering::Relaxed) + rejected;
    // Also a drop, seen in the next EMF line even when no later span gets out.
    crate::drops::count_many("otel.rejected_spans", rejected);
    // The export learns whether its handler spans may have got out.
    super::background::rejected_in_export(rejected);
    REJECTED.warn(format_args!(
        "the OpenTelemetry collector dropped {rejected} span(s) of an export ({:?}); {total} so \
         far, counted on handler spans as lambda_perf.otel.rejected_spans",
        preview(&partial.error_message, 200)
    ));
}

/// The headers of an export request the exporter sets and the client keeps; every other one
/// is the settings' (the exporter would add the environment's own, over those of the code).
const EXPORTER_HEADERS: [HeaderName; 2] = [CONTENT_TYPE, USER_AGENT];

/// POSTs export requests to one collector, each within a timeout, with the settings' headers
/// and compression.
pub(crate) struct CollectorClient {
    inner: Client,
    timeout: Duration,
    /// As the settings hold them.
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
}

impl CollectorClient {
    /// A client for the collector at `endpoint` (an `http://` URL, validated by the
    /// configuration); requests keep their own path.
    pub(crate) fn new(
        endpoint: &str,
        timeout: Duration,
        headers: &[(String, String)],
        gzip: bool,
    ) -> Result<Self, String> {
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
        let headers = headers
            .iter()
            .filter_map(|(name, value)| {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .ok()
                    .zip(HeaderValue::from_str(value).ok());
                if header.is_none() {
                    // The value may hold a credential: named, not shown.
                    INVALID_HEADER.warn(format_args!(
                        "the otlp header {name:?} is not a valid HTTP header; it is not sent"
                    ));
                }
                header
            })
            .collect();
        Ok(Self {
            inner,
            timeout,
            headers,
            gzip,
        })
    }

    /// The request the collector gets: the exporter's own headers, then the settings'; the
    /// body gzipped when they say so.
    ///
    /// Unless the exporter compressed it already: another crate of the function's build may
    /// turn on `opentelemetry-otlp`'s `gzip-http` or `zstd-http` (Cargo unifies features),
    /// and the exporter then compresses by `OTEL_EXPORTER_OTLP_COMPRESSION` itself and says so
    /// in `Content-Encoding`. That body goes as it is, with that header: compressed twice, or
    /// compressed without the header, no collector could read it.
    fn prepared(&self, request: Request<Bytes>) -> Result<Request<Bytes>, HttpError> {
        let (mut parts, body) = request.into_parts();
        let mut headers = HeaderMap::with_capacity(EXPORTER_HEADERS.len() + self.headers.len() + 1);
        for name in EXPORTER_HEADERS {
            if let Some(value) = parts.headers.get(&name) {
                headers.insert(name, value.clone());
            }
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        let body = match parts.headers.get(CONTENT_ENCODING) {
            Some(exporters) => {
                headers.insert(CONTENT_ENCODING, exporters.clone());
                body
            }
            None if self.gzip => {
                let mut encoder =
                    GzEncoder::new(Vec::with_capacity(body.len() / 2), Compression::default());
                encoder.write_all(&body)?;
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                Bytes::from(encoder.finish()?)
            }
            None => body,
        };
        parts.headers = headers;
        Ok(Request::from_parts(parts, body))
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
        let request = self.prepared(request)?;
        let exchange = async {
            let response = match self.inner.call(request.clone().map(Body::from)).await {
                // Sent on a kept-alive connection the collector closed meanwhile (its idle
                // timeout, which may fire as a frozen process thaws): sent again, once, on
                // another. Not when no connection could be made: the collector is not there.
                Err(error) if !is_connect(&*error) => {
                    self.inner.call(request.map(Body::from)).await?
                }
                answer => answer?,
            };
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            if parts.status.is_success() {
                count_rejected(&body);
            }
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
    }
}

/// Whether `error` says no connection to the collector could be made.
fn is_connect(error: &(dyn std::error::Error + 'static)) -> bool {
    error
        .downcast_ref::<hyper_util::client::legacy::Error>()
        .is_some_and(hyper_util::client::legacy::Error::is_connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_sent_as_the_settings_hold_them() {
        // The settings hold values decoded already (those of the variables) or literal (those
        // given in code): a `%2B` of a token given in code is its own three characters.
        let client = CollectorClient::new(
            "http://127.0.0.1:9/v1/traces",
            Duration::from_secs(1),
            &[("authorization".to_owned(), "sig=abc%2Bdef".to_owned())],
            false,
        )
        .unwrap();
        let request = Request::post("/v1/traces")
            .body(Bytes::from_static(b"x"))
            .unwrap();
        let prepared = client.prepared(request).unwrap();
        assert_eq!(prepared.headers()["authorization"], "sig=abc%2Bdef");
    }

    /// A collector that is not there is not tried twice: the client's error says so.
    #[tokio::test]
    async fn a_collector_that_is_not_there_is_a_connect_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let client = CollectorClient::new(
            &format!("http://{closed}/v1/traces"),
            Duration::from_secs(1),
            &[],
            false,
        )
        .unwrap();
        let request = Request::post("/v1/traces").body(Body::empty()).unwrap();
        let error = client.inner.call(request).await.unwrap_err();
        assert!(is_connect(&*error), "{error:?}");
    }

    /// An export the exporter gzipped itself (its `gzip-http` on in the function's build)
    /// reaches the collector gzipped once and marked so, whether the settings ask for gzip
    /// or not.
    #[test]
    fn a_body_the_exporter_compressed_goes_as_it_is() {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(b"spans").unwrap();
        let gzipped = Bytes::from(encoder.finish().unwrap());
        for gzip in [true, false] {
            let client = CollectorClient::new(
                "http://127.0.0.1:9/v1/traces",
                Duration::from_secs(1),
                &[],
                gzip,
            )
            .unwrap();
            let request = Request::post("/v1/traces")
                .header(CONTENT_TYPE, "application/x-protobuf")
                .header(CONTENT_ENCODING, "gzip")
                .body(gzipped.clone())
                .unwrap();
            let (parts, sent) = client.prepared(request).unwrap().into_parts();
            assert_eq!(parts.headers[CONTENT_ENCODING], "gzip", "gzip: {gzip}");
            assert_eq!(sent, gzipped, "gzip: {gzip}");
        }
    }
}
