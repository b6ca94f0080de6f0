//! The warm invocation the benches, the allocation test and the instruction count measure:
//! a handler that records one metric and one annotation, and the event the runtime hands it;
//! and the same handler answering an object, as most do, which a sampled invocation captures.
//! Included with `#[path]` by each of them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray;
use lambda_runtime::{Config, Context, Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

/// A warm invocation as the runtime makes it: a request id, a deadline 15 minutes away (so
/// the timeout watchdog is armed, as on Lambda) and a trace header, sampled or not; and the
/// function's configuration, one `Arc` shared by every invocation's context, as
/// `lambda_runtime` shares it.
pub(crate) fn event(sampled: bool) -> LambdaEvent<Value> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    let mut context = Context::default();
    context.env_config = Arc::clone(CONFIG.get_or_init(Arc::default));
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

/// What a handler typically answers: an object of strings, a number and a list, made (and
/// allocated) by the handler, bare or instrumented alike.
#[derive(Serialize)]
#[allow(dead_code)] // not every includer answers objects
pub(crate) struct Order {
    id: String,
    status: &'static str,
    items: u32,
    tags: Vec<String>,
    total: f64,
}

#[allow(dead_code)] // not every includer answers objects
pub(crate) fn order() -> Order {
    Order {
        id: "order-8476a536".to_owned(),
        status: "accepted \"express\"",
        items: 3,
        tags: vec!["gift".to_owned(), "priority".to_owned()],
        total: 42.5,
    }
}

/// The handler alone, answering an object.
#[allow(dead_code)] // not every includer answers objects
pub(crate) async fn bare_order(_: LambdaEvent<Value>) -> Result<Order, Error> {
    Ok(order())
}

/// The instrumented handler, answering an object.
#[allow(dead_code)] // not every includer answers objects
pub(crate) async fn instrumented_order(_: LambdaEvent<Value>) -> Result<Order, Error> {
    metrics::add_metric("Orders", Unit::Count, 1.0);
    xray::annotate("tier", "gold");
    Ok(order())
}
