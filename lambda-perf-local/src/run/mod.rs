//! Running a function the way Lambda would: a [`Plan`] of invocations, restarts and fresh
//! environments, carried out by [`execute()`] into a [`RunRecord`](crate::report::RunRecord)
//! for the report, and [`lambda_log()`] to write it as Lambda would log it. When the function
//! fails so that the run cannot go on, the run stops early and
//! [`RunResult::early_stop`] says why ([`EarlyStop`]).

mod early_stop;
mod execute;
mod lambda_log;
mod plan;

pub use self::early_stop::EarlyStop;
pub use self::execute::{RunResult, Runner, execute};
pub use self::lambda_log::lambda_log;
pub use self::plan::{Plan, RunOptions, Step};
