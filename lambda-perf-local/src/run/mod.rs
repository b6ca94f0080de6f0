//! Running a function the way Lambda would: a [`Plan`] of invocations, restarts and fresh
//! environments, carried out by [`execute`] into a [`RunRecord`](crate::report::RunRecord)
//! for the report.

mod execute;
mod fatal;
mod plan;

pub use self::execute::{RunResult, Runner, execute};
pub use self::fatal::Fatal;
pub use self::plan::{Plan, RunOptions, Step};
