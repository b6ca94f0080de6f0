//! Ended invocations kept for reuse: a warm invocation takes one back, with the memory it
//! allocated (its `Arc`, its request id, its metric set), instead of allocating anew.
//!
//! A value given back goes to the shared pool when that is empty, so that the next invocation
//! finds it on whatever thread it begins: one at a time, as on on-demand Lambda, where the
//! runtime's loop moves between the worker threads, one value serves them all (held in the
//! shared pool's first place, taken and given back with one atomic exchange each, without a
//! lock or a look at the thread's own). Otherwise the thread keeps it for itself, and takes
//! its own first: with invocations running at once on several threads (Lambda Managed
//! Instances), a value then stays in the cache of the core that used it last, instead of
//! moving to another core with every reuse, and threads do not meet at one lock. The pool grows to the most invocations that ran at once, plus what each
//! thread keeps for itself, then never again.

use std::cell::RefCell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::LocalKey;

/// Most values kept in the shared pool: beyond this many invocations at once, the extra ones
/// are freed.
const KEPT: usize = 256;

/// Most values one thread keeps for itself.
const KEPT_PER_THREAD: usize = 64;

/// The values one thread keeps for itself, declared with `thread_local!` beside the pool
/// (a `static` pool cannot declare a thread-local of its generic type itself). When the thread
/// ends they go to the shared pool as far as it has room; the others are freed, after the
/// shared pool's lock is released.
pub(crate) struct ThreadKept<T: 'static> {
    values: RefCell<Vec<Arc<T>>>,
    /// The shared pool, asked for only when the thread ends: a function rather than a
    /// reference, since the Rust of the crate's `rust-version` (1.85; 1.88 too) refuses a
    /// thread-local's `const` initializer that holds a reference to a static with interior
    /// mutability.
    pool: fn() -> &'static Pool<T>,
}

impl<T> ThreadKept<T> {
    pub(crate) const fn new(pool: fn() -> &'static Pool<T>) -> Self {
        Self {
            values: RefCell::new(Vec::new()),
            pool,
        }
    }
}

impl<T> Drop for ThreadKept<T> {
    fn drop(&mut self) {
        let mut values = std::mem::take(self.values.get_mut());
        let beyond_room = {
            let pool = (self.pool)();
            let mut shared = pool.shared();
            let room = KEPT.saturating_sub(shared.len()).min(values.len());
            let beyond_room = values.split_off(room);
            pool.push_shared(&mut shared, values);
            beyond_room
        };
        drop(beyond_room);
    }
}

/// Values no one else holds, waiting to be reused.
pub(crate) struct Pool<T: 'static> {
    per_thread: &'static LocalKey<ThreadKept<T>>,
    /// The shared pool's first place: a value (from `Arc::into_raw`) or null. Filled only when
    /// the rest of the shared pool is empty.
    first: AtomicPtr<T>,
    /// The rest of the shared pool.
    shared: Mutex<Vec<Arc<T>>>,
    /// Whether `shared` holds values, read without its lock.
    shared_has_values: AtomicBool,
    /// Whether any thread has kept values for itself: until then, a take does not look at
    /// the thread's own. (A thread always sees its own store of it.)
    threads_keep: AtomicBool,
}

impl<T> Pool<T> {
    pub(crate) const fn new(per_thread: &'static LocalKey<ThreadKept<T>>) -> Self {
        Self {
            per_thread,
            first: AtomicPtr::new(ptr::null_mut()),
            shared: Mutex::new(Vec::new()),
            shared_has_values: AtomicBool::new(false),
            threads_keep: AtomicBool::new(false),
        }
    }

