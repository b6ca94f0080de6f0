//! What an invocation used of the process: CPU time and peak memory, and from them whether it
//! was CPU-bound — the question "does more memory help?" answered from production traffic.
//!
//! Lambda gives a function CPU in proportion to its memory: [`MB_PER_VCPU`] MB buy one vCPU,
//! so 128 MB buy 0.072 of one, at most [`MAX_VCPUS`]. `cpu_ratio` is CPU time over duration;
//! `cpu_allotment_used` divides it by the vCPUs the memory size allots
//! (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`; on Lambda Managed Instances, whose vCPUs are configured
//! apart from the memory, by those the process may run on). Near 1, the invocation used all
//! the CPU its size gives: it was CPU-bound, and more memory shortens it (single-threaded code
//! up to 1,769 MB). Near 0, it was waiting on I/O: more memory will not help. A CPU-bound invocation at
//! 128 MB reads `cpu_ratio` 0.072 and `cpu_allotment_used` 1.0. The figures are the
//! process's (`getrusage(RUSAGE_SELF)`), so with several invocations at once (Managed
//! Instances) each counts the others' CPU time too.

use std::sync::OnceLock;
use std::time::Duration;

use super::InitializationType;
use crate::formats::time::millis_f64;
use crate::warn::WarnOnce;

/// The memory size that buys one vCPU, in MB.
pub(crate) const MB_PER_VCPU: f64 = 1769.0;
/// The most vCPUs a memory size buys.
pub(crate) const MAX_VCPUS: f64 = 6.0;

/// Bytes in one unit of `getrusage(2)`'s `ru_maxrss`: kilobytes on Linux (Lambda's) and the
/// BSDs, bytes on Apple's systems (a developer's Mac).
#[cfg(unix)]
const MAX_RSS_UNIT_BYTES: u64 = if cfg!(target_vendor = "apple") {
    1
} else {
    1024
};

/// `ru_maxrss`, counted in units of `unit_bytes`, in kilobytes.
#[cfg(unix)]
fn max_rss_kb(ru_maxrss: libc::c_long, unit_bytes: u64) -> u64 {
    u64::try_from(ru_maxrss)
        .unwrap_or(0)
        .saturating_mul(unit_bytes)
        / 1024
}

/// This process image's own peak resident memory, in kilobytes: `VmHWM` of
/// `/proc/self/status` (Linux). `None` without `/proc` (a container that does not mount it).
/// Read through one descriptor kept open and a buffer on the stack: no allocation.
#[cfg(target_os = "linux")]
fn vm_hwm_kb() -> Option<u64> {
    use std::os::unix::fs::FileExt;

    static STATUS: OnceLock<Option<std::fs::File>> = OnceLock::new();
    #[cfg(test)]
    tests::HWM_READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let status = STATUS
        .get_or_init(|| std::fs::File::open("/proc/self/status").ok())
        .as_ref()?;
    let mut buffer = [0_u8; 4096];
    let read = status.read_at(&mut buffer, 0).ok()?;
    let text = &buffer[..read];
    let at = text.windows(6).position(|window| window == b"VmHWM:")?;
    let value = text[at + 6..].trim_ascii_start();
    let digits = value
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    std::str::from_utf8(&value[..digits]).ok()?.parse().ok()
}

/// The vCPUs Lambda allots `memory_mb`.
fn allotted_vcpus(memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / MB_PER_VCPU).min(MAX_VCPUS)
}

/// The vCPUs the execution environment has, for `cpu_allotment_used`: those its memory size
/// allots (`memory_size_mb`, unknown when zero); on Lambda Managed Instances, whose vCPUs
/// are configured apart from the memory (2 GB and one vCPU at least, up to 8 GB a vCPU),
/// those the process may run on (its CPU affinity and cgroup quota, read once).
pub(crate) fn environment_vcpus(
    initialization_type: InitializationType,
    memory_size_mb: Option<u32>,
) -> Option<f64> {
    if initialization_type == InitializationType::ManagedInstances {
        static PROCESS_VCPUS: OnceLock<Option<f64>> = OnceLock::new();
        return *PROCESS_VCPUS.get_or_init(|| {
            std::thread::available_parallelism()
                .ok()
                .map(|vcpus| vcpus.get() as f64)
        });
    }
    memory_size_mb.filter(|&mb| mb > 0).map(allotted_vcpus)
}

/// The process's resource use at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    /// User plus system CPU time since the process started.
    cpu: Duration,
    /// The largest resident set size so far, in kilobytes.
    max_rss_kb: u64,
    /// The page faults so far (minor and major): the resident set grows by them (the
    /// kernel's merging of pages into huge ones aside), so an unchanged count is an unchanged
    /// peak.
    faults: u64,
}

