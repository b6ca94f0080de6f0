//! The summary of a run: [`Summary`], [`Distribution`] (nearest-rank percentiles) and
//! [`ColdWarmComparison`].

use serde::{Deserialize, Serialize};

/// The nearest-rank `percent`-th percentile of `values` (in any order): the smallest value
/// such that at least `percent` % of the values are less than or equal to it. `None` for no
/// values; `percent` is clamped to `0..=100` (0 gives the minimum).
///
/// ```
/// use lambda_perf_local::report::nearest_rank;
/// let values = [15.0, 20.0, 35.0, 40.0, 50.0];
/// assert_eq!(nearest_rank(&values, 30.0), Some(20.0));
/// assert_eq!(nearest_rank(&values, 50.0), Some(35.0));
/// assert_eq!(nearest_rank(&values, 100.0), Some(50.0));
/// ```
pub fn nearest_rank(values: &[f64], percent: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let percent = percent.clamp(0.0, 100.0);
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Count, extremes, mean and nearest-rank p50/p90/p99 of some durations (milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Distribution {
    /// How many values.
    pub count: usize,
    /// The smallest.
    pub min: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// The median (nearest rank).
    pub p50: f64,
    /// The 90th percentile (nearest rank).
    pub p90: f64,
    /// The 99th percentile (nearest rank).
    pub p99: f64,
    /// The largest.
    pub max: f64,
}

impl Distribution {
    /// The distribution of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let rank = |p| nearest_rank(&values, p);
        Some(Self {
            count: values.len(),
            min: rank(0.0)?,
            mean: mean(&values),
            p50: rank(50.0)?,
            p90: rank(90.0)?,
            p99: rank(99.0)?,
            max: rank(100.0)?,
        })
    }
}

/// The mean of finite `values`: finite too, even where their sum is not (two values of
/// 1e308), which JSON could not hold.
pub(crate) fn mean(values: &[f64]) -> f64 {
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    if mean.is_finite() {
        mean
    } else {
        values.iter().map(|value| value / count).sum()
    }
}

/// Durations of cold starts (`cold`, `restart`) against the other invocations whose start
/// kind is known (`warm`, `prewarmed`, `restored`, or, when the function told nothing, not
/// the first of its process).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ColdWarmComparison {
    /// Durations of cold-start invocations.
    pub cold: Option<Distribution>,
    /// Durations of the other invocations.
    pub warm: Option<Distribution>,
    /// `cold.p50 - warm.p50`, when both are known.
    pub p50_difference_ms: Option<f64>,
    /// `cold.p50 / warm.p50`, when both are known and `warm.p50` is not zero.
    pub p50_ratio: Option<f64>,
}

/// Counts and percentiles of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// How many invocations.
    pub invocations: usize,
    /// How many were cold starts (`cold` or `restart`; for an invocation the function told
    /// nothing about, the first of its process on demand, as Lambda counts them).
    pub cold_starts: usize,
    /// `cold_starts` as a percentage of `invocations` (0 when there are none).
    pub cold_start_percent: f64,
    /// How many did not end [`Status::Ok`](super::Status::Ok).
    pub errors: usize,
    /// Init durations (first invocation of each process).
    pub init: Option<Distribution>,
    /// Invocation durations, as the harness measured them.
    pub duration: Option<Distribution>,
    /// Cold against warm durations.
    pub cold_vs_warm: ColdWarmComparison,
    /// How many problems were found.
    pub problems: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 50.0), None);
        assert_eq!(nearest_rank(&[7.0], 99.0), Some(7.0));
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(nearest_rank(&hundred, 50.0), Some(50.0));
        assert_eq!(nearest_rank(&hundred, 90.0), Some(90.0));
        assert_eq!(nearest_rank(&hundred, 99.0), Some(99.0));
        assert_eq!(nearest_rank(&hundred, 0.0), Some(1.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        // ceil(0.99 * 10) = 10
        assert_eq!(nearest_rank(&ten, 99.0), Some(10.0));
        assert_eq!(nearest_rank(&ten, 90.0), Some(9.0));
        assert_eq!(nearest_rank(&ten, 50.0), Some(5.0));
        assert_eq!(nearest_rank(&[3.0, 1.0, 2.0, 4.0], 50.0), Some(2.0));
    }

    #[test]
    fn distribution() {
        assert_eq!(Distribution::of(&[]), None);
        let d = Distribution::of(&[4.0, 1.0, 3.0, 2.0]).expect("values");
        assert_eq!((d.count, d.min, d.max, d.mean), (4, 1.0, 4.0, 2.5));
        assert_eq!((d.p50, d.p90, d.p99), (2.0, 4.0, 4.0));
    }
}
