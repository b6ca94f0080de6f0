//! The subsegment document model and its serializer.
//!
//! Each subsegment is sent as a standalone document when it closes, as the official SDKs do in
//! Lambda: `type:"subsegment"`, `trace_id`, `parent_id` (Lambda's function segment for the
//! handler subsegment, the enclosing subsegment for nested ones), epoch-second times with
//! microseconds.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;
#[cfg(test)]
use std::time::SystemTime;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::annotation::AnnotationValue;
use super::header::TraceId;
use super::id::Hex;
use super::metadata_name::MetadataName;
use super::metadata_value::MetadataValue;
use crate::first_and_latest;
use crate::formats::capped::preview;
use crate::formats::json::WriteJson;
use crate::formats::time::{MonotonicNanos, nanos};

/// Largest datagram sent to the daemon (header included): below the daemon's 64 KiB buffer
/// and the IPv4 UDP payload limit.
pub(crate) const MAX_DATAGRAM: usize = 64_000;
/// The daemon protocol header, followed by a newline and one document.
pub(crate) const DAEMON_HEADER: &[u8] = b"{\"format\":\"json\",\"version\":1}\n";
/// String lengths kept when a document has to shrink to fit a datagram.
const SHORTENED_STRING: usize = 256;
/// Exceptions kept in a document that does not fit with all of them: as the record keeps its
/// own, the first ones and the latest.
const FEWER_EXCEPTIONS: usize = 10;
/// Exceptions one subsegment keeps: the first ones and the latest. A failure recorded in a
/// loop would otherwise grow the record, and the time to send it, without bound; a datagram
/// holds fewer (a document that does not fit otherwise keeps [`FEWER_EXCEPTIONS`], the same
/// way).
pub(crate) const MAX_EXCEPTIONS: usize = 1_000;
/// The metadata namespace of lambda-perf's own facts: kept when the user's metadata is
/// trimmed.
pub(crate) const FACTS_NAMESPACE: &str = "lambda_perf";

/// What a downstream call was: the `namespace` field of a subsegment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Namespace {
    /// A call to an AWS service (`aws`).
    Aws,
    /// A call to any other downstream service (`remote`).
    Remote,
}

impl Namespace {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Remote => "remote",
        }
    }
}

/// The `http` object of a subsegment for an HTTP call. Its method and URL are kept to the 250
/// characters X-Ray's document schema allows: a longer one is cut there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Http {
    #[serde(skip_serializing_if = "HttpRequest::is_empty")]
    request: HttpRequest,
    #[serde(skip_serializing_if = "HttpResponse::is_empty")]
    response: HttpResponse,
    /// Whether the method or the URL was cut to fit.
    #[serde(skip)]
    cut: bool,
}

/// The longest `http.request` method or URL X-Ray's document schema allows, in characters.
const MAX_HTTP_VALUE_CHARS: usize = 250;

/// `value` within [`MAX_HTTP_VALUE_CHARS`] characters, and whether it had to be cut.
fn within_schema(mut value: String) -> (String, bool) {
    match value.char_indices().nth(MAX_HTTP_VALUE_CHARS) {
        Some((end, _)) => {
            value.truncate(end);
            (value, true)
        }
        None => (value, false),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
struct HttpRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    traced: Option<bool>,
}

impl HttpRequest {
    fn is_empty(&self) -> bool {
        self.method.is_none() && self.url.is_none() && self.traced.is_none()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
struct HttpResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_length: Option<u64>,
}

impl HttpResponse {
    fn is_empty(&self) -> bool {
        self.status.is_none() && self.content_length.is_none()
    }
}

impl Http {
    /// The request: method and URL (each cut to 250 characters, as X-Ray takes them).
    #[must_use]
    pub fn request(method: impl Into<String>, url: impl Into<String>) -> Self {
        let (method, method_cut) = within_schema(method.into());
        let (url, url_cut) = within_schema(url.into());
        Self {
            request: HttpRequest {
                method: Some(method),
                url: Some(url),
                traced: None,
            },
            response: HttpResponse::default(),
            cut: method_cut || url_cut,
        }
    }

    /// Whether the method or the URL was cut to the 250 characters X-Ray takes.
    pub(crate) fn was_cut(&self) -> bool {
        self.cut
    }

    /// Marks the request as traced downstream (X-Ray then waits for the callee's segment).
    #[must_use]
    pub fn traced(mut self, traced: bool) -> Self {
        self.request.traced = Some(traced);
        self
    }

    /// The response status. As [`set_http_status`](crate::xray::set_http_status) does, it
    /// marks the subsegment: 4xx sets `error`, 429 also `throttle`, 5xx `fault`.
    #[must_use]
    pub fn status(mut self, status: u16) -> Self {
        self.response.status = Some(status);
        self
    }

    /// The response body length.
    #[must_use]
    pub fn content_length(mut self, length: u64) -> Self {
        self.response.content_length = Some(length);
        self
    }

    pub(crate) fn set_status(&mut self, status: u16) {
        self.response.status = Some(status);
    }

    /// The response status, when it is known.
    fn status_code(&self) -> Option<u16> {
        self.response.status
    }
}

/// The members of a subsegment's `aws` object that the segment document schema types as
/// strings.
const AWS_STRING_MEMBERS: [&str; 6] = [
    "operation",
    "account_id",
    "region",
    "request_id",
    "queue_url",
    "table_name",
];

/// Makes `aws`'s members that X-Ray types as strings ([`AWS_STRING_MEMBERS`]) strings: a
/// `null` one (an `Option` left `None`) is left out, as absent; one of another type is
/// replaced by its JSON text. Returns how many were replaced.
pub(crate) fn aws_members_as_strings(aws: &mut serde_json::Map<String, Value>) -> usize {
    let mut replaced = 0;
    for member in AWS_STRING_MEMBERS {
        match aws.get_mut(member) {
            Some(Value::Null) => {
                aws.remove(member);
            }
            Some(value) if !value.is_string() => {
                *value = Value::String(value.to_string());
                replaced += 1;
            }
            _ => {}
        }
    }
    replaced
}

/// One recorded exception.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Exception {
    pub(crate) id: u64,
    pub(crate) kind: String,
    pub(crate) message: String,
}

/// The `cause` of a faulted subsegment.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cause {
    /// The exceptions recorded on this subsegment.
    Exceptions(Vec<Exception>),
    /// The id of an exception recorded on a descendant.
    Reference(u64),
}

/// A subsegment, open or closed.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) id: u64,
    /// The parent's id as it is written: the handler's parent, the `Parent` of the trace
    /// header, is copied from it as it is (made lowercase).
    pub(crate) parent_id: Hex,
    pub(crate) name: Cow<'static, str>,
    /// When it started by the wall clock: nanoseconds since the Unix epoch (as the
    /// invocation's facts keep its beginning), so that its times are written in integer
    /// arithmetic.
    pub(crate) start_epoch_nanos: u64,
    /// When it started by the monotonic clock, which its duration is measured by.
    pub(crate) start: MonotonicNanos,
    /// How long it lasted by the monotonic clock, once closed: kept rather than its end, so
    /// that writing it does not subtract the two readings again.
    pub(crate) duration: Option<Duration>,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) annotations: Vec<(Cow<'static, str>, AnnotationValue)>,
    /// (namespace, key, value), in insertion order.
    pub(crate) metadata: Vec<(MetadataName, MetadataName, MetadataValue)>,
    /// lambda-perf's own facts as one JSON object, written straight from their `Serialize`
    /// (empty: none): the first members of the `lambda_perf` metadata namespace.
    pub(crate) facts: Vec<u8>,
    pub(crate) http: Option<Http>,
    pub(crate) aws: Option<Value>,
    pub(crate) fault: bool,
    pub(crate) error: bool,
    pub(crate) throttle: bool,
    pub(crate) cause: Option<Cause>,
}

