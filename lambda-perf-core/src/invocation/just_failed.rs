//! The invocation whose handler has just failed on this thread, for `lambda_runtime`'s own
//! lines about that failure.
//!
//! When a handler returns an error or panics, `lambda_runtime` logs it (`error!("{error:?}")`,
//! `user handler panicked`) as its handler's future hands it the result: after the future
//! completed, so outside the invocation that future carried (see [`current`](super::current)),
//! and before the runtime drops that future to post the error. Between the two, on the thread
//! that polled it, this holds the invocation, and the log layer gives those lines its keys
//! (request id, trace id, cold start) as it gives every line of the invocation. Only the
//! runtime's own lines (`lambda_runtime` targets) read it: code of other tasks that runs on
//! the thread meanwhile, were the future kept across an `.await` by a layer above, is no part
//! of the invocation.
//!
//! A successful invocation never touches it.

use std::cell::RefCell;
use std::sync::Arc;

use super::lifecycle::Invocation;

thread_local! {
    /// The invocation whose handler failed last on this thread and whose future is not
    /// dropped yet.
    static JUST_FAILED: RefCell<Option<Arc<Invocation>>> = const { RefCell::new(None) };
}

/// Holds `invocation` as the one that has just failed on this thread, until [`release`].
pub(crate) fn hold(invocation: &Arc<Invocation>) {
    let replaced = JUST_FAILED
        .try_with(|slot| {
            slot.try_borrow_mut()
                .ok()
                .and_then(|mut slot| slot.replace(Arc::clone(invocation)))
        })
        .ok()
        .flatten();
    // Dropped outside the borrow: the last hold of an invocation runs its drop.
    drop(replaced);
}

/// Lets go of `invocation`, as its handler's future is dropped: unless another invocation's
/// failure took its place since.
pub(crate) fn release(invocation: &Arc<Invocation>) {
    let released = JUST_FAILED
        .try_with(|slot| {
            let mut slot = slot.try_borrow_mut().ok()?;
            slot.as_ref()
                .is_some_and(|held| Arc::ptr_eq(held, invocation))
                .then(|| slot.take())
                .flatten()
        })
        .ok()
        .flatten();
    drop(released);
}

/// `f` on the invocation that has just failed on this thread, if one has.
pub(crate) fn with<R>(f: impl FnOnce(&Invocation) -> R) -> Option<R> {
    JUST_FAILED
        .try_with(|slot| slot.try_borrow().ok()?.as_deref().map(f))
        .ok()
        .flatten()
}

/// Whether `target` is one of `lambda_runtime`'s (its crates': `lambda_runtime`,
/// `lambda_runtime_api_client`).
pub(crate) fn is_runtime_target(target: &str) -> bool {
    target.starts_with("lambda_runtime")
}
