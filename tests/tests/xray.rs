//! X-Ray end to end: the scenario function under the real `lambda_runtime` loop, its datagrams
//! received on a UDP socket owned by the test.

mod support;

use std::time::Duration;

use lambda_perf_local::emulator::{
    Answer, ExecutionEnvironment, FunctionConfig, FunctionProcess, InvokeReply, InvokeRequest,
    RuntimeApi, TraceHeader, XRayCollector,
};
use serde_json::{Value, json};
use support::*;

struct Setup {
    api: RuntimeApi,
    collector: XRayCollector,
    process: FunctionProcess,
    _environment: ExecutionEnvironment,
}

async fn setup(configure: impl FnOnce(FunctionConfig) -> FunctionConfig) -> Setup {
    let collector = XRayCollector::start().await.unwrap();
    let config =
        configure(function_config().with_xray_daemon_address(collector.addr().to_string()));
    let Started {
        api,
        process,
        environment,
    } = start(&scenario_function(), &config).await;
    Setup {
        api,
        collector,
        process,
        _environment: environment,
    }
}

impl Setup {
    async fn invoke(&self, event: Value) -> InvokeReply {
        self.send(InvokeRequest::json(event)).await
    }

    async fn send(&self, request: InvokeRequest) -> InvokeReply {
        self.process.invoke(&self.api, request).await.unwrap()
    }

    /// The handler subsegment of an invocation, once it arrived.
    async fn handler_document(&self, result: &InvokeReply) -> Value {
        let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
        let (root, parent) = (header.root.clone(), header.parent.clone());
        self.collector
            .wait_for(
                move |doc| doc["trace_id"] == root.as_str() && doc["parent_id"] == parent.as_str(),
                WAIT,
            )
            .await
            .unwrap()
    }

    /// Every document of the trace of an invocation.
    fn trace_documents(&self, result: &InvokeReply) -> Vec<Value> {
        let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
        self.collector
            .documents()
            .into_iter()
            .filter(|doc| doc["trace_id"] == header.root.as_str())
            .collect()
    }
}

