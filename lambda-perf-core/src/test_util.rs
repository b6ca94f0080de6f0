//! Helpers for testing functions instrumented with lambda-perf (feature `test-util`): what an
//! instrumented handler writes, captured in memory instead of stdout and the X-Ray daemon,
//! and a way to run a handler inside a test invocation that leaves no file behind.
//!
//! ```
//! use lambda_perf_core::metrics::{self, Unit};
//! use lambda_perf_core::test_util::{Recorder, event};
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::{Value, json};
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     metrics::add_metric("Orders", Unit::Count, 1.0);
//!     Ok(event.payload)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let recorder = Recorder::new();
//! let response = recorder.run(service_fn(handler), event(json!({ "id": 1 }))).await.unwrap();
//! assert_eq!(response, json!({ "id": 1 }));
//!
//! let lines = recorder.emf().lines();
//! assert_eq!(lines.last().unwrap()["Orders"], json!([1.0]));
//! let handler = recorder.xray().named("## handler").unwrap();
//! assert_eq!(handler["annotations"]["ColdStart"], true);
//! # }
//! ```
//!
//! A handler under `#[instrument_lambda]` runs the same way: inside the recorder's
//! invocation, its own instrumentation stands aside and the recorder records it, once.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tower::{Layer, Service};

use crate::config::TraceBackend;
use crate::formats::xray::id;
use crate::layer::{PerfLayer, PerfLayerBuilder};
use crate::outputs::xray::SubsegmentSink;
use crate::xray::SubsegmentDocument;

/// Lines captured in memory: EMF lines (give it to
/// [`PerfLayerBuilder::emf_writer`](crate::PerfLayerBuilder::emf_writer)) or log lines (to
/// `InitBuilder::log_writer`).
#[derive(Clone, Default)]
pub struct CapturedLines {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLines {
    /// An empty capture.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text.
    #[must_use]
    pub fn text(&self) -> String {
        let bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Every line written so far, parsed.
    ///
    /// # Panics
    ///
    /// If a line is not a JSON object, or the last line is incomplete: lambda-perf never
    /// writes either, so the test fails.
    #[must_use]
    pub fn lines(&self) -> Vec<Value> {
        parse_lines(&self.text())
    }

    /// Every line written so far, parsed; the capture is empty afterwards.
    ///
    /// # Panics
    ///
    /// As [`lines`](Self::lines).
    #[must_use]
    pub fn take_lines(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner));
        parse_lines(&String::from_utf8_lossy(&bytes))
    }
}

fn parse_lines(text: &str) -> Vec<Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "an EMF line was left incomplete: {text:?}"
    );
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
            assert!(value.is_object(), "not an EMF object: {line}");
            value
        })
        .collect()
}

impl Write for CapturedLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// [`CapturedLines`] by the name it had when it captured only EMF lines.
pub type CapturedEmf = CapturedLines;

impl fmt::Debug for CapturedLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapturedLines")
            .field("text", &self.text())
            .finish()
    }
}

/// X-Ray subsegment documents collected in memory, as JSON: give it to
/// [`PerfLayerBuilder::xray_sink`](crate::PerfLayerBuilder::xray_sink).
#[derive(Clone, Debug, Default)]
pub struct CollectedSubsegments {
    documents: Arc<Mutex<Vec<Value>>>,
}

