//! The OpenTelemetry output (feature `opentelemetry`): every closed subsegment of a sampled
//! invocation becomes an OpenTelemetry span with the same ids, parent, name and times
//! ([`span`]), kept until the invocation ends; then the invocation's spans are exported at
//! once — through the X-Ray daemon's UDP socket (`xray-otlp`, without blocking), and to the
//! exporters that wait on the network (`otlp`, any `SpanExporter` given in code) on the
//! [`background`] thread, waited for at most the flush bound and never past the deadline.
//!
//! Nothing is installed globally: `tracing` spans reach this output as the subsegments
//! [`XRayLayer`](crate::xray::XRayLayer) makes of them, so they are the same spans in X-Ray
//! and in OpenTelemetry. This is why `tracing-opentelemetry` is not used: its layer makes its
//! own span ids and parents from the `tracing` span tree alone, so a span opened on a
//! spawned task, or around a nested subsegment, would get a different id or parent in
//! OpenTelemetry than in X-Ray, and the two backends would disagree; it would also be a
//! second global layer to install.

mod background;
mod collector_client;
mod function;
mod otlp;
mod propagation;
mod span;
mod xray_udp;

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use self::background::Background;
pub(crate) use self::background::DynExporter;
use self::function::FunctionFacts;
use self::span::{KnownException, SpanRules, TraceIds};
use self::xray_udp::XRayOtlpSender;
use crate::config::{DEFAULT_OTEL_FLUSH_TIMEOUT, TraceBackend, TraceSettings};
use crate::formats::xray::SubsegmentDocument;
use crate::invocation::facts::InvocationFacts;
use crate::invocation::output::{Began, Ended, Output};
use crate::warn::WarnOnce;

static UNKNOWN_INVOCATION: WarnOnce = WarnOnce::new();

/// What the OpenTelemetry output is built from.
pub(crate) struct OtelConfig<'a> {
    pub(crate) backends: &'a [TraceBackend],
    pub(crate) settings: &'a TraceSettings,
    /// Exporters given in code.
    pub(crate) exporters: Vec<Box<dyn DynExporter>>,
    /// `AWS_XRAY_DAEMON_ADDRESS`, for `xray-otlp`.
    pub(crate) daemon_address: String,
    /// The `service.name` of the resource.
    pub(crate) service_name: String,
    pub(crate) capture_error: bool,
}

/// Spans of sampled invocations to OpenTelemetry exporters.
pub(crate) struct OtelOutput {
    xray_otlp: Option<XRayOtlpSender>,
    background: Option<Background>,
    flush_timeout: Duration,
    rules: SpanRules,
    service_name: String,
    region: Option<String>,
    /// Built at the first invocation, from its context.
    resource: OnceLock<Arc<Resource>>,
    /// The invocations in flight, by request id.
    pending: Mutex<Vec<Pending>>,
}

/// One sampled invocation's spans, until it ends.
struct Pending {
    request_id: String,
    trace: TraceIds,
    handler_attributes: Vec<KeyValue>,
    spans: Vec<SpanData>,
    exceptions: Vec<KnownException>,
}

