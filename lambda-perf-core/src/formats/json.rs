//! JSON written by hand, for the records every invocation writes (its EMF line, its handler
//! subsegment, its facts): the fixed parts are byte strings, the variable ones are escaped and
//! formatted straight into the caller's buffer. The output is byte for byte what `serde_json`
//! writes for the same values (the tests hold both side by side), at a fraction of the cost.

use super::padded::PaddedText;

/// A value that writes itself as compact JSON.
pub(crate) trait WriteJson {
    /// Appends the value's JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

/// `null`: what stands for facts a line does not have.
impl WriteJson for () {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"null");
    }
}

/// A JSON value as `serde_json` writes it (writing a `Value` into memory cannot fail).
impl WriteJson for serde_json::Value {
    fn write_json(&self, out: &mut Vec<u8>) {
        let _ = push_serialized(out, self);
    }
}

/// A number written as [`push_f64`] writes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Float(pub(crate) f64);

impl WriteJson for Float {
    fn write_json(&self, out: &mut Vec<u8>) {
        push_f64(out, self.0);
    }
}

/// `serde_json`'s escapes: `"`, `\\` and the control characters; nothing else.
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether any of 8 bytes needs an escape (the bit tricks of "Bit Twiddling Hacks": a byte
/// below 0x20, or one equal to `"` or `\\`).
const fn any_needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const fn has_less_than(word: u64, n: u8) -> bool {
        word.wrapping_sub(ONES * n as u64) & !word & HIGHS != 0
    }
    has_less_than(word, 0x20)
        | has_less_than(word ^ (ONES * b'"' as u64), 1)
        | has_less_than(word ^ (ONES * b'\\' as u64), 1)
}

/// Whether JSON carries `bytes` in a string as they are: none of them is `"`, `\\` or a
/// control character (what `serde_json` escapes). Eight at a time, the last eight overlapping
/// the ones before when the length is no multiple of eight; no early exit, for short texts,
/// and no loop for texts shorter than eight (names, mostly).
pub(crate) fn is_plain_text(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return !any_needs_escape(short_word(bytes));
    }
    let word = |chunk: &[u8]| {
        let mut array = [0; 8];
        array.copy_from_slice(chunk);
        u64::from_ne_bytes(array)
    };
    let mut escapes = any_needs_escape(word(&bytes[bytes.len() - 8..]));
    for chunk in bytes.chunks_exact(8) {
        escapes |= any_needs_escape(word(chunk));
    }
    !escapes
}

/// Every byte of `bytes` (fewer than 8) in one word, some more than once, the rest of it
/// spaces (which need no escape): two overlapping loads of four bytes from four bytes on, three
/// single bytes (the first, the middle and the last) below.
fn short_word(bytes: &[u8]) -> u64 {
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    let len = bytes.len();
    match len {
        0 => SPACES,
        1..4 => {
            let byte = |at: usize| u64::from(bytes[at]);
            byte(0) | byte(len / 2) << 8 | byte(len - 1) << 16 | SPACES << 24
        }
        _ => {
            let half = |at: usize| {
                let mut half = [0; 4];
                half.copy_from_slice(&bytes[at..at + 4]);
                u64::from(u32::from_ne_bytes(half))
            };
            half(0) | half(len - 4) << 32
        }
    }
}

/// How many leading bytes need no escape: 8 at a time (the last 8 overlapping the ones
/// before), byte by byte only in a word that holds an escape or a string shorter than 8.
pub(crate) fn clean_prefix(bytes: &[u8]) -> usize {
    let word_at = |at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_ne_bytes(word)
    };
    if bytes.len() < 8 {
        return first_escape(bytes);
    }
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        if any_needs_escape(word_at(clean)) {
            return clean + first_escape(&bytes[clean..clean + 8]);
        }
        clean += 8;
    }
    let last = bytes.len() - 8;
    if clean < bytes.len() && any_needs_escape(word_at(last)) {
        // The bytes before `clean` are clean: the first escape of the last word is past them.
        return last + first_escape(&bytes[last..]);
    }
    bytes.len()
}

/// The index of the first byte of `bytes` that needs an escape (its length if none does).
fn first_escape(bytes: &[u8]) -> usize {
    /// Which bytes need an escape, by value: one load per byte.
    static NEEDS_ESCAPE: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = needs_escape(byte as u8);
            byte += 1;
        }
        table
    };
    let mut index = 0;
    while index < bytes.len() && !NEEDS_ESCAPE[usize::from(bytes[index])] {
        index += 1;
    }
    index
}

