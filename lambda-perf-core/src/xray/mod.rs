//! X-Ray: the `## <handler>` subsegment of every sampled invocation, annotations, metadata,
//! nested subsegments and errors, sent to the X-Ray daemon as the official SDKs do in Lambda.
//!
//! Lambda owns the function segment; lambda-perf never sends a segment. For each invocation
//! whose trace header (from the invocation's context, never a process-wide variable) says
//! `Sampled=1`, [`PerfLayer`](crate::PerfLayer) opens a subsegment `## <handler>` whose
//! parent is Lambda's function segment, with the annotations `ColdStart`, `StartKind` and
//! `Service`, the invocation facts as `lambda_perf` metadata, and the response (or error) as
//! `"<handler> response"` (`"<handler> error"`) metadata in the service's namespace. Each
//! subsegment is sent as one UDP datagram when it closes. An invocation still running a margin
//! before its deadline also sends in-progress copies (`"in_progress": true`, faulted with a
//! timeout cause) of its handler subsegment and of the nested ones still open: what remains if
//! Lambda ends the process at the deadline, replaced by the complete documents otherwise. Unsampled invocations, missing or
//! malformed headers and `POWERTOOLS_TRACE_DISABLED` record nothing and cost next to nothing.
//!
//! ```
//! use lambda_perf_core::xray::{self, Subsegment};
//!
//! async fn handler() -> Result<(), std::io::Error> {
//!     xray::annotate("customer_tier", "gold");
//!     xray::add_metadata("orders", "basket", serde_json::json!({ "items": 3 }));
//!
//!     let price = xray::in_subsegment("## price", async { 42 }).await;
//!     let total = Subsegment::new("## tax").in_scope(|| price * 2);
//!
//!     // The try_ forms say what X-Ray would not accept instead of warning:
//!     assert!(xray::try_annotate("bad-key", 1).is_err());
//!     # let _ = total;
//!     Ok(())
//! }
//! ```
//!
//! Annotation keys must match `[A-Za-z0-9_]{1,500}`, string values have at most 1000
//! characters, a trace indexes at most 50 annotations, and metadata namespaces starting with
//! `AWS.` are reserved: the `try_` functions return an [`XRayError`] for each, the plain ones
//! warn once per kind of error. X-Ray's SDKs drop such entries silently.

mod subsegment;
#[cfg(feature = "tracing")]
mod tracing_layer;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use serde::Serialize;

pub use self::subsegment::{AnyOutput, FallibleOutput, Instrumented, OutputPolicy, Subsegment};
#[cfg(feature = "tracing")]
pub use self::tracing_layer::XRayLayer;
use crate::formats::failure::Failure;
use crate::formats::xray::annotation;
use crate::formats::xray::metadata_value::MetadataValue;
pub use crate::formats::xray::{
    AnnotationValue, Http, Namespace, Sampled, SubsegmentDocument, TraceHeader, XRayError,
};
use crate::invocation::current::{self, Unavailable};
use crate::invocation::lifecycle::{Invocation, State};
use crate::invocation::panic;
use crate::invocation::trace::{Target, Trace};
pub use crate::outputs::xray::{SubsegmentSink, UdpDaemonSink};
use crate::warn::WarnOnce;

/// Runs `f` on the current invocation's trace, with the calling task's current subsegment;
/// `Ok(None)` when the invocation is not recorded.
fn on_trace<R>(f: impl FnOnce(&mut Trace, Option<u64>) -> R) -> Result<Option<R>, XRayError> {
    current::with_trace(f).map_err(unavailable)
}

/// Like [`on_trace`], for calls that record nothing when there is nothing to record.
fn with_trace<R>(f: impl FnOnce(&mut Trace, Option<u64>) -> R) -> Option<R> {
    on_trace(f).ok().flatten()
}

