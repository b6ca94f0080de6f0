//! The buffer a captured response is written to, kept by the thread between invocations, so
//! that taking it before the response is posted locks nothing.
//!
//! Its memory goes round: the response is written to it, it becomes the handler subsegment's
//! metadata, returns to the trace's spare buffers when the trace is released, and from there
//! to the thread that wrote the trace, for the next response. A thread that keeps none (its
//! first invocation, or several invocations at once) takes one from the trace instead.

use std::cell::Cell;

thread_local! {
    /// The buffer this thread writes its next captured response to (empty; no memory: none).
    static KEPT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// This thread's buffer, emptied, if it keeps one.
#[inline]
pub(crate) fn take() -> Option<Vec<u8>> {
    let mut buffer = KEPT.try_with(Cell::take).ok()?;
    if buffer.capacity() == 0 {
        return None;
    }
    buffer.clear();
    Some(buffer)
}

/// Keeps a buffer from `spare` for the next response, unless this thread keeps one already;
/// gives back what it did not keep.
pub(crate) fn keep_one(spare: impl FnOnce() -> Option<Vec<u8>>) {
    let _ = KEPT.try_with(|kept| {
        let current = kept.take();
        if current.capacity() == 0 {
            if let Some(buffer) = spare() {
                kept.set(buffer);
            }
        } else {
            kept.set(current);
        }
    });
}

/// Keeps `buffer` for the next response if this thread keeps none; else gives it back.
pub(crate) fn keep(buffer: Vec<u8>) -> Option<Vec<u8>> {
    let mut buffer = Some(buffer);
    keep_one(|| buffer.take());
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_one_buffer_with_memory() {
        let _ = take();
        assert!(take().is_none(), "none kept yet");
        assert!(
            keep(Vec::new()).is_none(),
            "a buffer without memory is taken"
        );
        assert!(take().is_none(), "but not kept as one");
        assert!(keep(Vec::with_capacity(8)).is_none());
        assert_eq!(keep(Vec::with_capacity(4)).map(|b| b.capacity()), Some(4));
        let mut kept = take().unwrap();
        assert!(kept.capacity() >= 8 && kept.is_empty());
        kept.push(1);
        assert!(keep(kept).is_none());
        assert_eq!(take().unwrap().len(), 0, "taken emptied");
        assert!(take().is_none());
    }
}
