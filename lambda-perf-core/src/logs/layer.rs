//! [`LogLayer`]: every `tracing` event it is given becomes one line on stdout, with the
//! fields of the event and its spans and, inside an invocation, the invocation's keys.

use std::cell::RefCell;
use std::time::SystemTime;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::event::is_incoming_event;
use super::level::from_tracing;
use super::trimmed::count_trimmed_line;
use super::visit::{Recorder, is_log_record};
use super::writer::{write_log_lines, write_spread_log_line};
use crate::formats::log::LogFormat;
use crate::formats::log::fields::LogFields;
use crate::formats::log::indented::append_indented;
use crate::formats::log::line::{InvocationKeys, LineHead};
use crate::formats::log::line_cap::{LineFit, append_fitting_line};
use crate::formats::log::sampling::Sampling;
use crate::invocation::current;
use crate::invocation::just_failed;
use crate::invocation::lifecycle::Invocation;
use crate::outputs::line_writer::LineWriter;

/// Buffers that grew past this are not kept for the next line.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

thread_local! {
    /// The fields and the line being written on this thread, reused from line to line.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    fields: LogFields,
    line: Vec<u8>,
    /// The target of a `log` record (see [`is_log_record`]).
    log_target: String,
    /// The line indented, when lines are.
    indented: Vec<u8>,
}

/// Writes log lines; filtered by a [`LogFilter`](super::filter::LogFilter) of its own.
#[derive(Debug)]
pub(crate) struct LogLayer {
    pub(crate) format: LogFormat,
    /// JSON lines indented for reading (`POWERTOOLS_DEV`).
    pub(crate) indented: bool,
    /// Written as `sampling_rate` on every line of an invocation.
    pub(crate) sampling: Option<Sampling>,
    pub(crate) writer: LineWriter,
    pub(crate) clock: fn() -> SystemTime,
}

/// A span's fields, encoded once per format, in the span's extensions: one registry may hold
/// several log layers (a JSON one and a text one, say), and each reads the encoding of its
/// own format. Layers of the same format encode the same fields the same way, so they share
/// theirs.
#[derive(Default)]
struct SpanFields {
    json: Option<LogFields>,
    text: Option<LogFields>,
}

impl SpanFields {
    fn of(&self, format: LogFormat) -> Option<&LogFields> {
        match format {
            LogFormat::Json => self.json.as_ref(),
            LogFormat::Text => self.text.as_ref(),
        }
    }

    fn of_mut(&mut self, format: LogFormat) -> &mut Option<LogFields> {
        match format {
            LogFormat::Json => &mut self.json,
            LogFormat::Text => &mut self.text,
        }
    }
}

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = LogFields::new(self.format);
        attrs.record(&mut span_recorder(&mut fields));
        if fields.is_empty() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            // Another log layer of the same format has encoded them already, the same way.
            Some(span_fields) => {
                span_fields.of_mut(self.format).get_or_insert(fields);
            }
            None => {
                let mut span_fields = SpanFields::default();
                *span_fields.of_mut(self.format) = Some(fields);
                extensions.insert(span_fields);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut newer = LogFields::new(self.format);
        values.record(&mut span_recorder(&mut newer));
        if newer.is_empty() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        // Layers of the same format each update the one encoding they share: an update
        // applied twice leaves what it left once.
        match extensions.get_mut::<SpanFields>() {
            Some(span_fields) => match span_fields.of_mut(self.format) {
                Some(fields) => fields.update(&newer),
                None => *span_fields.of_mut(self.format) = Some(newer),
            },
            None => {
                let mut span_fields = SpanFields::default();
                *span_fields.of_mut(self.format) = Some(newer);
                extensions.insert(span_fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        with_scratch(
            |Scratch {
                 fields,
                 line,
                 log_target,
                 indented,
             }| {
                fields.reset(self.format);
                if let Some(scope) = ctx.event_scope(event) {
                    for span in scope.from_root() {
                        let extensions = span.extensions();
                        if let Some(span_fields) = extensions
                            .get::<SpanFields>()
                            .and_then(|span_fields| span_fields.of(self.format))
                        {
                            fields.extend(span_fields);
                        }
                    }
                }
                let metadata = event.metadata();
                let from_log = is_log_record(metadata);
                log_target.clear();
                event.record(&mut Recorder {
                    fields,
                    is_event: true,
                    json_field: is_incoming_event(metadata).then_some("event"),
                    log_target: from_log.then_some(&mut *log_target),
                });
                // A `log` record is written with its own target, as its level was filtered.
                let target = if from_log && !log_target.is_empty() {
                    log_target.as_str()
                } else {
                    metadata.target()
                };
                let timestamp = (self.clock)();
                let level = from_tracing(metadata.level());
                line.clear();
                let with_keys = |line: &mut Vec<u8>, invocation: &Invocation| {
                    let keys = keys(invocation, self.sampling.as_ref());
                    let head = LineHead {
                        timestamp,
                        level,
                        target,
                        invocation: Some(keys),
                    };
                    append_fitting_line(line, &head, fields)
                };
                // The runtime's own lines about a handler that just failed belong to its
                // invocation, though they come once its future has completed.
                let written = current::with_invocation(|invocation| with_keys(line, invocation))
                    .ok()
                    .or_else(|| {
                        just_failed::take_for_line(target, |invocation| with_keys(line, invocation))
                    });
                let fit = written.unwrap_or_else(|| {
                    let head = LineHead {
                        timestamp,
                        level,
                        target,
                        invocation: None,
                    };
                    append_fitting_line(line, &head, fields)
                });
                if fit == LineFit::Trimmed {
                    count_trimmed_line();
                }
                if self.indented && self.format == LogFormat::Json {
                    indented.clear();
                    append_indented(indented, line);
                    write_spread_log_line(&self.writer, indented);
                } else {
                    write_log_lines(&self.writer, line);
                }
            },
        );
    }
}

fn span_recorder(fields: &mut LogFields) -> Recorder<'_> {
    Recorder {
        fields,
        is_event: false,
        json_field: None,
        log_target: None,
    }
}

/// The invocation's keys, from its facts, its settings and its Lambda context.
fn keys<'a>(invocation: &'a Invocation, sampling: Option<&Sampling>) -> InvocationKeys<'a> {
    let facts = invocation.facts();
    let context = invocation.function_context();
    InvocationKeys {
        service: &invocation.settings().service,
        sampling_rate: sampling.map(|sampling| sampling.rate),
        cold_start: facts.is_cold_start(),
        start_kind: facts.start_kind().as_str(),
        function_name: context.function_name(),
        function_memory_size: context.memory_size_mb(),
        function_arn: context.function_arn(),
        function_request_id: facts.request_id(),
        xray_trace_id: context.trace_root(),
    }
}

/// Runs `f` on this thread's scratch buffers, or on fresh ones while they are in use (an
/// event logged from inside a field's `Debug`) or gone (thread teardown).
fn with_scratch(f: impl FnOnce(&mut Scratch)) {
    let mut f = Some(f);
    let _ = SCRATCH.try_with(|cell| {
        if let Ok(mut scratch) = cell.try_borrow_mut() {
            if let Some(f) = f.take() {
                f(&mut scratch);
            }
            if scratch.line.capacity() > KEPT_BUFFER_BYTES
                || scratch.fields.capacity() > KEPT_BUFFER_BYTES
                || scratch.log_target.capacity() > KEPT_BUFFER_BYTES
                || scratch.indented.capacity() > KEPT_BUFFER_BYTES
            {
                *scratch = Scratch::default();
            }
        }
    });
    if let Some(f) = f {
        f(&mut Scratch::default());
    }
}
