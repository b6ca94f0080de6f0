//! Which levels are written for which targets: one default level, levels for named targets
//! (`RUST_LOG`'s `target=level`), and the transport crates kept at `WARN` unless named.
//!
//! `RUST_LOG` is read in its common forms, without pulling a regex engine in:
//!
//! | directive | means |
//! |---|---|
//! | `debug` | the default level (when neither `AWS_LAMBDA_LOG_LEVEL` nor `POWERTOOLS_LOG_LEVEL` is set) |
//! | `my_crate=debug`, `my_crate::db=trace` | that target and the modules under it |
//! | `my_crate` | that target, every level |
//! | `hyper=off` | nothing from that target |
//!
//! Directives are separated by commas; the longest matching target wins. A target matches
//! itself and the modules under it (`my_crate` matches `my_crate::db`, not `my_crate_extra`).
//! Span and field filters (`[span{field=value}]`) and regular expressions are not supported:
//! such a directive is skipped with a warning.

use super::{LevelFilter, LogLevel};

/// Crates whose `INFO` and more verbose lines are internals a function's logs do without:
/// written at `WARN` and above unless a directive names them. A trailing `_` names every
/// crate with that prefix.
pub(crate) const QUIET_CRATES: [&str; 16] = [
    "hyper",
    "hyper_util",
    "h2",
    "http_body_util",
    "tower",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "tokio",
    "tokio_util",
    "mio",
    "want",
    "rustls",
    "reqwest",
    "aws_smithy_",
    "aws_config",
];

/// The level every quiet crate is held to.
const QUIET_LEVEL: LogLevel = LogLevel::Warn;

/// How the warning about a skipped `target=level` directive of `RUST_LOG` begins (those
/// directives are all dropped by `InitBuilder::clear_target_levels`, and their warnings with
/// them).
pub(crate) const TARGET_DIRECTIVE: &str = "RUST_LOG target directive";

/// One `target=level`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) target: String,
    pub(crate) level: LevelFilter,
}

/// What `RUST_LOG` says: a default level, if it gives one, and levels of named targets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    pub(crate) default: Option<LevelFilter>,
    pub(crate) targets: Vec<Directive>,
}

impl Directives {
    /// Parses `RUST_LOG`; what cannot be used is returned as warnings.
    pub(crate) fn parse(text: &str) -> (Self, Vec<String>) {
        let mut directives = Self::default();
        let mut warnings = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            // A directive that names a level for targets (`…=level`) is one of theirs.
            let kind = if part.contains('=') {
                TARGET_DIRECTIVE
            } else {
                "RUST_LOG directive"
            };
            if part.contains(['[', ']', '{', '}', '*', '(', ')', '|', '^', '$']) {
                warnings.push(format!(
                    "{kind} {part:?}: span, field and pattern filters are not supported; skipped"
                ));
                continue;
            }
            match part.split_once('=') {
                None => match LogLevel::parse_filter(part) {
                    Some(level) => directives.default = Some(level),
                    None if is_target(part) => directives.targets.push(Directive {
                        target: part.to_owned(),
                        level: Some(LogLevel::Trace),
                    }),
                    None => warnings.push(format!(
                        "RUST_LOG directive {part:?} is neither a level nor a target; skipped"
                    )),
                },
                Some((target, level)) => {
                    let target = target.trim();
                    match (is_target(target), LogLevel::parse_filter(level)) {
                        (true, Some(level)) => directives.targets.push(Directive {
                            target: target.to_owned(),
                            level,
                        }),
                        _ => warnings.push(format!(
                            "{TARGET_DIRECTIVE} {part:?} is not target=level; skipped"
                        )),
                    }
                }
            }
        }
        (directives, warnings)
    }
}

/// A module path: identifiers separated by `::`.
pub(crate) fn is_target(text: &str) -> bool {
    !text.is_empty()
        && text.split("::").all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        })
}

/// The level of every target: resolved once, asked for every event.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TargetLevels {
    default: LevelFilter,
    /// Longest target first, so the first match is the most specific.
    targets: Vec<Directive>,
}

impl TargetLevels {
    /// `default` for every target but `targets` and the quiet crates.
    pub(crate) fn new(default: LevelFilter, mut targets: Vec<Directive>) -> Self {
        // A target named twice: the later directive wins, as in RUST_LOG.
        let mut unique: Vec<Directive> = Vec::with_capacity(targets.len());
        for directive in targets.drain(..).rev() {
            if !unique.iter().any(|d| d.target == directive.target) {
                unique.push(directive);
            }
        }
        unique.sort_by_key(|directive| std::cmp::Reverse(directive.target.len()));
        Self {
            default,
            targets: unique,
        }
    }

    /// The most verbose level written for `target`; `boosted` is the level an invocation
    /// sampled for debugging raises the default to (targets named by a directive and the
    /// quiet crates keep theirs, and a default of `off` stays off).
    pub(crate) fn level_for(&self, target: &str, boosted: Option<LogLevel>) -> LevelFilter {
        if let Some(directive) = self.targets.iter().find(|d| covers(&d.target, target)) {
            return directive.level;
        }
        if is_quiet(target) {
            return self.default.min(Some(QUIET_LEVEL));
        }
        self.boosted_default(boosted)
    }

