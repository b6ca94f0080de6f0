//! The model of `lambda-perf logs`: [`LogsReport`] and its parts. Serialized as is for
//! `--json`. Durations are milliseconds, memory MB.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pricing::Architecture;
use crate::report::Distribution;

/// What a function's logs say about its invocations, cold starts, memory and cost (see the
/// [module docs](super) for the rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogsReport {
    /// The files read.
    pub files: Vec<String>,
    /// Invocations: `REPORT` lines (or `platform.report` records), each counted once; the
    /// retries of an asynchronous invocation (same request id) are invocations of their own.
    pub invocations: usize,
    /// Invocations whose `REPORT` has an `Init Duration`.
    pub cold_starts: usize,
    /// `cold_starts` as a percentage of `invocations`.
    pub cold_start_percent: f64,
    /// Invocations whose `REPORT` has a `Restore Duration` (SnapStart).
    pub restores: usize,
    /// The platform's `Init Duration` of the cold starts.
    pub init_duration_ms: Option<Distribution>,
    /// The platform's `Restore Duration` of the restores.
    pub restore_duration_ms: Option<Distribution>,
    /// `Duration` of every invocation.
    pub duration_ms: Option<Distribution>,
    /// `Duration` of the cold starts.
    pub cold_duration_ms: Option<Distribution>,
    /// `Duration` of the restores (SnapStart): the first invocation of an environment
    /// restored from a snapshot, neither a cold start nor warm.
    pub restored_duration_ms: Option<Distribution>,
    /// `Duration` of the other invocations, in an environment that had already run one.
    pub warm_duration_ms: Option<Distribution>,
    /// `Billed Duration` of every invocation.
    pub billed_duration_ms: Option<Distribution>,
    /// `Billed Restore Duration` of the restores (SnapStart): the runtime's load and the
    /// after-restore hooks, billed as duration and already part of `Billed Duration`.
    pub billed_restore_duration_ms: Option<Distribution>,
    /// The memory size (the largest, when the logs hold several).
    pub memory_size_mb: Option<u32>,
    /// Every memory size seen, ascending.
    pub memory_sizes_mb: Vec<u32>,
    /// The largest `Max Memory Used`.
    pub max_memory_used_mb: Option<f64>,
    /// Memory size minus max memory used, for the invocation that used the most.
    pub memory_headroom_mb: Option<f64>,
    /// That headroom as a percentage of its memory size.
    pub memory_headroom_percent: Option<f64>,
    /// GB-seconds billed: the sum of `Billed Duration` (which includes a SnapStart restore's
    /// `Billed Restore Duration`) times `Memory Size`.
    pub billed_gb_seconds: f64,
    /// What the invocations cost: GB-seconds and requests at `prices`, no free tier.
    pub cost_usd: f64,
    /// The prices used.
    pub prices: Prices,
    /// Invocations by status: `success`, `error`, `timeout`…, with the error type when the
    /// `REPORT` gives one (`error: Runtime.OutOfMemory`).
    pub statuses: BTreeMap<String, usize>,
    /// What lambda-perf's EMF lines add, when the logs hold any.
    pub lambda_perf: Option<LambdaPerfFigures>,
    /// What was read.
    pub lines: LineCounts,
}

impl LogsReport {
    /// The memory size of the invocation that used the most memory, which
    /// `memory_headroom_mb` is the headroom of: `memory_size_mb` is the largest size seen.
    pub(crate) fn heaviest_memory_size_mb(&self) -> Option<u32> {
        let size = self.max_memory_used_mb? + self.memory_headroom_mb?;
        Some(size.round() as u32)
    }
}

/// The prices a report used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Prices {
    /// The architecture.
    pub architecture: Architecture,
    /// The initialization type priced (`on-demand`, `provisioned-concurrency`, `snap-start`,
    /// `lambda-managed-instances`).
    #[serde(default)]
    pub initialization_type: String,
    /// Where it comes from: `--init-type`, `platform.initStart` (the logs), or `default` (on
    /// demand, neither saying otherwise).
    #[serde(default)]
    pub initialization_type_from: String,
    /// US dollars per GB-second (of that initialization type).
    pub usd_per_gb_second: f64,
    /// US dollars per million requests.
    pub usd_per_million_requests: f64,
    /// Under provisioned concurrency, the invocations priced at the on-demand GB-second
    /// price all the same: those of environments initialized on demand (spillover).
    #[serde(default)]
    pub on_demand_invocations: usize,
    /// Region, tier and date of the prices.
    pub source: String,
}

