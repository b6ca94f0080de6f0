//! Where traces go: `LAMBDA_PERF_TRACES`, the flush bound and the OTLP variables.
//!
//! | variable | meaning | default | in code ([`PerfLayerBuilder`](crate::PerfLayerBuilder)) |
//! |---|---|---|---|
//! | `LAMBDA_PERF_TRACES` | comma list of [`TraceBackend`]s: `xray`, `otlp`, `xray-otlp`; or `none` | `xray` | `traces` |
//! | `OTEL_SDK_DISABLED` | `true` (any case; every other value is false, one that is not `false` warned about, as OpenTelemetry defines it): no OpenTelemetry export at all (`otlp`, `xray-otlp`, exporters given in code), wherever they were chosen; `xray` goes on | false | `otel_sdk_disabled` |
//! | `OTEL_TRACES_EXPORTER` | `none`: the `otlp` and `xray-otlp` that `LAMBDA_PERF_TRACES` names are off (not an exporter given in code), with one warning unless `POWERTOOLS_TRACE_DISABLED` turned all tracing off already; `otlp`: what they send; `console`, `zipkin` or another name: warned about, and taken as `otlp`. It never turns a backend on | `otlp` | `traces` (wins over it) |
//! | `LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS` | longest wait for an invocation's spans to be exported (never into the timeout margin before its deadline, 100 ms when the margin is `0`) | 200 | `otel_flush_timeout` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the OTLP/HTTP traces URL (`otlp`) | `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces` | `otlp_endpoint` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's base URL | `http://localhost:4318` | `otlp_endpoint` |
//! | `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_HEADERS` | `name=value,…` sent with every export | none | `otlp_header`, `clear_otlp_headers` |
//! | `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, `OTEL_EXPORTER_OTLP_COMPRESSION` | `gzip` or `none`; `zstd` too when another crate of the build turns on `opentelemetry-otlp`'s `zstd-http` (its exporter then compresses it itself). That exporter reads them by its own rules, passing over a value it cannot apply (a `gzip` without `gzip-http`) for the generic variable's: where what it sends differs from what they say, one warning names what the exports get | `none` | `otlp_gzip` |
//! | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds one export may take (`0`: no limit, as OpenTelemetry defines it): `otlp`'s, and each of an exporter given in code, then given up and its spans counted as dropped | 10000 | `otlp_timeout` |
//! | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL` | `otlp` sends `http/protobuf` only; another value is warned about | `http/protobuf` | — (`span_exporter`) |
//! | `OTEL_SERVICE_NAME` | the spans' `service.name` (a service given in code wins) | `OTEL_RESOURCE_ATTRIBUTES`' `service.name`, else `POWERTOOLS_SERVICE_NAME`, else the function's name | `otel_service_name`, `service` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` (values percent-encoded): more attributes of the spans' resource | none | `otel_resource_attribute`, `clear_otel_resource_attributes` |
//! | `AWS_REGION` | set by Lambda: the `cloud.region` of spans (a `cloud.region` of `OTEL_RESOURCE_ATTRIBUTES` names the resource's, unless the region is given in code) | the region of the function's ARN | `region` |
//!
//! Where a signal's own variable (`OTEL_EXPORTER_OTLP_TRACES_…`) and the generic one are both
//! read, the signal's wins; one whose value cannot be used (an `https` endpoint, a compression
//! other than `gzip` or `none`, or `zstd` without `zstd-http`, a timeout that is no number) is
//! treated as unset, as the OpenTelemetry specification says of an invalid variable: a warning,
//! and the generic one's value, else the default.
//!
//! The two switches of OpenTelemetry itself differ in what they override. `OTEL_TRACES_EXPORTER`
//! chooses exporters, as `LAMBDA_PERF_TRACES` does: it narrows that variable's choice, and
//! backends chosen in code (`traces`) win over both. `OTEL_SDK_DISABLED` is a switch of its
//! own, as `POWERTOOLS_TRACE_DISABLED` is: it turns the OpenTelemetry export off however it was
//! chosen, in the environment or in code, with one warning naming what it turned off, and only
//! `otel_sdk_disabled` given in code wins over it. Neither is read without the
//! `opentelemetry` feature, which has nothing for them to turn off; nor are the export's own
//! variables (the flush bound, `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `AWS_REGION` for the spans), which nothing else uses: nothing is
//! said of their values, and a build without the feature carries no code that reads them.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::formats::faas_trigger::FaasTrigger;

// `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`, and the `zstd` only the exporter can apply.
mod compression;

/// Names of the environment variables read here.
pub(crate) mod vars {
    pub(crate) const TRACES: &str = "LAMBDA_PERF_TRACES";
    pub(crate) const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
    pub(crate) const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
    pub(crate) const OTEL_FLUSH_TIMEOUT_MS: &str = "LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS";
    pub(crate) const OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    pub(crate) const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    pub(crate) const OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
    pub(crate) const OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    pub(crate) const OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
    pub(crate) const OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
    pub(crate) const OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
    pub(crate) const OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
    pub(crate) const OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    pub(crate) const OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    pub(crate) const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    pub(crate) const REGION: &str = "AWS_REGION";
}

/// The longest an invocation waits for its spans to be exported, unless configured
/// (`LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS`): a collector on the function's own host answers in
/// about a millisecond, and Lambda's smallest timeout is a second.
pub const DEFAULT_OTEL_FLUSH_TIMEOUT: Duration = Duration::from_millis(200);

/// Where OTLP/HTTP traces go when no endpoint is configured: the collector of the ADOT and
/// OpenTelemetry Lambda layers, on the function's own host.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// How long one export may take when no timeout is configured (the OpenTelemetry default):
/// `otlp`'s, and each of an exporter given in code.
pub(crate) const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(10);

