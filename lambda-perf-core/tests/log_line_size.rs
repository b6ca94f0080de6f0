//! Log lines stay within the size Lambda's log capture keeps whole (the 256,000 bytes an EMF
//! line is held to): a longer stdout line is split into pieces that are each invalid JSON.

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{CapturedLines, Recorder, event};
use lambda_perf_core::{InitBuilder, logs};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

/// The longest line lambda-perf writes to stdout (`formats::emf::MAX_LINE_BYTES`).
const MAX_LINE_BYTES: usize = 256_000;

#[test]
fn a_huge_field_or_event_gives_a_line_lambda_keeps_whole() {
    let lines = CapturedLines::new();
    let layers = InitBuilder::from_env()
        .log_level(Level::INFO)
        .log_event(true)
        .xray_layer(false)
        .log_writer(lines.clone())
        .layer::<Registry>()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layers));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let recorder = Recorder::new();
    let handler = service_fn(|event: LambdaEvent<Value>| async move {
        logs::log_event(&event.payload);
        tracing::info!(body = %"b".repeat(300_000), "response body");
        metrics::add_metric("Calls", Unit::Count, 1.0);
        Ok::<_, Error>(())
    });
    // An API Gateway request with a 300 KB body (Lambda takes events up to 6 MB).
    let sent = event(json!({ "body": "x".repeat(300_000) }));
    tracing::dispatcher::with_default(&dispatch, || runtime.block_on(recorder.run(handler, sent)))
        .unwrap();
    let text = lines.text();
    assert_eq!(text.lines().count(), 2, "one line per event");
    let mut written = Vec::new();
    for line in text.lines() {
        assert!(
            line.len() <= MAX_LINE_BYTES,
            "a log line of {} bytes: {:.200}",
            line.len(),
            line
        );
        written.push(serde_json::from_str::<Value>(line).unwrap());
    }
    // The huge values are replaced by markers with their size; the rest of each line stays.
    let [event_line, body_line] = &written[..] else {
        unreachable!()
    };
    assert_eq!(event_line["message"], "Lambda invocation event");
    let event = &event_line["event"]["lambda_perf_truncated"];
    assert_eq!(event["size_bytes"], 300_011, "{event:.200}");
    assert!(
        event["preview"]
            .as_str()
            .unwrap()
            .starts_with(r#"{"body":"xxx"#)
    );
    assert_eq!(body_line["message"], "response body");
    assert_eq!(
        body_line["body"]["lambda_perf_truncated"]["size_bytes"],
        300_002
    );
    for line in &written {
        assert_eq!(line["level"], "INFO");
        assert!(line["function_request_id"].is_string(), "{line:.300}");
    }
    // Each trimmed line is counted, in the invocation's EMF line.
    let emf = recorder.emf().lines();
    assert_eq!(
        emf.last().unwrap()["lambda_perf"]["dropped"]["logs.line_trimmed"],
        2,
        "{emf:?}"
    );
}
