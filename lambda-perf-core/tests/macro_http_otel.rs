//! `#[instrument_lambda]` on `lambda_http` handlers (features `http`, `opentelemetry`) names
//! its OpenTelemetry handler span's `faas.trigger` as `PerfLayer` does: `http`, unless its
//! `faas_trigger` option says otherwise. The spans are read from `xray-otlp`'s datagrams.

#![cfg(all(feature = "http", feature = "macros", feature = "opentelemetry"))]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::{Body, Error, Request, RequestExt};
use lambda_perf_core::instrument_lambda;
use lambda_perf_core::test_util::event;
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

/// A request as `lambda_http::run` hands it over: with its Lambda context, sampled.
fn request() -> Request {
    Request::new(Body::Empty).with_lambda_context(event(()).context)
}

/// The `faas.trigger` of the spans in the next datagram `daemon` receives.
fn triggers(daemon: &std::net::UdpSocket) -> Vec<String> {
    let mut buffer = vec![0; 70_000];
    let length = daemon.recv(&mut buffer).unwrap();
    let datagram = &buffer[..length];
    let newline = datagram.iter().position(|&b| b == b'\n').unwrap();
    let payload = datagram[newline + 1..].strip_prefix(b"T1S").unwrap();
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
    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let markers = tempfile::tempdir().unwrap();
    // SAFETY: set before any other thread runs (nextest runs each test in its own process).
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(
            "AWS_XRAY_DAEMON_ADDRESS",
            daemon.local_addr().unwrap().to_string(),
        );
        std::env::set_var("LAMBDA_PERF_TRACES", "xray-otlp");
        std::env::set_var("TMPDIR", markers.path());
        std::env::set_var("POWERTOOLS_SERVICE_NAME", "test");
        std::env::set_var("POWERTOOLS_METRICS_DISABLED", "true");
    }
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
