//! The report model: [`Report`], [`ReportedInvocation`], [`Status`], [`ReportedProcess`] and
//! [`Subsegment`]. Serialized as is for `--json`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::harness_stop::HarnessStop;
use super::metrics::MetricSeries;
use super::problem::Problem;
use super::resources::Resources;
use super::stats::Summary;

/// The report of a run, built by [`Report::build`](Self::build) from a
/// [`RunRecord`](super::RunRecord). Times are milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The function that ran (its command line).
    pub function: String,
    /// One entry per invocation, in run order.
    pub invocations: Vec<ReportedInvocation>,
    /// One entry per function process.
    pub processes: Vec<ReportedProcess>,
    /// Every metric received in valid EMF lines, one series per namespace, name, unit and
    /// dimension values, in order of first appearance.
    pub metrics: Vec<MetricSeries>,
    /// Counts and percentiles.
    pub summary: Summary,
    /// The memory size and what was used of it, the code size, the billed duration and its
    /// price.
    pub resources: Resources,
    /// Everything wrong with the function's output or the run.
    pub problems: Vec<Problem>,
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Status {
    /// The function responded.
    Ok,
    /// The function reported an invocation error.
    Error,
    /// The function reported an initialization error.
    InitError,
    /// The function did not finish in time: no answer before its deadline, or no request
    /// for its next event (Lambda's `Status: timeout`).
    Timeout,
    /// The function's runtime exited during the invocation (Lambda's `Runtime.ExitError`):
    /// the function's failure.
    ExitError,
    /// The harness failed (an I/O error, a shutdown…): no failure of the function.
    HarnessError,
    /// The function ran out of memory: the kernel's OOM killer ended its runtime (Lambda's
    /// `Runtime.OutOfMemory`).
    OutOfMemory,
}

impl Status {
    /// The name used in the report: `ok`, `error`, `init-error`, `timeout`, `exit-error`,
    /// `harness-error`, `out-of-memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::InitError => "init-error",
            Self::Timeout => "timeout",
            Self::ExitError => "exit-error",
            Self::HarnessError => "harness-error",
            Self::OutOfMemory => "out-of-memory",
        }
    }

    /// Whether this is anything but [`Status::Ok`].
    pub fn is_failure(self) -> bool {
        self != Self::Ok
    }
}

