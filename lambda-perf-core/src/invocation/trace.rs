//! The trace of one sampled invocation: its `## handler` subsegment and the nested ones open
//! inside it. Which subsegment is *current* is not kept here but by each task (see
//! [`current`](super::current)): concurrent branches of one invocation each have their own.

use std::borrow::Cow;
use std::time::Duration;

use super::StartKind;
use super::settings::SERVICE_ANNOTATION;
use crate::formats::error_chain;
use crate::formats::failure::Failure;
use crate::formats::json::push_str;
use crate::formats::time::MonotonicNanos;
use crate::formats::xray::annotation::{self, AnnotationValue, MAX_ANNOTATIONS};
use crate::formats::xray::document::{
    Cause, Exception, MAX_EXCEPTIONS, Record, SubsegmentDocument,
};
use crate::formats::xray::header::{MalformedHeader, TraceId, recording_trace};
use crate::formats::xray::kept_annotations::KeptAnnotations;
use crate::formats::xray::metadata_name::MetadataName;
use crate::formats::xray::metadata_value::MetadataValue;
use crate::formats::xray::{XRayError, id, name};
use crate::warn::WarnOnce;

/// Recording state of a sampled invocation. Unsampled invocations have none.
///
/// Boxed: the state is moved with its invocation's (begun, stored, taken back, kept as the
/// spare), and a pointer moves cheaper than the records it holds.
pub(crate) struct Trace(Box<Recording>);

/// What a [`Trace`] holds.
pub(crate) struct Recording {
    trace_id: TraceId,
    handler: Record,
    /// The handler's name as a JSON string, written once for all the invocations that share
    /// it.
    quoted_handler_name: Vec<u8>,
    /// The handler's annotations as last sent, written.
    handler_annotations: KeptAnnotations,
    /// What the start annotations at the head of the handler's are (the first `.1` of them),
    /// added by [`Recording::annotate_start`], while no annotation of the trace has been
    /// replaced since (one of the handler's, or of a nested subsegment: not told apart, which
    /// only costs adding them anew); `None` otherwise, and when what they are cannot be told
    /// cheaply (a service name not kept).
    start: Option<(StartAnnotations, usize)>,
    /// Whether the start annotations `start` tells were at the head of the handler's when
    /// `handler_annotations` last wrote them (so that they are written there already): then
    /// [`Recording::release`] leaves them in place, and the next invocation of the same start
    /// keeps them instead of adding them again.
    start_written: bool,
    /// Nested subsegments still open, in opening order.
    open: Vec<Record>,
    /// Annotations recorded in this invocation, against X-Ray's per-trace limit.
    annotations: usize,
    /// The last exception a direct child of each record closed with: (parent id, exception).
    child_exceptions: Vec<(u64, Exception)>,
    /// Whether exceptions keep their messages (error capture on), or only their types.
    keep_messages: bool,
    /// Buffers an earlier invocation's response and metadata values were written to, for
    /// this one's (see [`Recording::take_json_buffer`]).
    spare_json: Vec<Vec<u8>>,
}

/// What decides the start annotations of a handler subsegment: the same from one warm
/// invocation to the next.
#[derive(Clone, Copy, Debug)]
struct StartAnnotations {
    kind: StartKind,
    /// The `Service` annotation's value, kept for the life of the process; `None`: none.
    service: Option<&'static str>,
}

impl StartAnnotations {
    /// Whether `other` adds the same annotations: the same kind, the same service string (by
    /// its address: another copy of the same text is told apart, and only costs adding them).
    fn is(self, other: Self) -> bool {
        self.kind == other.kind
            && match (self.service, other.service) {
                (None, None) => true,
                (Some(mine), Some(theirs)) => std::ptr::eq(mine, theirs),
                _ => false,
            }
    }
}

/// Most JSON buffers kept for reuse.
const SPARE_JSON: usize = 8;

/// Keeps `json`'s memory among `spare` (emptied) unless [`SPARE_JSON`] are kept already.
fn keep_json(spare: &mut Vec<Vec<u8>>, mut json: Vec<u8>) {
    if spare.len() < SPARE_JSON {
        json.clear();
        spare.push(json);
    }
}