impl Record {
    /// A record opened now (tests; the trace opens its records at moments it chooses).
    #[cfg(test)]
    pub(crate) fn open(id: u64, parent_id: u64, name: Cow<'static, str>) -> Self {
        let wall = crate::formats::time::epoch_nanos(SystemTime::now());
        Self::open_at(id, Hex::new(parent_id), name, (wall, MonotonicNanos::now()))
    }

    /// A record opened at `start` (by the wall clock, in nanoseconds since the Unix epoch, and
    /// by the monotonic one).
    pub(crate) fn open_at(
        id: u64,
        parent_id: Hex,
        name: Cow<'static, str>,
        (start_epoch_nanos, start): (u64, MonotonicNanos),
    ) -> Self {
        Self {
            id,
            parent_id,
            name,
            start_epoch_nanos,
            start,
            duration: None,
            namespace: None,
            annotations: Vec::new(),
            metadata: Vec::new(),
            facts: Vec::new(),
            http: None,
            aws: None,
            fault: false,
            error: false,
            throttle: false,
            cause: None,
        }
    }

    /// Makes this record a newly opened one under the same name and with the same annotations
    /// (which its owner empties, or keeps: a trace keeps the start annotations of its handler
    /// from one invocation to the next; a caller reusing a record otherwise must clear them), started at `start` (as [`Record::open_at`] takes it),
    /// keeping the memory it allocated (its lists, its facts buffer).
    pub(crate) fn reopen(&mut self, id: u64, parent_id: Hex, start: (u64, MonotonicNanos)) {
        self.id = id;
        self.parent_id = parent_id;
        (self.start_epoch_nanos, self.start) = start;
        self.duration = None;
        self.namespace = None;
        self.metadata.clear();
        self.facts.clear();
        self.http = None;
        self.aws = None;
        self.fault = false;
        self.error = false;
        self.throttle = false;
        self.cause = None;
    }

    /// Sets lambda-perf's own facts (replacing any set before), from a value that writes a
    /// JSON object; anything else, or an empty object, leaves none.
    pub(crate) fn set_facts(&mut self, facts: &impl WriteJson) {
        self.facts.clear();
        facts.write_json(&mut self.facts);
        if self.facts.first() != Some(&b'{') || self.facts == b"{}" {
            self.facts.clear();
        }
    }

    /// The metadata entries of the facts' namespace: each replaces the fact of its key, in
    /// the document and in what other outputs make of the record.
    pub(crate) fn facts_entries(
        &self,
    ) -> impl Iterator<Item = &(MetadataName, MetadataName, MetadataValue)> + Clone {
        self.metadata
            .iter()
            .filter(|(namespace, _, _)| namespace == FACTS_NAMESPACE)
    }

    /// The facts as `(key, value)` pairs (allocating: for the rare paths, not the datagram's).
    pub(crate) fn facts_map(&self) -> serde_json::Map<String, Value> {
        if self.facts.is_empty() {
            return serde_json::Map::new();
        }
        match crate::formats::read_back::read_back(&self.facts) {
            Some(Value::Object(facts)) => facts,
            _ => serde_json::Map::new(),
        }
    }

    /// Sets the HTTP call, with the flags its response status implies, if it has one
    /// ([`flag_http_status`](Self::flag_http_status)).
    pub(crate) fn set_http(&mut self, http: Option<Http>) {
        if let Some(status) = http.as_ref().and_then(Http::status_code) {
            self.flag_http_status(status);
        }
        self.http = http;
    }

    /// Marks the record as an HTTP response status marks a call, as the X-Ray SDKs do: 4xx
    /// sets `error`, 429 also `throttle`, 5xx `fault`. A flag set before stays set.
    pub(crate) fn flag_http_status(&mut self, status: u16) {
        match status {
            429 => {
                self.throttle = true;
                self.error = true;
            }
            400..=499 => self.error = true,
            500..=599 => self.fault = true,
            _ => {}
        }
    }

    /// Adds an annotation or replaces its value; returns whether it is new. Always inlined:
    /// the annotation is moved once, into its place.
    #[inline(always)]
    pub(crate) fn annotate(&mut self, key: Cow<'static, str>, value: AnnotationValue) -> bool {
        match self.annotations.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => {
                existing.1 = value;
                false
            }
            None => {
                self.annotations.push((key, value));
                true
            }
        }
    }

    /// Adds a metadata entry or replaces its value.
    pub(crate) fn add_metadata(
        &mut self,
        namespace: MetadataName,
        key: MetadataName,
        value: impl Into<MetadataValue>,
    ) {
        let value = value.into();
        match self
            .metadata
            .iter_mut()
            .find(|(ns, k, _)| *ns == namespace && *k == key)
        {
            Some(existing) => existing.2 = value,
            None => self.metadata.push((namespace, key, value)),
        }
    }

    /// Marks the subsegment faulted by a new exception. With [`MAX_EXCEPTIONS`] already, the
    /// new one takes the place of the latest before it (the first ones and the latest are
    /// kept): returns whether one was so replaced.
    pub(crate) fn record_exception(&mut self, exception: Exception) -> bool {
        self.fault = true;
        match &mut self.cause {
            Some(Cause::Exceptions(exceptions)) => {
                first_and_latest::push(exceptions, exception, MAX_EXCEPTIONS).is_some()
            }
            _ => {
                self.cause = Some(Cause::Exceptions(vec![exception]));
                false
            }
        }
    }

    /// Marks the subsegment faulted by an exception recorded on a descendant.
    pub(crate) fn reference_exception(&mut self, exception_id: u64) {
        self.fault = true;
        if self.cause.is_none() {
            self.cause = Some(Cause::Reference(exception_id));
        }
    }

    pub(crate) fn close(&mut self) {
        self.close_at(MonotonicNanos::now());
    }

    /// Closes the record as of `at` (or its start, if later), unless it is closed already.
    pub(crate) fn close_at(&mut self, at: MonotonicNanos) {
        self.duration
            .get_or_insert_with(|| Duration::from_nanos(at.nanos_since(self.start)));
    }

    /// Closes the record `duration` after its start, unless it is closed already: for a
    /// caller that knows it already (the handler's, the invocation's duration).
    pub(crate) fn close_after(&mut self, duration: Duration) {
        self.duration.get_or_insert(duration);
    }

    /// How long it lasted; while it is open, how long it has been open.
    pub(crate) fn duration(&self) -> Duration {
        self.duration.unwrap_or_else(|| self.start.elapsed())
    }

    /// Its `start_time` and `end_time` (now, while it is open) in microseconds since the Unix
    /// epoch: its end is its start's wall-clock time plus its duration by the monotonic clock.
    pub(crate) fn epoch_micros(&self) -> (u64, u64) {
        let duration = nanos(self.duration());
        (
            self.start_epoch_nanos / 1_000,
            self.start_epoch_nanos.saturating_add(duration) / 1_000,
        )
    }
}

/// How much of a record a document shows: less when the full one does not fit a datagram.
/// Each level leaves out what the one before it does, and more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Detail {
    Full,
    /// The user's metadata left out; lambda-perf's facts kept.
    WithoutMetadata,
    /// Long strings cut (names, annotation values, exception types and messages).
    Shortened,
    /// Only [`FEWER_EXCEPTIONS`] exceptions kept, the first ones and the latest, as the record
    /// keeps its own ([`Record::record_exception`]): the annotations, which traces are
    /// filtered on, `http` and the facts still go out.
    FewerExceptions,
    /// `aws`, the user's object without a bound, left out.
    WithoutAws,
    /// The members of fixed size, and the cut exceptions: no annotations, `http` or facts
    /// (the annotations alone can exceed a datagram: 50 keys of up to 500 characters, with
    /// values that escape to six bytes a character).
    Skeleton,
}

