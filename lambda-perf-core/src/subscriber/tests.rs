//! Golden log lines: what `init`'s layers write, inside and outside an invocation, in both
//! formats, through level filtering and per-invocation sampling — with the layers built as
//! `init` builds them and the invocations begun by a real `PerfLayer`.

use std::collections::BTreeSet;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Config, Context, Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing::{Dispatch, Instrument, Level};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

use super::InitBuilder;
use crate::formats::log::sampling::Sampling;
use crate::layer::PerfLayer;
use crate::logs::LogFormat;
use crate::test_util::CapturedLines;

const TARGET: &str = "lambda_perf_core::subscriber::tests";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:my-fn";
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

fn fixed_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_410_978_886)
}

/// The layers `init` would install, writing to `lines` at a fixed time.
fn subscriber(
    configure: impl FnOnce(InitBuilder) -> InitBuilder,
    lines: &CapturedLines,
) -> Dispatch {
    let builder = InitBuilder::without_env()
        .clock(fixed_time)
        .log_writer(lines.clone());
    let layers = configure(builder).layer::<Registry>().unwrap();
    Dispatch::new(tracing_subscriber::registry().with(layers))
}

fn perf_layer() -> PerfLayer {
    PerfLayer::builder()
        .service("payment")
        .namespace("Test")
        .without_marker()
        .trace_disabled(true)
        .emf_writer(io::sink())
        .build()
        .unwrap()
}

fn event(request_id: &str, payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = request_id.to_owned();
    context.invoked_function_arn = ARN.to_owned();
    context.xray_trace_id = Some(format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"));
    context.env_config = Arc::new(Config {
        function_name: "my-fn".to_owned(),
        memory: 128,
        ..Config::default()
    });
    LambdaEvent::new(payload, context)
}

/// Runs `f` with `dispatch` as this thread's subscriber, on a current-thread runtime.
fn run<R>(dispatch: &Dispatch, f: impl std::future::Future<Output = R>) -> R {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    tracing::dispatcher::with_default(dispatch, || runtime.block_on(f))
}

/// Invokes `handler` behind `layer` with `event`.
async fn invoke<F, Fut>(layer: &PerfLayer, handler: F, event: LambdaEvent<Value>) -> Value
where
    F: FnMut(LambdaEvent<Value>) -> Fut,
    Fut: std::future::Future<Output = Result<Value, Error>>,
{
    let mut service = layer.layer(service_fn(handler));
    service.ready().await.unwrap();
    service.call(event).await.unwrap()
}

async fn collect_payment(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = tracing::info_span!("payment", order = 7, currency = "EUR");
    let _entered = span.enter();
    tracing::info!(amount = 12.5, paid = true, "Collecting payment");
    Ok(Value::Null)
}

#[test]
fn json_inside_an_invocation() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    run(
        &dispatch,
        invoke(&perf_layer(), collect_payment, event("req-1", Value::Null)),
    );
    assert_eq!(
        lines.text(),
        concat!(
            r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"Collecting payment","#,
            r#""target":"lambda_perf_core::subscriber::tests","service":"payment","cold_start":true,"#,
            r#""start_kind":"cold","function_name":"my-fn","function_memory_size":128,"#,
            r#""function_arn":"arn:aws:lambda:us-east-1:123456789012:function:my-fn","#,
            r#""function_request_id":"req-1","xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","#,
            r#""order":7,"currency":"EUR","amount":12.5,"paid":true}"#,
            "\n"
        )
    );
}

#[test]
fn json_outside_an_invocation() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(phase = "init", clients = 2_u64, "starting");
    });
    assert_eq!(
        lines.text(),
        concat!(
            r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"starting","#,
            r#""target":"lambda_perf_core::subscriber::tests","phase":"init","clients":2}"#,
            "\n"
        )
    );
}

/// An event's `message` given as a number or a boolean is still its message, as its text:
/// not an empty message beside a `fields.message`.
#[test]
fn a_message_given_as_a_number_or_a_boolean_is_the_message() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(message = 5_i64);
        tracing::info!(message = 7_u64);
        tracing::info!(message = 2.5_f64);
        tracing::info!(message = true);
        tracing::info!(message = 9_u128);
    });
    let written = lines.lines();
    let messages: Vec<&Value> = written.iter().map(|line| &line["message"]).collect();
    assert_eq!(messages, ["5", "7", "2.5", "true", "9"], "{written:#?}");
    assert!(
        written
            .iter()
            .all(|line| line.get("fields.message").is_none()),
        "{written:#?}"
    );
}

