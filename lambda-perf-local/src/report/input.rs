//! What a run recorded, as the CLI hands it to [`Report::build`](super::Report::build):
//! [`RunRecord`], [`InvocationRun`], [`ProcessRun`].

use crate::outcome::InvocationResult;
use crate::output::OutputLine;
use crate::xray_collector::Datagram;

use super::failure::HarnessFailure;
use super::harness_stop::HarnessStop;

/// Everything one run of a function produced.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    /// The function that ran: its command line.
    pub function: String,
    /// Every invocation, in the order they were run.
    pub invocations: Vec<InvocationRun>,
    /// Every function process started.
    pub processes: Vec<ProcessRun>,
    /// Every datagram the X-Ray daemon stand-in received.
    pub datagrams: Vec<Datagram>,
}

/// One invocation of a run.
#[derive(Debug, Clone)]
pub struct InvocationRun {
    /// Its position in the run (the order invocations were started).
    pub index: usize,
    /// The [`ProcessRun::index`] of the process it was sent to.
    pub process: usize,
    /// The execution environment that process ran in.
    pub environment: usize,
    /// The `Lambda-Runtime-Trace-Id` sent, if any (when `None`, the header in the
    /// [`InvocationResult`] is used).
    pub trace_header: Option<String>,
    /// The request id sent.
    pub request_id: String,
    /// What came back, or how the harness failed to get an answer (timeout, process exit…).
    pub result: Result<InvocationResult, HarnessFailure>,
}

/// One function process of a run.
#[derive(Debug, Clone, Default)]
pub struct ProcessRun {
    /// Its position in the run.
    pub index: usize,
    /// The execution environment it ran in.
    pub environment: usize,
    /// Everything it wrote on stdout and stderr, in order.
    pub output: Vec<OutputLine>,
    /// How it ended (e.g. `exit status: 0`, `killed`), if it did.
    pub exit: Option<String>,
    /// Whether the harness stopped it (a restart, a fresh environment, the end of the run),
    /// rather than it ending on its own.
    pub stopped_by_harness: Option<HarnessStop>,
}