/// A closed subsegment as a sink receives it; or, from the timeout watchdog, a copy of one
/// still open ([`in_progress`](Self::in_progress)).
#[derive(Clone, Copy, Debug)]
pub struct SubsegmentDocument<'a> {
    pub(crate) trace_id: &'a TraceId,
    pub(crate) record: &'a Record,
    /// The record's name already written as a JSON string, when its trace keeps it so (the
    /// handler's, the same in every invocation).
    pub(crate) quoted_name: Option<&'a [u8]>,
    /// The record's `annotations` member already written, when its trace keeps it so.
    pub(crate) annotations_json: Option<&'a [u8]>,
    /// Written as in progress (`"in_progress":true`, no `end_time`), whatever the record's
    /// duration.
    pub(crate) in_progress: bool,
}

impl<'a> SubsegmentDocument<'a> {
    /// The trace id (`Root` of the trace header).
    #[must_use]
    pub fn trace_id(&self) -> &'a str {
        self.trace_id.as_str()
    }

    /// The subsegment's name.
    #[must_use]
    pub fn name(&self) -> &'a str {
        &self.record.name
    }

    /// The subsegment's id (16 hex digits once formatted).
    #[must_use]
    pub fn id(&self) -> u64 {
        self.record.id
    }

    /// The parent's id: Lambda's function segment or the enclosing subsegment.
    #[must_use]
    pub fn parent_id(&self) -> u64 {
        self.record.parent_id.value()
    }

    /// Whether the subsegment recorded a fault.
    #[must_use]
    pub fn fault(&self) -> bool {
        self.record.fault
    }

    /// Whether this is an in-progress copy of a subsegment that has not ended: what the
    /// timeout watchdog sends of the handler's subsegment and of the nested ones still open,
    /// shortly before the deadline (with the timeout as their fault and cause, should Lambda
    /// end the process there). It has `"in_progress": true` and no `end_time`; the complete
    /// document of the same id, sent if the handler still ends in time, replaces it.
    #[must_use]
    pub fn in_progress(&self) -> bool {
        self.in_progress
    }

    /// This document, written as in progress.
    pub(crate) fn as_in_progress(self) -> Self {
        Self {
            in_progress: true,
            ..self
        }
    }
}

/// Epoch seconds with microsecond precision, from epoch microseconds.
fn epoch_seconds(micros: u64) -> f64 {
    (micros as f64) / 1_000_000.0
}

fn id_hex(id: u64) -> super::id::Hex {
    super::id::Hex::new(id)
}

/// A document rendered at some level of detail.
pub(super) struct View<'a> {
    pub(super) document: SubsegmentDocument<'a>,
    pub(super) detail: Detail,
}

impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.write(serializer, false)
    }
}

/// A document rendered as its [`View`] is, but with the brief trim note
/// ([`BRIEF_TRIM_NOTE`]): for a level of detail at which the detailed note alone would make
/// the document too large for a datagram, so that the note does not cost the level.
pub(super) struct BriefView<'a>(pub(super) View<'a>);

impl Serialize for BriefView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer, true)
    }
}

/// The trim note of a document for which the detailed one ([`trim_note`]) does not fit: the
/// key, `trimmed`, says it was trimmed; this, why.
const BRIEF_TRIM_NOTE: &str = "the document exceeded 64000 bytes";

impl View<'_> {
    /// Serializes the document, its trim note `brief` or detailed.
    fn write<S: Serializer>(&self, serializer: S, brief: bool) -> Result<S::Ok, S::Error> {
        let record = self.document.record;
        let detail = self.detail;
        let (start_time, end_time) = record.epoch_micros();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", shorten_name(&record.name, detail))?;
        map.serialize_entry("id", &id_hex(record.id))?;
        map.serialize_entry("trace_id", self.document.trace_id.as_str())?;
        map.serialize_entry("parent_id", &record.parent_id)?;
        map.serialize_entry("type", "subsegment")?;
        map.serialize_entry("start_time", &epoch_seconds(start_time))?;
        if self.document.in_progress {
            map.serialize_entry("in_progress", &true)?;
        } else {
            map.serialize_entry("end_time", &epoch_seconds(end_time))?;
        }
        if let Some(namespace) = record.namespace {
            map.serialize_entry("namespace", namespace.as_str())?;
        }
        for (key, flag) in [
            ("fault", record.fault),
            ("error", record.error),
            ("throttle", record.throttle),
        ] {
            if flag {
                map.serialize_entry(key, &true)?;
            }
        }
        match &record.cause {
            Some(Cause::Exceptions(exceptions)) => {
                map.serialize_entry("cause", &CauseView { exceptions, detail })?;
            }
            Some(Cause::Reference(id)) => map.serialize_entry("cause", &id_hex(*id))?,
            None => {}
        }
        if detail < Detail::Skeleton {
            if let Some(http) = &record.http {
                map.serialize_entry("http", http)?;
            }
        }
        // The user's `aws` object has no bound: it goes before the annotations do.
        if detail < Detail::WithoutAws {
            if let Some(aws) = &record.aws {
                map.serialize_entry("aws", aws)?;
            }
        }
        if !record.annotations.is_empty() && detail < Detail::Skeleton {
            map.serialize_entry("annotations", &Annotations { record, detail })?;
        }
        if detail > Detail::Full {
            // Whatever the record held, the note says what was left out.
            let facts = detail < Detail::Skeleton;
            map.serialize_entry(
                "metadata",
                &TrimmedMetadata {
                    record,
                    facts,
                    note: if brief {
                        BRIEF_TRIM_NOTE.to_owned()
                    } else {
                        trim_note(record, detail)
                    },
                },
            )?;
        } else if !record.metadata.is_empty() || !record.facts.is_empty() {
            map.serialize_entry("metadata", &Metadata(record))?;
        }
        map.end()
    }
}

/// What replaces metadata that did not fit: lambda-perf's own facts (unless `facts` is
/// false), and a note of what the document left out ([`trim_note`]).
struct TrimmedMetadata<'a> {
    record: &'a Record,
    facts: bool,
    note: String,
}

impl Serialize for TrimmedMetadata<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut outer = serializer.serialize_map(Some(1))?;
        outer.serialize_entry(FACTS_NAMESPACE, &TrimmedFacts(self))?;
        outer.end()
    }
}

struct TrimmedFacts<'a, 'b>(&'a TrimmedMetadata<'b>);

/// The key of the note a trimmed document's facts namespace carries.
const TRIMMED_KEY: &str = "trimmed";

impl Serialize for TrimmedFacts<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if self.0.facts {
            // Each key once, as at full detail; the note replaces a fact or entry of its key.
            facts_and_entries(self.0.record, &mut map, Some(TRIMMED_KEY))?;
        }
        map.serialize_entry(TRIMMED_KEY, &self.0.note)?;
        map.end()
    }
}

