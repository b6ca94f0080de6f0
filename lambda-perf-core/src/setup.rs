//! From settings to a running configuration: the settings validated, defaults applied, and
//! the outputs built and composed. Above the outputs, below the facades and faces that use
//! it.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::config::{
    ConfigError, DEFAULT_NAMESPACE, DEFAULT_SERVICE, OPENTELEMETRY_BUILT, Settings, TraceBackend,
    validate_otlp_endpoint, vars,
};
use crate::formats::emf::dimension::Dimension;
use crate::formats::emf::head::FixedHead;
use crate::formats::emf::{KeyKind, MetricsError, validate};
use crate::formats::xray::annotation;
use crate::formats::xray::metadata_name::MetadataName;
use crate::formats::xray::name;
use crate::invocation::instrumentation::{self, Instrumentation};
use crate::invocation::output::Output;
use crate::invocation::redaction::Redactor;
use crate::invocation::settings::{InvocationSettings, ServiceAnnotation};
use crate::invocation::start_tracker::{MarkerPlace, StartTracker};
use crate::outputs::emf::EmfOutput;
use crate::outputs::line_writer::LineWriter;
#[cfg(feature = "opentelemetry")]
use crate::outputs::otel::{DynExporter, OtelConfig, OtelOutput};
use crate::outputs::xray::{
    DEFAULT_DAEMON_ADDRESS, UdpDaemonSink, XRayOutput, check_address_setting,
};
use crate::warn::write_warning;

/// Settings plus what can only be given in code.
pub(crate) struct Setup {
    pub(crate) settings: Settings,
    /// Problems the environment had, already turned into defaults.
    pub(crate) env_warnings: Vec<String>,
    pub(crate) writer: LineWriter,
    /// The X-Ray output of a sink given in code.
    pub(crate) xray_sink: Option<XRayOutput>,
    /// Sees the response or error before it is captured.
    pub(crate) redact: Option<Redactor>,
    /// Span exporters given in code.
    #[cfg(feature = "opentelemetry")]
    pub(crate) span_exporters: Vec<Box<dyn DynExporter>>,
}

impl Setup {
    /// The environment's settings, EMF on stdout, X-Ray to the daemon.
    pub(crate) fn from_env() -> Self {
        let (settings, env_warnings) = Settings::from_env();
        Self {
            settings,
            env_warnings,
            writer: LineWriter::Stdout,
            xray_sink: None,
            redact: None,
            #[cfg(feature = "opentelemetry")]
            span_exporters: Vec::new(),
        }
    }

    /// Validates the settings, applies defaults, and builds the outputs. Invalid settings
    /// given in code are returned as errors and replaced by their defaults; the environment's
    /// warnings are printed once per process.
    /// `var`'s value is given in code: what the environment's value would have cost (a
    /// warning naming a fallback) no longer applies.
    pub(crate) fn overridden(&mut self, var: &str) {
        crate::config::forget_warnings_about(&mut self.env_warnings, var);
    }

    pub(crate) fn resolve(self) -> (Arc<Instrumentation>, Vec<ConfigError>) {
        let (instrumentation, errors, warnings) = self.resolve_quietly();
        warn_once_per_process(&warnings);
        (instrumentation, errors)
    }