impl std::ops::Deref for Trace {
    type Target = Recording;

    fn deref(&self) -> &Recording {
        &self.0
    }
}

impl std::ops::DerefMut for Trace {
    fn deref_mut(&mut self) -> &mut Recording {
        &mut self.0
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("trace_id", &self.trace_id)
            .field("handler", &self.handler.name)
            .field("open", &self.open.len())
            .finish_non_exhaustive()
    }
}

static RENAMED: WarnOnce = WarnOnce::new();

/// An exception recorded on a subsegment that had its fill of them: it took the place of the
/// latest before it, counted, and warned about once.
#[cold]
fn exception_replaced() {
    static REPLACED: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.exception_replaced");
    REPLACED.warn(format_args!(
        "a subsegment has {MAX_EXCEPTIONS} exceptions recorded; each later one takes the place \
         of the latest before it (counted as xray.exception_replaced)"
    ));
}

/// A trace header that asks for recording but cannot be recorded: counted, and warned about
/// once; the invocation runs untraced, its metrics written.
#[cold]
#[inline(never)]
fn malformed_header() {
    static MALFORMED: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.malformed_trace_header");
    MALFORMED.warn(format_args!(
        "a trace header asks for recording (Sampled=1) but its Root or Parent is missing or \
         malformed; such invocations are not traced (counted in lambda_perf.dropped)"
    ));
}

/// The key of the handler subsegment's annotation that tells whether the caller waited for
/// init.
pub(crate) const COLD_START_ANNOTATION: &str = "ColdStart";

/// The key of the handler subsegment's annotation that names its [`StartKind`].
pub(crate) const START_KIND_ANNOTATION: &str = "StartKind";

/// `text` as a JSON string.
fn quoted(text: &str) -> Vec<u8> {
    let mut quoted = Vec::new();
    push_str(&mut quoted, text);
    quoted
}

/// Which subsegment a call is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The current one of the calling task (`None`: the handler's), or the handler's if it
    /// has closed meanwhile.
    Current(Option<u64>),
    /// That subsegment, or none if it is no longer open (so an enclosing one is never marked
    /// by mistake). The handler's id names the handler's.
    Exactly(u64),
}

impl Trace {
    /// Starts recording if the header asks for it (well-formed `Root` and `Parent`, and
    /// `Sampled=1`: a PassThrough header, with `Root` alone, does not). Without
    /// `keep_messages`, every exception keeps its type only.
    /// The handler subsegment starts at `began` (by the wall clock, in nanoseconds since the
    /// Unix epoch, and by the monotonic one).
    /// `spare`, a finished and released ([`Recording::release`]) trace, lends its memory (it
    /// is left there when the header asks for no recording).
    pub(crate) fn begin(
        header: Option<&str>,
        name: &str,
        keep_messages: bool,
        began: (u64, MonotonicNanos),
        spare: &mut Option<Self>,
    ) -> Option<Self> {
        let (trace_id, parent_id) = match recording_trace(header?) {
            Ok(ids) => ids?,
            Err(MalformedHeader) => {
                malformed_header();
                return None;
            }
        };
        let id = id::next();
        let Some(mut trace) = spare.take() else {
            return Some(Self::fresh(
                trace_id,
                (id, parent_id),
                name,
                keep_messages,
                began,
            ));
        };
        // Released already, when it was put aside: only the start annotations written last
        // may be left.
        debug_assert!(
            trace.open.is_empty()
                && trace.handler.annotations.len() == trace.kept_start()
                && trace.handler.metadata.is_empty(),
            "a spare trace is released before it is lent"
        );
        trace.trace_id = trace_id;
        trace.keep_messages = keep_messages;
        trace.handler.reopen(id, parent_id, began);
        if trace.handler.name != name {
            match &mut trace.handler.name {
                Cow::Owned(owned) => {
                    owned.clear();
                    owned.push_str(name);
                }
                borrowed => *borrowed = Cow::Owned(name.to_owned()),
            }
            trace.quoted_handler_name.clear();
            push_str(&mut trace.quoted_handler_name, name);
        }
        Some(trace)
    }