/// What an OTLP timeout of `0` gives: no limit, as OpenTelemetry defines its timeouts, taken
/// as the longest time a 32-bit count of milliseconds holds (about 24 days), as it allows.
pub(crate) const NO_OTLP_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Where sampled traces go: one entry of `LAMBDA_PERF_TRACES` (`xray` when unset). Several
/// may be chosen at once; `none` chooses none.
///
/// Every backend, `otlp` and `xray-otlp` too, sends only the invocations X-Ray sampled, those
/// whose trace header says `Sampled=1`: the sampling decision is the header's, and
/// lambda-perf makes none of its own. Turn the function's active tracing on (`--tracing
/// active` with `cargo lambda deploy`, `TracingConfig: {Mode: Active}` in CloudFormation or
/// SAM), even to export to a collector of your own: Lambda then samples by X-Ray's sampling
/// rules (by default the first request of each second and 5% of the others). Without it, only
/// an invocation whose caller was traced and sampled carries `Sampled=1`; every other exports
/// nothing, quietly (an unsampled invocation is not a loss: no warning, no count).
///
/// The same invocation makes the same tree whichever backend sends it: the handler
/// subsegment `## <name>` is the handler span, every nested subsegment (a
/// [`Subsegment`](crate::xray::Subsegment), a `tracing` span under
/// [`XRayLayer`], a lazy client's `## init <name>`, work on a
/// [`spawn`](fn@crate::spawn)ed task) is a span with the same name, the same id and the same
/// parent. An OpenTelemetry span carries what its subsegment carries, so:
///
/// | X-Ray subsegment | OpenTelemetry span |
/// |---|---|
/// | `trace_id` `1-5759e988-bd862e3fe1be46a994272793` | trace id `5759e988bd862e3fe1be46a994272793` (through `opentelemetry-aws`'s X-Ray propagator) |
/// | `id`, `parent_id` | span id, parent span id (the handler's parent is the `Parent` of the trace header, remote) |
/// | `name`, `start_time`, `end_time` | name, start and end time; kind `INTERNAL` |
/// | `namespace` `aws` / `remote` | kind `CLIENT`; `rpc.system` = `aws-api` for `aws` |
/// | annotation `key` = value | attribute `key` = value (string, integer, float, boolean), and `key` listed in the string-array attribute `aws.xray.annotations` |
/// | metadata namespace `lambda_perf`, key `k` | attribute `lambda_perf.k`: numbers, strings and booleans as themselves, objects and arrays as their JSON text |
/// | any other metadata namespace `ns` | attribute `aws.xray.metadata.ns`: the JSON text of the namespace's object |
/// | `http` request method, URL, `traced`; response status, length | `http.request.method`, `url.full`, `aws.xray.traced`, `http.response.status_code`, `http.response.body.size` |
/// | `aws` object | attribute `aws.xray.aws`: its JSON text |
/// | `fault` | status `ERROR` (its description the exception's message; its type when error capture is off) |
/// | `error`, `throttle` | attributes `aws.xray.error`, `aws.xray.throttle` = `true` |
/// | each exception of `cause` | an `exception` event: `exception.type`, `exception.message` (left out when error capture is off), `aws.xray.exception.id` |
/// | `cause` naming a child's exception | an `exception` event with that child's exception and its `aws.xray.exception.id` |
///
/// These are the rules of the OpenTelemetry Collector's X-Ray exporter and receiver
/// (`aws.xray.annotations`, `aws.xray.metadata.<namespace>`), so each direction undoes the
/// other. The handler span also carries the FaaS and cloud facts: `faas.coldstart` and
/// `faas.trigger` (always; see [`FaasTrigger`]),
/// `faas.invocation_id`, `faas.name`, `faas.version`, `faas.instance`, `faas.max_memory`,
/// `cloud.provider`, `cloud.platform`, `cloud.region`, `cloud.account.id` where known; the
/// resource carries `service.name` (`OTEL_SERVICE_NAME`, else the service) and the
/// function's facts. An unsampled invocation
/// exports nothing.
///
/// ```
/// use lambda_perf_core::{PerfLayer, TraceBackend};
///
/// // What LAMBDA_PERF_TRACES=xray says, in code (`none` is an empty list).
/// let layer = PerfLayer::builder().traces([TraceBackend::XRay]).build()?;
/// assert_eq!(TraceBackend::XRayOtlp.as_str(), "xray-otlp");
/// # Ok::<(), lambda_perf_core::ConfigError>(())
/// ```
///
#[cfg_attr(feature = "tracing", doc = "[`XRayLayer`]: crate::xray::XRayLayer")]
#[cfg_attr(not(feature = "tracing"), doc = "[`XRayLayer`]: crate#feature-flags")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceBackend {
    /// `xray`: subsegment documents to the X-Ray daemon, one datagram each (the default).
    XRay,
    /// `otlp`: OpenTelemetry spans, OTLP/HTTP protobuf, to a collector (the ADOT or
    /// OpenTelemetry Lambda layer's, or any other) at `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    /// Needs the `opentelemetry` feature, and active tracing for Lambda to sample
    /// invocations (see above).
    Otlp,
    /// `xray-otlp`: OpenTelemetry spans through the Lambda X-Ray daemon's UDP socket, as
    /// ADOT's X-Ray UDP span exporter sends them. Needs the `opentelemetry` feature, and
    /// active tracing (see above).
    XRayOtlp,
}

impl TraceBackend {
    /// The name `LAMBDA_PERF_TRACES` uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::XRay => "xray",
            Self::Otlp => "otlp",
            Self::XRayOtlp => "xray-otlp",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::XRay, Self::Otlp, Self::XRayOtlp]
            .into_iter()
            .find(|backend| name.eq_ignore_ascii_case(backend.as_str()))
    }

    /// Whether it sends OpenTelemetry spans (and so needs the `opentelemetry` feature).
    pub(crate) const fn is_opentelemetry(self) -> bool {
        matches!(self, Self::Otlp | Self::XRayOtlp)
    }
}

impl fmt::Display for TraceBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether this build can send OpenTelemetry spans.
pub(crate) const OPENTELEMETRY_BUILT: bool = cfg!(feature = "opentelemetry");