    /// [`resolve`](Self::resolve), with the warnings returned instead of printed.
    pub(crate) fn resolve_quietly(self) -> (Arc<Instrumentation>, Vec<ConfigError>, Vec<String>) {
        let Self {
            mut settings,
            env_warnings: mut warnings,
            writer,
            xray_sink,
            redact,
            #[cfg(feature = "opentelemetry")]
            span_exporters,
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
            if !settings.metrics_disabled && !configured_namespace && !settings.namespace_refused {
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
        // Given in code, a malformed daemon address is refused as any invalid setting in code
        // is (replaced by the default, `build()` failing); from the environment, the sink
        // warns of it and sends nothing (outputs/xray/address.rs).
        if settings.xray_daemon_address_in_code {
            let refused = settings
                .xray_daemon_address
                .as_deref()
                .is_some_and(|address| {
                    !check("xray daemon address", check_address_setting(address))
                });
            if refused {
                settings.xray_daemon_address = None;
            }
        }
        let handler_name = settings
            .handler_name
            .filter(|handler| {
                check(
                    "handler name",
                    name::validate_handler_name(handler).map_err(str::to_owned),
                )
            })
            .unwrap_or_else(|| {
                let function_name = settings.function_name.as_deref();
                let fallback = name::default_handler_name(function_name);
                if let Some((handler, reason)) = &settings.handler_name_refused {
                    warnings.push(format!(
                        "{}={handler:?}: {reason}; using {fallback:?}",
                        vars::HANDLER_NAME
                    ));
                } else if let Some(function) = function_name {
                    if let Err(reason) = name::validate_handler_name(function) {
                        warnings.push(format!(
                            "the function name {function:?} cannot name the handler \
                             subsegment: {reason}; using \"handler\" (set {} to name it)",
                            vars::HANDLER_NAME
                        ));
                    }
                }
                fallback.to_owned()
            });

        let mut fixed_dimensions: Vec<Dimension> = Vec::new();
        for dimension in settings.default_dimensions {
            let result = default_dimension_fits(&fixed_dimensions, &dimension);
            if check("default dimension", result.map_err(reason)) {
                fixed_dimensions.push(dimension);
            }
        }
        fixed_dimensions.push(Dimension::new("service", service.clone()));

        // Where traces go (`LAMBDA_PERF_TRACES`, config/traces.rs): which outputs there are,
        // and whether invocations record a trace at all. OpenTelemetry backends named in the
        // environment of a build without the feature were already warned about and left out:
        // any left here were given in code.
        let mut trace_settings = settings.traces;
        let mut trace_backends = trace_settings.backends();
        if !OPENTELEMETRY_BUILT
            && trace_backends
                .iter()
                .any(|backend| backend.is_opentelemetry())
        {
            errors.push(ConfigError {
                setting: "traces",
                reason: "otlp and xray-otlp need lambda-perf-core's `opentelemetry` feature"
                    .to_owned(),
            });
            trace_backends.retain(|backend| !backend.is_opentelemetry());
        }
        if let Some(endpoint) = &trace_settings.otlp_endpoint {
            if let Err(reason) = validate_otlp_endpoint(endpoint) {
                errors.push(ConfigError {
                    setting: "otlp endpoint",
                    reason,
                });
                trace_settings.otlp_endpoint = None;
            }
        }
        trace_settings.refuse_invalid_given_in_code(&mut errors);
        // `OTEL_TRACES_EXPORTER=none` (config/traces.rs) is said only where invocations record
        // a trace: with tracing off it turned nothing off.
        if !settings.trace_disabled {
            warnings.extend(trace_settings.traces_exporter_none_warning.take());
        }
        // `OTEL_SDK_DISABLED` (config/traces.rs): no OpenTelemetry export, whatever chose it.
        #[cfg(feature = "opentelemetry")]
        let span_exporters = if trace_settings.otel_sdk_disabled {
            let warning = sdk_disabled_warning(&trace_backends, span_exporters.len());
            trace_backends.retain(|backend| !backend.is_opentelemetry());
            if !trace_settings.otel_sdk_disabled_in_code && !settings.trace_disabled {
                warnings.extend(warning);
            }
            Vec::new()
        } else {
            span_exporters
        };
        #[cfg(feature = "opentelemetry")]
        let own_exporters = !span_exporters.is_empty();
        #[cfg(not(feature = "opentelemetry"))]
        let own_exporters = false;
        let recording = !settings.trace_disabled && (!trace_backends.is_empty() || own_exporters);
        #[cfg(feature = "opentelemetry")]
        let otel = if recording {
            let (output, problems) = OtelOutput::build(OtelConfig {
                backends: &trace_backends,
                settings: &trace_settings,
                exporters: span_exporters,
                daemon_address: settings
                    .xray_daemon_address
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DAEMON_ADDRESS.to_owned()),
                service_name: explicit_service
                    .clone()
                    .or_else(|| settings.function_name.clone())
                    .unwrap_or_else(|| service.clone()),
                capture_error: settings.capture_error,
            });
            warnings.extend(problems);
            output
        } else {
            None
        };
        #[cfg(not(feature = "opentelemetry"))]
        let otel = ();

        let tracker = match settings.marker {
            MarkerPlace::TempDir => StartTracker::global(settings.environment_identity),
            place => Arc::new(StartTracker::new(place, settings.environment_identity)),
        };
        let emf = (!settings.metrics_disabled).then(|| EmfOutput {
            writer,
            head: FixedHead::new(namespace, fixed_dimensions.clone()),
            service: service.clone(),
            function_name: settings.function_name,
            cold_start_metric: settings.cold_start_metric,
            invocation_facts: settings.invocation_facts,
        });
        let xray = (recording && trace_backends.contains(&TraceBackend::XRay)).then(|| {
            xray_sink.unwrap_or_else(|| {
                let address = settings
                    .xray_daemon_address
                    .unwrap_or_else(|| DEFAULT_DAEMON_ADDRESS.to_owned());
                XRayOutput::Daemon(Arc::new(UdpDaemonSink::new(address)))
            })
        });
        // Kept only where traced invocations use them: a layer that never traces keeps none.
        let capture_name = |text: String| {
            if recording {
                MetadataName::kept(text)
            } else {
                MetadataName::from(text)
            }
        };
        // A namespace X-Ray reserves names no metadata (`xray::try_add_metadata` refuses it).
        let capture_namespace = match annotation::validate_namespace(&service) {
            Ok(()) => Some(capture_name(service.clone())),
            Err(_) => {
                if recording && (settings.capture_response || settings.capture_error) {
                    warnings.push(format!(
                        "the service {service:?} starts with \"AWS.\", a metadata namespace \
                         X-Ray reserves: the captured response and error are not written as \
                         the handler subsegment's metadata (counted as \
                         xray.reserved_metadata_namespace); a failure's cause still is"
                    ));
                }
                None
            }
        };
        let output = ((emf, xray), otel);
        let instrumentation = Instrumentation {
            settings: InvocationSettings {
                service,
                // Only traced invocations annotate (and only they would warn or count).
                service_annotation: if recording {
                    ServiceAnnotation::of(explicit_service.as_deref())
                } else {
                    ServiceAnnotation::Unset
                },
                fixed_dimensions,
                initialization_type: settings.initialization_type,
                tracing: recording,
                capture_response: settings.capture_response,
                capture_error: settings.capture_error,
                capture_limit: settings.capture_limit,
                redact,
                handler_subsegment_name: format!("## {handler_name}"),
                capture_namespace,
                response_key: capture_name(format!("{handler_name} response")),
                error_key: capture_name(format!("{handler_name} error")),
                timeout_margin: Some(settings.timeout_margin).filter(|margin| !margin.is_zero()),
                resource_usage: settings.resource_usage,
            },
            tracker,
            every_beginning: output.needs_every_beginning(),
            output: Box::new(output),
        };
        (Arc::new(instrumentation), errors, warnings)
    }

    /// Resolves, replacing each invalid setting by its default with a warning.
    pub(crate) fn resolve_lenient(self) -> Arc<Instrumentation> {
        let (instrumentation, errors) = self.resolve();
        for error in errors {
            write_warning(format_args!("{error}; the default is used"));
        }
        instrumentation
    }
}

/// What `OTEL_SDK_DISABLED=true` says when it turns OpenTelemetry export off: the backends
/// and the exporters given in code it turns off, and where traces still go; nothing when it
/// has nothing to turn off.
#[cfg(feature = "opentelemetry")]
fn sdk_disabled_warning(backends: &[TraceBackend], exporters_in_code: usize) -> Option<String> {
    let mut off: Vec<String> = backends
        .iter()
        .filter(|backend| backend.is_opentelemetry())
        .map(|backend| backend.as_str().to_owned())
        .collect();
    if exporters_in_code > 0 {
        off.push(format!(
            "{exporters_in_code} span exporter(s) given in code"
        ));
    }
    if off.is_empty() {
        return None;
    }
    let instead = if backends.contains(&TraceBackend::XRay) {
        "traces go to xray alone"
    } else {
        "no traces are sent"
    };
    Some(format!(
        "{}=true: the OpenTelemetry backends are off ({}); {instead}",
        crate::config::trace_vars::OTEL_SDK_DISABLED,
        off.join(", ")
    ))
}

/// Whether a default dimension can join those accepted before it.
fn default_dimension_fits(
    accepted: &[Dimension],
    dimension: &Dimension,
) -> Result<(), MetricsError> {
    validate::dimension(&dimension.name, &dimension.value)?;
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
    } else if accepted.len() + 1 >= validate::MAX_DIMENSIONS {
        Err(MetricsError::TooManyDimensions {
            name: dimension.name.to_string(),
            limit: validate::MAX_DIMENSIONS,
        })
    } else {
        Ok(())
    }
}

