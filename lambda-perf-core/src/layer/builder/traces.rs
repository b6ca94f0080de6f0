//! The builder's trace settings: where traces go (`LAMBDA_PERF_TRACES`), and the settings of
//! the OpenTelemetry output (`LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS`, the `OTEL_*` variables,
//! `AWS_REGION`), each overridable in code.

use super::PerfLayerBuilder;
use crate::config::{TraceBackend, trace_vars};
#[cfg(feature = "opentelemetry")]
use crate::formats::faas_trigger::FaasTrigger;

impl PerfLayerBuilder {
    /// Where sampled traces go (`LAMBDA_PERF_TRACES`; default [`TraceBackend::XRay`]): any of
    /// `XRay`, `Otlp`, `XRayOtlp`, or none at all with an empty list. `Otlp` and `XRayOtlp`
    /// need the `opentelemetry` feature (without it, [`build`](Self::build) refuses them).
    /// Every backend sends only the invocations X-Ray sampled (`Sampled=1`): without the
    /// function's active tracing, nearly none (see [`TraceBackend`]).
    ///
    /// The backends given here win over `OTEL_TRACES_EXPORTER` too (its `none` turns off only
    /// those of `LAMBDA_PERF_TRACES`), but not over `OTEL_SDK_DISABLED=true`, which turns `Otlp`
    /// and `XRayOtlp` off wherever they were chosen (see `otel_sdk_disabled`, with the
    /// `opentelemetry` feature).
    ///
    /// ```
    /// use lambda_perf_core::{PerfLayer, TraceBackend};
    ///
    /// // No trace output at all: what LAMBDA_PERF_TRACES=none says.
    /// let layer = PerfLayer::builder().traces([] as [TraceBackend; 0]).build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    pub fn traces(mut self, backends: impl IntoIterator<Item = TraceBackend>) -> Self {
        self.setup.overridden(trace_vars::TRACES);
        self.setup.overridden(trace_vars::OTEL_TRACES_EXPORTER);
        self.setup.settings.traces.traces_exporter_none_warning = None;
        let mut chosen = Vec::new();
        for backend in backends {
            if !chosen.contains(&backend) {
                chosen.push(backend);
            }
        }
        self.setup.settings.traces.backends = Some(chosen);
        self
    }

    /// Turns every OpenTelemetry export off (`true`) or leaves it as chosen (`false`), over
    /// `OTEL_SDK_DISABLED`. Off, the `Otlp` and `XRayOtlp` backends are left out wherever they
    /// were chosen ([`traces`](Self::traces) or `LAMBDA_PERF_TRACES`), and so are the
    /// [`span_exporter`](Self::span_exporter)s; `XRay` goes on. The variable does the same
    /// with one warning naming what it turned off; given here, nothing is warned about.
    ///
    /// ```
    /// use lambda_perf_core::{PerfLayer, TraceBackend};
    ///
    /// // Traces to X-Ray alone: Otlp is left out, as OTEL_SDK_DISABLED=true would leave it.
    /// let layer = PerfLayer::builder()
    ///     .traces([TraceBackend::XRay, TraceBackend::Otlp])
    ///     .otel_sdk_disabled(true)
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn otel_sdk_disabled(mut self, disabled: bool) -> Self {
        self.setup.overridden(trace_vars::OTEL_SDK_DISABLED);
        self.setup.settings.traces.otel_sdk_disabled = disabled;
        self.setup.settings.traces.otel_sdk_disabled_in_code = true;
        self
    }

    /// The longest an invocation waits for its spans to be exported to the exporters that
    /// wait on the network (`otlp`, [`span_exporter`](Self::span_exporter)s); never into
    /// the [`timeout_margin`](Self::timeout_margin) before the invocation's deadline (the
    /// default margin, 100 ms, when a zero margin turns the watchdog off), so the handler's
    /// answer is still posted in time (`LAMBDA_PERF_OTEL_FLUSH_TIMEOUT_MS`, default 200 ms).
    #[cfg(feature = "opentelemetry")]
    pub fn otel_flush_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.setup.overridden(trace_vars::OTEL_FLUSH_TIMEOUT_MS);
        self.setup.settings.traces.flush_timeout = Some(timeout);
        self
    }

    /// What sets this function off, as its handler spans' `faas.trigger` says (the
    /// OpenTelemetry FaaS conventions ask every invocation's span for one). Unset, it is
    /// [`FaasTrigger::Http`] for a `lambda_http` handler and [`FaasTrigger::Other`] for any
    /// other: lambda-perf does not read the event to tell a queue's message from a schedule.
    ///
    /// ```
    /// use lambda_perf_core::{FaasTrigger, PerfLayer};
    ///
    /// // An SQS consumer.
    /// let layer = PerfLayer::builder().faas_trigger(FaasTrigger::PubSub).build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn faas_trigger(mut self, trigger: FaasTrigger) -> Self {
        self.setup.settings.traces.faas_trigger = Some(trigger);
        self
    }

    /// The OTLP/HTTP traces URL of `otlp`, an `http://` one
    /// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, default `http://localhost:4318/v1/traces`).
    #[cfg(feature = "opentelemetry")]
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.setup.overridden(trace_vars::OTLP_TRACES_ENDPOINT);
        self.setup.overridden(trace_vars::OTLP_ENDPOINT);
        self.setup.settings.traces.otlp_endpoint = Some(url.into());
        self
    }

    /// Adds a header to every `otlp` export, or replaces its value
    /// (`OTEL_EXPORTER_OTLP_HEADERS`). The value is sent as given: unlike the variable's, it
    /// is not percent-decoded.
    #[cfg(feature = "opentelemetry")]
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let headers = &mut self.setup.settings.traces.otlp_headers;
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(existing) => existing.1 = value,
            None => headers.push((name, value)),
        }
        self
    }

    /// Sends none of the headers given so far with `otlp` exports: those of
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` (or `OTEL_EXPORTER_OTLP_HEADERS`) and those of
    /// earlier [`otlp_header`](Self::otlp_header) calls. The headers given after it are the
    /// only ones sent.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// // The environment's headers are for another collector: send this one alone.
    /// let layer = PerfLayer::builder()
    ///     .clear_otlp_headers()
    ///     .otlp_header("x-team", "orders")
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn clear_otlp_headers(mut self) -> Self {
        self.setup.overridden(trace_vars::OTLP_TRACES_HEADERS);
        self.setup.overridden(trace_vars::OTLP_HEADERS);
        self.setup.settings.traces.otlp_headers.clear();
        self
    }

    /// Whether `otlp` exports are gzipped (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
    ///
    /// When another crate of the function's build turns on `opentelemetry-otlp`'s
    /// `gzip-http` or `zstd-http` feature (Cargo unifies features), the exporter itself
    /// compresses as `OTEL_EXPORTER_OTLP_COMPRESSION` says (`zstd` too), whatever is given
    /// here; its body is sent as it made it, marked with its `Content-Encoding`, never
    /// compressed twice.
    #[cfg(feature = "opentelemetry")]
    pub fn otlp_gzip(mut self, enabled: bool) -> Self {
        self.setup.overridden(trace_vars::OTLP_TRACES_COMPRESSION);
        self.setup.overridden(trace_vars::OTLP_COMPRESSION);
        self.setup.settings.traces.otlp_gzip = enabled;
        self
    }

    /// The longest one export may take (`otlp`'s, connecting included, and each of a
    /// [`span_exporter`](Self::span_exporter) given in code) before it is given up and
    /// counted (`lambda_perf.otel.failed_exports` on a later handler span, its spans as
    /// `otel.export_failed` in the next EMF line) (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, then
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`; default 10 s). The invocation itself waits at most the
    /// [`otel_flush_timeout`](Self::otel_flush_timeout); an export that outlasts it goes on
    /// in the background until this one. [`build`](Self::build) refuses zero or any timeout
    /// below a millisecond, which would fail every export before it is sent; for no limit (what the variables' `0` means, as
    /// OpenTelemetry defines it), give [`Duration::MAX`](std::time::Duration::MAX).
    ///
    /// ```
    /// use std::time::Duration;
    /// use lambda_perf_core::PerfLayer;
    ///
    /// let layer = PerfLayer::builder()
    ///     .otlp_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// assert!(PerfLayer::builder().otlp_timeout(Duration::ZERO).build().is_err());
    /// assert!(PerfLayer::builder().otlp_timeout(Duration::from_micros(500)).build().is_err());
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn otlp_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.setup.overridden(trace_vars::OTLP_TRACES_TIMEOUT);
        self.setup.overridden(trace_vars::OTLP_TIMEOUT);
        self.setup.settings.traces.otlp_timeout = Some(timeout);
        self
    }

    /// The `service.name` of the spans' resource, for OpenTelemetry alone: it wins over every
    /// other source of that name (`OTEL_SERVICE_NAME`, the `service.name` of
    /// `OTEL_RESOURCE_ATTRIBUTES`, [`service`](Self::service)), while the `service` dimension
    /// and the `Service` annotation stay [`service`](Self::service)'s. [`build`](Self::build)
    /// refuses a blank name.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// // Metrics under the Powertools service, spans under the name the tracing backend knows.
    /// let layer = PerfLayer::builder()
    ///     .service("payment")
    ///     .otel_service_name("payment-api")
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn otel_service_name(mut self, name: impl Into<String>) -> Self {
        self.setup.overridden(trace_vars::OTEL_SERVICE_NAME);
        self.setup.settings.traces.otel_service_name_in_code = Some(name.into());
        self
    }

    /// Adds an attribute to the spans' resource, or replaces the value of one of
    /// `OTEL_RESOURCE_ATTRIBUTES` (or of the function's facts) of the same key. The value is
    /// taken as given: unlike the variable's, it is not percent-decoded. A `service.name`
    /// given here is the resource's name unless
    /// [`otel_service_name`](Self::otel_service_name) gives another. [`build`](Self::build)
    /// refuses a blank key.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// let layer = PerfLayer::builder()
    ///     .otel_resource_attribute("deployment.environment.name", "prod")
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn otel_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let (key, value) = (key.into(), value.into());
        let attributes = &mut self.setup.settings.traces.resource_attributes_in_code;
        match attributes.iter_mut().find(|(existing, _)| *existing == key) {
            Some(existing) => existing.1 = value,
            None => attributes.push((key, value)),
        }
        self
    }

    /// Drops every resource attribute given so far: those of `OTEL_RESOURCE_ATTRIBUTES` (its
    /// `service.name` too) and those of earlier
    /// [`otel_resource_attribute`](Self::otel_resource_attribute) calls. The resource keeps
    /// its `service.name` and the function's facts, and the attributes given after it.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// let layer = PerfLayer::builder()
    ///     .clear_otel_resource_attributes()
    ///     .otel_resource_attribute("team", "orders")
    ///     .build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn clear_otel_resource_attributes(mut self) -> Self {
        self.setup.overridden(trace_vars::OTEL_RESOURCE_ATTRIBUTES);
        self.setup.settings.traces.otel_resource_attributes = None;
        self.setup
            .settings
            .traces
            .resource_attributes_in_code
            .clear();
        self
    }

    /// The AWS region of the spans' `cloud.region`, on the handler spans and the resource
    /// (`AWS_REGION`, which Lambda sets; else the region of the invoked function's ARN). It
    /// also wins over a `cloud.region` of `OTEL_RESOURCE_ATTRIBUTES`, but not over one given
    /// to [`otel_resource_attribute`](Self::otel_resource_attribute), which names the
    /// resource's. [`build`](Self::build) refuses a name that is not lowercase letters, digits and
    /// hyphens.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    ///
    /// let layer = PerfLayer::builder().region("eu-central-1").build()?;
    /// assert!(PerfLayer::builder().region("Frankfurt").build().is_err());
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.setup.overridden(trace_vars::REGION);
        self.setup.settings.traces.region = Some(region.into());
        self.setup.settings.traces.region_in_code = true;
        self
    }

    /// Also exports every sampled invocation's spans to `exporter`, whatever
    /// `LAMBDA_PERF_TRACES` says (`POWERTOOLS_TRACE_DISABLED` still turns all tracing off,
    /// and `OTEL_SDK_DISABLED=true` all OpenTelemetry export).
    /// It runs on lambda-perf's export thread, inside a tokio runtime of its own, one batch
    /// at a time (an invocation's spans, or those of every invocation that ended during its
    /// last export), waited for as long as [`otel_flush_timeout`](Self::otel_flush_timeout)
    /// allows; an export that has not completed within [`otlp_timeout`](Self::otlp_timeout)
    /// is given up, its spans counted as dropped. For an `https://` collector, a vendor, or
    /// gRPC, give the exporter of `opentelemetry-otlp` built with the client you use.
    ///
    /// The invocation's wait holds its thread. Under a `current_thread` runtime
    /// (`#[tokio::main(flavor = "current_thread")]`) that is the whole runtime: an exporter
    /// that needs the function's runtime to make progress (a tonic channel built in `main`
    /// runs its worker there) cannot export while the invocation waits, so every invocation
    /// waits its whole flush bound and every export is late. Build such an exporter outside
    /// the function's runtime, or use the multi-thread runtime, where the wait lets the
    /// runtime's other tasks run on another thread.
    ///
    /// ```
    /// use lambda_perf_core::PerfLayer;
    /// use lambda_perf_core::opentelemetry_sdk::trace::InMemorySpanExporter;
    ///
    /// // In a test (feature `test-util`): the spans of every sampled invocation, in memory.
    /// let spans = InMemorySpanExporter::default();
    /// let layer = PerfLayer::builder().span_exporter(spans.clone()).build()?;
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    #[cfg(feature = "opentelemetry")]
    pub fn span_exporter(
        mut self,
        exporter: impl opentelemetry_sdk::trace::SpanExporter + 'static,
    ) -> Self {
        self.setup.span_exporters.push(Box::new(exporter));
        self
    }
}

