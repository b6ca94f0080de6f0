//! Settings given in code win over the environment's, for the `otlp` exporter too: its
//! headers and its compression, the service (over `OTEL_SERVICE_NAME`) and the resource's
//! attributes, as `PerfLayer::builder()` documents. (A binary of its own, each test run in a
//! process of its own, as nextest runs them: each sets the process's environment before
//! anything else runs.)

mod support;

use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::{PerfLayerBuilder, TraceBackend};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::{Value, json};
use support::child_process;
use support::otlp::{Export, OtlpCollector, attribute, text};

/// Sets `pairs` in the process's environment.
fn set_environment(pairs: &[(&str, &str)]) {
    for (name, value) in pairs {
        // SAFETY: set before any other thread of this process exists (the runtime is built
        // after), in a process of its own.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(name, value);
        }
    }
}

/// The export of one invocation under a layer that `configure` adjusts, `otlp` to a
/// collector on loopback.
fn one_export(configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder) -> Export {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let collector = OtlpCollector::start();
    let recorder = Recorder::with(|builder| {
        configure(
            builder
                .traces([TraceBackend::Otlp])
                .otlp_endpoint(collector.traces_url()),
        )
    });
    let handler = service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(json!("ok")) });
    runtime
        .block_on(recorder.run(handler, event(json!({}))))
        .unwrap();
    let mut exports = collector.exports();
    assert_eq!(exports.len(), 1, "{exports:#?}");
    exports.remove(0)
}

/// The attributes of the export's resource.
fn resource_attributes(export: &Export) -> Vec<(String, String)> {
    let resource = export.request.resource_spans[0].resource.clone().unwrap();
    resource
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                text(&resource.attributes, &kv.key).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn headers_compression_and_service_given_in_code_override_the_environment() {
    set_environment(&[
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=from-env,x-team=orders",
        ),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_SERVICE_NAME", "from-env"),
    ]);
    let export = one_export(|builder| {
        builder
            .otlp_header("x-api-key", "from-code")
            .otlp_gzip(false)
    });
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

/// `clear_otlp_headers` drops the environment's headers: only those given after it are sent.
#[test]
fn cleared_headers_leave_only_those_given_in_code_after() {
    set_environment(&[(
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "x-api-key=from-env,x-team=orders",
    )]);
    let export = one_export(|builder| {
        builder
            .clear_otlp_headers()
            .otlp_header("x-tenant", "from-code")
    });
    assert_eq!(export.header("x-api-key"), None, "{:?}", export.headers);
    assert_eq!(export.header("x-team"), None, "{:?}", export.headers);
    assert_eq!(
        export.header("x-tenant"),
        Some("from-code"),
        "{:?}",
        export.headers
    );
}

/// A header given in code that HTTP cannot carry (a name with a space, a value with a line
/// break) is not sent, with one warning that names it (not its value, which may be a
/// credential); the export goes out with the others.
#[test]
fn an_invalid_header_given_in_code_is_not_sent_and_the_others_are() {
    // The one warning is read from the stderr of the same test run again in a child process.
    const CHILD: &str = "LAMBDA_PERF_TEST_INVALID_HEADER_CHILD";
    if !child_process::is_child(CHILD) {
        let (warnings, stderr) = child_process::warnings_of_child(
            "an_invalid_header_given_in_code_is_not_sent_and_the_others_are",
            CHILD,
            "is not a valid HTTP header; it is not sent",
        );
        assert_eq!(warnings.len(), 1, "{stderr}");
        assert!(
            !stderr.contains("two\nlines"),
            "the value is not shown: {stderr}"
        );
        return;
    }
    let export = one_export(|builder| {
        builder
            .otlp_header("x team", "orders")
            .otlp_header("x-note", "two\nlines")
            .otlp_header("x-tenant", "from-code")
    });
    assert_eq!(
        export.header("x-tenant"),
        Some("from-code"),
        "{:?}",
        export.headers
    );
    assert_eq!(export.header("x team"), None, "{:?}", export.headers);
    assert_eq!(export.header("x-note"), None, "{:?}", export.headers);
}

/// `otel_service_name` names the resource, over `OTEL_SERVICE_NAME` and the service given in
/// code (which the EMF lines and annotations keep).
#[test]
fn the_otel_service_name_given_in_code_names_the_resource() {
    set_environment(&[
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes"),
    ]);
    let export = one_export(|builder| builder.otel_service_name("payment-api"));
    let resource = resource_attributes(&export);
    assert!(
        resource.contains(&("service.name".to_owned(), "payment-api".to_owned())),
        "{resource:#?}"
    );
}

/// A resource attribute given in code replaces the variable's of the same key and joins the
/// others; `clear_otel_resource_attributes` drops the variable's altogether.
#[test]
fn resource_attributes_given_in_code_replace_or_clear_the_environments() {
    set_environment(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "team=from-env,cost.center=42,service.name=from-attributes",
    )]);
    let pair = |key: &str, value: &str| (key.to_owned(), value.to_owned());

    let export = one_export(|builder| {
        builder
            .otel_resource_attribute("team", "from-code")
            .otel_resource_attribute("deployment.environment.name", "prod")
    });
    let resource = resource_attributes(&export);
    for expected in [
        pair("team", "from-code"),
        pair("cost.center", "42"),
        pair("deployment.environment.name", "prod"),
        // The recorder's service, given in code, wins over the variable's.
        pair("service.name", "test"),
    ] {
        assert!(
            resource.contains(&expected),
            "{expected:?} in {resource:#?}"
        );
    }
    assert!(
        !resource.contains(&pair("team", "from-env")),
        "{resource:#?}"
    );

    let export = one_export(|builder| {
        builder
            .clear_otel_resource_attributes()
            .otel_resource_attribute("team", "from-code")
    });
    let resource = resource_attributes(&export);
    assert!(
        resource.contains(&pair("team", "from-code")),
        "{resource:#?}"
    );
    assert!(
        !resource.iter().any(|(key, _)| key == "cost.center"),
        "{resource:#?}"
    );
}

/// The region given in code is the resource's `cloud.region`, as it is the handler spans':
/// it wins over a `cloud.region` of `OTEL_RESOURCE_ATTRIBUTES` as over `AWS_REGION` (one
/// given as a resource attribute in code still names the resource's).
#[test]
fn the_region_given_in_code_wins_over_the_resource_attributes_variable() {
    set_environment(&[
        ("AWS_REGION", "us-east-1"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "cloud.region=us-east-1,team=orders",
        ),
    ]);
    let pair = |key: &str, value: &str| (key.to_owned(), value.to_owned());

    let export = one_export(|builder| builder.region("eu-central-1"));
    let resource = resource_attributes(&export);
    assert!(
        resource.contains(&pair("cloud.region", "eu-central-1")),
        "{resource:#?}"
    );
    assert!(resource.contains(&pair("team", "orders")), "{resource:#?}");
    assert_eq!(
        resource
            .iter()
            .filter(|(key, _)| key == "cloud.region")
            .count(),
        1,
        "{resource:#?}"
    );
    let spans = export.spans();
    let handler = spans.iter().find(|s| s.name == "## handler").unwrap();
    assert_eq!(
        text(&handler.attributes, "cloud.region").as_deref(),
        Some("eu-central-1")
    );

    let export = one_export(|builder| {
        builder
            .region("eu-central-1")
            .otel_resource_attribute("cloud.region", "eu-south-2")
    });
    let resource = resource_attributes(&export);
    assert!(
        resource.contains(&pair("cloud.region", "eu-south-2")),
        "{resource:#?}"
    );
}
