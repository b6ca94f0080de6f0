//! Configuration: every environment variable lambda-perf reads is read here, and nothing here
//! panics. A bad value costs one warning and falls back to the documented default.
//!
//! Each variable's value can be given in code instead, by the method of
//! [`PerfLayerBuilder`](crate::PerfLayerBuilder) its row names (those of the OpenTelemetry
//! rows with the `opentelemetry` feature): a value given in code wins over the variable's,
//! and a warning about a bad value of the variable it replaces is not printed. A list's
//! method adds an entry or replaces the value of the variable's entry of the same name; its
//! `clear_…` method drops the entries given so far, the variable's included.
//!
//! | variable | meaning | default | in code |
//! |---|---|---|---|
//! | `POWERTOOLS_SERVICE_NAME` | the `service` dimension | `service_undefined` | `service` |
//! | `POWERTOOLS_METRICS_NAMESPACE` | the CloudWatch namespace | `default_namespace`, with a warning | `namespace` |
//! | `POWERTOOLS_METRICS_DISABLED` | truthy: write no EMF lines | false; true under `POWERTOOLS_DEV` | `metrics_disabled` |
//! | `POWERTOOLS_DEV` | truthy: a developer's machine, where, as in Powertools, metrics are off unless `POWERTOOLS_METRICS_DISABLED` says otherwise, and JSON log lines are indented for reading | false | `metrics_disabled`; `InitBuilder::log_indented` |
//! | `POWERTOOLS_METRICS_FUNCTION_NAME` | the `function_name` dimension of `ColdStart` | `AWS_LAMBDA_FUNCTION_NAME` | `function_name` |
//! | `AWS_LAMBDA_FUNCTION_NAME` | set by Lambda | the invocation context's | `function_name` |
//! | `AWS_LAMBDA_INITIALIZATION_TYPE` | set by Lambda, see [`InitializationType`] | `on-demand` | `initialization_type` |
//! | `LAMBDA_PERF_COLD_START_METRIC` | falsy: no `ColdStart` line | true | `cold_start_metric` |
//! | `LAMBDA_PERF_INVOCATION_FACTS` | falsy: no `lambda_perf` property in EMF lines | true | `invocation_facts` |
//! | `LAMBDA_PERF_DEFAULT_DIMENSIONS` | `name=value,name=value` added to every metric | none | `default_dimension`, `clear_default_dimensions` |
//! | `POWERTOOLS_TRACE_DISABLED` | truthy: record no X-Ray subsegments | false | `trace_disabled` |
//! | `POWERTOOLS_TRACER_CAPTURE_RESPONSE` | falsy: no `"<handler> response"` metadata | true | `capture_response` |
//! | `POWERTOOLS_TRACER_CAPTURE_ERROR` | falsy: no `"<handler> error"` metadata (fault and cause stay, the cause's exception with the error's type, not its message) | true | `capture_error` |
//! | `AWS_XRAY_DAEMON_ADDRESS` | set by Lambda: `host:port` or `tcp:host:port udp:host:port`, read as the X-Ray SDKs read it (lowercase prefixes; the TCP address, unused here, checked too), with a port from 1 to 65535. A malformed or unresolvable value is not replaced by the default: one warning says why and what is expected, and no subsegments (nor `xray-otlp` spans) are sent, each counted (`xray.daemon_address_unusable`, `otel.xray_otlp_address_unusable`); a malformed one given in code fails `build()` with a `ConfigError` | `127.0.0.1:2000` | `xray_daemon_address` (or `xray_sink`) |
//! | `LAMBDA_PERF_HANDLER_NAME` | the handler subsegment is `## <name>` | the function name (`POWERTOOLS_METRICS_FUNCTION_NAME`, else `AWS_LAMBDA_FUNCTION_NAME`), else `handler` | `handler_name` |
//! | `LAMBDA_PERF_CAPTURE_LIMIT` | bytes of JSON kept of a captured response or error | 16384 | `capture_limit` |
//! | `LAMBDA_PERF_RESOURCE_USAGE` | truthy: each invocation's CPU time, the process's peak memory, CPU time over duration and the share of its vCPUs it used (those its memory size allots; on Managed Instances, the process's) in its `lambda_perf` facts (EMF line and handler subsegment; see [`resource_usage`](crate::PerfLayerBuilder::resource_usage)) | false | `resource_usage` |
//! | `LAMBDA_PERF_TIMEOUT_MARGIN_MS` | how long before its deadline a still running invocation writes what it recorded (`0`: never) | 100 | `timeout_margin` |
//! | `LAMBDA_PERF_TRACES` | where traces go: `xray`, `otlp`, `xray-otlp` (comma list), or `none`; see [`TraceBackend`] | `xray` | `traces` |
//! | `OTEL_SDK_DISABLED` | `true` (any case; any other value is false, as OpenTelemetry defines it, and one that is not `false` is warned about): no OpenTelemetry export (`otlp`, `xray-otlp`, exporters given in code), however chosen, with one warning (none while tracing is off); `xray` goes on | false | `otel_sdk_disabled` (wins over it; `traces` does not) |
//! | `OTEL_TRACES_EXPORTER` | `none`: no `otlp` or `xray-otlp` of `LAMBDA_PERF_TRACES` (exporters given in code go on), with one warning (none while tracing is off, when it turns nothing off); `otlp`: what they send; another value (`console`, `zipkin`) is warned about and taken as `otlp`. It never turns a backend on | `otlp` | `traces` (wins over it) |
//! | `LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS` | longest wait for an invocation's OpenTelemetry export (this and the variables of OpenTelemetry below are read only with the `opentelemetry` feature) | 200 | `otel_flush_timeout` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` | the `otlp` collector, as OpenTelemetry defines them | `http://localhost:4318/v1/traces` | `otlp_endpoint` |
//! | `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` | `name=value,…` (values percent-encoded) sent with every `otlp` export | none | `otlp_header`, `clear_otlp_headers` |
//! | `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` | `gzip` or `none`; `zstd` when another crate of the build turns on `opentelemetry-otlp`'s `zstd-http` (its exporter compresses it; without, it is warned about). The exporter, once a crate turns its `gzip-http` or `zstd-http` on, reads them by its own rules (a value it cannot apply, a `gzip` without `gzip-http`, is passed over for the generic variable's): where what it sends differs from what they say, one warning names what the exports get | `none` | `otlp_gzip` |
//! | `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` | milliseconds one export may take (`0`: no limit, as OpenTelemetry defines it), `otlp`'s and each of an exporter given in code, before it is given up and its spans counted as dropped | 10000 | `otlp_timeout` |
//! | `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` | `otlp` sends `http/protobuf` only: another value is warned about | `http/protobuf` | — (`span_exporter` sends with another protocol) |
//! | `OTEL_SERVICE_NAME` | the spans' `service.name` (a service given in code wins) | `OTEL_RESOURCE_ATTRIBUTES`' `service.name`, else `POWERTOOLS_SERVICE_NAME`, else the function's name | `otel_service_name` (wins over all), `service` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` (values percent-encoded): more attributes of the spans' resource | none | `otel_resource_attribute`, `clear_otel_resource_attributes` |
//! | `AWS_REGION` | set by Lambda: the spans' `cloud.region` (a `cloud.region` of `OTEL_RESOURCE_ATTRIBUTES` names the resource's, unless the region is given in code) | the region of the function's ARN | `region` |
//! | `AWS_LAMBDA_LOG_STREAM_NAME`, else `AWS_LAMBDA_INSTANCE_ID` | set by Lambda (the log stream) or by `cargo lambda watch` (the instance): names the execution environment in the start marker, whose place `marker_dir` and `without_marker` choose | none | — (a fact of the environment, not a setting) |
//!
//! Truthy values are `1 true t yes y on`, falsy ones `0 false f no n off` (any case).
//!
//! The log lines of [`init`] (feature `tracing`, on by default) read these:
//!
//! | variable | meaning | default | in code ([`InitBuilder`]) |
//! |---|---|---|---|
//! | `AWS_LAMBDA_LOG_LEVEL` | set by Lambda's advanced logging controls: the level, first | — | — (as in Powertools, it wins over `log_level`, with a warning when they differ) |
//! | `POWERTOOLS_LOG_LEVEL` | the level, second (`WARNING`, `CRITICAL` and `SILENT` too) | — | `log_level` |
//! | `LOG_LEVEL` | Powertools' older name of `POWERTOOLS_LOG_LEVEL`, read as Powertools reads it: only when that one is not set | — | `log_level` |
//! | `RUST_LOG` | the level, third; and `target=level` directives (see [`logs`]) | `INFO` | `log_level`; `target_level` (wins over the variable's for its target), `clear_target_levels` |
//! | `LAMBDA_PERF_LOG_FORMAT` | `JSON` or `Text` | `JSON` | `log_format` |
//! | `POWERTOOLS_LOGGER_SAMPLE_RATE` | share of invocations (0–1) logged at `DEBUG` | 0 | `log_sample_rate` |
//! | `POWERTOOLS_LOGGER_LOG_EVENT` | truthy: [`logs::log_event`] logs the incoming event | false | `log_event` |
//! | `POWERTOOLS_DEV` | truthy: JSON lines indented for reading | false | `log_indented` |
//!
//! Lambda's own `AWS_LAMBDA_LOG_FORMAT` does not choose the format: Lambda sets it on every
//! function, to `Text` unless the function's log format was switched to JSON, so following it
//! would turn the JSON lines off nearly everywhere. As in Powertools, whose loggers write JSON
//! whatever it says, the lines are JSON unless `LAMBDA_PERF_LOG_FORMAT` or `log_format` asks
//! for text.
//!
// The log lines' items exist with the `tracing` feature; without it they link to the feature
// flags.
#![cfg_attr(
    feature = "tracing",
    doc = "[`init`]: crate::init\n\
           [`InitBuilder`]: crate::InitBuilder\n\
           [`logs`]: crate::logs\n\
           [`logs::log_event`]: crate::logs::log_event"
)]
#![cfg_attr(
    not(feature = "tracing"),
    doc = "[`init`]: crate#feature-flags\n\
           [`InitBuilder`]: crate#feature-flags\n\
           [`logs`]: crate#feature-flags\n\
           [`logs::log_event`]: crate#feature-flags"
)]