#[cfg(all(test, feature = "opentelemetry"))]
mod tests {
    use super::*;
    use crate::config::vars;
    use crate::setup::Setup;

    /// Only the OpenTelemetry output is told of a warm invocation's beginning (its hook
    /// opens the invocation's spans); EMF and X-Ray are told of a cold start's alone.
    #[test]
    fn only_an_opentelemetry_output_is_told_of_every_beginning() {
        let plain = PerfLayerBuilder {
            setup: Setup::from_pairs(&[]),
        }
        .without_marker();
        let (instrumentation, _, _) = plain.setup.resolve_quietly();
        assert!(!instrumentation.every_beginning);
        let exporting = PerfLayerBuilder {
            setup: Setup::from_pairs(&[]),
        }
        .without_marker()
        .span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default());
        let (instrumentation, _, _) = exporting.setup.resolve_quietly();
        assert!(instrumentation.every_beginning);
    }

    /// The OTLP settings too: an endpoint or a compression given in code makes the warning
    /// about the variable's value (which names the fallback it would have cost) wrong.
    #[test]
    fn otlp_settings_given_in_code_silence_the_warnings_about_their_variables() {
        let env = [
            (
                trace_vars::OTLP_TRACES_ENDPOINT,
                "https://api.vendor.example/v1/traces",
            ),
            (trace_vars::OTLP_COMPRESSION, "zstd"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let (_, errors, warnings) = PerfLayerBuilder::over_pairs(&env).setup.resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 2, "{warnings:#?}");

        let (_, errors, warnings) = PerfLayerBuilder::over_pairs(&env)
            .otlp_endpoint("http://127.0.0.1:4318/v1/traces")
            .otlp_gzip(true)
            .setup
            .resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings, Vec::<String>::new());

        let env = [
            (trace_vars::OTLP_ENDPOINT, "collector:4318"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let (_, _, warnings) = PerfLayerBuilder::over_pairs(&env)
            .otlp_endpoint("http://127.0.0.1:4318/v1/traces")
            .setup
            .resolve_quietly();
        assert_eq!(warnings, Vec::<String>::new());
    }

    /// `clear_otel_resource_attributes` drops `OTEL_RESOURCE_ATTRIBUTES` whole, and a service
    /// given in code names the spans' service in place of `OTEL_SERVICE_NAME`: the warning
    /// that the variable's value could not be read (not UTF-8) is about a value no longer used.
    #[test]
    fn values_given_in_code_silence_the_warning_about_an_unreadable_variable() {
        type GivenInCode = fn(PerfLayerBuilder) -> PerfLayerBuilder;
        let cases: [(&str, GivenInCode); 2] = [
            (trace_vars::OTEL_RESOURCE_ATTRIBUTES, |builder| {
                builder.clear_otel_resource_attributes()
            }),
            (trace_vars::OTEL_SERVICE_NAME, |builder| {
                builder.service("orders")
            }),
        ];
        for (var, given_in_code) in cases {
            let unreadable = || {
                let mut builder =
                    PerfLayerBuilder::over_pairs(&[(vars::METRICS_NAMESPACE, "Shop")]);
                builder.setup.env_warnings.push(format!(
                    "{var} is not valid UTF-8 (\"x=\\u{{fffd}}\"); ignored"
                ));
                builder
            };
            let (_, _, warnings) = unreadable().setup.resolve_quietly();
            assert_eq!(warnings.len(), 1, "{var}: {warnings:#?}");
            let (_, _, warnings) = given_in_code(unreadable()).setup.resolve_quietly();
            assert_eq!(warnings, Vec::<String>::new(), "{var}");
        }
    }

    /// The OTLP timeout, the region and the headers given in code make the warnings about
    /// their variables' values (which name the fallback they cost) wrong too.
    #[test]
    fn otel_values_given_in_code_silence_the_warnings_about_their_variables() {
        let env = [
            (trace_vars::OTLP_TIMEOUT, "soon"),
            (trace_vars::REGION, "Mars Base"),
            (trace_vars::OTLP_HEADERS, "not a header"),
            (vars::METRICS_NAMESPACE, "Shop"),
        ];
        let (_, errors, warnings) = PerfLayerBuilder::over_pairs(&env).setup.resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings.len(), 3, "{warnings:#?}");

        let (_, errors, warnings) = PerfLayerBuilder::over_pairs(&env)
            .otlp_timeout(std::time::Duration::from_secs(2))
            .region("eu-west-1")
            .clear_otlp_headers()
            .setup
            .resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(warnings, Vec::<String>::new());
    }

    /// Values given in code that no export could use are typed errors from `build()`, never
    /// a panic; the same values in the environment cost a warning (config/traces.rs).
    #[test]
    fn otel_values_given_in_code_that_cannot_be_used_are_typed_errors() {
        let (_, errors, _) = PerfLayerBuilder::over_pairs(&[(vars::METRICS_NAMESPACE, "Shop")])
            .otlp_timeout(std::time::Duration::ZERO)
            .region("Frankfurt")
            .otel_service_name(" ")
            .otel_resource_attribute(" ", "x")
            .otel_resource_attribute("service.name", "")
            .otel_resource_attribute("team", "")
            .setup
            .resolve_quietly();
        let settings: Vec<&str> = errors.iter().map(|error| error.setting).collect();
        assert_eq!(
            settings,
            [
                "otlp timeout",
                "region",
                "otel service name",
                "otel resource attribute",
                "otel resource attribute"
            ],
            "{errors:#?}"
        );
        let built = PerfLayerBuilder::over_pairs(&[(vars::METRICS_NAMESPACE, "Shop")])
            .otlp_timeout(std::time::Duration::ZERO)
            .build();
        assert_eq!(built.unwrap_err().setting, "otlp timeout");
        // Below the variables' unit, a millisecond, no export could get out either; one
        // millisecond is the least the variables can say, and is taken.
        let built = PerfLayerBuilder::over_pairs(&[(vars::METRICS_NAMESPACE, "Shop")])
            .otlp_timeout(std::time::Duration::from_micros(999))
            .build();
        assert_eq!(built.unwrap_err().setting, "otlp timeout");
        let (_, errors, _) = PerfLayerBuilder::over_pairs(&[(vars::METRICS_NAMESPACE, "Shop")])
            .otlp_timeout(std::time::Duration::from_millis(1))
            .setup
            .resolve_quietly();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    /// A builder over `pairs` as the environment, tracing on (to a daemon address nobody
    /// is sent to), with a namespace: nothing else to warn about.
    fn tracing_over(pairs: &[(&str, &str)]) -> PerfLayerBuilder {
        let mut pairs = pairs.to_vec();
        pairs.push((vars::METRICS_NAMESPACE, "Shop"));
        PerfLayerBuilder {
            setup: Setup::from_pairs(&pairs),
        }
        .without_marker()
        .xray_daemon_address("127.0.0.1:2000")
    }

    /// Whether the layer has an OpenTelemetry output (the only output told of every
    /// beginning), with the warnings of its configuration.
    fn exports_opentelemetry(builder: PerfLayerBuilder) -> (bool, Vec<String>) {
        let (instrumentation, errors, warnings) = builder.setup.resolve_quietly();
        assert!(errors.is_empty(), "{errors:?}");
        (instrumentation.every_beginning, warnings)
    }

    /// `OTEL_SDK_DISABLED=true` turns off every OpenTelemetry export, the backends chosen in
    /// code and the exporters given in code too, with one warning naming what it turned off;
    /// `otel_sdk_disabled` given in code wins over it.
    #[test]
    fn otel_sdk_disabled_turns_opentelemetry_off_wherever_it_was_chosen() {
        let disabled = [
            (trace_vars::OTEL_SDK_DISABLED, "true"),
            (trace_vars::TRACES, "xray,otlp,xray-otlp"),
        ];
        let (exports, warnings) = exports_opentelemetry(tracing_over(&disabled));
        assert!(!exports);
        assert_eq!(
            warnings,
            [
                "OTEL_SDK_DISABLED=true: the OpenTelemetry backends are off (otlp, xray-otlp); \
                 traces go to xray alone"
            ]
        );
        let (exports, warnings) = exports_opentelemetry(
            tracing_over(&[(trace_vars::OTEL_SDK_DISABLED, "TRUE")])
                .traces([TraceBackend::Otlp])
                .span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default()),
        );
        assert!(!exports);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("(otlp, 1 span exporter(s) given in code); no traces are sent"),
            "{warnings:#?}"
        );
        // Nothing to turn off: nothing to say.
        let (exports, warnings) =
            exports_opentelemetry(tracing_over(&[(trace_vars::OTEL_SDK_DISABLED, "true")]));
        assert!(!exports);
        assert_eq!(warnings, Vec::<String>::new());
        // Given in code, it wins over the variable, either way, and is no surprise.
        let (exports, warnings) =
            exports_opentelemetry(tracing_over(&disabled).otel_sdk_disabled(false));
        assert!(exports);
        assert_eq!(warnings, Vec::<String>::new());
        let (exports, warnings) = exports_opentelemetry(
            tracing_over(&[(trace_vars::TRACES, "otlp")]).otel_sdk_disabled(true),
        );
        assert!(!exports);
        assert_eq!(warnings, Vec::<String>::new());
        let (exports, warnings) = exports_opentelemetry(
            tracing_over(&[(trace_vars::OTEL_SDK_DISABLED, "yes")]).otel_sdk_disabled(false),
        );
        assert!(!exports);
        assert_eq!(
            warnings,
            Vec::<String>::new(),
            "the value given in code is used"
        );
    }

    /// `OTEL_TRACES_EXPORTER` chooses exporters as `LAMBDA_PERF_TRACES` does: backends given
    /// in code win over both, and what it cost is no longer warned about.
    #[test]
    fn backends_given_in_code_win_over_otel_traces_exporter() {
        let env = [
            (trace_vars::TRACES, "otlp"),
            (trace_vars::OTEL_TRACES_EXPORTER, "none"),
        ];
        let (exports, warnings) = exports_opentelemetry(tracing_over(&env));
        assert!(!exports);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("OTEL_TRACES_EXPORTER=\"none\""),
            "{warnings:#?}"
        );
        let (exports, warnings) =
            exports_opentelemetry(tracing_over(&env).traces([TraceBackend::Otlp]));
        assert!(exports);
        assert_eq!(warnings, Vec::<String>::new());
        // `none` speaks of the exporters lambda-perf configures, not of one given in code.
        let (exports, _) = exports_opentelemetry(
            tracing_over(&env)
                .span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default()),
        );
        assert!(exports);
    }

    /// With tracing off (`POWERTOOLS_TRACE_DISABLED`, or `trace_disabled` given in code),
    /// `OTEL_TRACES_EXPORTER=none` turns off nothing that was on: no warning says it did, nor
    /// that traces go to xray. What is wrong with its value is still said, and a
    /// `trace_disabled(false)` over the variable brings the warning back.
    #[test]
    fn otel_traces_exporter_none_is_not_warned_about_when_tracing_is_off() {
        let env = [
            (trace_vars::TRACES, "xray,otlp"),
            (trace_vars::OTEL_TRACES_EXPORTER, "none"),
        ];
        let off = [env[0], env[1], (vars::TRACE_DISABLED, "true")];
        let (exports, warnings) = exports_opentelemetry(tracing_over(&off));
        assert!(!exports);
        assert_eq!(warnings, Vec::<String>::new());
        let (_, warnings) = exports_opentelemetry(tracing_over(&env).trace_disabled(true));
        assert_eq!(warnings, Vec::<String>::new());
        let (_, warnings) = exports_opentelemetry(tracing_over(&off).trace_disabled(false));
        assert_eq!(
            warnings,
            [
                "OTEL_TRACES_EXPORTER=\"none\": the OpenTelemetry backends LAMBDA_PERF_TRACES \
                 names (otlp) are off; traces go to xray"
            ]
        );
        // A value it cannot use is a mistake whether tracing is on or off.
        let (_, warnings) = exports_opentelemetry(tracing_over(&[
            (trace_vars::TRACES, "otlp"),
            (trace_vars::OTEL_TRACES_EXPORTER, "zipkin"),
            (vars::TRACE_DISABLED, "true"),
        ]));
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("OTEL_TRACES_EXPORTER=\"zipkin\"")
                && warnings[0].ends_with("; treated as otlp"),
            "{warnings:#?}"
        );
    }

    /// `otlp` sends OTLP/HTTP protobuf only: an `OTEL_EXPORTER_OTLP_PROTOCOL` that asks for
    /// another protocol (gRPC, usually with an endpoint on port 4317) is not silently ignored.
    #[test]
    fn an_otlp_protocol_other_than_http_protobuf_is_warned_about() {
        let tracing = |pairs: &[(&str, &str)]| {
            let (_, _, warnings) = PerfLayerBuilder {
                setup: Setup::from_pairs(pairs),
            }
            .without_marker()
            .xray_daemon_address("127.0.0.1:2000")
            .setup
            .resolve_quietly();
            warnings
        };
        for (var, value) in [
            (trace_vars::OTLP_PROTOCOL, "grpc"),
            (trace_vars::OTLP_TRACES_PROTOCOL, "http/json"),
        ] {
            let warnings = tracing(&[
                (trace_vars::TRACES, "otlp"),
                (var, value),
                (vars::METRICS_NAMESPACE, "Shop"),
            ]);
            assert_eq!(warnings.len(), 1, "{warnings:#?}");
            assert!(
                warnings[0].starts_with(&format!("{var}={value:?}")),
                "{warnings:#?}"
            );
        }
        // Not chosen, or the protocol otlp sends: nothing to say.
        for pairs in [
            [
                (trace_vars::TRACES, "xray"),
                (trace_vars::OTLP_PROTOCOL, "grpc"),
            ],
            [
                (trace_vars::TRACES, "otlp"),
                (trace_vars::OTLP_PROTOCOL, "http/protobuf"),
            ],
        ] {
            let mut pairs = pairs.to_vec();
            pairs.push((vars::METRICS_NAMESPACE, "Shop"));
            assert_eq!(tracing(&pairs), Vec::<String>::new());
        }
    }
}
