//! Per-invocation debug sampling (`POWERTOOLS_LOGGER_SAMPLE_RATE`): whether an invocation is
//! one of the sampled share, decided from its request id alone, so every line and every task
//! of the invocation agree without any state, and a fixed seed makes the decision
//! reproducible.

/// The sample rate and the seed of the decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sampling {
    /// The share of invocations sampled, in `0.0..=1.0`.
    pub(crate) rate: f64,
    pub(crate) seed: u64,
}

impl Sampling {
    /// Whether the invocation `request_id` is sampled.
    pub(crate) fn samples(&self, request_id: &str) -> bool {
        if self.rate <= 0.0 {
            return false;
        }
        if self.rate >= 1.0 {
            return true;
        }
        let mut hash = self.seed ^ 0xcbf2_9ce4_8422_2325;
        for byte in request_id.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        let uniform = (mix(hash) >> 11) as f64 / (1_u64 << 53) as f64;
        uniform < self.rate
    }
}

/// SplitMix64's finalizer: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_id(n: u32) -> String {
        format!("8476a536-e9f4-11e8-9739-{n:012x}")
    }

    #[test]
    fn a_fixed_seed_decides_the_same_way_every_time() {
        let sampling = Sampling {
            rate: 0.5,
            seed: 42,
        };
        let decisions: Vec<bool> = (0..12).map(|n| sampling.samples(&request_id(n))).collect();
        assert_eq!(
            decisions,
            (0..12)
                .map(|n| sampling.samples(&request_id(n)))
                .collect::<Vec<_>>()
        );
        // The seed's own decisions, pinned: a change to the decision shows here.
        assert_eq!(
            decisions,
            [
                false, true, false, false, false, true, false, true, false, true, false, true
            ]
        );
        let other_seed = Sampling {
            seed: 7,
            ..sampling
        };
        let others: Vec<bool> = (0..12)
            .map(|n| other_seed.samples(&request_id(n)))
            .collect();
        assert_ne!(decisions, others);
    }

    #[test]
    fn the_sampled_share_is_the_rate() {
        for rate in [0.01, 0.1, 0.5, 0.9] {
            let sampling = Sampling { rate, seed: 1234 };
            let sampled = (0..20_000)
                .filter(|n| sampling.samples(&request_id(*n)))
                .count();
            let share = sampled as f64 / 20_000.0;
            assert!((share - rate).abs() < 0.015, "rate {rate}: share {share}");
        }
    }

    #[test]
    fn zero_and_one_are_never_and_always() {
        let never = Sampling { rate: 0.0, seed: 1 };
        let always = Sampling { rate: 1.0, seed: 1 };
        assert!((0..100).all(|n| !never.samples(&request_id(n))));
        assert!((0..100).all(|n| always.samples(&request_id(n))));
    }
}
