//! Records of the `log` crate, forwarded by `tracing-log`'s `LogTracer` as the docs say to,
//! are written with their own target and message, like any `tracing` event.

use lambda_perf_core::InitBuilder;
use lambda_perf_core::test_util::CapturedLines;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;

#[test]
fn a_log_record_keeps_its_target_and_carries_no_log_fields() {
    tracing_log::LogTracer::init().unwrap();
    let lines = CapturedLines::new();
    let layers = InitBuilder::from_env()
        .log_level(Level::INFO)
        .xray_layer(false)
        .log_writer(lines.clone())
        .layer::<Registry>()
        .unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layers));
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
