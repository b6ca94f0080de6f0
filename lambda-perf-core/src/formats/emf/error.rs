//! What can go wrong when recording a metric.

use std::fmt;

use super::{Resolution, Unit};

/// Which kind of key a name is already used by in an EMF line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// A metric name.
    Metric,
    /// A dimension name (including the `service` and default dimensions).
    Dimension,
    /// A metadata property key.
    Metadata,
    /// A key lambda-perf writes itself (`_aws`, `lambda_perf`).
    Reserved,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Metric => "a metric",
            Self::Dimension => "a dimension",
            Self::Metadata => "a metadata property",
            Self::Reserved => "a key reserved by lambda-perf",
        })
    }
}

/// Why a metric, dimension or metadata property was refused.
///
/// Returned by the `try_` functions of [`metrics`](crate::metrics); the plain functions print
/// the first error of each kind as a warning on stderr and drop that one data point.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The call was made outside an instrumented handler, on a task that does not carry an
    /// invocation (spawn with [`lambda_perf_core::spawn`](fn@crate::spawn) to carry it; use
    /// [`SingleMetric`](crate::metrics::SingleMetric) outside invocations).
    #[error(
        "no invocation is running on this task: record metrics inside an instrumented handler, or on a task spawned with lambda_perf_core::spawn"
    )]
    NoInvocation,
    /// The call was made on a task that carries an invocation which has already ended: work
    /// that outlived its invocation is not filed under it, nor under a later one.
    #[error("the invocation this task belongs to has ended; its metrics were already written")]
    InvocationEnded,
    /// The metric name is empty, blank or longer than 255 characters.
    #[error("invalid metric name {name:?}: {reason}")]
    InvalidMetricName {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value is NaN or infinite, which EMF cannot carry.
    #[error(
        "metric {name:?} has the non-finite value {value}; CloudWatch accepts finite numbers only"
    )]
    NonFiniteValue {
        /// The metric name.
        name: String,
        /// The refused value.
        value: f64,
    },
    /// The value's magnitude is above 2^359, or below 2^-359 without being zero: CloudWatch
    /// rejects such values.
    #[error(
        "metric {name:?} has the value {value}, outside CloudWatch's range (magnitude 2^-359 to 2^359, or 0)"
    )]
    ValueOutOfRange {
        /// The metric name.
        name: String,
        /// The refused value.
        value: f64,
    },
    /// The metric was already recorded in this invocation with another unit.
    #[error(
        "metric {name:?} was recorded as {existing} and now as {requested}; a metric keeps one unit"
    )]
    UnitConflict {
        /// The metric name.
        name: String,
        /// The unit it already has.
        existing: Unit,
        /// The unit of the refused value.
        requested: Unit,
    },
    /// The metric was already recorded in this invocation with another storage resolution.
    #[error(
        "metric {name:?} was recorded at {existing} resolution and now at {requested}; a metric keeps one resolution"
    )]
    ResolutionConflict {
        /// The metric name.
        name: String,
        /// The resolution it already has.
        existing: Resolution,
        /// The resolution of the refused value.
        requested: Resolution,
    },
    /// The dimension name is empty, blank, not ASCII, longer than 250 characters or starts
    /// with `:`.
    #[error("invalid dimension name {name:?}: {reason}")]
    InvalidDimensionName {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The dimension value is empty, blank, not ASCII or longer than 1024 characters.
    #[error("invalid value {value:?} for dimension {name:?}: {reason}")]
    InvalidDimensionValue {
        /// The dimension name.
        name: String,
        /// The refused value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Adding the dimension would put more than 30 dimensions (including `service` and the
    /// default dimensions) in the dimension set.
    #[error(
        "dimension {name:?} would exceed CloudWatch's limit of {limit} dimensions per metric (service and default dimensions included)"
    )]
    TooManyDimensions {
        /// The refused dimension name.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// The key is already used by another kind of entry in the same EMF line.
    #[error("{key:?} cannot be {requested}: it is already {existing} in this invocation's metrics")]
    KeyCollision {
        /// The key.
        key: String,
        /// What uses it already.
        existing: KeyKind,
        /// What it was about to become.
        requested: KeyKind,
    },
    /// The metadata key is empty.
    #[error("invalid metadata key {key:?}: {reason}")]
    InvalidMetadataKey {
        /// The refused key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The metadata value could not be serialized to JSON.
    #[error("metadata {key:?} cannot be serialized to JSON: {message}")]
    MetadataNotSerializable {
        /// The metadata key.
        key: String,
        /// The serializer's message.
        message: String,
    },
    /// The metadata value nests arrays and objects more than `limit` levels deep: JSON
    /// readers stop at some depth (`serde_json`'s at 128 levels), and a line they cannot read
    /// loses every metric in it.
    #[error(
        "metadata {key:?} nests arrays and objects more than {limit} levels deep; a line with it would be unreadable to JSON readers"
    )]
    MetadataTooDeep {
        /// The metadata key.
        key: String,
        /// The most levels a metadata value may nest.
        limit: usize,
    },
    /// The namespace does not meet CloudWatch's rules (1–255 characters of
    /// `0-9 A-Z a-z . - _ / # :` and space, not starting with `:` or `AWS/`).
    #[error("invalid metrics namespace {namespace:?}: {reason}")]
    InvalidNamespace {
        /// The refused namespace.
        namespace: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The text is not one of the 27 CloudWatch unit names.
    #[error(
        "unknown metric unit {unit:?}: use one of the 27 CloudWatch units (Count, Milliseconds, Bytes/Second, ...)"
    )]
    UnknownUnit {
        /// The refused text.
        unit: String,
    },
    /// The metrics of this invocation were in use by the caller itself (for example a
    /// metadata value whose `Serialize` implementation records a metric).
    #[error("the invocation's metrics are already borrowed by this call chain")]
    Reentrant,
}

