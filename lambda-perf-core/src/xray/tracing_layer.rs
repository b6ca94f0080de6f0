//! [`XRayLayer`]: `tracing` spans opened inside an invocation become nested subsegments.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::{report, unavailable};
use crate::formats::error_chain::ErrorChain;
use crate::formats::failure::Failure;
use crate::formats::xray::{AnnotationValue, Namespace};
use crate::invocation::lifecycle::Invocation;
use crate::invocation::panic::write_debug;
use crate::invocation::trace::{Target, Trace};
use crate::invocation::{current, handler_span};
use crate::warn::WarnOnce;

/// A `tracing-subscriber` layer that records the spans opened inside an invocation —
/// `#[tracing::instrument]` functions, `info_span!` blocks — as nested subsegments of the
/// invocation's `## <handler>` subsegment, with their parent/child links.
///
/// Span fields follow a naming convention:
///
/// | field | becomes |
/// |---|---|
/// | `annotation.<key>` | the annotation `<key>` (strings, numbers, booleans; other values as their `Debug` text) |
/// | `xray.namespace` | the subsegment's namespace: `"aws"` or `"remote"` (another value is left out, counted as `xray.unknown_namespace`, with one warning) |
/// | any other field | metadata `<field>` in the `tracing` namespace (NaN and the infinities as the strings `"NaN"`, `"inf"`, `"-inf"`, which JSON has no number for) |
///
/// An `ERROR`-level event inside such a span (as `#[instrument(err)]` emits) marks the
/// subsegment faulted, with the event's `error` field (or its message) as the cause; one in a
/// span the layer does not record (below its level) marks the subsegment of its nearest
/// recorded ancestor. A field
/// recorded or an error emitted in a span whose invocation has ended (the span moved into
/// work that outlived it) is lost with its trace, already sent: counted
/// (`xray.invocation_ended`) with one warning.
///
/// A span created inside an invocation carries it: entered on another task (say
/// `tokio::spawn(work.instrument(span))`), its subsegment keeps its own timing, the spans
/// created inside it nest under it, and metrics, annotations and log lines recorded while it
/// is entered go to its invocation. Spans outside an invocation record nothing and cost one
/// lookup of the current invocation. Only spans of level `INFO` and above are recorded unless
/// [`with_max_level`](Self::with_max_level) says otherwise; a span of a level not recorded
/// that the layer is given still carries the invocation, standing in the subsegment it was
/// made in (what it carries opens its subsegments there), and opens none of its own. Added to
/// a registry as it is, the layer is given every span the registry makes; in
/// [`InitBuilder::layer`](crate::InitBuilder::layer)'s layers, the spans of the level
/// recorded and those the log lines' filter lets through (a `debug_span!` at `DEBUG`). A span
/// no layer lets through is not made at all (`tracing` hands back a disabled span) and carries
/// nothing. A span given an explicit parent
/// (`info_span!(parent: &span, ..)`) nests under that parent, or under its nearest ancestor
/// that is recorded when the parent itself is not (below the level recorded, or made at init,
/// outside any invocation: then where the span is made, in the current subsegment).
///
/// ```
/// use lambda_perf_core::xray::XRayLayer;
/// use tracing_subscriber::prelude::*;
///
/// tracing_subscriber::registry().with(XRayLayer::new()).init();
///
/// #[tracing::instrument(fields(annotation.user_id = %user_id, xray.namespace = "remote"))]
/// async fn get_user(user_id: u64) {}
/// ```
///
/// One X-Ray layer per registry records the spans: [`InitBuilder::layer`](crate::InitBuilder::layer)
/// includes one already. A second one added beside it records nothing of a span the first
/// records (it would open a second subsegment for it), with one warning; it records only the
/// spans the first leaves alone (those of a level only the second takes).
#[derive(Clone, Copy, Debug)]
pub struct XRayLayer {
    /// The most verbose level recorded; `None`: none (the spans only carry their invocation).
    max_level: Option<Level>,
    /// Which layer this is, to tell it from another X-Ray layer in the same registry.
    layer: LayerId,
}

/// Tells X-Ray layers apart: each made by [`XRayLayer::new`] has its own (a copy shares its
/// original's, and is the same layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LayerId(u64);

