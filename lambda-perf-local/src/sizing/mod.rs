//! Lambda's resource model, locally: a memory size caps the function's memory and gives it
//! CPU in proportion, as Lambda does (one vCPU at 1,769 MB, at most six), with Linux cgroups.
//!
//! [`Sizing::new`] finds the machine's cgroups ([`Cgroups::detect`]): cgroup v2 (`cpu.max`,
//! `memory.max`) when its hierarchy has the `cpu` and `memory` controllers, else cgroup v1
//! (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, `memory.limit_in_bytes`), whichever lambda-perf
//! can create a child cgroup in and write (usually as root). Each function process then runs
//! in its own [`FunctionCgroup`]: it joins the cgroup before its program starts (the child
//! process writes itself to `cgroup.procs` between `fork` and `exec`), so nothing of the
//! function ever runs unlimited, and the move (which can take milliseconds on cgroup v1) is
//! not counted as its init. Every limit is read back after writing; when none can be set,
//! [`Sizing::new`] fails with one line saying what it needs, and nothing runs.
//!
//! The kernel counts what the processes did: the peak memory (v2 `memory.peak`, v1
//! `memory.max_usage_in_bytes`) and out-of-memory kills (`oom_kill` in v2 `memory.events`,
//! v1 `memory.oom_control`), which the run reports as Lambda does (`Runtime.OutOfMemory`).
//!
//! ```no_run
//! use lambda_perf_local::sizing::{MemorySize, Sizing};
//!
//! let sizing = Sizing::new(MemorySize::new(512)?)?;
//! println!("cgroup {}: {:.3} of a core", sizing.version().as_str(), sizing.memory().cpu_cores());
//! let cgroup = sizing.create_cgroup()?; // one per function process
//! # Ok::<(), lambda_perf_local::sizing::SizingError>(())
//! ```

mod cgroup;
mod hierarchy;
mod limits;

use std::fmt;
use std::sync::Arc;

pub use self::cgroup::{Cgroups, FunctionCgroup};
pub use self::hierarchy::CgroupVersion;
pub use self::limits::{CPU_PERIOD, Limits, MAX_VCPUS, MB_PER_VCPU, MemorySize};

/// Why a size cannot be imposed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizingError {
    /// Not a memory size Lambda offers (128 to 10,240 MB).
    InvalidSize(String),
    /// No cgroup could be created and limited; what was tried, and why it failed.
    Unavailable {
        /// One reason per attempt.
        reasons: Vec<String>,
    },
}

impl fmt::Display for SizingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSize(text) => write!(
                f,
                "{text:?} is not a Lambda memory size: a number of MB from {} to {}",
                MemorySize::MIN_MB,
                MemorySize::MAX_MB
            ),
            Self::Unavailable { reasons } => {
                write!(
                    f,
                    "sizing needs a cgroup it can create and limit: cgroup v2 with the cpu and \
                     memory controllers (cpu.max, memory.max) or the cgroup v1 cpu and memory \
                     hierarchies (cpu.cfs_quota_us, memory.limit_in_bytes), usually as root"
                )?;
                if !reasons.is_empty() {
                    write!(f, "; here: {}", reasons.join("; "))?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SizingError {}

/// A memory size to impose on a function, with the cgroups that impose it.
#[derive(Debug, Clone)]
pub struct Sizing {
    cgroups: Arc<Cgroups>,
    memory: MemorySize,
}

impl Sizing {
    /// Finds the machine's cgroups and checks they can impose a size (see the
    /// [module docs](self)).
    pub fn new(memory: MemorySize) -> Result<Self, SizingError> {
        Ok(Self::with_cgroups(Arc::new(Cgroups::detect()?), memory))
    }

    /// `memory` imposed through cgroups already found.
    pub fn with_cgroups(cgroups: Arc<Cgroups>, memory: MemorySize) -> Self {
        Self { cgroups, memory }
    }

    /// The memory size.
    pub fn memory(&self) -> MemorySize {
        self.memory
    }

    /// What the size imposes.
    pub fn limits(&self) -> Limits {
        Limits::of(self.memory)
    }

    /// The cgroup version used.
    pub fn version(&self) -> CgroupVersion {
        self.cgroups.version()
    }

    /// The cgroups.
    pub fn cgroups(&self) -> &Arc<Cgroups> {
        &self.cgroups
    }

    /// A new cgroup with this size's limits, for one function process.
    pub fn create_cgroup(&self) -> Result<FunctionCgroup, SizingError> {
        self.cgroups.create(&self.limits())
    }
}

/// The CPUs this machine lets lambda-perf's processes use (its CPUs, narrowed by the affinity
/// mask and lambda-perf's own cgroup quota: [`std::thread::available_parallelism`]); `None`
/// when it does not say. A size whose CPU share is above it gets at most this many here, less
/// than Lambda would give it.
pub fn machine_cpus() -> Option<u32> {
    std::thread::available_parallelism()
        .ok()
        .and_then(|cpus| u32::try_from(cpus.get()).ok())
}

/// `machine_cpus`, when a share of `cpu_cores` is more than them: what a size got at most
/// here, less than Lambda gives it; `None` when the machine gives the whole share (or says
/// nothing).
pub fn cpu_capped_at(cpu_cores: f64, machine_cpus: Option<u32>) -> Option<u32> {
    machine_cpus.filter(|&cpus| cpu_cores > f64::from(cpus))
}

/// The peak resident memory of one process (`VmHWM` of `/proc/<pid>/status`), for runs
/// without a size; `None` once the process is gone.
pub(crate) fn process_peak_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_peak() {
        let peak = process_peak_bytes(std::process::id()).expect("VmHWM of this process");
        assert!(peak > 1024 * 1024, "{peak}");
        assert_eq!(process_peak_bytes(u32::MAX), None);
    }
}
