//! The sums over a run's reported invocations and processes: its [`Summary`] and its
//! [`Resources`].

use lambda_perf_core::InitializationType;

use crate::pricing::{PRICES_REGION, PRICES_TAKEN_ON, PriceTable};

use super::model::{ReportedInvocation, ReportedProcess, Status};
use super::record::RunRecord;
use super::resources::{Billing, Resources, SizingReport};
use super::stats::{ColdWarmComparison, Distribution, Summary};

/// Counts cold starts and errors, and the distributions of init and duration.
pub(super) fn summary(invocations: &[ReportedInvocation], problems: usize) -> Summary {
    let count = invocations.len();
    let cold_starts = invocations.iter().filter(|i| i.cold_start).count();
    let durations = |keep: &dyn Fn(&ReportedInvocation) -> bool| -> Vec<f64> {
        invocations
            .iter()
            .filter(|i| keep(i))
            .filter_map(|i| i.duration_ms)
            .collect()
    };
    let init: Vec<f64> = invocations
        .iter()
        .filter_map(|i| i.init_duration_ms)
        .collect();
    let cold = Distribution::of(&durations(&|i| i.cold_start));
    // The others: every invocation with a duration was handed out to its process, so its
    // start is known, from the function or else from the harness; or failed in the init of
    // its process, which Lambda logs without an `Init Duration`, as `lambda-perf logs`
    // counts it.
    let warm = Distribution::of(&durations(&|i| !i.cold_start));
    let (p50_difference_ms, p50_ratio) = match (&cold, &warm) {
        (Some(cold), Some(warm)) => (
            Some(cold.p50 - warm.p50),
            (warm.p50 > 0.0).then(|| cold.p50 / warm.p50),
        ),
        _ => (None, None),
    };
    Summary {
        invocations: count,
        cold_starts,
        cold_start_percent: if count == 0 {
            0.0
        } else {
            cold_starts as f64 * 100.0 / count as f64
        },
        errors: invocations.iter().filter(|i| i.status.is_failure()).count(),
        init: Distribution::of(&init),
        duration: Distribution::of(&durations(&|_| true)),
        cold_vs_warm: ColdWarmComparison {
            cold,
            warm,
            p50_difference_ms,
            p50_ratio,
        },
        problems,
    }
}

/// The memory size and what was used of it, the code size, and what Lambda would bill.
pub(super) fn resources(
    record: &RunRecord,
    invocations: &[ReportedInvocation],
    processes: &[ReportedProcess],
) -> Resources {
    let memory_size_mb = record
        .sizing
        .map_or_else(|| record.config.memory_mb(), |s| s.memory_mb);
    let (prices, tier) = record.architecture.prices_for(
        record
            .initialization_type()
            .unwrap_or(InitializationType::OnDemand),
    );
    let billed: Vec<u64> = invocations
        .iter()
        .filter_map(|i| i.billed_duration_ms)
        .collect();
    let billed_ms: u64 = billed.iter().sum();
    let gb_seconds = PriceTable::gb_seconds(billed_ms as f64, memory_size_mb);
    let cost_usd = prices.compute_cost(gb_seconds) + prices.request_cost(billed.len() as f64);
    Resources {
        memory_size_mb,
        sizing: record.sizing.map(|s| SizingReport {
            cgroup: s.cgroup.as_str().to_owned(),
            cpu_cores: s.cpu_cores,
            machine_cpus: s.machine_cpus,
        }),
        peak_memory_mb: processes
            .iter()
            .filter_map(|p| p.peak_memory_mb)
            .reduce(f64::max),
        out_of_memory: invocations
            .iter()
            .filter(|i| i.status == Status::OutOfMemory)
            .count(),
        binary: record.code.binary.clone(),
        package: record.code.package.clone(),
        billing: Billing {
            architecture: record.architecture,
            usd_per_gb_second: prices.usd_per_gb_second,
            usd_per_million_requests: prices.usd_per_million_requests,
            prices: format!("{PRICES_REGION}, {tier}, as of {PRICES_TAKEN_ON}"),
            invocations: billed.len(),
            billed_ms,
            gb_seconds,
            cost_usd,
            cost_per_million_usd: (!billed.is_empty())
                .then(|| cost_usd * 1_000_000.0 / billed.len() as f64),
        },
    }
}
