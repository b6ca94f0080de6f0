//! Segment and exception ids: 16 lowercase hex digits, unique within the process.
//!
//! A counter run through a bijective 64-bit mixer keyed with a random value from the
//! operating system: as fast as an increment, never repeating under one key, and
//! unpredictable across processes. Each thread takes the counter's values in blocks, so that
//! threads drawing ids at once do not pass one cache line back and forth for every id.
//! [`reseed`] draws a new key: processes restored from one snapshot (SnapStart) share the
//! counter and the key they had when it was taken, and would otherwise emit the same ids.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The counter's values a thread takes at once.
const BLOCK: u64 = 1024;

thread_local! {
    /// This thread's next value of the counter and the end of its block (exclusive).
    static TAKEN: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// The mixer's key; 0 until first drawn.
static KEY: AtomicU64 = AtomicU64::new(0);

/// A key from the operating system's random source (the standard library's per-process
/// hash keys, mixed with the process id, where that source fails).
fn fresh_key() -> u64 {
    let key = getrandom::u64().unwrap_or_else(|_| {
        RandomState::new().hash_one((std::process::id(), COUNTER.load(Ordering::Relaxed)))
    });
    key.max(1)
}

fn key() -> u64 {
    match KEY.load(Ordering::Relaxed) {
        0 => {
            let drawn = fresh_key();
            match KEY.compare_exchange(0, drawn, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => drawn,
                Err(existing) => existing,
            }
        }
        key => key,
    }
}

/// Draws a new key from the operating system: ids from now on differ from those of any other
/// process restored from the same snapshot.
pub(crate) fn reseed() {
    KEY.store(fresh_key(), Ordering::Relaxed);
}

/// A value of the counter no other call gets: the next of this thread's block, or the first
/// of a new block when it is used up. (`TAKEN` has no destructor, so it is there as long as
/// the thread is; a single value of the counter is the answer if it ever is not.)
fn count() -> u64 {
    TAKEN
        .try_with(|taken| {
            let (next, end) = match taken.get() {
                (next, end) if next < end => (next, end),
                _ => {
                    let start = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
                    (start, start + BLOCK)
                }
            };
            taken.set((next + 1, end));
            next
        })
        .unwrap_or_else(|_| COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The next id: a bijection of the counter under the current key.
pub(crate) fn next() -> u64 {
    let n = count();
    let id = mix(n ^ key());
    // 0 is not a valid id.
    if id == 0 { 1 } else { id }
}

/// The splitmix64 finalizer: a bijection on u64.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// An id as X-Ray writes it.
#[cfg_attr(
    not(any(test, feature = "test-util", feature = "opentelemetry")),
    allow(dead_code)
)]
pub(crate) fn hex(id: u64) -> String {
    Hex::new(id).as_str().to_owned()
}

/// The two lowercase hex digits of each byte.
const BYTE_DIGITS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0xf]];
        byte += 1;
    }
    pairs
};

/// An id as X-Ray writes it (16 lowercase hex digits), formatted without allocating; also how
/// a subsegment keeps its parent's id, so that the one a trace header gives (Lambda's function
/// segment) is copied, not converted, from the header to the document.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hex([u8; 16]);

impl Hex {
    /// `digits`, 16 lowercase hex digits already checked (by the trace header's reader).
    #[inline]
    pub(crate) fn from_lowercase_digits(digits: [u8; 16]) -> Self {
        debug_assert!(
            digits
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)),
            "{digits:?}"
        );
        Self(digits)
    }

    /// The id's value (what [`Hex::new`] was given, or what the digits read).
    pub(crate) fn value(self) -> u64 {
        let [high, low] = [0, 8].map(|at| {
            let mut eight = [0; 8];
            eight.copy_from_slice(&self.0[at..at + 8]);
            lowercase_word_value(u64::from_be_bytes(eight))
        });
        high << 32 | low
    }

    #[inline]
    pub(crate) fn new(id: u64) -> Self {
        let mut digits = [0; 16];
        for (pair, byte) in digits.chunks_exact_mut(2).zip(id.to_be_bytes()) {
            pair.copy_from_slice(&BYTE_DIGITS[usize::from(byte)]);
        }
        Self(digits)
    }

    /// The digits between double quotes: the id as a JSON string.
    #[inline]
    pub(crate) fn quoted(&self) -> [u8; 18] {
        let mut quoted = [b'"'; 18];
        quoted[1..17].copy_from_slice(&self.0);
        quoted
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits were written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The value of eight lowercase hex digits read as one word (the first the most significant),
/// a byte each: a digit's value is its low four bits, plus 9 for a letter (`a` is `0x61`, the
/// only digits with bit `0x40` set).
fn lowercase_word_value(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let values = (word & (ONES * 0x0f)) + (word >> 6 & ONES) * 9;
    // Side by side: two values to a byte, then two bytes to 16 bits, then to 32.
    let pairs = (values >> 4 | values) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs >> 8 | pairs) & 0x0000_ffff_0000_ffff;
    (quads >> 16 | quads) & 0xffff_ffff
}

impl std::fmt::Debug for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Hex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hex_is_what_format_writes() {
        for id in [0, 1, 0xf, 0x7065_460c_dd3d_e6bb, u64::MAX, next(), next()] {
            assert_eq!(Hex::new(id).as_str(), format!("{id:016x}"));
            assert_eq!(Hex::new(id).quoted(), format!("\"{id:016x}\"").as_bytes());
            assert_eq!(Hex::new(id).value(), id);
        }
    }

    /// Every digit at every place reads back as its value.
    #[test]
    fn the_value_of_the_digits_is_the_id() {
        for at in 0..16 {
            for digit in 0..16_u64 {
                let id = digit << (4 * at) | 0x0123_4567_89ab_cdef & !(0xf << (4 * at));
                assert_eq!(Hex::new(id).value(), id, "{id:016x}");
            }
        }
    }

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

    #[test]
    fn threads_drawing_at_once_never_draw_the_same_value() {
        let per_thread = 3 * BLOCK as usize + 17;
        let drawn: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..per_thread).map(|_| count()).collect::<Vec<_>>()))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let all: HashSet<u64> = drawn.iter().flatten().copied().collect();
        assert_eq!(all.len(), 4 * per_thread);
    }

    /// A thread's next value follows its previous one even when another thread drew in
    /// between: the counter is not shared value by value.
    #[test]
    fn a_thread_draws_from_its_own_block() {
        let (drawn, draw_again) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        let (first, between, second) = std::thread::scope(|scope| {
            let drawer = scope.spawn(|| {
                let first = count();
                drawn.wait();
                draw_again.wait();
                (first, count())
            });
            drawn.wait();
            let between = count();
            draw_again.wait();
            let (first, second) = drawer.join().unwrap();
            (first, between, second)
        });
        assert_ne!(
            between,
            first + 1,
            "the other thread drew from a block of its own"
        );
        assert_eq!(second, first + 1);
    }

    #[test]
    fn a_new_key_changes_the_sequence() {
        let before = key();
        reseed();
        assert_ne!(key(), before);
    }
}
