//! What an invocation used of the process: CPU time and peak memory, and from them whether it
//! was CPU-bound — the question "does more memory help?" answered from production traffic.
//!
//! Lambda gives a function CPU in proportion to its memory. An invocation whose CPU time is
//! close to its duration (`cpu_ratio` near 1) was waiting on the CPU: more memory shortens it.
//! One near 0 was waiting on I/O: more memory will not help. The figures are the process's
//! (`getrusage(RUSAGE_SELF)`), so with several invocations at once (Managed Instances) each
//! counts the others' CPU time too.

use std::time::Duration;

use crate::formats::time::millis_f64;

/// The process's resource use at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    /// User plus system CPU time since the process started.
    cpu: Duration,
    /// The largest resident set size so far, in kilobytes.
    max_rss_kb: u64,
}

impl Usage {
    /// The process's use now; `None` where the system does not say.
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
        Some(Self {
            cpu: time(usage.ru_utime) + time(usage.ru_stime),
            max_rss_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        })
    }
}

/// What an invocation used, in its records' `lambda_perf` facts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ResourceUse {
    /// CPU time (user + system) the process used during the invocation, in ms.
    pub(crate) cpu_time_ms: f64,
    /// The process's peak resident memory so far, in MB.
    pub(crate) peak_rss_mb: f64,
    /// CPU time over duration: near 1, CPU-bound; near 0, waiting.
    pub(crate) cpu_ratio: f64,
}

impl ResourceUse {
    /// The use between `began` and `ended`, over an invocation of `duration`.
    pub(crate) fn between(began: Usage, ended: Usage, duration: Duration) -> Self {
        let cpu = ended.cpu.saturating_sub(began.cpu);
        let cpu_ratio = if duration.is_zero() {
            0.0
        } else {
            (cpu.as_secs_f64() / duration.as_secs_f64() * 1000.0).round() / 1000.0
        };
        Self {
            cpu_time_ms: millis_f64(cpu),
            peak_rss_mb: (ended.max_rss_kb as f64 / 1024.0 * 10.0).round() / 10.0,
            cpu_ratio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_loop_is_cpu_bound_and_a_sleep_is_not() {
        // CPU time, not wall time, decides when the loop stops: a loaded machine makes the
        // loop last longer, not use less of the CPU it got.
        let began = Usage::now().unwrap();
        let start = std::time::Instant::now();
        let mut n = 0_u64;
        loop {
            n = n.wrapping_add(1);
            if n % 4096 == 0 {
                let used = ResourceUse::between(began, Usage::now().unwrap(), start.elapsed());
                if used.cpu_time_ms >= 60.0 || start.elapsed() > Duration::from_secs(10) {
                    break;
                }
            }
        }
        let busy = ResourceUse::between(began, Usage::now().unwrap(), start.elapsed());
        assert!(busy.cpu_time_ms >= 60.0, "{busy:?}");
        assert!(busy.cpu_ratio > 0.0, "{busy:?}");
        assert!(busy.peak_rss_mb > 0.0, "{busy:?}");

        let began = Usage::now().unwrap();
        let start = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(60));
        let idle = ResourceUse::between(began, Usage::now().unwrap(), start.elapsed());
        assert!(idle.cpu_time_ms < 20.0, "{idle:?}");
        assert!(idle.cpu_ratio < 0.3, "{idle:?}");
        assert!(busy.cpu_ratio > idle.cpu_ratio, "{busy:?} {idle:?}");
    }
}
