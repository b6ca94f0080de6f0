//! A client created by work that carries no invocation, after the process began serving, is
//! written as the handler that serves the process writes: its namespace, its `service` and its
//! output, given in code. A file of its own (a process of its own, also under `cargo test`):
//! which handler served first is per process.

use lambda_perf_core::lazy::TimedLazy;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

static BACKGROUND: TimedLazy<u8> = TimedLazy::new("background-client", || 3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_created_in_the_background_is_written_with_the_handlers_configuration() {
    let recorder = Recorder::with(|builder| builder.namespace("Orders").service("checkout"));
    let handler = lambda_runtime::service_fn(|_: LambdaEvent<Value>| async {
        // A plain `tokio::spawn`: the task carries no invocation.
        tokio::spawn(async { *BACKGROUND.get() }).await?;
        Ok::<_, Error>(json!({}))
    });
    recorder.run(handler, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    let client: Vec<&Value> = lines
        .iter()
        .filter(|line| line["client"] == "background-client")
        .collect();
    assert_eq!(
        client.len(),
        1,
        "the client's line is written to the handler's output: {lines:#?}"
    );
    let line = client[0];
    assert_eq!(line["lambda_perf"], json!({ "phase": "background" }));
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Orders");
    assert_eq!(line["service"], "checkout");
}
