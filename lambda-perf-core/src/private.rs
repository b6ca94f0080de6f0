//! What `#[instrument_lambda]` expansions call. Not public API: nothing here is stable, and
//! only the macro should name it.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

pub use crate::formats::faas_trigger::FaasTrigger;
pub use crate::formats::failure::Failure;
use crate::layer::invocation_future;
pub use crate::layer::invocation_future::{DescribeResult, InvocationFuture};
pub use serde_json::Value;

use crate::invocation::instrumentation::Instrumentation;
use crate::invocation::lifecycle::Invocation;
use crate::layer::{PerfLayer, PerfLayerBuilder};
use crate::warn::WarnOnce;

/// The options written in `#[instrument_lambda(...)]`.
#[derive(Debug)]
pub struct Options {
    /// `name = ...`; without it the handler is named as [`PerfLayer`] names it (the
    /// function name).
    pub name: Option<&'static str>,
    /// `service = ...`
    pub service: Option<&'static str>,
    /// `namespace = ...`
    pub namespace: Option<&'static str>,
    /// `capture_response = ...`
    pub capture_response: Option<bool>,
    /// `capture_error = ...`
    pub capture_error: Option<bool>,
    /// `cold_start_metric = ...`
    pub cold_start_metric: Option<bool>,
    /// `faas_trigger = ...` (what the `opentelemetry` feature's handler spans say; without
    /// the feature there is nothing to say it)
    pub faas_trigger: Option<FaasTrigger>,
}

/// `redact = path::to::function`: given to [`begin`] rather than kept in the handler's static
/// [`Options`], so that the path may name `Self` (an associated function of the handler's
/// type), which a static's initializer cannot.
pub type Redact = Option<fn(crate::invocation::redaction::Captured, Value) -> Option<Value>>;

/// One instrumented handler: its options and, from its first call on, its configuration.
pub struct Handler {
    options: Options,
    instrumentation: OnceLock<Arc<Instrumentation>>,
    /// Warns that the options are not applied, the first time the handler runs inside an
    /// instrumentation around it.
    options_unused: WarnOnce,
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("options", &self.options)
            .field("instrumentation", &self.instrumentation)
            .finish_non_exhaustive()
    }
}

impl Handler {
    /// A handler with these options; nothing is read until the first call.
    pub const fn new(options: Options) -> Self {
        Self {
            options,
            instrumentation: OnceLock::new(),
            options_unused: WarnOnce::new(),
        }
    }

    /// Inside an instrumentation around it, which records the invocation with its own
    /// settings: warns once that the options written on the handler are not applied (without
    /// options, there is nothing to tell).
    #[cold]
    fn nested(&self, redact: Redact) {
        if self.options.given(redact).next().is_some() {
            self.options_unused.warn(format_args!(
                "#[instrument_lambda] options ({}) are not applied: the handler runs inside an \
                 instrumentation around it (a PerfLayer, the test recorder), which records the \
                 invocation with its own settings",
                GivenOptions(&self.options, redact)
            ));
        }
    }

    /// The environment's configuration with the macro's options (and `redact`) on top, read
    /// at the first call. An invalid option value costs one warning and falls back to the
    /// default, as an invalid variable does.
    fn instrumentation(&self, redact: Redact) -> &Arc<Instrumentation> {
        self.instrumentation
            .get_or_init(|| self.options.builder(redact).build_lenient().instrumentation)
    }
}

impl Options {
    /// The names of the options given (and `redact`, when given).
    fn given(&self, redact: Redact) -> impl Iterator<Item = &'static str> {
        [
            ("name", self.name.is_some()),
            ("service", self.service.is_some()),
            ("namespace", self.namespace.is_some()),
            ("capture_response", self.capture_response.is_some()),
            ("capture_error", self.capture_error.is_some()),
            ("cold_start_metric", self.cold_start_metric.is_some()),
            ("faas_trigger", self.faas_trigger.is_some()),
            ("redact", redact.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
    }

    /// The environment's configuration with these options, and `redact`, on top.
    fn builder(&self, redact: Redact) -> PerfLayerBuilder {
        let mut builder = PerfLayer::builder();
        if let Some(name) = self.name {
            builder = builder.handler_name(name);
        }
        if let Some(service) = self.service {
            builder = builder.service(service);
        }
        if let Some(namespace) = self.namespace {
            builder = builder.namespace(namespace);
        }
        if let Some(enabled) = self.capture_response {
            builder = builder.capture_response(enabled);
        }
        if let Some(enabled) = self.capture_error {
            builder = builder.capture_error(enabled);
        }
        if let Some(enabled) = self.cold_start_metric {
            builder = builder.cold_start_metric(enabled);
        }
        #[cfg(feature = "opentelemetry")]
        if let Some(trigger) = self.faas_trigger {
            builder = builder.faas_trigger(trigger);
        }
        if let Some(redact) = redact {
            builder = builder.redact(redact);
        }
        builder
    }
}

/// The options given, as a warning names them (`name, capture_response`): written only when
/// the warning is, so that the nested handler's later invocations format nothing.
struct GivenOptions<'a>(&'a Options, Redact);

