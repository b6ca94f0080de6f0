//! The test recorder, and instrumentation nested in instrumentation: one invocation is
//! recorded once, by the outermost.

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event, unsampled_event};
use lambda_perf_core::{PerfLayer, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::ServiceBuilder;

async fn plain(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Plain", Unit::Count, 1.0);
    Ok(event.payload)
}

#[instrument_lambda(name = "inner")]
async fn instrumented(event: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Instrumented", Unit::Count, 1.0);
    Ok(event.payload)
}

/// Every line's metric names.
fn metric_names(lines: &[Value]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|line| {
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|metric| metric["Name"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_recorded_handler_writes_to_the_recorder_and_nowhere_else() {
    let recorder = Recorder::new();
    let first = event(json!({ "n": 1 }));
    let request_id = first.context.request_id.clone();
    assert_eq!(
        recorder.run(service_fn(plain), first).await.unwrap(),
        json!({ "n": 1 })
    );
    recorder
        .run(service_fn(plain), unsampled_event(json!({ "n": 2 })))
        .await
        .unwrap();

    let lines = recorder.emf().take_lines();
    assert_eq!(
        metric_names(&lines),
        [
            vec!["ColdStart", "InitDuration"],
            vec!["Plain"],
            vec!["Plain"]
        ]
    );
    assert_eq!(lines[1]["lambda_perf"]["request_id"], request_id.as_str());
    assert_eq!(lines[2]["lambda_perf"]["start_kind"], "warm");
    assert_eq!(lines[0]["service"], "test");
    // Only the sampled invocation is traced.
    let documents = recorder.xray().take();
    assert_eq!(documents.len(), 1, "{documents:#?}");
    assert_eq!(documents[0]["name"], "## handler");
    assert_eq!(
        documents[0]["metadata"]["test"]["handler response"],
        json!({ "n": 1 })
    );
}

#[tokio::test]
async fn a_macro_handler_inside_the_recorder_is_recorded_once() {
    let recorder = Recorder::new();
    recorder
        .run(service_fn(instrumented), event(json!({})))
        .await
        .unwrap();
    let lines = recorder.emf().lines();
    assert_eq!(
        metric_names(&lines),
        [vec!["ColdStart", "InitDuration"], vec!["Instrumented"]]
    );
    let names: Vec<Value> = recorder
        .xray()
        .documents()
        .iter()
        .map(|d| d["name"].clone())
        .collect();
    assert_eq!(names, [json!("## handler")]);
}

#[tokio::test]
async fn a_layer_inside_a_layer_records_once() {
    let recorder = Recorder::new();
    let inner = ServiceBuilder::new()
        .layer(PerfLayer::builder().handler_name("inner").build().unwrap())
        .service_fn(plain);
    recorder.run(inner, event(json!({}))).await.unwrap();
    let lines = recorder.emf().lines();
    assert_eq!(
        metric_names(&lines),
        [vec!["ColdStart", "InitDuration"], vec!["Plain"]]
    );
    assert_eq!(recorder.xray().documents().len(), 1);
}