/// Each configuration warning is printed once per process: by the first configuration built
/// that has it, not by every one, and not only by the first configuration built.
pub(crate) fn warn_once_per_process(warnings: &[String]) {
    static PRINTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    if warnings.is_empty() {
        return;
    }
    let mut printed = PRINTED.lock().unwrap_or_else(PoisonError::into_inner);
    for warning in warnings {
        if !printed.contains(warning) {
            write_warning(warning);
            printed.push(warning.clone());
        }
    }
}

/// The configuration of records written outside any invocation (a `SingleMetric`, a client
/// created by a background task): once the process serves, that of the handler that began its
/// first invocation (`instrumentation::served`: its namespace, `service` and outputs, given in
/// code or not); before, the one the environment gives.
pub(crate) fn outside_invocation() -> Arc<Instrumentation> {
    if let Some(served) = instrumentation::served() {
        return Arc::clone(served);
    }
    static PROCESS: OnceLock<Arc<Instrumentation>> = OnceLock::new();
    Arc::clone(PROCESS.get_or_init(|| Setup::from_env().resolve_lenient()))
}

#[cfg(test)]
impl Setup {
    /// A setup read from `pairs` as the environment, writing its lines nowhere (tests).
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let env: std::collections::HashMap<&str, &str> = pairs.iter().copied().collect();
        let (settings, env_warnings) =
            Settings::from_lookup(|name| env.get(name).map(|value| (*value).to_owned()));
        Self {
            settings,
            env_warnings,
            writer: LineWriter::custom(std::io::sink()),
            xray_sink: None,
            redact: None,
            #[cfg(feature = "opentelemetry")]
            span_exporters: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setup read from `pairs` as the environment, tracing off (no daemon socket).
    fn setup(pairs: &[(&str, &str)]) -> Setup {
        let mut setup = Setup::from_pairs(pairs);
        setup.settings.trace_disabled = true;
        setup.settings.marker = MarkerPlace::Nowhere;
        setup
    }

    /// The handler is named after the function when nothing else names it; a
    /// `POWERTOOLS_METRICS_FUNCTION_NAME` X-Ray would refuse as a subsegment name (it is
    /// free text, unlike Lambda's own function names) must not make every handler
    /// subsegment one X-Ray drops.
    #[test]
    fn a_function_name_x_ray_refuses_does_not_name_the_handler_subsegment() {
        let (instrumentation, errors, warnings) = setup(&[
            (vars::METRICS_FUNCTION_NAME, "orders (prod)"),
            (vars::FUNCTION_NAME, "orders-prod"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ])
        .resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        let name = &instrumentation.settings.handler_subsegment_name;
        assert_eq!(
            name::sanitize(name.clone().into()),
            Ok(name.clone().into()),
            "X-Ray refuses {name:?}"
        );
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].contains("orders (prod)"), "{warnings:#?}");
    }

