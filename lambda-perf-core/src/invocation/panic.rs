//! The one place lambda-perf catches a panic: around the handler's code and the user code it
//! calls while recording (a `Serialize`, a `Debug`), so that a panic is recorded and then
//! continues to the runtime exactly as it would have without instrumentation.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde_json::Value;

use crate::formats::checked_json::write_checked;
use crate::formats::failure::{DebugFailure, NotSerialized};

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

/// Writes `value`'s `Debug` text (a `%` field's `Display`) to `out`, or says why not. It is
/// user code: one that panics is caught, instead of turning the caller (a `tracing` layer, in
/// the user's own `info!`) into a panic of the handler; one that returns an error is reported
/// without a panic (which the panic hook would print, and `panic = "abort"` would turn into
/// the end of the process). On failure `out` may hold part of the text.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) fn write_debug(
    out: &mut dyn std::fmt::Write,
    value: &dyn std::fmt::Debug,
) -> Result<(), DebugFailure> {
    match catch(|| out.write_fmt(format_args!("{value:?}"))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(std::fmt::Error)) => Err(DebugFailure::Failed),
        Err(panic) => Err(DebugFailure::Panicked(panic)),
    }
}

/// Appends `value`'s compact JSON to `out`, or says why not: its `Serialize` failed,
/// panicked or wrote what is not JSON (`out` may then hold part of it).
pub(crate) fn write_json<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), NotSerialized> {
    catch(|| write_checked(value, out)).unwrap_or_else(|panic| Err(NotSerialized::Panicked(panic)))
}

/// Appends `value` as `serde_json::to_vec` writes it (the code `lambda_runtime` serializes a
/// response with), or says why not: its `Serialize` failed or panicked (`out` may then hold
/// part of it). Unlike [`write_json`], the text is not checked as it is written: a
/// hand-written `Serialize` can make it what is not JSON, so it is read back before it is
/// used (`response_check`).
pub(crate) fn write_compact_json<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), NotSerialized> {
    match catch(|| serde_json::to_writer(&mut *out, value)) {
        Ok(result) => result.map_err(NotSerialized::Failed),
        Err(panic) => Err(NotSerialized::Panicked(panic)),
    }
}

/// `value` as JSON, or why not: its `Serialize` failed or panicked (user code, which must not
/// turn a recording call into a failed invocation).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Value, NotSerialized> {
    match catch(|| serde_json::to_value(value)) {
        Ok(result) => result.map_err(NotSerialized::Failed),
        Err(panic) => Err(NotSerialized::Panicked(panic)),
    }
}
