//! The local Lambda: what a function binary meets when it runs under `lambda-perf`.
//!
//! | part | what it is |
//! |---|---|
//! | [`RuntimeApi`] | the Runtime API (`2018-06-01`) server on loopback, with its log of every invocation it queued ([`LoggedInvocation`], at its [`Stage`]; an answer kept as an [`AnswerSummary`], a response's length without its body) |
//! | [`InvokeRequest`], [`InvokeReply`] | what you send to [`RuntimeApi::invoke`] (the event, and the headers `/next` hands the function with it) and what comes back (when it was handed out and answered, and the function's [`Answer`]) |
//! | [`ExecutionEnvironment`] | the sandbox: the directory the function sees as `TMPDIR`, kept across restarts of the function inside it |
//! | [`FunctionCommand`], [`FunctionConfig`] | the program to run, and the Lambda configuration it gets as environment variables |
//! | [`FunctionProcess`] | the running function, its stdout and stderr read into an [`OutputLog`] (EMF lines told apart) |
//! | [`XRayCollector`] | the X-Ray daemon stand-in: a UDP port that keeps every [`Datagram`] and checks it as the daemon would |
//! | [`TraceHeader`] | the `Lambda-Runtime-Trace-Id` header: generated and parsed |
//!
//! A call on the emulator that fails returns a [`HarnessError`]. Bad input from the function
//! (garbage bodies, unknown request ids, wrong paths) gets HTTP error codes, never a panic.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use lambda_perf_local::emulator::{
//!     ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, InvokeRequest,
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
//!     .invoke(&api, InvokeRequest::json(serde_json::json!({"hello": "world"})))
//!     .await?
//!     .into_json()?;
//! let metrics = process.wait_for_emf_lines(1, Duration::from_secs(2)).await?;
//! process.kill().await?;
//! # let _ = (body, metrics);
//! # Ok(()) }
//! ```

mod answer_summary;
mod cgroup_start;
mod command;
mod config;
mod environment;
mod error;
mod error_document;
mod ids;
mod invoke_reply;
mod invoke_request;
mod launchable;
mod output;
mod process;
mod process_tree;
mod program_head;
mod runtime_api;
mod trace_header;
mod xray_collector;

pub use self::answer_summary::AnswerSummary;
pub use self::command::FunctionCommand;
pub use self::config::{FunctionConfig, INHERITED_VARS};
pub use self::environment::ExecutionEnvironment;
pub use self::error::HarnessError;
pub use self::error_document::{ErrorDocument, KEPT_ERROR_BYTES};
pub use self::invoke_reply::{Answer, InvokeReply};
pub use self::invoke_request::{DEFAULT_FUNCTION_TIMEOUT, Deadline, InvokeRequest, TraceSetting};
pub use self::launchable::NotLaunchable;
pub use self::output::{LineKind, OutputLine, OutputLog, OutputStream};
pub(crate) use self::output::{MAX_EMF_BYTES, MAX_PLAIN_BYTES};
pub use self::process::FunctionProcess;
pub use self::runtime_api::{
    ApiEvent, ApiEventKind, LoggedInitError, LoggedInvocation, RuntimeApi, RuntimeApiOptions, Stage,
};
pub use self::trace_header::TraceHeader;
pub use self::xray_collector::{Datagram, XRayCollector};

pub(crate) use self::ids::new_request_id;
pub(crate) use self::process::ERROR_CONTEXT_LINES;
#[cfg(test)]
pub(crate) use self::xray_collector::parse as parse_datagram;
