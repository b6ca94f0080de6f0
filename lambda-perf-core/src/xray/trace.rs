//! The trace of one sampled invocation: its `## handler` subsegment and the nested ones open
//! inside it.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::annotation::{self, AnnotationValue, MAX_ANNOTATIONS};
use super::document::{Exception, Record, SubsegmentDocument};
use super::header::recording_ids;
use super::{SubsegmentSink, XRayError, id};

/// Recording state of a sampled invocation. Unsampled invocations have none.
pub(crate) struct Trace {
    trace_id: String,
    handler: Record,
    /// Nested subsegments still open, in opening order.
    open: Vec<Record>,
    /// The innermost entered nested subsegment; annotations go there.
    current: Option<u64>,
    /// Annotations recorded in this invocation, against X-Ray's per-trace limit.
    annotations: usize,
    sink: Arc<dyn SubsegmentSink>,
    /// The last exception a direct child of each record closed with: (parent id, exception).
    child_exceptions: Vec<(u64, Exception)>,
    /// Spans entered on this invocation's task, with the current subsegment each replaced.
    entered_spans: Vec<(u64, Option<u64>)>,
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

impl Trace {
    /// Starts recording if the header asks for it (well-formed and `Sampled=1`).
    pub(crate) fn begin(
        header: Option<&str>,
        name: Cow<'static, str>,
        sink: &Arc<dyn SubsegmentSink>,
    ) -> Option<Self> {
        let (root, parent) = recording_ids(header?)?;
        let parent_id = u64::from_str_radix(parent, 16).ok()?;
        Some(Self {
            trace_id: root.to_owned(),
            handler: Record::open(id::next(), parent_id, name),
            open: Vec::new(),
            current: None,
            annotations: 0,
            sink: Arc::clone(sink),
            child_exceptions: Vec::new(),
            entered_spans: Vec::new(),
        })
    }

    pub(crate) fn handler_id(&self) -> u64 {
        self.handler.id
    }

    /// The record annotations and metadata go to: the innermost entered subsegment.
    fn target(&mut self) -> &mut Record {
        let current = self.current;
        match current.and_then(|id| self.open.iter().position(|r| r.id == id)) {
            Some(index) => &mut self.open[index],
            None => &mut self.handler,
        }
    }

    fn record_mut(&mut self, id: u64) -> Option<&mut Record> {
        if self.handler.id == id {
            return Some(&mut self.handler);
        }
        self.open.iter_mut().find(|record| record.id == id)
    }

    /// Annotates the current subsegment, counting against the per-trace limit.
    pub(crate) fn annotate(
        &mut self,
        key: Cow<'static, str>,
        value: AnnotationValue,
    ) -> Result<(), XRayError> {
        self.annotate_record(None, key, value)
    }

    /// Annotates subsegment `id` (the current one when `None`).
    pub(crate) fn annotate_record(
        &mut self,
        id: Option<u64>,
        key: Cow<'static, str>,
        value: AnnotationValue,
    ) -> Result<(), XRayError> {
        annotation::validate(&key, &value)?;
        let full = self.annotations >= MAX_ANNOTATIONS;
        let record = match id {
            Some(id) => match self.record_mut(id) {
                Some(record) => record,
                None => return Ok(()),
            },
            None => self.target(),
        };
        let exists = record.annotations.iter().any(|(k, _)| *k == key);
        if full && !exists {
            return Err(XRayError::TooManyAnnotations {
                key: key.into_owned(),
                limit: MAX_ANNOTATIONS,
            });
        }
        if record.annotate(key, value) {
            self.annotations += 1;
        }
        Ok(())
    }

    /// Adds metadata to subsegment `id` (the current one when `None`).
    pub(crate) fn add_metadata(
        &mut self,
        id: Option<u64>,
        namespace: Cow<'static, str>,
        key: Cow<'static, str>,
        value: Value,
    ) {
        let record = match id {
            Some(id) => self.record_mut(id),
            None => Some(self.target()),
        };
        if let Some(record) = record {
            record.add_metadata(namespace, key, value);
        }
    }

