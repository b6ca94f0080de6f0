//! Settings given in code win over the environment's, for the `otlp` exporter too: its
//! headers and its compression, and the service (over `OTEL_SERVICE_NAME`), as
//! `PerfLayer::builder()` documents. (A binary of its own:
//! the test sets the process's environment before anything else runs.)

mod support;

use lambda_perf_core::TraceBackend;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::{Value, json};
use support::otlp::{OtlpCollector, attribute};

#[test]
fn headers_compression_and_service_given_in_code_override_the_environment() {
    // SAFETY: set before any other thread of this process exists (the runtime is built
    // after), in a test binary of its own.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=from-env,x-team=orders",
        );
        std::env::set_var("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
        std::env::set_var("OTEL_SERVICE_NAME", "from-env");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let collector = OtlpCollector::start();
    let recorder = Recorder::with(|builder| {
        builder
            .traces([TraceBackend::Otlp])
            .otlp_endpoint(collector.traces_url())
            .otlp_header("x-api-key", "from-code")
            .otlp_gzip(false)
    });
    let handler = service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!("ok")) });
    runtime
        .block_on(recorder.run(handler, event(json!({}))))
        .unwrap();
    let exports = collector.exports();
    assert_eq!(exports.len(), 1, "{exports:#?}");
    let export = &exports[0];
    assert_eq!(
        export.header("x-api-key"),
        Some("from-code"),
        "{:?}",
        export.headers
    );
    assert_eq!(
        export.header("x-team"),
        Some("orders"),
        "{:?}",
        export.headers
    );
    assert_eq!(
        export.header("content-encoding"),
        None,
        "{:?}",
        export.headers
    );
    // The recorder's service, given in code.
    let resource = export.request.resource_spans[0].resource.clone().unwrap();
    assert_eq!(
        attribute(&resource.attributes, "service.name"),
        Some(any_value::Value::StringValue("test".into()))
    );
}
