//! What one initialization of a client recorded, and the records waiting for the first
//! invocation.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::StartKind;
use crate::formats::time::millis_f64;

/// When an initialization ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Phase {
    /// Before the first invocation of the process (eagerly, with `init_now`, or at any use
    /// outside a handler before the runtime served).
    Init,
    /// Lazily, inside an invocation (or on a task carrying one), which waited for it.
    Invocation,
    /// After the process began serving, on a task that carries no invocation (a background
    /// task, say): no invocation waited for it, and none is charged with it.
    Background,
}

impl Phase {
    /// The phase as records write it.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Invocation => "invocation",
            Self::Background => "background",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One initialization: its name, duration, phase, the start kind of the invocation it ran in,
/// and whether it succeeded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InitRecord {
    /// The client's name.
    pub client: &'static str,
    /// How long the initializer took.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// When it ran.
    pub phase: Phase,
    /// The start kind of the invocation it ran in; `None` outside one.
    pub start_kind: Option<StartKind>,
    /// `None` on success, the error's message on failure.
    pub error: Option<String>,
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(millis_f64(*duration))
}

/// Records made at init, waiting for the first invocation.
static PENDING: Mutex<Vec<InitRecord>> = Mutex::new(Vec::new());
static HAS_PENDING: AtomicBool = AtomicBool::new(false);

/// Keeps a record made at init for the first invocation.
pub(crate) fn keep_for_first_invocation(record: InitRecord) {
    PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(record);
    HAS_PENDING.store(true, Ordering::Release);
}

/// Takes the records made at init (cheap when there are none).
pub(crate) fn take_pending() -> Vec<InitRecord> {
    // Every invocation asks: a plain load keeps the common answer free of a write.
    if !HAS_PENDING.load(Ordering::Acquire) || !HAS_PENDING.swap(false, Ordering::AcqRel) {
        return Vec::new();
    }
    std::mem::take(
        &mut *PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}
