//! Running a function the way Lambda would: a [`Plan`] of invocations, restarts and fresh
//! environments, carried out by [`execute`] into a [`RunRecord`](crate::report::RunRecord)
//! for the report, and [`lambda_log`] to write it as Lambda would log it.

mod execute;
mod fatal;
mod log_out;
mod plan;

pub use self::execute::{RunResult, Runner, execute};
pub use self::fatal::Fatal;
pub use self::log_out::lambda_log;
pub use self::plan::{Plan, RunOptions, Step};