impl fmt::Display for GivenOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, name) in self.0.given(self.1).enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// An event the handler receives, with its Lambda context.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Lambda event #[instrument_lambda] can instrument",
    note = "the handler takes `lambda_runtime::LambdaEvent<T>`, or `lambda_http::Request` with lambda-perf-core's `http` feature"
)]
pub trait LambdaRequest {
    /// The invocation's context.
    fn lambda_context(&self) -> Option<&lambda_runtime::Context>;

    /// What set the invocation off, as far as the event's type tells: `Other` unless known.
    fn faas_trigger(&self) -> FaasTrigger {
        FaasTrigger::Other
    }
}

impl<T> LambdaRequest for lambda_runtime::LambdaEvent<T> {
    fn lambda_context(&self) -> Option<&lambda_runtime::Context> {
        Some(&self.context)
    }
}

#[cfg(feature = "http")]
impl LambdaRequest for lambda_http::Request {
    fn lambda_context(&self) -> Option<&lambda_runtime::Context> {
        lambda_http::RequestExt::lambda_context_ref(self)
    }

    fn faas_trigger(&self) -> FaasTrigger {
        FaasTrigger::Http
    }
}

/// What a handler returns: a `Result`, as a Lambda handler's is. Checked where the handler's
/// return type is written, so that a handler that returns something else (`-> Value`, a
/// forgotten `Result`) is told so there, rather than by what the expansion calls.
#[diagnostic::on_unimplemented(
    message = "#[instrument_lambda] needs a handler that returns `Result<T, E>`, not `{Self}`",
    label = "not a `Result`",
    note = "a Lambda handler returns `Result<T, E>`, or an alias of it such as `anyhow::Result<T>`"
)]
pub trait HandlerResult {}

impl<R, E> HandlerResult for Result<R, E> {}

/// Fails to build unless the handler's value is a `Result` ([`HandlerResult`]).
pub fn returns_result<T: HandlerResult>(_: &T) {}

/// An invocation that has begun: the start is classified and the `ColdStart` line written.
#[derive(Debug)]
pub struct Begun(invocation_future::Begun);

/// Begins the invocation of `event`, before the handler's body runs. Inside an invocation
/// begun around the handler (a `PerfLayer`, the test recorder), that one records it: the
/// handler's own configuration is not even read, so it warns about nothing that is not used,
/// but once that the options written on the handler, if any, are not applied.
pub fn begin<E: LambdaRequest + ?Sized>(
    handler: &'static Handler,
    redact: Redact,
    event: &E,
) -> Begun {
    let begun = invocation_future::begin_with(|| {
        let instrumentation = handler.instrumentation(redact);
        let fallback;
        let context = match event.lambda_context() {
            Some(context) => context,
            None => {
                fallback = lambda_runtime::Context::default();
                &fallback
            }
        };
        Invocation::begin(instrumentation, context, event.faas_trigger())
    });
    if matches!(begun, invocation_future::Begun::Nested(_)) {
        handler.nested(redact);
    }
    Begun(begun)
}

