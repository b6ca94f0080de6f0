//! A function that logs through `lambda_perf_core::init()`, behind `PerfLayer` under
//! `run_concurrent`. At init it logs `function starting`; every invocation logs the incoming
//! event (when `POWERTOOLS_LOGGER_LOG_EVENT` says so), `order received` (INFO) and
//! `order detail` (DEBUG) on the handler's task, `paying` inside a `checkout` span, and
//! `spawned work` (WARN) on a task of its own that carries the invocation — each with the
//! event's `order` — and records the metric `Orders`. With `"in_current_span":true` it also
//! logs `in the current span` (WARN) on a plain `tokio::spawn`ed task instrumented with
//! `tracing::Span::current()`, the handler's span, as `tracing` users hand work on. With
//! `"hostile_fields":true` it logs `hostile fields` with fields whose `Debug` panics
//! (`panics`) or returns an error (`fails`), inside a `hostile` span with such a field. With `"fail":"error"` in the event the
//! handler returns an error after `order received`, with `"fail":"panic"` it panics there:
//! `lambda_runtime` logs either. Between the runtime and the instrumented handler, a layer
//! turns the handler's error for `"fail":"swallow"` into an answer (`{"swallowed":order}`)
//! and fails on its own for `"fail":"outer"`, the handler never called. `LOGGING_MACRO=1`
//! runs the same handler under `#[instrument_lambda]` instead of `PerfLayer`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lambda_perf_core::logs;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::{PerfLayer, instrument_lambda};
use lambda_runtime::{Error, LambdaEvent, Service, service_fn};
use serde_json::{Value, json};
use tower::ServiceBuilder;
use tracing::Instrument;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    logs::log_event(&event.payload);
    let order = event.payload["order"].as_u64().unwrap_or(0);
    metrics::add_metric("Orders", Unit::Count, 1.0);
    tracing::info!(order, "order received");
    match event.payload["fail"].as_str() {
        Some("error") => return Err(format!("order {order} failed").into()),
        Some("panic") => panic!("order {order} panicked"),
        Some("swallow") => return Err(format!("order {order} swallowed").into()),
        _ => {}
    }
    tracing::debug!(order, "order detail");
    async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tracing::info!(step = "pay", "paying");
    }
    .instrument(tracing::info_span!("checkout", order))
    .await;
    lambda_perf_core::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        tracing::warn!(order, "spawned work");
    })
    .await?;
    if event.payload["hostile_fields"] == true {
        tracing::info_span!("hostile", in_span = ?PanickingDebug).in_scope(|| {
            tracing::info!(order, panics = ?PanickingDebug, fails = ?FailingDebug, "hostile fields");
        });
    }
    if event.payload["in_current_span"] == true {
        tokio::spawn(
            async move { tracing::warn!(order, "in the current span") }
                .instrument(tracing::Span::current()),
        )
        .await?;
    }
    Ok(json!({ "order": order }))
}

/// A value whose `Debug` panics.
struct PanickingDebug;

impl std::fmt::Debug for PanickingDebug {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("this Debug panics")
    }
}

/// A value whose `Debug` returns an error.
struct FailingDebug;

impl std::fmt::Debug for FailingDebug {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Err(std::fmt::Error)
    }
}

/// The same handler under the attribute.
#[instrument_lambda]
async fn attributed(event: LambdaEvent<Value>) -> Result<Value, Error> {
    handler(event).await
}

/// Between the runtime and the instrumented handler: the handler's error for
/// `"fail":"swallow"` becomes an answer, and `"fail":"outer"` fails here.
#[derive(Clone)]
struct Outer<S>(S);

impl<S> Service<LambdaEvent<Value>> for Outer<S>
where
    S: Service<LambdaEvent<Value>, Response = Value, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = Value;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<Value>) -> Self::Future {
        let order = event.payload["order"].as_u64().unwrap_or(0);
        match event.payload["fail"].as_str() {
            Some("outer") => {
                Box::pin(
                    async move { Err(format!("order {order} failed outside the handler").into()) },
                )
            }
            Some("swallow") => {
                let answered = self.0.call(event);
                Box::pin(async move {
                    Ok(answered
                        .await
                        .unwrap_or_else(|_| json!({ "swallowed": order })))
                })
            }
            _ => Box::pin(self.0.call(event)),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_perf_core::init()?;
    tracing::info!(phase = "init", "function starting");
    if std::env::var("LOGGING_MACRO").as_deref() == Ok("1") {
        return lambda_runtime::run_concurrent(Outer(service_fn(attributed))).await;
    }
    lambda_runtime::run_concurrent(Outer(
        ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service_fn(handler),
    ))
    .await
}