/// As Powertools under `POWERTOOLS_DEV`: each member on a line of its own, four spaces a level,
/// in the order of the compact line; text lines stay as they are.
#[test]
fn json_lines_are_indented_when_asked() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_indented(true), &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(phase = "init", clients = 2_u64, "starting");
    });
    assert_eq!(
        lines.text(),
        concat!(
            "{\n",
            "    \"timestamp\": \"2026-11-23T05:16:18.886Z\",\n",
            "    \"level\": \"INFO\",\n",
            "    \"message\": \"starting\",\n",
            "    \"target\": \"lambda_perf_core::subscriber::tests\",\n",
            "    \"phase\": \"init\",\n",
            "    \"clients\": 2\n",
            "}\n"
        )
    );

    let text = CapturedLines::new();
    let dispatch = subscriber(
        |builder| builder.log_indented(true).log_format(LogFormat::Text),
        &text,
    );
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("starting"));
    assert_eq!(text.text().lines().count(), 1, "{}", text.text());
}

/// An indented line is one log line over several lines of output: a failed write of it
/// loses one log line, and is counted as one.
#[test]
fn a_failed_write_of_an_indented_line_counts_one_lost_line() {
    use crate::drops::{self, Report};
    use crate::outputs::line_writer::Closed;

    let layers = InitBuilder::without_env()
        .clock(fixed_time)
        .log_indented(true)
        .log_writer(Closed)
        .layer::<Registry>()
        .unwrap();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layers));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(phase = "init", clients = 2_u64, "starting");
    });
    let dropped = drops::take(Report::Emf).expect("counted");
    assert_eq!(dropped.of("logs.write_failed"), 1);
}

#[test]
fn text_inside_and_outside_an_invocation() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_format(LogFormat::Text), &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::warn!(phase = "init", "slow\nstart");
    });
    run(
        &dispatch,
        invoke(&perf_layer(), collect_payment, event("req-1", Value::Null)),
    );
    assert_eq!(
        lines.text(),
        concat!(
            "2026-11-23T05:16:18.886Z\tWARN\tlambda_perf_core::subscriber::tests: slow\\nstart phase=\"init\"\n",
            "2026-11-23T05:16:18.886Z\treq-1\tINFO\tlambda_perf_core::subscriber::tests: ",
            "Collecting payment order=7 currency=\"EUR\" amount=12.5 paid=true\n"
        )
    );
}

/// A value whose `Debug` (and `Display`) panics.
struct PanickingDebug;

impl std::fmt::Debug for PanickingDebug {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("this Debug \"panics\"")
    }
}

impl std::fmt::Display for PanickingDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// An error's source whose message panics.
impl std::error::Error for PanickingDebug {}

/// A value whose `Debug` writes part of its text, then returns an error.
struct FailingDebug;

impl std::fmt::Debug for FailingDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("half \"written")?;
        Err(std::fmt::Error)
    }
}

/// A field whose `Debug` (or `Display`) panics or returns an error — an event's, a span's, the
/// message's arguments — is described in the line as the X-Ray layer describes it, the line
/// still one valid JSON object (or text line) with the invocation's keys; the user's `info!`
/// does not panic and the handler answers as it would have.
#[test]
fn a_field_whose_debug_fails_is_described_and_the_handler_answers() {
    let handler = |_| async {
        let span = tracing::info_span!("hostile", in_span = ?PanickingDebug);
        let _entered = span.enter();
        tracing::info!(panics = ?PanickingDebug, fails = ?FailingDebug, shown = %PanickingDebug, "fields");
        tracing::info!("message {}", PanickingDebug);
        Ok(json!("answer"))
    };
    let panicked = "<formatting panicked: this Debug \"panics\">";

    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    let answer = run(
        &dispatch,
        invoke(&perf_layer(), handler, event("req-1", Value::Null)),
    );
    assert_eq!(answer, json!("answer"));
    let written = lines.lines();
    assert_eq!(written.len(), 2, "{written:?}");
    let fields = &written[0];
    assert_eq!(fields["panics"], panicked, "{fields}");
    assert_eq!(fields["shown"], panicked, "{fields}");
    assert_eq!(fields["in_span"], panicked, "{fields}");
    assert_eq!(fields["fails"], "<formatting failed>", "{fields}");
    assert_eq!(fields["function_request_id"], "req-1");
    assert_eq!(written[1]["message"], panicked);
    assert_eq!(written[1]["in_span"], panicked);

    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_format(LogFormat::Text), &lines);
    let answer = run(
        &dispatch,
        invoke(&perf_layer(), handler, event("req-1", Value::Null)),
    );
    assert_eq!(answer, json!("answer"));
    assert_eq!(
        lines.text(),
        concat!(
            "2026-11-23T05:16:18.886Z\treq-1\tINFO\tlambda_perf_core::subscriber::tests: fields ",
            "in_span=<formatting panicked: this Debug \"panics\"> ",
            "panics=<formatting panicked: this Debug \"panics\"> fails=<formatting failed> ",
            "shown=<formatting panicked: this Debug \"panics\">\n",
            "2026-11-23T05:16:18.886Z\treq-1\tINFO\tlambda_perf_core::subscriber::tests: ",
            "<formatting panicked: this Debug \"panics\"> ",
            "in_span=<formatting panicked: this Debug \"panics\">\n",
        )
    );
}

