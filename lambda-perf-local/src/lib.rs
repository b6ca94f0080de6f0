//! Run an AWS Lambda function locally, under an embedded Lambda Runtime API.
//!
//! `lambda-perf-local` plays the part of the Lambda service for one function binary:
//!
//! - [`RuntimeApi`] is an HTTP server on loopback speaking the Runtime API `2018-06-01`
//!   (`/runtime/invocation/next`, `…/{id}/response`, `…/{id}/error`, `/runtime/init/error`).
//!   [`RuntimeApi::invoke`] queues an [`Invocation`] and waits for its [`InvocationResult`].
//! - [`ExecutionEnvironment`] is a simulated sandbox: it owns the directory the function sees
//!   as `TMPDIR`, kept across restarts of the function inside it.
//! - [`FunctionProcess`] runs a [`FunctionCommand`] with the Lambda environment described by
//!   a [`FunctionConfig`], capturing stdout/stderr into an [`OutputLog`] where CloudWatch EMF
//!   lines are told apart from plain log lines;
//!   [`FunctionCommand::check_launchable`] says beforehand why a program cannot start.
//!
//! - [`XRayCollector`] stands in for the X-Ray daemon: it receives the function's datagrams
//!   and checks each as the daemon would.
//! - [`run`] carries out a [`run::Plan`] (invocations, idle gaps, restarts, fresh
//!   environments) and [`report`] turns what was recorded into the report the `lambda-perf`
//!   binary prints (terminal, JSON, HTML); [`run::lambda_log`] writes the run as Lambda
//!   would log it.
//! - [`sizing`] imposes a Lambda memory size on the function with cgroups (the memory cap
//!   and CPU in proportion), [`pricing`] holds Lambda's prices, [`tune`] sweeps memory sizes
//!   as AWS Lambda Power Tuning does, and [`logs`] answers the Logs Insights questions about
//!   cold starts from exported CloudWatch Logs.
//!
//! Everything fallible returns a [`HarnessError`]; bad input from the function (garbage
//! bodies, unknown request ids, wrong paths) gets HTTP error codes, never a panic.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use lambda_perf_local::{
//!     ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, Invocation,
//!     RuntimeApi,
//! };
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let api = RuntimeApi::start().await?;
//! let environment = ExecutionEnvironment::new()?;
//! let command = FunctionCommand::new("target/debug/my-function");
//! let config = FunctionConfig::new().with_function_name("my-function");
//!
//! let process = FunctionProcess::spawn(&command, &config, &environment, &api)?;
//! let body = process
//!     .invoke(&api, Invocation::json(serde_json::json!({"hello": "world"})))
//!     .await?
//!     .into_json()?;
//! let metrics = process.wait_for_emf_lines(1, Duration::from_secs(2)).await?;
//! process.kill().await?;
//! # let _ = (body, metrics);
//! # Ok(()) }
//! ```

mod command;
mod config;
mod environment;
mod error;
mod ids;
mod invocation;
mod launchable;
pub mod logs;
mod outcome;
mod output;
pub mod pricing;
mod process;
pub mod report;
pub mod run;
mod runtime_api;
pub mod sizing;
mod trace_header;
pub mod tune;
mod wall_clock;
mod xray_collector;

pub use command::FunctionCommand;
pub use config::{FunctionConfig, INHERITED_VARS};
pub use environment::ExecutionEnvironment;
pub use error::HarnessError;
pub use ids::new_request_id;
pub use invocation::{DEFAULT_FUNCTION_TIMEOUT, Deadline, Invocation, TraceSetting};
pub use launchable::NotLaunchable;
pub use outcome::{ErrorReport, InvocationOutcome, InvocationResult};
pub use output::{LineKind, OutputLine, OutputLog, OutputStream};
pub use process::{ERROR_CONTEXT_LINES, FunctionProcess};
pub use runtime_api::{
    ApiEvent, ApiEventKind, InitErrorRecord, InvocationRecord, InvocationStatus, RuntimeApi,
    RuntimeApiOptions,
};
pub use trace_header::TraceHeader;
pub use wall_clock::WallClock;
pub use xray_collector::{Datagram, XRayCollector, parse as parse_datagram};