    /// Each configuration's warnings are printed once per process, not only the first
    /// configuration's: a later one (the process default of records outside a handler, a
    /// second layer) that falls back on a setting the first one had in code says so.
    /// Runs itself again in a child process to read its stderr.
    #[test]
    fn a_later_configuration_prints_the_warnings_the_first_did_not() {
        const CHILD: &str = "LAMBDA_PERF_TEST_WARNINGS_CHILD";
        let test = "setup::tests::a_later_configuration_prints_the_warnings_the_first_did_not";
        if std::env::var_os(CHILD).is_some() {
            let service = (vars::SERVICE_NAME, "bad\u{7}service");
            let namespace = (vars::METRICS_NAMESPACE, "Shop");
            let _ = setup(&[service, namespace]).resolve();
            let _ = setup(&[service, namespace, (vars::TIMEOUT_MARGIN_MS, "soon")]).resolve();
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.matches(vars::SERVICE_NAME).count(),
            1,
            "the same warning twice:\n{stderr}"
        );
        assert_eq!(
            stderr
                .matches("LAMBDA_PERF_TIMEOUT_MARGIN_MS=\"soon\"")
                .count(),
            1,
            "the second configuration's fallback is not warned about:\n{stderr}"
        );
    }

    #[test]
    fn an_invalid_namespace_variable_costs_one_warning() {
        let (_, errors, warnings) = setup(&[(vars::METRICS_NAMESPACE, "Shop!")]).resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with(vars::METRICS_NAMESPACE),
            "{warnings:#?}"
        );
    }

    #[test]
    fn an_unset_namespace_costs_one_warning() {
        let (_, _, warnings) = setup(&[]).resolve_quietly();
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].contains("is not set"), "{warnings:#?}");
    }
}
