//! The log settings validated and completed: what the log layer and its filter are built
//! from.

use crate::config::{ConfigError, LogSettings};
use crate::formats::log::directives::{TargetLevels, is_target};
use crate::formats::log::sampling::Sampling;
use crate::formats::log::{LogFormat, LogLevel};

/// What the log layer and its filter run with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ResolvedLogs {
    pub(crate) levels: TargetLevels,
    pub(crate) format: LogFormat,
    /// `None`: no invocation is sampled.
    pub(crate) sampling: Option<Sampling>,
    pub(crate) log_event: bool,
    /// JSON lines indented for reading.
    pub(crate) indented: bool,
}

impl ResolvedLogs {
    /// Checks what was given in code (the environment's values were checked when read) and
    /// applies the defaults: `INFO`, and a sampling seed from the operating system unless
    /// one is given.
    pub(crate) fn resolve(settings: LogSettings, seed: Option<u64>) -> Result<Self, ConfigError> {
        if let Some(rate) = settings.sample_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError {
                    setting: "log sample rate",
                    reason: format!("{rate} is not a share between 0 and 1"),
                });
            }
        }
        if let Some(bad) = settings.targets.iter().find(|d| !is_target(&d.target)) {
            return Err(ConfigError {
                setting: "log target",
                reason: format!("{:?} is not a module path", bad.target),
            });
        }
        let sampling = settings
            .sample_rate
            .filter(|&rate| rate > 0.0)
            .map(|rate| Sampling {
                rate,
                seed: seed.unwrap_or_else(|| getrandom::u64().unwrap_or(0x5eed)),
            });
        Ok(Self {
            levels: TargetLevels::new(
                settings.level.unwrap_or(Some(LogLevel::Info)),
                settings.targets,
            ),
            format: settings.format,
            sampling,
            log_event: settings.log_event,
            indented: settings.indented,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::log::directives::Directive;

    #[test]
    fn defaults_are_info_json_no_sampling() {
        let resolved = ResolvedLogs::resolve(LogSettings::default(), None).unwrap();
        assert_eq!(
            resolved.levels.level_for("orders", None),
            Some(LogLevel::Info)
        );
        assert_eq!(resolved.format, LogFormat::Json);
        assert_eq!(resolved.sampling, None);
        assert!(!resolved.log_event);
    }

    #[test]
    fn a_rate_samples_with_the_seed_given() {
        let settings = LogSettings {
            sample_rate: Some(0.5),
            ..LogSettings::default()
        };
        let resolved = ResolvedLogs::resolve(settings, Some(9)).unwrap();
        assert_eq!(resolved.sampling, Some(Sampling { rate: 0.5, seed: 9 }));
    }

    #[test]
    fn values_given_in_code_are_checked() {
        let rate = LogSettings {
            sample_rate: Some(2.0),
            ..LogSettings::default()
        };
        let error = ResolvedLogs::resolve(rate, None).unwrap_err();
        assert_eq!(error.setting, "log sample rate");
        let target = LogSettings {
            targets: vec![Directive {
                target: "not a target".into(),
                level: None,
            }],
            ..LogSettings::default()
        };
        let error = ResolvedLogs::resolve(target, None).unwrap_err();
        assert_eq!(error.setting, "log target");
    }
}
