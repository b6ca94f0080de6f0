//! CloudWatch metrics in the Embedded Metric Format (EMF).
//!
//! Inside a handler wrapped by [`PerfLayer`](crate::PerfLayer), metrics, dimensions and
//! metadata are buffered for the current invocation and written as one compact JSON line on
//! stdout when it ends — also when the handler returns an error or panics. Lambda forwards
//! stdout to CloudWatch Logs, which turns the line into metrics; no agent, no API call.
//!
//! ```
//! use lambda_perf_core::metrics::{self, Unit};
//!
//! async fn handler() {
//!     metrics::add_metric("SuccessfulBooking", Unit::Count, 1.0);
//!     metrics::add_high_resolution_metric("Latency", Unit::Milliseconds, 12.5);
//!     metrics::add_dimension("route", "/book");
//!     metrics::add_metadata("booking_id", "abc123");
//!
//!     // The try_ forms say what is wrong instead of warning:
//!     let error = metrics::try_add_metric("Latency", Unit::Seconds, 1.0).unwrap_err();
//!     # let _ = error;
//! }
//! ```
//!
//! With `POWERTOOLS_SERVICE_NAME=payment` and `POWERTOOLS_METRICS_NAMESPACE=ServerlessAirline`
//! the invocation writes (wrapped here):
//!
//! ```text
//! {"_aws":{"Timestamp":1795410771965,"CloudWatchMetrics":[{"Namespace":"ServerlessAirline",
//!   "Dimensions":[["service","route"]],"Metrics":[{"Name":"SuccessfulBooking","Unit":"Count"},
//!   {"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},
//!  "service":"payment","route":"/book","booking_id":"abc123",
//!  "lambda_perf":{"start_kind":"warm","invocation":2,...},
//!  "SuccessfulBooking":[1.0],"Latency":[12.5]}
//! ```
//!
//! # Rules
//!
//! Everything is checked against CloudWatch's limits when it is added, so a line is never
//! rejected by CloudWatch after the fact: metric names of 1–255 characters; the 27 units of
//! [`Unit`]; finite values; one unit and one resolution per metric name; at most 30 dimensions
//! per metric including `service` and the default dimensions; ASCII dimension names (≤ 250)
//! and values (≤ 1024); metadata nested at most 100 levels deep; and no key used twice across
//! metrics, dimensions and metadata. Past
//! 100 metrics or 100 values of one metric, the invocation's metrics are split over several
//! lines. With no metric recorded, no line is written.
//!
//! Each `add_*` function has a `try_` twin that returns a [`MetricsError`]. The plain form
//! prints the first error of each kind on stderr and drops that one data point.
//!
//! Calls on a task spawned with [`spawn`](fn@crate::spawn) (or a future adapted with
//! [`in_current_invocation`](crate::InCurrentInvocation::in_current_invocation)) go to the
//! invocation that spawned it. Calls outside any invocation (at init, or on a task spawned
//! with plain `tokio::spawn`) fail with [`MetricsError::NoInvocation`], and calls from work
//! that outlived its invocation with [`MetricsError::InvocationEnded`]; use [`SingleMetric`]
//! there.

mod single;

use std::borrow::Cow;

use serde::Serialize;

pub use self::single::SingleMetric;
use crate::formats::emf::set::{MetricSet, Recorded};
pub use crate::formats::emf::{KeyKind, MetricsError, Resolution, Unit};
use crate::invocation::current::{self, Unavailable};
use crate::invocation::panic;
use crate::invocation::settings::InvocationSettings;
use crate::warn::WarnOnce;

/// Records one value of a metric in the current invocation.
///
/// Values of the same name accumulate (`"Latency":[12.5,20.0]`).
///
/// ```
/// use lambda_perf_core::metrics::{self, MetricsError, Unit};
///
/// async fn handler(latency_ms: f64) {
///     if let Err(error) = metrics::try_add_metric("Latency", Unit::Milliseconds, latency_ms) {
///         // A NaN, a unit other than the one this name was first given, ...
///         eprintln!("latency not recorded: {error}");
///     }
/// }
///
/// // Outside an invocation (at init) there is no line to record it in:
/// let error = metrics::try_add_metric("Orders", Unit::Count, 1.0).unwrap_err();
/// assert!(matches!(error, MetricsError::NoInvocation));
/// ```
pub fn try_add_metric(
    name: impl Into<Cow<'static, str>>,
    unit: Unit,
    value: f64,
) -> Result<(), MetricsError> {
    add_with_resolution(name.into(), unit, Resolution::Standard, value)
}