/// One invocation as the report shows it: a row of its table, and its waterfall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportedInvocation {
    /// Its position in the run.
    pub index: usize,
    /// The request id.
    pub request_id: String,
    /// The process it was sent to.
    pub process: usize,
    /// The execution environment of that process.
    pub environment: usize,
    /// How it started (`cold`, `restart`, `warm`, `prewarmed`, `restored`): from the
    /// `lambda_perf` facts of its EMF lines, else of its handler subsegment, else the
    /// subsegment's `StartKind` annotation. `None` when the function told nothing.
    pub start_kind: Option<String>,
    /// Whether the start kind is `cold` or `restart`; when the function told nothing,
    /// whether Lambda would count a cold start: the first invocation of its process, its
    /// init billed on demand (not provisioned, SnapStart or Managed Instances).
    pub cold_start: bool,
    /// Lambda's `Duration`, as the harness measured it: from hand-out by `/next` to the
    /// runtime's next request for work, so with what the runtime did after its answer (as
    /// when `PerfRuntimeLayer` writes the telemetry after the response), but not past the
    /// timeout, where it ends too when the harness waited past it for that request in vain;
    /// to the answer when no request followed it otherwise (the process was stopped or died
    /// first); for a timed-out invocation, its timeout; for one whose process failed in its
    /// init (an init error, or an exit before it asked for work) when initialized on demand,
    /// that init, from the process's start to its failure, which Lambda retries in the
    /// invocation and logs and bills as its `Duration`.
    pub duration_ms: Option<f64>,
    /// From hand-out by `/next` to the answer: what the caller waited, for an answered
    /// invocation.
    pub response_ms: Option<f64>,
    /// When `/next` handed it to the function, from the first hand-out of the run.
    pub started_ms: Option<f64>,
    /// The invocations that were in flight at the same time (a function under
    /// `run_concurrent`, as on Lambda Managed Instances), by index.
    pub concurrent_with: Vec<usize>,
    /// The handler's duration as the function measured it (`lambda_perf.duration_ms`).
    pub function_duration_ms: Option<f64>,
    /// The process's init duration as the function measured it (`lambda_perf`), on the
    /// first invocation of a process.
    pub init_duration_ms: Option<f64>,
    /// Init as the platform measures it (`Init Duration` of Lambda's `REPORT` line): from
    /// the process's start to the hand-out of its first invocation. On the first invocation
    /// of a process.
    pub platform_init_ms: Option<f64>,
    /// SnapStart's `Restore Duration`, on the first invocation of a `snap-start` process
    /// whose runtime asked for `GET /runtime/restore/next`: from its answer (the snapshot
    /// restored, at once here) to the hand-out, the runtime's after-restore hooks and its
    /// way back to `/next`. All of it is what Lambda bills of a restore (`Billed Restore
    /// Duration`, rounded up to the millisecond).
    pub restore_duration_ms: Option<f64>,
    /// The duration Lambda would bill: [`duration_ms`](Self::duration_ms) plus, for an
    /// on-demand cold start, the platform's init, rounded up to the millisecond; plus, for
    /// a SnapStart restore, its billed restore.
    pub billed_duration_ms: Option<u64>,
    /// The most memory the process had used when it ended (`Max Memory Used`), in MB.
    pub max_memory_used_mb: Option<f64>,
    /// How long the process sat idle before this invocation (warm invocations).
    pub idle_gap_ms: Option<f64>,
    /// How it ended.
    pub status: Status,
    /// The error message when it did not end [`Status::Ok`].
    pub error: Option<String>,
    /// The X-Ray trace id (the `Root` of its trace header), if it had one.
    pub trace_id: Option<String>,
    /// Its subsegments, as trees: normally one root, the `## <handler>` subsegment. Orphans
    /// (subsegments of the trace whose parent is unknown) are extra roots.
    pub subsegments: Vec<Subsegment>,
}

impl ReportedInvocation {
    /// How long it was in flight, as the concurrency groups count it: from hand-out to the
    /// answer ([`response_ms`](Self::response_ms)), else its duration. (What a runtime does
    /// between its answer and its next request is left out: a runtime with several loops
    /// takes its next invocation on another loop meanwhile, one after the other.)
    pub fn in_flight_ms(&self) -> Option<f64> {
        self.response_ms.or(self.duration_ms)
    }

    /// The handler subsegment: the first root named `## …`, else the first root.
    pub fn handler(&self) -> Option<&Subsegment> {
        self.subsegments
            .iter()
            .find(|s| !s.orphan && s.name.starts_with("## "))
            .or_else(|| self.subsegments.iter().find(|s| !s.orphan))
    }

    /// The span the waterfall is scaled to: the handler's duration, else the latest end of
    /// any subsegment (at least a microsecond).
    pub fn waterfall_span_ms(&self) -> f64 {
        let handler = self.handler().and_then(Subsegment::duration_ms);
        let latest = self
            .subsegments
            .iter()
            .flat_map(Subsegment::flatten)
            .map(|(_, s)| s.end_ms.unwrap_or(s.start_ms))
            .fold(0.0_f64, f64::max);
        handler.filter(|d| *d > 0.0).unwrap_or(latest).max(0.001)
    }
}

/// One X-Ray subsegment, with times relative to the start of its invocation's handler
/// subsegment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subsegment {
    /// Its id (16 hex digits).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its `namespace` (`aws`, `remote`), if any.
    pub namespace: Option<String>,
    /// When it started, relative to the handler's start.
    pub start_ms: f64,
    /// When it ended, relative to the handler's start (`None` while in progress).
    pub end_ms: Option<f64>,
    /// The `fault` flag (a server error).
    pub fault: bool,
    /// The `error` flag (a client error).
    pub error: bool,
    /// The `throttle` flag.
    pub throttle: bool,
    /// The first exception of its `cause` (`type: message`), if any.
    pub cause: Option<String>,
    /// Its annotations.
    pub annotations: Map<String, Value>,
    /// Whether its parent is unknown (drawn as an extra root).
    pub orphan: bool,
    /// Its children, by start time.
    pub children: Vec<Subsegment>,
}

