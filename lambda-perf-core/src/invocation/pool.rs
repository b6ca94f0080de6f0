//! Ended invocations kept for reuse: a warm invocation takes one back, with the memory it
//! allocated (its `Arc`, its request id, its metric set), instead of allocating anew. The pool
//! grows to the most invocations that ran at once, then never again.

use std::sync::{Arc, Mutex, PoisonError};

/// Most values kept: beyond this many invocations at once, the extra ones are freed.
const KEPT: usize = 256;

/// Values no one else holds, waiting to be reused.
pub(crate) struct Pool<T> {
    kept: Mutex<Vec<Arc<T>>>,
}

impl<T> Pool<T> {
    pub(crate) const fn new() -> Self {
        Self {
            kept: Mutex::new(Vec::new()),
        }
    }

    /// A kept value, which no one else holds (so `Arc::get_mut` succeeds).
    pub(crate) fn take(&self) -> Option<Arc<T>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Keeps `value` if no one else holds it (no other `Arc`, no `Weak`) and the pool is not
    /// full; otherwise lets it go.
    pub(crate) fn give_back(&self, mut value: Arc<T>) {
        if Arc::get_mut(&mut value).is_none() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEPT {
            kept.push(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_values_no_one_else_holds() {
        let pool = Pool::new();
        let shared = Arc::new(1);
        let other = Arc::clone(&shared);
        pool.give_back(shared);
        assert!(pool.take().is_none(), "still held elsewhere");
        let weak = Arc::downgrade(&other);
        pool.give_back(other);
        assert!(pool.take().is_none(), "a weak reference remains");
        drop(weak);
        pool.give_back(Arc::new(2));
        let mut taken = pool.take().unwrap();
        assert_eq!(Arc::get_mut(&mut taken), Some(&mut 2));
        assert!(pool.take().is_none());
    }
}
