//! The OpenTelemetry output (feature `opentelemetry`): every closed subsegment of a sampled
//! invocation becomes an OpenTelemetry span with the same ids, parent, name and times
//! ([`span`]), kept until the invocation ends; then the invocation's spans are exported at
//! once — through the X-Ray daemon's UDP socket (`xray-otlp`, without blocking), and to the
//! exporters that wait on the network (`otlp`, any `SpanExporter` given in code) on the
//! [`background`] thread, waited for at most the flush bound and never into the timeout
//! margin before the deadline (the default margin when the watchdog is off).
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
mod resource_attributes;
mod span;
mod xray_udp;

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

pub(crate) use self::background::DynExporter;
use self::background::{Background, Latch};
use self::function::FunctionFacts;
use self::span::{KnownException, SpanRules, TraceIds};
use self::xray_udp::XRayOtlpSender;
use crate::config::{
    DEFAULT_OTEL_FLUSH_TIMEOUT, DEFAULT_OTLP_TIMEOUT, DEFAULT_TIMEOUT_MARGIN, TraceBackend,
    TraceSettings,
};
use crate::drops::{self, Dropped, Report};
use crate::formats::faas_trigger::FaasTrigger;
use crate::formats::xray::SubsegmentDocument;
use crate::invocation::facts::InvocationFacts;
use crate::invocation::output::{Began, Delivery, Ended, Output};
use crate::warn::WarnOnce;

static UNKNOWN_INVOCATION: WarnOnce = WarnOnce::new();

/// The resource's `service.name` and its other attributes. The name: the one given in code
/// (`otel_service_name`, else a `service.name` resource attribute), else a service given in
/// code, else `OTEL_SERVICE_NAME`, else the `service.name` of `OTEL_RESOURCE_ATTRIBUTES` (unless
/// blank: warned about), else `fallback`. The attributes: `OTEL_RESOURCE_ATTRIBUTES`' (but its `cloud.region` when the
/// region is given in code), each replaced by the one of the same key given in code, then the
/// others given in code.
fn resource_naming(
    settings: &TraceSettings,
    fallback: String,
    warnings: &mut Vec<String>,
) -> (String, Vec<(String, String)>) {
    let mut attributes = match settings
        .otel_resource_attributes
        .as_deref()
        .map(resource_attributes::parse)
    {
        Some(Ok(attributes)) => attributes,
        Some(Err(problem)) => {
            warnings.push(problem);
            Vec::new()
        }
        None => Vec::new(),
    };
    if settings.region_in_code {
        // The resource's `cloud.region` is the function's facts', the region given in code.
        attributes.retain(|(key, _)| key != "cloud.region");
    }
    let mut in_code = settings.resource_attributes_in_code.clone();
    let from_attributes = take_service_name(&mut attributes);
    let attribute_in_code = take_service_name(&mut in_code);
    let from_code = settings
        .otel_service_name_in_code
        .clone()
        .or(attribute_in_code);
    for (key, value) in in_code {
        match attributes.iter_mut().find(|(existing, _)| *existing == key) {
            Some(existing) => existing.1 = value,
            None => attributes.push((key, value)),
        }
    }
    let from_environment = || {
        if settings.service_in_code {
            return None;
        }
        settings
            .otel_service_name
            .clone()
            .or_else(|| match from_attributes {
                // Names no service (`service.name=` of a variable left unset when deployed).
                Some(name) if name.trim().is_empty() => {
                    warnings.push(format!(
                        "OTEL_RESOURCE_ATTRIBUTES: its service.name is blank; the spans' \
                         service is {fallback:?}"
                    ));
                    None
                }
                named => named,
            })
    };
    let service_name = from_code.or_else(from_environment).unwrap_or(fallback);
    (service_name, attributes)
}

/// Takes every `service.name` out of `attributes`, and returns the last one's value.
fn take_service_name(attributes: &mut Vec<(String, String)>) -> Option<String> {
    let last = attributes
        .iter()
        .rposition(|(key, _)| key == "service.name")
        .map(|at| attributes.remove(at).1);
    attributes.retain(|(key, _)| key != "service.name");
    last
}

/// What the OpenTelemetry output is built from.
pub(crate) struct OtelConfig<'a> {
    pub(crate) backends: &'a [TraceBackend],
    pub(crate) settings: &'a TraceSettings,
    /// Exporters given in code.
    pub(crate) exporters: Vec<Box<dyn DynExporter>>,
    /// `AWS_XRAY_DAEMON_ADDRESS`, for `xray-otlp`.
    pub(crate) daemon_address: String,
    /// The `service.name` of the resource, unless the OpenTelemetry variables name one (and
    /// no service was given in code): the service, else the function's name.
    pub(crate) service_name: String,
    pub(crate) capture_error: bool,
}

/// What an invocation's export carries besides its spans: the handler span's id, and the
/// drops that span reported, given back unless an exporter gets it out.
#[derive(Debug, Default)]
struct Handed {
    span: Option<SpanId>,
    drops: Option<Dropped>,
}

