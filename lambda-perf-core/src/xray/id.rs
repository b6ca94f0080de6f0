//! Segment and exception ids: 16 lowercase hex digits, unique within the process.
//!
//! A counter run through a bijective 64-bit mixer keyed with a per-process random value: as
//! fast as an atomic increment, never repeating within a process, and unpredictable across
//! processes.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    *KEY.get_or_init(|| RandomState::new().hash_one(std::process::id()))
}

/// The next id: a bijection of the counter, so no two calls in a process return the same id.
pub(crate) fn next() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = mix(n ^ key());
    // 0 is not a valid id; the counter would need 2^64 calls to come back to it anyway.
    if id == 0 { 1 } else { id }
}

/// The splitmix64 finalizer: a bijection on u64.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// An id as X-Ray writes it.
pub(crate) fn hex(id: u64) -> String {
    format!("{id:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_16_hex_digits_and_do_not_repeat() {
        let ids: HashSet<String> = (0..100_000).map(|_| hex(next())).collect();
        assert_eq!(ids.len(), 100_000);
        assert!(ids.iter().all(|id| {
            id.len() == 16
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }));
    }
}
