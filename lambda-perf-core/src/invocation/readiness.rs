//! The moments that bound init as Lambda means it.
//!
//! The rules are in the crate docs, "Init, as Lambda means it": init ends where the
//! instrumented service is built (the runtime asks for work right after), and a SnapStart
//! restore is the origin of ages and init from then on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::client_init;
use super::clock::Moment;
use crate::formats::xray::id;

/// Whether an invocation has begun in this process.
static SERVING: AtomicBool = AtomicBool::new(false);
/// The latest moment the instrumented service was built before the first invocation.
static READY: Mutex<Option<Moment>> = Mutex::new(None);
/// The moment this process was restored from a snapshot.
static RESTORED: Mutex<Option<Moment>> = Mutex::new(None);
/// Whether this process was restored (1) or not (0), read without the lock: what was timed
/// on the monotonic clock before the restore is of unknown age after it.
static RESTORES: AtomicU32 = AtomicU32::new(0);

/// The runtime is about to ask for work: the instrumented service was built. Only the last
/// mark before the first invocation counts; later ones (services cloned while serving) cost
/// one atomic load.
pub(crate) fn mark_ready() {
    if SERVING.load(Ordering::Acquire) {
        return;
    }
    *READY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Moment::now());
}

/// When the runtime first asked for work, as far as this process saw it.
pub(crate) fn ready() -> Option<Moment> {
    *READY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The process was restored from a snapshot now: ids are reseeded from the operating
/// system, and the restore becomes the origin of the environment's age and of init. Returns
/// the restore moment (the first one, if marked twice).
pub(crate) fn mark_restored() -> Moment {
    let mut restored = RESTORED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *restored.get_or_insert_with(|| {
        id::reseed();
        client_init::made_before_snapshot();
        RESTORES.store(1, Ordering::Release);
        Moment::now()
    })
}

/// The restore moment, if this process was restored.
pub(crate) fn restored() -> Option<Moment> {
    *RESTORED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many times this process was restored from a snapshot (0 or 1): the monotonic clock
/// barely moves across a snapshot, however long it was kept, so an age taken on it before a
/// restore says nothing after.
pub(crate) fn restores() -> u32 {
    RESTORES.load(Ordering::Acquire)
}

/// An invocation begins: from now on the process serves. `first` runs before the process is
/// said to serve, when no invocation has begun yet (by each of several beginning at once
/// then): whoever sees it serving sees what `first` did.
#[inline]
pub(crate) fn begin_serving(first: impl FnOnce()) {
    if !SERVING.load(Ordering::Relaxed) {
        first();
        SERVING.store(true, Ordering::Release);
    }
}

/// Whether an invocation has begun in this process (work outside one is then background
/// work, not init).
pub(crate) fn serving() -> bool {
    SERVING.load(Ordering::Acquire)
}
