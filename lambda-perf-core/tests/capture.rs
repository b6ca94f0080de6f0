//! What is captured of the handler's result, the redaction hook, and error capture off.

#[path = "common/child_process.rs"]
mod child_process;

use lambda_perf_core::Captured;
use lambda_perf_core::lazy::TimedAsyncLazy;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::test_util::{Recorder, event};
use lambda_perf_core::xray::Subsegment;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn pays(_: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "card_number": "4111111111111111", "status": "paid" }))
}

async fn declines(_: LambdaEvent<Value>) -> Result<Value, Error> {
    metrics::add_metric("Declines", Unit::Count, 1.0);
    let _ = Subsegment::new("charge")
        .instrument_fallible(async { Err::<(), _>(std::io::Error::other("card 4111 declined")) })
        .await;
    Err("card 4111111111111111 declined".into())
}

fn handler_document(recorder: &Recorder) -> Value {
    recorder.xray().named("## handler").unwrap()
}

#[tokio::test]
async fn a_redaction_hook_masks_the_response_before_it_is_captured() {
    let recorder = Recorder::with(|layer| {
        layer.redact(|captured, mut value| {
            assert_eq!(captured, Captured::Response);
            value["card_number"] = "****".into();
            Some(value)
        })
    });
    let response = recorder
        .run(service_fn(pays), event(json!({})))
        .await
        .unwrap();
    assert_eq!(
        response["card_number"], "4111111111111111",
        "the answer is untouched"
    );
    let document = handler_document(&recorder);
    assert_eq!(
        document["metadata"]["test"]["handler response"],
        json!({ "card_number": "****", "status": "paid" })
    );
}

#[tokio::test]
async fn a_redaction_hook_can_keep_a_capture_out_entirely() {
    let recorder = Recorder::with(|layer| layer.redact(|_, _| None));
    recorder
        .run(service_fn(pays), event(json!({})))
        .await
        .unwrap();
    recorder
        .run(service_fn(declines), event(json!({})))
        .await
        .unwrap_err();
    let documents = recorder.xray().documents();
    let text = serde_json::to_string(&documents).unwrap();
    assert!(!text.contains("4111111111111111"), "{text}");
    let failed = documents
        .iter()
        .rev()
        .find(|d| d["name"] == "## handler")
        .unwrap();
    assert_eq!(failed["fault"], true);
    assert_eq!(
        failed["cause"]["exceptions"][0]["type"],
        "lambda_runtime::Error"
    );
    assert!(failed["cause"]["exceptions"][0].get("message").is_none());
    assert!(failed["metadata"]["test"].get("handler error").is_none());
}

#[tokio::test]
async fn a_redacted_error_message_is_the_one_the_cause_keeps() {
    let recorder = Recorder::with(|layer| {
        layer.redact(|captured, mut value| {
            if captured == Captured::Error {
                value["message"] = "card **** declined".into();
            }
            Some(value)
        })
    });
    recorder
        .run(service_fn(declines), event(json!({})))
        .await
        .unwrap_err();
    let document = handler_document(&recorder);
    assert_eq!(
        document["cause"]["exceptions"][0]["message"],
        "card **** declined"
    );
    assert_eq!(
        document["metadata"]["test"]["handler error"],
        json!({ "type": "lambda_runtime::Error", "message": "card **** declined" })
    );
}

#[tokio::test]
async fn without_error_capture_no_error_message_reaches_any_output() {
    static FLAKY: TimedAsyncLazy<u8, String> = TimedAsyncLazy::new("flaky", || {
        Box::pin(async { Err("secret token abc123 rejected".to_owned()) })
    });
    let recorder = Recorder::with(|layer| layer.capture_error(false));
    let failing = service_fn(|event: LambdaEvent<Value>| async move {
        let _ = FLAKY.get().await;
        declines(event).await
    });
    recorder.run(failing, event(json!({}))).await.unwrap_err();
    let documents = recorder.xray().documents();
    let everything = format!(
        "{}{}",
        serde_json::to_string(&documents).unwrap(),
        recorder.emf().text()
    );
    // Each with a character no hex id has, so that a random trace id cannot match.
    for secret in ["card 4111", "token abc123", "declined", "rejected"] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
    let handler = documents
        .iter()
        .find(|d| d["name"] == "## handler")
        .unwrap();
    assert_eq!(handler["fault"], true);
    assert_eq!(
        handler["cause"]["exceptions"][0]["type"],
        "lambda_runtime::Error"
    );
    let charge = documents.iter().find(|d| d["name"] == "charge").unwrap();
    assert_eq!(charge["cause"]["exceptions"][0]["type"], "Error");
    assert!(charge["cause"]["exceptions"][0].get("message").is_none());
}

