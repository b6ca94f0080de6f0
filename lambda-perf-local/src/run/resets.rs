//! How a run goes on after the function fails as Lambda recovers from: [`Resets`], the
//! failures it went on after, and what the run does after an invocation.

use crate::run::EarlyStop;

/// The failures of the function after which Lambda resets its execution environment, and
/// the run starts its runtime again in the same environment for the next invocation: how
/// many, how many the runtime was started again after (all but one that came in the run's
/// last invocations), and the first (with its output).
///
/// One failure of the runtime is one, however many invocations were in flight in it (a
/// crash with two at once under `--concurrency`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resets {
    /// How many.
    pub count: usize,
    /// How many of them the runtime was started again after: `count`, or one less when the
    /// last came in the run's last invocations, with nothing left to run.
    pub restarted: usize,
    /// The first one.
    pub first: Option<EarlyStop>,
}

impl Resets {
    pub(crate) fn add(&mut self, failure: EarlyStop) {
        self.count += 1;
        self.first.get_or_insert(failure);
    }
}

/// What the run does after an invocation.
pub(crate) enum After {
    /// It goes on.
    Continue,
    /// The function failed in the invocation (it timed out, exited, or failed its init):
    /// Lambda resets the environment, and the next invocation starts the runtime again in
    /// the same environment, its `/tmp` kept.
    Reset(EarlyStop),
    /// The process, past its init, had exited (after answering its last invocation, or in
    /// another sent at the same time) without being handed this one: it never reached it.
    /// Lambda would start the runtime again for it: the harness sends it again, to a new
    /// process in the same environment.
    Resend(EarlyStop),
    /// The run cannot go on.
    Stop(EarlyStop),
}

impl After {
    /// What follows `stop`: a failure of the function Lambda recovers from by starting its
    /// runtime again, or one that ends the run (a runtime that never asks for work, the
    /// harness failing).
    pub(crate) fn from_failure(stop: EarlyStop) -> Self {
        match stop {
            EarlyStop::TimedOut { .. }
            | EarlyStop::TimedOutAfterAnswer { .. }
            | EarlyStop::Crashed { .. }
            | EarlyStop::ExitedDuringInit { .. }
            | EarlyStop::InitError { .. } => Self::Reset(stop),
            EarlyStop::ExitedBetweenInvocations { .. } => Self::Resend(stop),
            _ => Self::Stop(stop),
        }
    }
}
