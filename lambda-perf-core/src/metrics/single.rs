//! A metric written at once in its own EMF line, outside the invocation's buffer.

use std::borrow::Cow;

use super::{MetricsError, Resolution, Unit, report};
use crate::formats::emf::dimension::Dimension;
use crate::formats::emf::set::MetricSet;
use crate::formats::emf::validate;
use crate::invocation::current;
use crate::invocation::output::OwnLine;
use crate::setup;

/// A metric written immediately in its own EMF line, with the `service` dimension and the
/// dimensions given here (as Powertools' `single_metric` writes it). A `service` dimension
/// given here is the line's `service`, in place of the configured one (as in Powertools).
///
/// Use it outside an invocation (at init, in a background task) or for a metric that must
/// not share the invocation's dimension set. Inside an invocation it uses that invocation's
/// namespace, `service` and output; outside one, once the process serves, those of the
/// handler that began its first invocation (as set in code: `PerfLayer::builder`, the
/// macro's options; with several handlers in one process, as in a test binary running many
/// `Recorder`s, the first to serve); before that, the ones the environment configures.
///
/// ```
/// use lambda_perf_core::metrics::{SingleMetric, Unit};
///
/// SingleMetric::new("CacheWarmed", Unit::Count, 1.0)
///     .dimension("cache", "users")
///     .namespace("ServerlessAirline")
///     .emit();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a SingleMetric is written only by emit() or try_emit()"]
pub struct SingleMetric {
    name: Cow<'static, str>,
    unit: Unit,
    value: f64,
    resolution: Resolution,
    dimensions: Vec<Dimension>,
    namespace: Option<String>,
}

impl SingleMetric {
    /// A metric with one value.
    pub fn new(name: impl Into<Cow<'static, str>>, unit: Unit, value: f64) -> Self {
        Self {
            name: name.into(),
            unit,
            value,
            resolution: Resolution::Standard,
            dimensions: Vec::new(),
            namespace: None,
        }
    }

    /// Stores it at one-second resolution.
    pub fn high_resolution(mut self) -> Self {
        self.resolution = Resolution::High;
        self
    }

    /// Adds a dimension.
    pub fn dimension(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.dimensions.push(Dimension::new(name, value));
        self
    }

    /// Writes it to this namespace instead of the configured one.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Validates and writes the line now (nothing is written when metrics are disabled).
    pub fn try_emit(self) -> Result<(), MetricsError> {
        if let Some(namespace) = &self.namespace {
            validate::namespace(namespace)?;
        }
        let instrumentation = current::with_invocation(|invocation| {
            std::sync::Arc::clone(invocation.instrumentation())
        })
        .unwrap_or_else(|_| setup::outside_invocation());
        let configured = [Dimension::new(
            "service",
            instrumentation.settings.service.clone(),
        )];
        // A `service` of its own, checked as any dimension given here, replaces the
        // configured one.
        let fixed: &[Dimension] = if self.dimensions.iter().any(|d| d.name == "service") {
            &[]
        } else {
            &configured
        };
        let mut set = MetricSet::default();
        for dimension in self.dimensions {
            set.add_dimension(fixed, dimension.name, dimension.value)?;
        }
        set.add_metric(fixed, self.name, self.unit, self.resolution, self.value)?;
        instrumentation.output.own_line(&OwnLine {
            namespace: self.namespace.as_deref(),
            fixed,
            metrics: &set,
        });
        Ok(())
    }

    /// Writes the line now; an invalid metric is dropped with a one-time warning.
    pub fn emit(self) {
        report(self.try_emit());
    }
}