/// Opens a subsegment in `invocation`'s trace with `open`; `None` when it is not recorded (or
/// `open` opens none). Work that outlived its invocation, or runs under its state, opens
/// none, and that is reported as the other X-Ray calls report it: counted, with one warning.
fn open_in<T>(invocation: &Invocation, open: impl FnOnce(&mut State) -> Option<T>) -> Option<T> {
    match invocation.with_traced_state(open) {
        Ok(opened) => opened.flatten(),
        Err(refused) => {
            report_error(unavailable(refused));
            None
        }
    }
}

/// Reports trace data the current invocation refused (`refused`): counted, with one warning,
/// as the `xray` calls report it. Outside any invocation there is nothing to report.
pub(crate) fn report_refused(refused: Unavailable) {
    if refused != Unavailable::NoInvocation {
        report_error(unavailable(refused));
    }
}

fn unavailable(unavailable: Unavailable) -> XRayError {
    match unavailable {
        Unavailable::NoInvocation => XRayError::NoInvocation,
        Unavailable::Reentrant => XRayError::Reentrant,
        Unavailable::Ended => XRayError::InvocationEnded,
    }
}

/// Whether the current invocation is being recorded (sampled and tracing enabled).
///
/// ```
/// use lambda_perf_core::xray;
///
/// async fn handler(order: &serde_json::Value) {
///     // Skip building costly metadata when nothing would be sent.
///     if xray::is_recording() {
///         xray::add_metadata("orders", "order", order);
///     }
/// }
///
/// assert!(!xray::is_recording(), "no invocation is running here");
/// ```
#[must_use]
pub fn is_recording() -> bool {
    with_trace(|_, _| ()).is_some()
}

/// Annotates the current subsegment: indexed, searchable with filter expressions such as
/// `annotation.customer_tier = "gold"`.
///
/// ```
/// use lambda_perf_core::xray::{self, XRayError};
///
/// async fn handler(tier: String) {
///     if let Err(error) = xray::try_annotate("customer_tier", tier) {
///         eprintln!("not annotated: {error}"); // a value over 1000 characters, ...
///     }
/// }
///
/// // Keys X-Ray would not index are refused before anything else:
/// let error = xray::try_annotate("customer-tier", "gold").unwrap_err();
/// assert!(matches!(error, XRayError::InvalidAnnotationKey { .. }));
/// ```
pub fn try_annotate(
    key: impl Into<Cow<'static, str>>,
    value: impl Into<AnnotationValue>,
) -> Result<(), XRayError> {
    let (key, value) = (key.into(), value.into());
    // Inlined where it is called: for a literal key and value, decided while compiling.
    annotation::validate(&key, &value)?;
    // An unsampled invocation (most) records no annotation: answered here, as `with_trace`
    // answers it, before the annotation is built and lent to the call below (about 50
    // instructions fewer than answering it there).
    if let Some(untraced) = current::untraced_on_own_task() {
        return untraced.map_err(unavailable);
    }
    // Lent to the calls that reach the trace, which take it only where there is a trace;
    // what they refuse is written where it is checked.
    let mut annotation = Some((key, value));
    let mut annotated = Ok(());
    annotate_valid(&mut annotation, &mut annotated);
    annotated
}

