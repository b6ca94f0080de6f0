//! Writing EMF lines: serialization into a reused per-thread buffer, then one write.

use std::cell::RefCell;
use std::time::SystemTime;

use serde::Serialize;

use super::dimension::Dimension;
use super::emf::EmfLine;
use super::set::MetricSet;
use super::writer::EmfWriter;
use crate::clock::epoch_millis;
use crate::warn::WarnOnce;

/// CloudWatch Logs' event size limit, which an EMF line must fit.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Buffers that grew past this are not kept between invocations.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

static OVERSIZED: WarnOnce = WarnOnce::new();

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes every line `set` needs in one write: `fixed` dimensions first, then the set's own.
pub(crate) fn write_set<F: Serialize>(
    writer: &EmfWriter,
    namespace: &str,
    fixed: &[Dimension],
    set: &MetricSet,
    facts: Option<&F>,
) {
    if set.is_empty() {
        return;
    }
    with_buffer(|buffer| {
        let timestamp_ms = epoch_millis(SystemTime::now());
        set.for_each_line(|metrics| {
            let line = EmfLine {
                timestamp_ms,
                namespace,
                dimensions: [fixed, set.dimensions()],
                metrics,
                metadata: set.metadata(),
                facts,
            };
            let start = buffer.len();
            let fits = line.write_to(buffer).is_ok() && buffer.len() - start <= MAX_LINE_BYTES;
            if !fits {
                buffer.truncate(start);
                OVERSIZED.warn(format_args!(
                    "an EMF line exceeded CloudWatch's {MAX_LINE_BYTES}-byte event limit; \
                     it was written without its metadata properties"
                ));
                let slim = EmfLine {
                    metadata: &[],
                    ..line
                };
                if slim.write_to(buffer).is_err() {
                    buffer.truncate(start);
                }
            }
        });
        writer.write_lines(buffer);
    });
}

fn with_buffer(f: impl FnOnce(&mut Vec<u8>)) {
    let mut f = Some(f);
    let _ = BUFFER.try_with(|cell| {
        if let Ok(mut buffer) = cell.try_borrow_mut() {
            buffer.clear();
            if let Some(f) = f.take() {
                f(&mut buffer);
            }
            if buffer.capacity() > KEPT_BUFFER_BYTES {
                *buffer = Vec::new();
            }
        }
    });
    // Only during thread teardown or re-entrancy, never on the common path.
    if let Some(f) = f {
        f(&mut Vec::new());
    }
}
