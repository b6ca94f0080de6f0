//! OpenTelemetry end to end: the scenario function (built with lambda-perf-core's
//! `opentelemetry` feature, `PerfLayer::from_env()` and nothing else) under the real
//! `lambda_runtime` loop; its trace backend chosen by `LAMBDA_PERF_TRACES` alone; its spans
//! received by a collector on loopback (OTLP/HTTP) or on the X-Ray daemon's UDP port
//! (`xray-otlp`) and decoded with the official protobuf definitions.

mod support;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionConfig, FunctionProcess, InvokeReply, InvokeRequest, RuntimeApi,
    TraceHeader, XRayCollector,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use serde_json::{Value, json};
use support::otlp::{
    Export, OtlpCollector, attribute, decode_datagram, document_tree, hex, named, span_of,
    span_tree, spans_of, text, trace_id,
};
use support::*;

struct Setup {
    api: RuntimeApi,
    daemon: XRayCollector,
    otlp: OtlpCollector,
    process: FunctionProcess,
    _environment: ExecutionEnvironment,
}

async fn setup(configure: impl FnOnce(FunctionConfig, &OtlpCollector) -> FunctionConfig) -> Setup {
    let daemon = XRayCollector::start().await.unwrap();
    let otlp = OtlpCollector::start();
    let config = configure(
        function_config()
            .with_region("eu-west-1")
            .with_memory_mb(512)
            .with_xray_daemon_address(daemon.addr().to_string())
            // The bound itself is tested in lambda-perf-core; here a loaded machine must not
            // make an export (the first opens a connection) miss it.
            .with_env("LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS", "5000"),
        &otlp,
    );
    let Started {
        api,
        process,
        environment,
    } = start(&scenario_function(), &config).await;
    Setup {
        api,
        daemon,
        otlp,
        process,
        _environment: environment,
    }
}

impl Setup {
    /// Invokes with a trace header of the test's own; returns it with the result.
    async fn invoke(&self, event: Value) -> (TraceHeader, InvokeReply) {
        let header = TraceHeader::generate();
        let raw = format!(
            "Root={};Parent={};Sampled=1;Lineage=a87bd80c:1",
            header.root, header.parent
        );
        let result = self
            .process
            .invoke(&self.api, InvokeRequest::json(event).with_trace_header(raw))
            .await
            .unwrap();
        end_line(&self.process, &result.request_id).await;
        (header, result)
    }

    /// The one export of `header`'s trace, and the resource of its spans.
    fn only_export(&self, header: &TraceHeader) -> (Export, Resource) {
        let mut exports = self.otlp.exports_of(&trace_id(header));
        assert_eq!(exports.len(), 1, "{exports:#?}");
        let export = exports.remove(0);
        let resource = export.request.resource_spans[0].resource.clone().unwrap();
        (export, resource)
    }
}

