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

/// The recorder records the handler's subsegments whatever `LAMBDA_PERF_TRACES` the
/// machine running the tests has (a shell set up for a local collector, `none` in CI): its
/// tracing is on, into its own collector, as its docs say. Runs itself again in a child
/// process with the variable set.
#[tokio::test]
async fn the_recorder_collects_subsegments_whatever_lambda_perf_traces_says() {
    const CHILD: &str = "LAMBDA_PERF_TEST_RECORDER_TRACES_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let recorder = Recorder::new();
        recorder
            .run(service_fn(plain), event(json!({})))
            .await
            .unwrap();
        assert!(
            recorder.xray().named("## handler").is_some(),
            "{:#?}",
            recorder.xray().documents()
        );
        return;
    }
    for traces in ["none", "xray-otlp"] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "the_recorder_collects_subsegments_whatever_lambda_perf_traces_says",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("LAMBDA_PERF_TRACES", traces)
            .env("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:9")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "LAMBDA_PERF_TRACES={traces}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
