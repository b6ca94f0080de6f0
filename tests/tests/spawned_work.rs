//! Work a handler moves off its own task — `spawn`, `in_current_invocation`, `JoinSet`,
//! `spawn_blocking`, a task inside a `tracing` span, a lazy client created on a spawned task —
//! is recorded in the invocation that made it, under the real `lambda_runtime` loop with
//! invocations running at once; work that outlives its invocation lands nowhere else.

mod support;

use std::collections::BTreeSet;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionProcess, InvokeReply, InvokeRequest, RuntimeApi,
    TraceHeader, XRayCollector,
};
use serde_json::{Value, json};
use support::*;

struct Setup {
    api: RuntimeApi,
    collector: XRayCollector,
    process: FunctionProcess,
    _environment: ExecutionEnvironment,
}

async fn setup(max_concurrency: u32) -> Setup {
    let collector = XRayCollector::start().await.unwrap();
    let config = function_config()
        .with_max_concurrency(max_concurrency)
        .with_xray_daemon_address(collector.addr().to_string());
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_spawning-function"));
    let Started {
        api,
        process,
        environment,
    } = start(&command, &config).await;
    Setup {
        api,
        collector,
        process,
        _environment: environment,
    }
}

impl Setup {
    async fn invoke(&self, event: Value) -> InvokeReply {
        let result = self
            .process
            .invoke(&self.api, InvokeRequest::json(event))
            .await
            .unwrap();
        end_line(&self.process, &result.request_id).await;
        result
    }

    /// The documents of an invocation's trace, once its handler subsegment arrived.
    async fn trace(&self, result: &InvokeReply) -> Vec<Value> {
        let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
        let root = header.root.clone();
        let parent = header.parent.clone();
        self.collector
            .wait_for(
                move |doc| doc["trace_id"] == root.as_str() && doc["parent_id"] == parent.as_str(),
                WAIT,
            )
            .await
            .unwrap();
        let documents: Vec<Value> = self
            .collector
            .documents()
            .into_iter()
            .filter(|doc| doc["trace_id"] == header.root.as_str())
            .collect();
        documents.iter().for_each(assert_valid_xray);
        documents
    }
}

fn named<'a>(documents: &'a [Value], name: &str) -> &'a Value {
    documents
        .iter()
        .find(|doc| doc["name"] == name)
        .unwrap_or_else(|| panic!("no subsegment {name:?} in {documents:#?}"))
}