impl CollectedSubsegments {
    /// An empty collection.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every document sent so far, in the order they closed.
    #[must_use]
    pub fn documents(&self) -> Vec<Value> {
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every document sent so far; the collection is empty afterwards.
    #[must_use]
    pub fn take(&self) -> Vec<Value> {
        std::mem::take(
            &mut *self
                .documents
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// The last document sent with this name.
    #[must_use]
    pub fn named(&self, name: &str) -> Option<Value> {
        self.documents()
            .into_iter()
            .rev()
            .find(|doc| doc["name"] == name)
    }
}

impl SubsegmentSink for CollectedSubsegments {
    fn send(&self, subsegment: &SubsegmentDocument<'_>) {
        if let Ok(document) = serde_json::from_str(&subsegment.to_json()) {
            self.documents
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(document);
        }
    }
}

/// A [`PerfLayer`] whose records are captured: EMF lines in a [`CapturedEmf`], subsegments in
/// a [`CollectedSubsegments`], and no environment marker (so no file is left behind; the
/// recorder's first invocation is `cold`, the others `warm`).
///
/// The layer is configured as `PerfLayer::builder()` would be from the environment, with
/// service `test`, namespace `Test`, handler `handler`, metrics and tracing on, subsegments
/// to the recorder's collector whatever `LAMBDA_PERF_TRACES` says — then as
/// [`with`](Self::with) says. An `#[instrument_lambda]` handler run by the recorder is
/// recorded with these settings: options written on the handler are not applied (one warning
/// says so); give them to [`with`](Self::with) instead.
#[derive(Debug)]
pub struct Recorder {
    emf: CapturedEmf,
    xray: CollectedSubsegments,
    layer: PerfLayer,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder with the defaults above.
    ///
    /// # Panics
    ///
    /// Never with the defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// A recorder whose layer `configure` adjusts further.
    ///
    /// # Panics
    ///
    /// If `configure` sets an invalid value (as [`PerfLayerBuilder::build`] would refuse).
    #[must_use]
    pub fn with(configure: impl FnOnce(PerfLayerBuilder) -> PerfLayerBuilder) -> Self {
        let emf = CapturedEmf::new();
        let xray = CollectedSubsegments::new();
        let builder = PerfLayer::builder()
            .service("test")
            .namespace("Test")
            .handler_name("handler")
            .metrics_disabled(false)
            .trace_disabled(false)
            .traces([TraceBackend::XRay])
            .without_marker()
            .emf_writer(emf.clone())
            .xray_sink(xray.clone());
        let layer = configure(builder)
            .build()
            .unwrap_or_else(|error| panic!("the recorder's configuration is invalid: {error}"));
        Self { emf, xray, layer }
    }

    /// The layer, to wrap services with.
    #[must_use]
    pub fn layer(&self) -> PerfLayer {
        self.layer.clone()
    }

    /// The EMF lines written so far.
    #[must_use]
    pub fn emf(&self) -> &CapturedEmf {
        &self.emf
    }

    /// The subsegments sent so far.
    #[must_use]
    pub fn xray(&self) -> &CollectedSubsegments {
        &self.xray
    }

    /// Runs `service` (a `service_fn(handler)`, a tower stack) for `event`, instrumented by
    /// this recorder's layer, and returns what it returned.
    ///
    /// # Errors
    ///
    /// The service's own error, unchanged.
    pub async fn run<S, T>(
        &self,
        service: S,
        event: LambdaEvent<T>,
    ) -> Result<S::Response, S::Error>
    where
        S: Service<LambdaEvent<T>>,
        S::Error: fmt::Debug + 'static,
        S::Response: serde::Serialize,
    {
        let mut service = self.layer.layer(service);
        poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(event).await
    }
}

/// An event carrying `payload`, with a unique request id, a deadline three seconds away and
/// a sampled trace header: what Lambda hands a traced function.
#[must_use]
pub fn event<T>(payload: T) -> LambdaEvent<T> {
    event_with_header(payload, true)
}

/// An event like [`event`]'s whose trace header says `Sampled=0`.
#[must_use]
pub fn unsampled_event<T>(payload: T) -> LambdaEvent<T> {
    event_with_header(payload, false)
}

fn event_with_header<T>(payload: T, sampled: bool) -> LambdaEvent<T> {
    let now = SystemTime::now();
    let epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut context = Context::default();
    context.request_id = format!("test-{}", id::hex(id::next()));
    let deadline = epoch + Duration::from_secs(3);
    context.deadline = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX);
    let root = format!(
        "1-{:08x}-{}{:08x}",
        epoch.as_secs() & 0xffff_ffff,
        id::hex(id::next()),
        id::next() & 0xffff_ffff
    );
    context.xray_trace_id = Some(format!(
        "Root={root};Parent={};Sampled={}",
        id::hex(id::next()),
        u8::from(sampled)
    ));
    LambdaEvent::new(payload, context)
}
