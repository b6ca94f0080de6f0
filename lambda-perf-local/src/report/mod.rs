//! The report of a run: per-invocation table, subsegment waterfalls, metrics, summary and the
//! problems found in the function's output; rendered for the terminal, as JSON and as HTML.
//!
//! A run fills a [`RunRecord`] while it runs the function (each [`RecordedInvocation`] with
//! its [`InvokeReply`](crate::emulator::InvokeReply) or [`NoReply`], each
//! [`RecordedProcess`] with its output lines, the X-Ray datagrams received), then
//! [`Report::build`] matches everything up into a [`ReportedInvocation`] per invocation and a
//! [`ReportedProcess`] per process:
//!
//! - each invocation gets its `lambda_perf` facts from the EMF lines carrying its request id
//!   (start kind, init duration, idle gap), its status from the harness, and the subsegment
//!   tree of its trace (documents whose `trace_id` is the `Root` of its trace header, linked
//!   by `parent_id`, times relative to the handler subsegment's start);
//! - each invocation gets its place on the run's clock and the invocations it overlapped
//!   (a function under `run_concurrent`);
//! - each process gets its last stderr lines, and how it ended: on its own, or stopped by
//!   the harness ([`HarnessStop`]: a restart, a fresh environment, the end of the run);
//! - the metrics of valid EMF lines are aggregated into [`MetricSeries`];
//! - the [`Summary`] counts cold starts and errors and gives nearest-rank percentiles;
//! - every [`Problem`] is listed: broken EMF lines, `lambda_perf` facts that cannot be (a
//!   negative duration, an unknown start kind), X-Ray datagrams the daemon would reject or
//!   documents with required fields missing or malformed, orphan subsegments, subsegments
//!   nested deeper than the report draws, traces no invocation had, invocations that got no
//!   reply for a reason of the harness (not an out-of-memory kill, which is the function's
//!   failure).
//!
//! The [`Report`] serializes with serde (`--json`), and renders with [`render_terminal`] and
//! [`render_html`].
//!
//! ```
//! use lambda_perf_local::report::{Report, RunRecord, render_html, render_terminal};
//!
//! let record = RunRecord { function: "target/debug/my-fn".into(), ..RunRecord::default() };
//! let report = Report::build(&record);
//! assert_eq!(report.summary.invocations, 0);
//! assert!(render_terminal(&report, 100, false).contains("Summary"));
//! assert!(render_html(&report).starts_with("<!DOCTYPE html>"));
//! let json = serde_json::to_value(&report).unwrap();
//! assert_eq!(json["function"], "target/debug/my-fn");
//! ```

mod build;
pub(crate) mod chart;
mod emf;
pub(crate) mod facts;
mod failed_init;
pub(crate) mod format;
mod harness_stop;
pub(crate) mod html;
mod metrics;
mod model;
mod no_reply;
mod problem;
mod record;
mod resources;
mod runtime_exit;
mod stats;
mod tally;
mod terminal;
mod timeline;
mod tree;
mod wall_clock;
mod xray;

#[cfg(test)]
mod tests;

pub(crate) use build::init_on_demand;
pub(crate) use failed_init::{EXIT_ERROR_TYPE, FailedInit, failed_inits};
pub use harness_stop::HarnessStop;
pub use html::render_html;
pub use metrics::MetricSeries;
pub use model::{Report, ReportedInvocation, ReportedProcess, Status, Subsegment};
pub use no_reply::{NoReply, NoReplyKind, OUT_OF_MEMORY_ERROR_TYPE, OUT_OF_MEMORY_MESSAGE};
pub use problem::{Problem, ProblemKind};
pub use record::{RecordedInvocation, RecordedProcess, RecordedReply, RunRecord, SizingRecord};
pub use resources::{Artifact, Billing, CodeSize, Resources, SizingReport};
pub(crate) use runtime_exit::runtime_exit_error;
pub(crate) use stats::mean;
pub use stats::{ColdWarmComparison, Distribution, Summary, nearest_rank};
pub use terminal::render_terminal;
pub use wall_clock::WallClock;
