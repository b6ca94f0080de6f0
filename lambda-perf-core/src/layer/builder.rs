//! The builder: the environment's settings, each overridable in code.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};

use super::{PerfConfig, PerfLayer};
use crate::InitializationType;
use crate::config::{ConfigError, DEFAULT_NAMESPACE, DEFAULT_SERVICE, Settings, vars};
use crate::metrics::dimension::Dimension;
use crate::metrics::{EmfWriter, KeyKind, MetricsError, validate};
use crate::start_tracker::StartTracker;
use crate::warn::write_warning;
use crate::xray::{self, SubsegmentSink, UdpDaemonSink};

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
    settings: Settings,
    env_warnings: Vec<String>,
    writer: EmfWriter,
    xray_sink: Option<Arc<dyn SubsegmentSink>>,
}

impl std::fmt::Debug for PerfLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfLayerBuilder")
            .field("settings", &self.settings)
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl PerfLayerBuilder {
    pub(super) fn from_env() -> Self {
        let (settings, env_warnings) = Settings::from_env();
        Self {
            settings,
            env_warnings,
            writer: EmfWriter::Stdout,
            xray_sink: None,
        }
    }

    /// The `service` dimension and name (`POWERTOOLS_SERVICE_NAME`).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.settings.service = Some(service.into());
        self
    }

    /// The CloudWatch namespace (`POWERTOOLS_METRICS_NAMESPACE`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.settings.namespace = Some(namespace.into());
        self
    }

    /// The `function_name` dimension of the `ColdStart` metric
    /// (`POWERTOOLS_METRICS_FUNCTION_NAME`, then `AWS_LAMBDA_FUNCTION_NAME`).
    pub fn function_name(mut self, function_name: impl Into<String>) -> Self {
        self.settings.function_name = Some(function_name.into());
        self
    }

    /// Writes no EMF lines at all (`POWERTOOLS_METRICS_DISABLED`). Metrics calls still
    /// validate their input.
    pub fn metrics_disabled(mut self, disabled: bool) -> Self {
        self.settings.metrics_disabled = disabled;
        self
    }

    /// Whether cold and restart invocations write the `ColdStart` line
    /// (`LAMBDA_PERF_COLD_START_METRIC`, default on).
    pub fn cold_start_metric(mut self, enabled: bool) -> Self {
        self.settings.cold_start_metric = enabled;
        self
    }

    /// Whether EMF lines carry the `lambda_perf` property with the invocation facts
    /// (`LAMBDA_PERF_INVOCATION_FACTS`, default on).
    pub fn invocation_facts(mut self, enabled: bool) -> Self {
        self.settings.invocation_facts = enabled;
        self
    }

    /// How Lambda initialized the environment (`AWS_LAMBDA_INITIALIZATION_TYPE`).
    pub fn initialization_type(mut self, initialization_type: InitializationType) -> Self {
        self.settings.initialization_type = initialization_type;
        self
    }

    /// Adds a dimension to every metric of every invocation, or replaces the value of a
    /// default dimension (`LAMBDA_PERF_DEFAULT_DIMENSIONS`).
    pub fn default_dimension(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        let dimension = Dimension::new(name, value);
        let defaults = &mut self.settings.default_dimensions;
        match defaults.iter_mut().find(|d| d.name == dimension.name) {
            Some(existing) => existing.value = dimension.value,
            None => defaults.push(dimension),
        }
        self
    }

    /// Keeps the environment marker in `dir` instead of [`std::env::temp_dir`]. The layer then
    /// classifies starts on its own instead of sharing the process-wide classifier.
    pub fn marker_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.marker_dir = Some(dir.into());
        self
    }

    /// Records no X-Ray subsegments (`POWERTOOLS_TRACE_DISABLED`).
    pub fn trace_disabled(mut self, disabled: bool) -> Self {
        self.settings.trace_disabled = disabled;
        self
    }

    /// Whether the response is recorded as `"<handler> response"` trace metadata
    /// (`POWERTOOLS_TRACER_CAPTURE_RESPONSE`, default on).
    pub fn capture_response(mut self, enabled: bool) -> Self {
        self.settings.capture_response = enabled;
        self
    }

    /// Whether an error is recorded as `"<handler> error"` trace metadata
    /// (`POWERTOOLS_TRACER_CAPTURE_ERROR`, default on). The subsegment's fault and cause are
    /// recorded either way.
    pub fn capture_error(mut self, enabled: bool) -> Self {
        self.settings.capture_error = enabled;
        self
    }

    /// Bytes of JSON kept of a captured response or error; larger ones are replaced by a
    /// `lambda_perf_truncated` marker with their size and a preview
    /// (`LAMBDA_PERF_CAPTURE_LIMIT`, default 16384).
    pub fn capture_limit(mut self, bytes: usize) -> Self {
        self.settings.capture_limit = bytes;
        self
    }

    /// The handler's name: its subsegment is `## <name>` (`LAMBDA_PERF_HANDLER_NAME`; default
    /// the Lambda function's name, else `handler`). `#[instrument_lambda(name = "...")]` sets
    /// the same; see [the naming rule](crate#the-handler-subsegments-name).
    pub fn handler_name(mut self, name: impl Into<String>) -> Self {
        self.settings.handler_name = Some(name.into());
        self
    }

    /// The X-Ray daemon's address (`AWS_XRAY_DAEMON_ADDRESS`, default `127.0.0.1:2000`).
    pub fn xray_daemon_address(mut self, address: impl Into<String>) -> Self {
        self.settings.xray_daemon_address = Some(address.into());
        self
    }

    /// Sends closed subsegments to `sink` instead of the X-Ray daemon.
    pub fn xray_sink(mut self, sink: impl SubsegmentSink) -> Self {
        self.xray_sink = Some(Arc::new(sink));
        self
    }

    /// Writes EMF lines to `writer` instead of stdout (a test buffer, a log pipeline). Each
    /// write is one or more complete lines.
    pub fn emf_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = EmfWriter::Custom(Arc::new(Mutex::new(writer)));
        self
    }

    /// Validates the settings given in code and builds the layer.
    ///
    /// The environment's own problems were already turned into warnings and defaults; they
    /// are printed here, once per process.
    pub fn build(self) -> Result<PerfLayer, ConfigError> {
        let (layer, errors) = self.resolve();
        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(layer),
        }
    }

    /// Builds the layer, replacing each invalid setting by its default with a warning.
    pub(crate) fn build_lenient(self) -> PerfLayer {
        let (layer, errors) = self.resolve();
        for error in errors {
            write_warning(format_args!("{error}; the default is used"));
        }
        layer
    }

    fn resolve(self) -> (PerfLayer, Vec<ConfigError>) {
        let Self {
            settings,
            env_warnings: mut warnings,
            writer,
            xray_sink,
        } = self;
        let mut errors = Vec::new();
        let mut check = |setting: &'static str, result: Result<(), String>| match result {
            Ok(()) => true,
            Err(reason) => {
                errors.push(ConfigError { setting, reason });
                false
            }
        };
        let reason = |error: MetricsError| error.to_string();

        let configured_namespace = settings.namespace.is_some();
        let namespace = settings
            .namespace
            .filter(|namespace| check("namespace", validate::namespace(namespace).map_err(reason)));
        let namespace = namespace.unwrap_or_else(|| {
            if !settings.metrics_disabled && !configured_namespace {
                warnings.push(format!(
                    "{} is not set; metrics go to the namespace {DEFAULT_NAMESPACE:?}",
                    vars::METRICS_NAMESPACE
                ));
            }
            DEFAULT_NAMESPACE.to_owned()
        });
        let explicit_service = settings.service.filter(|service| {
            check(
                "service",
                validate::dimension("service", service).map_err(reason),
            )
        });
        let service = explicit_service
            .clone()
            .unwrap_or_else(|| DEFAULT_SERVICE.to_owned());
        let handler_name = settings
            .handler_name
            .filter(|name| {
                check(
                    "handler name",
                    xray::validate_subsegment_name(name).map_err(str::to_owned),
                )
            })
            .or_else(|| settings.function_name.clone())
            .unwrap_or_else(|| "handler".to_owned());

        let mut fixed_dimensions: Vec<Dimension> = Vec::new();
        for dimension in settings.default_dimensions {
            let result = validate::dimension(&dimension.name, &dimension.value).and_then(|()| {
                let reserved = validate::RESERVED_KEYS.contains(&&*dimension.name);
                if reserved || dimension.name == "service" {
                    Err(MetricsError::KeyCollision {
                        existing: if reserved {
                            KeyKind::Reserved
                        } else {
                            KeyKind::Dimension
                        },
                        key: dimension.name.to_string(),
                        requested: KeyKind::Dimension,
                    })
                } else if fixed_dimensions.len() + 1 >= validate::MAX_DIMENSIONS {
                    Err(MetricsError::TooManyDimensions {
                        name: dimension.name.to_string(),
                        limit: validate::MAX_DIMENSIONS,
                    })
                } else {
                    Ok(())
                }
            });
            if check("default dimension", result.map_err(reason)) {
                fixed_dimensions.push(dimension);
            }
        }
        fixed_dimensions.push(Dimension::new("service", service.clone()));
        warn_once_per_process(&warnings);

        let tracker = match settings.marker_dir {
            Some(dir) => Arc::new(StartTracker::new(Some(dir))),
            None => StartTracker::global(),
        };
        let xray_sink = xray_sink.unwrap_or_else(|| {
            let address = settings
                .xray_daemon_address
                .unwrap_or_else(|| xray::DEFAULT_DAEMON_ADDRESS.to_owned());
            Arc::new(UdpDaemonSink::new(address))
        });
        let layer = PerfLayer::with_config(PerfConfig {
            namespace,
            service,
            explicit_service,
            function_name: settings.function_name,
            metrics_disabled: settings.metrics_disabled,
            cold_start_metric: settings.cold_start_metric,
            invocation_facts: settings.invocation_facts,
            initialization_type: settings.initialization_type,
            fixed_dimensions,
            writer,
            tracker,
            trace_disabled: settings.trace_disabled,
            capture_response: settings.capture_response,
            capture_error: settings.capture_error,
            capture_limit: settings.capture_limit,
            handler_subsegment_name: format!("## {handler_name}"),
            handler_name,
            xray_sink,
        });
        (layer, errors)
    }
}

/// Configuration warnings are printed by the first layer built, not by every one.
fn warn_once_per_process(warnings: &[String]) {
    static PRINTED: Once = Once::new();
    if warnings.is_empty() {
        return;
    }
    PRINTED.call_once(|| {
        for warning in warnings {
            write_warning(warning);
        }
    });
}