fn times(document: &Value) -> (f64, f64) {
    (
        document["start_time"].as_f64().unwrap(),
        document["end_time"].as_f64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_spawned_every_way_belongs_to_its_invocation() {
    let setup = setup(4).await;
    // Four at once, so that any record filed under the wrong invocation would show.
    let invoke = || setup.invoke(json!({ "action": "fan_out" }));
    let (first, second, third, fourth) = tokio::join!(invoke(), invoke(), invoke(), invoke());
    let results = [first, second, third, fourth];

    let mut client_owners = Vec::new();
    for result in &results {
        let id = result.request_id.as_str();
        assert_eq!(result.clone().into_json().unwrap()["done"], "fan_out");
        let lines = lines_of(&setup.process, id);
        lines.iter().for_each(assert_valid_emf);
        let end = lines.last().unwrap();
        assert_eq!(end["lambda_perf"]["outcome"], "success");
        for (metric, values) in [
            ("SpawnedA", json!([1.0])),
            ("SpawnedB", json!([1.0])),
            ("JoinSetItems", json!([1.0, 1.0, 1.0])),
            ("Blocking", json!([1.0])),
            ("InSpan", json!([1.0])),
            ("InNestedSpan", json!([1.0])),
        ] {
            assert_eq!(end[metric], values, "{metric} of {id}: {end}");
        }

        let trace = setup.trace(result).await;
        let handler = named(&trace, "## orders-fn");
        assert_eq!(handler["annotations"]["spawned_a"], true, "{handler}");
        let handler_id = &handler["id"];
        let (_, handler_end) = times(handler);
        for branch in [
            "branch a",
            "branch b",
            "item 0",
            "item 1",
            "item 2",
            "spawned span",
        ] {
            let document = named(&trace, branch);
            assert_eq!(
                &document["parent_id"], handler_id,
                "{branch} nests in the handler"
            );
            let (start, end) = times(document);
            assert!(end >= start, "{branch}: {document}");
            // Each ended with its own work, not with the handler 60 ms later.
            assert!(
                end < handler_end - 0.04,
                "{branch} ended at {end}, the handler at {handler_end}"
            );
        }
        let (a_start, a_end) = times(named(&trace, "branch a"));
        let (b_start, b_end) = times(named(&trace, "branch b"));
        assert!(
            a_start < b_end && b_start < a_end,
            "the branches ran side by side"
        );
        assert!(a_end - a_start >= 0.029, "branch a took its own 30 ms");
        let nested = named(&trace, "inside_the_span");
        assert_eq!(nested["parent_id"], named(&trace, "spawned span")["id"]);

        if let Some(init) = trace
            .iter()
            .find(|doc| doc["name"] == "## init spawned-client")
        {
            assert_eq!(&init["parent_id"], handler_id);
            let facts = &init["metadata"]["lambda_perf"];
            if facts.get("client_init").is_some() {
                assert_eq!(facts["client_init"]["phase"], "invocation", "{init}");
                client_owners.push(id.to_owned());
            } else {
                assert_eq!(facts["client_wait"]["client"], "spawned-client", "{init}");
            }
        }
    }

    // The client was created once, on a spawned task of one invocation, and charged to it.
    let client_lines: Vec<Value> = setup
        .process
        .emf_lines()
        .into_iter()
        .filter(|line| line["client"] == "spawned-client")
        .collect();
    assert_eq!(client_lines.len(), 1, "{client_lines:#?}");
    let charged = client_lines[0]["lambda_perf"]["request_id"]
        .as_str()
        .unwrap();
    let ids: BTreeSet<&str> = results.iter().map(|r| r.request_id.as_str()).collect();
    assert!(ids.contains(charged));
    // Its subsegment is in the trace of the invocation charged with it (others that only
    // waited for it have their wait as a subsegment of their own).
    assert_eq!(client_owners, [charged.to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_that_outlives_its_invocation_is_refused_not_filed_later() {
    let setup = setup(1).await;
    let outliving = setup
        .invoke(json!({ "action": "outlive", "delay_ms": 150 }))
        .await;
    let later = setup.invoke(json!({ "action": "ok" })).await;
    let refused = setup
        .process
        .wait_for_line(|line| line.text.starts_with("outlived:"), WAIT)
        .await
        .unwrap();
    assert_eq!(
        refused.text,
        "outlived: metric=Err(InvocationEnded) annotation=Err(InvocationEnded)"
    );
    let after = setup.invoke(json!({ "action": "ok" })).await;
    for result in [&outliving, &later, &after] {
        for line in lines_of(&setup.process, &result.request_id) {
            assert!(line.get("Late").is_none(), "{line}");
        }
        for document in setup.trace(result).await {
            assert!(document["annotations"].get("late").is_none(), "{document}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_created_in_the_background_is_charged_to_no_invocation() {
    let setup = setup(1).await;
    let waited = setup.invoke(json!({ "action": "background_client" })).await;
    assert_eq!(waited.clone().into_json().unwrap()["client"], 9);
    let next = setup.invoke(json!({ "action": "ok" })).await;

    let client_lines: Vec<Value> = setup
        .process
        .emf_lines()
        .into_iter()
        .filter(|line| line["client"] == "background-client")
        .collect();
    assert_eq!(client_lines.len(), 1, "{client_lines:#?}");
    let line = &client_lines[0];
    assert_valid_emf(line);
    assert_eq!(line["lambda_perf"], json!({ "phase": "background" }));
    assert!(line["ClientInitDuration"][0].as_f64().unwrap() >= 80.0);
    for result in [&waited, &next] {
        for line in lines_of(&setup.process, &result.request_id) {
            assert!(line.get("ClientInitDuration").is_none(), "{line}");
        }
    }

    // The handler that waited for it sees the wait in its own trace.
    let trace = setup.trace(&waited).await;
    let wait = named(&trace, "## init background-client");
    assert_eq!(wait["parent_id"], named(&trace, "## orders-fn")["id"]);
    let client_wait = &wait["metadata"]["lambda_perf"]["client_wait"];
    assert_eq!(client_wait["client"], "background-client");
    assert!(
        client_wait["waited_ms"].as_f64().unwrap() >= 50.0,
        "{client_wait}"
    );
    let next_trace = setup.trace(&next).await;
    assert_eq!(next_trace.len(), 1, "{next_trace:#?}");
}