/// Records one value of a metric; an invalid one is dropped with a one-time warning.
///
/// See [`try_add_metric`].
///
/// ```
/// use lambda_perf_core::metrics::{self, Unit};
/// use lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<(), Error> {
///     metrics::add_metric("OrdersPlaced", Unit::Count, 1.0);
///     let items = event.payload["items"].as_array().map_or(0, Vec::len);
///     metrics::add_metric("ItemsOrdered", Unit::Count, items as f64);
///     Ok(())
/// }
/// ```
pub fn add_metric(name: impl Into<Cow<'static, str>>, unit: Unit, value: f64) {
    report(try_add_metric(name, unit, value));
}

/// Records one value of a high-resolution metric (`StorageResolution` 1: one-second
/// granularity, at CloudWatch's high-resolution price).
///
/// ```
/// use lambda_perf_core::metrics::{self, Unit};
///
/// async fn handler() {
///     metrics::try_add_high_resolution_metric("QueueDepth", Unit::Count, 17.0)
///         .unwrap_or_else(|error| eprintln!("not recorded: {error}"));
/// }
/// ```
pub fn try_add_high_resolution_metric(
    name: impl Into<Cow<'static, str>>,
    unit: Unit,
    value: f64,
) -> Result<(), MetricsError> {
    add_with_resolution(name.into(), unit, Resolution::High, value)
}

/// Records one value of a high-resolution metric; an invalid one is dropped with a one-time
/// warning. See [`try_add_high_resolution_metric`].
///
/// ```
/// use lambda_perf_core::metrics::{self, Unit};
///
/// async fn handler() {
///     metrics::add_high_resolution_metric("Latency", Unit::Milliseconds, 12.5);
/// }
/// ```
pub fn add_high_resolution_metric(name: impl Into<Cow<'static, str>>, unit: Unit, value: f64) {
    report(try_add_high_resolution_metric(name, unit, value));
}

/// Records one value of a metric in the current invocation. Inlined where it is called, so
/// that which kind of name it is is decided there: mostly a literal, handed on as the text
/// itself.
#[inline]
fn add_with_resolution(
    name: Cow<'static, str>,
    unit: Unit,
    resolution: Resolution,
    value: f64,
) -> Result<(), MetricsError> {
    let recorded = Recorded::new(unit, resolution, value);
    match name {
        Cow::Borrowed(name) => {
            // Written where it is checked, not copied out of the call.
            let mut added = Ok(());
            add_static(name, recorded, &mut added);
            added
        }
        Cow::Owned(name) => add_owned(name, recorded),
    }
}

/// [`add_with_resolution`] of a metric named by `'static` text, its error written to `added`.
#[inline(never)]
fn add_static(name: &'static str, recorded: Recorded, added: &mut Result<(), MetricsError>) {
    on_current_into(added, |metrics, settings| {
        metrics.add_static_metric(&settings.fixed_dimensions, name, recorded)
    });
}

/// [`add_with_resolution`] of a metric named by a `String`.
#[inline(never)]
fn add_owned(name: String, recorded: Recorded) -> Result<(), MetricsError> {
    on_current(move |metrics, settings| {
        metrics.add_owned_metric(&settings.fixed_dimensions, name, recorded)
    })
}

/// Adds a dimension to every metric of the current invocation (or changes the value of one
/// this invocation added).
///
/// Each distinct dimension set is a separate CloudWatch metric, billed as such.
///
/// The configured dimensions — `service` and the default dimensions — keep their configured
/// values: naming one here is a [`MetricsError::KeyCollision`] (the dimension is already
/// there), and the line is written with the configured value. Powertools overwrites such a
/// dimension for the flush instead; for a line with other values of them, write a
/// [`SingleMetric`] (whose dimensions are `service`, or a `service` of its own, and its
/// own).
///
/// ```
/// use lambda_perf_core::metrics::{self, Unit};
///
/// async fn handler(route: &'static str) {
///     metrics::add_metric("Requests", Unit::Count, 1.0);
///     // CloudWatch takes ASCII dimension values of at most 1024 characters:
///     if metrics::try_add_dimension("route", route).is_err() {
///         metrics::add_dimension("route", "other");
///     }
/// }
/// ```
pub fn try_add_dimension(
    name: impl Into<Cow<'static, str>>,
    value: impl Into<Cow<'static, str>>,
) -> Result<(), MetricsError> {
    let (name, value) = (name.into(), value.into());
    on_current(|metrics, settings| metrics.add_dimension(&settings.fixed_dimensions, name, value))
}

