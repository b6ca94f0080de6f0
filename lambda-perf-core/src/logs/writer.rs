//! Writing log lines, and what a failed write costs.

use crate::outputs::line_writer::{LineWriter, WriteFailed};
use crate::warn::WarnOnce;

static WRITE_FAILED: WarnOnce = WarnOnce::new();

/// Writes one or more complete log lines (never interleaved with EMF lines: see
/// [`LineWriter`]); a failure (closed stdout, full disk, a writer given in code that panics)
/// costs one warning on stderr, and every line lost is counted (`logs.write_failed`), for the
/// next record that gets out.
#[inline]
pub(crate) fn write_log_lines(writer: &LineWriter, lines: &[u8]) {
    if let Err(failed) = writer.write_lines(lines) {
        write_failed(&failed, lines);
    }
}

/// Counts the lost lines and warns once, apart from the path of every line.
#[cold]
#[inline(never)]
fn write_failed(failed: &WriteFailed, lines: &[u8]) {
    let error = &failed.error;
    failed.count_lost(lines, "logs.write_failed");
    WRITE_FAILED.warn(format_args!(
        "could not write a log line ({error}); log lines are lost until the writer recovers"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drops::{self, Report};
    use crate::outputs::line_writer::Closed;
    use std::io;

    #[test]
    fn every_line_a_failed_write_loses_is_counted() {
        write_log_lines(&LineWriter::custom(Closed), b"{}\n{}\n");
        let dropped = drops::take(Report::Emf).expect("counted");
        assert_eq!(dropped.of("logs.write_failed"), 2);
        write_log_lines(&LineWriter::custom(io::sink()), b"{}\n");
        assert!(drops::take(Report::Emf).is_none_or(|d| d.of("logs.write_failed") == 0));
    }
}