impl Subsegment {
    /// How many levels of subsegments the report draws, the roots' included: the children
    /// of a subsegment at the last level are counted in a
    /// [`ProblemKind::DeepSubsegments`](super::ProblemKind::DeepSubsegments), not drawn. A
    /// tree of any depth could not be drawn, nor its JSON read back (`serde_json` reads 128
    /// levels of nesting, two per level of subsegments).
    pub const MAX_DEPTH: usize = 50;

    /// What is notable about it: `fault`, `error`, `throttle`, `in progress`, `orphan`.
    pub fn flags(&self) -> Vec<&'static str> {
        [
            (self.fault, "fault"),
            (self.error, "error"),
            (self.throttle, "throttle"),
            (self.end_ms.is_none(), "in progress"),
            (self.orphan, "orphan"),
        ]
        .into_iter()
        .filter_map(|(flag, name)| flag.then_some(name))
        .collect()
    }

    /// `end_ms - start_ms`, if it ended.
    pub fn duration_ms(&self) -> Option<f64> {
        self.end_ms.map(|end| (end - self.start_ms).max(0.0))
    }

    /// This subsegment and all its descendants, depth first, with their depth (0 for this
    /// one).
    pub fn flatten(&self) -> Vec<(usize, &Subsegment)> {
        let mut out = Vec::new();
        let mut stack = vec![(0, self)];
        while let Some((depth, node)) = stack.pop() {
            out.push((depth, node));
            stack.extend(node.children.iter().rev().map(|child| (depth + 1, child)));
        }
        out
    }
}

/// One function process as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportedProcess {
    /// Its position in the run.
    pub index: usize,
    /// Its execution environment.
    pub environment: usize,
    /// How it ended, if it did.
    pub exit: Option<String>,
    /// Whether the harness stopped it (then `exit` is the harness's doing, not a crash).
    pub stopped_by_harness: Option<HarnessStop>,
    /// How many invocations were sent to it.
    pub invocations: usize,
    /// How many lines it wrote on stdout.
    pub stdout_lines: usize,
    /// How many lines it wrote on stderr.
    pub stderr_lines: usize,
    /// How many of its stdout lines are valid EMF.
    pub emf_lines: usize,
    /// The most memory it used, in MB (its cgroup's peak when sized, else its peak resident
    /// size).
    pub peak_memory_mb: Option<f64>,
    /// Its memory cap in MB, when sized.
    pub memory_limit_mb: Option<f64>,
    /// Whether the kernel's OOM killer ended it.
    pub out_of_memory: bool,
    /// Its last stderr lines (at most [`ReportedProcess::STDERR_LINES`]), oldest first.
    pub last_stderr: Vec<String>,
    /// How many plain (non-EMF) output lines it wrote past the 256 MB of them the harness
    /// keeps: not counted in `stdout_lines` and `stderr_lines`, nor in the run's log.
    #[serde(default)]
    pub dropped_output_lines: usize,
}

impl ReportedProcess {
    /// How many of a process's last stderr lines the report keeps.
    pub const STDERR_LINES: usize = 10;

    /// How it ended, as the report says it: out of memory, the harness's stop, else its exit
    /// status, else `still running`.
    pub fn ending(&self) -> String {
        match (self.stopped_by_harness, &self.exit) {
            _ if self.out_of_memory => "ended: out of memory (OOM kill)".to_owned(),
            (Some(stop), _) => stop.describe().to_owned(),
            (None, Some(exit)) => format!("ended: {exit}"),
            (None, None) => "still running".to_owned(),
        }
    }
}