/// An error that wraps another, as the AWS SDK's `service error` wraps what the service said.
#[derive(Debug)]
struct ServiceError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("service error")
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// An error whose `Display` returns an error.
#[derive(Debug)]
struct FailingDisplay;

impl std::fmt::Display for FailingDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("half")?;
        Err(std::fmt::Error)
    }
}

impl std::error::Error for FailingDisplay {}

/// An error field whose `Display` (or a source's) returns an error is `<formatting failed>`,
/// as a `%` field of it is, not a panic caught and described (found by review: the chain's
/// `to_string` panicked on it).
#[test]
fn an_error_field_whose_display_fails_is_described_without_a_panic() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::error!(shown = %FailingDisplay, "percent");
        tracing::error!(
            error = &FailingDisplay as &dyn std::error::Error,
            "as error"
        );
        let wrapping = ServiceError(Box::new(FailingDisplay));
        tracing::error!(error = &wrapping as &dyn std::error::Error, "its source");
    });
    let written = lines.lines();
    assert_eq!(written.len(), 3, "{written:?}");
    assert_eq!(written[0]["shown"], "<formatting failed>");
    assert_eq!(written[1]["error"], "<formatting failed>");
    assert_eq!(written[2]["error"], "<formatting failed>");
}

/// An error field given as an error is its message and its sources'; given with `%`, its
/// message alone. A source whose `Display` panics is described, the line still written.
#[test]
fn an_error_field_gives_the_sources_of_its_error() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        let error = ServiceError("NoSuchKey: the key does not exist".into());
        tracing::error!(
            error = &error as &dyn std::error::Error,
            shown = %error,
            "reading the order"
        );
        let hostile = ServiceError(Box::new(PanickingDebug));
        tracing::error!(error = &hostile as &dyn std::error::Error, "again");
    });
    let written = lines.lines();
    assert_eq!(written.len(), 2, "{written:?}");
    assert_eq!(
        written[0]["error"],
        "service error: NoSuchKey: the key does not exist"
    );
    assert_eq!(written[0]["shown"], "service error");
    assert_eq!(
        written[1]["error"],
        "<formatting panicked: this Debug \"panics\">"
    );
}

#[test]
fn each_invocation_writes_its_own_keys_and_the_next_one_is_warm() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    let layer = perf_layer();
    run(&dispatch, async {
        invoke(&layer, collect_payment, event("req-1", Value::Null)).await;
        invoke(&layer, collect_payment, event("req-2", Value::Null)).await;
    });
    let written = lines.lines();
    assert_eq!(written.len(), 2);
    assert_eq!(written[0]["function_request_id"], "req-1");
    assert_eq!(written[0]["cold_start"], true);
    assert_eq!(written[1]["function_request_id"], "req-2");
    assert_eq!(written[1]["cold_start"], false);
    assert_eq!(written[1]["start_kind"], "warm");
}

#[test]
fn level_filtering_by_level_and_target() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(
        |builder| {
            builder
                .log_level(Level::WARN)
                .target_level(format!("{TARGET}::chatty"), Level::DEBUG)
        },
        &lines,
    );
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::error!("kept: error");
        tracing::warn!("kept: warn");
        tracing::info!("dropped: info");
        tracing::debug!("dropped: debug");
        tracing::debug!(target: "lambda_perf_core::subscriber::tests::chatty", "kept: named target");
        tracing::trace!(target: "lambda_perf_core::subscriber::tests::chatty", "dropped: trace");
        tracing::debug!(target: "lambda_perf_core::subscriber::tests::chattyish", "dropped: not under it");
    });
    let messages: Vec<Value> = lines.lines().iter().map(|l| l["message"].clone()).collect();
    assert_eq!(
        messages,
        [
            json!("kept: error"),
            json!("kept: warn"),
            json!("kept: named target")
        ]
    );
    let levels: Vec<Value> = lines.lines().iter().map(|l| l["level"].clone()).collect();
    assert_eq!(levels, [json!("ERROR"), json!("WARN"), json!("DEBUG")]);
}

