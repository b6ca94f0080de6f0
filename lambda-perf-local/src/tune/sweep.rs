//! [`tune`]: the sweep over memory sizes.

use std::sync::Arc;

use bytes::Bytes;

use crate::pricing::{PRICES_REGION, PRICES_TAKEN_ON, PriceTable};
use crate::report::{Report, Status, mean, nearest_rank};
use crate::run::{Plan, RunOptions, RunResult, Runner, execute};
use crate::sizing::{Cgroups, MemorySize, Sizing};

use super::choose::choose;
use super::{
    BALANCED_WEIGHT, DISCARD_TOP_BOTTOM, LOCAL_CPU_NOTE, SizeResult, SizeStatus, TuneReport,
};

/// What to sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneOptions {
    /// The memory sizes, in any order (measured ascending).
    pub sizes: Vec<MemorySize>,
    /// Invocations per size: the first is a cold start, the others warm (at least 2).
    pub invocations: usize,
    /// The event sent each time.
    pub event: Bytes,
    /// The share of cold starts the cost per million assumes, in percent.
    pub cold_start_percent: f64,
}

/// Where a sweep is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TuneProgress {
    /// The size being measured.
    pub memory: MemorySize,
    /// Invocations done in all sizes so far.
    pub done: usize,
    /// Invocations the sweep makes in all.
    pub total: usize,
}

/// Runs `runner`'s function at each size of `options` under that size's limits, through
/// `cgroups`, and prices each; `progress` is told after every invocation. The prices are
/// on-demand invocations', their init billed, whatever the runner's configuration says (its
/// initialization type, or `AWS_LAMBDA_MAX_CONCURRENCY` above 1, a Managed Instances run):
/// `lambda-perf tune` refuses an initialization type.
pub async fn tune(
    runner: &Runner,
    cgroups: Arc<Cgroups>,
    options: &TuneOptions,
    progress: &(dyn Fn(TuneProgress) + Sync),
) -> TuneReport {
    let mut sizes = options.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let per_size = options.invocations.max(2);
    let total = per_size * sizes.len();
    // A failure of the function fails its size: no need to go on (and time out again).
    let plan = Plan {
        stop_at_failure: true,
        ..Plan::from_options(&RunOptions {
            invocations: per_size,
            event: options.event.clone(),
            ..RunOptions::default()
        })
    };
    let prices = runner.architecture.prices();
    let mut results = Vec::with_capacity(sizes.len());
    let mut function = String::new();
    let mut code = (None, None);
    for (n, memory) in sizes.iter().enumerate() {
        let mut sized = runner.clone();
        sized.sizing = Some(Sizing::with_cgroups(cgroups.clone(), *memory));
        let before = n * per_size;
        let told = |done: usize| {
            progress(TuneProgress {
                memory: *memory,
                done: before + done,
                total,
            });
        };
        told(0);
        let run = execute(&plan, &sized, &told).await;
        let report = Report::build(&run.record);
        function.clone_from(&report.function);
        code = (
            report.resources.binary.clone(),
            report.resources.package.clone(),
        );
        results.push(measure(
            *memory,
            &run,
            &report,
            prices,
            options.cold_start_percent,
        ));
    }
    let (cheapest, fastest, balanced) = choose(&results, BALANCED_WEIGHT);
    TuneReport {
        function,
        binary: code.0,
        package: code.1,
        architecture: prices.architecture,
        usd_per_gb_second: prices.usd_per_gb_second,
        usd_per_million_requests: prices.usd_per_million_requests,
        prices: format!("{PRICES_REGION}, first tier, as of {PRICES_TAKEN_ON}"),
        cgroup: cgroups.version().as_str().to_owned(),
        machine_cpus: crate::sizing::machine_cpus(),
        invocations_per_size: per_size,
        cold_start_percent: options.cold_start_percent,
        sizes: results,
        cheapest,
        fastest,
        balanced,
        balanced_weight: BALANCED_WEIGHT,
        note: LOCAL_CPU_NOTE.to_owned(),
    }
}

/// The mean of `values` without the lowest and the highest [`DISCARD_TOP_BOTTOM`] of them
/// (as many at each end: the share of their count, rounded down); `None` for no values.
fn trimmed_mean(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a share of a count
    let discarded = (values.len() as f64 * DISCARD_TOP_BOTTOM) as usize;
    let kept = &values[discarded..values.len() - discarded];
    Some(mean(kept))
}