    /// A trace of its own memory, for when no spare one is lent: only until the invocations
    /// that record keep one (cold, so that the header's check and the spare's reuse stay
    /// together where an invocation begins).
    #[cold]
    #[inline(never)]
    fn fresh(
        trace_id: TraceId,
        (id, parent_id): (u64, id::Hex),
        name: &str,
        keep_messages: bool,
        began: (u64, MonotonicNanos),
    ) -> Self {
        Self(Box::new(Recording {
            trace_id,
            handler: Record::open_at(id, parent_id, Cow::Owned(name.to_owned()), began),
            quoted_handler_name: quoted(name),
            handler_annotations: KeptAnnotations::default(),
            start: None,
            start_written: false,
            open: Vec::new(),
            annotations: 0,
            child_exceptions: Vec::new(),
            keep_messages,
            spare_json: Vec::new(),
        }))
    }
}

impl Recording {
    /// Lets go of what this trace recorded, keeping its memory for the next one: the buffers
    /// of the handler's values written as JSON become spare ones; the rest is dropped. A
    /// finished trace is released as it is put aside, after its writes (under
    /// `PerfRuntimeLayer`, after the response), rather than by the next invocation before its
    /// handler runs.
    ///
    /// The start annotations, when they were written last, are left in place (see
    /// [`Recording::annotate_start`]).
    pub(crate) fn release(&mut self) {
        self.open.clear();
        self.annotations = 0;
        self.child_exceptions.clear();
        let kept = self.kept_start();
        let Self {
            handler,
            spare_json,
            ..
        } = self;
        handler.annotations.truncate(kept);
        // The buffers kept are taken out in place, and the list is then cleared.
        for (_, _, value) in &mut handler.metadata {
            if let MetadataValue::Written(json) = value {
                keep_json(spare_json, std::mem::take(json));
            }
        }
        handler.metadata.clear();
    }

    /// Takes back a buffer from [`Recording::take_json_buffer`] that recorded nothing (its
    /// value could not be written), for the next value to reuse.
    pub(crate) fn give_back_json_buffer(&mut self, json: Vec<u8>) {
        keep_json(&mut self.spare_json, json);
    }

    /// An empty buffer to write a metadata value to (a captured response, the handler's
    /// own), with the memory of an earlier one's when there is one: it comes back with
    /// [`Recording::release`] once the value was recorded on the handler subsegment
    /// ([`MetadataValue::Written`]), and may go on from there to the thread that wrote the
    /// trace, for its next response.
    pub(crate) fn take_json_buffer(&mut self) -> Vec<u8> {
        let mut buffer = self.spare_json.pop().unwrap_or_default();
        buffer.clear();
        buffer
    }

    /// A kept buffer (see [`Recording::take_json_buffer`]), if there is one: the last kept.
    pub(crate) fn take_spare_json_buffer(&mut self) -> Option<Vec<u8>> {
        self.spare_json.pop()
    }

    /// How many of the handler's first annotations are the start ones as last written: those
    /// [`Recording::release`] leaves in place.
    fn kept_start(&self) -> usize {
        match self.start {
            Some((_, count)) if self.start_written => count,
            _ => 0,
        }
    }

    /// The handler subsegment's id.
    pub(crate) fn handler_id(&self) -> u64 {
        self.handler.id
    }

    /// The record `target` names.
    fn target(&mut self, target: Target) -> Option<&mut Record> {
        let (id, fallback) = match target {
            Target::Current(id) => (id, true),
            Target::Exactly(id) if id == self.handler.id => (None, true),
            Target::Exactly(id) => (Some(id), false),
        };
        match id.and_then(|id| self.open.iter().position(|r| r.id == id)) {
            Some(index) => Some(&mut self.open[index]),
            None if fallback => Some(&mut self.handler),
            None => None,
        }
    }

    /// Annotates subsegment `target`, counting against the per-trace limit.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
    #[inline]
    pub(crate) fn annotate(
        &mut self,
        target: Target,
        key: Cow<'static, str>,
        value: AnnotationValue,
    ) -> Result<(), XRayError> {
        annotation::validate(&key, &value)?;
        self.annotate_valid(target, key, value)
    }

