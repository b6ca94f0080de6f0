//! How an invocation started.

use std::fmt;

/// How an invocation started, as classified by [`PerfLayer`](crate::PerfLayer).
///
/// | kind | when | `ColdStart` |
/// |---|---|---|
/// | [`Cold`](StartKind::Cold) | first invocation of the process in a new execution environment | yes |
/// | [`Restart`](StartKind::Restart) | first invocation of a process that restarted in a reused environment (crash, OOM, init retry): a partial cold start | yes |
/// | [`Warm`](StartKind::Warm) | any later invocation of the process | no |
/// | [`Prewarmed`](StartKind::Prewarmed) | first invocation when `AWS_LAMBDA_INITIALIZATION_TYPE` is `provisioned-concurrency` or `lambda-managed-instances` | no |
/// | [`Restored`](StartKind::Restored) | first invocation when it is `snap-start` | no |
///
/// A new environment is told from a reused one by a marker file in [`std::env::temp_dir`]
/// (Lambda's `/tmp`; `/tmp` also when `TMPDIR` is set but empty), which outlives the runtime
/// process but not the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartKind {
    /// The first invocation in a new execution environment.
    Cold,
    /// The first invocation after the runtime process restarted in a reused environment.
    Restart,
    /// A later invocation of a process that already served one.
    Warm,
    /// The first invocation of an environment initialized ahead of time (provisioned
    /// concurrency, Lambda Managed Instances).
    Prewarmed,
    /// The first invocation of an environment restored from a SnapStart snapshot.
    Restored,
}

impl StartKind {
    /// Every kind, in the order of the table above.
    pub const ALL: [Self; 5] = [
        Self::Cold,
        Self::Restart,
        Self::Warm,
        Self::Prewarmed,
        Self::Restored,
    ];

    /// The lowercase name used in metrics, traces and logs (`cold`, `restart`, `warm`,
    /// `prewarmed`, `restored`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cold => "cold",
            Self::Restart => "restart",
            Self::Warm => "warm",
            Self::Prewarmed => "prewarmed",
            Self::Restored => "restored",
        }
    }

    /// Whether the caller waited for initialization: `true` for [`Cold`](Self::Cold) and
    /// [`Restart`](Self::Restart). This is what the `ColdStart` metric and annotation report.
    #[must_use]
    pub const fn is_cold_start(self) -> bool {
        matches!(self, Self::Cold | Self::Restart)
    }
}

impl serde::Serialize for StartKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for StartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::StartKind;

    #[test]
    fn only_cold_and_restart_are_cold_starts() {
        let cold: Vec<_> = StartKind::ALL
            .into_iter()
            .filter(|kind| kind.is_cold_start())
            .map(StartKind::as_str)
            .collect();
        assert_eq!(cold, ["cold", "restart"]);
    }

    #[test]
    fn every_kind_is_listed_once() {
        let names: Vec<_> = StartKind::ALL.into_iter().map(StartKind::as_str).collect();
        assert_eq!(names, ["cold", "restart", "warm", "prewarmed", "restored"]);
    }
}
