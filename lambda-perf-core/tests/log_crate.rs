//! Records of the `log` crate, forwarded by `tracing-log`'s `LogTracer` as the docs say to,
//! are written with their own target and message, like any `tracing` event.

use lambda_perf_core::InitBuilder;
use lambda_perf_core::test_util::CapturedLines;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

#[test]
fn a_log_record_keeps_its_target_and_carries_no_log_fields() {
    let (lines, dispatch) = capturing();
    tracing::dispatcher::with_default(&dispatch, || {
        log::info!(target: "orders::db", "connected");
        log::debug!(target: "orders::db", "not written at INFO");
    });
    let written = lines.lines();
    assert_eq!(written.len(), 1, "{written:#?}");
    let line = &written[0];
    assert_eq!(line["message"], "connected");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "orders::db", "{line}");
    for key in ["log.target", "log.module_path", "log.file", "log.line"] {
        assert!(line.get(key).is_none(), "{key} in {line}");
    }
}

/// `log` records forwarded, and a subscriber writing `INFO` lines to the lines returned.
fn capturing() -> (CapturedLines, tracing::Dispatch) {
    forward_log_records();
    let lines = CapturedLines::new();
    let layers = InitBuilder::from_env()
        .log_level(Level::INFO)
        .xray_layer(false)
        .log_writer(lines.clone())
        .layer::<Registry>()
        .unwrap();
    (
        lines,
        tracing::Dispatch::new(tracing_subscriber::registry().with(layers)),
    )
}

/// `LogTracer` once per process, whichever test runs first.
fn forward_log_records() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| tracing_log::LogTracer::init().unwrap());
}

/// A `log` record's target is a string made at run time, which may be as long as the code
/// that logs makes it: the line is still held to Lambda's line limit, and stays JSON.
#[test]
fn a_log_record_with_a_huge_target_still_writes_a_line_that_fits() {
    let (lines, dispatch) = capturing();
    let target = format!("orders::{}", "\"".repeat(300_000));
    tracing::dispatcher::with_default(&dispatch, || {
        log::info!(target: &target, "connected");
    });
    let text = lines.text();
    let line = text.strip_suffix('\n').unwrap();
    assert!(line.len() <= 256_000, "{} bytes", line.len());
    let written = lines.lines();
    assert_eq!(written[0]["message"], "connected");
    let kept = written[0]["target"]
        .as_str()
        .unwrap()
        .strip_suffix('…')
        .unwrap();
    assert!(target.starts_with(kept), "{kept:.100}");
}