/// Appends `text` as a JSON string, quoted and escaped.
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // The common case (nothing to escape) checked without branching on every word.
    let clean = if is_plain_text(bytes) {
        bytes.len()
    } else {
        clean_prefix(bytes)
    };
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(&bytes[..clean]);
    if clean < bytes.len() {
        push_escaped(out, &bytes[clean..]);
    }
    out.push(b'"');
}

/// Appends `text` escaped, without quotes.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) fn push_str_contents(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let clean = clean_prefix(bytes);
    out.extend_from_slice(&bytes[..clean]);
    if clean < bytes.len() {
        push_escaped(out, &bytes[clean..]);
    }
}

/// Appends `bytes` escaped, byte by byte, runs without escapes copied whole.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut clean = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        if !needs_escape(byte) {
            continue;
        }
        out.extend_from_slice(&bytes[clean..index]);
        clean = index + 1;
        push_escape(out, byte);
    }
    out.extend_from_slice(&bytes[clean..]);
}

/// Appends the escape of one byte that needs one (`"`, `\\` or a control character).
pub(crate) fn push_escape(out: &mut Vec<u8>, byte: u8) {
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        b'\t' => out.extend_from_slice(b"\\t"),
        b'\n' => out.extend_from_slice(b"\\n"),
        0x0c => out.extend_from_slice(b"\\f"),
        b'\r' => out.extend_from_slice(b"\\r"),
        other => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(other >> 4)]);
            out.push(HEX[usize::from(other & 0xf)]);
        }
    }
}

/// Appends `key` as a JSON string followed by `:`.
pub(crate) fn push_key(out: &mut Vec<u8>, key: &str) {
    push_str(out, key);
    out.push(b':');
}

/// Appends an unsigned integer.
pub(crate) fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends an unsigned integer as [`push_u64`] does; below 10^8 (counts, mostly) made eight
/// digits at once ([`eight_digits`]) and copied at a fixed size, without a call. The leading
/// zeros of the eight are their lowest zero bytes, the last digit kept, zero or not.
pub(crate) fn push_count(out: &mut Vec<u8>, value: u64) {
    const EIGHT_DIGITS: u64 = 100_000_000;
    if value >= EIGHT_DIGITS {
        push_u64(out, value);
        return;
    }
    let digits = eight_digits(value);
    // The highest byte (the last digit) marked, so that it is never counted as a zero.
    let zeros = (digits | 1 << 56).trailing_zeros() / 8;
    out.extend_from_slice(&((digits + ASCII_ZEROS) >> (8 * zeros)).to_le_bytes());
    out.truncate(out.len() - zeros as usize);
}

/// Appends an unsigned integer as [`push_u64`] does, out of line: for the rare values of a
/// caller's fast path, which then saves no registers and sets up no buffer for them.
#[inline(never)]
fn push_other_u64(out: &mut Vec<u8>, value: u64) {
    push_u64(out, value);
}

/// Appends a signed integer.
pub(crate) fn push_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends a number as `serde_json` writes an `f64`: shortest round-trip digits, `null` when
/// not finite. Out of line: a copy in each of the EMF line's writers cost more than the call.
#[inline(never)]
pub(crate) fn push_f64(out: &mut Vec<u8>, value: f64) {
    // Small non-negative whole numbers (counts, mostly): the same bits as their integer's
    // float. NaN is outside the range; -0.0 is inside, but its bits are not those of 0.
    #[allow(clippy::cast_precision_loss)] // below 2^53: exact
    if (0.0..SMALL_WHOLE_BELOW as f64).contains(&value) {
        // Converted through `i64`, which the processor converts both ways in one instruction.
        #[allow(clippy::cast_possible_truncation)] // in range
        let small = value as i64;
        #[allow(clippy::cast_precision_loss)] // below 2^53: exact
        if (small as f64).to_bits() == value.to_bits() {
            #[allow(clippy::cast_sign_loss)] // not negative
            push_small_whole(out, small as u64);
            return;
        }
    }
    push_other_f64(out, value);
}

