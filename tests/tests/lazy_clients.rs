//! `examples/lazy-clients` under the loopback Runtime API: an eager client recorded at init
//! and reported on the first invocation; a lazy one recorded inside the invocation that
//! created it; nothing on warm invocations.

mod support;

use lambda_perf_local::emulator::{InvokeRequest, TraceHeader, XRayCollector};
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_and_lazy_clients_are_recorded_where_they_ran() {
    let collector = XRayCollector::start().await.unwrap();
    let config = function_config().with_xray_daemon_address(collector.addr().to_string());
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&workspace_function("lazy-clients"), &config).await;

    let mut traces = Vec::new();
    for _ in 0..2 {
        let result = process
            .invoke(&api, InvokeRequest::json(json!({ "order_id": "o-4" })))
            .await
            .unwrap();
        let id = result.request_id.clone();
        let header = TraceHeader::parse(result.trace_header.as_deref().unwrap()).unwrap();
        assert_eq!(
            result.into_json().unwrap(),
            json!({ "order_id": "o-4", "total_cents": 1000 })
        );
        let root = header.root.clone();
        collector
            .wait_for(
                move |doc| doc["trace_id"] == root.as_str() && doc["name"] == "## orders-fn",
                WAIT,
            )
            .await
            .unwrap();
        let trace: Vec<Value> = collector
            .documents()
            .into_iter()
            .filter(|doc| doc["trace_id"] == header.root.as_str())
            .collect();
        trace.iter().for_each(assert_valid_xray);
        traces.push((id, trace));
    }

    // First invocation, metrics: each client in a line of its own with the same dimensions,
    // service and client, whether it was created at init (eager) or by the invocation (lazy).
    // (The handler records no metric of its own, so these are the only lines besides
    // ColdStart.)
    process
        .wait_for_line(
            |line| line.emf().is_some_and(|emf| emf["client"] == "price-api"),
            WAIT,
        )
        .await
        .unwrap();
    let (first_id, first_trace) = &traces[0];
    let first_lines = lines_of(&process, first_id);
    first_lines.iter().for_each(assert_valid_emf);
    let cold = first_lines
        .iter()
        .find(|line| is_cold_start_line(line))
        .unwrap();
    assert!(cold.get("ClientInitDuration").is_none(), "{cold}");
    let eager = first_lines
        .iter()
        .find(|line| line["client"] == "orders-table")
        .expect("the eager client's line");
    assert!(
        eager["ClientInitDuration"][0].as_f64().unwrap() >= 50.0,
        "{eager}"
    );
    assert_eq!(
        eager["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["service", "client"]])
    );
    let lazy_lines: Vec<Value> = process
        .emf_lines()
        .into_iter()
        .filter(|line| line["client"] == "price-api")
        .collect();
    assert_eq!(lazy_lines.len(), 1, "{lazy_lines:#?}");
    assert!(lazy_lines[0]["ClientInitDuration"][0].as_f64().unwrap() >= 30.0);
    assert_eq!(
        lazy_lines[0]["lambda_perf"]["request_id"],
        first_id.as_str()
    );
    assert_eq!(lazy_lines[0]["lambda_perf"]["start_kind"], "cold");
    assert_valid_emf(&lazy_lines[0]);
    assert_eq!(
        lazy_lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["service", "client"]])
    );

    // First invocation, trace.
    let handler = first_trace
        .iter()
        .find(|doc| doc["name"] == "## orders-fn")
        .unwrap();
    let init_clients = &handler["metadata"]["lambda_perf"]["init_clients"];
    assert_eq!(init_clients.as_array().unwrap().len(), 1, "{init_clients}");
    assert_eq!(init_clients[0]["client"], "orders-table");
    assert_eq!(init_clients[0]["phase"], "init");
    assert!(init_clients[0]["duration_ms"].as_f64().unwrap() >= 50.0);
    let lazy = first_trace
        .iter()
        .find(|doc| doc["name"] == "## init price-api")
        .expect("the lazy client's subsegment");
    assert_eq!(lazy["parent_id"], handler["id"]);
    let record = &lazy["metadata"]["lambda_perf"]["client_init"];
    assert_eq!(record["phase"], "invocation");
    assert_eq!(record["start_kind"], "cold");
    assert!(record["duration_ms"].as_f64().unwrap() >= 30.0);
    assert_eq!(first_trace.len(), 2);

    // Warm: nothing about clients.
    let (warm_id, warm_trace) = &traces[1];
    let warm_lines = lines_of(&process, warm_id);
    assert!(warm_lines.iter().all(|line| !is_cold_start_line(line)));
    assert_eq!(warm_trace.len(), 1, "{warm_trace:#?}");
    assert!(
        warm_trace[0]["metadata"]["lambda_perf"]
            .get("init_clients")
            .is_none()
    );
    assert_eq!(
        process
            .emf_lines()
            .iter()
            .filter(|line| line.get("ClientInitDuration").is_some())
            .count(),
        2,
        "one orders-table line and one price-api line, nothing more"
    );
}
