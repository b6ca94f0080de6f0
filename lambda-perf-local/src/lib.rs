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
//! Imports point one way: `tune` uses `run`; `run` uses `report`, `emulator` and the log
//! timestamps of `logs`; `logs` uses the percentiles and renderers of `report`; `report` uses
//! `emulator`; `emulator` uses `sizing`. `sizing` and `pricing` use nothing else of the crate.
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