impl LayerId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for XRayLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl XRayLayer {
    /// The layer, recording spans of level `INFO` and above (libraries' `DEBUG` and `TRACE`
    /// spans would flood the trace); add it to a `tracing_subscriber::registry()`.
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_level: Some(Level::INFO),
            layer: LayerId::next(),
        }
    }

    /// Records spans up to `level` (`Level::DEBUG` records debug spans too).
    #[must_use]
    pub fn with_max_level(mut self, level: Level) -> Self {
        self.max_level = Some(level);
        self
    }

    /// This layer where it is installed, for what it notes of invocations' own spans (see
    /// [`handler_span`]): its address, which no other layer has while it is in use. Not its
    /// [`LayerId`], which a copy shares: a copy in another registry, whose span ids may be the
    /// same numbers, is another layer there. (Never zero-sized: it holds that id.)
    fn instance(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// A layer that records no span: the spans it sees only carry their invocation to the
    /// work and the lines inside them (for [`InitBuilder::xray_layer`](crate::InitBuilder::xray_layer)`(false)`).
    pub(crate) fn carrying_only() -> Self {
        Self {
            max_level: None,
            layer: LayerId::next(),
        }
    }
}

/// Stored in a span's extensions: the invocation it was created in, the subsegment it
/// stands in, and the layer that records it.
struct SpanState {
    invocation: Arc<Invocation>,
    /// Its own subsegment when it opened one, else the one it was made in (where work it
    /// carries opens its subsegments); `None`: the handler's.
    subsegment: Option<u64>,
    /// Whether `subsegment` is its own, opened for it (a span of a level recorded, in a
    /// recorded invocation that had not ended).
    opened: bool,
    layer: LayerId,
    /// Whether its layer records no span (`xray_layer(false)`): another X-Ray layer takes the
    /// span over, so that its own ERROR events find it.
    carries_only: bool,
}

