//! [`MemorySize`] and the [`Limits`] Lambda derives from it: the memory cap and a CPU share
//! in proportion (one vCPU at 1,769 MB, at most six).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SizingError;

/// The memory that buys one full vCPU on Lambda.
pub const MB_PER_VCPU: f64 = 1769.0;
/// The most vCPUs a function gets (at 10,240 MB).
pub const MAX_VCPUS: f64 = 6.0;
/// The CFS period the CPU quota is given in: 20 ms, finer than the kernel's default 100 ms
/// so that a short invocation is throttled in proportion instead of running a whole period
/// at full speed. At 128 MB the quota is 1.45 ms, above the kernel's 1 ms minimum.
pub const CPU_PERIOD: Duration = Duration::from_millis(20);

/// A Lambda memory size in MB (MiB, as Lambda counts): 128 to 10,240.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct MemorySize(u32);

impl MemorySize {
    /// The smallest size Lambda offers.
    pub const MIN_MB: u32 = 128;
    /// The largest size Lambda offers.
    pub const MAX_MB: u32 = 10_240;

    /// `mb` megabytes, if Lambda offers it.
    pub fn new(mb: u32) -> Result<Self, SizingError> {
        if (Self::MIN_MB..=Self::MAX_MB).contains(&mb) {
            Ok(Self(mb))
        } else {
            Err(SizingError::InvalidSize(mb.to_string()))
        }
    }

    /// The size in MB.
    pub fn mb(self) -> u32 {
        self.0
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        u64::from(self.0) * 1024 * 1024
    }

    /// The vCPUs Lambda gives this size: `mb / 1769`, at most 6.
    ///
    /// This is the share of CPU time, in proportion to the memory (one vCPU of credits per
    /// second at 1,769 MB), which is what a run imposes. It reaches 5.79 at 10,240 MB, the
    /// largest size: the "6 vCPUs" Lambda's announcements give that size are the CPUs the
    /// function sees (as many as 6 from about 8,846 MB), not its share of them.
    ///
    /// ```
    /// use lambda_perf_local::sizing::MemorySize;
    /// let cores = |mb| MemorySize::new(mb).unwrap().cpu_cores();
    /// assert_eq!(cores(1769), 1.0);
    /// assert!((cores(128) - 0.0724).abs() < 0.0001);
    /// assert_eq!(cores(10_240), 5.788581119276428);
    /// ```
    pub fn cpu_cores(self) -> f64 {
        (f64::from(self.0) / MB_PER_VCPU).min(MAX_VCPUS)
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} MB", self.0)
    }
}

impl FromStr for MemorySize {
    type Err = SizingError;

    /// `1024`, or `1024MB` / `1024 MB`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.trim().trim_end_matches("MB").trim_end();
        digits
            .parse::<u32>()
            .map_err(|_| SizingError::InvalidSize(text.to_owned()))
            .and_then(Self::new)
    }
}

impl TryFrom<u32> for MemorySize {
    type Error = SizingError;

    fn try_from(mb: u32) -> Result<Self, Self::Error> {
        Self::new(mb)
    }
}

impl From<MemorySize> for u32 {
    fn from(size: MemorySize) -> Self {
        size.0
    }
}

/// What a memory size imposes on the function's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The size.
    pub memory: MemorySize,
    /// The memory cap in bytes.
    pub memory_bytes: u64,
    /// The CFS period, in microseconds.
    pub cpu_period_us: u64,
    /// The CPU time the processes may use per period, in microseconds.
    pub cpu_quota_us: u64,
}

impl Limits {
    /// The limits of `memory`: a cap of that many MB, and `cpu_cores` of a core as a quota
    /// per [`CPU_PERIOD`].
    ///
    /// ```
    /// use lambda_perf_local::sizing::{Limits, MemorySize};
    /// let limits = Limits::of(MemorySize::new(128).unwrap());
    /// assert_eq!(limits.memory_bytes, 128 * 1024 * 1024);
    /// assert_eq!((limits.cpu_quota_us, limits.cpu_period_us), (1447, 20_000));
    /// ```
    pub fn of(memory: MemorySize) -> Self {
        let period = CPU_PERIOD.as_micros() as u64;
        let quota = (period as f64 * memory.cpu_cores()).round() as u64;
        Self {
            memory,
            memory_bytes: memory.bytes(),
            cpu_period_us: period,
            cpu_quota_us: quota.max(1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_stay_in_range() {
        assert_eq!("1024".parse::<MemorySize>().unwrap().mb(), 1024);
        assert_eq!("3008MB".parse::<MemorySize>().unwrap().mb(), 3008);
        assert_eq!(" 256 MB ".parse::<MemorySize>().unwrap().mb(), 256);
        for bad in ["127", "10241", "", "lots", "-5", "1.5"] {
            assert!(bad.parse::<MemorySize>().is_err(), "{bad}");
        }
        let error = "64".parse::<MemorySize>().unwrap_err().to_string();
        assert!(error.contains("128") && error.contains("10240"), "{error}");
    }

    #[test]
    fn cpu_follows_memory_up_to_six_cores() {
        let limits = |mb| Limits::of(MemorySize::new(mb).unwrap());
        assert_eq!(limits(1769).cpu_quota_us, 20_000);
        assert_eq!(limits(3538).cpu_quota_us, 40_000);
        assert_eq!(limits(10_240).cpu_quota_us, 115_772);
        assert!(limits(10_240).cpu_quota_us <= 6 * 20_000);
        assert_eq!(limits(512).memory_bytes, 512 << 20);
    }
}