    /// Opens a nested subsegment under `parent`, or under the current one.
    pub(crate) fn open(&mut self, name: Cow<'static, str>, parent: Option<u64>) -> u64 {
        let parent_id = parent
            .filter(|id| self.record_mut(*id).is_some())
            .or(self.current)
            .unwrap_or(self.handler.id);
        let id = id::next();
        self.open
            .push(Record::open(id, parent_id, super::sanitize_name(name)));
        id
    }

    /// Makes `id` the current subsegment; returns the previous one, to restore on exit.
    pub(crate) fn enter(&mut self, id: u64) -> Option<u64> {
        self.current.replace(id)
    }

    pub(crate) fn exit(&mut self, previous: Option<u64>) {
        self.current = previous;
    }

    /// A span whose subsegment is `id` was entered on the invocation's task.
    pub(crate) fn enter_span(&mut self, id: u64) {
        let previous = self.enter(id);
        self.entered_spans.push((id, previous));
    }

    /// That span was exited: the subsegment it replaced is current again. Exits without a
    /// matching enter (on another thread, outside the invocation) change nothing.
    pub(crate) fn exit_span(&mut self, id: u64) {
        if let Some(index) = self.entered_spans.iter().rposition(|(span, _)| *span == id) {
            let (_, previous) = self.entered_spans.remove(index);
            self.exit(previous);
        }
    }

    /// The handler subsegment's id.
    pub(crate) fn handler_subsegment(&self) -> u64 {
        self.handler.id
    }

    /// The innermost entered nested subsegment, if any.
    pub(crate) fn current_nested(&mut self) -> Option<&mut Record> {
        let id = self.current?;
        self.nested_mut(id)
    }

    pub(crate) fn nested_mut(&mut self, id: u64) -> Option<&mut Record> {
        self.open.iter_mut().find(|record| record.id == id)
    }

    /// Records that subsegment `id` (the current one when `None`) failed with an error of
    /// `kind` and `message`: a new exception, or a reference to the same failure of a child.
    pub(crate) fn record_error(&mut self, id: Option<u64>, kind: &str, message: &str) {
        let id = id.or(self.current).unwrap_or(self.handler.id);
        let inherited = self
            .child_exceptions
            .iter()
            .rev()
            .find(|(parent, exception)| *parent == id && exception.message == message)
            .map(|(_, exception)| exception.id);
        let Some(record) = self.record_mut(id) else {
            return;
        };
        match inherited {
            Some(exception_id) => record.reference_exception(exception_id),
            None => {
                record.record_exception(Exception {
                    id: id::next(),
                    kind: kind.to_owned(),
                    message: message.to_owned(),
                });
            }
        }
    }

    /// Closes nested subsegment `id` and sends it.
    pub(crate) fn close(&mut self, id: u64) {
        let Some(index) = self.open.iter().position(|record| record.id == id) else {
            return;
        };
        let mut record = self.open.remove(index);
        record.close();
        if self.current == Some(id) {
            // Its parent is current again (the handler when the parent is not a nested one).
            let parent = record.parent_id;
            self.current = self.open.iter().any(|r| r.id == parent).then_some(parent);
        }
        if let Some(super::document::Cause::Exceptions(exceptions)) = &record.cause {
            if let Some(last) = exceptions.last() {
                self.child_exceptions.push((record.parent_id, last.clone()));
            }
        } else if let Some(super::document::Cause::Reference(exception_id)) = record.cause {
            if let Some((_, exception)) = self
                .child_exceptions
                .iter()
                .find(|(_, exception)| exception.id == exception_id)
            {
                let exception = exception.clone();
                self.child_exceptions.push((record.parent_id, exception));
            }
        }
        self.send(&record);
    }

    /// Closes what is still open (innermost first), then the handler subsegment, and sends
    /// them all.
    pub(crate) fn finish(mut self) {
        while let Some(record) = self.open.last() {
            let id = record.id;
            self.close(id);
        }
        self.handler.close();
        self.send(&self.handler);
    }

    fn send(&self, record: &Record) {
        self.sink.send(&SubsegmentDocument {
            trace_id: &self.trace_id,
            record,
        });
    }
}