    /// The value in the first place, taken out of it.
    #[inline]
    fn take_first(&self) -> Option<Arc<T>> {
        if self.first.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let value = self.first.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: a non-null pointer in `first` comes from `Arc::into_raw` in `give_back`, and
        // owns that `Arc`; the swap took it out, so this alone turns it back into the `Arc`,
        // once. The acquire orders this after the release that put it there.
        #[allow(unsafe_code)]
        (!value.is_null()).then(|| unsafe { Arc::from_raw(value) })
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Vec<Arc<T>>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `values` to the shared pool, whose lock `shared` holds.
    fn push_shared(&self, shared: &mut Vec<Arc<T>>, values: impl IntoIterator<Item = Arc<T>>) {
        let was_empty = shared.is_empty();
        shared.extend(values);
        // Written only when it changes: every `give_back` reads it.
        if was_empty && !shared.is_empty() {
            self.shared_has_values.store(true, Ordering::Relaxed);
        }
    }

    /// A value of the shared pool.
    fn pop_shared(&self) -> Option<Arc<T>> {
        let mut shared = self.shared();
        let value = shared.pop();
        if shared.is_empty() {
            self.shared_has_values.store(false, Ordering::Relaxed);
        }
        value
    }

    /// A kept value, which no one else holds (so `Arc::get_mut` succeeds): this thread's own
    /// first.
    pub(crate) fn take(&self) -> Option<Arc<T>> {
        if self.threads_keep.load(Ordering::Relaxed) {
            let own = self
                .per_thread
                .try_with(|kept| kept.values.try_borrow_mut().ok()?.pop())
                .ok()
                .flatten();
            if own.is_some() {
                return own;
            }
        }
        self.take_first().or_else(|| self.pop_shared())
    }

    /// Keeps `value` if no one else holds it (no other `Arc`, no `Weak`): in the shared pool
    /// (its first place) if that is empty, else for this thread if it keeps fewer than its
    /// most, else in the shared pool if that is not full; otherwise lets it go.
    pub(crate) fn give_back(&self, mut value: Arc<T>) {
        if Arc::get_mut(&mut value).is_none() {
            return;
        }
        if !self.shared_has_values.load(Ordering::Relaxed) {
            let raw = Arc::into_raw(value).cast_mut();
            match self.first.compare_exchange(
                ptr::null_mut(),
                raw,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                // SAFETY: `raw` comes from `Arc::into_raw` just above and was not stored: it
                // is turned back into its `Arc` once.
                #[allow(unsafe_code)]
                Err(_) => value = unsafe { Arc::from_raw(raw) },
            }
        }
        // The shared pool holds values. Not kept for the thread while it is being torn down,
        // or re-entered. (After a stale read of the shared pool the value may wait here while
        // a take on another thread finds nothing and allocates: at most once per value this
        // thread keeps, so the pool's growth stays bounded.)
        let mut value = Some(value);
        let _ = self.per_thread.try_with(|kept| {
            if let Ok(mut kept) = kept.values.try_borrow_mut() {
                if kept.len() < KEPT_PER_THREAD {
                    kept.extend(value.take());
                    if !self.threads_keep.load(Ordering::Relaxed) {
                        self.threads_keep.store(true, Ordering::Relaxed);
                    }
                }
            }
        });
        let Some(value) = value else {
            return;
        };
        let mut shared = self.shared();
        if shared.len() < KEPT {
            self.push_shared(&mut shared, [value]);
        }
    }
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        drop(self.take_first());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// A pool of its own for one test, with its thread-local.
    macro_rules! pool {
        ($pool:ident, $kept:ident) => {
            static $pool: Pool<u32> = Pool::new(&$kept);
            thread_local! {
                static $kept: ThreadKept<u32> = const { ThreadKept::new(|| &$pool) };
            }
        };
    }

    fn kept_by_this_thread(kept: &'static LocalKey<ThreadKept<u32>>) -> usize {
        kept.with(|kept| kept.values.borrow().len())
    }

    fn numbers(values: impl IntoIterator<Item = Arc<u32>>) -> Vec<u32> {
        let mut numbers: Vec<u32> = values.into_iter().map(|value| *value).collect();
        numbers.sort_unstable();
        numbers
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

    /// One at a time, each taken on one thread and given back on another that lives on (as
    /// the runtime's loop moves between worker threads): the one value serves every time.
    #[test]
    fn one_value_at_a_time_is_shared_whatever_thread_gives_it_back() {
        pool!(POOL, KEPT_HERE);
        POOL.give_back(Arc::new(7));
        let (to_giver, values) = std::sync::mpsc::channel::<Arc<u32>>();
        let (to_taker, given) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for value in values {
                    POOL.give_back(value);
                    to_taker.send(()).unwrap();
                }
            });
            for _ in 0..10 {
                let value = POOL
                    .take()
                    .expect("the one value, given back on the other thread");
                to_giver.send(value).unwrap();
                given.recv().unwrap();
            }
            drop(to_giver);
        });
        assert_eq!(numbers(std::iter::from_fn(|| POOL.take())), [7]);
        // It went through the shared pool's first place every time: no thread kept it.
        assert!(!POOL.threads_keep.load(Ordering::Relaxed));
    }

    #[test]
    fn a_dropped_pool_frees_the_value_in_its_first_place() {
        struct Counted(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        static OTHER: Pool<Counted> = Pool::new(&KEPT_HERE);
        thread_local! {
            static KEPT_HERE: ThreadKept<Counted> = const { ThreadKept::new(|| &OTHER) };
        }
        let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let pool = Pool::new(&KEPT_HERE);
        pool.give_back(Arc::new(Counted(Arc::clone(&dropped))));
        assert_eq!(dropped.load(Ordering::Relaxed), 0, "kept");
        drop(pool);
        assert_eq!(dropped.load(Ordering::Relaxed), 1, "freed with the pool");
    }

    #[test]
    fn a_thread_takes_its_own_first_and_hands_them_over_when_it_ends() {
        pool!(POOL, KEPT_HERE);
        let most = KEPT_PER_THREAD as u32;
        // The first value goes to the empty shared pool, the next `most` are the thread's
        // own, the last two shared again.
        let given = most + 3;
        let (gave, looked) = (Barrier::new(2), Barrier::new(2));
        std::thread::scope(|scope| {
            let giver = scope.spawn(|| {
                for n in 0..given {
                    POOL.give_back(Arc::new(n));
                }
                assert_eq!(kept_by_this_thread(&KEPT_HERE), KEPT_PER_THREAD);
                // The last it kept, from its own.
                assert_eq!(POOL.take().as_deref(), Some(&most));
                gave.wait();
                looked.wait();
            });
            let looker = scope.spawn(|| {
                gave.wait();
                // While the first thread lives, another sees only what it did not keep.
                let seen: Vec<Arc<u32>> = std::iter::from_fn(|| POOL.take()).collect();
                let seen_numbers = numbers(seen.iter().cloned());
                POOL.push_shared(&mut POOL.shared(), seen);
                looked.wait();
                seen_numbers
            });
            giver.join().unwrap();
            assert_eq!(looker.join().unwrap(), [0, most + 1, most + 2]);
        });
        // When it ended, the first thread's own went to the shared pool.
        let left = numbers(std::iter::from_fn(|| POOL.take()));
        let expected: Vec<u32> = (0..given).filter(|n| *n != most).collect();
        assert_eq!(left, expected);
    }

    #[test]
    fn an_ended_thread_hands_over_only_what_the_shared_pool_has_room_for() {
        pool!(POOL, KEPT_HERE);
        // The shared pool five short of full.
        POOL.push_shared(&mut POOL.shared(), (0..KEPT as u32 - 5).map(Arc::new));
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    for n in 0..KEPT_PER_THREAD as u32 {
                        POOL.give_back(Arc::new(1_000 + n));
                    }
                    assert_eq!(kept_by_this_thread(&KEPT_HERE), KEPT_PER_THREAD);
                })
                .join()
                .unwrap();
        });
        let shared = POOL.shared();
        assert_eq!(shared.len(), KEPT);
        assert_eq!(shared.iter().filter(|value| ***value >= 1_000).count(), 5);
    }
}
