//! Is this invocation CPU-bound? With `LAMBDA_PERF_RESOURCE_USAGE`, each invocation's records
//! (the `lambda_perf` metadata of its EMF line and of its handler subsegment) say how much CPU
//! time and memory the process used, and the ratio of CPU time to duration: near 1 when more
//! memory (hence CPU) would shorten it, near 0 when it waits on I/O.

mod support;

use lambda_perf_local::emulator::{InvokeRequest, TraceHeader, XRayCollector};
use serde_json::{Value, json};
use support::*;

/// The facts resource usage adds.
const RESOURCE_FACTS: [&str; 4] = [
    "cpu_time_ms",
    "peak_rss_mb",
    "cpu_ratio",
    "cpu_allotment_used",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_bound_and_waiting_invocations_tell_themselves_apart() {
    let command = workspace_function("workload-function");
    let collector = XRayCollector::start().await.unwrap();
    // 1,769 MB allot one vCPU: the share of it used is the ratio itself.
    let config = function_config()
        .with_memory_mb(1769)
        .with_env("LAMBDA_PERF_RESOURCE_USAGE", "true")
        .with_xray_daemon_address(collector.addr().to_string());
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&command, &config).await;
    let mut facts = Vec::new();
    for event in [json!({ "spin": 400 }), json!({ "sleep_ms": 120 })] {
        let reply = process
            .invoke(&api, InvokeRequest::json(event))
            .await
            .unwrap();
        let id = reply.request_id.clone();
        let line = end_line(&process, &id).await;
        assert_valid_emf(&line);
        // The handler subsegment carries the same figures in its `lambda_perf` metadata.
        let header = TraceHeader::parse(reply.trace_header.as_deref().unwrap()).unwrap();
        let (root, parent) = (header.root.clone(), header.parent.clone());
        let handler = collector
            .wait_for(
                move |doc| doc["trace_id"] == root.as_str() && doc["parent_id"] == parent.as_str(),
                WAIT,
            )
            .await
            .unwrap();
        assert_valid_xray(&handler);
        let traced = &handler["metadata"]["lambda_perf"];
        for key in RESOURCE_FACTS {
            assert!(line["lambda_perf"][key].is_f64(), "{key} in {line}");
            assert_eq!(traced[key], line["lambda_perf"][key], "{key}: {handler}");
        }
        facts.push(line["lambda_perf"].clone());
    }
    let number = |facts: &Value, key: &str| {
        facts[key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key} in {facts}"))
    };
    let (busy, idle) = (&facts[0], &facts[1]);
    // A loaded machine lets a busy process run for only part of its duration (a third of it
    // when other builds hold both cores): the busy ratio is compared with the waiting one,
    // with a floor well below what any machine gives it.
    let (busy_ratio, idle_ratio) = (number(busy, "cpu_ratio"), number(idle, "cpu_ratio"));
    assert!(busy_ratio > 0.1, "{busy}");
    assert!(busy_ratio > 5.0 * idle_ratio, "{busy} against {idle}");
    assert!(number(busy, "cpu_time_ms") > 5.0, "{busy}");
    assert!(idle_ratio < 0.2, "{idle}");
    assert!(number(idle, "duration_ms") >= 120.0, "{idle}");
    for facts in [busy, idle] {
        assert!(number(facts, "peak_rss_mb") > 0.0, "{facts}");
        let ratio = number(facts, "cpu_time_ms") / number(facts, "duration_ms");
        assert!((ratio - number(facts, "cpu_ratio")).abs() < 0.05, "{facts}");
        assert_eq!(facts["cpu_allotment_used"], facts["cpu_ratio"], "{facts}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_nothing_is_measured() {
    let command = workspace_function("workload-function");
    let Started {
        api,
        process,
        environment: _environment,
    } = start(&command, &function_config()).await;
    let reply = process
        .invoke(&api, InvokeRequest::json(json!({ "spin": 1 })))
        .await
        .unwrap();
    let line = end_line(&process, &reply.request_id).await;
    for key in RESOURCE_FACTS {
        assert!(line["lambda_perf"].get(key).is_none(), "{key} in {line}");
    }
}
