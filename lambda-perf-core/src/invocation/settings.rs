//! What an instrumented handler's invocations record, resolved and validated once.

use std::borrow::Cow;

use serde_json::Value;

use super::InitializationType;
use super::redaction::{self, Captured, Redactor};
use crate::formats::emf::dimension::Dimension;
use crate::formats::xray::annotation::{self, AnnotationValue};
use crate::formats::xray::metadata_name::MetadataName;
use crate::kept::kept;
use crate::warn::WarnOnce;

/// The key of the handler subsegment's annotation that names the configured service.
pub(crate) const SERVICE_ANNOTATION: &str = "Service";

/// The settings of one instrumented handler that its invocations read.
#[derive(Debug)]
pub(crate) struct InvocationSettings {
    /// The service: `service` dimension and trace metadata namespace.
    pub(crate) service: String,
    /// The `Service` annotation of handler subsegments, decided once.
    pub(crate) service_annotation: ServiceAnnotation,
    /// The default dimensions, then `service`: part of every invocation's dimension set.
    pub(crate) fixed_dimensions: Vec<Dimension>,
    pub(crate) initialization_type: InitializationType,
    /// Whether sampled invocations are traced.
    pub(crate) tracing: bool,
    pub(crate) capture_response: bool,
    pub(crate) capture_error: bool,
    pub(crate) capture_limit: usize,
    /// Sees the response or error before it is captured.
    pub(crate) redact: Option<Redactor>,
    /// `## <name>`.
    pub(crate) handler_subsegment_name: String,
    /// The service as the metadata namespace of a captured response or error, kept with its
    /// JSON string ([`MetadataName::kept`]); `None` when X-Ray reserves it (`AWS.…`): then
    /// nothing is captured, and each capture left out is counted.
    pub(crate) capture_namespace: Option<MetadataName>,
    /// `<name> response`, kept and checked alike.
    pub(crate) response_key: MetadataName,
    /// `<name> error`, kept and checked alike.
    pub(crate) error_key: MetadataName,
    /// How long before its deadline a still running invocation writes its records; `None`:
    /// never.
    pub(crate) timeout_margin: Option<std::time::Duration>,
    /// Whether invocations measure the CPU time and memory the process used.
    pub(crate) resource_usage: bool,
}

impl InvocationSettings {
    /// `value` as the redaction hook leaves it (`None`: not captured).
    pub(crate) fn redacted(&self, kind: Captured, value: Value) -> Option<Value> {
        match &self.redact {
            Some(redactor) => redaction::redact_with(redactor, kind, value),
            None => Some(value),
        }
    }
}

/// The `Service` annotation a handler subsegment carries, checked once with the settings
/// rather than on every invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ServiceAnnotation {
    /// No service was configured.
    Unset,
    /// The configured service, kept for the life of the process (see [`kept`]), or held as a
    /// copy once the process keeps no more texts (each invocation then copies it).
    Valid(Cow<'static, str>),
    /// A configured service X-Ray refuses as an annotation value (more than 1000 characters,
    /// which a dimension accepts up to 1024): left out of every handler subsegment, warned
    /// about once, and counted on each (`xray.annotation_value_too_long`).
    Refused,
}

impl ServiceAnnotation {
    /// The drop cause of a refused service: a too long annotation value's.
    pub(crate) const REFUSED_CAUSE: &'static str = "xray.annotation_value_too_long";

    /// The annotation of the configured `service`, if any. A valid name is [`kept`] when it
    /// can be.
    pub(crate) fn of(service: Option<&str>) -> Self {
        Self::of_kept_by(service, kept)
    }

    /// [`ServiceAnnotation::of`], with the name kept by `keep` (`None`: not kept).
    fn of_kept_by(service: Option<&str>, keep: impl FnOnce(&str) -> Option<&'static str>) -> Self {
        static REFUSED: WarnOnce = WarnOnce::new();
        let Some(service) = service else {
            return Self::Unset;
        };
        let value = AnnotationValue::String(service.to_owned().into());
        if let Err(error) = annotation::validate(SERVICE_ANNOTATION, &value) {
            REFUSED.warn(format_args!(
                "handler subsegments carry no Service annotation: {error} (the service \
                 dimension still names it; counted in lambda_perf.dropped as {})",
                Self::REFUSED_CAUSE
            ));
            return Self::Refused;
        }
        Self::Valid(keep(service).map_or_else(|| Cow::Owned(service.to_owned()), Cow::Borrowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name X-Ray accepts is kept, and valid as an annotation (held as a copy once the
    /// process keeps no more texts); one it refuses (which a dimension still accepts) is
    /// refused, not dropped without a word.
    #[test]
    fn the_service_annotation_is_checked_once() {
        let leak = |text: &str| Some(&*Box::leak(text.into()));
        assert_eq!(ServiceAnnotation::of(None), ServiceAnnotation::Unset);
        let longest = "s".repeat(1000);
        for service in ["orders", "a b:c/d", &longest] {
            let ServiceAnnotation::Valid(Cow::Borrowed(kept)) =
                ServiceAnnotation::of_kept_by(Some(service), leak)
            else {
                panic!("{} characters refused, or not kept", service.len());
            };
            assert_eq!(kept, service);
            annotation::validate(SERVICE_ANNOTATION, &kept.into()).unwrap();
            assert_eq!(
                ServiceAnnotation::of_kept_by(Some(service), |_| None),
                ServiceAnnotation::Valid(Cow::Owned(service.to_owned())),
                "not kept"
            );
        }
        for length in [1001, 1024] {
            let service = "s".repeat(length);
            assert_eq!(
                ServiceAnnotation::of(Some(&service)),
                ServiceAnnotation::Refused
            );
        }
    }
}