/// The trace settings, as read from the environment or given to the builder, before defaults.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct TraceSettings {
    /// `None`: not configured (`xray`); an empty list: `none`. Read from `LAMBDA_PERF_TRACES`
    /// as `OTEL_TRACES_EXPORTER` narrows it.
    pub(crate) backends: Option<Vec<TraceBackend>>,
    /// `OTEL_SDK_DISABLED=true` (read with the `opentelemetry` feature only), or given in
    /// code: no OpenTelemetry export, whatever chose it.
    pub(crate) otel_sdk_disabled: bool,
    /// `otel_sdk_disabled` was given in code: turning the export off is then no surprise to
    /// warn about.
    pub(crate) otel_sdk_disabled_in_code: bool,
    /// What `OTEL_TRACES_EXPORTER=none` turned off, and where traces go instead: a warning
    /// given only where invocations record a trace (setup.rs). Under
    /// `POWERTOOLS_TRACE_DISABLED` nothing was to be sent, and it turned nothing off.
    pub(crate) traces_exporter_none_warning: Option<String>,
    pub(crate) flush_timeout: Option<Duration>,
    /// The full traces URL.
    pub(crate) otlp_endpoint: Option<String>,
    /// Headers sent with every export, as sent: the variables' values percent-decoded when
    /// read, those given in code as given.
    pub(crate) otlp_headers: Vec<(String, String)>,
    pub(crate) otlp_gzip: bool,
    pub(crate) otlp_timeout: Option<Duration>,
    /// `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` when set: the variable and its value (`otlp`
    /// sends `http/protobuf` whatever it says; another value is warned about when `otlp` is
    /// chosen).
    pub(crate) otlp_protocol: Option<(&'static str, String)>,
    /// `AWS_REGION` (read with the `opentelemetry` feature only), or the region given in code.
    pub(crate) region: Option<String>,
    /// `OTEL_SERVICE_NAME`: the spans' `service.name`, unless a service is given in code.
    pub(crate) otel_service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, as it is (read by the OpenTelemetry output).
    pub(crate) otel_resource_attributes: Option<String>,
    /// The spans' `service.name` given in code: it wins over every other.
    pub(crate) otel_service_name_in_code: Option<String>,
    /// Resource attributes given in code, each key once: they win over the variables' of the
    /// same key (a `service.name` among them over every service but the one above).
    pub(crate) resource_attributes_in_code: Vec<(String, String)>,
    /// A service was given in code: it is the spans' `service.name`, whatever the variables.
    pub(crate) service_in_code: bool,
    /// The region was given in code: it is the resource's `cloud.region`, over the one of
    /// `OTEL_RESOURCE_ATTRIBUTES` (not over one given in code).
    pub(crate) region_in_code: bool,
    /// The handler spans' `faas.trigger`, given in code (`None`: by the event's type).
    pub(crate) faas_trigger: Option<FaasTrigger>,
}

impl fmt::Debug for TraceSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials more often than not.
        let header_names: Vec<&str> = self.otlp_headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("TraceSettings")
            .field("backends", &self.backends)
            .field("otel_sdk_disabled", &self.otel_sdk_disabled)
            .field("otel_sdk_disabled_in_code", &self.otel_sdk_disabled_in_code)
            .field(
                "traces_exporter_none_warning",
                &self.traces_exporter_none_warning,
            )
            .field("flush_timeout", &self.flush_timeout)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("otlp_headers", &header_names)
            .field("otlp_gzip", &self.otlp_gzip)
            .field("otlp_timeout", &self.otlp_timeout)
            .field("otlp_protocol", &self.otlp_protocol)
            .field("region", &self.region)
            .field("otel_service_name", &self.otel_service_name)
            .field("otel_resource_attributes", &self.otel_resource_attributes)
            .field("otel_service_name_in_code", &self.otel_service_name_in_code)
            .field(
                "resource_attributes_in_code",
                &self.resource_attributes_in_code,
            )
            .field("service_in_code", &self.service_in_code)
            .field("region_in_code", &self.region_in_code)
            .field("faas_trigger", &self.faas_trigger)
            .finish()
    }
}

impl TraceSettings {
    /// Reads the variables through `present` (which returns only non-blank values); problems
    /// become warnings and defaults.
    pub(crate) fn from_lookup(
        present: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Self {
        let mut traces_exporter_none_warning = None;
        let backends = present(vars::TRACES).map(|list| {
            let backends = parse_backends(&list, warnings);
            // Without the `opentelemetry` feature the list holds no OpenTelemetry backend
            // for the variable to narrow (`parse_backends` leaves them out).
            match present(vars::OTEL_TRACES_EXPORTER) {
                Some(exporters) if OPENTELEMETRY_BUILT => narrowed_by_traces_exporter(
                    backends,
                    &exporters,
                    &mut traces_exporter_none_warning,
                    warnings,
                ),
                _ => backends,
            }
        });
        // Only the OpenTelemetry output has anything for it to turn off.
        let otel_sdk_disabled = present(vars::OTEL_SDK_DISABLED)
            .filter(|_| OPENTELEMETRY_BUILT)
            .is_some_and(|value| otel_boolean(vars::OTEL_SDK_DISABLED, &value, warnings));
        // Only the OpenTelemetry backends export: without them, nothing is said of these.
        let otlp = if OPENTELEMETRY_BUILT {
            OtlpFromEnvironment::from_lookup(present, warnings)
        } else {
            OtlpFromEnvironment::default()
        };
        // Only OpenTelemetry spans carry it: without them, nothing is said of it.
        let region = present(vars::REGION).filter(|_| OPENTELEMETRY_BUILT);
        let region = region.filter(|region| {
            validate_region(region)
                .map_err(|reason| {
                    warnings.push(format!(
                        "{}: {reason}; spans take the region of the function's ARN",
                        vars::REGION
                    ));
                })
                .is_ok()
        });
        Self {
            backends,
            otel_sdk_disabled,
            otel_sdk_disabled_in_code: false,
            traces_exporter_none_warning,
            flush_timeout: otlp.flush_timeout,
            otlp_endpoint: otlp.endpoint,
            otlp_headers: otlp.headers,
            otlp_gzip: otlp.gzip,
            otlp_timeout: otlp.timeout,
            otlp_protocol: otlp.protocol,
            region,
            otel_service_name: otlp.service_name,
            otel_resource_attributes: otlp.resource_attributes,
            otel_service_name_in_code: None,
            resource_attributes_in_code: Vec::new(),
            service_in_code: false,
            region_in_code: false,
            faas_trigger: None,
        }
    }

    /// Refuses the values given in code that cannot be used, each replaced by its default
    /// (`build()` then fails): an OTLP timeout below a millisecond (the variables' unit:
    /// every export would fail),
    /// a region that is no AWS region name, a blank `service.name` or resource attribute key.
    pub(crate) fn refuse_invalid_given_in_code(&mut self, errors: &mut Vec<super::ConfigError>) {
        let mut refuse = |setting: &'static str, reason: String| {
            errors.push(super::ConfigError { setting, reason });
        };
        if self
            .otlp_timeout
            .is_some_and(|timeout| timeout < Duration::from_millis(1))
        {
            refuse(
                "otlp timeout",
                "below a millisecond: every export would fail before it is sent (for no \
                 limit, give Duration::MAX)"
                    .to_owned(),
            );
            self.otlp_timeout = None;
        }
        if let Some(region) = &self.region {
            if let Err(reason) = validate_region(region) {
                refuse("region", reason);
                self.region = None;
            }
        }
        if self
            .otel_service_name_in_code
            .as_deref()
            .is_some_and(|name| name.trim().is_empty())
        {
            refuse("otel service name", "it is blank".to_owned());
            self.otel_service_name_in_code = None;
        }
        self.resource_attributes_in_code.retain(|(key, value)| {
            let blank_service = key == "service.name" && value.trim().is_empty();
            if key.trim().is_empty() {
                refuse(
                    "otel resource attribute",
                    format!("the key of the value {value:?} is blank"),
                );
            } else if blank_service {
                refuse(
                    "otel resource attribute",
                    "service.name is blank".to_owned(),
                );
            }
            !key.trim().is_empty() && !blank_service
        });
    }

