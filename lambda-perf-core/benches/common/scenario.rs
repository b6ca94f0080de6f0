//! The warm invocation the benches, the allocation test and the instruction count measure:
//! a handler that records one metric and one annotation, and the event the runtime hands it.
//! Included with `#[path]` by each of them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray;
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;

/// A warm invocation as the runtime makes it: a request id, a deadline 15 minutes away (so
/// the timeout watchdog is armed, as on Lambda) and a trace header, sampled or not.
pub(crate) fn event(sampled: bool) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".into();
    let deadline = SystemTime::now() + Duration::from_secs(900);
    context.deadline = deadline.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    });
    context.xray_trace_id = Some(format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}",
        u8::from(sampled)
    ));
    LambdaEvent::new(Value::Null, context)
}

/// The handler alone.
pub(crate) async fn bare(_: LambdaEvent<Value>) -> Result<u32, Error> {
    Ok(1)
}

/// The handler, recording one metric and one annotation.
pub(crate) async fn instrumented(_: LambdaEvent<Value>) -> Result<u32, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    xray::annotate("tier", "gold");
    Ok(1)
}