#[test]
fn transport_crates_stay_at_warn_unless_named() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_level(Level::TRACE), &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::trace!(target: "hyper::proto::h1::io", "dropped: hyper trace");
        tracing::debug!(target: "h2::codec", "dropped: h2 debug");
        tracing::info!(target: "lambda_runtime::layers::trace", "dropped: runtime info");
        tracing::warn!(target: "hyper_util::client", "kept: hyper_util warn");
        tracing::trace!("kept: own trace");
    });
    let named = CapturedLines::new();
    let asking = subscriber(
        |builder| builder.target_level("hyper", Level::DEBUG),
        &named,
    );
    tracing::dispatcher::with_default(&asking, || {
        tracing::debug!(target: "hyper::client", "kept: asked for");
        tracing::debug!(target: "hyper_util::client", "dropped: another crate");
    });
    let messages = |lines: &CapturedLines| -> Vec<String> {
        lines
            .lines()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        messages(&lines),
        ["kept: hyper_util warn", "kept: own trace"]
    );
    assert_eq!(messages(&named), ["kept: asked for"]);
}

#[test]
fn a_field_named_like_a_key_is_prefixed_and_the_keys_stay_true() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    run(
        &dispatch,
        invoke(
            &perf_layer(),
            |_| async {
                tracing::info!(level = "gold", function_request_id = "spoofed", "tiered");
                Ok(Value::Null)
            },
            event("req-1", Value::Null),
        ),
    );
    let line = &lines.lines()[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["function_request_id"], "req-1");
    assert_eq!(line["fields.level"], "gold");
    assert_eq!(line["fields.function_request_id"], "spoofed");
}

#[test]
fn work_that_carries_the_invocation_writes_its_keys_and_other_work_does_not() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    run(
        &dispatch,
        invoke(
            &perf_layer(),
            |_| async {
                crate::spawn(async { tracing::info!("carried") }).await?;
                tokio::spawn(async { tracing::info!("not carried") }).await?;
                Ok(Value::Null)
            },
            event("req-1", Value::Null),
        ),
    );
    let written = lines.lines();
    assert_eq!(written[0]["message"], "carried");
    assert_eq!(written[0]["function_request_id"], "req-1");
    assert_eq!(written[1]["message"], "not carried");
    assert!(
        written[1].get("function_request_id").is_none(),
        "{}",
        written[1]
    );
    assert!(written[1].get("cold_start").is_none(), "{}", written[1]);
}

#[test]
fn invocations_at_once_each_write_their_own_keys() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    let layer = perf_layer();
    let handler = |event: LambdaEvent<Value>| async move {
        let order = event.payload["order"].as_u64();
        for step in 0..3_u64 {
            tracing::info!(order, step, "working");
            tokio::task::yield_now().await;
        }
        Ok(Value::Null)
    };
    run(&dispatch, async {
        let calls = (0..8).map(|order| {
            invoke(
                &layer,
                handler,
                event(&format!("req-{order}"), json!({ "order": order })),
            )
        });
        futures_join_all(calls).await;
    });
    let written = lines.lines();
    assert_eq!(written.len(), 24);
    // Interleaved, and each line with its own invocation's request id.
    let first_eight: BTreeSet<u64> = written[..8]
        .iter()
        .map(|l| l["order"].as_u64().unwrap())
        .collect();
    assert_eq!(first_eight.len(), 8, "the invocations ran at once");
    for line in &written {
        let order = line["order"].as_u64().unwrap();
        assert_eq!(
            line["function_request_id"],
            format!("req-{order}"),
            "{line}"
        );
    }
}

/// Polls every future to completion on this task (interleaving them at each await).
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        futures.retain_mut(|future| future.as_mut().poll(cx).is_pending());
        if futures.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