impl MetricsError {
    /// A small index per variant, used to warn once per kind of error.
    pub(crate) const fn kind_index(&self) -> usize {
        match self {
            Self::NoInvocation => 0,
            Self::InvalidMetricName { .. } => 1,
            Self::NonFiniteValue { .. } => 2,
            Self::UnitConflict { .. } => 3,
            Self::ResolutionConflict { .. } => 4,
            Self::InvalidDimensionName { .. } => 5,
            Self::InvalidDimensionValue { .. } => 6,
            Self::TooManyDimensions { .. } => 7,
            Self::KeyCollision { .. } => 8,
            Self::InvalidMetadataKey { .. } => 9,
            Self::MetadataNotSerializable { .. } => 10,
            Self::InvalidNamespace { .. } => 11,
            Self::UnknownUnit { .. } => 12,
            Self::Reentrant => 13,
            Self::InvocationEnded => 14,
            Self::ValueOutOfRange { .. } => 15,
            Self::MetadataTooDeep { .. } => 16,
        }
    }

    /// The number of distinct [`kind_index`](Self::kind_index) values.
    pub(crate) const KINDS: usize = 17;

    /// The cause a dropped data point is counted under (`metrics.<kind>`).
    pub(crate) const fn cause(&self) -> &'static str {
        match self {
            Self::NoInvocation => "metrics.no_invocation",
            Self::InvalidMetricName { .. } => "metrics.invalid_metric_name",
            Self::NonFiniteValue { .. } => "metrics.non_finite_value",
            Self::ValueOutOfRange { .. } => "metrics.value_out_of_range",
            Self::UnitConflict { .. } => "metrics.unit_conflict",
            Self::ResolutionConflict { .. } => "metrics.resolution_conflict",
            Self::InvalidDimensionName { .. } => "metrics.invalid_dimension_name",
            Self::InvalidDimensionValue { .. } => "metrics.invalid_dimension_value",
            Self::TooManyDimensions { .. } => "metrics.too_many_dimensions",
            Self::KeyCollision { .. } => "metrics.key_collision",
            Self::InvalidMetadataKey { .. } => "metrics.invalid_metadata_key",
            Self::MetadataNotSerializable { .. } => "metrics.metadata_not_serializable",
            Self::MetadataTooDeep { .. } => "metrics.metadata_too_deep",
            Self::InvalidNamespace { .. } => "metrics.invalid_namespace",
            Self::UnknownUnit { .. } => "metrics.unknown_unit",
            Self::Reentrant => "metrics.reentrant",
            Self::InvocationEnded => "metrics.invocation_ended",
        }
    }
}
