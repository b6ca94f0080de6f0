//! What one initialization of a client recorded, and the records waiting for the first
//! invocation.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::StartKind;
use crate::drops;
use crate::first_and_latest;
use crate::formats::time::millis_f64;
use crate::warn::WarnOnce;

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
    /// At init before a SnapStart snapshot: every environment restored from the snapshot
    /// starts with the client already created, and none paid for it. Reported with the first
    /// invocation after the restore (in its trace), without a `ClientInitDuration` metric.
    Snapshot,
}

impl Phase {
    /// The phase as records write it.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Invocation => "invocation",
            Self::Background => "background",
            Self::Snapshot => "snapshot",
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
/// Whether a first invocation has taken what was made at init: until then, no other does.
static FIRST_TOOK: AtomicBool = AtomicBool::new(false);

/// Most records kept for the first invocation. Each becomes a `ClientInitDuration` line and
/// an entry of the handler subsegment's `init_clients`, written as that invocation begins:
/// an init that creates clients in a loop (retrying one that fails, say) must not make the
/// first invocation write without bound, nor hold memory until it comes.
pub(crate) const MAX_KEPT: usize = 100;

/// The cause a record left out by [`MAX_KEPT`] is counted under.
pub(crate) const OVER_LIMIT_CAUSE: &str = "client_init.record_over_limit";

/// Keeps a record made at init for the first invocation: the first [`MAX_KEPT`] − 1 and the
/// latest (a retry loop's outcome), the others counted under [`OVER_LIMIT_CAUSE`], with one
/// warning.
pub(crate) fn keep_for_first_invocation(record: InitRecord) {
    static OVER_LIMIT: WarnOnce = WarnOnce::new();
    let client = record.client;
    let replaced = first_and_latest::push(
        &mut PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        record,
        MAX_KEPT,
    );
    HAS_PENDING.store(true, Ordering::Release);
    if replaced.is_some() {
        drops::count(OVER_LIMIT_CAUSE);
        OVER_LIMIT.warn(format_args!(
            "more than {MAX_KEPT} client initializations before the first invocation (the \
             latest: {client:?}): it reports the first {} and the latest; the others are \
             counted in lambda_perf.dropped ({OVER_LIMIT_CAUSE})",
            MAX_KEPT - 1,
        ));
    }
}

/// The process was restored from a SnapStart snapshot: what was made at init and is still
/// waiting was made before the snapshot ([`Phase::Snapshot`]), not by this restore.
pub(crate) fn made_before_snapshot() {
    if !HAS_PENDING.load(Ordering::Acquire) {
        return;
    }
    for record in PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter_mut()
        .filter(|record| record.phase == Phase::Init)
    {
        record.phase = Phase::Snapshot;
    }
}

/// Takes the records made at init (cheap when there are none), for an invocation already
/// classified: the process's first invocation (`first`), which waited for init — and, once
/// it has asked, any other (a record that came in after that). With several invocations
/// beginning at once, another may ask before the first does: it leaves them to the first.
/// Inlined: every invocation asks, and the answer is two loads.
#[inline(always)]
pub(crate) fn take_pending(first: bool) -> Vec<InitRecord> {
    if first {
        return take_for_first();
    }
    // Every invocation asks: plain loads keep the common answer free of a write.
    if !HAS_PENDING.load(Ordering::Acquire) || !FIRST_TOOK.load(Ordering::Acquire) {
        return Vec::new();
    }
    take_records()
}

/// [`take_pending`] for the first invocation: then the others may take what comes later.
#[cold]
fn take_for_first() -> Vec<InitRecord> {
    let records = take_records();
    FIRST_TOOK.store(true, Ordering::Release);
    records
}

/// The records kept, taken out.
fn take_records() -> Vec<InitRecord> {
    if !HAS_PENDING.swap(false, Ordering::AcqRel) {
        return Vec::new();
    }
    std::mem::take(
        &mut *PENDING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(client: &'static str) -> InitRecord {
        InitRecord {
            client,
            duration: Duration::from_millis(1),
            phase: Phase::Init,
            start_kind: None,
            error: None,
        }
    }

    #[test]
    fn past_the_limit_the_first_records_and_the_latest_are_kept() {
        let mut pending = Vec::new();
        let names: Vec<&'static str> = (0..MAX_KEPT + 20)
            .map(|n| &*Box::leak(format!("client{n}").into_boxed_str()))
            .collect();
        let replaced: Vec<_> = names
            .iter()
            .filter_map(|name| first_and_latest::push(&mut pending, record(name), MAX_KEPT))
            .map(|replaced| replaced.client)
            .collect();
        assert_eq!(pending.len(), MAX_KEPT);
        assert_eq!(
            pending[..MAX_KEPT - 1]
                .iter()
                .map(|r| r.client)
                .collect::<Vec<_>>(),
            names[..MAX_KEPT - 1]
        );
        assert_eq!(pending[MAX_KEPT - 1].client, *names.last().unwrap());
        // Each record replaced was the latest of its moment, from the 100th to the one before
        // the last: 20 left out, none twice.
        assert_eq!(replaced, names[MAX_KEPT - 1..names.len() - 1]);
    }
}
