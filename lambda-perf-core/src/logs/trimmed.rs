//! What a log line too long for Lambda's log capture costs: its longest values replaced by
//! markers (`formats::log::line_cap`), a count and one warning, so that the shortened
//! values are visible in the data and not only in the first warning.

use crate::drops;
use crate::formats::log::line_cap::MAX_LINE_BYTES;
use crate::warn::WarnOnce;

static TRIMMED: WarnOnce = WarnOnce::new();

/// Counts one line written with values replaced (`logs.line_trimmed`); warns the first time.
pub(super) fn count_trimmed_line() {
    drops::count("logs.line_trimmed");
    TRIMMED.warn(format_args!(
        "a log line would have exceeded {MAX_LINE_BYTES} bytes, which Lambda's log capture \
         splits into pieces that are not JSON; its longest values were replaced by \
         lambda_perf_truncated markers (counted in lambda_perf.dropped)"
    ));
}
