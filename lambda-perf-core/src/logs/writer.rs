//! Writing log lines, and what a failed write costs.

use crate::drops;
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

/// Writes one log line laid out over several lines of output (indented JSON): a failure
/// that loses any of it loses that one log line, counted once, however many lines of output
/// it had.
pub(crate) fn write_spread_log_line(writer: &LineWriter, line: &[u8]) {
    if let Err(failed) = writer.write_lines(line) {
        spread_write_failed(&failed, line);
    }
}

/// Counts the lost lines and warns once, apart from the path of every line.
#[cold]
#[inline(never)]
fn write_failed(failed: &WriteFailed, lines: &[u8]) {
    failed.count_lost(lines, "logs.write_failed");
    warn_write_failed(failed);
}

/// [`write_failed`] for one log line over several lines of output.
#[cold]
#[inline(never)]
fn spread_write_failed(failed: &WriteFailed, line: &[u8]) {
    if !failed.lost(line).is_empty() {
        drops::count("logs.write_failed");
    }
    warn_write_failed(failed);
}

fn warn_write_failed(failed: &WriteFailed) {
    let error = &failed.error;
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

    /// A write that fails part-way through an indented line, after some of its lines of
    /// output went out, loses that one log line.
    #[test]
    fn a_line_over_several_lines_of_output_is_one_line_lost() {
        use crate::outputs::line_writer::{Break, BreaksOnce};
        use std::sync::{Arc, Mutex};

        let indented = b"{\n    \"a\": 1,\n    \"b\": 2\n}\n";
        write_spread_log_line(&LineWriter::custom(Closed), indented);
        let dropped = drops::take(Report::Emf).expect("counted");
        assert_eq!(dropped.of("logs.write_failed"), 1);
        let cut = LineWriter::custom(BreaksOnce {
            room: Some(14),
            breaks: Break::Fails,
            taken: Arc::new(Mutex::new(Vec::new())),
        });
        write_spread_log_line(&cut, indented);
        let dropped = drops::take(Report::Emf).expect("counted");
        assert_eq!(dropped.of("logs.write_failed"), 1);
        write_spread_log_line(&LineWriter::custom(io::sink()), indented);
        assert!(drops::take(Report::Emf).is_none_or(|d| d.of("logs.write_failed") == 0));
    }
}