#[test]
fn sampling_writes_debug_lines_for_the_sampled_invocations_with_a_fixed_seed() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(
        |builder| builder.log_sample_rate(0.5).log_sampling_seed(42),
        &lines,
    );
    let layer = perf_layer();
    let handler = |event: LambdaEvent<Value>| async move {
        let order = event.payload["order"].as_u64();
        tracing::debug!(order, "detail");
        tracing::info!(order, "summary");
        Ok(Value::Null)
    };
    let request_id = |n: u64| format!("8476a536-e9f4-11e8-9739-{n:012x}");
    run(&dispatch, async {
        tracing::debug!("never sampled outside an invocation");
        for order in 0..40 {
            invoke(
                &layer,
                handler,
                event(&request_id(order), json!({ "order": order })),
            )
            .await;
        }
    });
    let written = lines.lines();
    let with_detail: Vec<u64> = written
        .iter()
        .filter(|line| line["message"] == "detail")
        .map(|line| line["order"].as_u64().unwrap())
        .collect();
    // The seed's decisions, pinned: the same invocations are sampled on every run.
    assert_eq!(
        with_detail,
        [
            1, 5, 7, 9, 11, 12, 14, 16, 19, 20, 21, 25, 26, 27, 28, 29, 30, 31, 35
        ]
    );
    let sampling = Sampling {
        rate: 0.5,
        seed: 42,
    };
    for order in 0..40 {
        assert_eq!(
            with_detail.contains(&order),
            sampling.samples(&request_id(order)),
            "order {order}"
        );
    }
    assert_eq!(
        written.iter().filter(|l| l["message"] == "summary").count(),
        40
    );
    for line in &written {
        assert_eq!(line["sampling_rate"], 0.5, "{line}");
        assert_eq!(
            line["level"],
            if line["message"] == "detail" {
                "DEBUG"
            } else {
                "INFO"
            }
        );
    }
}

#[test]
fn the_incoming_event_is_logged_as_json_when_asked() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_event(true), &lines);
    let quiet_lines = CapturedLines::new();
    let quiet = subscriber(|builder| builder, &quiet_lines);
    let handler = |event: LambdaEvent<Value>| async move {
        crate::logs::log_event(&event.payload);
        Ok(Value::Null)
    };
    let payload = json!({ "order": 7, "items": ["a\"b"] });
    run(
        &dispatch,
        invoke(&perf_layer(), handler, event("req-1", payload.clone())),
    );
    run(
        &quiet,
        invoke(&perf_layer(), handler, event("req-2", payload.clone())),
    );
    let written = lines.lines();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["message"], "Lambda invocation event");
    assert_eq!(written[0]["event"], payload);
    assert_eq!(written[0]["function_request_id"], "req-1");
    assert_eq!(quiet_lines.text(), "", "off unless asked");
}

#[test]
fn an_invalid_setting_given_in_code_is_an_error() {
    let error = InitBuilder::without_env()
        .log_sample_rate(1.5)
        .layer::<Registry>()
        .err()
        .unwrap();
    assert_eq!(error.setting, "log sample rate");
}

#[test]
fn the_registry_is_told_the_most_verbose_level_any_layer_wants() {
    use tracing::Subscriber;
    for (xray, level, expected) in [
        (false, Level::TRACE, LevelFilter::TRACE),
        (true, Level::TRACE, LevelFilter::TRACE),
        (true, Level::WARN, LevelFilter::INFO),
        // The level of the invocation's own span, made whatever the levels.
        (false, Level::WARN, LevelFilter::INFO),
        (false, Level::ERROR, LevelFilter::INFO),
    ] {
        let layers = InitBuilder::without_env()
            .log_level(level)
            .xray_layer(xray)
            .layer::<Registry>()
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(layers);
        assert_eq!(
            subscriber.max_level_hint(),
            Some(expected),
            "xray {xray}, level {level}"
        );
    }
}

#[test]
fn a_level_of_off_writes_no_line_even_in_a_sampled_invocation() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(
        |builder| builder.log_level(LevelFilter::OFF).log_sample_rate(1.0),
        &lines,
    );
    run(
        &dispatch,
        invoke(
            &perf_layer(),
            |_| async {
                tracing::debug!("detail");
                tracing::error!("failure");
                Ok(Value::Null)
            },
            event("req-1", Value::Null),
        ),
    );
    assert_eq!(lines.text(), "", "OFF writes no line");
}

#[test]
fn only_the_incoming_event_is_written_as_raw_json() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_event(true), &lines);
    tracing::dispatcher::with_default(&dispatch, || {
        // Events of the user's that happen to use the incoming event's target and field.
        tracing::info!(target: "lambda_perf::event", event = %"not json", "display");
        tracing::info!(target: "lambda_perf::event", event = ?"a\u{1}b", "debug");
        crate::logs::log_event(&json!({ "order": 7 }));
    });
    let text = lines.text();
    let written: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(written[0]["event"], "not json");
    assert_eq!(written[1]["event"], "\"a\\u{1}b\"");
    assert_eq!(written[2]["event"], json!({ "order": 7 }));
}

/// A registry of `layers`, as a user composes one.
fn registry_of(
    layers: Vec<Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>>,
) -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(layers))
}