    /// [`Self::annotate`] for an annotation [`annotation::validate`] accepted. Always inlined
    /// into the call that takes the annotation from where it was lent, so that it is moved
    /// once, into its place.
    #[inline(always)]
    pub(crate) fn annotate_valid(
        &mut self,
        target: Target,
        key: Cow<'static, str>,
        value: AnnotationValue,
    ) -> Result<(), XRayError> {
        let full = self.annotations >= MAX_ANNOTATIONS;
        let Some(record) = self.target(target) else {
            return Ok(());
        };
        if full && !record.annotations.iter().any(|(k, _)| *k == key) {
            return Err(XRayError::TooManyAnnotations {
                key: key.into_owned(),
                limit: MAX_ANNOTATIONS,
            });
        }
        if record.annotate(key, value) {
            self.annotations += 1;
        } else {
            // Replaced (perhaps one of the start annotations; on whichever record): they are
            // added anew next time.
            self.start = None;
            self.start_written = false;
        }
        Ok(())
    }

    /// Adds the handler's start annotations to a trace just begun: `ColdStart` and `StartKind`
    /// of `kind`, and `Service` with `service` (valid as an annotation value) if there is one.
    /// Its handler has no other annotation yet (but these same ones, kept: below), so none is
    /// looked for to replace, and these few are far below the per-trace limit (a test holds
    /// them to the rules).
    ///
    /// A warm invocation's are those of the invocation before: when the trace's last ones were
    /// the same and written (and none was replaced), they are still in place (see
    /// [`Recording::release`]) and are kept, instead of added again and compared again when the
    /// subsegment is written.
    #[inline]
    pub(crate) fn annotate_start(&mut self, kind: StartKind, service: Option<&Cow<'static, str>>) {
        let start = match service {
            None => Some(StartAnnotations {
                kind,
                service: None,
            }),
            Some(Cow::Borrowed(service)) => Some(StartAnnotations {
                kind,
                service: Some(service),
            }),
            // Told apart from another only by its text: added every time.
            Some(Cow::Owned(_)) => None,
        };
        if let (Some(start), Some((kept, count))) = (start, self.start) {
            if self.start_written && start.is(kept) {
                debug_assert_eq!(self.handler.annotations.len(), count);
                self.annotations = count;
                return;
            }
        }
        let handler = &mut self.handler.annotations;
        handler.clear();
        handler.push((
            Cow::Borrowed(COLD_START_ANNOTATION),
            kind.is_cold_start().into(),
        ));
        handler.push((Cow::Borrowed(START_KIND_ANNOTATION), kind.as_str().into()));
        if let Some(service) = service {
            handler.push((
                Cow::Borrowed(SERVICE_ANNOTATION),
                AnnotationValue::String(service.clone()),
            ));
        }
        debug_assert!(
            handler
                .iter()
                .all(|(key, value)| annotation::validate(key, value).is_ok()),
            "the start annotations are valid: {handler:?}"
        );
        self.annotations = handler.len();
        self.start = start.map(|start| (start, handler.len()));
        self.start_written = false;
    }

    /// Sets lambda-perf's own facts on the handler subsegment, from their `Serialize`.
    pub(crate) fn set_handler_facts(&mut self, facts: &impl crate::formats::json::WriteJson) {
        self.handler.set_facts(facts);
    }

    /// Adds metadata to subsegment `target`.
    pub(crate) fn add_metadata(
        &mut self,
        target: Target,
        namespace: MetadataName,
        key: MetadataName,
        value: impl Into<MetadataValue>,
    ) {
        if let Some(record) = self.target(target) {
            record.add_metadata(namespace, key, value);
        }
    }

