//! The cheapest, the fastest and the best-balanced size of a sweep.

use std::cmp::Ordering;

use super::{SizeResult, SizeStatus};

/// A size that can be chosen: it answered every invocation and has a cost and a warm p50.
struct Candidate {
    memory_mb: u32,
    cost: f64,
    p50: f64,
}

fn candidates(sizes: &[SizeResult]) -> Vec<Candidate> {
    sizes
        .iter()
        .filter(|s| s.status == SizeStatus::Ok)
        .filter_map(|s| {
            Some(Candidate {
                memory_mb: s.memory_mb,
                cost: s.cost_per_million_usd?,
                p50: s.warm_p50_ms?,
            })
        })
        .collect()
}

/// The candidate with the least `key`, ties going to the smaller memory size.
fn least(candidates: &[Candidate], key: impl Fn(&Candidate) -> (f64, f64)) -> Option<u32> {
    candidates
        .iter()
        .min_by(|a, b| {
            let (a1, a2) = key(a);
            let (b1, b2) = key(b);
            a1.total_cmp(&b1)
                .then(a2.total_cmp(&b2))
                .then(a.memory_mb.cmp(&b.memory_mb))
        })
        .map(|c| c.memory_mb)
}

/// `(cheapest, fastest, balanced)`: the least cost per million (then the least p50), the
/// least warm p50 (then the least cost), and the least `weight · cost / max cost +
/// (1 − weight) · p50 / max p50`.
pub(crate) fn choose(sizes: &[SizeResult], weight: f64) -> (Option<u32>, Option<u32>, Option<u32>) {
    let candidates = candidates(sizes);
    let max = |value: fn(&Candidate) -> f64| {
        candidates
            .iter()
            .map(value)
            .max_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal))
            .filter(|m| *m > 0.0)
            .unwrap_or(1.0)
    };
    let (max_cost, max_p50) = (max(|c| c.cost), max(|c| c.p50));
    let cheapest = least(&candidates, |c| (c.cost, c.p50));
    let fastest = least(&candidates, |c| (c.p50, c.cost));
    let balanced = least(&candidates, |c| {
        (
            weight * c.cost / max_cost + (1.0 - weight) * c.p50 / max_p50,
            0.0,
        )
    });
    (cheapest, fastest, balanced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(memory_mb: u32, p50: f64, cost: f64, status: SizeStatus) -> SizeResult {
        SizeResult {
            memory_mb,
            cpu_cores: 0.0,
            status,
            error: None,
            cold_init_ms: None,
            cold_duration_ms: None,
            cold_billed_ms: None,
            warm_invocations: 3,
            warm_p50_ms: Some(p50),
            warm_p90_ms: Some(p50),
            warm_billed_ms: Some(p50),
            peak_memory_mb: None,
            cost_per_million_usd: Some(cost),
        }
    }

    #[test]
    fn cheapest_fastest_balanced() {
        let sizes = [
            size(128, 800.0, 1.9, SizeStatus::Ok),
            size(256, 400.0, 1.8, SizeStatus::Ok),
            size(1024, 110.0, 2.1, SizeStatus::Ok),
            size(3008, 100.0, 5.2, SizeStatus::Ok),
            size(64, 1.0, 0.01, SizeStatus::OutOfMemory),
        ];
        let (cheapest, fastest, balanced) = choose(&sizes, 0.5);
        assert_eq!(cheapest, Some(256));
        assert_eq!(fastest, Some(3008));
        // 1024: 0.5·2.1/5.2 + 0.5·110/800 = 0.27; 256: 0.17 + 0.25 = 0.42.
        assert_eq!(balanced, Some(1024));
        assert_eq!(choose(&sizes[4..], 0.5), (None, None, None));
        // Ties go to the smaller size.
        let tied = [
            size(512, 10.0, 1.0, SizeStatus::Ok),
            size(256, 10.0, 1.0, SizeStatus::Ok),
        ];
        assert_eq!(choose(&tied, 0.5), (Some(256), Some(256), Some(256)));
    }
}
