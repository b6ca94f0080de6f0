//! The builder: the environment's settings, each overridable in code.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::PerfLayer;
use crate::config::{ConfigError, vars};
use crate::formats::emf::dimension::Dimension;
use crate::invocation::InitializationType;
use crate::invocation::redaction::{Captured, Redactor};
use crate::invocation::start_tracker::MarkerPlace;
use crate::outputs::line_writer::LineWriter;
use crate::outputs::xray::{SubsegmentSink, XRayOutput};
use crate::setup::Setup;

// Where traces go (`LAMBDA_PERF_TRACES`) and the OpenTelemetry settings: a file of their own.
mod traces;

/// Builds a [`PerfLayer`], starting from the environment's settings (see
/// [`config`](crate::config)); every setting can be overridden.
///
/// ```
/// use lambda_perf_core::PerfLayer;
///
/// let layer = PerfLayer::builder()
///     .service("payment")
///     .namespace("ServerlessAirline")
///     .default_dimension("environment", "prod")
///     .build()?;
/// # Ok::<(), lambda_perf_core::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until build() is called"]
pub struct PerfLayerBuilder {
    setup: Setup,
}

impl std::fmt::Debug for PerfLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfLayerBuilder")
            .field("settings", &self.setup.settings)
            .field("writer", &self.setup.writer)
            .finish_non_exhaustive()
    }
}

impl PerfLayerBuilder {
    pub(super) fn from_env() -> Self {
        Self {
            setup: Setup::from_env(),
        }
    }

