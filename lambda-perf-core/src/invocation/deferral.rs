//! Writing an invocation's end later: after the runtime has posted its response.
//!
//! A runtime-level companion opens a [`Window`] for a request id before the runtime calls the
//! handler, and closes it once the response is posted. An invocation of that request id that
//! ends while its window is open hands its end-of-invocation writes to the window
//! ([`defer`]) instead of running them; closing (or dropping) the window runs them, in the
//! order they came. Without an open window — no companion, or work that ends after its window
//! closed — the writes run at once, as they always did: the only cost then is one atomic load.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::warn::WarnOnce;

/// A write that can wait for the response. Shared (`Arc`), so that deferring it allocates
/// nothing: what it writes is kept by the one who defers it.
pub(crate) trait Deferred: Send + Sync {
    /// The request whose window it waits in.
    fn request_id(&self) -> &str;

    /// Writes, now.
    fn write(self: Arc<Self>);
}

/// How many windows are open in the process: 0 on every path without a companion.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// The places of windows, open or not: as many as were ever open or closing at once. A place
/// keeps its index for good and its memory (the request id, the list of writes) from one window
/// to the next, so that a window finds its own by index, and opening one copies only a request
/// id.
static PLACES: Mutex<Vec<Place>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Place {
    phase: Phase,
    request_id: String,
    deferred: Vec<Arc<dyn Deferred>>,
}

/// Where the window of a [`Place`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// No window: the next to open may take the place.
    #[default]
    Free,
    /// Open: the writes of its request wait in it.
    Open,
    /// Closed, its writes running (taken out): neither open nor free yet.
    Closing,
}

fn places() -> std::sync::MutexGuard<'static, Vec<Place>> {
    PLACES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writes of one invocation's end are deferred while this is open; closing or dropping
/// it runs them.
#[derive(Debug)]
pub(crate) struct Window {
    /// Its place in [`PLACES`], its own until its writes have run.
    place: usize,
    /// Its deferred writes have run (or are running): dropping it then has nothing left to do.
    closed: bool,
}

impl Window {
    /// Opens the window of `request_id`, in the first free place (a new one only when every
    /// place is taken).
    pub(crate) fn open(request_id: &str) -> Self {
        let mut places = places();
        let index = places
            .iter()
            .position(|place| place.phase == Phase::Free)
            .unwrap_or_else(|| {
                places.push(Place::default());
                places.len() - 1
            });
        let place = &mut places[index];
        place.phase = Phase::Open;
        place.request_id.clear();
        place.request_id.push_str(request_id);
        drop(places);
        OPEN.fetch_add(1, Ordering::SeqCst);
        Self {
            place: index,
            closed: false,
        }
    }

    /// Closes the window, the response just posted, and runs what was deferred to it, in
    /// order. When it is the only window open and holds writes, it first gives up the CPU
    /// once (`sched_yield(2)`): the process that receives the response (the Runtime API, and
    /// through it the client) may be waiting for this very CPU, and would otherwise wait for
    /// these writes too. With other invocations in progress (Managed Instances) it does not:
    /// their work on this thread would wait instead. The window stays open while it yields,
    /// so that what this request's work ends meanwhile is still deferred, in order.
    ///
    /// Under the real runtime loop, with readers of the telemetry on the same two cores
    /// (`tests/benches/end_to_end.rs`, one invocation at a time), six alternating runs with
    /// and without the yield measured a median added client latency of 10.9 µs against
    /// 18.4 µs (with the yield made just after the window was taken, which one invocation at
    /// a time reaches as it reaches this one).
    pub(crate) fn close(mut self) {
        if OPEN.load(Ordering::SeqCst) == 1 && holds_writes(self.place) {
            std::thread::yield_now();
        }
        self.run_deferred();
    }

    /// Takes the window's writes out of its place and runs them, once; the first panic of a
    /// write goes on once they all have.
    fn run_deferred(&mut self) {
        if let Some(payload) = self.run_once() {
            std::panic::resume_unwind(payload);
        }
    }