fn by_name<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    documents
        .iter()
        .find(|doc| doc["name"] == name)
        .unwrap_or_else(|| panic!("no subsegment {name:?} in {documents:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sampled_invocation_sends_a_valid_handler_subsegment() {
    let setup = setup(|config| config).await;
    let mut cold_starts = Vec::new();
    for _ in 0..3 {
        let result = setup.invoke(json!({ "action": "ok" })).await;
        let handler = setup.handler_document(&result).await;
        assert_valid_xray(&handler);
        assert_eq!(handler["name"], "## orders-fn");
        assert_eq!(handler["type"], "subsegment");
        assert_eq!(handler["id"].as_str().unwrap().len(), 16);
        let (start, end) = (
            handler["start_time"].as_f64().unwrap(),
            handler["end_time"].as_f64().unwrap(),
        );
        assert!(start > 1.7e9 && end >= start, "{start} {end}");
        assert_eq!(handler["annotations"]["Service"], "orders");
        assert_eq!(
            handler["metadata"]["orders"]["orders-fn response"],
            json!({ "done": "ok" })
        );
        assert!(handler["metadata"]["lambda_perf"]["invocation"].is_u64());
        assert!(handler.get("fault").is_none());
        cold_starts.push((
            handler["annotations"]["ColdStart"].clone(),
            handler["annotations"]["StartKind"].clone(),
            handler["metadata"]["lambda_perf"]
                .get("init_duration_ms")
                .is_some(),
        ));
    }
    assert_eq!(
        cold_starts,
        [
            (json!(true), json!("cold"), true),
            (json!(false), json!("warm"), false),
            (json!(false), json!("warm"), false),
        ]
    );
    for datagram in setup.collector.datagrams() {
        assert!(
            datagram
                .raw
                .starts_with(b"{\"format\":\"json\",\"version\":1}\n")
        );
        assert_valid_xray(datagram.document.as_ref().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_subsegments_and_spans_link_to_their_parents() {
    let setup = setup(|config| config).await;
    let result = setup.invoke(json!({ "action": "trace" })).await;
    let handler = setup.handler_document(&result).await;
    let documents = setup.trace_documents(&result);
    documents.iter().for_each(assert_valid_xray);
    assert_eq!(documents.len(), 4, "{documents:#?}");

    assert_eq!(
        handler["annotations"],
        json!({
            "ColdStart": true, "StartKind": "cold", "Service": "orders",
            "customer_tier": "gold", "order_count": 3, "ratio": 0.75, "is_retry": false
        })
    );
    assert_eq!(
        handler["metadata"]["demo_ns"]["payload"],
        json!({ "items": [1, 2], "note": "hi" })
    );
    let work = by_name(&documents, "work");
    let lookup = by_name(&documents, "lookup");
    let failure = by_name(&documents, "nested_failure");
    assert_eq!(work["parent_id"], handler["id"]);
    assert_eq!(failure["parent_id"], handler["id"]);
    assert_eq!(
        lookup["parent_id"], work["id"],
        "the span nests in the subsegment around it"
    );
    assert_eq!(lookup["namespace"], "aws");
    assert_eq!(lookup["annotations"]["table"], "users");
    assert_eq!(lookup["metadata"]["tracing"]["user"], 21);
    assert!(lookup["start_time"].as_f64() >= work["start_time"].as_f64());
    assert!(lookup["end_time"].as_f64() <= work["end_time"].as_f64());

    assert_eq!(failure["fault"], true);
    let exception = &failure["cause"]["exceptions"][0];
    assert_eq!(exception["message"], "boom from nested subsegment");
    assert_eq!(exception["type"], "Error");
    assert_eq!(exception["id"].as_str().unwrap().len(), 16);
    // The handler recovered from it: no fault there.
    assert!(handler.get("fault").is_none());
    assert_eq!(
        result.into_json().unwrap(),
        json!({ "done": "trace", "doubled": 42, "failed": true })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_panics_fault_the_handler_subsegment() {
    let setup = setup(|config| config).await;

    let result = setup.invoke(json!({ "action": "error" })).await;
    assert!(matches!(result.answer, Answer::Error { .. }));
    let handler = setup.handler_document(&result).await;
    assert_valid_xray(&handler);
    assert_eq!(handler["fault"], true);
    let exception = &handler["cause"]["exceptions"][0];
    assert_eq!(exception["message"], "the scenario asked for an error");
    assert_eq!(exception["type"], "lambda_runtime::Error");
    assert_eq!(
        handler["metadata"]["orders"]["orders-fn error"],
        json!({ "type": "lambda_runtime::Error", "message": "the scenario asked for an error" })
    );

    let result = setup.invoke(json!({ "action": "panic" })).await;
    match &result.answer {
        Answer::Error { error, .. } => assert!(
            error
                .error_message
                .as_deref()
                .unwrap_or_default()
                .contains("asked for a panic"),
            "{error:?}"
        ),
        other => panic!("expected the runtime to report the panic, got {other:?}"),
    }
    let handler = setup.handler_document(&result).await;
    assert_valid_xray(&handler);
    assert_eq!(handler["fault"], true);
    assert_eq!(handler["cause"]["exceptions"][0]["type"], "panic");
    assert_eq!(
        handler["cause"]["exceptions"][0]["message"],
        "the scenario asked for a panic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsampled_and_headerless_invocations_send_nothing() {
    let setup = setup(|config| config).await;
    let unsampled = setup
        .send(InvokeRequest::json(json!({ "action": "trace" })).unsampled())
        .await;
    assert_eq!(unsampled.clone().into_json().unwrap()["done"], "trace");
    let headerless = setup
        .send(InvokeRequest::json(json!({ "action": "trace" })).without_trace_header())
        .await;
    assert_eq!(headerless.into_json().unwrap()["done"], "trace");
    // A sampled invocation afterwards: once its subsegment arrived, nothing else did.
    let sampled = setup.invoke(json!({ "action": "ok" })).await;
    setup.handler_document(&sampled).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let documents = setup.collector.documents();
    assert_eq!(documents.len(), 1, "{documents:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_disabled_sends_nothing() {
    let setup = setup(|config| config.with_env("POWERTOOLS_TRACE_DISABLED", "true")).await;
    let result = setup.invoke(json!({ "action": "trace" })).await;
    let id = result.request_id.clone();
    assert_eq!(result.into_json().unwrap()["done"], "trace");
    end_line(&setup.process, &id).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(setup.collector.datagrams().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_keep_their_traces_apart() {
    let setup = setup(|config| config.with_max_concurrency(2)).await;
    let invoke = |tag: &'static str| {
        setup.process.invoke(
            &setup.api,
            InvokeRequest::json(json!({ "action": "trace", "tag": tag, "sleep_ms": 200 })),
        )
    };
    let (a, b) = tokio::join!(invoke("a"), invoke("b"));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.trace_header, b.trace_header);
    for (result, tag) in [(&a, "a"), (&b, "b")] {
        let handler = setup.handler_document(result).await;
        assert_eq!(handler["annotations"]["tag"], tag);
        let documents = setup.trace_documents(result);
        assert_eq!(documents.len(), 4, "{documents:#?}");
        let ids: Vec<&Value> = documents.iter().map(|doc| &doc["id"]).collect();
        for name in ["work", "nested_failure"] {
            assert_eq!(by_name(&documents, name)["parent_id"], handler["id"]);
        }
        let lookup = by_name(&documents, "lookup");
        assert!(ids.contains(&&lookup["parent_id"]));
        assert_eq!(
            handler["metadata"]["lambda_perf"]["request_id"],
            result.request_id.as_str()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_daemon_costs_one_warning_and_nothing_else() {
    // A port nobody listens on: each send draws an ICMP "port unreachable".
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let setup = setup(|config| config.with_xray_daemon_address(address)).await;
    for _ in 0..4 {
        let result = setup.invoke(json!({ "action": "ok" })).await;
        assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    }
    let warnings = warnings(&setup.process);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("X-Ray daemon"), "{warnings:#?}");
    // It says how to turn tracing off where there is no daemon (running locally).
    assert!(
        warnings[0].contains("POWERTOOLS_TRACE_DISABLED=true"),
        "{warnings:#?}"
    );
}

/// The daemon address is resolved when the layer is built, never inside an invocation, where
/// looking a host name up would block it: an unresolvable one is reported when the function
/// starts, though no invocation is sampled (none would send a subsegment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_address_is_resolved_when_the_layer_is_built() {
    let setting = "no-such-host.invalid:2000";
    let setup = setup(|config| config.with_xray_daemon_address(setting)).await;
    // Said before any invocation is sent: the layer's build resolved it.
    setup
        .process
        .wait_for_line(|line| line.text.contains("is unusable"), WAIT)
        .await
        .unwrap_or_else(|_| panic!("{:#?}", setup.process.last_lines(10)));
    assert!(setup.api.invocations().is_empty());
    let result = setup
        .send(InvokeRequest::json(json!({ "action": "ok" })).unsampled())
        .await;
    end_line(&setup.process, &result.request_id).await;
    assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
    let warnings = warnings(&setup.process);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains(&format!("X-Ray daemon address {setting:?} is unusable")),
        "{warnings:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_run_concurrent_the_trace_is_the_invocations_own_never_the_processs() {
    // A stale header in the process environment, as a runtime that set it once would leave.
    let stale = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let setup = setup(|config| {
        config
            .with_max_concurrency(8)
            .with_env("_X_AMZN_TRACE_ID", stale)
    })
    .await;
    let invoke = |index: usize| {
        let event = json!({ "action": "ok", "tag": format!("t{index}"), "sleep_ms": 20 });
        let invocation = InvokeRequest::json(event);
        // Header-less, and X-Ray's PassThrough mode (Root alone: not sampled).
        let invocation = if index.is_multiple_of(2) {
            invocation.without_trace_header()
        } else {
            invocation.with_trace_header("Root=1-6b03e819-84559f7b403357cb15b31940")
        };
        setup.process.invoke(&setup.api, invocation)
    };
    let results = futures_util::future::join_all((0..40).map(invoke)).await;
    for result in results {
        let result = result.unwrap();
        let id = result.request_id.clone();
        assert_eq!(result.into_json().unwrap(), json!({ "done": "ok" }));
        end_line(&setup.process, &id).await;
    }
    // Then one sampled invocation: once its subsegment arrived, nothing else had.
    let sampled = setup.invoke(json!({ "action": "ok" })).await;
    setup.handler_document(&sampled).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let documents = setup.collector.documents();
    assert_eq!(documents.len(), 1, "{documents:#?}");
    assert_ne!(
        documents[0]["trace_id"],
        "1-5759e988-bd862e3fe1be46a994272793"
    );
}