    /// Opens a nested subsegment under `parent` (the handler's when `None` or closed).
    pub(crate) fn open(&mut self, name: Cow<'static, str>, parent: Option<u64>) -> u64 {
        let handler_id = self.handler.id;
        let parent_id = self
            .target(Target::Current(parent))
            .map_or(handler_id, |record| record.id);
        let name = name::sanitize(name).unwrap_or_else(|cleaned| {
            crate::drops::count("xray.subsegment_renamed");
            RENAMED.warn(format_args!(
                "a subsegment name is not one X-Ray accepts (1-200 letters, digits, spaces \
                 and _ . : / % & # = + - @); it is sent as {cleaned:?}"
            ));
            cleaned
        });
        let id = id::next();
        // Its wall-clock start derived from the handler's, so that the records of a trace
        // share one clock: a child closed with (or before) its parent never ends after it.
        let start = MonotonicNanos::now();
        let start_epoch_nanos = self
            .handler
            .start_epoch_nanos
            .saturating_add(start.nanos_since(self.handler.start));
        self.open.push(Record::open_at(
            id,
            id::Hex::new(parent_id),
            name,
            (start_epoch_nanos, start),
        ));
        id
    }

    /// The nested subsegment `id`, while it is open.
    pub(crate) fn nested_mut(&mut self, id: u64) -> Option<&mut Record> {
        self.open.iter_mut().find(|record| record.id == id)
    }

    /// Records that subsegment `target` failed: a new exception, or a reference to the same
    /// failure of a child.
    pub(crate) fn record_error(&mut self, target: Target, failure: &Failure) {
        let Some(id) = self.target(target).map(|record| record.id) else {
            return;
        };
        let message = if self.keep_messages {
            failure.message.as_str()
        } else {
            ""
        };
        let inherited = self
            .child_exceptions
            .iter()
            .rev()
            .find(|(parent, exception)| {
                // The same message is the same failure, whatever it was converted into on the
                // way up (the child's `Display` alone, the handler's followed by its sources':
                // `ErrorChain`); without messages, only the same type can be.
                *parent == id
                    && error_chain::begins_with_message(message, &exception.message)
                    && (!message.is_empty() || exception.kind == failure.kind)
            })
            .map(|(_, exception)| exception.id);
        let Some(record) = self.target(Target::Exactly(id)) else {
            return;
        };
        match inherited {
            Some(exception_id) => record.reference_exception(exception_id),
            None => {
                let replaced = record.record_exception(Exception {
                    id: id::next(),
                    kind: failure.kind.clone(),
                    message: message.to_owned(),
                });
                if replaced {
                    exception_replaced();
                }
            }
        }
    }

    /// Closes nested subsegment `id`; returns it, to be sent, unless it was not open.
    pub(crate) fn close(&mut self, id: u64) -> Option<Record> {
        let index = self.open.iter().position(|record| record.id == id)?;
        let mut record = self.open.remove(index);
        record.close();
        let exception = match &record.cause {
            Some(Cause::Exceptions(exceptions)) => exceptions.last().cloned(),
            Some(Cause::Reference(exception_id)) => self
                .child_exceptions
                .iter()
                .find(|(_, exception)| exception.id == *exception_id)
                .map(|(_, exception)| exception.clone()),
            None => None,
        };
        if let Some(exception) = exception {
            self.child_exceptions
                .push((record.parent_id.value(), exception));
        }
        Some(record)
    }

