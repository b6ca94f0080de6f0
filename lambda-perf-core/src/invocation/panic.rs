//! The one place lambda-perf catches a panic: around the handler's code and the user code it
//! calls while recording (a `Serialize`, a `Debug`), so that a panic is recorded and then
//! continues to the runtime exactly as it would have without instrumentation.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A caught panic's payload, to record and then resume.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Runs `f`, catching a panic instead of unwinding past the caller.
///
/// The closure's state is not observed after a panic except through the payload, so unwind
/// safety is asserted.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    catch_unwind(AssertUnwindSafe(f))
}

/// Continues a caught panic.
pub(crate) fn resume(panic: Panic) -> ! {
    std::panic::resume_unwind(panic)
}