impl Usage {
    /// The process's use now; `None` where the system does not say.
    #[cfg(unix)]
    pub(crate) fn now() -> Option<Self> {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: getrusage writes a whole `rusage` through the pointer on success, and the
        // value is read only then.
        #[allow(unsafe_code)]
        let usage = unsafe {
            if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
                return None;
            }
            usage.assume_init()
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
        };
        let count = |faults: libc::c_long| u64::try_from(faults).unwrap_or(0);
        Some(Self {
            cpu: time(usage.ru_utime) + time(usage.ru_stime),
            max_rss_kb: max_rss_kb(usage.ru_maxrss, MAX_RSS_UNIT_BYTES),
            faults: count(usage.ru_minflt).saturating_add(count(usage.ru_majflt)),
        })
    }

    /// `self`, its peak this process image's own. Linux keeps in `ru_maxrss` the peak of the
    /// image a process replaced at `exec` — that of the process that spawned it (Lambda's
    /// init, `lambda-perf run`, a test runner) — so it reads the spawner's peak until this
    /// process outgrows it. That inherited peak is found once, by the first reading beyond
    /// `/proc/self/status`' `VmHWM`; a later `ru_maxrss` above it is this process's own, one
    /// at it is replaced by `VmHWM` (without `/proc`, it stays as it is). `VmHWM` is read
    /// again only after a page fault, the way the resident set grows (the kernel
    /// formats the whole status file for it, several times what `getrusage` costs): a warm
    /// invocation that maps no new page reads it from the last time.
    #[cfg(target_os = "linux")]
    fn own_peak(self) -> Self {
        // Zero when nothing was inherited, or when there is no `/proc` to tell.
        static INHERITED_KB: OnceLock<u64> = OnceLock::new();
        // The page faults at the last reading of `VmHWM`, and what it read.
        static LAST_READ: std::sync::Mutex<Option<(u64, u64)>> = std::sync::Mutex::new(None);
        let reported = self.max_rss_kb;
        let inherited = *INHERITED_KB.get_or_init(|| match vm_hwm_kb() {
            Some(own) if reported > own => reported,
            _ => 0,
        });
        if reported > inherited {
            return self;
        }
        let mut last = LAST_READ
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let own_kb = match *last {
            Some((faults, kb)) if faults == self.faults => kb,
            _ => {
                let kb = vm_hwm_kb().unwrap_or(reported);
                *last = Some((self.faults, kb));
                kb
            }
        };
        Self {
            max_rss_kb: own_kb,
            ..self
        }
    }

    /// `self`: elsewhere `ru_maxrss` is the process's own.
    #[cfg(not(target_os = "linux"))]
    fn own_peak(self) -> Self {
        self
    }

    /// The process's use now: not known where there is no `getrusage` (a developer's Windows
    /// machine; Lambda runs Linux).
    #[cfg(not(unix))]
    pub(crate) fn now() -> Option<Self> {
        None
    }
}

/// Where an invocation's measurement starts: the process's use, and the vCPUs the function's
/// memory size allots.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Baseline {
    began: Usage,
    /// `None` when unknown ([`environment_vcpus`]).
    allotted_vcpus: Option<f64>,
}

impl Baseline {
    /// The process's use now, in an environment of `vcpus` ([`environment_vcpus`]); `None`
    /// where the system does not say (said once, in a warning: the facts then leave the
    /// resource fields out).
    pub(crate) fn now(vcpus: Option<f64>) -> Option<Self> {
        static UNKNOWN: WarnOnce = WarnOnce::new();
        let Some(began) = Usage::now() else {
            UNKNOWN.warn(format_args!(
                "resource usage is on, but this system does not report the process's use \
                 (getrusage); invocation facts leave out cpu_time_ms, peak_rss_mb, cpu_ratio \
                 and cpu_allotment_used"
            ));
            return None;
        };
        Some(Self {
            began,
            allotted_vcpus: vcpus,
        })
    }

    /// What the process used from this baseline to now, over an invocation of `duration`.
    pub(crate) fn until_now(self, duration: Duration) -> Option<ResourceUse> {
        // Only the end's peak is written: the beginning's is not corrected.
        Some(ResourceUse::between(
            self,
            Usage::now()?.own_peak(),
            duration,
        ))
    }
}

/// What an invocation used, in its records' `lambda_perf` facts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ResourceUse {
    /// CPU time (user + system) the process used during the invocation, in ms.
    pub(crate) cpu_time_ms: f64,
    /// The process's peak resident memory so far, in MB.
    pub(crate) peak_rss_mb: f64,
    /// CPU time over duration.
    pub(crate) cpu_ratio: f64,
    /// `cpu_ratio` over the vCPUs the memory size allots: near 1, CPU-bound; near 0,
    /// waiting. `None` when the memory size is unknown.
    pub(crate) cpu_allotment_used: Option<f64>,
}

