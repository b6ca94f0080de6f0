//! Every EMF line one metric set needs, appended to a buffer, each within the size a line can
//! safely have.

use serde_json::Value;

use super::dimension::Dimension;
use super::directive::DirectiveCache;
use super::head::Head;
use super::line::EmfLine;
use super::set::{MetricSet, MetricSlice};
use crate::formats::json::WriteJson;

/// The longest line written — an EMF line, and a log line too (`formats::log::line_cap`).
/// CloudWatch Logs accepts events up to 1 MB, but Lambda's log capture has been seen
/// splitting long stdout lines (at 65,536 and at 2^18 - 26 bytes), and a split line is
/// invalid JSON that loses every metric in it.
pub(crate) const MAX_LINE_BYTES: usize = 256_000;

/// What [`append_lines`] had to change to keep every line within [`MAX_LINE_BYTES`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub(crate) struct Appended {
    /// Lines written without their metadata properties.
    pub(crate) without_metadata: usize,
    /// Lines left unwritten: even one value of one metric did not fit (only an invocation's
    /// facts so large can cause it).
    pub(crate) unwritten: usize,
}

/// The parts every line of one set shares.
struct Shared<'a> {
    timestamp_ms: u64,
    head: Head<'a>,
    dimensions: &'a [Dimension],
    /// The facts of the set's first line.
    facts: Option<&'a dyn WriteJson>,
    /// The facts of each later line (the same facts, less what only one line reports).
    later_facts: Option<&'a dyn WriteJson>,
    /// Where the set's lines begin in the buffer: a line written there is the first.
    begin: usize,
}

/// Appends every line `set` needs to `out` (directives from `directives` when it holds
/// them): at most 100 metrics and 100 values per metric in a line, as CloudWatch requires, in
/// `head`'s namespace, its dimensions first, then the set's own, then its metadata, the facts
/// under `lambda_perf` (`later_facts` in every line after the first: what a record reports
/// once, such as its drops, is in the first line only), and the values. A line that would exceed
/// [`MAX_LINE_BYTES`] loses its metadata first; if it still does not fit, its metrics (or a
/// metric's values) are split over more lines, so every metric value is kept. Nothing for an
/// empty set. The facts are behind `dyn WriteJson`: one copy of the line's writers for every
/// kind of facts (it was one for each, some kilobytes of binary apiece).
pub(crate) fn append_lines(
    out: &mut Vec<u8>,
    directives: &mut DirectiveCache,
    timestamp_ms: u64,
    head: Head<'_>,
    set: &MetricSet,
    facts: Option<&dyn WriteJson>,
    later_facts: Option<&dyn WriteJson>,
) -> Appended {
    let shared = Shared {
        timestamp_ms,
        head,
        dimensions: set.dimensions(),
        facts,
        later_facts,
        begin: out.len(),
    };
    let mut appended = Appended::default();
    set.for_each_line(|metrics| {
        append_fitting(
            out,
            directives,
            &shared,
            metrics,
            set.metadata(),
            &mut appended,
        );
    });
    appended
}

/// Appends the one line of `set`'s facts without any of its values: the line of an invocation
/// that has facts to say and no value left to carry (its values went out in an earlier line).
/// Its directive defines no metric (`"Metrics":[]`, which the EMF specification allows), so
/// CloudWatch takes no metric from it; its metadata is in it when it fits.
#[cold]
#[inline(never)]
pub(crate) fn append_facts_line(
    out: &mut Vec<u8>,
    directives: &mut DirectiveCache,
    timestamp_ms: u64,
    head: Head<'_>,
    set: &MetricSet,
    facts: &dyn WriteJson,
) -> Appended {
    let shared = Shared {
        timestamp_ms,
        head,
        dimensions: set.dimensions(),
        facts: Some(facts),
        later_facts: Some(facts),
        begin: out.len(),
    };
    let mut appended = Appended::default();
    append_fitting(out, directives, &shared, &[], set.metadata(), &mut appended);
    appended
}

