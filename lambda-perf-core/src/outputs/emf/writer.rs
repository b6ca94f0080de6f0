//! Writing EMF lines, and what a failed write costs.

use crate::drops;
use crate::outputs::line_writer::LineWriter;
use crate::warn::WarnOnce;

static WRITE_FAILED: WarnOnce = WarnOnce::new();

/// Writes complete EMF lines; a failure (closed stdout, full disk) costs one warning, and
/// every line lost is counted (`emf.write_failed`), for the next record that gets out.
pub(crate) fn write_emf_lines(writer: &LineWriter, lines: &[u8]) {
    if let Err(error) = writer.write_lines(lines) {
        for _ in lines.iter().filter(|&&byte| byte == b'\n') {
            drops::count("emf.write_failed");
        }
        WRITE_FAILED.warn(format_args!(
            "could not write EMF metrics ({error}); metrics are lost until the writer recovers"
        ));
    }
}