use crate::formats::emf::dimension::Dimension;
use crate::formats::emf::validate;
use crate::formats::xray::name::validate_handler_name;
use crate::invocation::InitializationType;
use crate::invocation::start_tracker::MarkerPlace;

// Where traces go (`LAMBDA_PERF_TRACES`, the OTLP variables): a file of its own.
mod traces;
#[cfg(feature = "opentelemetry")]
pub(crate) use self::traces::DEFAULT_OTLP_TIMEOUT;
pub(crate) use self::traces::vars as trace_vars;
pub use self::traces::{DEFAULT_OTEL_FLUSH_TIMEOUT, DEFAULT_OTLP_ENDPOINT, TraceBackend};
pub(crate) use self::traces::{OPENTELEMETRY_BUILT, TraceSettings, validate_otlp_endpoint};

/// Forgets the warnings about the environment's value of `var` (they open with `var=`,
/// `var:` or `var `), for a value given in code: what they name as used instead, or which
/// variable won, no longer applies.
pub(crate) fn forget_warnings_about(warnings: &mut Vec<String>, var: &str) {
    warnings.retain(|warning| {
        !warning
            .strip_prefix(var)
            .is_some_and(|rest| rest.starts_with(['=', ':', ' ']))
    });
}

/// Names of the environment variables.
pub(crate) mod vars {
    pub(crate) const SERVICE_NAME: &str = "POWERTOOLS_SERVICE_NAME";
    pub(crate) const METRICS_NAMESPACE: &str = "POWERTOOLS_METRICS_NAMESPACE";
    pub(crate) const METRICS_DISABLED: &str = "POWERTOOLS_METRICS_DISABLED";
    pub(crate) const DEV: &str = "POWERTOOLS_DEV";
    pub(crate) const METRICS_FUNCTION_NAME: &str = "POWERTOOLS_METRICS_FUNCTION_NAME";
    pub(crate) const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
    pub(crate) const INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
    pub(crate) const COLD_START_METRIC: &str = "LAMBDA_PERF_COLD_START_METRIC";
    pub(crate) const INVOCATION_FACTS: &str = "LAMBDA_PERF_INVOCATION_FACTS";
    pub(crate) const DEFAULT_DIMENSIONS: &str = "LAMBDA_PERF_DEFAULT_DIMENSIONS";
    pub(crate) const TRACE_DISABLED: &str = "POWERTOOLS_TRACE_DISABLED";
    pub(crate) const CAPTURE_RESPONSE: &str = "POWERTOOLS_TRACER_CAPTURE_RESPONSE";
    pub(crate) const CAPTURE_ERROR: &str = "POWERTOOLS_TRACER_CAPTURE_ERROR";
    pub(crate) const XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
    pub(crate) const HANDLER_NAME: &str = "LAMBDA_PERF_HANDLER_NAME";
    pub(crate) const CAPTURE_LIMIT: &str = "LAMBDA_PERF_CAPTURE_LIMIT";
    pub(crate) const TIMEOUT_MARGIN_MS: &str = "LAMBDA_PERF_TIMEOUT_MARGIN_MS";
    pub(crate) const RESOURCE_USAGE: &str = "LAMBDA_PERF_RESOURCE_USAGE";
    pub(crate) const LOG_STREAM_NAME: &str = "AWS_LAMBDA_LOG_STREAM_NAME";
    pub(crate) const INSTANCE_ID: &str = "AWS_LAMBDA_INSTANCE_ID";
}

