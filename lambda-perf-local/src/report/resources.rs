//! [`Resources`]: what the function was given and what it used (its memory size and the
//! limits imposed, its peak memory, out-of-memory kills, the size of its code) and what
//! Lambda would bill for the run ([`Billing`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::emulator::FunctionCommand;
use crate::pricing::Architecture;

/// A file and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its path, as given.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Artifact {
    /// The file at `path`, if it can be read.
    pub fn measure(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            path: path.display().to_string(),
            bytes: metadata.len(),
        })
    }
}

/// The size of the function's code: its binary (the program it runs) and, when given, its
/// deployment package. The bigger the code, the longer Lambda takes to load it at init.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSize {
    /// The program's file (`None` when it cannot be found).
    pub binary: Option<Artifact>,
    /// The deployment package (`--package`), if given.
    pub package: Option<Artifact>,
}

impl CodeSize {
    /// Measures the program of `command` and the package at `package`.
    pub fn measure(command: &FunctionCommand, package: Option<&Path>) -> Self {
        Self {
            binary: command
                .program_file()
                .and_then(|file| Artifact::measure(&file)),
            package: package.and_then(Artifact::measure),
        }
    }
}

/// The memory size imposed, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SizingReport {
    /// The cgroup version that imposed it (`v1`, `v2`).
    pub cgroup: String,
    /// The CPU share, in cores.
    pub cpu_cores: f64,
    /// The CPUs this machine offered, when known.
    #[serde(default)]
    pub machine_cpus: Option<u32>,
}

impl SizingReport {
    /// This machine's CPUs, when the share is more than them: the function got at most
    /// these, less than Lambda gives the size.
    pub fn cpu_capped_at(&self) -> Option<u32> {
        crate::sizing::cpu_capped_at(self.cpu_cores, self.machine_cpus)
    }
}

/// What Lambda would bill for the run's invocations, at its memory size and the prices of
/// its architecture (see [`crate::pricing`]): the on-demand ones, or under provisioned
/// concurrency (`--init-type provisioned-concurrency`) its duration price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Billing {
    /// The architecture whose prices apply.
    pub architecture: Architecture,
    /// US dollars per GB-second.
    pub usd_per_gb_second: f64,
    /// US dollars per million requests.
    pub usd_per_million_requests: f64,
    /// Where the prices come from: region, tier (or provisioned concurrency) and date.
    pub prices: String,
    /// How many invocations have a billed duration.
    pub invocations: usize,
    /// Their billed durations, summed (ms).
    pub billed_ms: u64,
    /// GB-seconds of those billed durations at the memory size.
    pub gb_seconds: f64,
    /// Compute plus request charges for them, in US dollars (no free tier).
    pub cost_usd: f64,
    /// `cost_usd` scaled to a million such invocations.
    pub cost_per_million_usd: Option<f64>,
}

/// The resources of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resources {
    /// The memory size the function was configured with (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub memory_size_mb: u32,
    /// How the size was imposed; `None` when it was not (the function ran unlimited).
    pub sizing: Option<SizingReport>,
    /// The most memory any of its processes used, in MB.
    pub peak_memory_mb: Option<f64>,
    /// How many invocations ran out of memory.
    pub out_of_memory: usize,
    /// The function's binary.
    pub binary: Option<Artifact>,
    /// Its deployment package.
    pub package: Option<Artifact>,
    /// What Lambda would bill.
    pub billing: Billing,
}

/// Bytes as MB (MiB, as Lambda counts).
pub(crate) fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_size_of_a_program_on_path_and_a_package() {
        let package = tempfile::NamedTempFile::new().unwrap();
        let bytes = b"PK\x05\x06 an empty zip, almost";
        std::fs::write(package.path(), bytes).unwrap();
        let code = CodeSize::measure(&FunctionCommand::new("sh"), Some(package.path()));
        let binary = code.binary.expect("sh is on PATH");
        assert!(binary.bytes > 1000, "{binary:?}");
        assert_eq!(code.package.map(|p| p.bytes), Some(bytes.len() as u64));
        let missing = CodeSize::measure(&FunctionCommand::new("./no/such/fn"), None);
        assert_eq!(missing, CodeSize::default());
        assert_eq!(mb(3 * 1024 * 1024), 3.0);
    }
}