/// Two sets of lambda-perf's layers in one registry, JSON lines to one writer and text lines
/// to another: each writes its own format, with the span's fields as recorded later, and the
/// X-Ray layers side by side do not stop the handler.
#[test]
fn two_log_layers_of_different_formats_in_one_registry_each_write_their_own() {
    let json = CapturedLines::new();
    let text = CapturedLines::new();
    let json_layers = InitBuilder::without_env()
        .clock(fixed_time)
        .log_writer(json.clone())
        .layer::<Registry>()
        .unwrap();
    let text_layers = InitBuilder::without_env()
        .clock(fixed_time)
        .log_format(LogFormat::Text)
        .log_writer(text.clone())
        .layer::<Registry>()
        .unwrap();
    let dispatch = registry_of(vec![
        tracing_subscriber::Layer::boxed(json_layers),
        tracing_subscriber::Layer::boxed(text_layers),
    ]);
    let response = run(
        &dispatch,
        invoke(
            &perf_layer(),
            |_| async {
                let span = tracing::info_span!("payment", order = 7, card = tracing::field::Empty);
                span.record("card", "visa");
                let _entered = span.enter();
                tracing::info!(amount = 12.5, "Collecting payment");
                Ok(json!("paid"))
            },
            event("req-1", Value::Null),
        ),
    );
    assert_eq!(response, json!("paid"));
    let written = json.lines();
    assert_eq!(written.len(), 1, "{}", json.text());
    assert_eq!(written[0]["function_request_id"], "req-1");
    assert_eq!(written[0]["order"], 7);
    assert_eq!(written[0]["card"], "visa");
    assert_eq!(written[0]["amount"], 12.5);
    assert_eq!(
        text.text(),
        concat!(
            "2026-11-23T05:16:18.886Z\treq-1\tINFO\tlambda_perf_core::subscriber::tests: ",
            "Collecting payment order=7 card=\"visa\" amount=12.5\n"
        )
    );
}

/// Two log layers of the same format share the span's fields: each line has them once, also
/// after a field is recorded late.
#[test]
fn two_log_layers_of_the_same_format_write_the_span_fields_once() {
    let first = CapturedLines::new();
    let second = CapturedLines::new();
    let layers = |lines: &CapturedLines| {
        InitBuilder::without_env()
            .clock(fixed_time)
            .xray_layer(false)
            .log_writer(lines.clone())
            .layer::<Registry>()
            .unwrap()
    };
    let dispatch = registry_of(vec![
        tracing_subscriber::Layer::boxed(layers(&first)),
        tracing_subscriber::Layer::boxed(layers(&second)),
    ]);
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("payment", order = 7, card = tracing::field::Empty);
        span.record("card", "visa");
        span.record("order", 8);
        let _entered = span.enter();
        tracing::info!("Collecting payment");
    });
    let expected = concat!(
        r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"Collecting payment","#,
        r#""target":"lambda_perf_core::subscriber::tests","card":"visa","order":8}"#,
        "\n"
    );
    assert_eq!(first.text(), expected);
    assert_eq!(second.text(), expected);
}

/// Runs `f` on a multi-thread runtime of `workers` threads, `dispatch` the subscriber of each.
fn run_multi_thread<R: Send>(
    dispatch: &Dispatch,
    workers: usize,
    f: impl std::future::Future<Output = R> + Send,
) -> R {
    let on_start = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&on_start)))
        .enable_time()
        .build()
        .unwrap();
    tracing::dispatcher::with_default(dispatch, || runtime.block_on(f))
}

/// A span's guard held across an `.await` in a plain `tokio::spawn`ed task of an invocation
/// (which `tracing` warns against): while that task is suspended, the tasks that run on the
/// thread carry no invocation of it.
#[test]
fn a_guard_held_across_an_await_lends_its_invocation_to_no_other_task() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    run(&dispatch, async {
        let (resume, resumed) = tokio::sync::oneshot::channel::<()>();
        let resumed = std::sync::Mutex::new(Some(resumed));
        invoke(
            &perf_layer(),
            move |_| {
                let span = tracing::info_span!("held");
                let resumed = resumed.lock().unwrap().take().unwrap();
                tokio::spawn(async move {
                    let _entered = span.enter();
                    let _ = resumed.await;
                });
                async { Ok(Value::Null) }
            },
            event("req-1", Value::Null),
        )
        .await;
        tokio::task::yield_now().await;
        tokio::spawn(async { tracing::info!("background") })
            .await
            .unwrap();
        let _ = resume.send(());
        tokio::task::yield_now().await;
    });
    let written = lines.lines();
    assert_eq!(written[0]["message"], "background");
    assert!(
        written[0].get("function_request_id").is_none(),
        "{}",
        written[0]
    );
}

