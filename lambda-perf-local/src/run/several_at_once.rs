//! [`OneAtATime`]: one process taking several invocations at once is what Lambda Managed
//! Instances do, and only they.

use std::fmt;

use lambda_perf_core::InitializationType;

use crate::emulator::FunctionConfig;

/// A configuration that lets one process take several invocations at once
/// (`AWS_LAMBDA_MAX_CONCURRENCY` above 1) under an initialization type whose execution
/// environments take one invocation at a time (`on-demand`, `provisioned-concurrency`,
/// `snap-start`): no Lambda function runs so, so a run refuses it rather than report and bill
/// it as one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneAtATime {
    /// The initialization type the configuration sets.
    pub initialization_type: String,
    /// Its `AWS_LAMBDA_MAX_CONCURRENCY`.
    pub max_concurrency: u32,
}

impl fmt::Display for OneAtATime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} runs one invocation per execution environment at a time, while \
             AWS_LAMBDA_MAX_CONCURRENCY={} sends several at once to one process, as only \
             Lambda Managed Instances do ({})",
            self.initialization_type,
            self.max_concurrency,
            InitializationType::ManagedInstances.as_str()
        )
    }
}

impl std::error::Error for OneAtATime {}

/// `config` as Lambda would run it: with `AWS_LAMBDA_MAX_CONCURRENCY` above 1 and no
/// initialization type, a Managed Instances function (`lambda-managed-instances`: initialized
/// ahead, so no cold start, and billed by its requests); with another type, refused.
///
/// ```
/// use lambda_perf_local::emulator::FunctionConfig;
/// use lambda_perf_local::run::several_at_once;
///
/// let config = several_at_once(FunctionConfig::new().with_max_concurrency(4)).unwrap();
/// assert_eq!(config.initialization_type(), Some("lambda-managed-instances"));
///
/// let on_demand = FunctionConfig::new()
///     .with_max_concurrency(4)
///     .with_initialization_type("on-demand");
/// assert!(several_at_once(on_demand).is_err());
/// ```
pub fn several_at_once(config: FunctionConfig) -> Result<FunctionConfig, OneAtATime> {
    let managed_instances = InitializationType::ManagedInstances.as_str();
    let max_concurrency = match config.max_concurrency() {
        Some(max) if max > 1 => max,
        _ => return Ok(config),
    };
    match config.initialization_type() {
        None => Ok(config.with_initialization_type(managed_instances)),
        Some(kind) if kind == managed_instances => Ok(config),
        Some(kind) => Err(OneAtATime {
            initialization_type: kind.to_owned(),
            max_concurrency,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_invocation_at_a_time_leaves_the_type_as_it_is() {
        for config in [
            FunctionConfig::new(),
            FunctionConfig::new().with_max_concurrency(1),
            FunctionConfig::new()
                .with_max_concurrency(1)
                .with_initialization_type("snap-start"),
        ] {
            assert_eq!(several_at_once(config.clone()), Ok(config));
        }
    }

    #[test]
    fn several_at_once_is_managed_instances_or_refused() {
        let several = FunctionConfig::new().with_max_concurrency(8);
        let managed = several_at_once(several.clone()).unwrap();
        assert_eq!(
            managed.initialization_type(),
            Some("lambda-managed-instances")
        );
        assert_eq!(several_at_once(managed.clone()), Ok(managed));
        for kind in ["on-demand", "provisioned-concurrency", "snap-start"] {
            let refused = several_at_once(several.clone().with_initialization_type(kind));
            let error = refused.unwrap_err();
            assert_eq!(error.initialization_type, kind);
            assert!(
                error.to_string().starts_with(&format!(
                    "{kind} runs one invocation per execution environment at a time, while \
                     AWS_LAMBDA_MAX_CONCURRENCY=8"
                )),
                "{error}"
            );
        }
    }
}
