//! [`HarnessStop`]: a function process the harness stopped itself, which is no crash.

use serde::{Deserialize, Serialize};

/// Why the harness stopped a function process. Its exit status (`signal: 9 (SIGKILL)`) is
/// then the harness's doing, and the report says so instead of showing it as a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HarnessStop {
    /// To start the next process in the same environment (a restart: a partial cold start).
    Restart,
    /// To start the next process in a fresh environment (a full cold start).
    FreshEnvironment,
    /// After an invocation it was in failed (it timed out, or the function reported an init
    /// error): Lambda resets the environment then, and the next invocation starts the
    /// runtime again in the same environment.
    Reset,
    /// At the end of the run.
    EndOfRun,
}

impl HarnessStop {
    /// How the report says it: `stopped by the harness for a restart (same environment)`, …
    pub fn describe(self) -> &'static str {
        match self {
            Self::Restart => "stopped by the harness for a restart (same environment)",
            Self::FreshEnvironment => "stopped by the harness for a fresh environment",
            Self::Reset => {
                "stopped by the harness after a failed invocation, as Lambda resets the \
                 environment (same environment)"
            }
            Self::EndOfRun => "stopped by the harness at the end of the run",
        }
    }
}