/// The same guard, its task resuming on another thread and exiting the span there, long
/// after its invocation ended: what runs later on the thread it first ran on, outside any
/// invocation, writes no request id of it.
#[test]
fn a_guard_moved_to_another_thread_leaves_no_invocation_behind() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    let layer = perf_layer();
    run_multi_thread(&dispatch, 2, async move {
        for round in 0..20 {
            invoke(
                &layer,
                |_| async {
                    let span = tracing::info_span!("held");
                    tokio::spawn(async move {
                        let _entered = span.enter();
                        for _ in 0..5 {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            tokio::task::yield_now().await;
                        }
                    });
                    Ok(Value::Null)
                },
                event(&format!("req-{round}"), Value::Null),
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let background: Vec<_> = (0..200)
            .map(|_| tokio::spawn(async { tracing::info!("background") }))
            .collect();
        for task in background {
            task.await.unwrap();
        }
    });
    let written = lines.lines();
    assert_eq!(written.len(), 200);
    let with_request_ids: BTreeSet<String> = written
        .iter()
        .filter_map(|line| line.get("function_request_id"))
        .map(Value::to_string)
        .collect();
    assert_eq!(with_request_ids, BTreeSet::new());
}

/// At `DEBUG`, a `debug_span!` made in the invocation carries it as an `info_span!` does: the
/// lines of a plain `tokio::spawn`ed future instrumented with it have the invocation's keys,
/// and the span's fields.
#[test]
fn a_debug_span_carries_the_invocation_into_a_spawned_future() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_level(Level::DEBUG), &lines);
    run(
        &dispatch,
        invoke(
            &perf_layer(),
            |_| async {
                tokio::spawn(
                    async { tracing::debug!("in a debug span") }
                        .instrument(tracing::debug_span!("detail", step = 2)),
                )
                .await?;
                Ok(Value::Null)
            },
            event("req-1", Value::Null),
        ),
    );
    let written = lines.lines();
    assert_eq!(written.len(), 1, "{}", lines.text());
    assert_eq!(written[0]["message"], "in a debug span");
    assert_eq!(written[0]["function_request_id"], "req-1");
    assert_eq!(written[0]["step"], 2);
}

/// A library's `debug_span!` made in one invocation and entered afterwards by a task of its
/// own (h2 makes its `Connection` span when the connection is made, and enters it on every
/// poll of the pooled connection's task, which serves every later invocation) does not label
/// the lines of a later invocation with the ended one's request id.
#[test]
fn a_library_span_made_in_one_invocation_does_not_label_a_later_ones_lines() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.log_level(Level::DEBUG), &lines);
    run(&dispatch, async {
        let layer = perf_layer();
        let (span_tx, mut span_rx) = tokio::sync::mpsc::unbounded_channel::<tracing::Span>();
        let (go_tx, mut go_rx) =
            tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<()>>();
        // The pool's connection task, spawned before any invocation.
        let connection = tokio::spawn(async move {
            let span = span_rx.recv().await.unwrap();
            while let Some(done) = go_rx.recv().await {
                let _entered = span.enter();
                tracing::debug!("frame sent");
                let _ = done.send(());
            }
        });
        invoke(
            &layer,
            |_| {
                let span_tx = span_tx.clone();
                async move {
                    span_tx.send(tracing::debug_span!("Connection")).unwrap();
                    Ok(Value::Null)
                }
            },
            event("req-1", Value::Null),
        )
        .await;
        invoke(
            &layer,
            |_| {
                let go_tx = go_tx.clone();
                async move {
                    let (done, sent) = tokio::sync::oneshot::channel();
                    go_tx.send(done).unwrap();
                    sent.await.unwrap();
                    Ok(Value::Null)
                }
            },
            event("req-2", Value::Null),
        )
        .await;
        drop(go_tx);
        connection.await.unwrap();
    });
    let written = lines.lines();
    let frame = written
        .iter()
        .find(|line| line["message"] == "frame sent")
        .unwrap_or_else(|| panic!("{}", lines.text()));
    assert!(frame.get("function_request_id").is_none(), "{frame}");
}