/// The tree of the scenario's `trace` action, checked span by span.
fn assert_trace_scenario(spans: &[Span], header: &TraceHeader) {
    assert_eq!(spans.len(), 4, "{:#?}", span_tree(spans));
    let handler = named(spans, "## orders-fn");
    let work = named(spans, "work");
    let lookup = named(spans, "lookup");
    let failure = named(spans, "nested_failure");
    for span in spans {
        assert_eq!(hex(&span.trace_id), trace_id(header), "{}", span.name);
    }
    assert_eq!(hex(&handler.parent_span_id), header.parent);
    assert_eq!(work.parent_span_id, handler.span_id);
    assert_eq!(lookup.parent_span_id, work.span_id);
    assert_eq!(failure.parent_span_id, handler.span_id);
    // The `aws` namespace of the tracing span: a CLIENT span to an AWS API.
    assert_eq!(
        text(&lookup.attributes, "rpc.system").as_deref(),
        Some("aws-api")
    );
    assert_eq!(text(&lookup.attributes, "table").as_deref(), Some("users"));
    let failed = failure.status.clone().unwrap();
    assert_eq!(failed.code, StatusCode::Error as i32);
    assert_eq!(failed.message, "boom from nested subsegment");
    assert_eq!(failure.events[0].name, "exception");
    assert_eq!(
        text(&handler.attributes, "customer_tier").as_deref(),
        Some("gold")
    );
    assert_eq!(
        attribute(&handler.attributes, "order_count"),
        Some(Any::IntValue(3))
    );
    for (key, expected) in [
        ("faas.name", "orders-fn"),
        ("faas.version", "$LATEST"),
        ("cloud.provider", "aws"),
        ("cloud.platform", "aws_lambda"),
        ("cloud.region", "eu-west-1"),
        ("cloud.account.id", "123456789012"),
        ("StartKind", "cold"),
        ("Service", "orders"),
    ] {
        assert_eq!(
            text(&handler.attributes, key).as_deref(),
            Some(expected),
            "{key}"
        );
    }
    assert!(text(&handler.attributes, "faas.instance").is_some());
    assert!(text(&handler.attributes, "faas.invocation_id").is_some());
    assert_eq!(
        attribute(&handler.attributes, "faas.max_memory"),
        Some(Any::IntValue(512 << 20))
    );
    let payload: Value =
        serde_json::from_str(&text(&handler.attributes, "aws.xray.metadata.demo_ns").unwrap())
            .unwrap();
    assert_eq!(
        payload,
        json!({ "payload": { "items": [1, 2], "note": "hi" } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_service_name_names_the_spans_service_and_leaves_the_metrics_alone() {
    let setup = setup(|config, otlp| {
        config
            .with_env("LAMBDA_PERF_TRACES", "otlp")
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
            .with_env("OTEL_SERVICE_NAME", "checkout-api")
    })
    .await;
    let (header, result) = setup.invoke(json!({ "action": "ok" })).await;
    let (export, resource) = setup.only_export(&header);
    assert_eq!(
        text(&resource.attributes, "service.name").as_deref(),
        Some("checkout-api")
    );
    // Powertools' service (`POWERTOOLS_SERVICE_NAME`) is still the annotation and the EMF
    // dimension.
    let spans = export.spans();
    let handler = named(&spans, "## orders-fn");
    assert_eq!(
        text(&handler.attributes, "Service").as_deref(),
        Some("orders")
    );
    let line = end_line(&setup.process, &result.request_id).await;
    assert_eq!(line["service"], "orders", "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_resource_attributes_name_the_spans_service_and_describe_the_resource() {
    let setup = setup(|config, otlp| {
        config
            .with_env("LAMBDA_PERF_TRACES", "otlp")
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
            .with_env(
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=checkout-api,deployment.environment=prod",
            )
    })
    .await;
    let (header, _) = setup.invoke(json!({ "action": "ok" })).await;
    let (_, resource) = setup.only_export(&header);
    assert_eq!(
        text(&resource.attributes, "service.name").as_deref(),
        Some("checkout-api")
    );
    assert_eq!(
        text(&resource.attributes, "deployment.environment").as_deref(),
        Some("prod")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_alone_sends_the_tree_to_the_collector_before_the_answer() {
    let setup = setup(|config, otlp| {
        config
            .with_env("LAMBDA_PERF_TRACES", "otlp")
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
            .with_env("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k%3D1,x-team=core")
            .with_env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    })
    .await;
    let (header, result) = setup.invoke(json!({ "action": "trace" })).await;
    assert_eq!(result.clone().into_json().unwrap()["done"], "trace");

    // Received before the answer: the runtime posted it after the export.
    let exports = setup.otlp.exports_of(&trace_id(&header));
    assert_eq!(exports.len(), 1, "{exports:#?}");
    let export = &exports[0];
    assert!(export.received_at <= result.resolved_at);
    assert_eq!(export.path, "/v1/traces");
    assert_eq!(export.header("x-api-key"), Some("k=1"));
    assert_eq!(export.header("x-team"), Some("core"));
    assert_eq!(export.header("content-encoding"), Some("gzip"));
    let resource = export.request.resource_spans[0].resource.clone().unwrap();
    assert_eq!(
        text(&resource.attributes, "service.name").as_deref(),
        Some("orders")
    );
    let spans = export.spans();
    assert_trace_scenario(&spans, &header);
    let handler = named(&spans, "## orders-fn");
    assert_eq!(
        attribute(&handler.attributes, "faas.coldstart"),
        Some(Any::BoolValue(true))
    );
    assert_eq!(
        text(&handler.attributes, "faas.trigger").as_deref(),
        Some("other")
    );

    // Warm; then an error; then an unsampled invocation, which exports nothing.
    let (warm, _) = setup.invoke(json!({ "action": "ok" })).await;
    let spans = setup.otlp.exports_of(&trace_id(&warm))[0].spans();
    let handler = named(&spans, "## orders-fn");
    assert_eq!(
        attribute(&handler.attributes, "faas.coldstart"),
        Some(Any::BoolValue(false))
    );
    assert_eq!(
        text(&handler.attributes, "lambda_perf.start_kind").as_deref(),
        Some("warm")
    );

    let (failed, _) = setup.invoke(json!({ "action": "error" })).await;
    let spans = setup.otlp.exports_of(&trace_id(&failed))[0].spans();
    let handler = named(&spans, "## orders-fn");
    let status = handler.status.clone().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "the scenario asked for an error");
    let exception = &handler.events[0];
    assert_eq!(exception.name, "exception");
    assert_eq!(
        text(&exception.attributes, "exception.type").as_deref(),
        Some("lambda_runtime::Error")
    );

    let before = setup.otlp.exports().len();
    let unsampled = setup
        .process
        .invoke(
            &setup.api,
            InvokeRequest::json(json!({ "action": "trace" })).unsampled(),
        )
        .await
        .unwrap();
    end_line(&setup.process, &unsampled.request_id).await;
    let (last, _) = setup.invoke(json!({ "action": "ok" })).await;
    assert_eq!(setup.otlp.exports_of(&trace_id(&last)).len(), 1);
    assert_eq!(
        setup.otlp.exports().len(),
        before + 1,
        "the unsampled one exported nothing"
    );
    // X-Ray was not chosen: the daemon got nothing.
    assert!(setup.daemon.datagrams().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_otlp_sends_the_tree_through_the_daemon_socket() {
    let setup = setup(|config, _| config.with_env("LAMBDA_PERF_TRACES", "xray-otlp")).await;
    let (header, _) = setup.invoke(json!({ "action": "trace" })).await;
    // UDP sent before the answer; give the collector's task a moment to read it.
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = setup
            .daemon
            .datagrams()
            .iter()
            .flat_map(|datagram| {
                let (prefix, request) = decode_datagram(&datagram.raw);
                assert_eq!(prefix, "T1S");
                assert!(datagram.raw.len() <= 64_000);
                spans_of(&request)
            })
            .filter(|span| hex(&span.trace_id) == trace_id(&header))
            .collect();
        if !spans.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_trace_scenario(&spans, &header);
    // No segment documents, and nothing to an OTLP collector.
    assert!(setup.daemon.documents().is_empty());
    assert!(setup.otlp.exports().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_otlp_without_a_daemon_warns_once_and_says_how_to_turn_tracing_off() {
    // A port nobody listens on, as under `cargo lambda watch`: a send there draws an ICMP
    // "port unreachable", which the next send on the connected socket reports.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let setup = setup(|config, _| {
        config
            .with_env("LAMBDA_PERF_TRACES", "xray-otlp")
            .with_xray_daemon_address(address)
    })
    .await;
    let mut unsent = 0;
    for _ in 0..4 {
        let (_, result) = setup.invoke(json!({ "action": "ok" })).await;
        let end = end_line(&setup.process, &result.request_id).await;
        unsent += dropped(&end, "otel.xray_otlp_send_failed");
        assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    }
    // Every other send fails (the one after each ICMP reply); the spans it carried are
    // counted in the next EMF line, written before that invocation's spans are sent.
    assert!(
        unsent >= 1,
        "the spans not sent are counted in the EMF lines"
    );
    // The warning goes to stderr, read apart from the EMF lines on stdout: waited for, as
    // the end lines are (under load it can be read after them).
    setup
        .process
        .wait_for_line(
            |line| {
                line.text
                    .contains("lambda-perf: warning: could not send OpenTelemetry")
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|error| panic!("no warning about the unsent spans: {error}"));
    let warnings = warnings(&setup.process);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("could not send OpenTelemetry spans to the X-Ray daemon")
            && warnings[0].contains("POWERTOOLS_TRACE_DISABLED=true"),
        "{warnings:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_otlp_with_an_unusable_address_counts_every_span_it_does_not_send() {
    let setup = setup(|config, _| {
        config
            .with_env("LAMBDA_PERF_TRACES", "xray-otlp")
            .with_xray_daemon_address("not an address")
    })
    .await;
    let mut counts = Vec::new();
    for _ in 0..3 {
        let (_, result) = setup.invoke(json!({ "action": "ok" })).await;
        let end = end_line(&setup.process, &result.request_id).await;
        counts.push(dropped(&end, "otel.xray_otlp_address_unusable"));
        assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    }
    // Each line counts the previous invocation's span, its handler's (the spans are sent
    // after the line is written).
    assert_eq!(counts, [0, 1, 1], "{counts:?}");
    let warnings = warnings(&setup.process);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("X-Ray daemon address \"not an address\" is unusable"),
        "{warnings:#?}"
    );
}

/// The daemon address of `xray-otlp` is resolved when the layer is built, as `xray`'s is: never
/// inside an invocation, where looking a host name up would block it. An unusable one is
/// reported when the function starts, before any sampled invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_otlp_resolves_its_daemon_address_when_the_layer_is_built() {
    let setup = setup(|config, _| {
        config
            .with_env("LAMBDA_PERF_TRACES", "xray-otlp")
            .with_xray_daemon_address("not an address")
    })
    .await;
    let header = TraceHeader::generate();
    let unsampled = format!("Root={};Parent={};Sampled=0", header.root, header.parent);
    let result = setup
        .process
        .invoke(
            &setup.api,
            InvokeRequest::json(json!({ "action": "ok" })).with_trace_header(unsampled),
        )
        .await
        .unwrap();
    end_line(&setup.process, &result.request_id).await;
    assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    let warnings = warnings(&setup.process);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("X-Ray daemon address \"not an address\" is unusable"),
        "{warnings:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_and_otlp_give_the_same_tree() {
    let setup = setup(|config, otlp| {
        config.with_env("LAMBDA_PERF_TRACES", "xray,otlp").with_env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", otlp.base_url()),
        )
    })
    .await;
    let (header, _) = setup
        .invoke(json!({ "action": "trace", "tag": "blue" }))
        .await;
    let spans = setup.otlp.wait_for(&trace_id(&header), WAIT);
    let root = header.root.clone();
    let parent = header.parent.clone();
    setup
        .daemon
        .wait_for(
            move |doc| doc["trace_id"] == root.as_str() && doc["parent_id"] == parent.as_str(),
            WAIT,
        )
        .await
        .unwrap();
    let documents: Vec<Value> = setup
        .daemon
        .documents()
        .into_iter()
        .filter(|doc| doc["trace_id"] == header.root.as_str())
        .collect();
    documents.iter().for_each(assert_valid_xray);
    assert_eq!(span_tree(&spans), document_tree(&documents));
    for document in &documents {
        let span = span_of(&spans, document);
        for (key, value) in document["annotations"].as_object().into_iter().flatten() {
            let attribute = attribute(&span.attributes, key);
            let actual = match attribute {
                Some(Any::StringValue(text)) => json!(text),
                Some(Any::IntValue(number)) => json!(number),
                Some(Any::DoubleValue(number)) => json!(number),
                Some(Any::BoolValue(flag)) => json!(flag),
                other => panic!("{key}: {other:?}"),
            };
            assert_eq!(&actual, value, "{} {key}", span.name);
        }
        assert_eq!(
            document.get("fault").is_some(),
            span.status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32),
            "{}",
            span.name
        );
    }
    assert_eq!(
        text(&named(&spans, "## orders-fn").attributes, "tag").as_deref(),
        Some("blue")
    );
}

/// `OTEL_SDK_DISABLED=true`, as OpenTelemetry defines it, turns every OpenTelemetry export
/// off: the collector and the daemon's socket get no span of the backends
/// `LAMBDA_PERF_TRACES` names, while `xray`, which is not OpenTelemetry, sends its documents
/// as before; one warning says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_disabled_sends_no_span_and_leaves_xray_on() {
    let setup = setup(|config, otlp| {
        config
            .with_env("LAMBDA_PERF_TRACES", "xray,otlp,xray-otlp")
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
            .with_env("OTEL_SDK_DISABLED", "true")
    })
    .await;
    let (header, result) = setup.invoke(json!({ "action": "trace" })).await;
    assert_eq!(result.into_json().unwrap()["done"], "trace");
    let root = header.root.clone();
    let parent = header.parent.clone();
    setup
        .daemon
        .wait_for(
            move |doc| doc["trace_id"] == root.as_str() && doc["parent_id"] == parent.as_str(),
            WAIT,
        )
        .await
        .unwrap();
    // Any export would have been waited for before the answer, and any xray-otlp datagram
    // sent before it: none came.
    assert!(
        setup.otlp.exports().is_empty(),
        "{:#?}",
        setup.otlp.exports()
    );
    let datagrams = setup.daemon.datagrams();
    assert!(
        datagrams.iter().all(|datagram| datagram.document.is_ok()),
        "only X-Ray documents reach the daemon: {datagrams:#?}"
    );
    let warnings = warnings(&setup.process);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains(
            "OTEL_SDK_DISABLED=true: the OpenTelemetry backends are off (otlp, xray-otlp); \
             traces go to xray alone"
        ),
        "{warnings:#?}"
    );
}

/// The example exports OTLP/HTTP; one variable switches it to `xray-otlp`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_switches_backend_by_one_variable() {
    let example = workspace_function("opentelemetry-example");
    let event = json!({ "order_id": "o-1", "quantity": 3 });
    for backend in ["otlp", "xray-otlp"] {
        let daemon = XRayCollector::start().await.unwrap();
        let otlp = OtlpCollector::start();
        let config = function_config()
            .with_xray_daemon_address(daemon.addr().to_string())
            .with_env("LAMBDA_PERF_TRACES", backend)
            .with_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.base_url())
            .with_env("LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS", "5000");
        let Started {
            api,
            process,
            environment: _environment,
        } = start(&example, &config).await;
        let header = TraceHeader::generate();
        let raw = format!("Root={};Parent={};Sampled=1", header.root, header.parent);
        let result = process
            .invoke(
                &api,
                InvokeRequest::json(event.clone()).with_trace_header(raw),
            )
            .await
            .unwrap();
        assert_eq!(result.into_json().unwrap()["total_cents"], 3_750);
        let spans = if backend == "otlp" {
            assert!(daemon.datagrams().is_empty());
            otlp.wait_for(&trace_id(&header), WAIT)
        } else {
            assert!(otlp.exports().is_empty());
            let mut spans = Vec::new();
            for _ in 0..100 {
                spans = daemon
                    .datagrams()
                    .iter()
                    .flat_map(|datagram| spans_of(&decode_datagram(&datagram.raw).1))
                    .collect();
                if !spans.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            spans
        };
        assert_eq!(spans.len(), 3, "{backend}: {:#?}", span_tree(&spans));
        let handler = named(&spans, "## orders-fn");
        let lookup = named(&spans, "price lookup");
        let reserve = named(&spans, "reserve_stock");
        assert_eq!(hex(&handler.parent_span_id), header.parent, "{backend}");
        assert_eq!(lookup.parent_span_id, handler.span_id, "{backend}");
        assert_eq!(reserve.parent_span_id, lookup.span_id, "{backend}");
    }
}
