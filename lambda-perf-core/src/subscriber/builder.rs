//! [`InitBuilder`]: the environment's log settings, each overridable in code, and the layers
//! built from them.

use std::io::Write;
use std::time::SystemTime;

use tracing::{Dispatch, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};

use super::error::InitError;
use super::xray_interest::XRayInterest;
use crate::config::{ConfigError, LogSettings, forget_warnings_about, log_vars};
use crate::formats::log::directives::{Directive, TARGET_DIRECTIVE};
use crate::formats::log::filter_name;
use crate::invocation::just_failed;
use crate::logs::{self, LogFilter, LogFormat, LogLayer, ResolvedLogs, filter_from_tracing};
use crate::outputs::line_writer::LineWriter;
use crate::setup::warn_once_per_process;
use crate::xray::XRayLayer;

/// How the warning about a level given in code that `AWS_LAMBDA_LOG_LEVEL` overrides begins.
const LAMBDA_LEVEL_WINS: &str =
    "AWS_LAMBDA_LOG_LEVEL takes precedence over the level given in code";

/// What [`init`](crate::init) installs, starting from the environment's settings (see
/// [`config`](crate::config) and [`logs`]); every setting can be overridden.
///
/// ```no_run
/// use lambda_perf_core::InitBuilder;
/// use lambda_perf_core::logs::LogFormat;
/// use tracing::Level;
///
/// InitBuilder::from_env()
///     .log_level(Level::DEBUG)
///     .target_level("aws_smithy_runtime", Level::INFO)
///     .log_format(LogFormat::Text)
///     .init()?;
/// # Ok::<(), lambda_perf_core::InitError>(())
/// ```
#[must_use = "a builder does nothing until init() or layer() is called"]
#[derive(Debug)]
pub struct InitBuilder {
    logs: LogSettings,
    /// Problems the environment had, already turned into defaults.
    env_warnings: Vec<String>,
    seed: Option<u64>,
    writer: LineWriter,
    /// `None`: no X-Ray layer.
    xray: Option<Level>,
    clock: fn() -> SystemTime,
}

impl InitBuilder {
    /// The environment's settings: level, format, sampling and event logging from the
    /// variables of [`logs`]; lines on stdout; the X-Ray layer at `INFO`.
    pub fn from_env() -> Self {
        let (logs, env_warnings) = LogSettings::from_env();
        Self {
            logs,
            env_warnings,
            seed: None,
            writer: LineWriter::Stdout,
            xray: Some(Level::INFO),
            clock: SystemTime::now,
        }
    }

    /// The level of every target not named otherwise (instead of `POWERTOOLS_LOG_LEVEL` and
    /// `RUST_LOG`'s bare level). `LevelFilter::OFF` writes no line.
    ///
    /// `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls), when it names a level,
    /// wins over this one, as in Powertools: Lambda drops the JSON lines below its level
    /// anyway. When the two differ, a warning says so.
    pub fn log_level(mut self, level: impl Into<LevelFilter>) -> Self {
        let level = filter_from_tracing(level.into());
        self.env_warnings
            .retain(|warning| !warning.starts_with(LAMBDA_LEVEL_WINS));
        match self.logs.lambda_level {
            Some(lambda) if lambda != level => self.env_warnings.push(format!(
                "{LAMBDA_LEVEL_WINS} ({}): logs are written at {}",
                filter_name(level),
                filter_name(lambda)
            )),
            Some(_) => {}
            None => {
                self.overridden(log_vars::LAMBDA_LOG_LEVEL);
                self.overridden(log_vars::POWERTOOLS_LOG_LEVEL);
                self.overridden(log_vars::LEGACY_LOG_LEVEL);
                self.logs.level = Some(level);
            }
        }
        self
    }

    /// The level of `target` and the modules under it, like `RUST_LOG=target=level`; also
    /// how to hear a transport crate (`hyper`, `h2`, …) below `WARN`.
    pub fn target_level(
        mut self,
        target: impl Into<String>,
        level: impl Into<LevelFilter>,
    ) -> Self {
        self.logs.targets.push(Directive {
            target: target.into(),
            level: filter_from_tracing(level.into()),
        });
        self
    }

