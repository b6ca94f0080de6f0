//! `xray-otlp`: OpenTelemetry spans through the Lambda X-Ray daemon's UDP socket, as ADOT's
//! X-Ray UDP span exporter sends them: each datagram is the daemon header
//! `{"format":"json","version":1}` and a newline, then `T1S` (sampled spans; `T1U`
//! unsampled), then the base64 of an OTLP `ExportTraceServiceRequest`. An invocation's spans
//! are split over as many datagrams as it takes for each to fit 64 000 bytes.
//!
//! What is not sent is counted, as the X-Ray output counts its subsegments (see
//! [`drops`]), in the next EMF line and handler subsegment: each span of an
//! unusable address (`otel.xray_otlp_address_unusable`), of a send that fails
//! (`otel.xray_otlp_send_failed`: without a daemon, the send after each one that drew a "port
//! unreachable"; a datagram that leaves and is lost is not seen), too large for a datagram
//! (`otel.xray_otlp_span_too_large`), or sent without its attributes and events
//! (`otel.xray_otlp_span_trimmed`).

use std::fmt;
use std::net::UdpSocket;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanId;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;

use crate::drops;
use crate::formats::capped::preview;
use crate::formats::xray::document::{DAEMON_HEADER, MAX_DATAGRAM};
use crate::outputs::xray::daemon_socket::{connect, send_failure_hint};
use crate::warn::WarnOnce;

/// The prefix of a datagram of sampled spans.
pub(crate) const SAMPLED_PREFIX: &[u8] = b"T1S";
/// The prefix of a datagram of unsampled spans.
pub(crate) const UNSAMPLED_PREFIX: &[u8] = b"T1U";

static UNUSABLE_ADDRESS: WarnOnce = WarnOnce::new();
static SEND_FAILED: WarnOnce = WarnOnce::new();
static TRIMMED: WarnOnce = WarnOnce::new();
static DROPPED: WarnOnce = WarnOnce::new();

/// Spans too large for a datagram even without their attributes and events.
static DROPPED_SPANS: AtomicU64 = AtomicU64::new(0);

/// The spans `xray-otlp` did not send because they did not fit a datagram even trimmed, in
/// this process.
pub(crate) fn dropped_spans() -> u64 {
    DROPPED_SPANS.load(Ordering::Relaxed)
}

/// Sends spans to the X-Ray daemon at an `AWS_XRAY_DAEMON_ADDRESS` setting.
pub(crate) struct XRayOtlpSender {
    setting: String,
    socket: Option<UdpSocket>,
    /// The resource and scope in protobuf form, made once (they do not change).
    envelope: OnceLock<Envelope>,
}

impl XRayOtlpSender {
    /// A sender for the daemon at `setting`, resolved and connected now, as the X-Ray
    /// output's is: never inside an invocation, where looking a host name up would block it.
    /// An unusable address costs one warning; the sender then counts every span it drops.
    pub(crate) fn new(setting: impl Into<String>) -> Self {
        let setting = setting.into();
        let socket = match connect(&setting) {
            Ok(socket) => Some(socket),
            Err(error) => {
                UNUSABLE_ADDRESS.warn(format_args!(
                    "X-Ray daemon address {setting:?} is unusable ({error}); no xray-otlp spans \
                     are sent"
                ));
                None
            }
        };
        Self {
            setting,
            socket,
            envelope: OnceLock::new(),
        }
    }

    /// Sends `spans` (one invocation's), without blocking; counts those it cannot send.
    /// Returns whether the span `handler` was sent whole (not trimmed).
    pub(crate) fn send(
        &self,
        spans: Vec<SpanData>,
        resource: &Resource,
        handler: Option<SpanId>,
    ) -> bool {
        let Some(socket) = &self.socket else {
            drops::count_each("otel.xray_otlp_address_unusable", spans.len());
            return false;
        };
        let Some(first) = spans.first() else {
            return false;
        };
        let envelope = self
            .envelope
            .get_or_init(|| Envelope::new(resource, &first.instrumentation_scope));
        let handler = handler.map(|id| id.to_bytes());
        let mut handler_out = false;
        for (datagram, carried) in envelope.datagrams(spans, MAX_PAYLOAD) {
            let sent = socket.send(&datagram);
            if sent.is_ok() {
                handler_out |= handler.is_some_and(|id| carries_whole(&carried, &id));
            }
            if let Err(error) = sent {
                drops::count_each("otel.xray_otlp_send_failed", carried.len());
                SEND_FAILED.warn(format_args!(
                    "could not send OpenTelemetry spans to the X-Ray daemon at {:?} ({error}); \
                     {}",
                    self.setting,
                    send_failure_hint(&error)
                ));
            }
        }
        handler_out
    }
}

impl fmt::Debug for XRayOtlpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XRayOtlpSender")
            .field("address", &self.setting)
            .finish_non_exhaustive()
    }
}

/// The largest protobuf whose base64 fits a datagram after the header and the prefix.
const MAX_PAYLOAD: usize = (MAX_DATAGRAM - DAEMON_HEADER.len() - SAMPLED_PREFIX.len()) / 4 * 3;