impl ResourceUse {
    /// The use between `baseline` and `ended`, over an invocation of `duration`.
    pub(crate) fn between(baseline: Baseline, ended: Usage, duration: Duration) -> Self {
        let cpu = ended.cpu.saturating_sub(baseline.began.cpu);
        let ratio = if duration.is_zero() {
            0.0
        } else {
            cpu.as_secs_f64() / duration.as_secs_f64()
        };
        let thousandths = |value: f64| (value * 1000.0).round() / 1000.0;
        Self {
            cpu_time_ms: millis_f64(cpu),
            peak_rss_mb: (ended.max_rss_kb as f64 / 1024.0 * 10.0).round() / 10.0,
            cpu_ratio: thousandths(ratio),
            cpu_allotment_used: baseline
                .allotted_vcpus
                .map(|vcpus| thousandths(ratio / vcpus)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How many times `VmHWM` was read.
    pub(super) static HWM_READS: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_busy_loop_is_cpu_bound_and_a_sleep_is_not() {
        // CPU time, not wall time, decides when the loop stops: a loaded machine makes the
        // loop last longer, not use less of the CPU it got.
        let began = Baseline::now(Some(1.0)).unwrap();
        let start = std::time::Instant::now();
        let mut n = 0_u64;
        loop {
            n = n.wrapping_add(1);
            if n % 4096 == 0 {
                let used = began.until_now(start.elapsed()).unwrap();
                if used.cpu_time_ms >= 60.0 || start.elapsed() > Duration::from_secs(10) {
                    break;
                }
            }
        }
        let busy = began.until_now(start.elapsed()).unwrap();
        assert!(busy.cpu_time_ms >= 60.0, "{busy:?}");
        assert!(busy.cpu_ratio > 0.0, "{busy:?}");
        assert!(busy.peak_rss_mb > 0.0, "{busy:?}");
        // One vCPU at 1,769 MB: the share used is the ratio.
        assert_eq!(busy.cpu_allotment_used, Some(busy.cpu_ratio), "{busy:?}");

        // The figures are the process's: other tests of this binary (`cargo test` runs them
        // on threads of one process) may use CPU meanwhile, so the sleep's figure is checked
        // against the process's CPU clock read just outside and just inside the measurement.
        let outer = cpu_time::ProcessTime::now();
        let began = Baseline::now(None).unwrap();
        let inner = cpu_time::ProcessTime::now();
        let sleeping = cpu_time::ThreadTime::now();
        let start = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(60));
        let slept = sleeping.elapsed();
        let inner = millis_f64(inner.elapsed());
        let wall = start.elapsed();
        let idle = began.until_now(wall).unwrap();
        let outer = millis_f64(outer.elapsed());
        // getrusage(2) reports microseconds; 1 ms covers that and the clocks' reads.
        assert!(
            inner - 1.0 <= idle.cpu_time_ms && idle.cpu_time_ms <= outer + 1.0,
            "{idle:?}: the process's CPU clock moved {inner} ms inside, {outer} ms outside"
        );
        assert!(
            slept < Duration::from_millis(20),
            "the sleep used {slept:?} of CPU"
        );
        let ratio = idle.cpu_time_ms / millis_f64(wall);
        assert!(
            (idle.cpu_ratio - ratio).abs() < 0.01,
            "{idle:?} over {wall:?}"
        );
        // Alone in its process (as nextest runs each test), the sleep reads as waiting.
        if outer < 5.0 {
            assert!(idle.cpu_ratio < 0.05, "{idle:?}");
            assert!(busy.cpu_ratio > idle.cpu_ratio, "{busy:?} {idle:?}");
        }
        assert_eq!(idle.cpu_allotment_used, None, "no memory size: {idle:?}");
    }

    /// `ru_maxrss` counts kilobytes on Linux but bytes on Apple's systems: a Mac's 20 MB
    /// process must not read as 20 GB.
    #[cfg(unix)]
    #[test]
    fn peak_memory_is_read_in_the_unit_of_the_system() {
        let twenty_mb: libc::c_long = 20 * 1024 * 1024;
        assert_eq!(max_rss_kb(twenty_mb / 1024, 1024), 20 * 1024, "Linux");
        assert_eq!(max_rss_kb(twenty_mb, 1), 20 * 1024, "Apple");
        assert_eq!(max_rss_kb(-1, 1024), 0);
    }

    /// Linux keeps in `ru_maxrss` the peak of the image a process replaced at `exec`: that of
    /// the process that spawned it (Lambda's init, `lambda-perf run`), until it outgrows it.
    /// A function smaller than its spawner reports its own peak, not the spawner's. Runs
    /// itself again in a child process, spawned by this one once it holds 128 MB.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_peak_is_this_process_not_the_one_that_spawned_it() {
        const CHILD: &str = "LAMBDA_PERF_TEST_PEAK_CHILD";
        let test =
            "invocation::resources::tests::the_peak_is_this_process_not_the_one_that_spawned_it";
        if std::env::var_os(CHILD).is_some() {
            let began = Baseline::now(None).unwrap();
            let used = began.until_now(Duration::from_millis(1)).unwrap();
            let own_mb = vm_hwm_kb().unwrap() as f64 / 1024.0;
            assert!(
                used.peak_rss_mb < 64.0 && (used.peak_rss_mb - own_mb).abs() < 8.0,
                "peak_rss_mb {} against this process's own peak, VmHWM {own_mb} MB",
                used.peak_rss_mb
            );
            // Warm readings that map no new page do not read the status file again: the
            // page faults are counted, and without one the peak is as it was.
            let reads = HWM_READS.load(Ordering::Relaxed);
            for _ in 0..1_000 {
                std::hint::black_box(began.until_now(Duration::from_millis(1)));
            }
            let again = HWM_READS.load(Ordering::Relaxed) - reads;
            assert!(again < 10, "VmHWM read {again} times in 1,000 readings");
            // Memory touched since: the peak grows with it, still under the spawner's.
            let grown = vec![1_u8; 32 << 20];
            std::hint::black_box(&grown);
            let after = began.until_now(Duration::from_millis(1)).unwrap();
            assert!(
                after.peak_rss_mb >= used.peak_rss_mb + 30.0,
                "peak_rss_mb {} after 32 MB more than {}",
                after.peak_rss_mb,
                used.peak_rss_mb
            );
            return;
        }
        let held = vec![1_u8; 128 << 20];
        std::hint::black_box(&held);
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        drop(held);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("1 passed"),
            "{output:?}"
        );
    }

