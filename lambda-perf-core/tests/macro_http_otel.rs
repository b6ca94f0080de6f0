//! `#[instrument_lambda]` on `lambda_http` handlers (features `http`, `opentelemetry`) names
//! its OpenTelemetry handler span's `faas.trigger` as `PerfLayer` does: `http`, unless its
//! `faas_trigger` option says otherwise. The spans are read from `xray-otlp`'s datagrams.

#![cfg(all(feature = "http", feature = "macros", feature = "opentelemetry"))]

#[path = "common/macro_environment.rs"]
mod macro_environment;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::{Error, Request};
use lambda_perf_core::instrument_lambda;
use macro_environment::{daemon_environment, received, request};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;

#[instrument_lambda]
async fn web(_request: Request) -> Result<&'static str, Error> {
    Ok("page")
}

#[instrument_lambda(faas_trigger = "timer")]
async fn scheduled(_request: Request) -> Result<&'static str, Error> {
    Ok("page")
}

/// The `faas.trigger` of the spans in the next datagram `daemon` receives.
fn triggers(daemon: &std::net::UdpSocket) -> Vec<String> {
    let datagram = received(daemon);
    let payload = datagram.strip_prefix(b"T1S").unwrap();
    let request = ExportTraceServiceRequest::decode(&*STANDARD.decode(payload).unwrap()).unwrap();
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .flat_map(|span| &span.attributes)
        .filter(|attribute| attribute.key == "faas.trigger")
        .filter_map(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(text) => Some(text.clone()),
                _ => None,
            },
        )
        .collect()
}

#[test]
fn a_lambda_http_handler_span_is_an_http_trigger_unless_the_macro_names_another() {
    let (daemon, _markers) = daemon_environment(&[("LAMBDA_PERF_TRACES", "xray-otlp")]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(web(request()).await.unwrap(), "page");
        assert_eq!(triggers(&daemon), ["http"]);

        assert_eq!(scheduled(request()).await.unwrap(), "page");
        assert_eq!(triggers(&daemon), ["timer"]);
    });
}
