//! What a run recorded, as [`run::execute`](crate::run::execute) hands it to
//! [`Report::build`](super::Report::build): [`RunRecord`], [`RecordedInvocation`] (with its
//! [`RecordedReply`]), [`RecordedProcess`], [`SizingRecord`].

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use lambda_perf_core::InitializationType;

use crate::emulator::{AnswerSummary, Datagram, FunctionConfig, InvokeReply, OutputLine};
use crate::pricing::Architecture;
use crate::sizing::CgroupVersion;

use super::harness_stop::HarnessStop;
use super::no_reply::NoReply;
use super::resources::CodeSize;
use super::wall_clock::WallClock;

/// Everything one run of a function produced.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// The function that ran: its command line.
    pub function: String,
    /// Every invocation, in the order they were run.
    pub invocations: Vec<RecordedInvocation>,
    /// Every function process started.
    pub processes: Vec<RecordedProcess>,
    /// Every datagram the X-Ray daemon stand-in received.
    pub datagrams: Vec<Datagram>,
    /// Its Lambda configuration (name, memory size, initialization type…).
    pub config: FunctionConfig,
    /// The memory size imposed with cgroups, if any.
    pub sizing: Option<SizingRecord>,
    /// The architecture whose prices the report uses.
    pub architecture: Architecture,
    /// The size of the function's binary and deployment package.
    pub code: CodeSize,
    /// Dates the run's instants.
    pub clock: WallClock,
}

impl RunRecord {
    /// The initialization type the function was told, as lambda-perf-core reads it: `None`
    /// when unset or unknown, which the function takes as on demand.
    pub(crate) fn initialization_type(&self) -> Option<InitializationType> {
        self.config
            .initialization_type()
            .and_then(InitializationType::parse)
    }
}

/// The memory size a run imposed, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingRecord {
    /// The memory cap, in MB.
    pub memory_mb: u32,
    /// The CPU share, in cores.
    pub cpu_cores: f64,
    /// The cgroup version that imposed them.
    pub cgroup: CgroupVersion,
    /// The CPUs this machine offered ([`crate::sizing::machine_cpus`]): a share above them
    /// is more than the function could get here.
    pub machine_cpus: Option<u32>,
}

/// One invocation as the run recorded it: where it was sent, and its reply, or why it got
/// none.
#[derive(Debug, Clone)]
pub struct RecordedInvocation {
    /// Its position in the run (the order invocations were started).
    pub index: usize,
    /// The [`RecordedProcess::index`] of the process it was sent to.
    pub process: usize,
    /// The execution environment that process ran in.
    pub environment: usize,
    /// The `Lambda-Runtime-Trace-Id` sent, if any (when `None`, the header in the
    /// [`RecordedReply`] is used).
    pub trace_header: Option<String>,
    /// The request id sent.
    pub request_id: String,
    /// What came back (its response's length, not its body), or why nothing did (timeout,
    /// process exit, out of memory…).
    pub reply: Result<RecordedReply, NoReply>,
    /// When the function got it (`/next` handed it out), if it did.
    pub handed_out_at: Option<Instant>,
    /// When it ended (its answer arrived, or the harness gave up; a timed-out invocation
    /// ends at its timeout, as on Lambda), if it did.
    pub ended_at: Option<Instant>,
    /// When the runtime asked for its next event after answering it, if it did while the
    /// run lasted, or its timeout when that came first (or the harness waited past it in
    /// vain): the end of the invocation as Lambda counts and bills it.
    pub released_at: Option<Instant>,
    /// The process's peak memory (bytes) read when it ended: the most used so far, as
    /// Lambda's `Max Memory Used`.
    pub max_memory_used_bytes: Option<u64>,
}

/// An [`InvokeReply`] as a run keeps it, for as long as the run lasts: its response's
/// length instead of its body ([`AnswerSummary`]), so that the record of a run grows by the
/// same small amount per invocation whatever the function answers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedReply {
    /// The `Lambda-Runtime-Trace-Id` sent, if any.
    pub trace_header: Option<String>,
    /// The `Lambda-Runtime-Deadline-Ms` sent.
    pub deadline_ms: u64,
    /// When the invocation was queued.
    pub queued_at: Instant,
    /// When `/next` handed it to the function (`None` if it never was, e.g. after an init
    /// error).
    pub handed_out_at: Option<Instant>,
    /// When the answer arrived.
    pub resolved_at: Instant,
    /// What the function answered.
    pub answer: AnswerSummary,
}

impl RecordedReply {
    /// Time from hand-out by `/next` to the answer (`None` if never handed out), as
    /// [`InvokeReply::duration`].
    pub fn duration(&self) -> Option<Duration> {
        self.handed_out_at
            .map(|at| self.resolved_at.saturating_duration_since(at))
    }
}

impl From<&InvokeReply> for RecordedReply {
    fn from(reply: &InvokeReply) -> Self {
        Self {
            trace_header: reply.trace_header.clone(),
            deadline_ms: reply.deadline_ms,
            queued_at: reply.queued_at,
            handed_out_at: reply.handed_out_at,
            resolved_at: reply.resolved_at,
            answer: AnswerSummary::from(&reply.answer),
        }
    }
}

impl From<InvokeReply> for RecordedReply {
    fn from(reply: InvokeReply) -> Self {
        Self::from(&reply)
    }
}

/// One function process as the run recorded it: its output, and how it ended.
#[derive(Debug, Clone, Default)]
pub struct RecordedProcess {
    /// Its position in the run.
    pub index: usize,
    /// The execution environment it ran in.
    pub environment: usize,
    /// Everything it wrote on stdout and stderr, in order.
    pub output: Vec<OutputLine>,
    /// How many output lines it wrote past what the harness keeps of them
    /// ([`OutputLog::dropped_lines`](crate::emulator::OutputLog::dropped_lines)).
    pub dropped_output_lines: usize,
    /// How it ended (e.g. `exit status: 0`, `killed`), if it did.
    pub exit: Option<String>,
    /// Its exit status, when it ended on its own (not stopped by the harness): what Lambda's
    /// `Runtime exited with error: …` line says of an invocation it was in.
    pub exit_status: Option<ExitStatus>,
    /// When it was started.
    pub spawned_at: Option<Instant>,
    /// When its runtime's `GET /runtime/restore/next` was answered (a SnapStart snapshot
    /// restored), if it asked.
    pub restored_at: Option<Instant>,
    /// The log stream its lines go to (one per execution environment, as on Lambda).
    pub log_stream: String,
    /// The most memory it used (bytes): its cgroup's peak when sized, else its peak
    /// resident size.
    pub peak_memory_bytes: Option<u64>,
    /// Its memory cap (bytes), when sized.
    pub memory_limit_bytes: Option<u64>,
    /// Whether the kernel's OOM killer ended it.
    pub out_of_memory: bool,
    /// Whether the harness stopped it (a restart, a fresh environment, the end of the run),
    /// rather than it ending on its own.
    pub stopped_by_harness: Option<HarnessStop>,
}