/// Runs the handler's body inside its invocation. `kind` (from [`KindHttp`] or [`KindOther`])
/// tells `response` what the event was, so that it captures a response as `PerfLayer` does
/// for that event.
pub fn instrument<F, R, E, K>(
    begun: Begun,
    kind: K,
    future: F,
    response: fn(ResponseProbe<'_, K, R>, &mut Vec<u8>) -> bool,
    failure: fn(&E) -> Failure,
) -> InvocationFuture<F, FnOutcomes<R, E, K>>
where
    F: Future<Output = Result<R, E>>,
    K: Copy,
{
    InvocationFuture::new(
        begun.0,
        future,
        FnOutcomes {
            kind,
            response,
            failure,
        },
    )
}

/// Results described by functions chosen where the handler's types are known.
pub struct FnOutcomes<R, E, K> {
    kind: K,
    response: fn(ResponseProbe<'_, K, R>, &mut Vec<u8>) -> bool,
    failure: fn(&E) -> Failure,
}

impl<R, E, K: Copy> DescribeResult<R, E> for FnOutcomes<R, E, K> {
    fn write_response(&self, response: &R, out: &mut Vec<u8>) -> bool {
        (self.response)(ResponseProbe(self.kind, response), out)
    }

    fn failure(&self, error: &E) -> Failure {
        (self.failure)(error)
    }
}

impl<R, E, K> fmt::Debug for FnOutcomes<R, E, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnOutcomes").finish_non_exhaustive()
    }
}

/// Wraps a value for method resolution by reference depth ("autoref specialization"): the
/// methods take `self` by value, so a call on `&&&Probe` picks the impl for `&&&Probe` when
/// its bounds hold for the concrete type where the macro expands, else the one for
/// `&&Probe`, else the one for `&Probe`.
#[derive(Debug)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// The event of a `lambda_http` handler: its responses are captured as `PerfLayer` captures
/// them for `lambda_http::Request`, as their status.
#[derive(Clone, Copy, Debug)]
pub struct HttpEvent;

/// Any other event: `Serialize` responses are captured as JSON.
#[derive(Clone, Copy, Debug)]
pub struct OtherEvent;

/// A `lambda_http::Request` is an [`HttpEvent`] (with the `http` feature; without it, the
/// trait has no impls).
pub trait KindHttp {
    /// [`HttpEvent`].
    fn lambda_perf_kind(self) -> HttpEvent;
}

#[cfg(feature = "http")]
impl KindHttp for &&Probe<'_, lambda_http::Request> {
    fn lambda_perf_kind(self) -> HttpEvent {
        HttpEvent
    }
}

/// Any other event is an [`OtherEvent`].
pub trait KindOther {
    /// [`OtherEvent`].
    fn lambda_perf_kind(self) -> OtherEvent;
}

impl<T: ?Sized> KindOther for &Probe<'_, T> {
    fn lambda_perf_kind(self) -> OtherEvent {
        OtherEvent
    }
}

/// A handler's response with the kind of its event, for method resolution by reference depth
/// as [`Probe`].
#[derive(Debug)]
pub struct ResponseProbe<'a, K, T: ?Sized>(pub K, pub &'a T);

/// A `lambda_http` handler's response is captured as its status, whatever its type, as
/// `PerfLayer` captures it (with the `http` feature; without it, the trait has no impls).
pub trait CaptureHttpStatus {
    /// Appends `{"status": <code>}` to `out`.
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool;
}

#[cfg(feature = "http")]
impl<R> CaptureHttpStatus for &&&&ResponseProbe<'_, HttpEvent, R>
where
    crate::layer::HttpStatus: crate::layer::ResponseCapture<R>,
{
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool {
        <crate::layer::HttpStatus as crate::layer::ResponseCapture<R>>::write_json(
            self.1,
            crate::layer::capture::JsonText(out),
        )
    }
}

/// An HTTP response is captured as its status, whatever the event (with the `http` feature;
/// without it, the trait has no impls).
pub trait CaptureHttp {
    /// Appends `{"status": <code>}` to `out`.
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool;
}

#[cfg(feature = "http")]
impl<K, B> CaptureHttp for &&&ResponseProbe<'_, K, http::Response<B>> {
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool {
        <crate::layer::HttpStatus as crate::layer::ResponseCapture<_>>::write_json(
            self.1,
            crate::layer::capture::JsonText(out),
        )
    }
}

/// A `Serialize` response to any event but an HTTP request is captured as JSON.
pub trait CaptureSerialize {
    /// Appends the response as JSON to `out`; `false` when it cannot be.
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool;
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&ResponseProbe<'_, OtherEvent, T> {
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool {
        crate::layer::capture::write_serialized(self.1, out)
    }
}

