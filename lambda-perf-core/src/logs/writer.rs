//! Writing log lines, and what a failed write costs.

use crate::outputs::line_writer::LineWriter;
use crate::warn::WarnOnce;

static WRITE_FAILED: WarnOnce = WarnOnce::new();

/// Writes one or more complete log lines (never interleaved with EMF lines: see
/// [`LineWriter`]); a failure costs one warning on stderr.
pub(crate) fn write_log_lines(writer: &LineWriter, lines: &[u8]) {
    if let Err(error) = writer.write_lines(lines) {
        WRITE_FAILED.warn(format_args!(
            "could not write a log line ({error}); log lines are lost until the writer recovers"
        ));
    }
}
