//! `lambda-perf tune`: AWS Lambda Power Tuning, locally. The function runs at each memory
//! size under that size's limits ([`crate::sizing`]), and each size is measured and priced:
//!
//! - **cold init**: the platform's init of the size's first invocation (process start to the
//!   hand-out of its first invocation, as `REPORT`'s `Init Duration`), and **cold duration**
//!   that invocation's duration;
//! - **warm p50 / p90**: nearest-rank percentiles of the other invocations' durations;
//! - **billed duration**: each rounded up to the millisecond, the cold one with its init
//!   (INIT is billed for on-demand functions since August 2025);
//! - **cost per million invocations** at Lambda's prices for the architecture
//!   ([`crate::pricing`]): the mean warm billed duration, its fastest and slowest fifth left
//!   out ([`DISCARD_TOP_BOTTOM`], as Power Tuning does), blended with the cold start's at the
//!   given cold-start share, in GB-seconds at the size, plus the request charge.
//!
//! Then it names the [`cheapest`](TuneReport::cheapest) and [`fastest`](TuneReport::fastest)
//! sizes (by cost, and by warm p50), and the best **balance**, the size that minimizes
//! `w · cost / max cost + (1 − w) · p50 / max p50` with `w` = [`BALANCED_WEIGHT`]: Power
//! Tuning's balanced strategy, with the warm p50 where Power Tuning weighs its mean duration
//! (the speed users feel, as the fastest size is chosen by). Sizes that ran out of memory or
//! failed are reported, not priced and never chosen.
//!
//! Local CPUs are not Lambda's: the shape of the curves carries over (where more memory
//! stops helping, where cost turns up), the absolute durations and costs do not. A size whose
//! CPU share is more than this machine's CPUs gets at most those here: the report names
//! such sizes ([`TuneReport::cpu_capped_sizes`]), whose figures show the machine, not the size.

mod choose;
mod html;
mod sweep;
mod terminal;

use serde::{Deserialize, Serialize};

use crate::pricing::Architecture;
use crate::report::Artifact;
use crate::sizing::cpu_capped_at;

pub use self::html::render_tune_html;
pub use self::sweep::{TuneOptions, TuneProgress, tune};
pub use self::terminal::render_tune_terminal;

/// The weight of cost against speed in the balanced choice.
pub const BALANCED_WEIGHT: f64 = 0.5;

/// The share of the warm billed durations left out at each end (the fastest and the slowest,
/// as many of each: the share of their count, rounded down) before their mean is priced, as
/// Power Tuning's `discardTopBottom` does by default: one stalled run among ten does not
/// decide which size is cheapest.
pub const DISCARD_TOP_BOTTOM: f64 = 0.2;

/// What every tuning report says about where its numbers come from.
pub const LOCAL_CPU_NOTE: &str = "Local CPUs are not Lambda's: the shape of these curves \
     carries over (where more memory stops helping, where cost turns up), the absolute \
     durations and costs do not.";

/// How one memory size went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeStatus {
    /// Every invocation answered.
    Ok,
    /// The function ran out of memory, in an invocation (`Runtime.OutOfMemory`) or between
    /// two: the size is too small.
    OutOfMemory,
    /// The function failed otherwise (returned an error, crashed, timed out, failed its
    /// init).
    Failed,
}

/// The measurements of one memory size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SizeResult {
    /// The memory size.
    pub memory_mb: u32,
    /// The CPU it gets, in cores.
    pub cpu_cores: f64,
    /// How it went.
    pub status: SizeStatus,
    /// What went wrong, when it did.
    pub error: Option<String>,
    /// The platform's init of the cold start.
    pub cold_init_ms: Option<f64>,
    /// The duration of the cold invocation.
    pub cold_duration_ms: Option<f64>,
    /// What the cold invocation is billed: init plus duration, rounded up.
    pub cold_billed_ms: Option<u64>,
    /// How many warm invocations answered.
    pub warm_invocations: usize,
    /// The warm durations' median (nearest rank).
    pub warm_p50_ms: Option<f64>,
    /// Their 90th percentile (nearest rank).
    pub warm_p90_ms: Option<f64>,
    /// Their mean billed duration, the fastest and the slowest fifth left out
    /// ([`DISCARD_TOP_BOTTOM`]).
    pub warm_billed_ms: Option<f64>,
    /// The most memory the function used.
    pub peak_memory_mb: Option<f64>,
    /// The price of a million invocations (see the [module docs](self)); none for a size
    /// that ran out of memory or failed, as Lambda would bill its failed invocations too.
    pub cost_per_million_usd: Option<f64>,
}

impl TuneReport {
    /// The sizes whose CPU share is more than this machine's CPUs: here they got at most
    /// [`machine_cpus`](Self::machine_cpus), so their figures are not that size's.
    pub fn cpu_capped_sizes(&self) -> Vec<&SizeResult> {
        self.sizes
            .iter()
            .filter(|s| cpu_capped_at(s.cpu_cores, self.machine_cpus).is_some())
            .collect()
    }
}

/// The result of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TuneReport {
    /// The function (its command line).
    pub function: String,
    /// The function's binary.
    pub binary: Option<Artifact>,
    /// Its deployment package, if given.
    pub package: Option<Artifact>,
    /// The architecture priced.
    pub architecture: Architecture,
    /// US dollars per GB-second.
    pub usd_per_gb_second: f64,
    /// US dollars per million requests.
    pub usd_per_million_requests: f64,
    /// Region, tier and date of the prices.
    pub prices: String,
    /// The cgroup version that imposed the sizes.
    pub cgroup: String,
    /// The CPUs this machine offered ([`crate::sizing::machine_cpus`]): a size whose CPU
    /// share is above them got at most these, less than on Lambda.
    #[serde(default)]
    pub machine_cpus: Option<u32>,
    /// Invocations per size (the first cold, the others warm).
    pub invocations_per_size: usize,
    /// The share of cold starts the cost assumes, in percent.
    pub cold_start_percent: f64,
    /// One entry per size, ascending.
    pub sizes: Vec<SizeResult>,
    /// The size with the lowest cost per million invocations.
    pub cheapest: Option<u32>,
    /// The size with the lowest warm p50.
    pub fastest: Option<u32>,
    /// The size with the best balance of cost and speed.
    pub balanced: Option<u32>,
    /// The weight of cost in that balance.
    pub balanced_weight: f64,
    /// [`LOCAL_CPU_NOTE`].
    pub note: String,
}