#[tokio::test]
async fn a_panicking_hook_captures_nothing_and_is_counted() {
    let recorder = Recorder::with(|layer| layer.redact(|_, _| panic!("the hook broke")));
    let response = recorder
        .run(service_fn(pays), event(json!({})))
        .await
        .unwrap();
    assert_eq!(response["status"], "paid");
    recorder
        .run(
            service_fn(|_: LambdaEvent<Value>| async {
                metrics::add_metric("Calls", Unit::Count, 1.0);
                Ok::<_, Error>(json!("done"))
            }),
            event(json!({})),
        )
        .await
        .unwrap();
    let first = recorder.xray().documents()[0].clone();
    assert!(
        first["metadata"]["test"].get("handler response").is_none(),
        "{first}"
    );
    // Both responses went through the hook; the first invocation wrote no line, so the
    // second reports both.
    let lines = recorder.emf().lines();
    assert_eq!(
        lines.last().unwrap()["lambda_perf"]["dropped"]["capture.redaction_panicked"],
        2
    );
}

/// A hook that panics is warned of once on stderr, however often it panics: the capture it
/// was to make is lost, which the count alone would not tell a reader of the logs. Runs
/// itself again in a child process, whose stderr it reads.
#[tokio::test]
async fn a_panicking_hook_is_warned_of_once() {
    const CHILD: &str = "LAMBDA_PERF_TEST_PANICKING_HOOK_CHILD";
    if child_process::is_child(CHILD) {
        let recorder = Recorder::with(|layer| layer.redact(|_, _| panic!("the hook broke")));
        for _ in 0..3 {
            let response = recorder
                .run(service_fn(pays), event(json!({})))
                .await
                .unwrap();
            assert_eq!(response["status"], "paid");
        }
        return;
    }
    let (warnings, stderr) = child_process::warnings_of_child(
        "a_panicking_hook_is_warned_of_once",
        CHILD,
        "redaction hook",
    );
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("capture.redaction_panicked"),
        "{}",
        warnings[0]
    );
}

/// The handler subsegment of one more invocation (of `pays`), the earlier ones set aside.
async fn next_handler_document(recorder: &Recorder) -> Value {
    let _ = recorder.xray().take();
    recorder
        .run(service_fn(pays), event(json!({})))
        .await
        .unwrap();
    handler_document(recorder)
}

/// `count` levels of arrays around `inner`.
fn nested(count: usize, inner: Value) -> Value {
    (0..count).fold(inner, |value, _| json!([value]))
}

/// The `lambda_perf.dropped` count of `cause` on a handler subsegment (0 when absent).
fn dropped(document: &Value, cause: &str) -> u64 {
    document["metadata"]["lambda_perf"]["dropped"][cause]
        .as_u64()
        .unwrap_or(0)
}