/// Adds an annotation [`annotation::validate`] accepted, taken from `annotation`, to the
/// current subsegment; writes why it was not added, if it was not, to `annotated`.
#[inline(never)]
fn annotate_valid(
    annotation: &mut Option<(Cow<'static, str>, AnnotationValue)>,
    annotated: &mut Result<(), XRayError>,
) {
    // `try_annotate` has asked whether the invocation is untraced.
    let reached = current::with_current_trace(|trace, current| {
        if let Some((key, value)) = annotation.take() {
            if let Err(error) = trace.annotate_valid(Target::Current(current), key, value) {
                *annotated = Err(error);
            }
        }
    });
    if let Err(unavailable_now) = reached {
        *annotated = Err(unavailable(unavailable_now));
    }
}

/// Annotates the current subsegment; an invalid annotation is dropped with a one-time
/// warning. See [`try_annotate`].
///
/// ```
/// use lambda_perf_core::xray;
///
/// async fn handler(order_count: i64) {
///     xray::annotate("customer_tier", "gold");
///     xray::annotate("order_count", order_count);
///     xray::annotate("is_retry", false);
/// }
/// ```
pub fn annotate(key: impl Into<Cow<'static, str>>, value: impl Into<AnnotationValue>) {
    report(try_annotate(key, value));
}

/// Adds metadata (any `Serialize` value; not indexed) to the current subsegment under
/// `namespace`.
///
/// ```
/// use lambda_perf_core::xray::{self, XRayError};
///
/// // Namespaces starting with `AWS.` are X-Ray's own:
/// let error = xray::try_add_metadata("AWS.mine", "key", 1).unwrap_err();
/// assert!(matches!(error, XRayError::ReservedMetadataNamespace { .. }));
/// ```
pub fn try_add_metadata(
    namespace: impl Into<Cow<'static, str>>,
    key: impl Into<Cow<'static, str>>,
    value: impl Serialize,
) -> Result<(), XRayError> {
    let (namespace, key) = (namespace.into(), key.into());
    annotation::validate_namespace(&namespace)?;
    // Only a recorded invocation lends a buffer: unsampled ones pay nothing for the value.
    let Some(mut json) = on_trace(|trace, _| trace.take_json_buffer())? else {
        return Ok(());
    };
    // Written (user code) with the state free, straight to text as the datagram copies it.
    if let Err(message) = panic::write_json(&value, &mut json) {
        // The buffer goes back, for the next value to reuse.
        let _ = on_trace(|trace, _| trace.give_back_json_buffer(json));
        return Err(XRayError::MetadataNotSerializable {
            key: key.to_string(),
            message: message.to_string(),
        });
    }
    let value = MetadataValue::Written(json);
    on_trace(|trace, current| {
        trace.add_metadata(
            Target::Current(current),
            namespace.into(),
            key.into(),
            value,
        )
    })
    .map(|_| ())
}

/// Adds metadata to the current subsegment; an invalid entry is dropped with a one-time
/// warning. See [`try_add_metadata`].
///
/// ```
/// use lambda_perf_core::xray;
/// use serde_json::json;
///
/// async fn handler() {
///     xray::add_metadata("orders", "basket", json!({ "items": [1, 2], "note": "gift" }));
/// }
/// ```
pub fn add_metadata(
    namespace: impl Into<Cow<'static, str>>,
    key: impl Into<Cow<'static, str>>,
    value: impl Serialize,
) {
    report(try_add_metadata(namespace, key, value));
}

/// Runs `future` in a nested subsegment named `name`. See [`Subsegment`] for the namespace,
/// HTTP and AWS fields of downstream calls, closures, and `Result` futures.
///
/// ```
/// use lambda_perf_core::xray;
///
/// async fn load_order(id: &str) -> String {
///     format!("order {id}")
/// }
///
/// async fn handler() -> String {
///     // A `load order` subsegment under the handler's, timing the call.
///     xray::in_subsegment("load order", load_order("o-1")).await
/// }
/// ```
pub fn in_subsegment<F: Future>(
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> Instrumented<F, AnyOutput> {
    Subsegment::new(name).instrument(future)
}

/// Marks the current subsegment faulted by `error` (its type and message become the cause).
/// Called where no invocation is recorded it records nothing; outside an invocation, or from
/// work that outlived its own, that is counted (`xray.no_invocation`, `xray.invocation_ended`)
/// with one warning, as [`annotate`] reports it. An error whose `Display` panics is recorded
/// as one whose description panicked (type `unknown`, the panic's message), as a fallible
/// [`Subsegment`] records it; the panic does not reach the caller.
///
/// ```
/// use lambda_perf_core::xray;
///
/// async fn handler(input: &str) -> u32 {
///     // The handler recovers, yet the trace shows what went wrong.
///     input.parse::<u32>().unwrap_or_else(|error| {
///         xray::record_error(&error);
///         0
///     })
/// }
/// ```
pub fn record_error<E: fmt::Display + ?Sized>(error: &E) {
    // The description is user code (the error's `Display`), run with the state free.
    let failure = panic::catch(|| Failure::from_display(error))
        .unwrap_or_else(|panic| Failure::describing_panicked(&*panic));
    report(
        on_trace(|trace, current| trace.record_error(Target::Current(current), &failure))
            .map(|_| ()),
    );
}

/// Records the response status of the current subsegment's HTTP call: call it inside the
/// subsegment (in the future or closure it runs), on a subsegment given
/// [`Subsegment::http`]. 4xx sets `error`, 429 also `throttle`, 5xx `fault`. Anywhere else —
/// after the subsegment closed, or in one that is no HTTP call — it records nothing, so an
/// enclosing subsegment is never marked by mistake; in a recorded invocation, that is counted
/// (`xray.http_status_unrecorded`) with one warning. From work that outlived its invocation
/// (whose subsegments were closed and sent as it ended), the status is lost: that is counted
/// (`xray.invocation_ended`) with one warning, as [`annotate`] reports it.
///
/// ```
/// use lambda_perf_core::xray::{self, Http, Namespace, Subsegment};
///
/// async fn handler() {
///     Subsegment::new("catalog.example")
///         .namespace(Namespace::Remote)
///         .http(Http::request("GET", "https://catalog.example/items/7"))
///         .instrument(async {
///             let status = 404; // the response's status, from your HTTP client
///             xray::set_http_status(status); // sets `error`
///         })
///         .await;
/// }
/// ```
pub fn set_http_status(status: u16) {
    let recorded = current::with_trace(|trace, current| {
        let Some(record) = current.and_then(|id| trace.nested_mut(id)) else {
            return false;
        };
        let Some(http) = record.http.as_mut() else {
            return false;
        };
        http.set_status(status);
        record.flag_http_status(status);
        true
    });
    match recorded {
        // Recorded, or an invocation that records no trace.
        Ok(Some(true) | None) => {}
        Ok(Some(false)) => http_status_unrecorded(status),
        Err(refused) => report_refused(refused),
    }
}

/// [`set_http_status`] where no HTTP call's subsegment is current: counted, with one warning.
#[cold]
#[inline(never)]
fn http_status_unrecorded(status: u16) {
    static UNRECORDED: WarnOnce = WarnOnce::new();
    crate::drops::count("xray.http_status_unrecorded");
    UNRECORDED.warn(format_args!(
        "xray::set_http_status({status}) was called where no subsegment given Subsegment::http \
         is current (after it closed, or in a span or subsegment inside it): the status is not \
         recorded (further ones are not printed but counted in the next record's \
         lambda_perf.dropped)"
    ));
}

/// Counts every dropped data point, and prints the first error of each kind on stderr.
/// Inlined where data is added, so that what was added costs one comparison here.
#[inline]
fn report(result: Result<(), XRayError>) {
    if let Err(error) = result {
        report_error(error);
    }
}

/// [`report`] of a dropped data point.
#[cold]
#[inline(never)]
fn report_error(error: XRayError) {
    static WARNINGS: [WarnOnce; XRayError::KINDS] = [const { WarnOnce::new() }; XRayError::KINDS];
    crate::drops::count(error.cause());
    // An index past the table (a variant added without growing KINDS) still warns,
    // through the last entry, instead of panicking.
    let warning = WARNINGS
        .get(error.kind_index())
        .unwrap_or(&WARNINGS[WARNINGS.len() - 1]);
    warning.warn(format_args!(
        "X-Ray data dropped: {error} (further errors of this kind are not printed but counted \
         in the next record's lambda_perf.dropped; the xray::try_* functions return them)"
    ));
}