/// What every request shares: the resource and the instrumentation scope (lambda-perf's, the
/// same for every span this output makes).
struct Envelope {
    resource: ResourceAttributesWithSchema,
    scope: InstrumentationScope,
}

impl Envelope {
    fn new(resource: &Resource, scope: &opentelemetry::InstrumentationScope) -> Self {
        Self {
            resource: ResourceAttributesWithSchema::from(resource),
            scope: (scope, None).into(),
        }
    }

    /// The datagrams that carry `spans`, each with the spans it carries: sampled and
    /// unsampled apart, each request at most `limit` bytes.
    fn datagrams(&self, spans: Vec<SpanData>, limit: usize) -> Vec<(Vec<u8>, Vec<Carried>)> {
        let (sampled, unsampled): (Vec<SpanData>, Vec<SpanData>) = spans
            .into_iter()
            .partition(|span| span.span_context.is_sampled());
        let mut out = Vec::new();
        for (prefix, group) in [(SAMPLED_PREFIX, sampled), (UNSAMPLED_PREFIX, unsampled)] {
            let group: Vec<ProtoSpan> = group.into_iter().map(ProtoSpan::from).collect();
            let mut requests = Vec::new();
            self.pack(group, limit, &mut requests);
            out.extend(
                requests
                    .iter()
                    .map(|request| (datagram(prefix, request), carried(request))),
            );
        }
        out
    }

    fn request(&self, spans: Vec<ProtoSpan>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(ProtoResource {
                    attributes: self.resource.attributes.0.clone(),
                    ..ProtoResource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: self.resource.schema_url.clone().unwrap_or_default(),
            }],
        }
    }

    /// Requests of at most `limit` bytes for `spans`: all in one when they fit, else halves.
    fn pack(&self, spans: Vec<ProtoSpan>, limit: usize, out: &mut Vec<ExportTraceServiceRequest>) {
        if spans.is_empty() {
            return;
        }
        let request = self.request(spans);
        if request.encoded_len() <= limit {
            out.push(request);
            return;
        }
        let mut spans = take_spans(request);
        if spans.len() > 1 {
            let second = spans.split_off(spans.len() / 2);
            self.pack(spans, limit, out);
            self.pack(second, limit, out);
            return;
        }
        let Some(mut span) = spans.pop() else {
            return;
        };
        let name = span.name.clone();
        trim(&mut span);
        let request = self.request(vec![span]);
        if request.encoded_len() <= limit {
            drops::count("otel.xray_otlp_span_trimmed");
            TRIMMED.warn(format_args!(
                "span {name:?} exceeded the 64 KB datagram of xray-otlp; it was sent without \
                 its attributes and events"
            ));
            out.push(request);
        } else {
            drops::count("otel.xray_otlp_span_too_large");
            let dropped = DROPPED_SPANS.fetch_add(1, Ordering::Relaxed) + 1;
            DROPPED.warn(format_args!(
                "span {name:?} does not fit a 64 KB datagram of xray-otlp even trimmed; it was \
                 not sent ({dropped} so far; later ones are counted on handler spans as \
                 lambda_perf.otel.dropped_spans)"
            ));
        }
    }
}

/// A span a datagram carries: its id, and whether it is whole (not trimmed).
type Carried = (Vec<u8>, bool);

/// The spans `request` carries.
fn carried(request: &ExportTraceServiceRequest) -> Vec<Carried> {
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| {
            let trimmed = span
                .attributes
                .iter()
                .any(|attribute| attribute.key == TRIMMED_KEY);
            (span.span_id.clone(), !trimmed)
        })
        .collect()
}

/// Whether span `id` is among `carried`, whole.
fn carries_whole(carried: &[Carried], id: &[u8]) -> bool {
    carried
        .iter()
        .any(|(carried, whole)| *whole && carried.as_slice() == id)
}

fn take_spans(request: ExportTraceServiceRequest) -> Vec<ProtoSpan> {
    request
        .resource_spans
        .into_iter()
        .flat_map(|resource| resource.scope_spans)
        .flat_map(|scope| scope.spans)
        .collect()
}

/// The attribute that marks a span sent without its attributes and events.
const TRIMMED_KEY: &str = "lambda_perf.trimmed";

/// A span without its attributes and events, marked as such.
fn trim(span: &mut ProtoSpan) {
    let marker = KeyValue::new(
        TRIMMED_KEY,
        "attributes and events removed: the span exceeded the 64 KB datagram",
    );
    span.attributes = vec![(&marker).into()];
    span.events.clear();
    span.links.clear();
    if let Some(status) = &mut span.status {
        // At most 256 bytes, whole characters.
        let cut = preview(&status.message, 256).len();
        status.message.truncate(cut);
    }
}