    /// The most verbose level any target is written at.
    pub(crate) fn most_verbose(&self, boosted: Option<LogLevel>) -> LevelFilter {
        self.targets
            .iter()
            .map(|d| d.level)
            .fold(self.boosted_default(boosted), Ord::max)
    }

    /// The default level, raised to `boosted` in a sampled invocation; `off` is not raised:
    /// it writes no line, sampled or not.
    fn boosted_default(&self, boosted: Option<LogLevel>) -> LevelFilter {
        self.default
            .map(|level| level.max(boosted.unwrap_or(level)))
    }
}

/// Whether directive target `directive` covers event target `target`.
fn covers(directive: &str, target: &str) -> bool {
    target
        .strip_prefix(directive)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

fn is_quiet(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    QUIET_CRATES
        .iter()
        .any(|quiet| match quiet.strip_suffix('_') {
            Some(prefix) => krate.starts_with(prefix) && krate.len() > prefix.len(),
            None => krate == *quiet,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: LevelFilter = Some(LogLevel::Info);
    const DEBUG: LevelFilter = Some(LogLevel::Debug);
    const WARN: LevelFilter = Some(LogLevel::Warn);
    const TRACE: LevelFilter = Some(LogLevel::Trace);

    #[test]
    fn rust_log_common_forms() {
        let (directives, warnings) =
            Directives::parse("info, orders::db=trace,hyper=debug ,noisy=off,my_crate");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(directives.default, Some(INFO));
        assert_eq!(
            directives.targets,
            [
                Directive {
                    target: "orders::db".into(),
                    level: TRACE
                },
                Directive {
                    target: "hyper".into(),
                    level: DEBUG
                },
                Directive {
                    target: "noisy".into(),
                    level: None
                },
                Directive {
                    target: "my_crate".into(),
                    level: TRACE
                },
            ]
        );
    }

    #[test]
    fn unsupported_directives_warn_and_are_skipped() {
        let (directives, warnings) =
            Directives::parse("warn,[span{id=1}]=debug,a=loud,=info,orders=debug,bad target");
        assert_eq!(directives.default, Some(WARN));
        assert_eq!(directives.targets.len(), 1);
        assert_eq!(warnings.len(), 4, "{warnings:#?}");
        assert!(warnings[0].contains("not supported"));
    }

    #[test]
    fn the_longest_target_wins_at_module_boundaries() {
        let (directives, _) = Directives::parse("orders=debug,orders::db=error");
        let levels = TargetLevels::new(INFO, directives.targets);
        assert_eq!(levels.level_for("orders", None), DEBUG);
        assert_eq!(levels.level_for("orders::api", None), DEBUG);
        assert_eq!(
            levels.level_for("orders::db::pool", None),
            Some(LogLevel::Error)
        );
        assert_eq!(levels.level_for("orders_extra", None), INFO);
        assert_eq!(levels.most_verbose(None), DEBUG);
    }

    #[test]
    fn quiet_crates_stay_at_warn_unless_named() {
        let levels = TargetLevels::new(TRACE, Vec::new());
        assert_eq!(levels.level_for("hyper::proto::h1", None), WARN);
        assert_eq!(
            levels.level_for("lambda_runtime::layers::trace", None),
            WARN
        );
        assert_eq!(levels.level_for("aws_smithy_runtime::client", None), WARN);
        assert_eq!(levels.level_for("hyperactive", None), TRACE);
        assert_eq!(levels.level_for("orders", None), TRACE);
        let quiet_default = TargetLevels::new(Some(LogLevel::Error), Vec::new());
        assert_eq!(quiet_default.level_for("h2", None), Some(LogLevel::Error));
        let (named, _) = Directives::parse("hyper=debug");
        let levels = TargetLevels::new(INFO, named.targets);
        assert_eq!(levels.level_for("hyper::client", None), DEBUG);
        assert_eq!(levels.level_for("hyper_util::client", None), WARN);
    }

    #[test]
    fn a_sampled_invocation_raises_the_default_only() {
        let (directives, _) = Directives::parse("orders::db=warn");
        let levels = TargetLevels::new(INFO, directives.targets);
        assert_eq!(levels.level_for("orders", Some(LogLevel::Debug)), DEBUG);
        assert_eq!(levels.level_for("orders::db", Some(LogLevel::Debug)), WARN);
        assert_eq!(levels.level_for("h2::codec", Some(LogLevel::Debug)), WARN);
        assert_eq!(levels.most_verbose(Some(LogLevel::Debug)), DEBUG);
        let verbose = TargetLevels::new(TRACE, Vec::new());
        assert_eq!(verbose.level_for("orders", Some(LogLevel::Debug)), TRACE);
        let off = TargetLevels::new(None, Vec::new());
        assert_eq!(off.level_for("orders", Some(LogLevel::Debug)), None);
        assert_eq!(off.most_verbose(Some(LogLevel::Debug)), None);
    }

    #[test]
    fn a_target_named_twice_takes_the_later_level() {
        let (directives, _) = Directives::parse("orders=debug,orders=error");
        let levels = TargetLevels::new(INFO, directives.targets);
        assert_eq!(levels.level_for("orders", None), Some(LogLevel::Error));
    }
}