/// What was read, and what could not be.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LineCounts {
    /// Log event lines read.
    pub events: usize,
    /// Lambda platform lines among them (`START`, `END`, `REPORT`, `INIT_START`…).
    pub platform: usize,
    /// Valid EMF lines.
    pub emf: usize,
    /// The function's own output.
    pub output: usize,
    /// Lines that claim to be platform or EMF lines but cannot be read, and events without
    /// a message; counted, never fatal.
    pub malformed: usize,
    /// `REPORT`s read before (the same text and request id, logged at the same millisecond,
    /// in the same second when a time is printed to the second only, or, when a time is
    /// unknown, read in another file): the same log event read twice, counted once.
    pub duplicate_reports: usize,
    /// The first malformed lines.
    pub malformed_examples: Vec<MalformedLine>,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MalformedLine {
    /// `file:line` or `file: event n`.
    pub location: String,
    /// What is wrong.
    pub reason: String,
    /// The line, shortened.
    pub excerpt: Option<String>,
}

/// What lambda-perf's EMF lines (their `lambda_perf` facts) tell beyond the platform lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LambdaPerfFigures {
    /// Invocations with facts: distinct request ids in each log stream (see
    /// [`crate::logs`], Rules).
    pub invocations: usize,
    /// Invocations by start kind: `cold`, `warm`, `restart`, `prewarmed`, `restored`.
    pub start_kinds: BTreeMap<String, usize>,
    /// `restart` starts: the runtime process restarted in a reused environment.
    pub restarts: usize,
    /// `prewarmed` starts: provisioned concurrency or Managed Instances.
    pub prewarmed: usize,
    /// The init duration the function measured itself, on first invocations.
    pub init_duration_ms: Option<Distribution>,
    /// The platform's and the function's init side by side, where both exist.
    pub init_side_by_side: Option<InitSideBySide>,
    /// Client initialization times (`ClientInitDuration`), by client.
    pub client_init_ms: Vec<ClientInit>,
    /// Is the function CPU-bound? With `LAMBDA_PERF_RESOURCE_USAGE`: the share of the CPU its
    /// memory size allots that each invocation used (`cpu_allotment_used`). Near 1, more
    /// memory would shorten the invocations; near 0, they wait on I/O.
    pub cpu_allotment_used: Option<Distribution>,
    /// CPU time over duration of the same invocations (`cpu_ratio`).
    pub cpu_ratio: Option<Distribution>,
    /// How execution environments were reused.
    pub reuse: EnvironmentReuse,
}

/// The platform's `Init Duration` and lambda-perf's in-process init of the same cold
/// starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InitSideBySide {
    /// Cold starts with both.
    pub pairs: usize,
    /// The platform's figure.
    pub platform_ms: Distribution,
    /// The function's own.
    pub in_process_ms: Distribution,
    /// The median of platform minus in-process: the part of init before the function's
    /// `main` could measure (loading the binary, the runtime's start).
    pub difference_p50_ms: f64,
}

/// One client's initialization times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientInit {
    /// The client (`client` dimension; `(at init)` for values written with the cold start).
    pub client: String,
    /// Its times.
    pub duration_ms: Distribution,
}

/// Environment reuse, from the facts of lambda-perf's EMF lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnvironmentReuse {
    /// How many environments (log streams) had lambda-perf lines; `None` without stream
    /// names.
    pub environments: Option<usize>,
    /// How long each environment lived: first to last invocation seen in its stream.
    pub lifetime_ms: Option<Distribution>,
    /// Invocations per environment.
    pub invocations_per_environment: Option<Distribution>,
    /// Idle gaps before warm starts.
    pub idle_gap_ms: Option<Distribution>,
    /// The longest idle gap after which an environment was still reused.
    pub longest_reused_idle_gap_ms: Option<f64>,
    /// Why a figure is missing, if one is.
    pub note: Option<String>,
}