/// Bytes of JSON kept of a captured response or error by default.
pub const DEFAULT_CAPTURE_LIMIT: usize = 16 * 1024;

/// How long before its deadline a still running invocation writes its records, by default.
pub const DEFAULT_TIMEOUT_MARGIN: std::time::Duration = std::time::Duration::from_millis(100);

/// The `service` dimension when no service is configured (as Powertools for TypeScript).
pub const DEFAULT_SERVICE: &str = "service_undefined";
/// The CloudWatch namespace when none is configured (as Powertools for TypeScript).
pub const DEFAULT_NAMESPACE: &str = "default_namespace";

/// Settings as read from the environment or given to the builder, before defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Settings {
    pub(crate) service: Option<String>,
    pub(crate) namespace: Option<String>,
    /// `POWERTOOLS_METRICS_NAMESPACE` was set to a namespace CloudWatch would refuse: already
    /// warned about, so not also warned about as unset.
    pub(crate) namespace_refused: bool,
    pub(crate) function_name: Option<String>,
    pub(crate) metrics_disabled: bool,
    pub(crate) cold_start_metric: bool,
    pub(crate) invocation_facts: bool,
    pub(crate) initialization_type: InitializationType,
    pub(crate) default_dimensions: Vec<Dimension>,
    pub(crate) marker: MarkerPlace,
    pub(crate) trace_disabled: bool,
    pub(crate) capture_response: bool,
    pub(crate) capture_error: bool,
    pub(crate) xray_daemon_address: Option<String>,
    /// [`xray_daemon_address`](Self::xray_daemon_address) was given in code: a malformed one
    /// is a [`ConfigError`] then (from the environment, a warning when the sink is made).
    pub(crate) xray_daemon_address_in_code: bool,
    pub(crate) handler_name: Option<String>,
    /// `LAMBDA_PERF_HANDLER_NAME` was set to a name X-Ray would refuse: the value and why.
    /// Warned about when the settings are resolved, with the name used instead (the function
    /// name, which may be given in code).
    pub(crate) handler_name_refused: Option<(String, &'static str)>,
    pub(crate) capture_limit: usize,
    /// Zero: no timeout watchdog.
    pub(crate) timeout_margin: std::time::Duration,
    pub(crate) resource_usage: bool,
    /// What names this execution environment, for the start marker: Lambda's log stream
    /// name, one per environment, or else the instance id `cargo lambda watch` gives each
    /// function instance.
    pub(crate) environment_identity: Option<String>,
    /// Where traces go.
    pub(crate) traces: TraceSettings,
}