    /// The `service` dimension and name (`POWERTOOLS_SERVICE_NAME`); also the
    /// OpenTelemetry `service.name`, in place of `OTEL_SERVICE_NAME` and of the
    /// `service.name` of `OTEL_RESOURCE_ATTRIBUTES` (unless `otel_service_name` or a
    /// `service.name` resource attribute given in code names the spans' service apart).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.setup.overridden(vars::SERVICE_NAME);
        // The spans' name too: `OTEL_SERVICE_NAME` is no longer used.
        #[cfg(feature = "opentelemetry")]
        self.setup
            .overridden(crate::config::trace_vars::OTEL_SERVICE_NAME);
        self.setup.settings.traces.service_in_code = true;
        self.setup.settings.service = Some(service.into());
        self
    }

    /// The CloudWatch namespace (`POWERTOOLS_METRICS_NAMESPACE`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.setup.overridden(vars::METRICS_NAMESPACE);
        self.setup.settings.namespace = Some(namespace.into());
        self
    }

    /// The `function_name` dimension of the `ColdStart` metric
    /// (`POWERTOOLS_METRICS_FUNCTION_NAME`, then `AWS_LAMBDA_FUNCTION_NAME`).
    pub fn function_name(mut self, function_name: impl Into<String>) -> Self {
        self.setup.settings.function_name = Some(function_name.into());
        self
    }

    /// Writes no EMF lines at all (`POWERTOOLS_METRICS_DISABLED`). Metrics calls still
    /// validate their input.
    pub fn metrics_disabled(mut self, disabled: bool) -> Self {
        self.setup.overridden(vars::METRICS_DISABLED);
        self.setup.settings.metrics_disabled = disabled;
        self
    }

    /// Whether cold and restart invocations write the `ColdStart` line
    /// (`LAMBDA_PERF_COLD_START_METRIC`, default on).
    pub fn cold_start_metric(mut self, enabled: bool) -> Self {
        self.setup.overridden(vars::COLD_START_METRIC);
        self.setup.settings.cold_start_metric = enabled;
        self
    }

    /// Whether EMF lines carry the `lambda_perf` property with the invocation facts
    /// (`LAMBDA_PERF_INVOCATION_FACTS`, default on).
    pub fn invocation_facts(mut self, enabled: bool) -> Self {
        self.setup.overridden(vars::INVOCATION_FACTS);
        self.setup.settings.invocation_facts = enabled;
        self
    }

    /// How Lambda initialized the environment (`AWS_LAMBDA_INITIALIZATION_TYPE`).
    pub fn initialization_type(mut self, initialization_type: InitializationType) -> Self {
        self.setup.overridden(vars::INITIALIZATION_TYPE);
        self.setup.settings.initialization_type = initialization_type;
        self
    }

    /// Adds a dimension to every metric of every invocation, or replaces the value of a
    /// default dimension (`LAMBDA_PERF_DEFAULT_DIMENSIONS`). The `ColdStart` line carries the
    /// default dimensions too, beside `function_name` and `service`, as Powertools for
    /// TypeScript writes it (Powertools for Python leaves them out of that line).
    pub fn default_dimension(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        let dimension = Dimension::new(name, value);
        let defaults = &mut self.setup.settings.default_dimensions;
        match defaults.iter_mut().find(|d| d.name == dimension.name) {
            Some(existing) => existing.value = dimension.value,
            None => defaults.push(dimension),
        }
        self
    }

    /// Removes every default dimension given so far: those of `LAMBDA_PERF_DEFAULT_DIMENSIONS`
    /// and those of earlier [`default_dimension`](Self::default_dimension) calls (as
    /// Powertools' `clear_default_dimensions`). The dimensions given after it are the only
    /// ones; `service` is written whatever is cleared.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// // Whatever LAMBDA_PERF_DEFAULT_DIMENSIONS says, every metric has `environment` alone
    /// // beside `service`.
    /// let layer = PerfLayer::builder()
    ///     .clear_default_dimensions()
    ///     .default_dimension("environment", "prod")
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    pub fn clear_default_dimensions(mut self) -> Self {
        // The entries it skipped, warned about, no longer matter.
        self.setup.overridden(vars::DEFAULT_DIMENSIONS);
        self.setup.settings.default_dimensions.clear();
        self
    }

    /// Keeps the environment marker in `dir` instead of [`std::env::temp_dir`]. The layer then
    /// classifies starts on its own instead of sharing the process-wide classifier.
    pub fn marker_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.setup.settings.marker = MarkerPlace::Dir(dir.into());
        self
    }

    /// Keeps no environment marker at all: the process alone says how it started (its first
    /// invocation `cold`, or `prewarmed` or `restored` as the initialization type says; the
    /// others `warm`), so a restarted runtime is never `restart`. For tests of a handler,
    /// which should not leave files behind.
    pub fn without_marker(mut self) -> Self {
        self.setup.settings.marker = MarkerPlace::Nowhere;
        self
    }

    /// Records no X-Ray subsegments (`POWERTOOLS_TRACE_DISABLED`).
    pub fn trace_disabled(mut self, disabled: bool) -> Self {
        self.setup.overridden(vars::TRACE_DISABLED);
        self.setup.settings.trace_disabled = disabled;
        self
    }

    /// Whether the response is recorded as `"<handler> response"` trace metadata
    /// (`POWERTOOLS_TRACER_CAPTURE_RESPONSE`, default on).
    pub fn capture_response(mut self, enabled: bool) -> Self {
        self.setup.overridden(vars::CAPTURE_RESPONSE);
        self.setup.settings.capture_response = enabled;
        self
    }

    /// Whether an error is recorded as `"<handler> error"` trace metadata
    /// (`POWERTOOLS_TRACER_CAPTURE_ERROR`, default on). The subsegment's fault and cause are
    /// recorded either way; off, the cause's exception has the error's type without its
    /// message.
    pub fn capture_error(mut self, enabled: bool) -> Self {
        self.setup.overridden(vars::CAPTURE_ERROR);
        self.setup.settings.capture_error = enabled;
        self
    }

    /// Passes the response and the error through `redact` before they are captured: it returns
    /// the value to capture (with fields masked or dropped), or `None` to capture nothing. An
    /// error's value is `{"type": …, "message": …}`; the handler subsegment's cause keeps the
    /// `message` it returns, or only the type. (See [What is captured](crate#what-is-captured).)
    ///
    /// ```
    /// use lambda_perf_core::{Captured, PerfLayer};
    ///
    /// let layer = PerfLayer::builder()
    ///     .redact(|captured, mut value| {
    ///         if captured == Captured::Response {
    ///             if let Some(card) = value.get_mut("card_number") {
    ///                 *card = "****".into();
    ///             }
    ///         }
    ///         Some(value)
    ///     })
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    pub fn redact(
        mut self,
        redact: impl Fn(Captured, Value) -> Option<Value> + Send + Sync + 'static,
    ) -> Self {
        self.setup.redact = Some(Redactor(Arc::new(redact)));
        self
    }

    /// Bytes of JSON kept of a captured response or error; larger ones are replaced by a
    /// `lambda_perf_truncated` marker with their size and a preview
    /// (`LAMBDA_PERF_CAPTURE_LIMIT`, default 16384).
    pub fn capture_limit(mut self, bytes: usize) -> Self {
        self.setup.overridden(vars::CAPTURE_LIMIT);
        self.setup.settings.capture_limit = bytes;
        self
    }

    /// The handler's name: its subsegment is `## <name>` (`LAMBDA_PERF_HANDLER_NAME`; default
    /// the Lambda function's name, else `handler`). `#[instrument_lambda(name = "...")]` sets
    /// the same; see [the naming rule](crate#the-handler-subsegments-name).
    pub fn handler_name(mut self, name: impl Into<String>) -> Self {
        self.setup.settings.handler_name_refused = None;
        self.setup.settings.handler_name = Some(name.into());
        self
    }

    /// How long before its deadline a still running invocation writes what it has recorded —
    /// its metric values with `outcome: "timeout"`, its handler subsegment (and the nested
    /// ones still open) as in-progress documents faulted with a timeout cause — so that a
    /// function Lambda kills at its deadline does not lose them
    /// (`LAMBDA_PERF_TIMEOUT_MARGIN_MS`, default 100 ms; zero turns the watchdog off, and the
    /// wait for an invocation's OpenTelemetry export then still stops 100 ms before the
    /// deadline). The handler is never interrupted; if it still finishes in time, its final
    /// records follow, without repeating a metric value, and its complete subsegments replace
    /// the in-progress ones (an OpenTelemetry backend, which has no in-progress span, gets a
    /// timeout span and then the final one of the same id). Off, quietly, for an invocation whose
    /// deadline is not at least the margin away when it begins (none at all: `cargo lambda
    /// watch` sends `600000`) and on Lambda Managed Instances.
    pub fn timeout_margin(mut self, margin: std::time::Duration) -> Self {
        self.setup.overridden(vars::TIMEOUT_MARGIN_MS);
        self.setup.settings.timeout_margin = margin;
        self
    }

    /// Whether each invocation records the CPU time (user + system) the process used during it,
    /// the process's peak resident memory so far, the ratio of that CPU time to the
    /// invocation's duration, and that ratio over the vCPUs the function's memory size allots
    /// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE` / 1769, at most 6; on Lambda Managed Instances, whose
    /// vCPUs are configured apart from the memory, those the process may run on), as
    /// `cpu_time_ms`, `peak_rss_mb`, `cpu_ratio` and `cpu_allotment_used` in its `lambda_perf`
    /// facts (the metadata of its EMF line and of its handler subsegment, and so far, of those
    /// the [`timeout_margin`](Self::timeout_margin) writes near its deadline).
    /// `cpu_allotment_used` near 1 says the invocation was CPU-bound (more memory, hence CPU,
    /// shortens it), near 0 that it waited on I/O (more memory will not help). Off by default:
    /// its two `getrusage(2)` system calls per invocation (and on Linux, while the process is
    /// smaller than the process that started it, a read of `/proc/self/status` for its own
    /// peak after an invocation that mapped new pages) cost more than the budget of an
    /// unsampled invocation (see BENCHMARKS.md)
    /// (`LAMBDA_PERF_RESOURCE_USAGE`). Unix only (Lambda's Linux included): elsewhere the
    /// fields are left out, with one warning.
    pub fn resource_usage(mut self, enabled: bool) -> Self {
        self.setup.overridden(vars::RESOURCE_USAGE);
        self.setup.settings.resource_usage = enabled;
        self
    }

    /// The X-Ray daemon's address (`AWS_XRAY_DAEMON_ADDRESS`, default `127.0.0.1:2000`):
    /// `host:port`, or `tcp:host:port udp:host:port`. A malformed one (no port, port 0, a
    /// prefix in capitals, a malformed TCP address beside the UDP one) makes
    /// [`build`](Self::build) fail with a [`ConfigError`]; the host is looked up when the layer
    /// is built, and one that cannot be is warned about and counted, as the variable's is.
    pub fn xray_daemon_address(mut self, address: impl Into<String>) -> Self {
        self.setup.settings.xray_daemon_address = Some(address.into());
        self.setup.settings.xray_daemon_address_in_code = true;
        self
    }

    /// Sends closed subsegments to `sink` instead of the X-Ray daemon. A
    /// [`UdpDaemonSink`](crate::xray::UdpDaemonSink) given here is used as the layer's own
    /// daemon output is: the drops a handler subsegment it could not send reported are
    /// reported by the next one.
    pub fn xray_sink(mut self, sink: impl SubsegmentSink) -> Self {
        self.setup.xray_sink = XRayOutput::given(sink);
        self
    }

    /// Writes EMF lines to `writer` instead of stdout (a test buffer, a log pipeline). Each
    /// write is one or more complete lines.
    pub fn emf_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.setup.writer = LineWriter::custom(writer);
        self
    }

    /// Validates the settings given in code and builds the layer.
    ///
    /// The environment's own problems were already turned into warnings and defaults; they
    /// are printed here, once per process.
    pub fn build(self) -> Result<PerfLayer, ConfigError> {
        let (instrumentation, errors) = self.setup.resolve();
        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(PerfLayer::with_instrumentation(instrumentation)),
        }
    }

    /// Builds the layer, replacing each invalid setting by its default with a warning.
    pub(crate) fn build_lenient(self) -> PerfLayer {
        PerfLayer::with_instrumentation(self.setup.resolve_lenient())
    }

    /// For tests: a builder over `pairs` as the environment, tracing off (no daemon socket).
    #[cfg(test)]
    pub(crate) fn over_pairs(pairs: &[(&str, &str)]) -> Self {
        Self {
            setup: Setup::from_pairs(pairs),
        }
        .without_marker()
        .trace_disabled(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A malformed daemon address given in code is a `ConfigError` of `build()`, as every
    /// invalid setting given in code is; the same from the environment is left to the sink,
    /// which warns of it and counts what it does not send.
    #[test]
    fn a_malformed_daemon_address_given_in_code_fails_the_build() {
        for (address, why) in [
            ("127.0.0.1:0", "port 0"),
            ("not an address", "more than two addresses"),
            (
                "udp:127.0.0.1:2000 udp:127.0.0.1:2001",
                "one address must be",
            ),
            ("UDP:127.0.0.1:2000 TCP:127.0.0.1:2000", "in lowercase"),
            ("tcp:garbage udp:127.0.0.1:2000", "its tcp address"),
            ("127.0.0.1", "has no port"),
        ] {
            let error = PerfLayerBuilder::over_pairs(&[])
                .xray_daemon_address(address)
                .build()
                .err()
                .unwrap_or_else(|| panic!("{address:?} was accepted"));
            assert_eq!(error.setting, "xray daemon address", "{address:?}");
            assert!(error.reason.contains(why), "{address:?}: {error}");
        }
        for address in [
            "127.0.0.1:2000",
            "tcp:127.0.0.1:2000 udp:169.254.79.129:2000",
        ] {
            let built = PerfLayerBuilder::over_pairs(&[])
                .xray_daemon_address(address)
                .build();
            assert!(built.is_ok(), "{address:?}: {:?}", built.err());
        }
        let (_, errors, _) =
            PerfLayerBuilder::over_pairs(&[("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:0")])
                .setup
                .resolve_quietly();
        assert_eq!(errors, [], "from the environment");
    }

    /// The environment marker is claimed when a layer is built, and only then: not by the
    /// process's default configuration (what a `SingleMetric` or a client created outside an
    /// invocation use), which a function whose layer keeps no marker, or keeps it elsewhere,
    /// also builds; nor by a build refused for an invalid setting.
    #[test]
    fn only_a_layer_built_claims_the_environment_marker() {
        use crate::invocation::marker::MARKER_FILE;

        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join(MARKER_FILE);
        let mut process_default = Setup::from_pairs(&[(vars::METRICS_NAMESPACE, "Test")]);
        process_default.settings.marker = MarkerPlace::Dir(dir.path().to_owned());
        let _ = process_default.resolve_lenient();
        assert!(!marker.exists(), "claimed by the process default");

        let refused = PerfLayerBuilder::over_pairs(&[])
            .marker_dir(dir.path())
            .namespace("Shop!")
            .build();
        assert!(refused.is_err());
        assert!(!marker.exists(), "claimed by a layer that was not built");

        let built = PerfLayerBuilder::over_pairs(&[])
            .marker_dir(dir.path())
            .namespace("Test")
            .build();
        assert!(built.is_ok());
        assert!(marker.exists(), "not claimed by the layer built");
    }

    #[test]
    fn a_value_given_in_code_silences_the_warning_about_its_variable() {
        let env = [
            (vars::METRICS_NAMESPACE, "Shop!"),
            (vars::SERVICE_NAME, "bad\u{7}service"),
            (vars::CAPTURE_RESPONSE, "maybe"),
            (vars::CAPTURE_ERROR, "maybe"),
            (vars::COLD_START_METRIC, "maybe"),
            (vars::INVOCATION_FACTS, "maybe"),
            (vars::METRICS_DISABLED, "maybe"),
            (vars::RESOURCE_USAGE, "maybe"),
            (vars::CAPTURE_LIMIT, "lots"),
            (vars::TIMEOUT_MARGIN_MS, "soon"),
            (vars::INITIALIZATION_TYPE, "warm-pool"),
        ];
        let (_, errors, warnings) = PerfLayerBuilder::over_pairs(&env).setup.resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), env.len(), "{warnings:#?}");

        let (_, errors, warnings) = PerfLayerBuilder::over_pairs(&env)
            .namespace("Shop")
            .service("orders")
            .capture_response(false)
            .capture_error(false)
            .cold_start_metric(false)
            .invocation_facts(false)
            .metrics_disabled(false)
            .resource_usage(true)
            .capture_limit(10)
            .timeout_margin(std::time::Duration::from_millis(5))
            .initialization_type(InitializationType::OnDemand)
            .setup
            .resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings, Vec::<String>::new());
    }

    /// `clear_default_dimensions` removes `LAMBDA_PERF_DEFAULT_DIMENSIONS`' dimensions and
    /// those given before it (and the warning about an entry of the variable it skipped, which
    /// no longer matters): those given after it are the only ones beside `service`.
    #[test]
    fn cleared_default_dimensions_leave_only_those_given_after() {
        let env = [
            (
                vars::DEFAULT_DIMENSIONS,
                "environment=staging,team=core,broken",
            ),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let resolved = |builder: PerfLayerBuilder| {
            let (instrumentation, errors, warnings) = builder.setup.resolve_quietly();
            assert!(errors.is_empty(), "{errors:?}");
            let dimensions: Vec<String> = instrumentation
                .settings
                .fixed_dimensions
                .iter()
                .map(|d| format!("{}={}", d.name, d.value))
                .collect();
            (dimensions, warnings)
        };
        let (dimensions, warnings) =
            resolved(PerfLayerBuilder::over_pairs(&env).default_dimension("tier", "gold"));
        assert_eq!(
            dimensions,
            [
                "environment=staging",
                "team=core",
                "tier=gold",
                "service=service_undefined"
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:#?}");

        let (dimensions, warnings) = resolved(
            PerfLayerBuilder::over_pairs(&env)
                .default_dimension("tier", "gold")
                .clear_default_dimensions()
                .default_dimension("environment", "prod"),
        );
        assert_eq!(
            dimensions,
            ["environment=prod", "service=service_undefined"]
        );
        assert_eq!(warnings, Vec::<String>::new());
    }

    /// A handler name from the environment that X-Ray would refuse is the environment's
    /// problem: one warning naming the variable and the fallback, not a `ConfigError` from
    /// `build()` (which would stop a function from starting over a variable).
    #[test]
    fn an_invalid_handler_name_variable_warns_instead_of_failing_the_build() {
        let env = [
            (vars::HANDLER_NAME, "orders?"),
            (vars::FUNCTION_NAME, "my-fn"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let (instrumentation, errors, warnings) =
            PerfLayerBuilder::over_pairs(&env).setup.resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("LAMBDA_PERF_HANDLER_NAME=\"orders?\""),
            "{warnings:#?}"
        );
        assert!(warnings[0].contains("my-fn"), "{warnings:#?}");
        assert_eq!(instrumentation.settings.handler_subsegment_name, "## my-fn");
        // Given in code, the same name is refused.
        let (_, errors, _) = PerfLayerBuilder::over_pairs(&[])
            .handler_name("orders?")
            .setup
            .resolve_quietly();
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    /// The warning about a refused `LAMBDA_PERF_HANDLER_NAME` names the name used instead: the
    /// function name given in code, when one is, not the environment's.
    #[test]
    fn a_refused_handler_name_variable_names_the_function_name_given_in_code() {
        let env = [
            (vars::HANDLER_NAME, "orders?"),
            (vars::FUNCTION_NAME, "my-fn"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let (instrumentation, errors, warnings) = PerfLayerBuilder::over_pairs(&env)
            .function_name("checkout")
            .setup
            .resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            instrumentation.settings.handler_subsegment_name,
            "## checkout"
        );
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("LAMBDA_PERF_HANDLER_NAME=\"orders?\"")
                && warnings[0].ends_with("using \"checkout\""),
            "{warnings:#?}"
        );
        // A function name X-Ray refuses too: `handler`, said once, without asking for the
        // variable that is set.
        let env = [
            (vars::HANDLER_NAME, "orders?"),
            (vars::METRICS_FUNCTION_NAME, "orders (prod)"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let (instrumentation, _, warnings) =
            PerfLayerBuilder::over_pairs(&env).setup.resolve_quietly();
        assert_eq!(
            instrumentation.settings.handler_subsegment_name,
            "## handler"
        );
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].ends_with("using \"handler\""), "{warnings:#?}");
    }
}
