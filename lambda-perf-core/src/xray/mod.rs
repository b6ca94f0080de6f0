//! X-Ray: the `## <handler>` subsegment of every sampled invocation, annotations, metadata,
//! nested subsegments and errors, sent to the X-Ray daemon as the official SDKs do in Lambda.
//!
//! Lambda owns the function segment; lambda-perf never sends a segment. For each invocation
//! whose trace header (from the invocation's context, never a process-wide variable) says
//! `Sampled=1`, [`PerfLayer`](crate::PerfLayer) opens a subsegment `## <handler>` whose
//! parent is Lambda's function segment, with the annotations `ColdStart`, `StartKind` and
//! `Service`, the invocation facts as `lambda_perf` metadata, and the response (or error) as
//! `"<handler> response"` (`"<handler> error"`) metadata in the service's namespace. Each
//! subsegment is sent as one UDP datagram when it closes. Unsampled invocations, missing or
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

mod address;
mod annotation;
mod document;
mod error;
mod header;
mod id;
mod sink;
mod subsegment;
pub(crate) mod trace;
#[cfg(feature = "tracing")]
mod tracing_layer;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use serde::Serialize;

pub(crate) use self::address::DEFAULT_DAEMON_ADDRESS;
pub use self::annotation::AnnotationValue;
pub use self::document::{Http, Namespace, SubsegmentDocument};
pub use self::error::XRayError;
pub use self::header::{Sampled, TraceHeader};
pub use self::sink::{SubsegmentSink, UdpDaemonSink};
pub(crate) use self::subsegment::short_type_name;
pub use self::subsegment::{AnyOutput, FallibleOutput, Instrumented, OutputPolicy, Subsegment};
use self::trace::Trace;
#[cfg(feature = "tracing")]
pub use self::tracing_layer::XRayLayer;
use crate::invocation::{Unavailable, with_current};
use crate::warn::WarnOnce;

/// Runs `f` on the current invocation's trace; `None` outside an invocation or when it is not
/// recorded.
pub(crate) fn with_trace<R>(f: impl FnOnce(&mut Trace) -> R) -> Option<R> {
    with_current(|invocation| invocation.trace.as_mut().map(f))
        .ok()
        .flatten()
}

/// Like [`with_trace`], distinguishing "no invocation" from "not recorded" (`Ok(None)`).
fn on_trace<R>(f: impl FnOnce(&mut Trace) -> R) -> Result<Option<R>, XRayError> {
    with_current(|invocation| invocation.trace.as_mut().map(f)).map_err(XRayError::from)
}

impl From<Unavailable> for XRayError {
    fn from(unavailable: Unavailable) -> Self {
        match unavailable {
            Unavailable::NoInvocation => Self::NoInvocation,
            Unavailable::Reentrant => Self::Reentrant,
        }
    }
}

/// Checks a subsegment name: 1–200 characters of Unicode letters, numbers, whitespace and
/// `_ . : / % & # = + \ - @`.
pub(crate) fn validate_subsegment_name(name: &str) -> Result<(), &'static str> {
    let allowed = is_name_char;
    let reason = if name.trim().is_empty() {
        "a subsegment name needs at least one non-blank character"
    } else if name.chars().count() > 197 {
        "a subsegment name has at most 200 characters, \"## \" included"
    } else if !name.chars().all(allowed) {
        "a subsegment name may only contain letters, numbers, whitespace and _ . : / % & # = + \\ - @"
    } else {
        return Ok(());
    };
    Err(reason)
}

/// Whether X-Ray accepts `c` in a segment name.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c)
}

/// Longest name X-Ray accepts.
const MAX_NAME: usize = 200;

/// A name X-Ray accepts: characters it refuses removed (as the official SDKs do), cut at 200
/// characters, with a one-time warning when anything changed.
pub(crate) fn sanitize_name(name: Cow<'static, str>) -> Cow<'static, str> {
    static CHANGED: WarnOnce = WarnOnce::new();
    let fine = !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME
        && name.chars().all(is_name_char);
    if fine {
        return name;
    }
    let cleaned: String = name
        .chars()
        .filter(|c| is_name_char(*c))
        .take(MAX_NAME)
        .collect();
    let cleaned = if cleaned.trim().is_empty() {
        "unnamed".to_owned()
    } else {
        cleaned
    };
    CHANGED.warn(format_args!(
        "subsegment name {name:?} is not one X-Ray accepts (1-200 letters, digits, whitespace \
         and _ . : / % & # = + \\ - @); it is sent as {cleaned:?}"
    ));
    Cow::Owned(cleaned)
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
    with_trace(|_| ()).is_some()
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
    annotation::validate(&key, &value)?;
    on_trace(|trace| trace.annotate(key, value))?.unwrap_or(Ok(()))
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
    if !is_recording() {
        // Checked before serializing, so unsampled invocations pay nothing for the value.
        return on_trace(|_| ()).map(|_| ());
    }
    let value =
        serde_json::to_value(value).map_err(|error| XRayError::MetadataNotSerializable {
            key: key.to_string(),
            message: error.to_string(),
        })?;
    on_trace(|trace| trace.add_metadata(None, namespace, key, value)).map(|_| ())
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
    let (kind, message) = (short_type_name::<E>(), error.to_string());
    with_trace(|trace| trace.record_error(None, &kind, &message));
}

/// Records the response status of the current subsegment's HTTP call: call it inside the
/// subsegment (in the future or closure it runs), on a subsegment given
/// [`Subsegment::http`]. 4xx sets `error`, 429 also `throttle`, 5xx `fault`. Anywhere else —
/// after the subsegment closed, or in one that is no HTTP call — it records nothing, so an
/// enclosing subsegment is never marked by mistake.
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
    with_trace(|trace| {
        let Some(record) = trace.current_nested() else {
            return;
        };
        let Some(http) = record.http.as_mut() else {
            return;
        };
        http.set_status(status);
        match status {
            429 => {
                record.throttle = true;
                record.error = true;
            }
            400..=499 => record.error = true,
            500..=599 => record.fault = true,
            _ => {}
        }
    });
}

/// A panic payload's message.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// Prints the first error of each kind on stderr.
fn report(result: Result<(), XRayError>) {
    static WARNINGS: [WarnOnce; XRayError::KINDS] = [const { WarnOnce::new() }; XRayError::KINDS];
    if let Err(error) = result {
        // An index past the table (a variant added without growing KINDS) still warns,
        // through the last entry, instead of panicking.
        let warning = WARNINGS
            .get(error.kind_index())
            .unwrap_or(&WARNINGS[WARNINGS.len() - 1]);
        warning.warn(format_args!(
            "X-Ray data dropped: {error} (further errors of this kind are not reported; \
             the xray::try_* functions return them)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_x_ray_refuses_are_cleaned() {
        assert_eq!(sanitize_name("## init db".into()), "## init db");
        assert_eq!(
            sanitize_name("GET /users?id=1;drop".into()),
            "GET /usersid=1drop"
        );
        assert_eq!(sanitize_name("x".repeat(300).into()).len(), 200);
        assert_eq!(sanitize_name("???".into()), "unnamed");
    }
}