impl<S> Layer<S> for XRayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if handler_span::is_handler_span(attrs.metadata()) {
            // Made by the invocation's future, with the invocation current.
            if let Ok(invocation) =
                current::with_current(|current| Arc::clone(current.invocation()))
            {
                handler_span::carried_by(self.instance(), id.into_u64(), invocation);
                handler_span::noted_by(self.instance());
            }
            return;
        }
        let records = self
            .max_level
            .is_some_and(|max_level| *attrs.metadata().level() <= max_level);
        let Some(span) = ctx.span(id) else {
            return;
        };
        // Another X-Ray layer of the registry met it first: a span it records is left to it;
        // one it only carries is taken over when this one records it, or when that one
        // records no span at all.
        match span
            .extensions()
            .get::<SpanState>()
            .map(|state| (state.opened, state.carries_only))
        {
            // A layer that records nothing (`xray_layer(false)`) is no second X-Ray layer: it
            // leaves a span another one met to that one.
            Some(_) if self.max_level.is_none() => return,
            Some((true, _)) => {
                another_layer_records_it();
                return;
            }
            Some((false, false)) if !records => return,
            Some((false, _)) | None => {}
        }
        // An explicit parent is taken as given, or its nearest recorded ancestor when it is
        // not recorded itself (below the level recorded, say); a span in the current context
        // nests in the current subsegment (a span's or a `Subsegment`'s), as does one whose
        // explicit parent has no recorded ancestor (made at init, outside any invocation); a
        // root span in the handler's. An invocation's own span (`tracing::Span::current()` in
        // its handler, see [`handler_span`]) stands in the handler's subsegment.
        let explicit_parent =
            attrs
                .parent()
                .and_then(|parent| ctx.span(parent))
                .and_then(|parent| {
                    parent.scope().find_map(|span| {
                        if handler_span::is_handler_span(span.metadata()) {
                            return handler_span::invocation_of(
                                self.instance(),
                                span.id().into_u64(),
                            )
                            .map(|invocation| (invocation, None));
                        }
                        let extensions = span.extensions();
                        let state = extensions.get::<SpanState>()?;
                        Some((Arc::clone(&state.invocation), state.subsegment))
                    })
                });
        let (invocation, parent) = match explicit_parent {
            Some(found) => found,
            None => match current::with_current(|current| {
                let parent = (!attrs.is_root()).then(|| current.subsegment()).flatten();
                (Arc::clone(current.invocation()), parent)
            }) {
                Ok(found) => found,
                Err(_) => return,
            },
        };
        // A span of work that outlived its invocation (or made under its state) opens no
        // subsegment: reported as a `Subsegment` is, counted with one warning. A span below
        // the level recorded opens none either: it carries the invocation, standing where it
        // was made.
        let opened = if records {
            super::open_in(&invocation, |state| {
                let trace = state.trace.as_mut()?;
                let subsegment = trace.open(Cow::Borrowed(attrs.metadata().name()), parent);
                attrs.record(&mut Fields { trace, subsegment });
                Some(subsegment)
            })
        } else {
            None
        };
        let state = SpanState {
            invocation,
            subsegment: opened.or(parent),
            opened: opened.is_some(),
            layer: self.layer,
            carries_only: self.max_level.is_none(),
        };
        // Replacing the state of a span another layer only carries (see above).
        span.extensions_mut().replace(state);
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        self.with_span(&ctx, id, |state| {
            let (invocation, Some(subsegment)) = (&state.invocation, state.own_subsegment()) else {
                return;
            };
            let recorded = invocation.with_state(|state| {
                if let Some(trace) = &mut state.trace {
                    values.record(&mut Fields { trace, subsegment });
                }
            });
            // Recorded by work that outlived its invocation: lost, and reported as such.
            report(recorded.map_err(unavailable));
        });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        // An invocation's own span, entered around a poll of its handler: its task carries
        // the invocation already.
        if handler_span::by_its_own_task(self.instance(), id.into_u64()) {
            return;
        }
        self.with_span_or_handler_span(
            &ctx,
            id,
            |state| {
                current::enter_span(
                    id.into_u64(),
                    &state.invocation,
                    state.subsegment,
                    state.opened,
                );
            },
            || {
                // On a task that carries an invocation of its own (the handler's, polled
                // inside it), the span lends nothing that would be asked for.
                if !current::on_a_carrying_task() {
                    if let Some(invocation) =
                        handler_span::invocation_of(self.instance(), id.into_u64())
                    {
                        current::enter_span(id.into_u64(), &invocation, None, false);
                    }
                }
            },
        );
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if handler_span::by_its_own_task(self.instance(), id.into_u64()) {
            return;
        }
        self.with_span_or_handler_span(
            &ctx,
            id,
            |state| current::exit_span(id.into_u64(), &state.invocation),
            || {
                if !current::on_a_carrying_task() {
                    current::exit_span_off_task(id.into_u64());
                }
            },
        );
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        // The event's span, or its nearest ancestor the layer records when it records that
        // span not (below its level): where a span made there would nest.
        let Some((invocation, Some(subsegment))) = span
            .scope()
            .find_map(|span| {
                let extensions = span.extensions();
                let state = extensions.get::<SpanState>()?;
                Some((Arc::clone(&state.invocation), state.subsegment, state.layer))
            })
            .filter(|(_, _, layer)| *layer == self.layer)
            .map(|(invocation, subsegment, _)| (invocation, subsegment))
        else {
            return;
        };
        let mut message = ErrorMessage::default();
        event.record(&mut message);
        let failure = Failure::new(
            "error",
            message.error.or(message.message).unwrap_or_default(),
        );
        let recorded = invocation.with_state(|state| {
            if let Some(trace) = &mut state.trace {
                trace.record_error(Target::Exactly(subsegment), &failure);
            }
        });
        report(recorded.map_err(unavailable));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // An invocation's own span, closed as its invocation ends.
        if handler_span::by_its_own_task(self.instance(), id.into_u64()) {
            handler_span::closed(self.instance(), id.into_u64());
            return;
        }
        self.with_span_or_handler_span(
            &ctx,
            &id,
            |state| {
                let invocation = &state.invocation;
                if let Some(subsegment) = state.own_subsegment() {
                    // An invocation that ended first has already closed and sent it.
                    let _ = invocation
                        .with_state(|state| invocation.close_subsegment(state, subsegment));
                }
            },
            || handler_span::closed(self.instance(), id.into_u64()),
        );
    }
}

impl XRayLayer {
    /// Runs `f` on the state of span `id` when this layer records the span, or
    /// `handler_span` when it is an invocation's own span around its handler (see
    /// [`handler_span`]): one look-up of the span for both.
    fn with_span_or_handler_span<S>(
        &self,
        ctx: &Context<'_, S>,
        id: &Id,
        f: impl FnOnce(&SpanState),
        handler_span: impl FnOnce(),
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(span) = ctx.span(id) else {
            return;
        };
        if handler_span::is_handler_span(span.metadata()) {
            drop(span);
            handler_span();
            return;
        }
        let extensions = span.extensions();
        if let Some(state) = extensions.get::<SpanState>() {
            if state.layer == self.layer {
                f(state);
            }
        }
    }