/// Appends a number as [`push_f64`] does, for those it does not write itself: out of line, so
/// that the small whole numbers' path saves no registers for it.
#[inline(never)]
fn push_other_f64(out: &mut Vec<u8>, value: f64) {
    // Other whole numbers below 10^15 are their integer and `.0`; not -0.0.
    const WHOLE_BELOW: f64 = 1e15;
    if value.fract() == 0.0
        && value.abs() < WHOLE_BELOW
        && !(value == 0.0 && value.is_sign_negative())
    {
        #[allow(clippy::cast_possible_truncation)] // whole, and within i64
        push_i64(out, value as i64);
        out.extend_from_slice(b".0");
        return;
    }
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// The whole numbers [`push_small_whole`] writes: as many digits as fit before `.0` in 16
/// bytes.
const SMALL_WHOLE_BELOW: u64 = 100_000_000_000_000;

/// Appends a whole number below [`SMALL_WHOLE_BELOW`] as [`push_f64`] writes its float: its
/// digits put before `.0` ([`with_digits_before`]), appended at a fixed size and cut to
/// length, without a call.
fn push_small_whole(out: &mut Vec<u8>, whole: u64) {
    let point = u128::from(u16::from_le_bytes(*b".0"));
    let (text, len) = with_digits_before(point, 2, whole);
    out.extend_from_slice(&text.to_le_bytes());
    out.truncate(out.len() - (16 - len));
}

/// `text` (`len` bytes, its first the lowest) with the decimal digits of `whole` put before
/// it, and its new length: two digits at a time from the last (each a shift and an or, no
/// memory), the first alone when their count is odd. The caller keeps the result within 16
/// bytes.
#[inline(always)]
fn with_digits_before(mut text: u128, mut len: usize, whole: u64) -> (u128, usize) {
    let pair = |value: u64| u128::from(u16::from_le_bytes(DIGIT_PAIRS[value as usize]));
    let mut rest = whole;
    while rest >= 100 {
        text = (text << 16) | pair(rest % 100);
        rest /= 100;
        len += 2;
    }
    if rest >= 10 {
        text = (text << 16) | pair(rest);
        len += 2;
    } else {
        text = (text << 8) | u128::from(b'0' + rest as u8);
        len += 1;
    }
    (text, len)
}

/// A member's key as written before its value, `,"key":`, padded to a fixed size: copied as
/// one block of that size and cut to length, without a call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberKey(PaddedText<{ MemberKey::SIZE }>);

impl MemberKey {
    const SIZE: usize = 32;

    /// No key: the value alone.
    pub(crate) const NONE: Self = Self(PaddedText::new(b""));

    /// `,"key":`, for a `key` that needs no escape and has at most 28 bytes (checked when
    /// the constant is made).
    pub(crate) const fn new(key: &str) -> Self {
        let key = key.as_bytes();
        assert!(key.len() + 4 <= Self::SIZE, "a member key too long to pad");
        let mut member = [0; Self::SIZE];
        member[0] = b',';
        member[1] = b'"';
        let mut at = 0;
        while at < key.len() {
            assert!(!needs_escape(key[at]), "a member key that needs an escape");
            member[2 + at] = key[at];
            at += 1;
        }
        member[2 + key.len()] = b'"';
        member[3 + key.len()] = b':';
        Self(PaddedText::new(member.split_at(key.len() + 4).0))
    }
}

/// Appends microseconds as milliseconds: what [`push_f64`] writes for `micros / 1000.0`.
#[cfg(test)]
pub(crate) fn push_millis(out: &mut Vec<u8>, micros: u64) {
    push_millis_member(out, &MemberKey::NONE, micros);
}

/// Appends `key` and microseconds as milliseconds: what [`push_f64`] writes for
/// `micros / 1000.0`.
///
/// Below 10^10 ms that is the whole part, a point and the three-digit fraction without its
/// trailing zeros (one digit kept), as [`push_fixed_point`] explains. The text is built in one
/// number, its first byte the lowest: the fraction from a table, then the whole part's digits
/// put before it ([`with_digits_before`]), and appended as one copy of a fixed size cut to
/// length, as the key before it: no call for each value (every facts record writes five).
/// Inlined into [`Millis::write_member`](super::time::Millis::write_member), its one caller.
#[inline(always)]
pub(crate) fn push_millis_member(out: &mut Vec<u8>, key: &MemberKey, micros: u64) {
    const WHOLE_BELOW: u64 = 10_000_000_000;
    key.0.push_to(out);
    let whole = micros / 1_000;
    if whole >= WHOLE_BELOW {
        push_f64(out, micros as f64 / 1000.0);
        return;
    }
    let fraction = u32::from_le_bytes(MILLI_FRACTIONS[(micros % 1_000) as usize]);
    let fraction_len = 4 - fraction.leading_zeros() as usize / 8;
    let (text, len) = with_digits_before(u128::from(fraction), fraction_len, whole);
    // At most ten digits and four bytes of fraction: the text fits.
    out.extend_from_slice(&text.to_le_bytes());
    out.truncate(out.len() - (16 - len));
}

/// Appends an epoch time in milliseconds as [`push_u64`] writes it: for the years 2001 to
/// 2286 (thirteen digits, every line's timestamp) made eight digits at a time
/// ([`eight_digits`]) and copied at a fixed size, without a call.
pub(crate) fn push_epoch_millis(out: &mut Vec<u8>, millis: u64) {
    const THIRTEEN_DIGITS: std::ops::Range<u64> = 1_000_000_000_000..10_000_000_000_000;
    const EIGHT_DIGITS: u64 = 100_000_000;
    if !THIRTEEN_DIGITS.contains(&millis) {
        push_other_u64(out, millis);
        return;
    }
    let high = eight_digits(millis / EIGHT_DIGITS) + ASCII_ZEROS;
    let low = eight_digits(millis % EIGHT_DIGITS) + ASCII_ZEROS;
    let text = (u128::from(high) | (u128::from(low) << 64)).to_le_bytes();
    // The high part has five digits: three leading zeros.
    out.extend_from_slice(&text[3..]);
}

/// `'0'` in every byte of a word.
const ASCII_ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);

