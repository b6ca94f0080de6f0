//! Is this invocation CPU-bound? With `LAMBDA_PERF_RESOURCE_USAGE`, each invocation's records
//! say how much CPU time and memory the process used, and the ratio of CPU time to duration:
//! near 1 when more memory (hence CPU) would shorten it, near 0 when it waits on I/O.

mod support;

use lambda_perf_local::emulator::{FunctionCommand, InvokeRequest};
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_bound_and_waiting_invocations_tell_themselves_apart() {
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_workload-function"));
    let config = function_config().with_env("LAMBDA_PERF_RESOURCE_USAGE", "true");
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
        facts.push(line["lambda_perf"].clone());
    }
    let number = |facts: &Value, key: &str| {
        facts[key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key} in {facts}"))
    };
    let (busy, idle) = (&facts[0], &facts[1]);
    // A loaded machine lets a busy process run less than all of its duration: ratios are
    // compared with room to spare.
    assert!(number(busy, "cpu_ratio") > 0.4, "{busy}");
    assert!(number(busy, "cpu_time_ms") > 5.0, "{busy}");
    assert!(number(idle, "cpu_ratio") < 0.2, "{idle}");
    assert!(number(idle, "duration_ms") >= 120.0, "{idle}");
    for facts in [busy, idle] {
        assert!(number(facts, "peak_rss_mb") > 0.0, "{facts}");
        let ratio = number(facts, "cpu_time_ms") / number(facts, "duration_ms");
        assert!((ratio - number(facts, "cpu_ratio")).abs() < 0.05, "{facts}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_nothing_is_measured() {
    let command = FunctionCommand::new(env!("CARGO_BIN_EXE_workload-function"));
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
    assert!(line["lambda_perf"].get("cpu_ratio").is_none(), "{line}");
}
