//! A `SingleMetric` emitted by work that carries no invocation, after the process began
//! serving, is written as the handler that serves the process writes: its namespace, its
//! `service` and its output, given in code. A file of its own (a process of its own, also
//! under `cargo test`): which handler served first is per process.

use lambda_perf_core::metrics::{SingleMetric, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_metric_from_the_background_is_written_with_the_handlers_configuration() {
    let recorder = Recorder::with(|builder| builder.namespace("Orders").service("checkout"));
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        tokio::spawn(async {
            SingleMetric::new("QueueDepth", Unit::Count, 4.0)
                .dimension("queue", "orders")
                .emit();
        })
        .await?;
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let single: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("QueueDepth").is_some())
        .collect();
    assert_eq!(
        single.len(),
        1,
        "the metric's line is written to the handler's output: {lines:#?}"
    );
    let line = single[0];
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Orders");
    assert_eq!(line["service"], "checkout");
    assert_eq!(line["queue"], "orders");
}