/// Adds a dimension; an invalid one is dropped with a one-time warning.
/// See [`try_add_dimension`].
///
/// ```
/// use lambda_perf_core::metrics::{self, Unit};
///
/// async fn handler() {
///     metrics::add_metric("OrdersPlaced", Unit::Count, 1.0);
///     metrics::add_dimension("channel", "web"); // this invocation's metrics, by channel
/// }
/// ```
pub fn add_dimension(name: impl Into<Cow<'static, str>>, value: impl Into<Cow<'static, str>>) {
    report(try_add_dimension(name, value));
}

/// Adds a metadata property to the current invocation's EMF line: searchable in CloudWatch
/// Logs Insights, not a metric and not a dimension. Any `Serialize` value that nests arrays
/// and objects at most 100 levels deep (deeper, the line would be more than JSON readers
/// read: [`MetricsError::MetadataTooDeep`]).
///
/// ```
/// use lambda_perf_core::metrics;
///
/// async fn handler(order_id: String) {
///     // A key already used by a metric or dimension of this line is refused:
///     if let Err(error) = metrics::try_add_metadata("order_id", order_id) {
///         eprintln!("order id not recorded: {error}");
///     }
/// }
/// ```
pub fn try_add_metadata(key: impl Into<String>, value: impl Serialize) -> Result<(), MetricsError> {
    let key = key.into();
    // Serialized before the invocation is borrowed, so a value whose serialization records
    // metrics cannot trip over the borrow.
    let value =
        panic::to_json(&value).map_err(|message| MetricsError::MetadataNotSerializable {
            key: key.clone(),
            message: message.to_string(),
        })?;
    // Outside the borrow too: it looks at the whole value.
    crate::formats::emf::validate::metadata_depth(&key, &value)?;
    on_current(|metrics, settings| metrics.add_metadata(&settings.fixed_dimensions, key, value))
}

/// Adds a metadata property; an invalid one is dropped with a one-time warning.
/// See [`try_add_metadata`].
///
/// ```
/// use lambda_perf_core::metrics;
/// use serde_json::json;
///
/// async fn handler() {
///     metrics::add_metadata("booking_id", "abc123");
///     metrics::add_metadata("basket", json!({ "items": 3, "currency": "EUR" }));
/// }
/// ```
pub fn add_metadata(key: impl Into<String>, value: impl Serialize) {
    report(try_add_metadata(key, value));
}

/// Runs `f` on the current invocation's metrics.
fn on_current(
    f: impl FnOnce(&mut MetricSet, &InvocationSettings) -> Result<(), MetricsError>,
) -> Result<(), MetricsError> {
    let mut added = Ok(());
    on_current_into(&mut added, f);
    added
}

/// Runs `f` on the current invocation's metrics; writes its error, or why the invocation
/// could not be reached, to `added` (left as it is otherwise).
fn on_current_into(
    added: &mut Result<(), MetricsError>,
    f: impl FnOnce(&mut MetricSet, &InvocationSettings) -> Result<(), MetricsError>,
) {
    // An error of `f` is written in place once the state is reached, so that it (large) is
    // not moved through each step of reaching it; what was added moves nothing.
    let reached = current::with_current(|current| {
        let settings = current.invocation().settings();
        current.with_state(|state| {
            if let Err(error) = f(&mut state.metrics, settings) {
                *added = Err(error);
            }
        })
    });
    if let Err(unavailable_now) = reached.and_then(|reached| reached) {
        *added = Err(unavailable(unavailable_now));
    }
}

fn unavailable(unavailable: Unavailable) -> MetricsError {
    match unavailable {
        Unavailable::NoInvocation => MetricsError::NoInvocation,
        Unavailable::Reentrant => MetricsError::Reentrant,
        Unavailable::Ended => MetricsError::InvocationEnded,
    }
}

/// Counts every dropped data point, and prints the first error of each kind on stderr.
/// Inlined where data is added, so that what was added costs one comparison here.
#[inline]
fn report(result: Result<(), MetricsError>) {
    if let Err(error) = result {
        report_error(error);
    }
}

/// [`report`] of a dropped data point.
#[cold]
#[inline(never)]
fn report_error(error: MetricsError) {
    static WARNINGS: [WarnOnce; MetricsError::KINDS] =
        [const { WarnOnce::new() }; MetricsError::KINDS];
    crate::drops::count(error.cause());
    // An index past the table (a variant added without growing KINDS) still warns,
    // through the last entry, instead of panicking.
    let warning = WARNINGS
        .get(error.kind_index())
        .unwrap_or(&WARNINGS[WARNINGS.len() - 1]);
    warning.warn(format_args!(
        "metric data dropped: {error} (further errors of this kind are not printed but counted \
         in the next record's lambda_perf.dropped; the metrics::try_* functions return them)"
    ));
}
