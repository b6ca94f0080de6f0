//! What lambda-perf dropped or trimmed, counted per cause until a record reports it.
//!
//! A warning is printed once per cause, which would hide every later drop of the same kind.
//! So every drop is also counted here, and the next EMF line of an invocation and the next
//! handler subsegment each carry the counts since their previous report, as
//! `"dropped": {"<cause>": <count>, …}` in their `lambda_perf` facts: a drop is always visible
//! in the data itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Which kind of record reports the counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// An invocation's EMF line.
    Emf = 0,
    /// An invocation's handler subsegment.
    Trace = 1,
}

/// Counts per cause, one bank per kind of record.
static BANKS: [Mutex<Vec<(&'static str, u64)>>; 2] =
    [Mutex::new(Vec::new()), Mutex::new(Vec::new())];
/// Whether a bank has counts: the common answer, "no", costs one load.
static PENDING: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
/// Lists that reported their counts, emptied, each the next list a bank counts into: a report
/// hands its bank's list out and puts a spare in its place, and the list comes back here when
/// the report is dropped. Once warm, counting and reporting drops allocate nothing.
static SPARES: Mutex<[Vec<(&'static str, u64)>; 2]> = Mutex::new([Vec::new(), Vec::new()]);

/// Counts one drop of `cause` (a stable snake-case name such as `metrics.non_finite_value`).
pub(crate) fn count(cause: &'static str) {
    count_many(cause, 1);
}

/// Counts one drop of `cause` for each of `items` lost together (the spans of one export, the
/// members of one object): [`count_many`] of a length.
pub(crate) fn count_each(cause: &'static str, items: usize) {
    count_many(cause, u64::try_from(items).unwrap_or(u64::MAX));
}

/// Counts `drops` drops of `cause` at once (none: nothing to report).
pub(crate) fn count_many(cause: &'static str, drops: u64) {
    if drops == 0 {
        return;
    }
    for (bank, pending) in BANKS.iter().zip(&PENDING) {
        let mut counts = bank
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        add(&mut counts, cause, drops);
        pending.store(true, Ordering::Release);
    }
}

/// Gives back counts a record of `report`'s kind took but did not get out (a write that
/// failed, a subsegment or span that was lost): the next record of that kind reports them,
/// with those counted since.
pub(crate) fn restore(report: Report, dropped: Dropped) {
    let index = report as usize;
    let mut counts = BANKS[index]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for &(cause, drops) in &dropped.0 {
        add(&mut counts, cause, drops);
    }
    if !counts.is_empty() {
        PENDING[index].store(true, Ordering::Release);
    }
}

/// Adds `drops` to the count of `cause` in `counts`.
fn add(counts: &mut Vec<(&'static str, u64)>, cause: &'static str, drops: u64) {
    match counts.iter_mut().find(|(name, _)| *name == cause) {
        Some((_, count)) => *count += drops,
        None => counts.push((cause, drops)),
    }
}

/// How many lines `lines` holds (each ends with `\n`): what a failed write of them loses.
pub(crate) fn lines_in(lines: &[u8]) -> u64 {
    lines.iter().filter(|&&byte| byte == b'\n').count() as u64
}

/// The counts since the previous record of this kind reported them, if any. Inlined: the
/// common answer, none, is then one load where it is asked.
#[inline]
pub(crate) fn take(report: Report) -> Option<Dropped> {
    if !PENDING[report as usize].load(Ordering::Acquire) {
        return None;
    }
    take_pending(report)
}

/// [`take`], once its bank has had counts since it was last taken.
#[cold]
#[inline(never)]
fn take_pending(report: Report) -> Option<Dropped> {
    let index = report as usize;
    let mut counts = BANKS[index]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    PENDING[index].store(false, Ordering::Release);
    if counts.is_empty() {
        return None;
    }
    let spare = spares()
        .iter_mut()
        .find(|spare| spare.capacity() > 0)
        .map(std::mem::take)
        .unwrap_or_default();
    Some(Dropped(std::mem::replace(&mut *counts, spare)))
}

/// The spare lists.
fn spares() -> std::sync::MutexGuard<'static, [Vec<(&'static str, u64)>; 2]> {
    SPARES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts of drops per cause, written as a JSON object. Dropped, it gives its list back as a
/// spare for the banks (see [`SPARES`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped(pub(crate) Vec<(&'static str, u64)>);

impl Drop for Dropped {
    fn drop(&mut self) {
        if self.0.capacity() == 0 {
            return;
        }
        // With every spare already there, the list is freed.
        if let Some(empty) = spares().iter_mut().find(|spare| spare.capacity() == 0) {
            self.0.clear();
            *empty = std::mem::take(&mut self.0);
        }
    }
}

impl Dropped {
    /// The count of `cause`.
    #[cfg(test)]
    pub(crate) fn of(&self, cause: &str) -> u64 {
        self.0
            .iter()
            .find(|(name, _)| *name == cause)
            .map_or(0, |(_, count)| *count)
    }
}

impl Serialize for Dropped {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (cause, count) in &self.0 {
            map.serialize_entry(cause, count)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_record_reports_every_drop_once() {
        count("test.a");
        count("test.a");
        count("test.b");
        let emf = take(Report::Emf).unwrap();
        assert_eq!((emf.of("test.a"), emf.of("test.b")), (2, 1));
        let again = take(Report::Emf).unwrap_or_default();
        assert_eq!(again.of("test.a"), 0, "reported once");
        count("test.a");
        let trace = take(Report::Trace).unwrap();
        assert_eq!((trace.of("test.a"), trace.of("test.b")), (3, 1));
        let json = serde_json::to_string(&take(Report::Emf).unwrap()).unwrap();
        assert!(json.contains(r#""test.a":1"#), "{json}");
    }
}