/// The note of a document of `record` written at `detail`, below full: what it left out or
/// cut of what the record holds, level by level — `metadata removed` (the user's; the facts
/// stay), `strings over 256 bytes shortened`, `390 of 400 exceptions removed (…)`, `aws
/// removed`, `annotations, http and lambda_perf facts removed` — and why.
fn trim_note(record: &Record, detail: Detail) -> String {
    let mut note = String::new();
    let users_metadata = || {
        record
            .metadata
            .iter()
            .any(|(namespace, _, _)| namespace != FACTS_NAMESPACE)
    };
    if detail >= Detail::WithoutMetadata && users_metadata() {
        note_removal(&mut note, format_args!("metadata removed"));
    }
    if detail >= Detail::Shortened && has_long_strings(record, detail) {
        note_removal(
            &mut note,
            format_args!("strings over {SHORTENED_STRING} bytes shortened"),
        );
    }
    if let Some(Cause::Exceptions(exceptions)) = &record.cause {
        let kept = kept_exceptions(exceptions, detail).count();
        let recorded = exceptions.len();
        if kept < recorded {
            note_removal(
                &mut note,
                format_args!(
                    "{cut} of {recorded} exceptions removed (the first {first} and the latest \
                     kept)",
                    cut = recorded - kept,
                    first = kept - 1,
                ),
            );
        }
    }
    if detail >= Detail::WithoutAws && record.aws.is_some() {
        note_removal(&mut note, format_args!("aws removed"));
    }
    if detail >= Detail::Skeleton {
        let facts = !record.facts.is_empty() || record.facts_entries().next().is_some();
        let members = [
            (!record.annotations.is_empty(), "annotations"),
            (record.http.is_some(), "http"),
            (facts, "lambda_perf facts"),
        ];
        let present = members.iter().filter(|(present, _)| *present).count();
        if present > 0 {
            // `a removed`, `a and b removed`, `a, b and c removed`.
            let mut listed = String::new();
            let named = members.iter().filter(|(present, _)| *present);
            for (index, (_, member)) in named.enumerate() {
                if index > 0 {
                    listed.push_str(if index + 1 == present { " and " } else { ", " });
                }
                listed.push_str(member);
            }
            note_removal(&mut note, format_args!("{listed} removed"));
        }
    }
    if note.is_empty() {
        note.push_str("nothing removed");
    }
    let _ = write!(note, ": the document exceeded {MAX_DATAGRAM} bytes");
    note
}

/// One more removal in a trim note, after a `; ` when it is not the first.
fn note_removal(note: &mut String, removal: std::fmt::Arguments<'_>) {
    if !note.is_empty() {
        note.push_str("; ");
    }
    let _ = note.write_fmt(removal);
}

/// Whether a document of `record` at `detail` cuts a string it shows ([`shorten`],
/// [`shorten_name`]): its name, an annotation's value, a kept exception's type or message.
fn has_long_strings(record: &Record, detail: Detail) -> bool {
    let long = |text: &str| text.len() > SHORTENED_STRING;
    let annotations = detail < Detail::Skeleton
        && record.annotations.iter().any(|(_, value)| match value {
            AnnotationValue::String(text) => long(text),
            _ => false,
        });
    let exceptions = match &record.cause {
        Some(Cause::Exceptions(exceptions)) => kept_exceptions(exceptions, detail)
            .any(|exception| long(&exception.kind) || long(&exception.message)),
        _ => false,
    };
    long(&record.name) || annotations || exceptions
}

fn shorten(text: &str, detail: Detail) -> Cow<'_, str> {
    if detail >= Detail::Shortened && text.len() > SHORTENED_STRING {
        Cow::Owned(format!("{}…[truncated]", preview(text, SHORTENED_STRING)))
    } else {
        Cow::Borrowed(text)
    }
}

/// A name cut as [`shorten`] cuts other strings, but without the marker: `…`, `[` and `]`
/// are characters X-Ray refuses in a name.
fn shorten_name(name: &str, detail: Detail) -> &str {
    if detail >= Detail::Shortened {
        preview(name, SHORTENED_STRING)
    } else {
        name
    }
}

struct Annotations<'a> {
    record: &'a Record,
    detail: Detail,
}

impl Serialize for Annotations<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.record.annotations.len()))?;
        for (key, value) in &self.record.annotations {
            match value {
                AnnotationValue::String(text) => {
                    map.serialize_entry(key, &shorten(text, self.detail))?;
                }
                other => map.serialize_entry(key, other)?,
            }
        }
        map.end()
    }
}

pub(super) struct Metadata<'a>(pub(super) &'a Record);

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let record = self.0;
        let entries = &record.metadata;
        let mut map = serializer.serialize_map(None)?;
        // The facts as they were written, unless other entries share their namespace.
        let facts = (!record.facts.is_empty())
            .then(|| serde_json::from_slice::<&RawValue>(&record.facts).ok())
            .flatten();
        let shared = || entries.iter().any(|(ns, _, _)| ns == FACTS_NAMESPACE);
        match facts {
            Some(facts) if !shared() => map.serialize_entry(FACTS_NAMESPACE, facts)?,
            Some(_) => map.serialize_entry(FACTS_NAMESPACE, &FactsAndEntries(record))?,
            None => {}
        }
        for (index, (namespace, _, _)) in entries.iter().enumerate() {
            if entries[..index].iter().any(|(ns, _, _)| ns == namespace)
                || (facts.is_some() && namespace == FACTS_NAMESPACE)
            {
                continue;
            }
            map.serialize_entry(namespace, &Namespaced { entries, namespace })?;
        }
        map.end()
    }
}

/// The facts and the other entries of their namespace, in one object.
struct FactsAndEntries<'a>(&'a Record);

impl Serialize for FactsAndEntries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        facts_and_entries(self.0, &mut map, None)?;
        map.end()
    }
}

/// Serializes `record`'s facts and the other entries of their namespace into `map`, each key
/// once: an entry of a fact's key replaces the fact, as it would have in the list. A key
/// `reserved` for what the caller writes after them is left out of both.
fn facts_and_entries<M: SerializeMap>(
    record: &Record,
    map: &mut M,
    reserved: Option<&str>,
) -> Result<(), M::Error> {
    let kept = |key: &str| reserved != Some(key);
    let entries = record.facts_entries().filter(|(_, key, _)| kept(key));
    for (key, value) in &record.facts_map() {
        if kept(key) && !entries.clone().any(|(_, k, _)| k == key.as_str()) {
            map.serialize_entry(key, value)?;
        }
    }
    for (_, key, value) in entries {
        map.serialize_entry(key, value)?;
    }
    Ok(())
}

struct Namespaced<'a> {
    entries: &'a [(MetadataName, MetadataName, MetadataValue)],
    namespace: &'a str,
}

impl Serialize for Namespaced<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (_, key, value) in self
            .entries
            .iter()
            .filter(|(ns, _, _)| ns == self.namespace)
        {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The exceptions a document at `detail` shows: all of them, or, from
/// [`Detail::FewerExceptions`], [`FEWER_EXCEPTIONS`] of them, which the record's own policy
/// chooses ([`Record::record_exception`]): the first ones and the latest. The latest is the
/// one a parent's cause refers to when the failure goes up, and the timeout that the
/// watchdog's in-progress copy adds.
fn kept_exceptions(exceptions: &[Exception], detail: Detail) -> impl Iterator<Item = &Exception> {
    let (first, latest) = match exceptions.split_last() {
        Some((latest, earlier))
            if detail >= Detail::FewerExceptions && exceptions.len() > FEWER_EXCEPTIONS =>
        {
            (
                &earlier[..FEWER_EXCEPTIONS - 1],
                std::slice::from_ref(latest),
            )
        }
        _ => (exceptions, &[][..]),
    };
    first.iter().chain(latest)
}

pub(super) struct CauseView<'a> {
    pub(super) exceptions: &'a [Exception],
    pub(super) detail: Detail,
}