/// A line under spans nested deeply (a recursive `#[instrument]` function: each level's
/// fields repeat the others' names) costs time in proportion to its fields, not to their
/// square: under 8,000 spans of three fields each, one line takes milliseconds, where
/// comparing every field with every later one took seconds. The line keeps the innermost
/// value of each name.
#[test]
fn a_line_under_deeply_nested_spans_costs_time_in_proportion_to_its_fields() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder, &lines);
    let elapsed = tracing::dispatcher::with_default(&dispatch, || {
        let guards: Vec<_> = (0..8_000_u64)
            .map(|depth| tracing::info_span!("recurse", depth, a = 1, b = 2).entered())
            .collect();
        let begun = std::time::Instant::now();
        tracing::info!("deep");
        let elapsed = begun.elapsed();
        // Left innermost first, as they were entered.
        for guard in guards.into_iter().rev() {
            drop(guard);
        }
        elapsed
    });
    let line = &lines.lines()[0];
    assert_eq!(line["depth"], 7_999);
    assert_eq!(line["a"], 1);
    assert!(
        elapsed < Duration::from_secs(1),
        "one line under 8,000 spans took {elapsed:?}"
    );
}

/// `tracing::Span::current()` in a handler is its invocation's own span, not a span made
/// before the invocation began around the handler (as `lambda_runtime` makes its `Lambda
/// runtime invoke`): a task spawned in it writes the invocation's keys — with the X-Ray layer
/// recording or off, at a level that lets no `INFO` span through.
#[test]
fn a_task_spawned_in_the_handlers_current_span_writes_its_invocations_keys() {
    for (xray, level) in [(true, Level::INFO), (false, Level::WARN)] {
        let lines = CapturedLines::new();
        let dispatch = subscriber(|builder| builder.xray_layer(xray).log_level(level), &lines);
        run(&dispatch, async {
            // Let through by every level, as the runtime's is by the X-Ray layer.
            let around = tracing::error_span!("around the handler");
            invoke(
                &perf_layer(),
                |_| async {
                    tokio::spawn(
                        async { tracing::warn!("in the current span") }
                            .instrument(tracing::Span::current()),
                    )
                    .await?;
                    Ok(Value::Null)
                },
                event("req-1", Value::Null),
            )
            .instrument(around)
            .await
        });
        let written = lines.lines();
        assert_eq!(written.len(), 1, "xray {xray}, level {level}: {written:?}");
        assert_eq!(written[0]["message"], "in the current span");
        assert_eq!(
            written[0]["function_request_id"], "req-1",
            "xray {xray}, level {level}: {}",
            written[0]
        );
        assert_eq!(written[0]["xray_trace_id"], ROOT);
    }
}

/// With the X-Ray layer off, spans become no subsegments and still carry their invocation:
/// a line written in a span on a task of its own (README, "Logs": a span of any level the log
/// level lets through carries the invocation) has that invocation's keys.
#[test]
fn without_the_xray_layer_a_span_still_carries_its_invocation_to_its_lines() {
    let lines = CapturedLines::new();
    let dispatch = subscriber(|builder| builder.xray_layer(false), &lines);
    run(
        &dispatch,
        invoke(
            &perf_layer(),
            |_| async {
                let span = tracing::info_span!("enrich", step = "enrich");
                tokio::spawn(async { tracing::info!("in the span") }.instrument(span)).await?;
                Ok(Value::Null)
            },
            event("req-1", Value::Null),
        ),
    );
    let written = lines.lines();
    assert_eq!(written[0]["message"], "in the span");
    assert_eq!(written[0]["step"], "enrich");
    assert_eq!(written[0]["function_request_id"], "req-1", "{}", written[0]);
}

/// A span made on a task of its own with `tracing::Span::current()` in the handler as its
/// explicit parent carries the invocation, as one under a span the handler made does: a line
/// written in it has the invocation's keys, with the X-Ray layer recording or off.
#[test]
fn a_span_whose_explicit_parent_is_the_handlers_current_span_writes_its_invocations_keys() {
    for xray in [true, false] {
        let lines = CapturedLines::new();
        let dispatch = subscriber(|builder| builder.xray_layer(xray), &lines);
        run(&dispatch, async {
            invoke(
                &perf_layer(),
                |_| async {
                    let parent = tracing::Span::current();
                    tokio::spawn(async move {
                        let child = tracing::info_span!(parent: &parent, "child");
                        async { tracing::warn!("in the child") }
                            .instrument(child)
                            .await;
                    })
                    .await?;
                    Ok(Value::Null)
                },
                event("req-1", Value::Null),
            )
            .await
        });
        let written = lines.lines();
        assert_eq!(written.len(), 1, "xray {xray}: {written:?}");
        assert_eq!(
            written[0]["function_request_id"], "req-1",
            "xray {xray}: {}",
            written[0]
        );
    }
}