/// Any other response is not captured: where `PerfLayer` would not build without being told
/// so (`without_response_capture`), the macro says so once, at the first response it cannot
/// capture, rather than leave the metadata out in silence. A generic handler whose response
/// type has no `Serialize` bound where it is written lands here too, though `PerfLayer` would
/// capture it: the warning names the fix.
pub trait CaptureNothing {
    /// Nothing: returns `false`, counted, after one warning in the process.
    fn lambda_perf_capture(self, out: &mut Vec<u8>) -> bool;
}

impl<K, T: ?Sized> CaptureNothing for &ResponseProbe<'_, K, T> {
    fn lambda_perf_capture(self, _: &mut Vec<u8>) -> bool {
        not_capturable(std::any::type_name::<T>());
        false
    }
}

/// A response of type `type_name` cannot be captured: counted
/// (`xray.response_not_capturable`, on the invocation's own subsegment), and warned about once.
#[cold]
fn not_capturable(type_name: &str) {
    static NOT_CAPTURABLE: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.response_not_capturable");
    NOT_CAPTURABLE.warn(format_args!(
        "#[instrument_lambda] cannot capture a response of type `{type_name}`: it is not \
         `serde::Serialize` where the handler is written (in a generic handler, bound the \
         response type by `serde::Serialize`), so it is left out of the trace; \
         `capture_response = false` turns the capture off without this warning"
    ));
}

/// Errors of the runtime's types give their message, others their `Debug`.
pub trait DescribeKnown {
    /// Type and message.
    fn lambda_perf_describe(self) -> Failure;
}

impl<T: fmt::Debug + 'static> DescribeKnown for &&&Probe<'_, T> {
    fn lambda_perf_describe(self) -> Failure {
        Failure::from_error(self.0)
    }
}

/// Errors of a type that is not `'static`, which `Failure::from_error` cannot look into:
/// their `Debug`. (A handler returning one does not build under the macro today, as
/// `PerfLayer` needs `'static` errors too; this keeps the probe total.)
pub trait DescribeDebug {
    /// Type and message.
    fn lambda_perf_describe(self) -> Failure;
}

impl<T: fmt::Debug + ?Sized> DescribeDebug for &&Probe<'_, T> {
    fn lambda_perf_describe(self) -> Failure {
        Failure::from_debug(self.0)
    }
}

/// Errors without `Debug`: their type.
pub trait DescribeType {
    /// Type and an empty message.
    fn lambda_perf_describe(self) -> Failure;
}

impl<T: ?Sized> DescribeType for &Probe<'_, T> {
    fn lambda_perf_describe(self) -> Failure {
        Failure::from_type::<T>()
    }
}

/// A handler whose event payload is `Serialize` logs it on entry when asked
/// (`POWERTOOLS_LOGGER_LOG_EVENT`, see [`logs::log_event`]).
///
#[cfg_attr(
    feature = "tracing",
    doc = "[`logs::log_event`]: crate::logs::log_event"
)]
#[cfg_attr(
    not(feature = "tracing"),
    doc = "[`logs::log_event`]: crate#feature-flags"
)]
pub trait LogEventSerialize {
    /// Logs the payload, if asked.
    fn lambda_perf_log_event(self);
}

impl<P: Serialize> LogEventSerialize for &&Probe<'_, lambda_runtime::LambdaEvent<P>> {
    fn lambda_perf_log_event(self) {
        #[cfg(feature = "tracing")]
        crate::logs::log_event(&self.0.payload);
        #[cfg(not(feature = "tracing"))]
        let _ = self;
    }
}

/// Any other event (a payload that is not `Serialize`, an HTTP request) is not logged.
pub trait LogEventOpaque {
    /// Nothing.
    fn lambda_perf_log_event(self);
}

impl<T: ?Sized> LogEventOpaque for &Probe<'_, T> {
    fn lambda_perf_log_event(self) {}
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use super::*;

    #[test]
    fn a_lambda_http_request_is_an_http_trigger_and_a_lambda_event_an_unknown_one() {
        let request = lambda_http::Request::default();
        assert_eq!(LambdaRequest::faas_trigger(&request), FaasTrigger::Http);
        let event = lambda_runtime::LambdaEvent::new((), lambda_runtime::Context::default());
        assert_eq!(LambdaRequest::faas_trigger(&event), FaasTrigger::Other);
    }
}
