//! Ended invocations kept for reuse: a warm invocation takes one back, with the memory it
//! allocated (its `Arc`, its request id, its metric set), instead of allocating anew.
//!
//! Each thread keeps the values it gave back for itself first, and takes its own first: with
//! invocations running at once on several threads (Lambda Managed Instances), a value then
//! stays in the cache of the core that used it last, instead of moving to another core with
//! every reuse, and threads do not meet at one lock. What a thread does not keep goes to the
//! shared pool. The pool grows to the most invocations that ran at once, plus what each thread
//! keeps for itself, then never again.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::LocalKey;

/// Most values kept in the shared pool: beyond this many invocations at once, the extra ones
/// are freed.
const KEPT: usize = 256;

/// Most values one thread keeps for itself.
const KEPT_PER_THREAD: usize = 64;

/// The values one thread keeps for itself, declared with `thread_local!` beside the pool
/// (a `static` pool cannot declare a thread-local of its generic type itself). When the thread
/// ends they go to the shared pool, as far as it has room: they are not freed while the
/// thread's other thread-locals are being torn down.
pub(crate) struct ThreadKept<T: 'static> {
    values: RefCell<Vec<Arc<T>>>,
    pool: &'static Pool<T>,
}

impl<T> ThreadKept<T> {
    pub(crate) const fn new(pool: &'static Pool<T>) -> Self {
        Self {
            values: RefCell::new(Vec::new()),
            pool,
        }
    }
}

impl<T> Drop for ThreadKept<T> {
    fn drop(&mut self) {
        let values = std::mem::take(self.values.get_mut());
        let mut shared = self.pool.shared();
        let room = KEPT.saturating_sub(shared.len());
        shared.extend(values.into_iter().take(room));
    }
}

/// Values no one else holds, waiting to be reused.
pub(crate) struct Pool<T: 'static> {
    per_thread: &'static LocalKey<ThreadKept<T>>,
    shared: Mutex<Vec<Arc<T>>>,
}

impl<T> Pool<T> {
    pub(crate) const fn new(per_thread: &'static LocalKey<ThreadKept<T>>) -> Self {
        Self {
            per_thread,
            shared: Mutex::new(Vec::new()),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Vec<Arc<T>>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A kept value, which no one else holds (so `Arc::get_mut` succeeds): this thread's own
    /// first.
    pub(crate) fn take(&self) -> Option<Arc<T>> {
        let own = self
            .per_thread
            .try_with(|kept| kept.values.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten();
        own.or_else(|| self.shared().pop())
    }

    /// Keeps `value` if no one else holds it (no other `Arc`, no `Weak`): for this thread if
    /// it keeps fewer than its most, else in the shared pool if that is not full; otherwise
    /// lets it go.
    pub(crate) fn give_back(&self, mut value: Arc<T>) {
        if Arc::get_mut(&mut value).is_none() {
            return;
        }
        let mut value = Some(value);
        // Not kept for the thread while it is being torn down, or re-entered.
        let _ = self.per_thread.try_with(|kept| {
            if let Ok(mut kept) = kept.values.try_borrow_mut() {
                if kept.len() < KEPT_PER_THREAD {
                    kept.extend(value.take());
                }
            }
        });
        let Some(value) = value else {
            return;
        };
        let mut shared = self.shared();
        if shared.len() < KEPT {
            shared.push(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of its own for one test, with its thread-local.
    macro_rules! pool {
        ($pool:ident, $kept:ident) => {
            static $pool: Pool<u32> = Pool::new(&$kept);
            thread_local! {
                static $kept: ThreadKept<u32> = const { ThreadKept::new(&$pool) };
            }
        };
    }

    fn kept_by_this_thread(kept: &'static LocalKey<ThreadKept<u32>>) -> usize {
        kept.with(|kept| kept.values.borrow().len())
    }

    #[test]
    fn keeps_only_values_no_one_else_holds() {
        pool!(POOL, KEPT_HERE);
        let shared = Arc::new(1);
        let other = Arc::clone(&shared);
        POOL.give_back(shared);
        assert!(POOL.take().is_none(), "still held elsewhere");
        let weak = Arc::downgrade(&other);
        POOL.give_back(other);
        assert!(POOL.take().is_none(), "a weak reference remains");
        drop(weak);
        POOL.give_back(Arc::new(2));
        let mut taken = POOL.take().unwrap();
        assert_eq!(Arc::get_mut(&mut taken), Some(&mut 2));
        assert!(POOL.take().is_none());
    }

    #[test]
    fn a_thread_takes_its_own_first_and_shares_what_it_does_not_keep() {
        pool!(POOL, KEPT_HERE);
        let most = KEPT_PER_THREAD as u32;
        let (given, looked) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for n in 0..most + 3 {
                    POOL.give_back(Arc::new(n));
                }
                assert_eq!(kept_by_this_thread(&KEPT_HERE), KEPT_PER_THREAD);
                // The last it kept, from its own.
                assert_eq!(POOL.take().as_deref(), Some(&(most - 1)));
                given.wait();
                looked.wait();
            });
            scope.spawn(|| {
                given.wait();
                // While the first thread lives, another sees only what it did not keep.
                let seen: Vec<Arc<u32>> = std::iter::from_fn(|| POOL.take()).collect();
                let mut numbers: Vec<u32> = seen.iter().map(|value| **value).collect();
                numbers.sort_unstable();
                assert_eq!(numbers, [most, most + 1, most + 2]);
                POOL.shared().extend(seen);
                looked.wait();
            });
        });
        // When it ended, the first thread's own went to the shared pool.
        let mut left: Vec<u32> = std::iter::from_fn(|| POOL.take().map(|v| *v)).collect();
        left.sort_unstable();
        let expected: Vec<u32> = (0..most + 3).filter(|n| *n != most - 1).collect();
        assert_eq!(left, expected);
    }

    #[test]
    fn the_shared_pool_keeps_at_most_its_most_even_from_ended_threads() {
        pool!(POOL, KEPT_HERE);
        for _ in 0..2 {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    for n in 0..(KEPT_PER_THREAD + KEPT) as u32 {
                        POOL.give_back(Arc::new(n));
                    }
                });
            });
        }
        assert_eq!(POOL.shared().len(), KEPT);
        assert_eq!(kept_by_this_thread(&KEPT_HERE), 0);
    }
}