    /// On Lambda Managed Instances the vCPUs are configured apart from the memory (2 GB and
    /// 1 vCPU at least, 4 or 8 GB a vCPU for memory-hungry code): 8 GB there is not the 4.6
    /// vCPUs it is elsewhere, and a CPU-bound invocation must not read as one a fifth busy.
    /// The share is then of the vCPUs the process may run on.
    #[test]
    fn on_managed_instances_the_share_is_of_the_vcpus_the_process_has() {
        let own = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        let vcpus = |kind, mb| environment_vcpus(kind, Some(mb));
        assert_eq!(vcpus(InitializationType::ManagedInstances, 8192), Some(own));
        assert_eq!(vcpus(InitializationType::ManagedInstances, 2048), Some(own));
        for kind in [
            InitializationType::OnDemand,
            InitializationType::ProvisionedConcurrency,
            InitializationType::SnapStart,
        ] {
            assert_eq!(vcpus(kind, 1769), Some(1.0));
            assert_eq!(environment_vcpus(kind, Some(0)), None);
            assert_eq!(environment_vcpus(kind, None), None);
        }
    }

    #[test]
    fn the_share_used_is_against_the_vcpus_the_size_allots() {
        let baseline = |memory_mb| Baseline {
            began: Usage {
                cpu: Duration::from_millis(500),
                max_rss_kb: 1024,
                faults: 0,
            },
            allotted_vcpus: Some(memory_mb).filter(|&mb| mb > 0).map(allotted_vcpus),
        };
        // 72.4 ms of CPU in a second: all that 128 MB allot (128/1769 of a vCPU).
        let ended = Usage {
            cpu: Duration::from_micros(572_358),
            max_rss_kb: 20 * 1024,
            faults: 0,
        };
        let used = ResourceUse::between(baseline(128), ended, Duration::from_secs(1));
        assert_eq!(used.cpu_ratio, 0.072);
        assert_eq!(used.cpu_allotment_used, Some(1.0));
        assert_eq!(used.peak_rss_mb, 20.0);
        // The same CPU time at 1,769 MB: 7 % of the one vCPU it allots.
        let used = ResourceUse::between(baseline(1769), ended, Duration::from_secs(1));
        assert_eq!(used.cpu_allotment_used, Some(0.072));
        // Six vCPUs at most: 10,240 MB allot 5.79, and 3 s of CPU in a second use half.
        assert!((allotted_vcpus(10_240) - 5.788).abs() < 0.001);
        let ended = Usage {
            cpu: Duration::from_millis(500) + Duration::from_millis(2894),
            max_rss_kb: 1024,
            faults: 0,
        };
        let used = ResourceUse::between(baseline(10_240), ended, Duration::from_secs(1));
        assert_eq!(used.cpu_allotment_used, Some(0.5));
        assert_eq!(allotted_vcpus(u32::MAX), MAX_VCPUS);
        // No time, no ratio.
        let used = ResourceUse::between(baseline(128), ended, Duration::ZERO);
        assert_eq!((used.cpu_ratio, used.cpu_allotment_used), (0.0, Some(0.0)));
    }
}
