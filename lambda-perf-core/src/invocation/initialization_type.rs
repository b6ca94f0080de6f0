//! `AWS_LAMBDA_INITIALIZATION_TYPE`: how Lambda initialized the execution environment.

use std::fmt;

/// How Lambda initialized the execution environment, from `AWS_LAMBDA_INITIALIZATION_TYPE`.
///
/// An unset variable counts as [`OnDemand`](Self::OnDemand), as in local runs and emulators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InitializationType {
    /// `on-demand`: initialized for the invocation that is waiting for it.
    #[default]
    OnDemand,
    /// `provisioned-concurrency`: initialized ahead of time.
    ProvisionedConcurrency,
    /// `snap-start`: restored from a snapshot.
    SnapStart,
    /// `lambda-managed-instances`: Lambda Managed Instances, initialized ahead of time.
    ManagedInstances,
}

impl InitializationType {
    /// Every value Lambda sets, in the order Lambda's documentation lists them.
    pub const ALL: [Self; 4] = [
        Self::OnDemand,
        Self::ProvisionedConcurrency,
        Self::SnapStart,
        Self::ManagedInstances,
    ];

    /// Parses the value of `AWS_LAMBDA_INITIALIZATION_TYPE`; `None` for an unknown value.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "on-demand" => Some(Self::OnDemand),
            "provisioned-concurrency" => Some(Self::ProvisionedConcurrency),
            "snap-start" => Some(Self::SnapStart),
            "lambda-managed-instances" => Some(Self::ManagedInstances),
            _ => None,
        }
    }

    /// The value as Lambda writes it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OnDemand => "on-demand",
            Self::ProvisionedConcurrency => "provisioned-concurrency",
            Self::SnapStart => "snap-start",
            Self::ManagedInstances => "lambda-managed-instances",
        }
    }
}

impl fmt::Display for InitializationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::InitializationType;

    #[test]
    fn parses_every_documented_value() {
        for kind in InitializationType::ALL {
            assert_eq!(InitializationType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(InitializationType::parse("warm-pool"), None);
    }
}