/// A redaction hook sees the response as a value; one nested deeper than `serde_json` reads
/// back (127 levels) cannot be, so it is not captured at all — never passed on unredacted,
/// nor handed to the hook as a string — and is counted.
#[tokio::test]
async fn a_response_too_deep_for_the_redaction_hook_is_left_out_and_counted() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = Recorder::with(|layer| {
        let seen = std::sync::Arc::clone(&seen);
        layer.redact(move |_, value| {
            seen.lock().unwrap().push(value.clone());
            Some(value)
        })
    });
    let deep = nested(200, json!({ "card_number": "4111111111111111" }));
    let response = recorder
        .run(
            service_fn(move |_: LambdaEvent<Value>| {
                let deep = deep.clone();
                async move { Ok::<_, Error>(deep) }
            }),
            event(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(
        response,
        nested(200, json!({ "card_number": "4111111111111111" }))
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "the hook saw {:?}",
        seen.lock().unwrap()
    );
    let first = handler_document(&recorder);
    assert!(
        first["metadata"]["test"].get("handler response").is_none(),
        "{first}"
    );
    // The next handler subsegment reports the drop.
    let next = next_handler_document(&recorder).await;
    assert_eq!(
        dropped(&next, "capture.response_not_redactable"),
        1,
        "{next}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the next response is redacted as usual"
    );
}

/// A `Serialize` that opens a key and never gives its value: `serde_json` writes text that is
/// not JSON. The capture is refused (counted), never copied into the document.
struct KeyWithoutValue;

impl serde::Serialize for KeyWithoutValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_key("orphan")?;
        map.end()
    }
}

#[tokio::test]
async fn a_response_whose_serialize_writes_what_is_not_json_is_left_out_and_counted() {
    let recorder = Recorder::new();
    recorder
        .run(
            service_fn(|_: LambdaEvent<Value>| async { Ok::<_, Error>(KeyWithoutValue) }),
            event(json!({})),
        )
        .await
        .unwrap();
    // The document is sent (and parses: the recorder keeps only documents that do), and
    // reports the drop itself: the response is written before the subsegment's facts are.
    let first = handler_document(&recorder);
    assert!(
        first["metadata"]["test"].get("handler response").is_none(),
        "{first}"
    );
    assert_eq!(
        dropped(&first, "capture.response_not_serializable"),
        1,
        "{first}"
    );
    let next = next_handler_document(&recorder).await;
    assert_eq!(
        dropped(&next, "capture.response_not_serializable"),
        0,
        "{next}"
    );
    assert_eq!(
        next["metadata"]["test"]["handler response"]["status"], "paid",
        "{next}"
    );
}

/// A response that is not `Serialize`, the part of it a capture of one's own records.
struct Order {
    id: String,
    lines: Vec<String>,
}

/// An order's id and its number of lines.
struct OrderSummary;

impl lambda_perf_core::ResponseCapture<Order> for OrderSummary {
    fn capture(order: &Order) -> Option<Value> {
        Some(json!({ "id": order.id, "lines": order.lines.len() }))
    }
}

/// `with_response_capture` puts a capture of one's own in the layer: its value is the
/// response metadata, passed through the redaction hook as a whole response is; the handler's
/// response is the handler's.
#[tokio::test]
async fn a_capture_of_ones_own_records_what_it_returns() {
    use tower::{Layer, ServiceExt};

    let recorder = Recorder::with(|layer| {
        layer.redact(|captured, mut value| {
            assert_eq!(captured, Captured::Response);
            value["redacted"] = true.into();
            Some(value)
        })
    });
    let service = recorder
        .layer()
        .with_response_capture::<OrderSummary>()
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            Ok::<_, Error>(Order {
                id: "o-1".into(),
                lines: vec!["book".into(), "pen".into()],
            })
        }));
    let order = service.oneshot(event(json!({}))).await.unwrap();
    assert_eq!((order.id.as_str(), order.lines.len()), ("o-1", 2));
    assert_eq!(
        handler_document(&recorder)["metadata"]["test"]["handler response"],
        json!({ "id": "o-1", "lines": 2, "redacted": true })
    );
}

async fn answers_nothing(_: LambdaEvent<Value>) -> Result<(), Error> {
    Ok(())
}

/// As Powertools skips a `None` response: a handler that answers `()` (or `None`, or JSON
/// `null`) leaves no `"<handler> response"` metadata rather than a `null` one.
#[tokio::test]
async fn a_null_response_is_not_captured() {
    let recorder = Recorder::new();
    recorder
        .run(service_fn(answers_nothing), event(json!({})))
        .await
        .unwrap();
    let document = handler_document(&recorder);
    assert!(
        document["metadata"]["test"]
            .get("handler response")
            .is_none(),
        "{document}"
    );
    // The next one's is captured.
    let document = next_handler_document(&recorder).await;
    assert_eq!(
        document["metadata"]["test"]["handler response"]["status"],
        "paid"
    );
}
