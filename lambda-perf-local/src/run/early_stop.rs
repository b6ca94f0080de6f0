//! [`EarlyStop`]: how the function failed in a run, or why the run stopped before the end of
//! its plan.

use std::fmt;

use crate::emulator::NotLaunchable;
use crate::report::format::printable;
use crate::run::several_at_once::OneAtATime;

/// How the function failed in a run (it exited, never asked for work, timed out or failed its
/// init), or, rarely, the harness did. A timeout, a runtime that exited or an init error is
/// one the run goes on after, as Lambda does, by starting the runtime again
/// ([`RunResult::resets`](crate::run::RunResult::resets)); any other stops the run before the
/// end of its plan ([`RunResult::early_stop`](crate::run::RunResult::early_stop)).
/// `lambda-perf` then exits non-zero.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EarlyStop {
    /// The process exited before asking for its first invocation.
    ExitedDuringInit {
        /// How it ended.
        status: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// The function reported an init error (`/runtime/init/error`).
    InitError {
        /// The error, as reported.
        error: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// The process is running but never asked for an invocation (`GET /next`).
    NeverAskedForWork {
        /// How long the harness waited.
        waited_secs: f64,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// The process exited during an invocation.
    Crashed {
        /// How it ended.
        status: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// The process, past its init, exited without being handed the invocation that found it
    /// gone: after answering its invocations, or in another invocation sent at the same time.
    ExitedBetweenInvocations {
        /// How it ended.
        status: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// The process answered its invocations, then, still running, did not ask for the next
    /// one: the invocation waiting for it was never handed to it.
    NeverAskedAgain {
        /// The invocation never handed out.
        request_id: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// An invocation got no answer before its deadline.
    TimedOut {
        /// The invocation.
        request_id: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// An invocation was answered, but its runtime did not ask for its next event before the
    /// invocation's deadline: on Lambda the invocation lasts until that request, so what the
    /// runtime did after its answer ran it past its timeout.
    TimedOutAfterAnswer {
        /// The invocation.
        request_id: String,
        /// Its last output lines.
        last_lines: Vec<String>,
    },
    /// The function's program could not be started (a binary for another architecture, a
    /// file that is no program…): the error names the program as given.
    CannotStart(NotLaunchable),
    /// The harness itself failed (a port, a cgroup).
    Harness(String),
    /// The configuration lets one process take several invocations at once under an
    /// initialization type whose environments take one at a time: nothing was run.
    OneAtATime(OneAtATime),
}

impl EarlyStop {
    /// The function's last output lines, if any.
    pub fn last_lines(&self) -> &[String] {
        match self {
            Self::ExitedDuringInit { last_lines, .. }
            | Self::InitError { last_lines, .. }
            | Self::NeverAskedForWork { last_lines, .. }
            | Self::Crashed { last_lines, .. }
            | Self::ExitedBetweenInvocations { last_lines, .. }
            | Self::NeverAskedAgain { last_lines, .. }
            | Self::TimedOut { last_lines, .. }
            | Self::TimedOutAfterAnswer { last_lines, .. } => last_lines,
            Self::CannotStart(_) | Self::Harness(_) | Self::OneAtATime(_) => &[],
        }
    }
}

impl fmt::Display for EarlyStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExitedDuringInit { status, .. } => write!(
                f,
                "the function exited during init ({status}) before asking for an invocation"
            ),
            Self::InitError { error, .. } => {
                let error = printable(error, &[]);
                write!(f, "the function reported an init error: {error}")
            }
            Self::NeverAskedForWork { waited_secs, .. } => write!(
                f,
                "the function never asked for an invocation (GET /2018-06-01/runtime/invocation/next) \
                 within {waited_secs:.1} s: is it a Lambda function built with a Lambda runtime?"
            ),
            Self::Crashed { status, .. } => {
                write!(f, "the function exited during an invocation ({status})")
            }
            Self::ExitedBetweenInvocations { status, .. } => write!(
                f,
                "the function exited between invocations ({status}): it answered its \
                 invocation, then exited instead of asking for the next one"
            ),
            Self::NeverAskedAgain { request_id, .. } => write!(
                f,
                "the function answered its invocation, then never asked for the next one \
                 (GET /2018-06-01/runtime/invocation/next): invocation {request_id} was never \
                 handed to it"
            ),
            Self::TimedOut { request_id, .. } => {
                write!(
                    f,
                    "invocation {request_id} timed out: no response before its deadline"
                )
            }
            Self::TimedOutAfterAnswer { request_id, .. } => write!(
                f,
                "invocation {request_id} timed out: the function answered it, but did not ask \
                 for its next event (GET /2018-06-01/runtime/invocation/next) before its \
                 deadline"
            ),
            Self::CannotStart(reason) => write!(f, "{reason}"),
            Self::Harness(message) => write!(f, "the harness failed: {message}"),
            Self::OneAtATime(refused) => write!(f, "{refused}"),
        }?;
        let lines = self.last_lines();
        if !lines.is_empty() {
            write!(f, "\nlast output lines:")?;
            // What the function wrote reaches the terminal as text, never as its control
            // sequences (an escape could clear the screen of whoever reads the error).
            for line in lines {
                write!(f, "\n  {}", printable(line, &[]))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_control_characters_are_written_out() {
        let stop = EarlyStop::InitError {
            error: "no \u{1b}[2J config".into(),
            last_lines: vec!["\u{1b}]0;owned\u{7} title".into()],
        };
        let said = stop.to_string();
        assert!(
            !said.contains('\u{1b}') && !said.contains('\u{7}'),
            "{said:?}"
        );
        assert!(said.contains("no \\u{1b}[2J config"), "{said:?}");
        assert!(said.contains("\n  \\u{1b}]0;owned\\u{7} title"), "{said:?}");
    }
}
