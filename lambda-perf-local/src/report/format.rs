//! Number and text formatting shared by the renderers.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::emulator::{MAX_EMF_BYTES, MAX_PLAIN_BYTES};

/// A duration in milliseconds for people: `0.042 ms`, `3.21 ms`, `45.6 ms`, `1234 ms`.
pub(crate) fn ms(value: f64) -> String {
    let abs = value.abs();
    if abs < 1.0 {
        format!("{value:.3} ms")
    } else if abs < 10.0 {
        format!("{value:.2} ms")
    } else if abs < 1000.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

/// An optional duration, `-` when absent.
pub(crate) fn opt_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), ms)
}

/// US dollars with three significant digits (at least cents): `$12.34`, `$0.0123`,
/// `$0.000405`.
pub(crate) fn usd(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "$0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(2, 12) as usize;
    format!("${value:.decimals$}")
}

/// Megabytes (MiB): `56.3 MB`.
pub(crate) fn megabytes(value: f64) -> String {
    format!("{value:.1} MB")
}

/// A file size: `812 KB`, `3.10 MB` (KiB and MiB).
pub(crate) fn file_size(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{:.2} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// A metric value, as short as it can be without losing what matters: `1`, `2.5`, `0.031`,
/// `1.2e9`.
pub(crate) fn number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 1e6 || value.abs() < 1e-3 {
        format!("{value:.3e}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// At most `max` values, then `… (+N)`.
pub(crate) fn values(values: &[f64], max: usize) -> String {
    let mut parts: Vec<String> = values.iter().take(max).map(|v| number(*v)).collect();
    if values.len() > max {
        parts.push(format!("… (+{})", values.len() - max));
    }
    parts.join(", ")
}

/// How many terminal columns `text` takes: two for a wide character (CJK), none for a
/// combining mark.
pub(crate) fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// How many terminal columns `c` takes (none for a control character).
pub(crate) fn char_width(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `text` cut to `max` columns, ending with `…` when cut.
pub(crate) fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let columns = char_width(c);
        if used + columns > max - 1 {
            break;
        }
        used += columns;
        out.push(c);
    }
    out.push('…');
    out
}

/// `text` cut or padded with spaces to exactly `columns` columns.
pub(crate) fn pad(text: &str, columns: usize) -> String {
    let fitted = fit(text, columns);
    let fill = columns.saturating_sub(width(&fitted));
    format!("{fitted}{}", " ".repeat(fill))
}

/// `text` right-aligned in `columns` columns.
pub(crate) fn pad_left(text: &str, columns: usize) -> String {
    let fitted = fit(text, columns);
    let fill = columns.saturating_sub(width(&fitted));
    format!("{}{fitted}", " ".repeat(fill))
}

/// `text` with its control characters other than those in `keep` written out (`\u{1b}`): text
/// read from logs may hold a NUL (invalid in HTML) or a terminal escape sequence.
pub(crate) fn printable(text: &str, keep: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !keep.contains(&c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a process wrote past the output the harness keeps of it, `count` lines.
pub(crate) fn output_lines_not_kept(count: usize) -> String {
    format!(
        "{count} more output line(s) past what the harness keeps ({} MB of plain lines, {} MB \
         of EMF lines) were not kept",
        MAX_PLAIN_BYTES >> 20,
        MAX_EMF_BYTES >> 20
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_not_kept_names_the_harness_budgets() {
        assert_eq!(
            output_lines_not_kept(3),
            "3 more output line(s) past what the harness keeps (256 MB of plain lines, 512 MB \
             of EMF lines) were not kept"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(ms(0.0421), "0.042 ms");
        assert_eq!(ms(3.214), "3.21 ms");
        assert_eq!(ms(45.62), "45.6 ms");
        assert_eq!(ms(1234.4), "1234 ms");
        assert_eq!(opt_ms(None), "-");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.0312), "0.031");
        assert_eq!(values(&[1.0, 2.0, 3.0], 2), "1, 2, … (+1)");
        assert_eq!(usd(12.344), "$12.34");
        assert_eq!(usd(0.012_34), "$0.0123");
        assert_eq!(usd(0.000_405), "$0.000405");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(megabytes(56.26), "56.3 MB");
        assert_eq!(file_size(1000), "1 KB");
        assert_eq!(file_size(3 * 1024 * 1024 + 10_000), "3.01 MB");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("ab", 4), "  ab");
        assert_eq!(width("注文"), 4);
        assert_eq!(fit("注文を検索", 6), "注文…");
        assert_eq!(pad("注文", 6), "注文  ");
    }
}