/// The measurements of one size from its run.
fn measure(
    memory: MemorySize,
    run: &RunResult,
    report: &Report,
    prices: PriceTable,
    cold_start_percent: f64,
) -> SizeResult {
    let cold = report
        .invocations
        .first()
        .filter(|i| i.status == Status::Ok && i.platform_init_ms.is_some());
    let warm: Vec<_> = report
        .invocations
        .iter()
        .skip(1)
        .filter(|i| i.status == Status::Ok && i.process == 0)
        .collect();
    let warm_durations: Vec<f64> = warm.iter().filter_map(|i| i.duration_ms).collect();
    let warm_billed: Vec<f64> = warm
        .iter()
        .filter_map(|i| i.billed_duration_ms)
        .map(|b| b as f64)
        .collect();
    let warm_billed_ms = trimmed_mean(warm_billed);
    let cold_billed_ms = cold.and_then(|c| c.billed_duration_ms);
    let share = (cold_start_percent / 100.0).clamp(0.0, 1.0);
    let cost_per_million_usd = warm_billed_ms.map(|warm| {
        let warm_cost = prices.cost_per_million(warm, memory.mb());
        let cold_cost = cold_billed_ms.map_or(warm_cost, |cold| {
            prices.cost_per_million(cold as f64, memory.mb())
        });
        (1.0 - share) * warm_cost + share * cold_cost
    });
    // In an invocation, or between two: killed for its memory either way.
    let out_of_memory = report.resources.out_of_memory > 0
        || report.processes.iter().any(|process| process.out_of_memory);
    let failure = report
        .invocations
        .iter()
        .find(|i| i.status != Status::Ok && i.status != Status::Error)
        .and_then(|i| i.error.clone());
    let (status, error) = if out_of_memory {
        (SizeStatus::OutOfMemory, failure)
    } else if let Some(early_stop) = &run.early_stop {
        let text = early_stop.to_string();
        (
            SizeStatus::Failed,
            Some(text.lines().next().unwrap_or_default().to_owned()),
        )
    } else if let Some(failed) = report.invocations.iter().find(|i| i.status != Status::Ok) {
        // An invocation error is the function failing at this size, as a crash is: the
        // size's figures leave that invocation out, so it must not be chosen on them.
        let count = report
            .invocations
            .iter()
            .filter(|i| i.status != Status::Ok)
            .count();
        (
            SizeStatus::Failed,
            Some(format!(
                "{count} of {} invocation(s) failed ({}): {}",
                report.invocations.len(),
                failed.status.as_str(),
                failed
                    .error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .unwrap_or("no error message")
            )),
        )
    } else if warm_durations.is_empty() {
        (
            SizeStatus::Failed,
            Some(failure.unwrap_or_else(|| "no warm invocation succeeded".to_owned())),
        )
    } else {
        (SizeStatus::Ok, None)
    };
    SizeResult {
        memory_mb: memory.mb(),
        cpu_cores: memory.cpu_cores(),
        status,
        error,
        cold_init_ms: cold.and_then(|c| c.platform_init_ms),
        cold_duration_ms: cold.and_then(|c| c.duration_ms),
        cold_billed_ms,
        warm_invocations: warm_durations.len(),
        warm_p50_ms: nearest_rank(&warm_durations, 50.0),
        warm_p90_ms: nearest_rank(&warm_durations, 90.0),
        warm_billed_ms,
        peak_memory_mb: report.resources.peak_memory_mb,
        // Lambda bills the invocations that failed too: a price made of the others would be
        // no price this size is billed.
        cost_per_million_usd: cost_per_million_usd.filter(|_| status == SizeStatus::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::trimmed_mean;

    #[test]
    fn the_mean_leaves_out_a_fifth_at_each_end_rounded_down() {
        // Nine values: one left out at each end; the stall among them does not count.
        let nine = vec![21.0, 22.0, 420.0, 21.0, 23.0, 22.0, 1.0, 22.0, 21.0];
        assert_eq!(trimmed_mean(nine), Some(152.0 / 7.0));
        // Four: none left out (a fifth of four is below one).
        assert_eq!(trimmed_mean(vec![1.0, 2.0, 3.0, 10.0]), Some(4.0));
        // Ten: two at each end.
        let ten = (1..=10).map(f64::from).collect();
        assert_eq!(trimmed_mean(ten), Some(5.5));
        assert_eq!(trimmed_mean(vec![7.0]), Some(7.0));
        assert_eq!(trimmed_mean(Vec::new()), None);
    }
}