    /// Takes the window's writes out of its place and runs them, once: the first panic of a
    /// write, if one panicked.
    fn run_once(&mut self) -> Option<Box<dyn Any + Send>> {
        if std::mem::replace(&mut self.closed, true) {
            return None;
        }
        run(self.place, take(self.place))
    }
}

/// A window dropped unclosed (the runtime dropped its invocation) loses nothing either. Dropped
/// while its thread unwinds from a panic, the panic of a write cannot go on (a second panic
/// aborts the process): it is left with a warning, and the first one goes on.
impl Drop for Window {
    fn drop(&mut self) {
        static WRITE_PANICKED: WarnOnce = WarnOnce::new();
        if !std::thread::panicking() {
            self.run_deferred();
        } else if self.run_once().is_some() {
            WRITE_PANICKED.warn(
                "an invocation's end-of-invocation write panicked while its thread was \
                 unwinding from another panic; the other writes ran",
            );
        }
    }
}

/// Whether the window in place `index` holds deferred writes.
fn holds_writes(index: usize) -> bool {
    !places()[index].deferred.is_empty()
}

/// Closes the window in place `index`, taking its writes out: what its request's work ends
/// from now on is written at once.
fn take(index: usize) -> Vec<Arc<dyn Deferred>> {
    let deferred = {
        let mut places = places();
        let place = &mut places[index];
        place.phase = Phase::Closing;
        std::mem::take(&mut place.deferred)
    };
    OPEN.fetch_sub(1, Ordering::SeqCst);
    deferred
}

/// Runs what was deferred to the window of place `index`, in order, then gives the place (and
/// the list's memory) to the next window. A write that panics does not stop the others: each
/// runs, and the first panic is returned once they have. (The user code the writes call — a
/// writer, a sink, a redaction hook — has its panics caught where it is called; this is the
/// safeguard for the rest.)
fn run(index: usize, mut deferred: Vec<Arc<dyn Deferred>>) -> Option<Box<dyn Any + Send>> {
    // Outside the lock: a write may itself end up here (it never defers: its window is
    // closing), and outputs may take their time.
    let mut panicked = None;
    for write in deferred.drain(..) {
        if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(|| write.write())) {
            panicked.get_or_insert(payload);
        }
    }
    let mut places = places();
    let place = &mut places[index];
    // In place of the empty list `take` left there (nothing can have been pushed to a place
    // that is closing).
    place.deferred = deferred;
    place.phase = Phase::Free;
    drop(places);
    panicked
}

/// Whether any window is open in the process (one atomic load).
pub(crate) fn any_open() -> bool {
    OPEN.load(Ordering::SeqCst) != 0
}