/// The eight decimal digits of `value` (below 10^8, leading zeros included) as the values 0
/// to 9 in the bytes of a word, the first digit in the lowest byte: split into halves of four
/// digits, then pairs, then digits, each step in every lane of the word at once (no lane
/// carries into the next: each product fits its lane).
const fn eight_digits(value: u64) -> u64 {
    // Four-digit halves in 32-bit lanes, the first half low.
    let halves = (value / 10_000) | ((value % 10_000) << 32);
    // Each half divided by 100 (x * 10486 >> 20 is x / 100 below 10^4).
    let hundreds = ((halves * 10_486) >> 20) & 0x0000_007f_0000_007f;
    // Pairs in 16-bit lanes: each half's hundreds low, its remainder high.
    let pairs = ((halves - 100 * hundreds) << 16) | hundreds;
    // Each pair divided by 10 (x * 103 >> 10 is x / 10 below 100).
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    tens | ((pairs - 10 * tens) << 8)
}

/// A point and three fractional digits, the trailing zeros after the first digit as zero
/// bytes: `.5` is `[b'.', b'5', 0, 0]`.
type Fraction = [u8; 4];

/// The fraction of every count of thousandths, `.0` to `.999`, its trailing zeros dropped (the
/// first digit kept): a load instead of the divisions and comparisons for each value.
static MILLI_FRACTIONS: [Fraction; 1000] = {
    let mut fractions = [[0; 4]; 1000];
    let mut n = 0;
    while n < 1000 {
        let digits = [(n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8];
        let kept = if n % 100 == 0 {
            1
        } else if n % 10 == 0 {
            2
        } else {
            3
        };
        fractions[n][0] = b'.';
        let mut digit = 0;
        while digit < kept {
            fractions[n][1 + digit] = b'0' + digits[digit];
            digit += 1;
        }
        n += 1;
    }
    fractions
};

/// Appends microseconds as seconds: what [`push_f64`] writes for `micros / 1_000_000.0`.
pub(crate) fn push_seconds(out: &mut Vec<u8>, micros: u64) {
    let Some(whole) = epoch_second(micros) else {
        push_fixed_point(out, micros, SECOND, 6, WHOLE_SECONDS_BELOW);
        return;
    };
    let mut text = [b'.'; 17];
    write_whole_seconds(&mut text, whole);
    push_with_fraction(out, &mut text, micros);
}

/// Appends two times in microseconds as [`push_seconds`] writes each, `between` them (a
/// separator, a key): the whole seconds of the second (an end, nearly always in the same
/// second as its start) written again only when they differ from the first's.
pub(crate) fn push_seconds_pair(out: &mut Vec<u8>, first: u64, between: &[u8], second: u64) {
    let (Some(first_whole), Some(second_whole)) = (epoch_second(first), epoch_second(second))
    else {
        push_seconds(out, first);
        out.extend_from_slice(between);
        push_seconds(out, second);
        return;
    };
    let mut text = [b'.'; 17];
    write_whole_seconds(&mut text, first_whole);
    push_with_fraction(out, &mut text, first);
    out.extend_from_slice(between);
    if second_whole != first_whole {
        write_whole_seconds(&mut text, second_whole);
    }
    push_with_fraction(out, &mut text, second);
}

/// A second, in microseconds.
const SECOND: u64 = 1_000_000;
/// From 2^33 seconds (the year 2242, as epoch seconds) the float's spacing exceeds a
/// microsecond: its shortest form has fewer digits than the microseconds.
const WHOLE_SECONDS_BELOW: u64 = 1 << 33;

/// The whole seconds of an epoch time from 2001 on, the ones every trace writes (ten digits,
/// below [`WHOLE_SECONDS_BELOW`]); `None` for others, which [`push_fixed_point`] writes.
fn epoch_second(micros: u64) -> Option<u64> {
    (1_000_000_000 * SECOND..WHOLE_SECONDS_BELOW * SECOND)
        .contains(&micros)
        .then_some(micros / SECOND)
}

/// Writes the ten digits of `whole` (from [`epoch_second`]) before the point of `text`.
#[inline(always)]
fn write_whole_seconds(text: &mut [u8; 17], whole: u64) {
    const HUNDRED_MILLION: u64 = 100_000_000;
    text[..2].copy_from_slice(&DIGIT_PAIRS[(whole / HUNDRED_MILLION) as usize]);
    write_digit_pairs(&mut text[2..10], whole % HUNDRED_MILLION);
}

/// Writes the six fractional digits of `micros` after the point of `text` (its whole
/// seconds written already), and appends it without the fraction's trailing zeros (one
/// digit kept).
#[inline(always)]
fn push_with_fraction(out: &mut Vec<u8>, text: &mut [u8; 17], micros: u64) {
    write_digit_pairs(&mut text[11..], micros % SECOND);
    let zeros = text[12..]
        .iter()
        .rev()
        .take_while(|&&digit| digit == b'0')
        .count();
    out.extend_from_slice(&text[..text.len() - zeros]);
}

/// Fills `digits` (an even number of them) with the last decimal digits of `value`, leading
/// zeros included.
#[inline(always)]
fn write_digit_pairs(digits: &mut [u8], mut value: u64) {
    for pair in digits.rchunks_exact_mut(2) {
        pair.copy_from_slice(&DIGIT_PAIRS[(value % 100) as usize]);
        value /= 100;
    }
}

/// Appends `units / scale` (`scale` = 10^`digits`) as [`push_f64`] writes the `f64` nearest
/// to it, without the float formatter: the whole part, a point, the fraction without trailing
/// zeros (at least one digit). From 0.001 to `whole_below` (where the float's spacing is still
/// finer than one unit, and at most 10^10) that is the float's shortest round-trip form (no
/// decimal with fewer fractional digits lies within half a unit in its last place) and the
/// float formatter writes it without an exponent; outside, the float formatter does the
/// writing.
#[inline(always)] // `scale` and `digits` are constants in each caller
fn push_fixed_point(out: &mut Vec<u8>, units: u64, scale: u64, digits: usize, whole_below: u64) {
    if units == 0 || units < scale / 1_000 || units / scale >= whole_below {
        push_f64(out, units as f64 / scale as f64);
        return;
    }
    // The fraction without its trailing zeros (one digit kept when all are).
    let mut fraction = units % scale;
    let mut fraction_digits = digits;
    if fraction == 0 {
        fraction_digits = 1;
    } else {
        while fraction % 10 == 0 {
            fraction /= 10;
            fraction_digits -= 1;
        }
    }
    // Written backwards into zeros (the fraction's leading zeros are there already): the
    // fraction, the point, the whole part.
    let mut text = [b'0'; 24];
    let end = text.len();
    put_digits(&mut text, end, fraction);
    let point = end - fraction_digits - 1;
    text[point] = b'.';
    let start = put_digits(&mut text, point, units / scale);
    out.extend_from_slice(&text[start..]);
}

/// Writes `value`'s decimal digits into `text`, ending before `end`, two at a time; returns
/// where they start.
#[inline(always)]
fn put_digits(text: &mut [u8], mut end: usize, mut value: u64) -> usize {
    while value >= 100 {
        end -= 2;
        text[end..end + 2].copy_from_slice(&DIGIT_PAIRS[(value % 100) as usize]);
        value /= 100;
    }
    if value >= 10 {
        end -= 2;
        text[end..end + 2].copy_from_slice(&DIGIT_PAIRS[value as usize]);
    } else {
        end -= 1;
        text[end] = b'0' + value as u8;
    }
    end
}

/// `00` to `99`.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

/// Appends `true` or `false`.
pub(crate) fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Appends any `Serialize` value through `serde_json`: for the user's own values (metadata,
/// captured responses), which have no fixed shape.
pub(crate) fn push_serialized(
    out: &mut Vec<u8>,
    value: &(impl serde::Serialize + ?Sized),
) -> serde_json::Result<()> {
    serde_json::to_writer(out, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn string(text: &str) -> String {
        let mut out = Vec::new();
        push_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    fn float(value: f64) -> String {
        let mut out = Vec::new();
        push_f64(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_as_serde_json_does() {
        for text in [
            "",
            "plain",
            "quote\" backslash\\ slash/",
            "\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}",
            "ünïcødé 🦀 \u{2028}",
            "\"",
            "end\\",
            "eight ok\"eight ok",
            "0123456789abcdef\u{1f}",
            "\u{7f}\u{80}\u{ff} 0123456789 \u{10ffff}",
        ] {
            assert_eq!(
                string(text),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_byte_to_escape_anywhere_in_a_short_text_is_found() {
        for len in 0..8 {
            assert!(is_plain_text(&b"~ab Az9"[..len]), "{len} plain bytes");
            for at in 0..len {
                for byte in (0..=u8::MAX).filter(|&byte| needs_escape(byte)) {
                    let mut text = b"~ab Az9".to_vec();
                    text.truncate(len);
                    text[at] = byte;
                    assert!(!is_plain_text(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn numbers_as_serde_json_writes_them() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            99_999_999_999_999.0,
            1e14,
            1e15,
            12.345,
            1e21,
            1e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            1_796_215_808.662_123,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(float(value), serde_json::to_string(&value).unwrap());
        }
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        push_i64(&mut out, i64::MIN);
        push_bool(&mut out, true);
        push_bool(&mut out, false);
        assert_eq!(out, b"18446744073709551615-9223372036854775808truefalse");
    }

    #[test]
    fn whole_numbers_and_their_neighbours_are_written_as_serde_json_does() {
        // Every whole number below 10^5, 2,000 on each side of every power of ten (the count
        // of digits changes there; from 10^14 on the floats' own formatting takes over, and
        // from 10^16 it writes an exponent), of 2^53 (from where not every whole number is a
        // float), each with either sign and with the floats just below and above it.
        let powers = (1..=22)
            .map(|digits| 10_f64.powi(digits))
            .chain([2_f64.powi(53)]);
        let edges =
            powers.flat_map(|power| (-2_000..2_000).map(move |step| power + f64::from(step)));
        let wholes = (0..100_000).map(f64::from).chain(edges);
        let neighbours = |value: f64| {
            let bits = value.to_bits();
            [bits.wrapping_sub(1), bits, bits.wrapping_add(1)].map(f64::from_bits)
        };
        let specials = [
            -0.0,
            f64::from_bits(1),
            f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
        ];
        let values = wholes
            .chain(specials)
            .flat_map(|whole| [whole, -whole])
            .flat_map(neighbours);
        let mut out = Vec::new();
        for value in values {
            out.clear();
            push_f64(&mut out, value);
            let expected = serde_json::to_vec(&value).unwrap();
            assert_eq!(out, expected, "{value:?} ({:#x})", value.to_bits());
        }
    }

    #[test]
    fn micros_at_the_edges_are_written_as_serde_json_writes_their_float() {
        const SECOND: u64 = 1_000_000;
        for micros in [
            0,
            1,
            999,
            1_000,
            1_001,
            999_999,
            9_999_999_999_999,
            10_000_000_000_000,
            999_999_999 * SECOND + 999_999,
            1_000_000_000 * SECOND,
            1_000_000_000 * SECOND + 1,
            1_795_410_965_220_676,
            1_795_410_965_000_000,
            1_795_410_965_100_000,
            1_795_410_965_000_010,
            (1 << 33) * SECOND - 1,
            (1 << 33) * SECOND,
            9_999_999_999 * SECOND + 999_999,
            10_000_000_000 * SECOND,
            u64::MAX,
        ] {
            let mut millis = Vec::new();
            push_millis(&mut millis, micros);
            let expected = serde_json::to_vec(&(micros as f64 / 1000.0)).unwrap();
            assert_eq!(millis, expected, "{micros} as millis");
            let mut seconds = Vec::new();
            push_seconds(&mut seconds, micros);
            let expected = serde_json::to_vec(&(micros as f64 / 1_000_000.0)).unwrap();
            assert_eq!(seconds, expected, "{micros} as seconds");
        }
    }

    #[test]
    fn epoch_millis_are_written_as_integers_are() {
        for millis in [
            0,
            7,
            999_999_999_999,
            1_000_000_000_000,
            1_000_000_000_001,
            1_796_401_563_617,
            1_796_400_000_000,
            9_999_999_999_999,
            10_000_000_000_000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_epoch_millis(&mut out, millis);
            assert_eq!(out, millis.to_string().as_bytes(), "{millis}");
        }
    }

    #[test]
    fn counts_are_written_as_integers_are() {
        // Every number below 10^6, 10^4 on each side of every power of ten (the count of
        // leading zeros changes there; from 10^8 on it is `push_u64`'s), and the largest.
        let powers = (1..=19).map(|digits| 10_u64.pow(digits));
        let edges = powers.flat_map(|power| power - power.min(10_000)..power + 10_000);
        let mut out = Vec::new();
        for count in (0..1_000_000).chain(edges).chain([u64::MAX - 1, u64::MAX]) {
            out.clear();
            push_count(&mut out, count);
            assert_eq!(out, count.to_string().as_bytes(), "{count}");
        }
    }

    #[test]
    fn eight_digits_are_every_digit_in_order() {
        for value in (0..100_000)
            .chain((0..100_000_000).step_by(9_973))
            .chain([99_999_999])
        {
            let digits = (eight_digits(value) + ASCII_ZEROS).to_le_bytes();
            assert_eq!(digits, *format!("{value:08}").as_bytes(), "{value}");
        }
    }

    #[test]
    fn dense_ranges_of_micros_are_written_as_serde_json_writes_their_float() {
        // Every count of microseconds up to a second, and 10^5 on each side of each power of
        // ten and of the end of the range written without the float formatter.
        let powers = (3..=13).map(|digits| 10_u64.pow(digits));
        let edges =
            powers.flat_map(|power| [power.saturating_sub(100_000)..power, power..power + 100_000]);
        let mut millis = Vec::new();
        for micros in (0..1_000_000)
            .chain(edges.flatten())
            .chain([u64::MAX - 1, u64::MAX])
        {
            millis.clear();
            push_millis(&mut millis, micros);
            let expected = serde_json::to_vec(&(micros as f64 / 1000.0)).unwrap();
            assert_eq!(millis, expected, "{micros} as millis");
        }
    }

    #[test]
    fn every_fraction_of_a_millisecond_is_written_as_serde_json_writes_it() {
        // Every count of the whole part's digits, at both its ends (an environment's age
        // reaches 8 and 9 digits in days), and a number in between.
        let powers = (0..=10).map(|digits| 10_u64.pow(digits));
        let wholes = powers.flat_map(|power| [power - 1, power]).chain([899_999]);
        for whole in wholes {
            for fraction in 0..1_000 {
                let micros = whole * 1_000 + fraction;
                let mut millis = Vec::new();
                push_millis(&mut millis, micros);
                let expected = serde_json::to_vec(&(micros as f64 / 1000.0)).unwrap();
                assert_eq!(millis, expected, "{micros} as millis");
            }
        }
    }

    proptest! {
        #[test]
        fn eight_bytes_hold_a_quote_backslash_or_control_exactly_when_one_does(
            word in any::<u64>(),
            special in prop::sample::select(&[b'"', b'\\', 0, 0x1f, 0x20, 0x7f, 0x80, 0xff][..]),
            place in 0..9usize,
        ) {
            let mut bytes = word.to_ne_bytes();
            if let Some(byte) = bytes.get_mut(place) {
                *byte = special;
            }
            let expected = bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(any_needs_escape(u64::from_ne_bytes(bytes)), expected);
        }

        #[test]
        fn plain_texts_are_those_without_a_byte_to_escape(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(is_plain_text(&bytes), !bytes.iter().any(|&byte| needs_escape(byte)));
        }

        #[test]
        fn any_string_is_escaped_as_serde_json_does(text in any::<String>()) {
            prop_assert_eq!(string(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn mostly_ascii_strings_are_escaped_as_serde_json_does(text in "[ -~\\x00-\\x1f\"\\\\é]{0,40}") {
            prop_assert_eq!(string(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn micros_are_written_as_serde_json_writes_their_float(
            micros in prop_oneof![
                0u64..10_000,
                0u64..100_000_000,
                any::<u64>(),
                1_700_000_000_000_000u64..1_900_000_000_000_000,
                8_589_934_592_000_000u64 - 10_000..10_000_000_000_000_000,
                (1_000_000_000_u64..10_000_000_000).prop_map(|seconds| seconds * 1_000_000),
                (1_000_000_000_u64..10_000_000_000, 0_u32..6)
                    .prop_map(|(seconds, zeros)| seconds * 1_000_000 + 10_u64.pow(zeros)),
            ],
        ) {
            let mut millis = Vec::new();
            push_millis(&mut millis, micros);
            let float = micros as f64 / 1000.0;
            prop_assert_eq!(String::from_utf8(millis).unwrap(), serde_json::to_string(&float).unwrap());
            let mut seconds = Vec::new();
            push_seconds(&mut seconds, micros);
            let float = micros as f64 / 1_000_000.0;
            prop_assert_eq!(String::from_utf8(seconds).unwrap(), serde_json::to_string(&float).unwrap());
        }

        #[test]
        fn any_count_is_written_as_itoa_writes_it(count in prop_oneof![0u64..100_000_000, any::<u64>()]) {
            let mut out = b"before".to_vec();
            push_count(&mut out, count);
            prop_assert_eq!(out, format!("before{}", itoa::Buffer::new().format(count)).into_bytes());
        }

        #[test]
        fn epoch_millis_are_written_as_serde_json_writes_them(millis in prop_oneof![
            1_000_000_000_000u64..10_000_000_000_000,
            any::<u64>(),
        ]) {
            let mut out = Vec::new();
            push_epoch_millis(&mut out, millis);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&millis).unwrap());
        }

        #[test]
        fn pairs_of_micros_are_written_as_serde_json_writes_their_floats(
            first in prop_oneof![
                1_700_000_000_000_000u64..1_900_000_000_000_000,
                any::<u64>(),
                (1_000_000_000_u64..10_000_000_000).prop_map(|seconds| seconds * 1_000_000 - 1),
                8_589_934_592_000_000u64 - 10_000..8_589_934_592_000_000 + 10_000,
            ],
            later in prop_oneof![0u64..2_000_000, any::<u64>()],
        ) {
            let second = first.saturating_add(later);
            let mut out = Vec::new();
            push_seconds_pair(&mut out, first, b",", second);
            let expected = format!(
                "{},{}",
                serde_json::to_string(&(first as f64 / 1_000_000.0)).unwrap(),
                serde_json::to_string(&(second as f64 / 1_000_000.0)).unwrap()
            );
            prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }

        #[test]
        fn whole_numbers_are_written_as_serde_json_does(
            whole in prop_oneof![-1_000i64..1_000, any::<i64>(), -(1i64 << 53)..(1i64 << 53)],
            power in 0i32..20,
        ) {
            for value in [whole as f64, 10f64.powi(power), -(10f64.powi(power)), 10f64.powi(power) - 1.0] {
                prop_assert_eq!(float(value), serde_json::to_string(&value).unwrap());
            }
        }

        #[test]
        fn any_number_is_written_as_serde_json_does(value in any::<f64>()) {
            prop_assert_eq!(float(value), serde_json::to_string(&value).unwrap());
        }
    }
}
