//! The `otlp` backend: `opentelemetry-otlp`'s span exporter, OTLP/HTTP protobuf, configured
//! from the settings alone (endpoint, headers, gzip, timeout), on [`CollectorClient`], with
//! one attempt per export (a retry would not fit the flush bound).

use std::collections::HashMap;

use opentelemetry_otlp::{
    Compression, Protocol, RetryPolicy, SpanExporter, WithExportConfig, WithHttpConfig,
};

use super::collector_client::CollectorClient;
use crate::config::{DEFAULT_OTLP_ENDPOINT, DEFAULT_OTLP_TIMEOUT, TraceSettings};

/// The exporter the settings describe, or why it cannot be built.
pub(crate) fn exporter(settings: &TraceSettings) -> Result<SpanExporter, String> {
    let timeout = settings.otlp_timeout.unwrap_or(DEFAULT_OTLP_TIMEOUT);
    let endpoint = settings
        .otlp_endpoint
        .clone()
        .unwrap_or_else(|| DEFAULT_OTLP_ENDPOINT.to_owned());
    let headers: HashMap<String, String> = settings.otlp_headers.iter().cloned().collect();
    let client = CollectorClient::new(&endpoint, timeout)?;
    let mut builder = SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(timeout)
        .with_headers(headers)
        .with_retry_policy(RetryPolicy::disabled());
    if settings.otlp_gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    builder.build().map_err(|error| error.to_string())
}
