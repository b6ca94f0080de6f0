//! What can go wrong when annotating a trace.

/// Why an annotation or metadata entry was refused.
///
/// Returned by the `try_` functions of [`xray`](crate::xray); the plain functions print the
/// first error of each kind as a warning on stderr. X-Ray's own SDKs drop such entries
/// silently.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum XRayError {
    /// The call was made outside an instrumented handler, on a task that does not carry an
    /// invocation (spawn with [`lambda_perf_core::spawn`](fn@crate::spawn) to carry it).
    #[error(
        "no invocation is running on this task: annotate inside an instrumented handler, or on a task spawned with lambda_perf_core::spawn"
    )]
    NoInvocation,
    /// The call was made on a task that carries an invocation which has already ended: work
    /// that outlived its invocation is not filed under it, nor under a later one.
    #[error("the invocation this task belongs to has ended; its trace was already sent")]
    InvocationEnded,
    /// X-Ray indexes only keys of 1–500 characters from `[A-Za-z0-9_]`.
    #[error(
        "annotation key {key:?} is not 1-500 characters of A-Z, a-z, 0-9 and _; X-Ray would not index it"
    )]
    InvalidAnnotationKey {
        /// The refused key.
        key: String,
    },
    /// String values have at most 1000 characters.
    #[error(
        "annotation {key:?} has a string value of {length} characters; X-Ray indexes at most 1000"
    )]
    AnnotationValueTooLong {
        /// The key.
        key: String,
        /// The value's length in characters.
        length: usize,
    },
    /// NaN and infinities are not JSON numbers.
    #[error("annotation {key:?} has a non-finite number; X-Ray accepts finite numbers only")]
    NonFiniteAnnotation {
        /// The key.
        key: String,
    },
    /// X-Ray indexes at most 50 annotations per trace.
    #[error("annotation {key:?} would be number {} in this trace; X-Ray indexes at most {limit}", limit + 1)]
    TooManyAnnotations {
        /// The refused key.
        key: String,
        /// The limit.
        limit: usize,
    },
    /// Metadata namespaces starting with `AWS.` are reserved for AWS SDKs (and empty ones are
    /// not namespaces).
    #[error("metadata namespace {namespace:?} is reserved (AWS. prefix) or empty")]
    ReservedMetadataNamespace {
        /// The refused namespace.
        namespace: String,
    },
    /// The metadata value could not be serialized to JSON.
    #[error("metadata {key:?} cannot be serialized to JSON: {message}")]
    MetadataNotSerializable {
        /// The key.
        key: String,
        /// The serializer's message.
        message: String,
    },
    /// The invocation's trace was in use by the caller itself (a metadata value whose
    /// `Serialize` implementation annotates, for example).
    #[error("the invocation's trace is already borrowed by this call chain")]
    Reentrant,
}

impl XRayError {
    /// A small index per variant, used to warn once per kind of error.
    pub(crate) const fn kind_index(&self) -> usize {
        match self {
            Self::NoInvocation => 0,
            Self::InvalidAnnotationKey { .. } => 1,
            Self::AnnotationValueTooLong { .. } => 2,
            Self::NonFiniteAnnotation { .. } => 3,
            Self::TooManyAnnotations { .. } => 4,
            Self::ReservedMetadataNamespace { .. } => 5,
            Self::MetadataNotSerializable { .. } => 6,
            Self::Reentrant => 7,
            Self::InvocationEnded => 8,
        }
    }

    /// The number of distinct [`kind_index`](Self::kind_index) values.
    pub(crate) const KINDS: usize = 9;

    /// The cause a dropped entry is counted under (`xray.<kind>`).
    pub(crate) const fn cause(&self) -> &'static str {
        match self {
            Self::NoInvocation => "xray.no_invocation",
            Self::InvalidAnnotationKey { .. } => "xray.invalid_annotation_key",
            Self::AnnotationValueTooLong { .. } => "xray.annotation_value_too_long",
            Self::NonFiniteAnnotation { .. } => "xray.non_finite_annotation",
            Self::TooManyAnnotations { .. } => "xray.too_many_annotations",
            Self::ReservedMetadataNamespace { .. } => "xray.reserved_metadata_namespace",
            Self::MetadataNotSerializable { .. } => "xray.metadata_not_serializable",
            Self::Reentrant => "xray.reentrant",
            Self::InvocationEnded => "xray.invocation_ended",
        }
    }
}
