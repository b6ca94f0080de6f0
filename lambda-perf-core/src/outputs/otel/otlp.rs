//! The `otlp` backend: `opentelemetry-otlp`'s span exporter, OTLP/HTTP protobuf, configured
//! from the settings alone (endpoint, headers, gzip, timeout), on [`CollectorClient`], with
//! one attempt per export (a retry after a failure the collector answered, with its backoff,
//! would not fit the flush bound; the client itself sends again, once, an export a kept-alive
//! connection closed under it lost).

use opentelemetry_otlp::{Protocol, RetryPolicy, SpanExporter, WithExportConfig, WithHttpConfig};

use super::collector_client::CollectorClient;
use crate::config::{DEFAULT_OTLP_ENDPOINT, DEFAULT_OTLP_TIMEOUT, TraceSettings};

/// The exporter the settings describe, or why it cannot be built.
///
/// The headers and the compression are the client's to apply, not the exporter's: the
/// exporter would also read `OTEL_EXPORTER_OTLP_HEADERS` and `…_COMPRESSION` itself and let
/// them win over what was given in code. (It still compresses by the variable when another
/// crate of the build turns on its `gzip-http` or `zstd-http`; the client then sends the
/// body as the exporter made it.)
pub(crate) fn exporter(settings: &TraceSettings) -> Result<SpanExporter, String> {
    let timeout = settings.otlp_timeout.unwrap_or(DEFAULT_OTLP_TIMEOUT);
    let endpoint = settings
        .otlp_endpoint
        .clone()
        .unwrap_or_else(|| DEFAULT_OTLP_ENDPOINT.to_owned());
    let client = CollectorClient::new(
        &endpoint,
        timeout,
        &settings.otlp_headers,
        settings.otlp_gzip,
    )?;
    SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(timeout)
        .with_retry_policy(RetryPolicy::disabled())
        .build()
        .map_err(|error| error.to_string())
}