    /// The backends chosen, the default applied (`xray` when none was configured).
    pub(crate) fn backends(&self) -> Vec<TraceBackend> {
        self.backends
            .clone()
            .unwrap_or_else(|| vec![TraceBackend::XRay])
    }
}

/// What the environment says of the OpenTelemetry export (`LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS`,
/// the `OTEL_EXPORTER_OTLP_*` variables, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`):
/// read only where the `opentelemetry` feature is built, the only one that uses them, so that
/// a build without it neither warns of them nor carries the code that reads them.
#[derive(Default)]
struct OtlpFromEnvironment {
    flush_timeout: Option<Duration>,
    endpoint: Option<String>,
    headers: Vec<(String, String)>,
    gzip: bool,
    timeout: Option<Duration>,
    protocol: Option<(&'static str, String)>,
    service_name: Option<String>,
    resource_attributes: Option<String>,
}

impl OtlpFromEnvironment {
    fn from_lookup(present: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Self {
        let flush_timeout = present(vars::OTEL_FLUSH_TIMEOUT_MS).and_then(|value| {
            millis(&value).or_else(|| {
                warnings.push(format!(
                    "{}={value:?} is not a number of milliseconds; using {}",
                    vars::OTEL_FLUSH_TIMEOUT_MS,
                    DEFAULT_OTEL_FLUSH_TIMEOUT.as_millis()
                ));
                None
            })
        });
        let otlp_endpoint = otlp_endpoint(present, warnings);
        let (headers_var, headers) =
            first_of(present, [vars::OTLP_TRACES_HEADERS, vars::OTLP_HEADERS]);
        let otlp_headers = headers
            .map(|list| parse_headers(headers_var, &list, warnings))
            .unwrap_or_default();
        let otlp_gzip =
            compression::otlp_gzip(present, &compression::exporter_compresses, warnings);
        let otlp_timeout = first_valid(
            present,
            [vars::OTLP_TRACES_TIMEOUT, vars::OTLP_TIMEOUT],
            |var, value| match millis(value) {
                // OpenTelemetry's timeouts: zero is no limit.
                Some(timeout) if timeout.is_zero() => Ok(NO_OTLP_TIMEOUT),
                Some(timeout) => Ok(timeout),
                None => Err(format!("{var}={value:?} is not a number of milliseconds")),
            },
            &format!("using {}", DEFAULT_OTLP_TIMEOUT.as_millis()),
            warnings,
        );
        let (protocol_var, protocol) =
            first_of(present, [vars::OTLP_TRACES_PROTOCOL, vars::OTLP_PROTOCOL]);
        Self {
            flush_timeout,
            endpoint: otlp_endpoint,
            headers: otlp_headers,
            gzip: otlp_gzip,
            timeout: otlp_timeout,
            protocol: protocol.map(|value| (protocol_var, value)),
            service_name: present(vars::OTEL_SERVICE_NAME),
            resource_attributes: present(vars::OTEL_RESOURCE_ATTRIBUTES),
        }
    }
}

/// The first of `names` that is set, with its name (the last one's when none is).
fn first_of<const N: usize>(
    present: &dyn Fn(&str) -> Option<String>,
    names: [&'static str; N],
) -> (&'static str, Option<String>) {
    names
        .iter()
        .find_map(|name| present(name).map(|value| (*name, Some(value))))
        .unwrap_or((names[N - 1], None))
}

fn millis(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// `xray,otlp` → the backends, in order, each once. Unknown names, names this build cannot
/// send, and `none` beside others are left out with a warning; an empty result falls back
/// to the default.
fn parse_backends(list: &str, warnings: &mut Vec<String>) -> Vec<TraceBackend> {
    let mut backends = Vec::new();
    let mut none = false;
    let mut skipped = Vec::new();
    for name in list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if name.eq_ignore_ascii_case("none") {
            none = true;
            continue;
        }
        match TraceBackend::parse(name) {
            Some(backend) if backend.is_opentelemetry() && !OPENTELEMETRY_BUILT => {
                warnings.push(format!(
                    "{}: {name:?} needs lambda-perf-core's `opentelemetry` feature, which this \
                     build lacks; it is ignored",
                    vars::TRACES
                ));
                skipped.push(name.to_owned());
            }
            Some(backend) => {
                if !backends.contains(&backend) {
                    backends.push(backend);
                }
            }
            None => {
                warnings.push(format!(
                    "{}: {name:?} is not a trace backend (xray, otlp, xray-otlp, none); it is ignored",
                    vars::TRACES
                ));
                skipped.push(name.to_owned());
            }
        }
    }
    if none && !backends.is_empty() {
        warnings.push(format!(
            "{}={list:?} names `none` beside other backends; `none` is ignored",
            vars::TRACES
        ));
        return backends;
    }
    if backends.is_empty() && !none {
        if skipped.is_empty() {
            // An empty list (`,`): as unset.
            return vec![TraceBackend::XRay];
        }
        warnings.push(format!(
            "{}={list:?} names no usable backend; traces go to the default, xray",
            vars::TRACES
        ));
        return vec![TraceBackend::XRay];
    }
    backends
}

/// `backends` as `OTEL_TRACES_EXPORTER` (`exporters`, a comma list) leaves them: its `none`
/// turns off the OpenTelemetry ones (`otlp`, `xray-otlp`), `xray` going on, and says so in
/// `none_warning` (kept aside: where tracing is off it turned nothing off, and is not warned
/// about); `otlp` is what they send already. The exporters lambda-perf does not have
/// (`console`, `zipkin`, any other name) cost one warning and are taken as `otlp`, as is
/// `none` beside another name. An exporter given in code is not automatically configured,
/// and none of its business. It says
/// nothing of backends `LAMBDA_PERF_TRACES` did not choose: it never turns one on, and
/// without an OpenTelemetry backend nothing is said of it.
fn narrowed_by_traces_exporter(
    mut backends: Vec<TraceBackend>,
    exporters: &str,
    none_warning: &mut Option<String>,
    warnings: &mut Vec<String>,
) -> Vec<TraceBackend> {
    let chosen: Vec<&str> = backends
        .iter()
        .filter(|backend| backend.is_opentelemetry())
        .map(|backend| backend.as_str())
        .collect();
    if chosen.is_empty() {
        return backends;
    }
    let names: Vec<&str> = exporters
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    let none = names.iter().any(|name| name.eq_ignore_ascii_case("none"));
    let others: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !name.eq_ignore_ascii_case("none"))
        .collect();
    let var = vars::OTEL_TRACES_EXPORTER;
    if none && others.is_empty() {
        backends.retain(|backend| !backend.is_opentelemetry());
        let instead = if backends.is_empty() {
            "no traces are sent".to_owned()
        } else {
            format!("traces go to {}", backend_list(&backends))
        };
        *none_warning = Some(format!(
            "{var}={exporters:?}: the OpenTelemetry backends {} names ({}) are off; {instead}",
            vars::TRACES,
            chosen.join(", ")
        ));
        return backends;
    }
    let unsupported: Vec<&str> = others
        .iter()
        .copied()
        .filter(|name| !name.eq_ignore_ascii_case("otlp"))
        .collect();
    let mut problems = Vec::new();
    if !unsupported.is_empty() {
        problems.push(format!(
            "lambda-perf's OpenTelemetry backends export OTLP only ({} not supported)",
            unsupported.join(", ")
        ));
    }
    if none {
        problems.push("`none` beside other exporters is ignored".to_owned());
    }
    if !problems.is_empty() {
        warnings.push(format!(
            "{var}={exporters:?}: {}; treated as otlp",
            problems.join("; ")
        ));
    }
    backends
}

fn backend_list(backends: &[TraceBackend]) -> String {
    let names: Vec<&str> = backends.iter().map(|backend| backend.as_str()).collect();
    names.join(", ")
}

/// A boolean as OpenTelemetry's variables read it: only `true` (any case) is true; every
/// other value is false, and one that is not `false` either costs a warning.
fn otel_boolean(var: &str, value: &str, warnings: &mut Vec<String>) -> bool {
    let value_read = value.trim();
    if value_read.eq_ignore_ascii_case("true") {
        return true;
    }
    if !value_read.eq_ignore_ascii_case("false") {
        warnings.push(format!(
            "{var}={value:?} is neither true nor false; taken as false, as OpenTelemetry \
             reads it"
        ));
    }
    false
}

/// The traces URL: the signal's own variable as it is, else the base URL plus `/v1/traces`.
fn otlp_endpoint(
    present: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    first_valid(
        present,
        [vars::OTLP_TRACES_ENDPOINT, vars::OTLP_ENDPOINT],
        |var, value| {
            let value = value.trim();
            let endpoint = if var == vars::OTLP_TRACES_ENDPOINT {
                value.to_owned()
            } else if value.ends_with('/') {
                format!("{value}v1/traces")
            } else {
                format!("{value}/v1/traces")
            };
            validate_otlp_endpoint(&endpoint)
                .map(|()| endpoint)
                .map_err(|reason| format!("{var}: {reason}"))
        },
        &format!("otlp exports go to {DEFAULT_OTLP_ENDPOINT}"),
        warnings,
    )
}

/// The value of the first of `names` (the signal's own variable, then the generic one) that
/// is set and that `parse` takes (given the variable's name and its value). A value `parse`
/// refuses, with what it says of it, is treated as unset, as the OpenTelemetry specification
/// says of an invalid variable: the warning names what is used instead, the next variable set
/// whose value `parse` takes, else `otherwise` (the default). Variables after the one used
/// are not read.
fn first_valid<T, const N: usize>(
    present: &dyn Fn(&str) -> Option<String>,
    names: [&'static str; N],
    parse: impl Fn(&str, &str) -> Result<T, String>,
    otherwise: &str,
    warnings: &mut Vec<String>,
) -> Option<T> {
    let mut refused: Vec<String> = Vec::new();
    let mut used = None;
    for name in names {
        let Some(value) = present(name) else {
            continue;
        };
        match parse(name, &value) {
            Ok(parsed) => {
                used = Some((name, parsed));
                break;
            }
            Err(complaint) => refused.push(complaint),
        }
    }
    let instead = used.as_ref().map_or_else(
        || otherwise.to_owned(),
        |(name, _)| format!("{name} is used"),
    );
    warnings.extend(
        refused
            .into_iter()
            .map(|complaint| format!("{complaint}; {instead}")),
    );
    used.map(|(_, parsed)| parsed)
}

/// Checks that lambda-perf's own OTLP client can send to `endpoint`: an `http://` URL with a
/// host. (The collectors of the Lambda layers listen on the function's own host, in plain
/// HTTP; an `https://` endpoint needs an exporter of one's own, see
/// [`PerfLayerBuilder::span_exporter`](crate::PerfLayerBuilder).)
pub(crate) fn validate_otlp_endpoint(endpoint: &str) -> Result<(), String> {
    // A URL's scheme is case-insensitive (`HTTP://` is `http://`), as the client reads it.
    let after = |scheme: &str| {
        endpoint
            .get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &endpoint[scheme.len()..])
    };
    let Some(rest) = after("http://") else {
        return Err(if after("https://").is_some() {
            format!(
                "{endpoint:?} is an https URL; lambda-perf's OTLP client speaks plain HTTP to a \
                 collector on the function's host (the ADOT and OpenTelemetry Lambda layers'); \
                 give PerfLayerBuilder::span_exporter an exporter of your own for a remote \
                 https endpoint"
            )
        } else {
            format!("{endpoint:?} is not an http:// URL")
        });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(format!("{endpoint:?} names no host"));
    }
    Ok(())
}

/// An AWS region's name, as `AWS_REGION` gives it (`eu-west-1`, `us-gov-west-1`): lowercase
/// letters, digits and hyphens.
fn validate_region(region: &str) -> Result<(), String> {
    let fits = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    if !region.is_empty() && region.bytes().all(fits) {
        Ok(())
    } else {
        Err(format!(
            "{region:?} is no AWS region name (lowercase letters, digits and hyphens)"
        ))
    }
}

/// `name=value,name=value` (values percent-encoded, as the OpenTelemetry variables say), the
/// values decoded.
fn parse_headers(var: &str, list: &str, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (position, pair) in list.split(',').enumerate() {
        if pair.trim().is_empty() {
            continue;
        }
        let header = pair.split_once('=').and_then(|(name, value)| {
            let name = name.trim();
            is_header_name(name)
                .then(|| percent_decoded(value.trim()))
                .flatten()
                .map(|value| (name.to_owned(), value))
        });
        match header {
            Some(header) => headers.push(header),
            None => {
                // The entry may hold a credential: name it by position, not by content.
                warnings.push(format!(
                    "{var}: entry {} is not name=value with a valid header name and a \
                     percent-encoded UTF-8 value; skipped",
                    position + 1
                ));
            }
        }
    }
    headers
}

/// `value` with its `%XX` sequences decoded; `None` when the decoded bytes are not UTF-8. A
/// `%` not followed by two hex digits is kept as it is.
fn percent_decoded(value: &str) -> Option<String> {
    percent_decode_str(value)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// An HTTP token (RFC 9110).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> (TraceSettings, Vec<String>) {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        let present = |name: &str| {
            env.get(name)
                .map(|value| (*value).to_owned())
                .filter(|value| !value.trim().is_empty())
        };
        let mut warnings = Vec::new();
        let settings = TraceSettings::from_lookup(&present, &mut warnings);
        (settings, warnings)
    }

