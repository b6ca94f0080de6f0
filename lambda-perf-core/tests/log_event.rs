//! `#[instrument_lambda]` logs the incoming event when asked, if its payload is `Serialize`,
//! on the invocation's task (so the line carries the invocation); other events are not
//! logged, and nothing is logged unless asked.

use lambda_perf_core::test_util::{CapturedLines, Recorder, event};
use lambda_perf_core::{Captured, InitBuilder, instrument_lambda, logs};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

#[instrument_lambda]
async fn orders(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(Value::Null)
}

/// Only `Deserialize`, as most event types written for one function are.
#[derive(serde::Deserialize)]
struct Order {
    #[allow(dead_code)]
    id: u32,
}

#[instrument_lambda]
async fn opaque(_event: LambdaEvent<Order>) -> Result<Value, Error> {
    Ok(Value::Null)
}

fn with_logs<R>(
    log_event: bool,
    lines: &CapturedLines,
    f: impl std::future::Future<Output = R>,
) -> R {
    let layers = InitBuilder::from_env()
        .log_level(Level::INFO)
        .log_event(log_event)
        .xray_layer(false)
        .log_writer(lines.clone())
        .layer::<Registry>()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layers));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || runtime.block_on(f))
}

#[test]
fn a_serializable_event_is_logged_with_its_invocation_when_asked() {
    let lines = CapturedLines::new();
    let recorder = Recorder::new();
    let sent = event(json!({ "order": 7 }));
    let request_id = sent.context.request_id.clone();
    with_logs(true, &lines, recorder.run(service_fn(orders), sent)).unwrap();
    let written = lines.lines();
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!(written[0]["message"], "Lambda invocation event");
    assert_eq!(written[0]["event"], json!({ "order": 7 }));
    assert_eq!(written[0]["function_request_id"], request_id.as_str());
    assert_eq!(written[0]["service"], "test");
}

#[test]
fn other_events_and_events_not_asked_for_are_not_logged() {
    let lines = CapturedLines::new();
    let recorder = Recorder::new();
    with_logs(true, &lines, async {
        recorder
            .run(service_fn(opaque), event(Order { id: 1 }))
            .await
            .unwrap();
    });
    let quiet = CapturedLines::new();
    with_logs(
        false,
        &quiet,
        recorder.run(service_fn(orders), event(json!({ "order": 8 }))),
    )
    .unwrap();
    assert_eq!(lines.lines(), Vec::<Value>::new());
    assert_eq!(quiet.lines(), Vec::<Value>::new());
}

/// Masks the card number of the incoming event; keeps the rest.
fn mask_card(kind: Captured, mut value: Value) -> Option<Value> {
    if kind == Captured::Event {
        value["card"] = json!("****");
    }
    Some(value)
}

/// A handler behind `PerfLayer` logs its event itself.
async fn payments(event: LambdaEvent<Value>) -> Result<Value, Error> {
    logs::log_event(&event.payload);
    Ok(Value::Null)
}

#[test]
fn the_incoming_event_passes_the_redaction_hook_before_it_is_logged() {
    let lines = CapturedLines::new();
    let sent = json!({ "order": 7, "card": "4111111111111111" });
    let masking = Recorder::with(|layer| layer.redact(mask_card));
    with_logs(
        true,
        &lines,
        masking.run(service_fn(payments), event(sent.clone())),
    )
    .unwrap();
    let keeping_out = Recorder::with(|layer| {
        layer.redact(|kind, value| (kind != Captured::Event).then_some(value))
    });
    with_logs(
        true,
        &lines,
        keeping_out.run(service_fn(payments), event(sent)),
    )
    .unwrap();
    let written = lines.lines();
    assert_eq!(
        written.len(),
        1,
        "the second event is kept out: {written:#?}"
    );
    assert_eq!(written[0]["event"], json!({ "order": 7, "card": "****" }));
}

/// An event whose `Serialize` panics (user code, as a response's is).
#[derive(serde::Deserialize)]
struct Fragile {
    #[allow(dead_code)]
    id: u32,
}

impl serde::Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("Fragile does not serialize")
    }
}

#[instrument_lambda]
async fn fragile(_event: LambdaEvent<Fragile>) -> Result<Value, Error> {
    Ok(json!({ "handled": true }))
}

#[test]
fn an_event_whose_serialize_panics_is_not_logged_and_the_handler_still_answers() {
    let lines = CapturedLines::new();
    let recorder = Recorder::new();
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_logs(
            true,
            &lines,
            recorder.run(service_fn(fragile), event(Fragile { id: 1 })),
        )
    }));
    assert_eq!(
        answer.expect("the handler panicked").unwrap(),
        json!({ "handled": true })
    );
    assert_eq!(lines.lines(), Vec::<Value>::new());
}
