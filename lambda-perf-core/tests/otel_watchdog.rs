//! OpenTelemetry spans of an invocation that the timeout watchdog wrote early and that then
//! finished in time: one span per subsegment id, as in X-Ray, where the final document
//! replaces the watchdog's copy of the same id.
#![cfg(feature = "opentelemetry")]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::opentelemetry_sdk::trace::InMemorySpanExporter;
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray::Subsegment;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn stuck_a_while(_: LambdaEvent<Value>) -> Result<Value, Error> {
    // The watchdog fires 100 ms in, inside `downstream`; the handler ends at 250 ms.
    Subsegment::new("downstream")
        .instrument(tokio::time::sleep(Duration::from_millis(250)))
        .await;
    Ok(json!({ "ok": true }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_finishes_in_time_exports_each_span_once() {
    let spans = InMemorySpanExporter::default();
    let exporter = spans.clone();
    let recorder = Recorder::with(move |builder| {
        builder
            .span_exporter(exporter)
            .timeout_margin(Duration::from_millis(300))
    });
    let mut sent = event(json!({}));
    let deadline = SystemTime::now() + Duration::from_millis(400);
    sent.context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    recorder.run(service_fn(stuck_a_while), sent).await.unwrap();

    // X-Ray: the watchdog's copies, then the final documents of the same ids.
    let documents = recorder.xray().documents();
    let downstream = documents
        .iter()
        .filter(|d| d["name"] == "downstream")
        .count();
    assert_eq!(
        downstream, 2,
        "the watchdog's copy and the final one: {documents:#?}"
    );

    let finished = spans.get_finished_spans().unwrap();
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    for span in &finished {
        by_id
            .entry(span.span_context.span_id().to_string())
            .or_default()
            .push(span.name.to_string());
    }
    // Each handler span carries the function's facts (the first one sent took them).
    for span in finished.iter().filter(|span| span.name == "## handler") {
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "faas.coldstart"),
            "a handler span without its FaaS facts: {:?}",
            span.attributes
        );
    }
    let repeated: Vec<_> = by_id.values().filter(|names| names.len() > 1).collect();
    assert!(
        repeated.is_empty(),
        "spans exported twice with one id: {repeated:?}"
    );
}