    #[test]
    fn unset_means_xray_with_default_bounds() {
        let (settings, warnings) = read(&[]);
        assert!(warnings.is_empty());
        assert_eq!(settings.backends, None);
        assert_eq!(settings.backends(), [TraceBackend::XRay]);
        assert_eq!(settings.flush_timeout, None);
        assert_eq!(settings.otlp_endpoint, None);
    }

    #[test]
    fn lists_are_read_in_order_once_each() {
        let (settings, warnings) = read(&[("LAMBDA_PERF_TRACES", " XRay , xray-otlp,xray ")]);
        let expected = if OPENTELEMETRY_BUILT {
            assert!(warnings.is_empty(), "{warnings:?}");
            vec![TraceBackend::XRay, TraceBackend::XRayOtlp]
        } else {
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("`opentelemetry` feature"));
            vec![TraceBackend::XRay]
        };
        assert_eq!(settings.backends(), expected);
        let (settings, warnings) = read(&[("LAMBDA_PERF_TRACES", "none")]);
        assert!(warnings.is_empty());
        assert_eq!(settings.backends(), []);
    }

    #[test]
    fn unknown_values_warn_once_and_fall_back_to_the_default() {
        let (settings, warnings) = read(&[("LAMBDA_PERF_TRACES", "jaeger")]);
        assert_eq!(settings.backends(), [TraceBackend::XRay]);
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].contains("\"jaeger\" is not a trace backend"));
        assert!(warnings[1].contains("the default, xray"));
        let (settings, warnings) = read(&[("LAMBDA_PERF_TRACES", "xray,none")]);
        assert_eq!(settings.backends(), [TraceBackend::XRay]);
        assert_eq!(warnings.len(), 1);
    }

    #[cfg(feature = "opentelemetry")]
    #[test]
    fn the_traces_endpoint_wins_over_the_base_one() {
        let (settings, warnings) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=abc%20d, team = core",
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "GZIP"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS", "50"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            settings.otlp_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            settings.otlp_headers,
            [
                ("x-api-key".to_owned(), "abc d".to_owned()),
                ("team".to_owned(), "core".to_owned())
            ]
        );
        assert!(settings.otlp_gzip);
        assert_eq!(settings.otlp_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(settings.flush_timeout, Some(Duration::from_millis(50)));
        assert_eq!(
            settings.region.as_deref(),
            OPENTELEMETRY_BUILT.then_some("eu-west-1")
        );
        assert!(
            !format!("{settings:?}").contains("abc"),
            "header values stay out of Debug"
        );

        let (settings, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:9/custom",
            ),
        ]);
        assert_eq!(
            settings.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:9/custom")
        );
    }

    #[cfg(feature = "opentelemetry")]
    #[test]
    fn header_values_are_percent_decoded_when_read() {
        assert_eq!(
            percent_decoded("Basic%20dTpw%3D%3D").as_deref(),
            Some("Basic dTpw==")
        );
        assert_eq!(percent_decoded("caf%C3%A9").as_deref(), Some("café"));
        for kept in ["100%", "%zz", "%4", "%+1", "a=b=c"] {
            assert_eq!(percent_decoded(kept).as_deref(), Some(kept));
        }
        assert_eq!(percent_decoded("%FF"), None, "not UTF-8");
        let (settings, warnings) = read(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "a=1,bad name=2,c=%FF,d=x=y%2C",
        )]);
        assert_eq!(
            settings.otlp_headers,
            [
                ("a".to_owned(), "1".to_owned()),
                ("d".to_owned(), "x=y,".to_owned())
            ]
        );
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings[0].contains("entry 2"), "{warnings:#?}");
        assert!(warnings[1].contains("entry 3"), "{warnings:#?}");
        assert!(warnings.iter().all(|w| !w.contains("%FF")));
    }

    #[cfg(feature = "opentelemetry")]
    #[test]
    fn bad_otlp_values_warn_and_fall_back() {
        let (settings, warnings) = read(&[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://api.vendor.example/v1/traces",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "novalue,bad name=1,ok=2",
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS", "soon"),
        ]);
        assert_eq!(settings.otlp_endpoint, None);
        assert_eq!(settings.otlp_headers, [("ok".to_owned(), "2".to_owned())]);
        assert!(!settings.otlp_gzip);
        assert_eq!(settings.flush_timeout, None);
        assert_eq!(warnings.len(), 5, "{warnings:#?}");
        assert!(warnings[0].contains("\"soon\""));
        assert!(warnings[1].contains("https URL"));
        assert!(warnings.iter().all(|w| !w.contains("novalue")));
    }

    /// A signal's own variable with a value that cannot be used is treated as unset, as the
    /// OpenTelemetry specification says: the generic variable's value is used, with a warning
    /// that says so; when that one cannot be used either, the default.
    #[cfg(feature = "opentelemetry")]
    #[test]
    fn a_bad_traces_variable_gives_way_to_the_generic_one() {
        let (settings, warnings) = read(&[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://api.vendor.example/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ]);
        assert_eq!(
            settings.otlp_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert!(settings.otlp_gzip);
        assert_eq!(settings.otlp_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            warnings.len(),
            3,
            "one for each traces variable: {warnings:#?}"
        );
        for (var, generic) in [
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ),
        ] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with(var) && w.ends_with(&format!("; {generic} is used"))),
                "{var}: {warnings:#?}"
            );
        }

        let (settings, warnings) = read(&[
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "later"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
        ]);
        assert_eq!(settings.otlp_timeout, None);
        assert_eq!(settings.otlp_endpoint, None);
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        // Neither variable is used: each warning says what is, the default, never the other
        // variable.
        assert!(warnings[0].starts_with("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "));
        assert!(warnings[1].starts_with("OTEL_EXPORTER_OTLP_ENDPOINT: "));
        assert!(warnings[2].starts_with("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"soon\""));
        assert!(warnings[3].starts_with("OTEL_EXPORTER_OTLP_TIMEOUT=\"later\""));
        for warning in &warnings[..2] {
            assert!(
                warning.ends_with("; otlp exports go to http://localhost:4318/v1/traces"),
                "{warning}"
            );
        }
        for warning in &warnings[2..] {
            assert!(warning.ends_with("; using 10000"), "{warning}");
        }
        assert!(
            warnings.iter().all(|w| !w.ends_with(" is used")),
            "{warnings:#?}"
        );
    }

    #[test]
    fn endpoints_need_http_and_a_host() {
        assert!(validate_otlp_endpoint("http://localhost:4318/v1/traces").is_ok());
        assert!(validate_otlp_endpoint("http://127.0.0.1:9").is_ok());
        // The scheme is case-insensitive, as the client reads it.
        assert!(validate_otlp_endpoint("HTTP://collector:4318/v1/traces").is_ok());
        let https = validate_otlp_endpoint("HTTPS://collector/v1/traces").unwrap_err();
        assert!(https.contains("is an https URL"), "{https}");
        for bad in [
            "",
            "localhost:4318",
            "http://",
            "http:///v1/traces",
            "ftp://x",
        ] {
            assert!(validate_otlp_endpoint(bad).is_err(), "{bad:?}");
        }
    }

    /// A timeout of zero is no limit, as OpenTelemetry defines its timeouts (an export then
    /// waits as long as it takes); one that is no number of milliseconds costs a warning and
    /// the default.
    #[cfg(feature = "opentelemetry")]
    #[test]
    fn an_otlp_timeout_of_zero_is_no_limit() {
        for var in [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ] {
            let (settings, warnings) = read(&[(var, "0")]);
            assert_eq!(warnings, Vec::<String>::new(), "{var}");
            assert!(
                settings
                    .otlp_timeout
                    .is_some_and(|timeout| timeout >= Duration::from_secs(24 * 3600)),
                "{var}: {:?}",
                settings.otlp_timeout
            );
        }
        let (settings, warnings) = read(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]);
        assert_eq!(settings.otlp_timeout, None);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("OTEL_EXPORTER_OTLP_TIMEOUT=\"soon\"")
                && warnings[0].ends_with("using 10000"),
            "{warnings:#?}"
        );
    }

    /// `OTEL_SDK_DISABLED` is a boolean as OpenTelemetry reads one: only `true`, in any case,
    /// is true; `false` is false, and any other value false with a warning (a `1` or a `yes`
    /// does not turn the export off, as it would not in an OpenTelemetry SDK).
    #[test]
    fn otel_sdk_disabled_is_true_only_when_it_says_true() {
        for value in ["true", "TRUE", " True "] {
            let (settings, warnings) = read(&[("OTEL_SDK_DISABLED", value)]);
            assert_eq!(settings.otel_sdk_disabled, OPENTELEMETRY_BUILT, "{value:?}");
            assert_eq!(warnings, Vec::<String>::new(), "{value:?}");
        }
        let (settings, warnings) = read(&[("OTEL_SDK_DISABLED", "False")]);
        assert!(!settings.otel_sdk_disabled);
        assert_eq!(warnings, Vec::<String>::new());
        for value in ["1", "yes", "on"] {
            let (settings, warnings) = read(&[("OTEL_SDK_DISABLED", value)]);
            assert!(!settings.otel_sdk_disabled, "{value:?}");
            if OPENTELEMETRY_BUILT {
                assert_eq!(warnings.len(), 1, "{value:?}: {warnings:#?}");
                assert!(
                    warnings[0].starts_with(&format!("OTEL_SDK_DISABLED={value:?}"))
                        && warnings[0].contains("taken as false"),
                    "{warnings:#?}"
                );
            } else {
                assert_eq!(warnings, Vec::<String>::new(), "not read: {value:?}");
            }
        }
    }

    /// `OTEL_TRACES_EXPORTER=none` turns off the OpenTelemetry backends `LAMBDA_PERF_TRACES`
    /// names, with one warning that says where traces go instead; `xray` goes on. The warning
    /// is kept aside, for the configuration to give where tracing is on (setup.rs).
    #[cfg(feature = "opentelemetry")]
    #[test]
    fn otel_traces_exporter_none_turns_the_opentelemetry_backends_off() {
        let (settings, warnings) = read(&[
            ("LAMBDA_PERF_TRACES", "xray,otlp,xray-otlp"),
            ("OTEL_TRACES_EXPORTER", "NONE"),
        ]);
        assert_eq!(settings.backends(), [TraceBackend::XRay]);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(
            settings.traces_exporter_none_warning.as_deref(),
            Some(
                "OTEL_TRACES_EXPORTER=\"NONE\": the OpenTelemetry backends LAMBDA_PERF_TRACES \
                 names (otlp, xray-otlp) are off; traces go to xray"
            )
        );
        let (settings, _) = read(&[
            ("LAMBDA_PERF_TRACES", "otlp"),
            ("OTEL_TRACES_EXPORTER", " none "),
        ]);
        assert_eq!(settings.backends(), []);
        let warning = settings.traces_exporter_none_warning.unwrap_or_default();
        assert!(
            warning.ends_with("are off; no traces are sent"),
            "{warning}"
        );
        let (settings, warnings) = read(&[
            ("LAMBDA_PERF_TRACES", "otlp"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ]);
        assert_eq!(settings.backends(), [TraceBackend::Otlp]);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(settings.traces_exporter_none_warning, None);
    }

    /// The exporters OpenTelemetry defines that lambda-perf does not have (`console`,
    /// `zipkin`) and names it does not know cost one warning, and the backends chosen send
    /// OTLP as before; so does `none` beside another name.
    #[cfg(feature = "opentelemetry")]
    #[test]
    fn otel_traces_exporters_other_than_otlp_are_taken_as_otlp() {
        let (settings, warnings) = read(&[
            ("LAMBDA_PERF_TRACES", "xray-otlp"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ]);
        assert_eq!(settings.backends(), [TraceBackend::XRayOtlp]);
        assert_eq!(
            warnings,
            [
                "OTEL_TRACES_EXPORTER=\"console\": lambda-perf's OpenTelemetry backends export \
                 OTLP only (console not supported); treated as otlp"
            ]
        );
        let (settings, warnings) = read(&[
            ("LAMBDA_PERF_TRACES", "otlp"),
            ("OTEL_TRACES_EXPORTER", "otlp,zipkin,none,jaeger"),
        ]);
        assert_eq!(settings.backends(), [TraceBackend::Otlp]);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("(zipkin, jaeger not supported)")
                && warnings[0].contains("`none` beside other exporters is ignored")
                && warnings[0].ends_with("; treated as otlp"),
            "{warnings:#?}"
        );
    }

    /// `OTEL_TRACES_EXPORTER` only narrows what `LAMBDA_PERF_TRACES` chose: it never turns an
    /// OpenTelemetry backend on, and without one nothing is said of it.
    #[test]
    fn otel_traces_exporter_never_turns_a_backend_on() {
        for pairs in [
            vec![("OTEL_TRACES_EXPORTER", "otlp")],
            vec![("OTEL_TRACES_EXPORTER", "console")],
            vec![
                ("LAMBDA_PERF_TRACES", "xray"),
                ("OTEL_TRACES_EXPORTER", "zipkin"),
            ],
            vec![
                ("LAMBDA_PERF_TRACES", "none"),
                ("OTEL_TRACES_EXPORTER", "otlp"),
            ],
        ] {
            let (settings, warnings) = read(&pairs);
            assert!(
                settings
                    .backends()
                    .iter()
                    .all(|backend| !backend.is_opentelemetry()),
                "{pairs:?}"
            );
            assert_eq!(warnings, Vec::<String>::new(), "{pairs:?}");
        }
    }

    /// Without the `opentelemetry` feature nothing exports spans: the export's variables are
    /// not read, and nothing is said of their values, however bad.
    #[cfg(not(feature = "opentelemetry"))]
    #[test]
    fn the_exports_variables_are_not_read_without_opentelemetry() {
        let (settings, warnings) = read(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://nowhere"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue,bad name=1,ok=2"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS", "soon"),
            ("OTEL_SERVICE_NAME", "orders"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=shop"),
        ]);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(settings.otlp_endpoint, None);
        assert!(settings.otlp_headers.is_empty());
        assert!(!settings.otlp_gzip);
        assert_eq!(settings.otlp_timeout, None);
        assert_eq!(settings.otlp_protocol, None);
        assert_eq!(settings.flush_timeout, None);
        assert_eq!(settings.otel_service_name, None);
        assert_eq!(settings.otel_resource_attributes, None);
    }

    /// Without the `opentelemetry` feature no span has a `cloud.region`: `AWS_REGION`, which
    /// every function has, is not read, and nothing is said of its value.
    #[cfg(not(feature = "opentelemetry"))]
    #[test]
    fn the_region_is_not_read_without_opentelemetry() {
        let (settings, warnings) = read(&[("AWS_REGION", "Mars Base")]);
        assert_eq!(settings.region, None);
        assert_eq!(warnings, Vec::<String>::new());
    }

    /// A region that is no AWS region name would be the spans' `cloud.region`: it costs a
    /// warning and the region of the function's ARN.
    #[cfg(feature = "opentelemetry")]
    #[test]
    fn a_region_that_is_none_is_warned_about() {
        let (settings, warnings) = read(&[("AWS_REGION", "Mars Base")]);
        assert_eq!(settings.region, None);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("AWS_REGION: \"Mars Base\""),
            "{warnings:#?}"
        );
        for region in ["us-gov-west-1", "cn-north-1", "eu-isoe-west-1"] {
            assert_eq!(validate_region(region), Ok(()));
        }
    }
}