impl Serialize for CauseView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        if let Ok(directory) = std::env::current_dir() {
            map.serialize_entry("working_directory", &directory.to_string_lossy())?;
        }
        let exceptions: Vec<_> = kept_exceptions(self.exceptions, self.detail)
            .map(|exception| {
                let mut document = serde_json::json!({
                    "id": id_hex(exception.id).as_str(),
                    "type": shorten(&exception.kind, self.detail),
                    "remote": false,
                });
                // Without error capture an exception has its type only.
                if !exception.message.is_empty() {
                    document["message"] = shorten(&exception.message, self.detail).into();
                }
                document
            })
            .collect();
        map.serialize_entry("exceptions", &exceptions)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn trace_id() -> TraceId {
        TraceId::parse(TRACE).unwrap()
    }

    fn record() -> Record {
        let mut record = Record::open(
            0x7065_460c_dd3d_e6bb,
            0x5399_5c3f_42cd_8ad8,
            "handler_work".into(),
        );
        record.start_epoch_nanos = 1_795_410_965_220_676_000;
        record.duration = Some(Duration::from_micros(852));
        record
    }

    fn render(record: &Record) -> String {
        SubsegmentDocument {
            trace_id: &trace_id(),
            record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        }
        .to_json()
    }

    #[test]
    fn golden_minimal_subsegment() {
        assert_eq!(
            render(&record()),
            r#"{"name":"handler_work","id":"7065460cdd3de6bb","trace_id":"1-5759e988-bd862e3fe1be46a994272793","parent_id":"53995c3f42cd8ad8","type":"subsegment","start_time":1795410965.220676,"end_time":1795410965.221528}"#
        );
    }

    #[test]
    fn golden_annotations_metadata_and_fault() {
        let mut record = record();
        record.annotate("customer_tier".into(), "gold".into());
        record.annotate("order_count".into(), 3.into());
        record.annotate("ratio".into(), 0.75.into());
        record.annotate("is_retry".into(), false.into());
        record.add_metadata(
            "demo_ns".into(),
            "payload".into(),
            serde_json::json!({"items": [1, 2], "note": "hi"}),
        );
        record.add_metadata("default".into(), "plain".into(), Value::from("value"));
        record.add_metadata("demo_ns".into(), "more".into(), Value::from(1));
        record.reference_exception(0xbb00_27ca_b7e8_5329);
        assert_eq!(
            render(&record),
            concat!(
                r#"{"name":"handler_work","id":"7065460cdd3de6bb","trace_id":"1-5759e988-bd862e3fe1be46a994272793","#,
                r#""parent_id":"53995c3f42cd8ad8","type":"subsegment","start_time":1795410965.220676,"#,
                r#""end_time":1795410965.221528,"fault":true,"cause":"bb0027cab7e85329","#,
                r#""annotations":{"customer_tier":"gold","order_count":3,"ratio":0.75,"is_retry":false},"#,
                r#""metadata":{"demo_ns":{"payload":{"items":[1,2],"note":"hi"},"more":1},"default":{"plain":"value"}}}"#
            )
        );
    }

    /// The timeout watchdog's copy of a subsegment still running: `in_progress` where the end
    /// would be, so that the complete document of its id replaces it; what it says of the
    /// timeout stays.
    #[test]
    fn golden_in_progress_copy() {
        let mut record = record();
        record.record_exception(Exception {
            id: 0xbb00_27ca_b7e8_5329,
            kind: "timeout".into(),
            message: "still running".into(),
        });
        let trace_id = trace_id();
        let document = SubsegmentDocument {
            trace_id: &trace_id,
            record: &record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        }
        .as_in_progress();
        assert!(document.in_progress());
        let view = View {
            document,
            detail: Detail::Full,
        };
        let by_hand = document.to_json();
        assert!(
            by_hand.starts_with(concat!(
                r#"{"name":"handler_work","id":"7065460cdd3de6bb","trace_id":"1-5759e988-bd862e3fe1be46a994272793","#,
                r#""parent_id":"53995c3f42cd8ad8","type":"subsegment","start_time":1795410965.220676,"#,
                r#""in_progress":true,"fault":true,"cause":{"#,
            )),
            "{by_hand}"
        );
        let json: Value = serde_json::from_str(&by_hand).unwrap();
        assert!(json.get("end_time").is_none());
        assert_eq!(json["cause"]["exceptions"][0]["type"], "timeout");
        assert_eq!(
            by_hand,
            serde_json::to_string(&view).unwrap(),
            "by hand as by serde"
        );
        // Shrunk to fit a datagram, it stays in progress.
        let shrunk = serde_json::to_value(View {
            document,
            detail: Detail::Skeleton,
        })
        .unwrap();
        assert_eq!(shrunk["in_progress"], true);
        assert!(shrunk.get("end_time").is_none());
    }

    #[test]
    fn golden_exception_http_and_namespace() {
        let mut record = record();
        record.namespace = Some(Namespace::Remote);
        record.http = Some(Http::request("GET", "https://example.com/users/1").status(503));
        record.record_exception(Exception {
            id: 0xbb00_27ca_b7e8_5329,
            kind: "ValueError".into(),
            message: "boom".into(),
        });
        let json: Value = serde_json::from_str(&render(&record)).unwrap();
        assert_eq!(json["namespace"], "remote");
        assert_eq!(
            json["http"],
            serde_json::json!({"request": {"method": "GET", "url": "https://example.com/users/1"}, "response": {"status": 503}})
        );
        assert_eq!(json["fault"], true);
        assert_eq!(
            json["cause"]["exceptions"],
            serde_json::json!([{"id": "bb0027cab7e85329", "type": "ValueError", "message": "boom", "remote": false}])
        );
        assert!(json["cause"]["working_directory"].is_string());
    }

    #[test]
    fn oversized_documents_shrink_the_users_metadata_first_and_stay_valid() {
        let mut record = record();
        record.annotate("key".into(), "v".repeat(1000).into());
        record.add_metadata("big".into(), "blob".into(), Value::from("x".repeat(70_000)));
        record.add_metadata(FACTS_NAMESPACE.into(), "invocation".into(), Value::from(7));
        let document = SubsegmentDocument {
            trace_id: &trace_id(),
            record: &record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        };
        let mut out = Vec::new();
        assert_eq!(document.write_datagram(&mut out), Detail::WithoutMetadata);
        assert!(out.len() <= MAX_DATAGRAM);
        let body: Value = serde_json::from_slice(&out[DAEMON_HEADER.len()..]).unwrap();
        assert_eq!(body["annotations"]["key"].as_str().unwrap().len(), 1000);
        assert!(body["metadata"]["lambda_perf"]["trimmed"].is_string());
        assert_eq!(
            body["metadata"]["lambda_perf"]["invocation"], 7,
            "our facts stay"
        );
        assert!(body["metadata"].get("big").is_none());

        // Exceptions with huge messages are shortened next.
        let record = with_long_exceptions("n".into());
        let document = SubsegmentDocument {
            trace_id: &trace_id(),
            record: &record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        };
        out.clear();
        assert_eq!(document.write_datagram(&mut out), Detail::Shortened);
        assert!(out.len() <= MAX_DATAGRAM);
        assert!(out.starts_with(DAEMON_HEADER));
        let body: Value = serde_json::from_slice(&out[DAEMON_HEADER.len()..]).unwrap();
        assert_eq!(body["cause"]["exceptions"].as_array().unwrap().len(), 100);
    }

    /// The datagram of `record` and the level of detail it was written at.
    fn datagram(record: &Record) -> (Detail, Value) {
        let document = SubsegmentDocument {
            trace_id: &trace_id(),
            record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        };
        let mut out = Vec::new();
        let detail = document.write_datagram(&mut out);
        assert!(out.len() <= MAX_DATAGRAM, "{} bytes", out.len());
        (
            detail,
            serde_json::from_slice(&out[DAEMON_HEADER.len()..]).unwrap(),
        )
    }

    /// A record with annotations, `http`, facts, and 400 exceptions of short messages: more
    /// than a datagram holds, shortened or not.
    fn with_many_exceptions() -> Record {
        let mut record = record();
        record.annotate("customer_tier".into(), "gold".into());
        record.http = Some(Http::request("GET", "https://example.com/").status(200));
        record.set_facts(&serde_json::json!({"invocation": 2}));
        for id in 0..400 {
            record.record_exception(Exception {
                id,
                kind: "Error".into(),
                message: format!("item {id} failed: {}", "x".repeat(200)),
            });
        }
        record
    }

    /// Too many exceptions for a datagram cost all but the first nine and the latest, not the
    /// annotations traces are filtered on, nor `http` or lambda-perf's facts.
    #[test]
    fn many_exceptions_are_cut_before_the_annotations() {
        let (detail, body) = datagram(&with_many_exceptions());
        assert_eq!(detail, Detail::FewerExceptions);
        assert_eq!(body["cause"]["exceptions"].as_array().unwrap().len(), 10);
        assert_eq!(body["cause"]["exceptions"][8]["id"], "0000000000000008");
        assert_eq!(body["cause"]["exceptions"][9]["id"], "000000000000018f");
        assert_eq!(body["annotations"]["customer_tier"], "gold", "{body}");
        assert_eq!(body["http"]["response"]["status"], 200);
        assert_eq!(body["metadata"]["lambda_perf"]["invocation"], 2);
        assert!(body["metadata"]["lambda_perf"]["trimmed"].is_string());
    }

    /// A document that keeps fewer exceptions keeps those the record's own policy keeps: the
    /// first ones and the latest (that a parent's cause refers to, or the watchdog's timeout).
    #[test]
    fn fewer_exceptions_are_the_first_and_the_latest_as_the_record_keeps_them() {
        let mut record = with_many_exceptions();
        for id in 400..2_000 {
            record.record_exception(Exception {
                id,
                kind: "Error".into(),
                message: format!("item {id} failed: {}", "x".repeat(200)),
            });
        }
        let Some(Cause::Exceptions(recorded)) = &record.cause else {
            panic!("exceptions recorded");
        };
        // The first ids up to `count` in all, and the latest.
        let first_and_latest =
            |count: u64, latest: u64| -> Vec<u64> { (0..count - 1).chain([latest]).collect() };
        let recorded: Vec<u64> = recorded.iter().map(|exception| exception.id).collect();
        assert_eq!(recorded, first_and_latest(MAX_EXCEPTIONS as u64, 1_999));
        let (detail, body) = datagram(&record);
        assert_eq!(detail, Detail::FewerExceptions);
        let sent_ids: Vec<u64> = body["cause"]["exceptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|exception| u64::from_str_radix(exception["id"].as_str().unwrap(), 16).unwrap())
            .collect();
        assert_eq!(sent_ids, first_and_latest(FEWER_EXCEPTIONS as u64, 1_999));
        assert_eq!(
            body["metadata"]["lambda_perf"]["trimmed"],
            "990 of 1000 exceptions removed (the first 9 and the latest kept): the document \
             exceeded 64000 bytes"
        );
    }

    /// An `aws` object too large for a datagram is left out before the annotations are.
    #[test]
    fn a_large_aws_object_goes_before_the_annotations() {
        let mut record = with_many_exceptions();
        record.aws = Some(serde_json::json!({"operation": "o".repeat(70_000)}));
        let (detail, body) = datagram(&record);
        assert_eq!(detail, Detail::WithoutAws);
        assert!(body.get("aws").is_none(), "{body}");
        assert_eq!(body["annotations"]["customer_tier"], "gold", "{body}");
        assert_eq!(body["metadata"]["lambda_perf"]["invocation"], 2);
    }

    /// The trim note of a datagram: what it left out, level by level, of what its record held
    /// (a record without metadata gets one too).
    #[test]
    fn the_trim_note_says_what_each_level_removed() {
        let with_big_metadata = {
            let mut record = record();
            record.add_metadata("big".into(), "blob".into(), Value::from("x".repeat(70_000)));
            record
        };
        let with_aws = {
            let mut record = with_many_exceptions();
            record.aws = Some(serde_json::json!({"operation": "o".repeat(70_000)}));
            record
        };
        // Annotations too large for a datagram even shortened: 50 of 256 bytes that escape to
        // six each.
        let with_large_annotations = {
            let mut record = with_aws.clone();
            for index in 0..50 {
                record.annotate(format!("k{index}").into(), "\u{1}".repeat(1_000).into());
            }
            record
        };
        for (record, detail, note) in [
            (
                &with_big_metadata,
                Detail::WithoutMetadata,
                "metadata removed",
            ),
            (
                &with_long_exceptions("n".into()),
                Detail::Shortened,
                "strings over 256 bytes shortened",
            ),
            (
                &with_many_exceptions(),
                Detail::FewerExceptions,
                "390 of 400 exceptions removed (the first 9 and the latest kept)",
            ),
            (
                &with_aws,
                Detail::WithoutAws,
                "390 of 400 exceptions removed (the first 9 and the latest kept); aws removed",
            ),
            (
                &with_large_annotations,
                Detail::Skeleton,
                "390 of 400 exceptions removed (the first 9 and the latest kept); aws removed; annotations, \
                 http and lambda_perf facts removed",
            ),
        ] {
            let (written, body) = datagram(record);
            assert_eq!(written, detail);
            assert_eq!(
                body["metadata"]["lambda_perf"]["trimmed"],
                format!("{note}: the document exceeded 64000 bytes"),
                "{detail:?}"
            );
        }
    }

    /// A document that its detailed trim note alone makes too large for a datagram keeps its
    /// level with the brief note: the annotations, `http` and the facts are not lost to make
    /// room for a note saying what was lost.
    #[test]
    fn a_document_the_detailed_note_would_push_over_keeps_its_level_with_the_brief_note() {
        let trace_id = trace_id();
        // 400 exceptions, a large `aws`, and `count` annotations whose values escape to
        // 1,530 bytes: a document that fits without `aws` and the exceptions past ten, but
        // for the bytes `pad` (each unit of which is one byte of its JSON, up to 1,530) adds.
        let record = |count: usize, pad: usize| {
            let mut record = with_many_exceptions();
            record.aws = Some(serde_json::json!({"operation": "o".repeat(70_000)}));
            for index in 0..count {
                record.annotate(format!("k{index}").into(), "\u{1}".repeat(255).into());
            }
            let padding = format!("{}{}", "\u{1}".repeat(pad / 6), "p".repeat(pad % 6));
            record.annotate("pad".into(), padding.into());
            record
        };
        let size = |record: &Record| {
            let view = View {
                document: SubsegmentDocument {
                    trace_id: &trace_id,
                    record,
                    quoted_name: None,
                    annotations_json: None,
                    in_progress: false,
                },
                detail: Detail::WithoutAws,
            };
            DAEMON_HEADER.len() + serde_json::to_vec(&view).unwrap().len()
        };
        // One byte over with the detailed note. (The size depends on the working directory,
        // which the cause names.)
        let (count, pad) = (30..50)
            .find_map(|count| {
                let pad = (MAX_DATAGRAM + 1).checked_sub(size(&record(count, 0)))?;
                (pad <= 1_530).then_some((count, pad))
            })
            .unwrap();
        let record = record(count, pad);
        assert_eq!(size(&record), MAX_DATAGRAM + 1);
        let (detail, body) = datagram(&record);
        assert_eq!(detail, Detail::WithoutAws);
        assert_eq!(body["annotations"].as_object().unwrap().len(), count + 2);
        assert_eq!(body["http"]["response"]["status"], 200);
        assert_eq!(body["metadata"]["lambda_perf"]["invocation"], 2);
        assert_eq!(
            body["metadata"]["lambda_perf"]["trimmed"],
            "the document exceeded 64000 bytes"
        );
    }

    /// Each level's note names only what the record held: a record with everything, at each
    /// level.
    #[test]
    fn the_trim_note_of_each_level_adds_what_that_level_removes() {
        let mut record = with_many_exceptions();
        record.name = "n".repeat(300).into();
        record.aws = Some(serde_json::json!({"operation": "GetItem"}));
        record.add_metadata("orders".into(), "response".into(), Value::from(7));
        let note = |detail| {
            let view = View {
                document: SubsegmentDocument {
                    trace_id: &trace_id(),
                    record: &record,
                    quoted_name: None,
                    annotations_json: None,
                    in_progress: false,
                },
                detail,
            };
            let body = serde_json::to_value(&view).unwrap();
            body["metadata"]["lambda_perf"]["trimmed"]
                .as_str()
                .unwrap()
                .strip_suffix(": the document exceeded 64000 bytes")
                .unwrap()
                .to_owned()
        };
        let expected = [
            (Detail::WithoutMetadata, "metadata removed"),
            (Detail::Shortened, "; strings over 256 bytes shortened"),
            (
                Detail::FewerExceptions,
                "; 390 of 400 exceptions removed (the first 9 and the latest kept)",
            ),
            (Detail::WithoutAws, "; aws removed"),
            (
                Detail::Skeleton,
                "; annotations, http and lambda_perf facts removed",
            ),
        ];
        let mut so_far = String::new();
        for (detail, added) in expected {
            so_far.push_str(added);
            assert_eq!(note(detail), so_far, "{detail:?}");
        }
    }

    /// A record named `name` with 100 exceptions of 1,000-character messages: one whose
    /// document is shortened to fit a datagram.
    fn with_long_exceptions(name: Cow<'static, str>) -> Record {
        let mut record = Record::open(1, 2, name);
        for id in 0..100 {
            record.record_exception(Exception {
                id,
                kind: "E".into(),
                message: "m".repeat(1_000),
            });
        }
        record
    }

    /// A name X-Ray accepts (200 characters at most) can be longer than the bytes a shortened
    /// document keeps of a string; shortened, it must stay a name X-Ray accepts: no `…[truncated]`.
    #[test]
    fn a_shortened_document_keeps_a_name_x_ray_accepts() {
        let name = "é".repeat(150);
        assert!(super::super::name::sanitize(name.clone().into()).is_ok());
        let record = with_long_exceptions(name.into());
        let document = SubsegmentDocument {
            trace_id: &trace_id(),
            record: &record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        };
        let mut out = Vec::new();
        assert_eq!(document.write_datagram(&mut out), Detail::Shortened);
        let body: Value = serde_json::from_slice(&out[DAEMON_HEADER.len()..]).unwrap();
        let sent = body["name"].as_str().unwrap().to_owned();
        assert_eq!(
            super::super::name::sanitize(sent.clone().into()),
            Ok(sent.into()),
            "the name sent is one X-Ray refuses"
        );
    }

    /// The schema bounds `http.request.url` and `method` at 250 characters ("values must be
    /// strings (up to 250 characters) unless noted otherwise"); a longer URL is sent as it is.
    #[test]
    fn an_http_url_stays_within_the_schemas_250_characters() {
        let mut record = record();
        record.http = Some(Http::request(
            "GET",
            format!("https://example.com/search?q={}", "a".repeat(300)),
        ));
        let json: Value = serde_json::from_str(&render(&record)).unwrap();
        let url = json["http"]["request"]["url"].as_str().unwrap_or_default();
        assert!(
            url.chars().count() <= 250,
            "{} characters",
            url.chars().count()
        );
    }

    /// Trimmed, the `lambda_perf` namespace holds each key once, as it does in full: an entry
    /// of the same key as a fact replaces the fact, and the note says the rest was removed.
    #[test]
    fn a_trimmed_document_repeats_no_key_of_its_facts_namespace() {
        let mut record = record();
        record.set_facts(&serde_json::json!({"outcome": "success", "invocation": 2}));
        record.add_metadata(
            FACTS_NAMESPACE.into(),
            "outcome".into(),
            Value::from("mine"),
        );
        record.add_metadata(
            FACTS_NAMESPACE.into(),
            "trimmed".into(),
            Value::from("mine"),
        );
        record.add_metadata("big".into(), "blob".into(), Value::from("x".repeat(70_000)));
        let document = SubsegmentDocument {
            trace_id: &trace_id(),
            record: &record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        };
        let mut out = Vec::new();
        assert_eq!(document.write_datagram(&mut out), Detail::WithoutMetadata);
        let body = std::str::from_utf8(&out[DAEMON_HEADER.len()..]).unwrap();
        for key in ["\"outcome\":", "\"trimmed\":", "\"invocation\":"] {
            assert_eq!(body.matches(key).count(), 1, "{key} in {body}");
        }
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["metadata"]["lambda_perf"]["outcome"], "mine");
        assert_eq!(body["metadata"]["lambda_perf"]["invocation"], 2);
    }

    /// Facts of varied shapes: strings needing escapes, floats, integers, booleans, absent
    /// and nested members.
    fn varied_facts() -> Vec<Value> {
        vec![
            serde_json::json!({}),
            serde_json::json!({"start_kind": "warm", "invocation": 2, "request_id": "8476a536-e9f4", "idle_gap_ms": 1.5, "environment_age_ms": 2000.0, "duration_ms": 0.001, "outcome": "success"}),
            serde_json::json!({"request_id": "quote \" back\\slash \n é ✓", "past_deadline": true, "dropped": {"xray.send_failed": 3}}),
            serde_json::json!({"cpu_ratio": 1e-7, "peak_rss_mb": 123_456.789, "invocation": u64::MAX}),
        ]
    }

    /// A record with `facts` as the old code held them: one metadata entry per member.
    fn with_fact_entries(mut record: Record, facts: &Value) -> Record {
        for (key, value) in facts.as_object().unwrap() {
            record.add_metadata(FACTS_NAMESPACE.into(), key.clone().into(), value.clone());
        }
        record
    }

    #[test]
    fn facts_written_directly_render_as_the_entries_they_replace() {
        for facts in varied_facts() {
            for user in [false, true] {
                for shared in [false, true] {
                    let mut base = record();
                    if user {
                        base.add_metadata("orders".into(), "response".into(), Value::from(7));
                    }
                    if shared {
                        base.add_metadata(
                            FACTS_NAMESPACE.into(),
                            "cache".into(),
                            serde_json::json!({"users": {"hits": 1, "misses": 0}}),
                        );
                    }
                    let old = with_fact_entries(base.clone(), &facts);
                    let mut new = base;
                    new.set_facts(&facts);
                    let parse = |record: &Record| -> Value {
                        serde_json::from_str(&render(record)).unwrap()
                    };
                    assert_eq!(
                        parse(&new),
                        parse(&old),
                        "facts {facts}, user {user}, shared {shared}"
                    );
                    // Trimmed, the facts stay the same way.
                    let trimmed = |record: &Record| {
                        let view = View {
                            document: SubsegmentDocument {
                                trace_id: &trace_id(),
                                record,
                                quoted_name: None,
                                annotations_json: None,
                                in_progress: false,
                            },
                            detail: Detail::WithoutMetadata,
                        };
                        serde_json::to_value(&view).unwrap()
                    };
                    assert_eq!(trimmed(&new), trimmed(&old), "trimmed, facts {facts}");
                }
            }
        }
    }

    /// The hand-written document and the serde view at full detail, for one record.
    fn both_renderings(record: &Record) -> (String, String) {
        let document = SubsegmentDocument {
            trace_id: &trace_id(),
            record,
            quoted_name: None,
            annotations_json: None,
            in_progress: false,
        };
        let view = View {
            document,
            detail: Detail::Full,
        };
        (document.to_json(), serde_json::to_string(&view).unwrap())
    }

    #[test]
    fn written_by_hand_as_the_serde_view_writes_it() {
        let mut records = vec![record()];
        for facts in varied_facts() {
            let mut with_facts = record();
            with_facts.set_facts(&facts);
            records.push(with_facts.clone());
            with_facts.add_metadata("orders".into(), "response".into(), Value::from(7));
            records.push(with_facts.clone());
            with_facts.add_metadata(FACTS_NAMESPACE.into(), "cache".into(), Value::from(1));
            records.push(with_facts);
        }
        let mut everything = record();
        everything.name = "name \"quoted\" \n é".into();
        everything.namespace = Some(Namespace::Aws);
        everything.error = true;
        everything.throttle = true;
        everything.http = Some(Http::request("GET", "https://example.com/ü").status(200));
        everything.aws = Some(serde_json::json!({"operation": "GetItem"}));
        everything.annotate("text".into(), "v \"q\"".into());
        everything.annotate("integer".into(), (-3_i64).into());
        everything.annotate("float".into(), 0.1.into());
        everything.annotate("flag".into(), true.into());
        records.push(everything.clone());
        everything.record_exception(Exception {
            id: 9,
            kind: "E".into(),
            message: "m\n".into(),
        });
        records.push(everything.clone());
        everything.cause = Some(Cause::Reference(0xbb00_27ca_b7e8_5329));
        records.push(everything);
        let mut open = record();
        open.duration = None;
        records.push(open);
        records.extend(with_kept_names());
        for record in &records {
            let (by_hand, by_serde) = both_renderings(record);
            if record.duration.is_some() {
                assert_eq!(by_hand, by_serde);
            } else {
                // Still open: each rendering reads the clock; all else is the same.
                let strip = |text: &str| text[..text.find(",\"end_time\"").unwrap()].to_owned();
                assert_eq!(strip(&by_hand), strip(&by_serde));
            }
        }
    }

    /// Records whose metadata names are kept ([`MetadataName::kept`]: with their JSON strings,
    /// or as texts when they need escapes), also sharing a namespace with names given as texts.
    fn with_kept_names() -> Vec<Record> {
        let mut records = Vec::new();
        let names = [
            ("orders", "## handler response"),
            ("ord\"ers", "handler\nresponse"),
            (FACTS_NAMESPACE, "é ✓"),
        ];
        // Kept with their quoted forms, kept alone, not kept (the process keeping no more).
        for (room, (namespace, key)) in [2, 1, 0]
            .into_iter()
            .flat_map(|room| names.map(|names| (room, names)))
        {
            let name = |text: &str| {
                MetadataName::kept_by(text.to_owned(), super::super::metadata_name::keeper(room))
            };
            let (kept_namespace, kept_key) = (name(namespace), name(key));
            let mut kept = record();
            kept.set_facts(&serde_json::json!({"invocation": 2}));
            kept.add_metadata(kept_namespace.clone(), kept_key.clone(), Value::from(7));
            records.push(kept.clone());
            // The user's entries in the same namespace, before and after: one object.
            let mut shared = record();
            shared.add_metadata(namespace.to_owned().into(), "before".into(), Value::from(1));
            shared.add_metadata(kept_namespace, kept_key, Value::from(7));
            shared.add_metadata("other".into(), "k".into(), Value::from(2));
            shared.add_metadata(namespace.into(), "after".into(), Value::from(3));
            // The same key given as a text replaces the kept one's value.
            shared.add_metadata(namespace.into(), key.to_owned().into(), Value::from(8));
            records.push(shared);
        }
        records
    }

    #[test]
    fn kept_names_render_as_the_same_names_given_as_texts() {
        for kept in with_kept_names() {
            let mut texts = kept.clone();
            for (namespace, key, _) in &mut texts.metadata {
                *namespace = namespace.to_string().into();
                *key = key.to_string().into();
            }
            assert_eq!(render(&kept), render(&texts));
            let json: Value = serde_json::from_str(&render(&kept)).unwrap();
            assert!(json["metadata"].is_object(), "{json}");
        }
    }

    #[test]
    fn facts_that_are_not_an_object_are_left_out() {
        let mut record = record();
        record.set_facts(&Value::from(7));
        assert!(record.facts.is_empty());
        assert_eq!(render(&record), render(&super::tests::record()));
    }

    #[test]
    fn a_reopened_record_keeps_nothing_of_its_past_but_its_name_and_annotations() {
        let mut used = record();
        used.annotate("k".into(), 1.into());
        used.add_metadata("n".into(), "k".into(), Value::from(1));
        used.set_facts(&serde_json::json!({"a": 1}));
        used.http = Some(Http::request("GET", "u"));
        used.aws = Some(Value::Null);
        used.namespace = Some(Namespace::Aws);
        used.error = true;
        used.throttle = true;
        used.record_exception(Exception {
            id: 1,
            kind: "E".into(),
            message: String::new(),
        });
        used.close();
        used.reopen(
            3,
            Hex::new(4),
            (1_795_410_965_220_676_123, MonotonicNanos::now()),
        );
        let mut fresh = Record::open(3, 4, used.name.clone());
        fresh.annotate("k".into(), 1.into());
        fresh.start_epoch_nanos = used.start_epoch_nanos;
        fresh.start = used.start;
        used.duration = Some(Duration::from_micros(5));
        fresh.duration = used.duration;
        assert_eq!(render(&used), render(&fresh));
    }

    proptest::proptest! {
        // Each case serializes up to a few hundred kilobytes several times: keep them few.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        #[test]
        fn every_datagram_fits_whatever_the_record_holds(
            name_len in 0usize..300_000,
            url_len in 0usize..150_000,
            exceptions in 0usize..3_000,
            message_len in 0usize..2_000,
            annotations in 0usize..60,
        ) {
            let mut record = Record::open(1, 2, "x".repeat(name_len.max(1)).into());
            record.http = Some(Http::request("GET", "u".repeat(url_len)));
            record.aws = Some(serde_json::json!({ "operation": "o".repeat(url_len) }));
            for id in 0..exceptions as u64 {
                record.record_exception(Exception { id, kind: "E".into(), message: "m".repeat(message_len) });
            }
            for i in 0..annotations {
                record.annotate(format!("k{i}").into(), "v".repeat(1_000).into());
            }
            record.add_metadata("n".into(), "k".into(), Value::from("z".repeat(url_len)));
            let trace_id = trace_id();
            let document = SubsegmentDocument { trace_id: &trace_id, record: &record, quoted_name: None, annotations_json: None, in_progress: false };
            let mut out = Vec::new();
            document.write_datagram(&mut out);
            proptest::prop_assert!(out.len() <= MAX_DATAGRAM, "{} bytes", out.len());
            let body: Value = serde_json::from_slice(&out[DAEMON_HEADER.len()..]).unwrap();
            proptest::prop_assert_eq!(&body["id"], "0000000000000001");
        }
    }
}
