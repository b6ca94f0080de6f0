//! Writing EMF lines, and what a failed write costs.

use crate::outputs::line_writer::{LineWriter, WriteFailed};
use crate::warn::WarnOnce;

static WRITE_FAILED: WarnOnce = WarnOnce::new();

/// Writes complete EMF lines; a failure (closed stdout, full disk) costs one warning, and
/// every line lost is counted (`emf.write_failed`), for the next record that gets out.
/// Inlined where lines are written: a successful write costs no call of its own. Returns
/// whether the first line went out (whole).
#[inline]
pub(crate) fn write_emf_lines(writer: &LineWriter, lines: &[u8]) -> bool {
    match writer.write_lines(lines) {
        Ok(()) => true,
        Err(failed) => write_failed(&failed, lines),
    }
}

/// Counts the lost lines and warns once, apart from the path of every line; whether the
/// first line went out all the same.
#[cold]
#[inline(never)]
fn write_failed(failed: &WriteFailed, lines: &[u8]) -> bool {
    let error = &failed.error;
    let lost = failed.count_lost(lines, "emf.write_failed");
    WRITE_FAILED.warn(format_args!(
        "could not write EMF metrics ({error}); metrics are lost until the writer recovers"
    ));
    lost.len() < lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drops::{self, Report};
    use crate::outputs::line_writer::{Break, BreaksOnce, Closed};
    use std::io;

    #[test]
    fn a_write_that_got_some_lines_out_counts_only_the_lines_it_lost() {
        // The first line goes out whole, the second in part, the third not at all.
        let full = BreaksOnce {
            room: Some(5),
            breaks: Break::Fails,
            taken: Default::default(),
        };
        write_emf_lines(&LineWriter::custom(full), b"{}\n{}\n{}\n");
        let dropped = drops::take(Report::Trace).expect("counted");
        assert_eq!(dropped.of("emf.write_failed"), 2);
    }

    #[test]
    fn every_line_a_failed_write_loses_is_counted() {
        write_emf_lines(&LineWriter::custom(Closed), b"{}\n{}\n{}\n");
        let dropped = drops::take(Report::Trace).expect("counted");
        assert_eq!(dropped.of("emf.write_failed"), 3);
        write_emf_lines(&LineWriter::custom(io::sink()), b"{}\n");
        assert!(drops::take(Report::Trace).is_none_or(|d| d.of("emf.write_failed") == 0));
    }
}