    /// Closes what is still open (innermost first), then the handler subsegment, all as of
    /// `at`, the invocation's end (or their start, if later), and hands each to `send`. The
    /// handler's `duration_nanos`, from its start (the invocation's beginning) to `at`, is the
    /// invocation's, known already. The trace is then finished: only its memory is of use, to
    /// a later [`Trace::begin`].
    pub(crate) fn finish(
        &mut self,
        (at, duration_nanos): (MonotonicNanos, u64),
        mut send: impl FnMut(&SubsegmentDocument<'_>),
    ) {
        debug_assert_eq!(duration_nanos, at.nanos_since(self.handler.start));
        for record in &mut self.open {
            record.close_at(at);
        }
        while let Some(id) = self.open.last().map(|record| record.id) {
            if let Some(record) = self.close(id) {
                send(&self.document(&record));
            }
        }
        self.handler
            .close_after(Duration::from_nanos(duration_nanos));
        // The start annotations, when they are those written last, are not compared again.
        let known = self.kept_start();
        let annotations = self
            .handler_annotations
            .json(&self.handler.annotations, known);
        // Written: the next invocation of the same start keeps them.
        self.start_written = self.start.is_some();
        send(&SubsegmentDocument {
            annotations_json: Some(annotations),
            ..document(&self.trace_id, &self.handler, &self.quoted_handler_name)
        });
    }

    /// The nested subsegments still open, innermost (last opened) first: what a timeout
    /// sends copies of, before the process may be killed with them open.
    pub(crate) fn open_records(&self) -> impl Iterator<Item = &Record> {
        self.open.iter().rev()
    }

    /// A copy of the handler subsegment as it stands (to send before it has ended).
    pub(crate) fn handler_snapshot(&self) -> Record {
        self.handler.clone()
    }

    /// `record` as a document of this trace.
    pub(crate) fn document<'a>(&'a self, record: &'a Record) -> SubsegmentDocument<'a> {
        // The handler's record, or a copy of it: named as the handler is.
        let handler = record.id == self.handler.id && record.name == self.handler.name;
        let quoted_name = if handler {
            self.quoted_handler_name.as_slice()
        } else {
            &[]
        };
        document(&self.trace_id, record, quoted_name)
    }
}

/// `record` as a document of trace `trace_id`, named `quoted_name` (empty: by its own name).
fn document<'a>(
    trace_id: &'a TraceId,
    record: &'a Record,
    quoted_name: &'a [u8],
) -> SubsegmentDocument<'a> {
    SubsegmentDocument {
        trace_id,
        record,
        quoted_name: (!quoted_name.is_empty()).then_some(quoted_name),
        annotations_json: None,
        in_progress: false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::formats::time::epoch_nanos;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn now() -> (u64, MonotonicNanos) {
        (epoch_nanos(SystemTime::now()), MonotonicNanos::now())
    }

    /// The handler's document as [`Recording::finish`] sends it (with what the trace keeps
    /// written), and as the record alone writes it.
    fn finished(trace: &mut Trace) -> (String, String) {
        let mut sent = None;
        let at = MonotonicNanos::now();
        let duration = at.nanos_since(trace.handler.start);
        trace.finish((at, duration), |document| {
            let alone = SubsegmentDocument {
                quoted_name: None,
                annotations_json: None,
                ..*document
            };
            sent = Some((document.to_json(), alone.to_json()));
        });
        sent.unwrap()
    }

    #[test]
    fn what_the_trace_keeps_written_is_what_the_record_writes() {
        let mut spare = None;
        let annotate = |trace: &mut Trace, key: &'static str, value: AnnotationValue| {
            let target = Target::Exactly(trace.handler_id());
            trace.annotate(target, key.into(), value).unwrap();
        };
        let invocations: [(&str, &[(&'static str, AnnotationValue)]); 7] = [
            (
                "## handler",
                &[("ColdStart", true.into()), ("StartKind", "cold".into())],
            ),
            (
                "## handler",
                &[("ColdStart", false.into()), ("StartKind", "warm".into())],
            ),
            (
                "## handler",
                &[("ColdStart", false.into()), ("StartKind", "warm".into())],
            ),
            (
                "## handler",
                &[("ColdStart", false.into()), ("tier", "gold \"q\"".into())],
            ),
            ("## other \"name\"", &[("n", 1.into()), ("f", 0.5.into())]),
            ("## other \"name\"", &[]),
            ("## handler", &[("n", 1.into()), ("n", 2.into())]),
        ];
        for (name, annotations) in invocations {
            let mut trace = Trace::begin(Some(HEADER), name, true, now(), &mut spare).unwrap();
            for (key, value) in annotations {
                annotate(&mut trace, key, value.clone());
            }
            let (sent, alone) = finished(&mut trace);
            assert_eq!(sent, alone, "{name} {annotations:?}");
            let json: serde_json::Value = serde_json::from_str(&sent).unwrap();
            assert_eq!(json["name"], name);
            trace.release();
            spare = Some(trace);
        }
    }

    /// The header's `Parent`, in either case, is written as the lowercase digits its value
    /// formats to; a parent that is not 16 hex digits records nothing.
    #[test]
    fn the_parent_of_the_header_is_written_lowercase() {
        for (parent, written) in [
            ("53995c3f42cd8ad8", Some(0x5399_5c3f_42cd_8ad8_u64)),
            ("53995C3F42CD8AD8", Some(0x5399_5c3f_42cd_8ad8)),
            ("ABCDEF0123456789", Some(0xabcd_ef01_2345_6789)),
            ("0000000000000000", Some(0)),
            ("FFFFFFFFFFFFFFFF", Some(u64::MAX)),
            ("53995c3f42cd8ad", None),
            ("53995c3f42cd8ad8a", None),
            ("53995c3f42cd8adg", None),
            ("53995c3f42cd8ad ", None),
            ("53995c3f42cd8aG8", None),
            ("5399:c3f42cd8ad8", None),
            ("5399\u{e9}3f42cd8ad8", None),
        ] {
            let header =
                format!("Root=1-5759e988-bd862e3fe1be46a994272793;Parent={parent};Sampled=1");
            let trace = Trace::begin(Some(&header), "## h", true, now(), &mut None);
            assert_eq!(trace.is_some(), written.is_some(), "{parent:?}");
            let (Some(mut trace), Some(value)) = (trace, written) else {
                continue;
            };
            assert_eq!(trace.document(&trace.handler).parent_id(), value);
            let (sent, alone) = finished(&mut trace);
            for json in [sent, alone] {
                let json: serde_json::Value = serde_json::from_str(&json).unwrap();
                assert_eq!(json["parent_id"], format!("{value:016x}"), "{parent:?}");
            }
        }
    }

    /// A nested subsegment still open at the end is closed at the same instant as
    /// the handler; its end_time must never come after the handler's.
    #[test]
    fn children_still_open_never_end_after_the_handler() {
        let mut spare = None;
        let mut inversions = Vec::new();
        for round in 0..20_000 {
            // As StartTracker::begin reads them: the monotonic clock, then the wall clock.
            let began = MonotonicNanos::now();
            let began_wall = SystemTime::now();
            let mut trace = Trace::begin(
                Some(HEADER),
                "## handler",
                true,
                (epoch_nanos(began_wall), began),
                &mut spare,
            )
            .unwrap();
            trace.open("child".into(), None);
            let mut times = Vec::new();
            let at = MonotonicNanos::now();
            trace.finish((at, at.nanos_since(began)), |document| {
                let json: serde_json::Value = serde_json::from_str(&document.to_json()).unwrap();
                times.push((
                    json["start_time"].as_f64().unwrap(),
                    json["end_time"].as_f64().unwrap(),
                ));
            });
            let (child, handler) = (times[0], times[1]);
            if child.1 > handler.1 || child.0 < handler.0 || child.1 < child.0 {
                inversions.push((round, child, handler));
            }
            trace.release();
            spare = Some(trace);
        }
        assert!(
            inversions.is_empty(),
            "{} of 20000: first {:?}",
            inversions.len(),
            inversions.first()
        );
    }

    /// A random walk of invocations on one trace (start kinds, services kept, copied or none,
    /// annotations on the handler and on a nested subsegment, replaced ones, the per-trace
    /// limit, invocations put aside unwritten, unsampled ones) writes each handler's
    /// annotations as a model of adding them all anew every time says (the start ones are kept
    /// from one invocation to the next when they are the same).
    #[test]
    fn a_random_walk_of_invocations_writes_the_annotations_of_a_fresh_start() {
        static PAYMENT: &str = "payment";
        let orders: &'static str = Box::leak(String::from("orders").into_boxed_str());
        let payment_copy: &'static str = Box::leak(String::from("payment").into_boxed_str());
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let kinds = [
            StartKind::Cold,
            StartKind::Warm,
            StartKind::Warm,
            StartKind::Warm,
            StartKind::Restored,
        ];
        let keys: [&'static str; 6] = ["ColdStart", "StartKind", "Service", "tier", "n", "m"];
        let mut spare: Option<Trace> = None;
        for round in 0..20_000 {
            let sampled = next(8) != 0;
            let name = if next(10) == 0 {
                "## other"
            } else {
                "## handler"
            };
            let header = if sampled {
                HEADER
            } else {
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
            };
            let Some(mut trace) = Trace::begin(Some(header), name, true, now(), &mut spare) else {
                continue;
            };
            let kind = kinds[next(kinds.len() as u64) as usize];
            let service: Option<Cow<'static, str>> = match next(6) {
                0 => None,
                1 => Some(Cow::Borrowed(orders)),
                2 => Some(Cow::Owned("payment".to_owned())),
                3 => Some(Cow::Borrowed(payment_copy)),
                _ => Some(Cow::Borrowed(PAYMENT)),
            };
            trace.annotate_start(kind, service.as_ref());
            let mut model: Vec<(Cow<'static, str>, AnnotationValue)> = vec![
                ("ColdStart".into(), kind.is_cold_start().into()),
                ("StartKind".into(), kind.as_str().into()),
            ];
            if let Some(service) = &service {
                model.push(("Service".into(), AnnotationValue::String(service.clone())));
            }
            let mut count = model.len();
            let mut nested = None;
            let annotate_handler = |trace: &mut Trace,
                                    model: &mut Vec<(Cow<'static, str>, AnnotationValue)>,
                                    count: &mut usize,
                                    key: Cow<'static, str>,
                                    value: AnnotationValue| {
                let exists = model.iter().any(|(k, _)| *k == key);
                let result = trace.annotate(Target::Current(None), key.clone(), value.clone());
                if *count >= MAX_ANNOTATIONS && !exists {
                    assert!(result.is_err(), "round {round}");
                    return;
                }
                result.unwrap();
                match model.iter_mut().find(|(k, _)| *k == key) {
                    Some(entry) => entry.1 = value,
                    None => {
                        model.push((key, value));
                        *count += 1;
                    }
                }
            };
            for _ in 0..next(6) {
                match next(10) {
                    0 => {
                        // Toward the limit, and past it.
                        for i in 0..next(60) {
                            let key: Cow<'static, str> = format!("k{i}").into();
                            let value = AnnotationValue::from(i64::try_from(i).unwrap());
                            annotate_handler(&mut trace, &mut model, &mut count, key, value);
                        }
                    }
                    1 | 2 => {
                        let id = *nested.get_or_insert_with(|| trace.open("child".into(), None));
                        let key = keys[next(keys.len() as u64) as usize];
                        if trace
                            .annotate(Target::Exactly(id), key.into(), 1.into())
                            .is_ok()
                        {
                            // Counted when new on the child.
                            count = trace.annotations;
                        }
                    }
                    _ => {
                        let key = keys[next(keys.len() as u64) as usize];
                        let value: AnnotationValue = match next(3) {
                            0 => i64::try_from(next(3)).unwrap().into(),
                            1 => (next(2) == 0).into(),
                            _ => "gold".into(),
                        };
                        annotate_handler(&mut trace, &mut model, &mut count, key.into(), value);
                    }
                }
                assert_eq!(trace.annotations, count, "round {round}");
            }
            // One in five is put aside unwritten.
            if next(5) != 0 {
                let (sent, alone) = finished(&mut trace);
                assert_eq!(sent, alone, "round {round}");
                let json: serde_json::Value = serde_json::from_str(&sent).unwrap();
                let expected: serde_json::Map<String, serde_json::Value> = model
                    .iter()
                    .map(|(key, value)| {
                        let value = match value {
                            AnnotationValue::String(text) => text.as_ref().into(),
                            AnnotationValue::Integer(integer) => (*integer).into(),
                            AnnotationValue::Float(float) => (*float).into(),
                            AnnotationValue::Bool(boolean) => (*boolean).into(),
                        };
                        (key.to_string(), value)
                    })
                    .collect();
                let written = json
                    .get("annotations")
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({}));
                assert_eq!(
                    written,
                    serde_json::Value::Object(expected),
                    "round {round}: {sent}"
                );
            }
            trace.release();
            spare = Some(trace);
        }
    }
}