/// Hands an `Arc` of `write` to the open window of its request, and says whether there was
/// one: when there is none, the caller writes it now.
pub(crate) fn defer<T: Deferred + 'static>(write: &Arc<T>) -> bool {
    if !any_open() {
        return false;
    }
    let mut places = places();
    match places
        .iter_mut()
        .find(|place| place.phase == Phase::Open && place.request_id == write.request_id())
    {
        Some(place) => {
            place.deferred.push(Arc::clone(write) as _);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> Arc<Mutex<Vec<&'static str>>> {
        Arc::new(Mutex::new(Vec::new()))
    }

    /// Writes `what` into `log`, once the window of `request_id` (if open) closes.
    struct Push {
        log: Arc<Mutex<Vec<&'static str>>>,
        request_id: &'static str,
        what: &'static str,
    }

    impl Deferred for Push {
        fn request_id(&self) -> &str {
            self.request_id
        }

        fn write(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.what);
        }
    }

    fn push(
        log: &Arc<Mutex<Vec<&'static str>>>,
        request_id: &'static str,
        what: &'static str,
    ) -> Arc<Push> {
        Arc::new(Push {
            log: Arc::clone(log),
            request_id,
            what,
        })
    }

    /// What the end of an invocation does: defers `write`, or writes it now.
    fn run_or_defer<T: Deferred + 'static>(write: Arc<T>) {
        if !defer(&write) {
            write.write();
        }
    }

    #[test]
    fn without_a_window_the_write_runs_at_once() {
        let log = log();
        run_or_defer(push(&log, "deferral-none", "now"));
        assert_eq!(*log.lock().unwrap(), ["now"]);
    }

    #[test]
    fn an_open_window_holds_the_writes_of_its_request_until_it_closes() {
        let log = log();
        let window = Window::open("deferral-a");
        run_or_defer(push(&log, "deferral-a", "first"));
        run_or_defer(push(&log, "deferral-other", "other request"));
        run_or_defer(push(&log, "deferral-a", "second"));
        assert_eq!(*log.lock().unwrap(), ["other request"]);
        window.close();
        assert_eq!(*log.lock().unwrap(), ["other request", "first", "second"]);
        run_or_defer(push(&log, "deferral-a", "after"));
        assert_eq!(log.lock().unwrap().last(), Some(&"after"));
    }

    #[test]
    fn a_dropped_window_still_runs_what_it_held() {
        let log = log();
        {
            let _window = Window::open("deferral-dropped");
            run_or_defer(push(&log, "deferral-dropped", "held"));
            assert!(log.lock().unwrap().is_empty());
        }
        assert_eq!(*log.lock().unwrap(), ["held"]);
    }

    /// Panics when written; waits in the window of `.0`.
    struct Panics(&'static str);

    impl Deferred for Panics {
        fn request_id(&self) -> &str {
            self.0
        }

        fn write(self: Arc<Self>) {
            panic!("a deferred write panics (expected by the test)");
        }
    }

    #[test]
    fn a_write_that_panics_stops_none_of_the_others_and_its_panic_goes_on() {
        let log = log();
        let window = Window::open("deferral-panics");
        run_or_defer(push(&log, "deferral-panics", "before"));
        run_or_defer(Arc::new(Panics("deferral-panics")));
        run_or_defer(push(&log, "deferral-panics", "after"));
        let closed = std::panic::catch_unwind(AssertUnwindSafe(|| window.close()));
        assert!(closed.is_err(), "the write's panic goes on");
        assert_eq!(*log.lock().unwrap(), ["before", "after"]);
        assert!(!any_open());
    }

    #[test]
    fn a_window_dropped_in_an_unwind_runs_its_writes_and_a_write_that_panics_does_not_abort() {
        let log = log();
        let unwound = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _window = Window::open("deferral-unwinding");
            run_or_defer(Arc::new(Panics("deferral-unwinding")));
            run_or_defer(push(&log, "deferral-unwinding", "after"));
            panic!("the runtime's own panic (expected by the test)");
        }));
        let payload = unwound.expect_err("the first panic goes on");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the runtime's own panic (expected by the test)")
        );
        assert_eq!(*log.lock().unwrap(), ["after"]);
        assert!(!any_open());
    }

    #[test]
    fn a_place_is_taken_again_only_once_its_writes_have_run() {
        let log = log();
        let first = Window::open("deferral-place-1");
        let second = Window::open("deferral-place-2");
        run_or_defer(push(&log, "deferral-place-1", "one"));
        run_or_defer(push(&log, "deferral-place-2", "two"));
        first.close();
        // In the first window's place, freed: the second's writes still wait in their own.
        let third = Window::open("deferral-place-3");
        run_or_defer(push(&log, "deferral-place-3", "three"));
        run_or_defer(push(&log, "deferral-place-1", "one, closed"));
        assert_eq!(*log.lock().unwrap(), ["one", "one, closed"]);
        third.close();
        second.close();
        assert_eq!(*log.lock().unwrap(), ["one", "one, closed", "three", "two"]);
    }

    /// Ends more work of its request while it is written (a write that records, say).
    struct EndsMore(Arc<Mutex<Vec<&'static str>>>);

    impl Deferred for EndsMore {
        fn request_id(&self) -> &str {
            "deferral-closing"
        }

        fn write(self: Arc<Self>) {
            run_or_defer(push(&self.0, "deferral-closing", "ended while closing"));
            self.0.lock().unwrap().push("held");
        }
    }

    #[test]
    fn work_ending_while_its_window_closes_is_written_at_once() {
        let log = log();
        let window = Window::open("deferral-closing");
        run_or_defer(Arc::new(EndsMore(Arc::clone(&log))));
        window.close();
        assert_eq!(*log.lock().unwrap(), ["ended while closing", "held"]);
    }
}
