//! Run an AWS Lambda function locally, as Lambda would, and report what it did: the library
//! behind the `lambda-perf` command.
//!
//! | module | what it is |
//! |---|---|
//! | [`emulator`] | the local Lambda: the Runtime API server, the execution environment, the function process and its output, the X-Ray daemon stand-in, the trace header |
//! | [`run`] | a [`Plan`](run::Plan) of invocations, idle gaps, restarts and fresh environments, carried out on the emulator into a [`RunRecord`](report::RunRecord); the run written as Lambda would log it |
//! | [`report`] | what a run recorded, and the report built from it: per invocation, per process, metrics, summary, problems; for the terminal, as JSON and as HTML |
//! | [`sizing`] | a Lambda memory size imposed on the function with cgroups (`--memory`) |
//! | [`pricing`] | Lambda's prices, and how it bills a duration |
//! | [`tune`] | `lambda-perf tune`: AWS Lambda Power Tuning, locally |
//! | [`logs`] | `lambda-perf logs`: the Logs Insights questions about cold starts, from exported CloudWatch Logs |
//!
//! Imports point one way: `tune` → `run` → `report` → `emulator` → `sizing`. Beside that
//! chain, `run` uses the log timestamps of `logs`, `logs` the percentiles and renderers of
//! `report`, and what prices uses `pricing`. `sizing` and `pricing` use nothing else of the
//! crate.
//!
//! # One invocation, a name at each step
//!
//! | type | what it is |
//! |---|---|
//! | [`emulator::InvokeRequest`] | what you send: the event, and the headers `/next` hands the function with it |
//! | [`emulator::InvokeReply`] | what came back from `invoke`: when it was queued, handed out and answered, and the function's [`Answer`](emulator::Answer) (a response, an invocation error or an init error) |
//! | [`emulator::LoggedInvocation`] | what the Runtime API logged of it, at its [`Stage`](emulator::Stage) (queued, in flight, resolved, timed out…) |
//! | [`report::RecordedInvocation`] | what a run recorded of it: where it was sent, and its [`RecordedReply`](report::RecordedReply) (a response's length, not its body) or why it got none |
//! | [`report::ReportedInvocation`] | what the report shows of it: status, start kind, durations, subsegments |
//!
//! # Errors
//!
//! - [`emulator::HarnessError`]: a call on the emulator failed (`invoke` timed out, the
//!   process exited, the function answered with an error where a response was expected…).
//! - [`report::NoReply`]: an invocation of a run got no reply. The run records it in place of
//!   the reply and goes on, or stops; the report shows it as the invocation's status.
//! - [`run::EarlyStop`]: why a run stopped before the end of its plan (the function crashed,
//!   never asked for work, timed out, failed its init).
//!
//! Bad input is refused up front with its own error: [`emulator::NotLaunchable`],
//! [`sizing::SizingError`], [`pricing::UnknownArchitecture`].
//!
//! # Example
//!
//! ```no_run
//! use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
//! use lambda_perf_local::report::{Report, render_terminal};
//! use lambda_perf_local::run::{Plan, RunOptions, Runner, execute};
//!
//! # async fn demo() {
//! let runner = Runner::new(
//!     FunctionCommand::new("target/debug/my-function"),
//!     FunctionConfig::new().with_function_name("my-function"),
//! );
//! let plan = Plan::from_options(&RunOptions { invocations: 3, ..RunOptions::default() });
//! let result = execute(&plan, &runner, &|_done| {}).await;
//! let report = Report::build(&result.record);
//! println!("{}", render_terminal(&report, 100, false));
//! # }
//! ```

pub mod emulator;
pub mod logs;
pub mod pricing;
pub mod report;
pub mod run;
pub mod sizing;
pub mod tune;