/// Appends one line of `metrics`, or as many as it takes for each to fit. Inlined where
/// the set's lines are gathered: most lines fit at the first try, with no call between.
#[inline]
fn append_fitting(
    out: &mut Vec<u8>,
    directives: &mut DirectiveCache,
    shared: &Shared<'_>,
    metrics: &[MetricSlice<'_>],
    metadata: &[(String, Value)],
    appended: &mut Appended,
) {
    if !try_append(out, directives, shared, metrics, metadata) {
        append_trimmed(out, directives, shared, metrics, metadata, appended);
    }
}

/// [`append_fitting`] of a line that did not fit as it was: without its metadata, else
/// split in two, each half fitted in turn.
#[cold]
#[inline(never)]
fn append_trimmed(
    out: &mut Vec<u8>,
    directives: &mut DirectiveCache,
    shared: &Shared<'_>,
    metrics: &[MetricSlice<'_>],
    metadata: &[(String, Value)],
    appended: &mut Appended,
) {
    if !metadata.is_empty() {
        appended.without_metadata += 1;
        if try_append(out, directives, shared, metrics, &[]) {
            return;
        }
    }
    match metrics {
        // A line of facts alone, or one value: nothing left to split.
        [] => appended.unwritten += 1,
        [single] if single.values.len() <= 1 => appended.unwritten += 1,
        [single] => {
            let (first, second) = single.values.split_at(single.values.len() / 2);
            for values in [first, second] {
                let part = MetricSlice { values, ..*single };
                append_fitting(out, directives, shared, &[part], &[], appended);
            }
        }
        several => {
            let (first, second) = several.split_at(several.len() / 2);
            append_fitting(out, directives, shared, first, &[], appended);
            append_fitting(out, directives, shared, second, &[], appended);
        }
    }
}

/// Appends the line if it fits; leaves `out` as it was if not.
fn try_append(
    out: &mut Vec<u8>,
    directives: &mut DirectiveCache,
    shared: &Shared<'_>,
    metrics: &[MetricSlice<'_>],
    metadata: &[(String, Value)],
) -> bool {
    let start = out.len();
    let line = EmfLine {
        timestamp_ms: shared.timestamp_ms,
        head: shared.head,
        dimensions: shared.dimensions,
        metrics,
        metadata,
        facts: if start == shared.begin {
            shared.facts
        } else {
            shared.later_facts
        },
    };
    let fits =
        line.write_with(out, Some(directives)).is_ok() && out.len() - start <= MAX_LINE_BYTES;
    if !fits {
        out.truncate(start);
    }
    fits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::emf::{Resolution, Unit};

    /// The lines of `set` in namespace `ns`, without facts.
    fn appended(fixed: &[Dimension], set: &MetricSet) -> (Vec<u8>, Appended) {
        let mut out = Vec::new();
        let appended = append_lines(
            &mut out,
            &mut DirectiveCache::new(),
            1,
            Head::new("ns", fixed),
            set,
            None,
            None,
        );
        (out, appended)
    }

    fn lines(out: &[u8]) -> Vec<Value> {
        std::str::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| {
                assert!(line.len() <= MAX_LINE_BYTES, "{} bytes", line.len());
                serde_json::from_str(line).unwrap()
            })
            .collect()
    }

    #[test]
    fn an_oversized_line_loses_its_metadata_not_its_metrics() {
        let fixed = [Dimension::new("service", "s")];
        let mut set = MetricSet::default();
        set.add_metric(&fixed, "M".into(), Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.add_metadata(&fixed, "big".into(), "x".repeat(MAX_LINE_BYTES).into())
            .unwrap();
        let (out, appended) = appended(&fixed, &set);
        assert_eq!(appended.without_metadata, 1);
        let lines = lines(&out);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["M"], serde_json::json!([1.0]));
        assert!(lines[0].get("big").is_none());
    }

    #[test]
    fn metrics_too_large_for_one_line_are_split_and_all_kept() {
        // 100 metrics with 255-character names and 100 long values each: more than one line.
        let fixed = [Dimension::new("service", "s")];
        let mut set = MetricSet::default();
        for metric in 0..100 {
            let name = format!("{metric:03}{}", "n".repeat(252));
            for value in 0..100 {
                let value = -1.234_567_890_123_456_7e-100 * f64::from(value + 1);
                set.add_metric(
                    &fixed,
                    name.clone().into(),
                    Unit::Count,
                    Resolution::Standard,
                    value,
                )
                .unwrap();
            }
        }
        let (out, appended) = appended(&fixed, &set);
        assert_eq!(appended, Appended::default(), "nothing was trimmed or lost");
        assert!(out.len() > MAX_LINE_BYTES, "{} bytes", out.len());
        let lines = lines(&out);
        assert!(lines.len() >= 2, "{} lines", lines.len());
        let values: usize = lines
            .iter()
            .flat_map(|line| line.as_object().unwrap().iter())
            .filter(|(key, _)| key.len() == 255)
            .map(|(_, values)| values.as_array().unwrap().len())
            .sum();
        assert_eq!(values, 100 * 100);
    }

    #[test]
    fn an_empty_set_writes_nothing() {
        let (out, appended) = appended(&[], &MetricSet::default());
        assert_eq!(appended, Appended::default());
        assert!(out.is_empty());
    }
}