fn datagram(prefix: &[u8], request: &ExportTraceServiceRequest) -> Vec<u8> {
    let payload = request.encode_to_vec();
    let mut text = String::with_capacity(payload.len().div_ceil(3) * 4);
    STANDARD.encode_string(&payload, &mut text);
    let mut datagram = Vec::with_capacity(DAEMON_HEADER.len() + prefix.len() + text.len());
    datagram.extend_from_slice(DAEMON_HEADER);
    datagram.extend_from_slice(prefix);
    datagram.extend_from_slice(text.as_bytes());
    datagram
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drops::Report;
    use crate::formats::xray::document::Record;
    use crate::outputs::otel::span::{SpanRules, TraceIds};
    use opentelemetry::trace::{TraceId, TraceState};

    fn spans(count: usize, metadata_bytes: usize) -> Vec<SpanData> {
        let rules = SpanRules::new(true);
        let ids = TraceIds {
            trace_id: TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
            trace_state: TraceState::default(),
            remote_parent: 9,
        };
        (0..count)
            .map(|index| {
                let mut record = Record::open(index as u64 + 10, 9, format!("s{index}").into());
                record.add_metadata(
                    "big".into(),
                    "blob".into(),
                    serde_json::Value::String("x".repeat(metadata_bytes)),
                );
                record.close();
                rules.span(&record, &ids, Vec::new(), &mut Vec::new())
            })
            .collect()
    }

    fn datagrams(spans: Vec<SpanData>, resource: &Resource) -> Vec<Vec<u8>> {
        let envelope = Envelope::new(resource, &spans[0].instrumentation_scope);
        let datagrams = envelope.datagrams(spans, MAX_PAYLOAD);
        let carried: usize = datagrams.iter().map(|(_, carried)| carried.len()).sum();
        let decoded: usize = datagrams
            .iter()
            .map(|(datagram, _)| take_spans(decode(datagram).1).len())
            .sum();
        assert_eq!(
            carried, decoded,
            "each datagram says how many spans it carries"
        );
        datagrams
            .into_iter()
            .map(|(datagram, _)| datagram)
            .collect()
    }

    fn decode(datagram: &[u8]) -> (Vec<u8>, ExportTraceServiceRequest) {
        assert!(datagram.starts_with(DAEMON_HEADER));
        let rest = &datagram[DAEMON_HEADER.len()..];
        let (prefix, body) = rest.split_at(3);
        let bytes = STANDARD.decode(body).unwrap();
        (
            prefix.to_vec(),
            ExportTraceServiceRequest::decode(&*bytes).unwrap(),
        )
    }

    #[test]
    fn a_small_batch_is_one_datagram() {
        let resource = Resource::builder_empty().build();
        let out = datagrams(spans(3, 10), &resource);
        assert_eq!(out.len(), 1);
        let (prefix, request) = decode(&out[0]);
        assert_eq!(prefix, b"T1S");
        let names: Vec<String> = take_spans(request).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["s0", "s1", "s2"]);
    }

    #[test]
    fn large_batches_are_split_so_each_datagram_fits() {
        let resource = Resource::builder_empty().build();
        let out = datagrams(spans(40, 5_000), &resource);
        assert!(out.len() > 3, "{}", out.len());
        let mut names = Vec::new();
        for datagram in &out {
            assert!(datagram.len() <= MAX_DATAGRAM, "{}", datagram.len());
            names.extend(take_spans(decode(datagram).1).into_iter().map(|s| s.name));
        }
        let expected: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_trimmed_span_keeps_a_long_non_ascii_error_message_whole_characters() {
        // A faulted span too large for a datagram, whose error message (here 300 `é`, two
        // bytes each) is longer than what a trimmed span keeps: cut at a character boundary.
        let rules = SpanRules::new(true);
        let ids = TraceIds {
            trace_id: TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap(),
            trace_state: TraceState::default(),
            remote_parent: 9,
        };
        let mut record = Record::open(10, 9, "charge".into());
        record.add_metadata(
            "big".into(),
            "blob".into(),
            serde_json::Value::String("x".repeat(70_000)),
        );
        record.record_exception(crate::formats::xray::document::Exception {
            id: 0x77,
            kind: "PaymentDeclined".into(),
            message: format!("x{}", "é".repeat(300)),
        });
        record.close();
        let span = rules.span(&record, &ids, Vec::new(), &mut Vec::new());
        let resource = Resource::builder_empty().build();
        let out = datagrams(vec![span], &resource);
        assert_eq!(out.len(), 1);
        let span = take_spans(decode(&out[0]).1).pop().unwrap();
        let message = span.status.unwrap().message;
        assert!(message.len() <= 256, "{}", message.len());
        assert!(message.starts_with("xé"), "{message}");
    }

    #[test]
    fn a_span_too_large_alone_is_trimmed() {
        let resource = Resource::builder_empty().build();
        let out = datagrams(spans(1, 70_000), &resource);
        assert_eq!(out.len(), 1);
        let span = take_spans(decode(&out[0]).1).pop().unwrap();
        assert_eq!(span.name, "s0");
        assert_eq!(span.attributes.len(), 1);
        assert_eq!(span.attributes[0].key, "lambda_perf.trimmed");
        // Counted, for the next record of each kind.
        for report in [Report::Emf, Report::Trace] {
            let dropped = drops::take(report).unwrap_or_default();
            assert_eq!(dropped.of("otel.xray_otlp_span_trimmed"), 1, "{report:?}");
        }
    }
}
