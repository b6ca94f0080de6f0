//! Every EMF line one metric set needs, appended to a buffer.

use serde::Serialize;

use super::dimension::Dimension;
use super::line::EmfLine;
use super::set::MetricSet;

/// CloudWatch Logs' event size limit, which an EMF line must fit.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// What [`append_lines`] had to change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub(crate) struct Appended {
    /// Lines that exceeded [`MAX_LINE_BYTES`] and were written without their metadata.
    pub(crate) without_metadata: usize,
}

/// Appends every line `set` needs to `out` (at most 100 metrics and 100 values per metric in
/// a line, as CloudWatch requires): `fixed` dimensions first, then the set's own, then its
/// metadata, the facts under `lambda_perf`, and the values. Nothing for an empty set.
pub(crate) fn append_lines<F: Serialize>(
    out: &mut Vec<u8>,
    timestamp_ms: u64,
    namespace: &str,
    fixed: &[Dimension],
    set: &MetricSet,
    facts: Option<&F>,
) -> Appended {
    let mut appended = Appended::default();
    set.for_each_line(|metrics| {
        let line = EmfLine {
            timestamp_ms,
            namespace,
            dimensions: [fixed, set.dimensions()],
            metrics,
            metadata: set.metadata(),
            facts,
        };
        let start = out.len();
        let fits = line.write_to(out).is_ok() && out.len() - start <= MAX_LINE_BYTES;
        if !fits {
            out.truncate(start);
            appended.without_metadata += 1;
            let slim = EmfLine {
                metadata: &[],
                ..line
            };
            if slim.write_to(out).is_err() {
                out.truncate(start);
            }
        }
    });
    appended
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::emf::{Resolution, Unit};

    #[test]
    fn an_oversized_line_loses_its_metadata_not_its_metrics() {
        let fixed = [Dimension::new("service", "s")];
        let mut set = MetricSet::default();
        set.add_metric(&fixed, "M".into(), Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.add_metadata(&fixed, "big".into(), "x".repeat(MAX_LINE_BYTES).into())
            .unwrap();
        let mut out = Vec::new();
        let appended = append_lines::<()>(&mut out, 1, "ns", &fixed, &set, None);
        assert_eq!(appended.without_metadata, 1);
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["M"], serde_json::json!([1.0]));
        assert!(line.get("big").is_none());
    }

    #[test]
    fn an_empty_set_writes_nothing() {
        let mut out = Vec::new();
        let appended = append_lines::<()>(&mut out, 1, "ns", &[], &MetricSet::default(), None);
        assert_eq!(appended, Appended::default());
        assert!(out.is_empty());
    }
}
