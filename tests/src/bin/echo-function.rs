//! A function behind `PerfLayer` that echoes a per-request token into every record, and fails
//! as its event asks: the function of the fault matrix and of the load test.
//!
//! Every event `{"token": "t-1", …}` records the metric `Echoes`, the dimension `token`, the
//! EMF metadata `token`, the annotation `token` and the X-Ray metadata `echo.token`, then:
//!
//! - `"nested": true`: runs a nested subsegment `echo work`, which takes 1 ms, or
//!   `"nested_sleep_ms"` ms when the event says so;
//! - `"sleep_ms": n`: sleeps n ms, then records `Echoes` again;
//! - `"print": "text"`: prints the text to stdout as it is, with `print!` (so without a
//!   newline unless it holds one), as user code writing part of a line does;
//! - `"action"`: `"error"` returns an error, `"panic"` panics, `"serialize_error"` responds
//!   with a value whose `Serialize` returns an error, `"serialize_panic"` with one whose
//!   `Serialize` panics; anything else responds `{"token": "t-1"}`.
//!
//! `ECHO_BARE=1` runs the same handler without lambda-perf (and without its recording calls):
//! what the runtime receives from it is what the instrumented function must send too.
//! It runs with `run_concurrent`, so `AWS_LAMBDA_MAX_CONCURRENCY` lets invocations overlap.

use std::sync::OnceLock;
use std::time::Duration;

use lambda_perf_core::PerfLayer;
use lambda_perf_core::metrics::{self, Unit};
use lambda_perf_core::xray::{self, Subsegment};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::ser::{Error as _, Serialize, Serializer};
use serde_json::{Value, json};
use tower::ServiceBuilder;

/// Whether the function runs without lambda-perf.
fn bare() -> bool {
    static BARE: OnceLock<bool> = OnceLock::new();
    *BARE.get_or_init(|| std::env::var("ECHO_BARE").as_deref() == Ok("1"))
}

/// The response: a JSON value, or one whose serialization fails as asked.
enum Reply {
    Json(Value),
    SerializeError,
    SerializePanic,
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(value) => value.serialize(serializer),
            Self::SerializeError => Err(S::Error::custom("the echo reply refuses to serialize")),
            Self::SerializePanic => panic!("the echo reply panicked while serializing"),
        }
    }
}

/// Records the token everywhere a record can carry it.
fn record(token: &str) {
    if bare() {
        return;
    }
    metrics::add_metric("Echoes", Unit::Count, 1.0);
    metrics::add_dimension("token", token.to_owned());
    metrics::add_metadata("echoed_token", token);
    xray::annotate("token", token.to_owned());
    xray::add_metadata("echo", "token", token);
}

async fn handler(event: LambdaEvent<Value>) -> Result<Reply, Error> {
    let payload = event.payload;
    let token = payload["token"].as_str().unwrap_or("none").to_owned();
    record(&token);
    if payload["nested"] == true {
        let work_ms = payload["nested_sleep_ms"].as_u64().unwrap_or(1);
        let work = async { tokio::time::sleep(Duration::from_millis(work_ms)).await };
        if bare() {
            work.await;
        } else {
            Subsegment::new("echo work").instrument(work).await;
        }
    }
    if let Some(sleep_ms) = payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
        if !bare() {
            metrics::add_metric("Echoes", Unit::Count, 1.0);
        }
    }
    if let Some(text) = payload["print"].as_str() {
        #[allow(clippy::print_stdout)] // what the event asks for
        {
            print!("{text}");
        }
    }
    match payload["action"].as_str() {
        Some("error") => Err(format!("echo failed for {token}").into()),
        Some("panic") => panic!("echo panicked for {token}"),
        Some("serialize_error") => Ok(Reply::SerializeError),
        Some("serialize_panic") => Ok(Reply::SerializePanic),
        _ => Ok(Reply::Json(json!({ "token": token }))),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if bare() {
        lambda_runtime::run_concurrent(service_fn(handler)).await
    } else {
        let service = ServiceBuilder::new()
            .layer(PerfLayer::from_env())
            .service_fn(handler);
        lambda_runtime::run_concurrent(service).await
    }
}