    /// Drops the levels given for targets so far: `RUST_LOG`'s `target=level` directives and
    /// those of earlier [`target_level`](Self::target_level) calls. The targets they named are
    /// written at the default level (`RUST_LOG`'s bare level stays, unless
    /// [`log_level`](Self::log_level) gives another), but for those given after it; the
    /// transport crates stay at `WARN` unless named. The warnings about `RUST_LOG`'s
    /// `target=level` directives that were skipped go with them.
    ///
    /// ```no_run
    /// use lambda_perf_core::InitBuilder;
    /// use tracing::Level;
    ///
    /// // Whatever RUST_LOG says of targets: the SDK's requests at DEBUG, all else at INFO.
    /// InitBuilder::from_env()
    ///     .log_level(Level::INFO)
    ///     .clear_target_levels()
    ///     .target_level("aws_smithy_runtime", Level::DEBUG)
    ///     .init()?;
    /// # Ok::<(), lambda_perf_core::InitError>(())
    /// ```
    pub fn clear_target_levels(mut self) -> Self {
        // The directives it skipped, warned about, no longer matter.
        self.env_warnings
            .retain(|warning| !warning.starts_with(TARGET_DIRECTIVE));
        self.logs.targets.clear();
        self
    }

    /// JSON or text (`LAMBDA_PERF_LOG_FORMAT`; not Lambda's `AWS_LAMBDA_LOG_FORMAT`, see
    /// [`config`](crate::config)).
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.overridden(log_vars::LOG_FORMAT);
        self.logs.format = format;
        self
    }

    /// The share of invocations, between 0 and 1, whose `DEBUG` lines are written
    /// (`POWERTOOLS_LOGGER_SAMPLE_RATE`).
    pub fn log_sample_rate(mut self, rate: f64) -> Self {
        self.overridden(log_vars::SAMPLE_RATE);
        self.logs.sample_rate = Some(rate);
        self
    }

    /// Makes the sampling decision reproducible: the same seed samples the same request ids
    /// (by default the seed is drawn from the operating system at start).
    pub fn log_sampling_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether [`logs::log_event`] logs the incoming event (`POWERTOOLS_LOGGER_LOG_EVENT`,
    /// default off).
    pub fn log_event(mut self, enabled: bool) -> Self {
        self.overridden(log_vars::LOG_EVENT);
        self.logs.log_event = enabled;
        self
    }

    /// Whether JSON lines are indented for reading, four spaces a level, each member on a
    /// line of its own (default: as `POWERTOOLS_DEV` says, as in Powertools). For a
    /// developer's terminal: Lambda makes each line of output a log event of its own.
    pub fn log_indented(mut self, enabled: bool) -> Self {
        // What `POWERTOOLS_DEV` says of the log lines no longer applies (a `PerfLayer` warns
        // about it still, for the metrics it turns off).
        self.overridden(crate::config::vars::DEV);
        self.logs.indented = enabled;
        self
    }

    /// `var`'s value is given in code: the warning about the environment's value, which
    /// names what would have been used instead (or, for a level, which variable won), no
    /// longer applies.
    fn overridden(&mut self, var: &str) {
        forget_warnings_about(&mut self.env_warnings, var);
    }

    /// Writes log lines to `writer` instead of stdout (a test buffer, a pipeline). Each
    /// write is one complete line.
    pub fn log_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = LineWriter::custom(writer);
        self
    }

    /// Whether [`XRayLayer`] is installed too (default on: spans become subsegments of
    /// sampled invocations). Off, spans become no subsegments, and still carry their
    /// invocation to the work and the lines inside them.
    pub fn xray_layer(mut self, enabled: bool) -> Self {
        self.xray = enabled.then_some(Level::INFO);
        self
    }

    /// No settings from the environment: what tests start from, whatever variables the
    /// machine that runs them has.
    #[cfg(test)]
    pub(crate) fn without_env() -> Self {
        Self {
            logs: LogSettings::default(),
            env_warnings: Vec::new(),
            ..Self::from_env()
        }
    }

    /// Reads the time of each line from `clock` (fixed times for golden tests).
    #[cfg(test)]
    pub(crate) fn clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// lambda-perf's layers, each with its own filter, to add to a registry of your own —
    /// next to your own layers, which keep seeing every event and span they ask for (among
    /// them each invocation's own span, target `lambda_perf`, name `invocation`, at `INFO`,
    /// around the handler; a filter on that target leaves it out of yours):
    ///
    /// ```no_run
    /// use lambda_perf_core::InitBuilder;
    /// use tracing_subscriber::prelude::*;
    ///
    /// tracing_subscriber::registry()
    ///     .with(InitBuilder::from_env().layer()?)
    ///     // .with(your_layer)
    ///     .init();
    /// # Ok::<(), lambda_perf_core::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A setting given in code is invalid (a sample rate outside 0–1, a target that is no
    /// module path). The environment's own problems were turned into warnings and defaults;
    /// they are printed here, once per process.
    pub fn layer<S>(self) -> Result<impl Layer<S> + Send + Sync + 'static, ConfigError>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let resolved = ResolvedLogs::resolve(self.logs, self.seed)?;
        warn_once_per_process(&self.env_warnings);
        if resolved.log_event {
            logs::enable_event_logging();
        }
        let log_filter = LogFilter {
            levels: resolved.levels,
            sampling: resolved.sampling,
            log_event: resolved.log_event,
        };
        // The runtime's line about a failed handler is written once the handler's future has
        // completed: the failure holds its invocation for it, now that a layer reads it.
        just_failed::read_by_a_log_layer();
        let log_lines = LogLayer {
            format: resolved.format,
            indented: resolved.indented,
            sampling: resolved.sampling,
            writer: self.writer,
            clock: self.clock,
        }
        .with_filter(log_filter.clone());
        // One list, so that the registry asks every layer's filter what it wants: `and_then`
        // on a registry would take the outer layer's level for all.
        let mut layers = vec![log_lines.boxed()];
        let xray = match self.xray {
            Some(max_level) => XRayLayer::new().with_max_level(max_level),
            None => XRayLayer::carrying_only(),
        };
        layers.push(
            xray.with_filter(XRayInterest {
                max_level: self.xray,
                logs: log_filter,
            })
            .boxed(),
        );
        // Another layer joins here, in one line: `layers.push(next.boxed());`.
        Ok(layers)
    }

    /// Installs the layers as the process's global `tracing` subscriber.
    ///
    /// # Errors
    ///
    /// [`InitError::AlreadySet`] when a global subscriber was installed before (with the
    /// subscriber built here, handed back), [`InitError::Config`] for an invalid setting
    /// given in code. Never panics.
    pub fn init(self) -> Result<(), InitError> {
        let layers = self.layer::<Registry>()?;
        let subscriber = Dispatch::new(tracing_subscriber::registry().with(layers));
        tracing::dispatcher::set_global_default(subscriber.clone())
            .map_err(|_| InitError::AlreadySet { subscriber })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::log::LogLevel;

    /// A builder over `pairs` as the environment.
    fn builder(pairs: &[(&str, &str)]) -> InitBuilder {
        let env: std::collections::HashMap<&str, &str> = pairs.iter().copied().collect();
        let (logs, env_warnings) =
            LogSettings::from_lookup(|name| env.get(name).map(|value| (*value).to_owned()));
        InitBuilder {
            logs,
            env_warnings,
            ..InitBuilder::without_env()
        }
    }

    /// A value given in code makes the warning about its variable, which names what the
    /// lines would have been written with instead, wrong: it is not printed.
    #[test]
    fn a_value_given_in_code_silences_the_warning_about_its_variable() {
        let env = [
            (log_vars::LAMBDA_LOG_LEVEL, "LOUD"),
            (log_vars::POWERTOOLS_LOG_LEVEL, "LOUDER"),
            (log_vars::LOG_FORMAT, "yaml"),
            (log_vars::SAMPLE_RATE, "1.5"),
            (log_vars::LOG_EVENT, "perhaps"),
        ];
        assert_eq!(builder(&env).env_warnings.len(), 5);

        let given = builder(&env)
            .log_level(Level::DEBUG)
            .log_format(LogFormat::Text)
            .log_sample_rate(0.1)
            .log_event(true);
        assert_eq!(given.env_warnings, Vec::<String>::new());
        let powertools_only = [(log_vars::POWERTOOLS_LOG_LEVEL, "LOUD")];
        let given = builder(&powertools_only).log_level(Level::ERROR);
        assert_eq!(given.env_warnings, Vec::<String>::new());
        assert_eq!(given.logs.level, Some(Some(LogLevel::Error)));
    }

    /// `clear_target_levels` drops `RUST_LOG`'s `target=level` directives and those given
    /// before it, not its bare level: the targets given after it are the only ones named.
    #[test]
    fn cleared_target_levels_leave_only_those_given_after() {
        let env = [(log_vars::RUST_LOG, "warn,orders=debug,payments=trace")];
        let given = builder(&env)
            .target_level("audit", Level::ERROR)
            .clear_target_levels()
            .target_level("payments", Level::INFO);
        assert_eq!(
            given.logs.targets,
            [Directive {
                target: "payments".to_owned(),
                level: Some(LogLevel::Info),
            }]
        );
        assert_eq!(given.logs.level, Some(Some(LogLevel::Warn)));
    }

    /// The warnings about `RUST_LOG`'s `target=level` directives that were skipped no longer
    /// matter once `clear_target_levels` drops them all; those about a bare directive, which
    /// may have meant the level that stays, are still printed.
    #[test]
    fn cleared_target_levels_silence_the_warnings_about_skipped_target_directives() {
        let env = [(
            log_vars::RUST_LOG,
            "warn,orders=loud,=debug,payments[span]=debug,lo!ud",
        )];
        assert_eq!(builder(&env).env_warnings.len(), 4);
        let given = builder(&env).clear_target_levels();
        assert_eq!(given.env_warnings.len(), 1, "{:#?}", given.env_warnings);
        assert!(
            given.env_warnings[0].contains("\"lo!ud\""),
            "{:#?}",
            given.env_warnings
        );
    }

    /// Indentation given in code: the warning about `POWERTOOLS_DEV`, whose value the log
    /// lines no longer read, is not printed by the log layers.
    #[test]
    fn indentation_given_in_code_silences_the_warning_about_powertools_dev() {
        for value in ["", "sometimes"] {
            let env = [("POWERTOOLS_DEV", value)];
            assert_eq!(builder(&env).env_warnings.len(), 1);
            let given = builder(&env).log_indented(true);
            assert_eq!(given.env_warnings, Vec::<String>::new());
            assert!(given.logs.indented);
        }
    }

    /// As in Powertools, Lambda's advanced logging controls win over a level given in code,
    /// with a warning when the two differ (Lambda drops JSON lines below its own level).
    #[test]
    fn the_lambda_level_wins_over_a_level_given_in_code() {
        let env = [
            (log_vars::LAMBDA_LOG_LEVEL, "WARN"),
            (log_vars::POWERTOOLS_LOG_LEVEL, "DEBUG"),
        ];
        let given = builder(&env)
            .log_level(Level::DEBUG)
            .log_level(Level::ERROR);
        assert_eq!(given.logs.level, Some(Some(LogLevel::Warn)));
        assert_eq!(
            given.env_warnings,
            [
                "AWS_LAMBDA_LOG_LEVEL takes precedence over POWERTOOLS_LOG_LEVEL: logs are \
                 written at WARN",
                "AWS_LAMBDA_LOG_LEVEL takes precedence over the level given in code (ERROR): \
                 logs are written at WARN",
            ]
        );
        let same = builder(&env).log_level(Level::WARN);
        assert_eq!(same.logs.level, Some(Some(LogLevel::Warn)));
        assert_eq!(same.env_warnings.len(), 1, "{:?}", same.env_warnings);
        let off = builder(&[(log_vars::LAMBDA_LOG_LEVEL, "OFF")]).log_level(Level::INFO);
        assert_eq!(off.logs.level, Some(None));
        assert!(off.env_warnings[0].ends_with("(INFO): logs are written at OFF"));
    }
}
