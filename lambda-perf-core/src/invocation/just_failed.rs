//! The invocation whose handler has just failed on this thread, for `lambda_runtime`'s own
//! line about that failure.
//!
//! When a handler returns an error or panics, `lambda_runtime` logs it (`error!("{error:?}")`,
//! `user handler panicked`, from its `layers::panic`) as the result reaches it: after the
//! handler's future completed, so outside the invocation that future carried (see
//! [`current`](super::current)) — and, under `#[instrument_lambda]` (whose future completes
//! inside the handler's own) or a wrapper that drops what it wraps as it completes, after
//! that future is gone too. So the failure (an error, a panic, also one while the handler's
//! future is created) holds its invocation here, with the task it failed on, and the log
//! layer gives the next line of `lambda_runtime::layers::panic` on that task its keys
//! (request id, trace id, cold start), as it gives every line of the invocation; that line
//! takes the hold. Lines of other targets (the runtime's about the next event, a retried
//! `/next`), of other tasks, of other crates, read nothing here.
//!
//! A hold no line takes (the failure filtered out, or turned into an answer by a layer above
//! before the runtime saw it) is stale once another invocation of its process has begun,
//! anywhere: a later line of `layers::panic` (a layer above failing on its own, the handler
//! never called) reads nothing then. The runtime writes its line in the poll that saw the
//! failure; only an invocation begun on another thread within that poll (several at once,
//! on Managed Instances) would leave the line without keys: never with another
//! invocation's. A task a layer above moved to another thread after the failure finds no
//! hold there. Without a log layer installed, nothing is held, and a successful invocation
//! never touches this.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task;

use super::lifecycle::Invocation;

/// Whether a log layer that reads the hold was built in this process.
static READ: AtomicBool = AtomicBool::new(false);

/// An invocation whose handler failed, and the task it failed on (`None`: the future a
/// runtime's `block_on` runs, as `#[tokio::main]` runs `lambda_runtime::run`).
struct Held {
    task: Option<task::Id>,
    invocation: Arc<Invocation>,
}

thread_local! {
    /// The invocation whose handler failed last on this thread, until a line takes it.
    static JUST_FAILED: RefCell<Option<Held>> = const { RefCell::new(None) };
    /// Whether [`JUST_FAILED`] may hold one: what every line outside an invocation reads, as
    /// it costs less than that cell.
    static HOLDING: Cell<bool> = const { Cell::new(false) };
}

/// Says that a log layer will read the holds (called as it is built).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // the log layer's
pub(crate) fn read_by_a_log_layer() {
    READ.store(true, Ordering::Relaxed);
}

/// Holds `invocation`, whose handler just failed on the running task, for the runtime's line
/// about it, when a log layer will read it.
pub(crate) fn hold(invocation: &Arc<Invocation>) {
    if !READ.load(Ordering::Relaxed) {
        return;
    }
    let held = Held {
        task: task::try_id(),
        invocation: Arc::clone(invocation),
    };
    let replaced = JUST_FAILED
        .try_with(|slot| {
            let mut slot = slot.try_borrow_mut().ok()?;
            HOLDING.set(true);
            slot.replace(held)
        })
        .ok()
        .flatten();
    // Dropped outside the borrow: the last hold of an invocation runs its drop.
    drop(replaced);
}

/// The target of `lambda_runtime`'s lines about a handler's failure.
const FAILURE_LINES: &str = "lambda_runtime::layers::panic";

/// `f` on the invocation that has just failed on the running task, for a line of `target`:
/// a line of `lambda_runtime`'s about a failure ([`FAILURE_LINES`]), which takes the hold —
/// unless another invocation has begun since (the hold is stale: let go of).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // the log layer's
pub(crate) fn take_for_line<R>(target: &str, f: impl FnOnce(&Invocation) -> R) -> Option<R> {
    if target != FAILURE_LINES || !HOLDING.with(Cell::get) {
        return None;
    }
    let running = task::try_id();
    let held = JUST_FAILED
        .try_with(|slot| {
            let mut slot = slot.try_borrow_mut().ok()?;
            if slot.as_ref()?.task != running {
                return None;
            }
            HOLDING.set(false);
            slot.take()
        })
        .ok()
        .flatten()?;
    held.invocation
        .is_the_latest_begun()
        .then(|| f(&held.invocation))
}

/// The request id of the invocation held on this thread, if one is (`layer_tests.rs`).
#[cfg(all(test, feature = "test-util"))]
pub(crate) fn held_request_id() -> Option<String> {
    JUST_FAILED.with(|slot| {
        slot.borrow()
            .as_ref()
            .map(|held| held.invocation.facts().request_id().to_owned())
    })
}