impl Settings {
    /// Reads the process environment; problems are returned as warnings, not printed.
    pub(crate) fn from_env() -> (Self, Vec<String>) {
        from_env_with(|lookup| Self::from_lookup(lookup))
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let present = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut flag = |name: &str, default: bool| read_flag(&lookup, name, default, &mut warnings);
        // As Powertools: off under `POWERTOOLS_DEV` when nothing says otherwise.
        let dev = flag(vars::DEV, false);
        let metrics_disabled = flag(vars::METRICS_DISABLED, dev);
        let cold_start_metric = flag(vars::COLD_START_METRIC, true);
        let invocation_facts = flag(vars::INVOCATION_FACTS, true);
        let trace_disabled = flag(vars::TRACE_DISABLED, false);
        let capture_response = flag(vars::CAPTURE_RESPONSE, true);
        let capture_error = flag(vars::CAPTURE_ERROR, true);
        let resource_usage = flag(vars::RESOURCE_USAGE, false);
        let capture_limit = match present(vars::CAPTURE_LIMIT) {
            None => DEFAULT_CAPTURE_LIMIT,
            Some(value) => value.trim().parse::<usize>().unwrap_or_else(|_| {
                warnings.push(format!(
                    "{}={value:?} is not a number of bytes; using {DEFAULT_CAPTURE_LIMIT}",
                    vars::CAPTURE_LIMIT
                ));
                DEFAULT_CAPTURE_LIMIT
            }),
        };

        let timeout_margin = match present(vars::TIMEOUT_MARGIN_MS) {
            None => DEFAULT_TIMEOUT_MARGIN,
            Some(value) => value
                .trim()
                .parse::<u64>()
                .map(std::time::Duration::from_millis)
                .unwrap_or_else(|_| {
                    warnings.push(format!(
                        "{}={value:?} is not a number of milliseconds; using {}",
                        vars::TIMEOUT_MARGIN_MS,
                        DEFAULT_TIMEOUT_MARGIN.as_millis()
                    ));
                    DEFAULT_TIMEOUT_MARGIN
                }),
        };

        let initialization_type = match present(vars::INITIALIZATION_TYPE) {
            None => InitializationType::OnDemand,
            Some(value) => InitializationType::parse(&value).unwrap_or_else(|| {
                warnings.push(format!(
                    "{}={value:?} is not a known initialization type; treating it as on-demand",
                    vars::INITIALIZATION_TYPE
                ));
                InitializationType::OnDemand
            }),
        };

        let default_dimensions = present(vars::DEFAULT_DIMENSIONS)
            .map(|list| parse_dimensions(&list, &mut warnings))
            .unwrap_or_default();

        let namespace_given = present(vars::METRICS_NAMESPACE);
        let namespace_refused = namespace_given.is_some();
        let namespace = namespace_given.filter(|namespace| {
            validate::namespace(namespace)
                .map_err(|error| {
                    warnings.push(format!(
                        "{}: {error}; using {DEFAULT_NAMESPACE:?}",
                        vars::METRICS_NAMESPACE
                    ));
                })
                .is_ok()
        });
        let service = present(vars::SERVICE_NAME).filter(|service| {
            validate::dimension("service", service)
                .map_err(|error| {
                    warnings.push(format!(
                        "{}: {error}; using {DEFAULT_SERVICE:?}",
                        vars::SERVICE_NAME
                    ));
                })
                .is_ok()
        });

        let namespace_refused = namespace_refused && namespace.is_none();
        let function_name =
            present(vars::METRICS_FUNCTION_NAME).or_else(|| present(vars::FUNCTION_NAME));
        let (handler_name, handler_name_refused) = match present(vars::HANDLER_NAME) {
            Some(handler) => match validate_handler_name(&handler) {
                Ok(()) => (Some(handler), None),
                Err(reason) => (None, Some((handler, reason))),
            },
            None => (None, None),
        };
        let settings = Self {
            service,
            namespace,
            namespace_refused,
            function_name,
            metrics_disabled,
            cold_start_metric,
            invocation_facts,
            initialization_type,
            default_dimensions,
            marker: MarkerPlace::TempDir,
            trace_disabled,
            capture_response,
            capture_error,
            xray_daemon_address: present(vars::XRAY_DAEMON_ADDRESS),
            xray_daemon_address_in_code: false,
            handler_name,
            handler_name_refused,
            capture_limit,
            timeout_margin,
            resource_usage,
            environment_identity: present(vars::LOG_STREAM_NAME)
                .or_else(|| present(vars::INSTANCE_ID)),
            traces: TraceSettings::from_lookup(&present, &mut warnings),
        };
        (settings, warnings)
    }
}

/// Reads the process environment with `read`: a variable whose value is not UTF-8 counts as
/// unset, with a warning (once however often it is looked up), as any other bad value.
fn from_env_with<T>(
    read: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> (T, Vec<String>),
) -> (T, Vec<String>) {
    let not_unicode = std::cell::RefCell::new(Vec::<String>::new());
    let lookup = |name: &str| match std::env::var(name) {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(value)) => {
            let warning = format!(
                "{name} is not valid UTF-8 ({:?}); ignored",
                value.to_string_lossy()
            );
            let mut warnings = not_unicode.borrow_mut();
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
            None
        }
    };
    let (settings, mut warnings) = read(&lookup);
    warnings.extend(not_unicode.into_inner());
    (settings, warnings)
}

