//! Running a function the way Lambda would: a [`Plan`] of invocations, restarts and fresh
//! environments, carried out by [`execute()`] into a [`RunRecord`](crate::report::RunRecord)
//! for the report, and [`lambda_log()`] to write it as Lambda would log it. When an invocation
//! times out, or the function exits or fails its init, the run starts its runtime again in the
//! same environment before the next invocation, as Lambda does, and goes on
//! ([`RunResult::resets`]). When the function fails so that the run cannot go on (it never
//! asks for work), the run stops early and [`RunResult::early_stop`] says why
//! ([`EarlyStop`]).

mod early_stop;
mod execute;
mod lambda_log;
mod plan;
mod resets;
mod several_at_once;

pub use self::early_stop::EarlyStop;
pub use self::execute::{RunResult, Runner, execute};
pub use self::lambda_log::{UNMEASURED_MAX_MEMORY_MB, lambda_log, unmeasured_max_memory};
pub use self::plan::{Plan, RunOptions, Step};
pub use self::resets::Resets;
pub use self::several_at_once::{OneAtATime, several_at_once};