impl OtelOutput {
    /// The output the configuration asks for, with the warnings of what could not be built;
    /// `None` when no OpenTelemetry exporter is chosen (or none could be built).
    pub(crate) fn build(config: OtelConfig<'_>) -> (Option<Self>, Vec<String>) {
        let mut warnings = Vec::new();
        let OtelConfig {
            backends,
            settings,
            mut exporters,
            daemon_address,
            service_name,
            capture_error,
        } = config;
        if backends.contains(&TraceBackend::Otlp) {
            match otlp::exporter(settings) {
                Ok(exporter) => exporters.insert(0, Box::new(exporter)),
                Err(error) => warnings.push(format!(
                    "the otlp trace exporter could not be built ({error}); otlp is off"
                )),
            }
        }
        let xray_otlp = backends
            .contains(&TraceBackend::XRayOtlp)
            .then(|| XRayOtlpSender::new(daemon_address));
        let background = Background::new(exporters);
        if xray_otlp.is_none() && background.is_none() {
            return (None, warnings);
        }
        let output = Self {
            xray_otlp,
            background,
            flush_timeout: settings.flush_timeout.unwrap_or(DEFAULT_OTEL_FLUSH_TIMEOUT),
            rules: SpanRules::new(capture_error),
            service_name,
            region: settings.region.clone(),
            resource: OnceLock::new(),
            pending: Mutex::new(Vec::new()),
        };
        (Some(output), warnings)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exports `spans`, waiting at most the flush bound (never past the deadline) for the
    /// exporters that wait on the network.
    fn export(&self, spans: Vec<SpanData>, ended: &Ended<'_>) {
        if spans.is_empty() {
            return;
        }
        let resource = Arc::clone(
            self.resource
                .get_or_init(|| Arc::new(Resource::builder_empty().build())),
        );
        let latch = self
            .background
            .as_ref()
            .map(|background| background.dispatch(&spans, &resource));
        if let Some(sender) = &self.xray_otlp {
            sender.send(spans, &resource);
        }
        if let Some(latch) = latch {
            let bound = ended
                .facts
                .remaining_time()
                .map_or(self.flush_timeout, |left| left.min(self.flush_timeout));
            background::wait(&latch, bound);
        }
    }

    /// The handler span's counts of what this process could not export, when there is any.
    fn losses() -> Vec<KeyValue> {
        [
            (
                "lambda_perf.otel.failed_exports",
                background::failed_exports(),
            ),
            ("lambda_perf.otel.late_exports", background::late_exports()),
            ("lambda_perf.otel.dropped_spans", xray_udp::dropped_spans()),
        ]
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .map(|(key, count)| KeyValue::new(key, i64::try_from(count).unwrap_or(i64::MAX)))
        .collect()
    }
}

impl std::fmt::Debug for OtelOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelOutput")
            .field("xray_otlp", &self.xray_otlp)
            .field("flush_timeout", &self.flush_timeout)
            .finish_non_exhaustive()
    }
}

impl Output for OtelOutput {
    /// A sampled invocation: its trace from the header, its handler span's FaaS facts.
    fn invocation_began(&self, began: &Began<'_>) {
        if !began.settings.tracing {
            return;
        }
        let Some(trace) = began
            .context
            .xray_trace_id
            .as_deref()
            .and_then(propagation::recorded_trace)
        else {
            return;
        };
        let function = FunctionFacts::of(began, self.region.as_deref());
        self.resource
            .get_or_init(|| Arc::new(function.resource(&self.service_name)));
        let pending = Pending {
            request_id: began.facts.request_id().to_owned(),
            trace,
            handler_attributes: function.handler_attributes(began),
            spans: Vec::new(),
            exceptions: Vec::new(),
        };
        self.pending().push(pending);
    }

    fn subsegment_closed(&self, facts: &InvocationFacts, subsegment: &SubsegmentDocument<'_>) {
        let mut pending = self.pending();
        let Some(invocation) = pending
            .iter_mut()
            .find(|pending| pending.request_id == facts.request_id())
        else {
            UNKNOWN_INVOCATION.warn(format_args!(
                "subsegment {:?} closed in an invocation the OpenTelemetry output did not see \
                 begin; it is not exported as a span",
                subsegment.name()
            ));
            return;
        };
        let record = subsegment.record;
        let extra = if record.parent_id.value() == invocation.trace.remote_parent {
            // Cloned: the watchdog's handler span near the deadline and the final one both
            // carry them.
            let mut attributes = invocation.handler_attributes.clone();
            attributes.extend(Self::losses());
            attributes
        } else {
            Vec::new()
        };
        let span = self
            .rules
            .span(record, &invocation.trace, extra, &mut invocation.exceptions);
        invocation.spans.push(span);
    }

    /// The handler is still running near its deadline, where Lambda may end the process:
    /// the spans closed so far (the watchdog's timeout spans among them) are exported now, as
    /// at the end. The invocation stays pending: what closes later (the final spans, with the
    /// same ids, if the handler still finishes in time) is exported when it ends.
    fn deadline_near(&self, so_far: &Ended<'_>) {
        let spans = {
            let mut pending = self.pending();
            let Some(invocation) = pending
                .iter_mut()
                .find(|pending| pending.request_id == so_far.facts.request_id())
            else {
                return;
            };
            std::mem::take(&mut invocation.spans)
        };
        self.export(spans, so_far);
    }

    /// Exports the invocation's spans, waiting at most the flush bound (never past the
    /// deadline) for the exporters that wait on the network.
    fn invocation_ended(&self, ended: &Ended<'_>) {
        let invocation = {
            let mut pending = self.pending();
            let Some(index) = pending
                .iter()
                .position(|pending| pending.request_id == ended.facts.request_id())
            else {
                return;
            };
            pending.swap_remove(index)
        };
        self.export(invocation.spans, ended);
    }
}