/// Spans of sampled invocations to OpenTelemetry exporters.
pub(crate) struct OtelOutput {
    xray_otlp: Option<XRayOtlpSender>,
    background: Option<Background>,
    flush_timeout: Duration,
    rules: SpanRules,
    service_name: String,
    /// From `OTEL_RESOURCE_ATTRIBUTES`, less its `service.name`.
    resource_attributes: Vec<(String, String)>,
    region: Option<String>,
    /// The handler spans' `faas.trigger` when given in code; else each invocation's own.
    faas_trigger: Option<FaasTrigger>,
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
    /// The handler span's id, once it closed.
    handler_span: Option<SpanId>,
    /// How long before the deadline the end stops waiting for its export
    /// (`LAMBDA_PERF_TIMEOUT_MARGIN_MS`; the default margin when it is zero, the watchdog
    /// off): the handler's answer must still be posted in time.
    margin: Duration,
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
            if let Some((var, value)) = &settings.otlp_protocol {
                if !value.trim().eq_ignore_ascii_case("http/protobuf") {
                    warnings.push(format!(
                        "{var}={value:?}: lambda-perf's otlp exporter sends OTLP/HTTP protobuf \
                         only, so it is ignored; for gRPC or JSON, give \
                         PerfLayerBuilder::span_exporter an exporter of your own"
                    ));
                }
            }
            match otlp::exporter(settings) {
                Ok(exporter) => exporters.insert(0, Box::new(exporter)),
                Err(error) => warnings.push(format!(
                    "the otlp trace exporter could not be built ({error}); otlp is off"
                )),
            }
        }
        let (service_name, resource_attributes) =
            resource_naming(settings, service_name, &mut warnings);
        let xray_otlp = backends
            .contains(&TraceBackend::XRayOtlp)
            .then(|| XRayOtlpSender::new(daemon_address));
        let background = Background::new(
            exporters,
            settings.otlp_timeout.unwrap_or(DEFAULT_OTLP_TIMEOUT),
        );
        if xray_otlp.is_none() && background.is_none() {
            return (None, warnings);
        }
        let output = Self {
            xray_otlp,
            background,
            flush_timeout: settings.flush_timeout.unwrap_or(DEFAULT_OTEL_FLUSH_TIMEOUT),
            rules: SpanRules::new(capture_error),
            service_name,
            resource_attributes,
            region: settings.region.clone(),
            faas_trigger: settings.faas_trigger,
            resource: OnceLock::new(),
            pending: Mutex::new(Vec::new()),
        };
        (Some(output), warnings)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exports `spans`, waiting at most the flush bound (never past `margin` before the
    /// deadline) for the exporters that wait on the network. The drops the handler span
    /// reported are given back if no exporter gets it out.
    fn export(&self, spans: Vec<SpanData>, ended: &Ended<'_>, handed: Handed, margin: Duration) {
        if spans.is_empty() {
            if let Some(drops) = handed.drops {
                drops::restore(Report::Trace, drops);
            }
            return;
        }
        let resource = Arc::clone(
            self.resource
                .get_or_init(|| Arc::new(Resource::builder_empty().build())),
        );
        // The xray-otlp send is one of the exports the latch counts.
        let sends = usize::from(self.xray_otlp.is_some());
        let latch = match &self.background {
            Some(background) => background.dispatch(&spans, &resource, sends, handed.drops),
            None => Arc::new(Latch::new(sends, handed.drops)),
        };
        if let Some(sender) = &self.xray_otlp {
            let handler_out = sender.send(spans, &resource, handed.span);
            latch.count_down(handler_out);
        }
        if self.background.is_some() {
            let bound = ended
                .facts
                .remaining_time()
                .map_or(self.flush_timeout, |left| {
                    left.saturating_sub(margin).min(self.flush_timeout)
                });
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
            (
                "lambda_perf.otel.rejected_spans",
                collector_client::rejected_spans(),
            ),
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
        self.resource.get_or_init(|| {
            Arc::new(function.resource(&self.service_name, &self.resource_attributes))
        });
        let pending = Pending {
            request_id: began.facts.request_id().to_owned(),
            trace,
            handler_attributes: function
                .handler_attributes(began, self.faas_trigger.unwrap_or(began.trigger)),
            spans: Vec::new(),
            exceptions: Vec::new(),
            handler_span: None,
            // A zero margin turns the watchdog off, not the time the answer needs.
            margin: began
                .settings
                .timeout_margin
                .unwrap_or(DEFAULT_TIMEOUT_MARGIN),
        };
        self.pending().push(pending);
    }

    fn subsegment_closed(
        &self,
        facts: &InvocationFacts,
        subsegment: &SubsegmentDocument<'_>,
    ) -> Delivery {
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
            return Delivery::Lost;
        };
        let record = subsegment.record;
        let is_handler = record.parent_id.value() == invocation.trace.remote_parent;
        let extra = if is_handler {
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
        if is_handler {
            invocation.handler_span = Some(span.span_context.span_id());
        }
        invocation.spans.push(span);
        Delivery::Exporting
    }

    /// The handler is still running near its deadline, where Lambda may end the process:
    /// the spans closed so far (the watchdog's timeout spans among them) are exported now, as
    /// at the end. The invocation stays pending: what closes later (the final spans, with the
    /// same ids, if the handler still finishes in time) is exported when it ends.
    ///
    /// Only the spans up to the watchdog's handler span, the first of the handler's id: the
    /// handler may have ended since the watchdog closed it, and its final spans, the handler
    /// span with the drops it reported, are its end's to export (which gives the drops back
    /// if that export fails; exported here, they would be reported again).
    fn deadline_near(&self, so_far: &Ended<'_>) {
        let spans = {
            let mut pending = self.pending();
            let Some(invocation) = pending
                .iter_mut()
                .find(|pending| pending.request_id == so_far.facts.request_id())
            else {
                return;
            };
            let snapshot = invocation.handler_span.and_then(|handler| {
                invocation
                    .spans
                    .iter()
                    .position(|span| span.span_context.span_id() == handler)
            });
            match snapshot {
                Some(at) => invocation.spans.drain(..=at).collect(),
                None => std::mem::take(&mut invocation.spans),
            }
        };
        // The watchdog's moment is already the margin before the deadline: its export may
        // wait up to the deadline (the handler, still running, is not held by it).
        self.export(spans, so_far, Handed::default(), Duration::ZERO);
    }

    /// Exports the invocation's spans, waiting at most the flush bound for the exporters that
    /// wait on the network, and never into the timeout margin before the deadline: the
    /// handler's answer, handed back after the wait, must reach Lambda before it.
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
        let handed = Handed {
            span: invocation.handler_span,
            drops: ended
                .exported_drops
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        };
        let margin = invocation.margin;
        self.export(invocation.spans, ended, handed, margin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming(settings: &TraceSettings) -> (String, Vec<(String, String)>, Vec<String>) {
        let mut warnings = Vec::new();
        let (service, attributes) = resource_naming(settings, "fallback".into(), &mut warnings);
        (service, attributes, warnings)
    }

    #[test]
    fn the_service_name_comes_from_code_then_the_variables_then_the_fallback() {
        let mut settings = TraceSettings {
            otel_resource_attributes: Some("service.name=attrs,team=core".into()),
            ..TraceSettings::default()
        };
        let pair = |key: &str, value: &str| vec![(key.to_owned(), value.to_owned())];
        assert_eq!(
            naming(&settings),
            ("attrs".into(), pair("team", "core"), vec![])
        );
        settings.otel_service_name = Some("variable".into());
        assert_eq!(
            naming(&settings),
            ("variable".into(), pair("team", "core"), vec![])
        );
        settings.service_in_code = true;
        assert_eq!(
            naming(&settings),
            ("fallback".into(), pair("team", "core"), vec![])
        );
        // Given in code: a resource attribute replaces the variable's of the same key, and a
        // `service.name` among them, or `otel_service_name` before it, wins over every other.
        settings.resource_attributes_in_code = vec![
            ("team".into(), "payments".into()),
            ("service.name".into(), "attribute in code".into()),
            ("deployment.environment".into(), "prod".into()),
        ];
        let mut both = pair("team", "payments");
        both.extend(pair("deployment.environment", "prod"));
        assert_eq!(
            naming(&settings),
            ("attribute in code".into(), both.clone(), vec![])
        );
        settings.otel_service_name_in_code = Some("name in code".into());
        assert_eq!(naming(&settings), ("name in code".into(), both, vec![]));
        // A blank `service.name` of the variable names no service: the fallback, with a
        // warning (none when another name wins anyway).
        let mut blank = TraceSettings {
            otel_resource_attributes: Some("service.name=%20,team=core".into()),
            ..TraceSettings::default()
        };
        let (service, attributes, warnings) = naming(&blank);
        assert_eq!(
            (service.as_str(), attributes),
            ("fallback", pair("team", "core"))
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("OTEL_RESOURCE_ATTRIBUTES: its service.name is blank"),
            "{warnings:?}"
        );
        blank.otel_service_name = Some("variable".into());
        assert_eq!(
            naming(&blank),
            ("variable".into(), pair("team", "core"), vec![])
        );
        blank.otel_service_name = None;
        blank.service_in_code = true;
        assert_eq!(
            naming(&blank),
            ("fallback".into(), pair("team", "core"), vec![])
        );
        // A value that does not read is ignored whole, with a warning.
        let settings = TraceSettings {
            otel_resource_attributes: Some("service.name=attrs,broken".into()),
            ..TraceSettings::default()
        };
        let (service, attributes, warnings) = naming(&settings);
        assert_eq!((service.as_str(), attributes.len()), ("fallback", 0));
        assert!(
            warnings[0].contains("OTEL_RESOURCE_ATTRIBUTES"),
            "{warnings:?}"
        );
    }
}
