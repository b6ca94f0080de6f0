//! How an invocation ended: the one type every record of the ending is made from.

use crate::formats::failure::Failure;

/// How an invocation ended, with what its records keep of it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// The handler returned `Ok`; the response as JSON text (what `serde_json` writes) when
    /// it is captured. Written while a runtime-level window was open, it is not checked yet
    /// and ends with a mark until the ending's writes check it
    /// (`response_check::keep_if_json`): only they read it.
    Success(Option<Vec<u8>>),
    /// The handler returned `Err`; the error when it is described (recorded invocations).
    Error(Option<Failure>),
    /// The handler panicked.
    Panic(Failure),
    /// The invocation's future was dropped before it finished.
    Cancelled,
    /// Still running a margin before its deadline: what the watchdog writes.
    Timeout,
}

impl Outcome {
    /// The name records use: `success`, `error`, `panic`, `cancelled`, `timeout`.
    pub(crate) const fn as_str(&self) -> &'static str {
        match self {
            Self::Success(_) => "success",
            Self::Error(_) => "error",
            Self::Panic(_) => "panic",
            Self::Cancelled => "cancelled",
            Self::Timeout => "timeout",
        }
    }

    /// The error or panic, when one is described.
    pub(crate) fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Error(failure) => failure.as_ref(),
            Self::Panic(failure) => Some(failure),
            Self::Success(_) | Self::Cancelled | Self::Timeout => None,
        }
    }
}