/// Boolean variable `name`: `default` when unset; when set but blank, or neither truthy nor
/// falsy, `default` with a warning (both Powertools refuse such a value: Python's `strtobool`
/// raises, TypeScript throws "must be a boolean").
fn read_flag(
    lookup: impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
    warnings: &mut Vec<String>,
) -> bool {
    let Some(value) = lookup(name) else {
        return default;
    };
    if value.trim().is_empty() {
        warnings.push(format!("{name} is set but empty; using {default}"));
        return default;
    }
    parse_bool(&value).unwrap_or_else(|| {
        warnings.push(format!(
            "{name}={value:?} is neither truthy (1, true, yes, on) \
             nor falsy (0, false, no, off); using {default}"
        ));
        default
    })
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

fn parse_dimensions(list: &str, warnings: &mut Vec<String>) -> Vec<Dimension> {
    let mut dimensions: Vec<Dimension> = Vec::new();
    for pair in list.split(',').filter(|pair| !pair.trim().is_empty()) {
        let Some((name, value)) = pair.split_once('=') else {
            warnings.push(format!(
                "{} entry {pair:?} is not name=value; skipped",
                vars::DEFAULT_DIMENSIONS
            ));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if let Err(error) = validate::dimension(name, value) {
            warnings.push(format!("{}: {error}; skipped", vars::DEFAULT_DIMENSIONS));
        } else if name == "service" || validate::RESERVED_KEYS.contains(&name) {
            warnings.push(format!(
                "{}: {name:?} is written by lambda-perf itself; skipped",
                vars::DEFAULT_DIMENSIONS
            ));
        } else if dimensions.len() + 1 >= validate::MAX_DIMENSIONS {
            warnings.push(format!(
                "{}: {name:?} would exceed 30 dimensions with service; skipped",
                vars::DEFAULT_DIMENSIONS
            ));
        } else if dimensions.iter().any(|d| d.name == name) {
            warnings.push(format!(
                "{}: dimension {name:?} is given twice; the first value is kept",
                vars::DEFAULT_DIMENSIONS
            ));
        } else {
            dimensions.push(Dimension::new(name.to_owned(), value.to_owned()));
        }
    }
    dimensions
}

/// A setting given in code that CloudWatch or X-Ray would not accept.
///
/// ```
/// use lambda_perf_core::PerfLayer;
///
/// // CloudWatch namespaces are 1-255 characters of letters, digits, space and `.-_/#:`.
/// let error = PerfLayer::builder().namespace("Shop!").build().unwrap_err();
/// assert_eq!(error.setting, "namespace");
/// println!("{error}"); // invalid namespace: ...
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {setting}: {reason}")]
pub struct ConfigError {
    /// Which setting (`namespace`, `service`, `default dimension`, `handler name`, `traces`,
    /// `otlp endpoint`, `otlp timeout`, `region`, `otel service name`,
    /// `otel resource attribute`, `xray daemon address`).
    pub setting: &'static str,
    /// Why it was refused.
    pub reason: String,
}

// The log layer's settings (`init()`), read here like every other variable.

/// Names of the variables the log lines read.
#[cfg(feature = "tracing")]
pub(crate) mod log_vars {
    pub(crate) const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
    pub(crate) const POWERTOOLS_LOG_LEVEL: &str = "POWERTOOLS_LOG_LEVEL";
    /// Powertools' older name of `POWERTOOLS_LOG_LEVEL`, read when that one is not set.
    pub(crate) const LEGACY_LOG_LEVEL: &str = "LOG_LEVEL";
    pub(crate) const RUST_LOG: &str = "RUST_LOG";
    /// Not `AWS_LAMBDA_LOG_FORMAT`, which Lambda sets to `Text` by default (see the table).
    pub(crate) const LOG_FORMAT: &str = "LAMBDA_PERF_LOG_FORMAT";
    pub(crate) const SAMPLE_RATE: &str = "POWERTOOLS_LOGGER_SAMPLE_RATE";
    pub(crate) const LOG_EVENT: &str = "POWERTOOLS_LOGGER_LOG_EVENT";
}

/// The log settings as read from the environment or given to the builder, before defaults.
#[cfg(feature = "tracing")]
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LogSettings {
    /// The default level: `AWS_LAMBDA_LOG_LEVEL`, then `POWERTOOLS_LOG_LEVEL`, then
    /// `RUST_LOG`'s bare level; `None`: not set (`INFO`).
    pub(crate) level: Option<crate::formats::log::LevelFilter>,
    /// `AWS_LAMBDA_LOG_LEVEL`'s level, when it names one: Lambda's advanced logging controls
    /// win over a level given in code too, as in Powertools (Lambda drops JSON lines below
    /// its level anyway).
    pub(crate) lambda_level: Option<crate::formats::log::LevelFilter>,
    /// `RUST_LOG`'s `target=level` directives, then the builder's.
    pub(crate) targets: Vec<crate::formats::log::directives::Directive>,
    pub(crate) format: crate::formats::log::LogFormat,
    /// `None` or `0.0`: no sampling.
    pub(crate) sample_rate: Option<f64>,
    pub(crate) log_event: bool,
    /// JSON lines indented for reading, four spaces a level, as Powertools writes them under
    /// `POWERTOOLS_DEV`.
    pub(crate) indented: bool,
}

#[cfg(feature = "tracing")]
impl LogSettings {
    /// Reads the process environment; problems are returned as warnings, not printed.
    pub(crate) fn from_env() -> (Self, Vec<String>) {
        from_env_with(|lookup| Self::from_lookup(lookup))
    }

    /// Reads the log settings through `lookup` (the environment, or a map in tests).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        use crate::formats::log::directives::Directives;
        use crate::formats::log::{LogFormat, LogLevel, filter_name};

        let mut warnings = Vec::new();
        let present = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        // Values that are no level: warned about once the level written at is known.
        let mut not_levels = Vec::new();
        let mut level_of = |name: &'static str| {
            let value = present(name)?;
            let level = LogLevel::parse_filter_name(&value);
            if level.is_none() {
                not_levels.push((name, value));
            }
            level
        };
        let lambda_level = level_of(log_vars::LAMBDA_LOG_LEVEL);
        // As Powertools for Python and TypeScript read them: `LOG_LEVEL` only in place of an
        // unset `POWERTOOLS_LOG_LEVEL`.
        let powertools_var = if present(log_vars::POWERTOOLS_LOG_LEVEL).is_none()
            && present(log_vars::LEGACY_LOG_LEVEL).is_some()
        {
            log_vars::LEGACY_LOG_LEVEL
        } else {
            log_vars::POWERTOOLS_LOG_LEVEL
        };
        let powertools_level = level_of(powertools_var);
        let (directives, rust_log_warnings) = present(log_vars::RUST_LOG)
            .map(|text| Directives::parse(&text))
            .unwrap_or_default();
        warnings.extend(rust_log_warnings);
        if let (Some(lambda), Some(powertools)) = (lambda_level, powertools_level) {
            if lambda != powertools {
                warnings.push(format!(
                    "{} takes precedence over {powertools_var}: logs are written at {}",
                    log_vars::LAMBDA_LOG_LEVEL,
                    filter_name(lambda)
                ));
            }
        }

        let format = match present(log_vars::LOG_FORMAT) {
            None => LogFormat::Json,
            Some(value) => LogFormat::parse(&value).unwrap_or_else(|| {
                warnings.push(format!(
                    "{}={value:?} is neither JSON nor Text; using JSON",
                    log_vars::LOG_FORMAT
                ));
                LogFormat::Json
            }),
        };
        let sample_rate = present(log_vars::SAMPLE_RATE).and_then(|value| {
            let rate = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|rate| (0.0..=1.0).contains(rate));
            if rate.is_none() {
                warnings.push(format!(
                    "{}={value:?} is not a share between 0 and 1; no invocation is sampled",
                    log_vars::SAMPLE_RATE
                ));
            }
            rate
        });
        let log_event = read_flag(&lookup, log_vars::LOG_EVENT, false, &mut warnings);
        // Its warning, if any, is the metrics settings' own too: printed once.
        let indented = read_flag(&lookup, vars::DEV, false, &mut warnings);
        let level = lambda_level.or(powertools_level).or(directives.default);
        for (name, value) in not_levels {
            warnings.push(format!(
                "{name}={value:?} is not a log level (TRACE, DEBUG, INFO, WARN, ERROR, OFF); \
                 ignored: logs are written at {}",
                filter_name(level.unwrap_or(Some(LogLevel::Info)))
            ));
        }
        let settings = Self {
            level,
            lambda_level,
            targets: directives.targets,
            format,
            sample_rate,
            log_event,
            indented,
        };
        (settings, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> (Settings, Vec<String>) {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn empty_environment_gives_defaults_without_warnings() {
        let (settings, warnings) = read(&[]);
        assert!(warnings.is_empty());
        assert_eq!(settings.service, None);
        assert_eq!(settings.namespace, None);
        assert!(!settings.metrics_disabled);
        assert!(settings.cold_start_metric);
        assert!(settings.invocation_facts);
        assert_eq!(settings.initialization_type, InitializationType::OnDemand);
    }

    #[test]
    fn powertools_variables_are_honoured() {
        let (settings, warnings) = read(&[
            ("POWERTOOLS_SERVICE_NAME", "payment"),
            ("POWERTOOLS_METRICS_NAMESPACE", "ServerlessAirline"),
            ("POWERTOOLS_METRICS_DISABLED", "TRUE"),
            ("AWS_LAMBDA_FUNCTION_NAME", "my-fn"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency"),
            ("LAMBDA_PERF_COLD_START_METRIC", "off"),
            (
                "LAMBDA_PERF_DEFAULT_DIMENSIONS",
                "environment=prod, team = core",
            ),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.service.as_deref(), Some("payment"));
        assert_eq!(settings.namespace.as_deref(), Some("ServerlessAirline"));
        assert!(settings.metrics_disabled);
        assert!(!settings.cold_start_metric);
        assert_eq!(settings.function_name.as_deref(), Some("my-fn"));
        assert_eq!(
            settings.initialization_type,
            InitializationType::ProvisionedConcurrency
        );
        assert_eq!(
            settings.default_dimensions,
            [
                Dimension::new("environment", "prod"),
                Dimension::new("team", "core")
            ]
        );
    }

    #[test]
    fn metrics_function_name_overrides_the_lambda_one() {
        let (settings, _) = read(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "my-fn"),
            ("POWERTOOLS_METRICS_FUNCTION_NAME", "alias"),
        ]);
        assert_eq!(settings.function_name.as_deref(), Some("alias"));
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (settings, warnings) = read(&[
            ("POWERTOOLS_METRICS_DISABLED", "maybe"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "warm-pool"),
            (
                "LAMBDA_PERF_DEFAULT_DIMENSIONS",
                "novalue,=x,ok=1,ok=2,bad=ü,_aws=x,service=y",
            ),
        ]);
        assert!(!settings.metrics_disabled);
        assert_eq!(settings.initialization_type, InitializationType::OnDemand);
        assert_eq!(settings.default_dimensions, [Dimension::new("ok", "1")]);
        assert_eq!(warnings.len(), 8, "{warnings:#?}");
        assert!(warnings[0].contains("POWERTOOLS_METRICS_DISABLED=\"maybe\""));
        assert!(warnings[1].contains("warm-pool"));
    }

    #[test]
    fn an_invalid_namespace_or_service_warns_and_falls_back() {
        let (settings, warnings) = read(&[
            ("POWERTOOLS_METRICS_NAMESPACE", "AWS/Lambda"),
            ("POWERTOOLS_SERVICE_NAME", "ünicode"),
        ]);
        assert_eq!(settings.namespace, None);
        assert_eq!(settings.service, None);
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].contains("default_namespace"));
        assert!(warnings[1].contains("service_undefined"));
    }

    /// As Powertools' `is_metrics_disabled`: `POWERTOOLS_DEV` turns metrics off, unless
    /// `POWERTOOLS_METRICS_DISABLED` is set.
    #[test]
    fn powertools_dev_turns_metrics_off_unless_told_otherwise() {
        let disabled = |pairs: &[(&str, &str)]| read(pairs).0.metrics_disabled;
        assert!(disabled(&[("POWERTOOLS_DEV", "true")]));
        assert!(!disabled(&[
            ("POWERTOOLS_DEV", "true"),
            ("POWERTOOLS_METRICS_DISABLED", "false")
        ]));
        assert!(disabled(&[
            ("POWERTOOLS_DEV", "false"),
            ("POWERTOOLS_METRICS_DISABLED", "true")
        ]));
        assert!(!disabled(&[("POWERTOOLS_DEV", "0")]));
        assert!(!disabled(&[]));
        let (settings, warnings) = read(&[("POWERTOOLS_DEV", "sometimes")]);
        assert!(!settings.metrics_disabled);
        assert!(
            warnings[0].contains("POWERTOOLS_DEV=\"sometimes\""),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_blank_name_counts_as_unset() {
        let (settings, warnings) = read(&[("POWERTOOLS_SERVICE_NAME", "  ")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.service, None);
    }

    /// Both Powertools refuse a boolean variable that is set but empty (Python's
    /// `strtobool("")` raises `ValueError`, TypeScript's `getBooleanFromEnv` throws "must be a
    /// boolean"), so a user who sets `POWERTOOLS_DEV=true` and leaves
    /// `POWERTOOLS_METRICS_DISABLED=` empty finds out at once; here the empty value counts as
    /// unset, with a warning that says so, and `POWERTOOLS_DEV` turns metrics off.
    #[test]
    fn an_empty_boolean_variable_is_warned_about() {
        let (settings, warnings) = read(&[
            ("POWERTOOLS_DEV", "true"),
            ("POWERTOOLS_METRICS_DISABLED", ""),
        ]);
        assert!(settings.metrics_disabled);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("POWERTOOLS_METRICS_DISABLED"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("true"), "{warnings:?}");
    }

    /// A value that is not UTF-8 (which `std::env::var` refuses) is a bad value like any
    /// other: one warning, and the default — not read as unset without a word, which would
    /// leave tracing on under a `POWERTOOLS_TRACE_DISABLED` meant to turn it off. Runs itself
    /// again in a child process whose environment has such values.
    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_warned_about() {
        use std::os::unix::ffi::OsStrExt;

        const CHILD: &str = "LAMBDA_PERF_TEST_NOT_UTF8_CHILD";
        let test = "config::tests::a_value_that_is_not_utf8_is_warned_about";
        if std::env::var_os(CHILD).is_some() {
            let (settings, warnings) = Settings::from_env();
            assert!(!settings.trace_disabled);
            assert_eq!(settings.service, None);
            for var in [vars::TRACE_DISABLED, vars::SERVICE_NAME] {
                assert_eq!(
                    warnings
                        .iter()
                        .filter(|warning| warning.starts_with(&format!("{var} ")))
                        .count(),
                    1,
                    "{var}: {warnings:#?}"
                );
            }
            #[cfg(feature = "tracing")]
            {
                let (settings, warnings) = LogSettings::from_env();
                assert_eq!(settings.level, None);
                assert!(
                    warnings
                        .iter()
                        .any(|warning| warning.starts_with("POWERTOOLS_LOG_LEVEL ")),
                    "{warnings:#?}"
                );
            }
            return;
        }
        let not_utf8 = std::ffi::OsStr::from_bytes(b"tr\xffue");
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env(vars::TRACE_DISABLED, not_utf8)
            .env(
                vars::SERVICE_NAME,
                std::ffi::OsStr::from_bytes(b"orders\xfe"),
            )
            .env(
                "POWERTOOLS_LOG_LEVEL",
                std::ffi::OsStr::from_bytes(b"DEBUG\xff"),
            )
            .env_remove("AWS_LAMBDA_LOG_LEVEL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[cfg(feature = "tracing")]
    mod logs {
        use super::super::LogSettings;
        use crate::formats::log::{LogFormat, LogLevel};
        use std::collections::HashMap;

        fn read(pairs: &[(&str, &str)]) -> (LogSettings, Vec<String>) {
            let env: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            LogSettings::from_lookup(|name| env.get(name).cloned())
        }

        #[test]
        fn nothing_set_is_json_at_the_default_level() {
            let (settings, warnings) = read(&[]);
            assert!(warnings.is_empty());
            assert_eq!(settings, LogSettings::default());
            assert_eq!(settings.format, LogFormat::Json);
        }

        #[test]
        fn the_level_comes_from_lambda_then_powertools_then_rust_log() {
            let all = [
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
                ("POWERTOOLS_LOG_LEVEL", "DEBUG"),
                ("RUST_LOG", "trace,orders::db=debug"),
            ];
            let (settings, warnings) = read(&all);
            assert_eq!(settings.level, Some(Some(LogLevel::Warn)));
            assert_eq!(settings.targets.len(), 1, "RUST_LOG's targets still apply");
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("takes precedence"), "{warnings:?}");
            let (settings, _) = read(&all[1..]);
            assert_eq!(settings.level, Some(Some(LogLevel::Debug)));
            let (settings, _) = read(&all[2..]);
            assert_eq!(settings.level, Some(Some(LogLevel::Trace)));
            let (settings, _) = read(&[("RUST_LOG", "orders=debug")]);
            assert_eq!(settings.level, None);
        }

        /// A level that is no level names the level the lines are written at instead.
        #[test]
        fn an_invalid_level_names_the_level_used_instead() {
            let (_, warnings) = read(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].starts_with("AWS_LAMBDA_LOG_LEVEL=\"LOUD\""));
            assert!(
                warnings[0].ends_with("logs are written at INFO"),
                "{warnings:?}"
            );
            let (_, warnings) = read(&[("POWERTOOLS_LOG_LEVEL", "LOUD"), ("RUST_LOG", "debug")]);
            assert!(
                warnings[0].ends_with("logs are written at DEBUG"),
                "{warnings:?}"
            );
        }

        /// The digits `0`–`5` are `RUST_LOG`'s levels only: to Powertools a level is a name
        /// (Python refuses `0` as an unknown level; its number 0 would be `NOTSET`, every
        /// line), so `POWERTOOLS_LOG_LEVEL=0` is not taken as `OFF`, which would silence
        /// every line without a word: it is warned about, as any other value that is no level.
        #[test]
        fn digits_are_levels_of_rust_log_only() {
            for var in ["POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"] {
                for digit in ["0", "4"] {
                    let (settings, warnings) = read(&[(var, digit)]);
                    assert_eq!(settings.level, None, "{var}={digit}");
                    assert_eq!(warnings.len(), 1, "{var}={digit}: {warnings:?}");
                    assert!(
                        warnings[0].starts_with(&format!("{var}=\"{digit}\"")),
                        "{warnings:?}"
                    );
                }
            }
            let (settings, warnings) = read(&[("RUST_LOG", "0")]);
            assert_eq!(settings.level, Some(None));
            assert!(warnings.is_empty(), "{warnings:?}");
        }

        /// Powertools' older `LOG_LEVEL` stands in for an unset `POWERTOOLS_LOG_LEVEL`, never
        /// over a set one, and Lambda's level still wins over it.
        #[test]
        fn the_legacy_log_level_stands_in_for_powertools_level() {
            let (settings, warnings) = read(&[("LOG_LEVEL", "debug")]);
            assert_eq!(settings.level, Some(Some(LogLevel::Debug)));
            assert!(warnings.is_empty(), "{warnings:?}");
            let (settings, _) = read(&[("POWERTOOLS_LOG_LEVEL", "ERROR"), ("LOG_LEVEL", "debug")]);
            assert_eq!(settings.level, Some(Some(LogLevel::Error)));
            let (settings, warnings) =
                read(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("LOG_LEVEL", "debug")]);
            assert_eq!(settings.level, Some(Some(LogLevel::Warn)));
            assert_eq!(
                warnings,
                ["AWS_LAMBDA_LOG_LEVEL takes precedence over LOG_LEVEL: logs are written at WARN"]
            );
            let (settings, warnings) = read(&[("LOG_LEVEL", "loud")]);
            assert_eq!(settings.level, None);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].starts_with("LOG_LEVEL=\"loud\""),
                "{warnings:?}"
            );
        }

        /// Powertools for TypeScript's `SILENT` level writes no line at all; it is not
        /// an unknown level that falls back to `INFO`.
        #[test]
        fn powertools_silent_level_writes_nothing() {
            for value in ["SILENT", "silent"] {
                let (settings, warnings) = read(&[("POWERTOOLS_LOG_LEVEL", value)]);
                assert!(warnings.is_empty(), "{warnings:?}");
                assert_eq!(settings.level, Some(None), "{value}");
            }
        }

        #[test]
        fn format_sampling_and_event_logging() {
            let (settings, warnings) = read(&[
                ("LAMBDA_PERF_LOG_FORMAT", "Text"),
                ("POWERTOOLS_LOGGER_SAMPLE_RATE", "0.25"),
                ("POWERTOOLS_LOGGER_LOG_EVENT", "true"),
            ]);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!(settings.format, LogFormat::Text);
            assert_eq!(settings.sample_rate, Some(0.25));
            assert!(settings.log_event);
        }

        #[test]
        fn bad_values_warn_and_fall_back() {
            let (settings, warnings) = read(&[
                ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
                ("POWERTOOLS_LOG_LEVEL", "info"),
                ("LAMBDA_PERF_LOG_FORMAT", "yaml"),
                ("POWERTOOLS_LOGGER_SAMPLE_RATE", "1.5"),
                ("POWERTOOLS_LOGGER_LOG_EVENT", "perhaps"),
                ("RUST_LOG", "[span]=debug"),
            ]);
            assert_eq!(settings.level, Some(Some(LogLevel::Info)));
            assert_eq!(settings.format, LogFormat::Json);
            assert_eq!(settings.sample_rate, None);
            assert!(!settings.log_event);
            assert_eq!(warnings.len(), 5, "{warnings:#?}");
        }

        /// Lambda sets `AWS_LAMBDA_LOG_FORMAT=Text` on every function left at its default
        /// log format: the lines stay JSON, as Powertools' do, and nothing is warned about.
        #[test]
        fn lambdas_default_text_format_keeps_the_json_lines() {
            for value in ["Text", "JSON", "yaml"] {
                let (settings, warnings) = read(&[("AWS_LAMBDA_LOG_FORMAT", value)]);
                assert_eq!(settings.format, LogFormat::Json, "{value}");
                assert!(warnings.is_empty(), "{value}: {warnings:?}");
            }
            let (settings, _) = read(&[
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
                ("LAMBDA_PERF_LOG_FORMAT", "text"),
            ]);
            assert_eq!(settings.format, LogFormat::Text);
        }

        /// As in Powertools, `POWERTOOLS_DEV` indents JSON lines for reading.
        #[test]
        fn powertools_dev_indents_the_lines() {
            assert!(read(&[("POWERTOOLS_DEV", "true")]).0.indented);
            assert!(!read(&[("POWERTOOLS_DEV", "false")]).0.indented);
            assert!(!read(&[]).0.indented);
        }

        #[test]
        fn an_empty_log_event_variable_is_warned_about() {
            let (settings, warnings) = read(&[("POWERTOOLS_LOGGER_LOG_EVENT", "")]);
            assert!(!settings.log_event);
            assert_eq!(
                warnings,
                ["POWERTOOLS_LOGGER_LOG_EVENT is set but empty; using false"]
            );
        }
    }
}
