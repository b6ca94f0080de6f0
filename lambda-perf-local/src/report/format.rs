//! Number and text formatting shared by the renderers.

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

/// How many columns `text` takes (one per character: the report draws only narrow ones).
pub(crate) fn width(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to `max` columns, ending with `…` when cut.
pub(crate) fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        text.to_owned()
    } else if max == 0 {
        String::new()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("ab", 4), "  ab");
    }
}