    /// Runs `f` on the state of span `id`, when this layer records the span (not another
    /// X-Ray layer of the same registry).
    fn with_span<S>(&self, ctx: &Context<'_, S>, id: &Id, f: impl FnOnce(&SpanState))
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // An invocation's own span holds no state.
        self.with_span_or_handler_span(ctx, id, f, || {});
    }
}

impl SpanState {
    /// The subsegment opened for the span, if one was.
    fn own_subsegment(&self) -> Option<u64> {
        self.subsegment.filter(|_| self.opened)
    }
}

/// A second X-Ray layer in the registry met a span the first records: it leaves the span to
/// that one, and warns once.
#[cold]
fn another_layer_records_it() {
    static TWICE: WarnOnce = WarnOnce::new();
    TWICE.warn(
        "two X-Ray layers are installed in one tracing registry (InitBuilder::layer() includes \
         one already): spans are recorded by the first, once",
    );
}

/// Counts an `xray.namespace` that is neither `aws` nor `remote`, left out, and warns of the
/// first.
#[cold]
fn unknown_namespace(value: &Value) {
    static UNKNOWN: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.unknown_namespace");
    UNKNOWN.warn(format_args!(
        "a span's xray.namespace is {value}, not \"aws\" or \"remote\"; it was left out \
         (counted in lambda_perf.dropped)"
    ));
}

/// Applies span fields to a subsegment, by the naming convention.
struct Fields<'a> {
    trace: &'a mut Trace,
    subsegment: u64,
}

impl Fields<'_> {
    fn apply(&mut self, field: &Field, annotation: AnnotationValue, metadata: Value) {
        let name = field.name();
        if let Some(key) = name.strip_prefix("annotation.") {
            let result = self.trace.annotate(
                Target::Exactly(self.subsegment),
                Cow::Owned(key.to_owned()),
                annotation,
            );
            report(result);
        } else if name == "xray.namespace" {
            if let Some(record) = self.trace.nested_mut(self.subsegment) {
                match metadata.as_str() {
                    Some("aws") => record.namespace = Some(Namespace::Aws),
                    Some("remote") => record.namespace = Some(Namespace::Remote),
                    _ => unknown_namespace(&metadata),
                }
            }
        } else {
            self.trace.add_metadata(
                Target::Exactly(self.subsegment),
                "tracing".into(),
                name.to_owned().into(),
                metadata,
            );
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.apply(
            field,
            AnnotationValue::from(value.to_owned()),
            Value::from(value),
        );
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.apply(field, value.into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let annotation =
            i64::try_from(value).map_or(AnnotationValue::Float(value as f64), Into::into);
        self.apply(field, annotation, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no number for NaN and the infinities, which a `Value` would make `null`:
        // as metadata they are kept as their text (`"NaN"`, `"inf"`, `"-inf"`), as log lines
        // keep them. As an annotation X-Ray refuses them, counted.
        let metadata = if value.is_finite() {
            value.into()
        } else {
            Value::String(value.to_string())
        };
        self.apply(field, value.into(), metadata);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.apply(field, value.into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{}", ErrorChain(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = debug_text(value);
        self.apply(
            field,
            AnnotationValue::from(text.clone()),
            Value::from(text),
        );
    }
}

/// The `error` field and message of an event.
#[derive(Default)]
struct ErrorMessage {
    error: Option<String>,
    message: Option<String>,
}

impl Visit for ErrorMessage {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{}", ErrorChain(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "error" => self.error = Some(debug_text(value)),
            "message" => self.message = Some(debug_text(value)),
            _ => {}
        }
    }
}

/// `value`'s `Debug` text (a `%` field's `Display`). It is user code: one that panics is
/// described as such instead of turning the span or event into a panic of the handler; one
/// that returns an error is described as that, without a panic (which the panic hook would
/// print, and `panic = "abort"` would turn into the end of the process).
fn debug_text(value: &dyn fmt::Debug) -> String {
    let mut text = String::new();
    match write_debug(&mut text, value) {
        Ok(()) => text,
        Err(failure) => failure.to_string(),
    }
}
