//! Writing an invocation's end later: after the runtime has posted its response.
//!
//! A runtime-level companion opens a [`Window`] for a request id before the runtime calls the
//! handler, and closes it once the response is posted. An invocation of that request id that
//! ends while its window is open hands its end-of-invocation writes to the window
//! ([`run_or_defer`]) instead of running them; closing (or dropping) the window runs them, in
//! the order they came. Without an open window — no companion, or work that ends after its
//! window closed — the writes run at once, as they always did: the only cost then is one
//! atomic load.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// A deferred write.
type Write = Box<dyn FnOnce() + Send>;

/// How many windows are open in the process: 0 on every path without a companion.
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// The open windows: (ticket, request id, the writes deferred to it).
static WINDOWS: Mutex<Vec<(u64, String, Vec<Write>)>> = Mutex::new(Vec::new());

/// Tickets of windows, so that a window removes its own entry even if a request id repeats.
static NEXT_TICKET: AtomicU64 = AtomicU64::new(1);

fn windows() -> std::sync::MutexGuard<'static, Vec<(u64, String, Vec<Write>)>> {
    WINDOWS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writes of one invocation's end are deferred while this is open; closing or dropping
/// it runs them.
#[derive(Debug)]
pub(crate) struct Window {
    ticket: u64,
}

impl Window {
    /// Opens the window of `request_id`.
    pub(crate) fn open(request_id: &str) -> Self {
        let ticket = NEXT_TICKET.fetch_add(1, Ordering::Relaxed);
        windows().push((ticket, request_id.to_owned(), Vec::new()));
        OPEN.fetch_add(1, Ordering::SeqCst);
        Self { ticket }
    }

    /// Closes the window and runs what was deferred to it, in order.
    pub(crate) fn close(self) {
        // `Drop` does the work, so that a window dropped unclosed loses nothing either.
        drop(self);
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let writes = {
            let mut windows = windows();
            let index = windows
                .iter()
                .position(|(ticket, _, _)| *ticket == self.ticket);
            index.map(|index| windows.swap_remove(index).2)
        };
        OPEN.fetch_sub(1, Ordering::SeqCst);
        // Outside the lock: a write may itself end up here (it never defers: its window is
        // gone), and outputs may take their time.
        for write in writes.into_iter().flatten() {
            write();
        }
    }
}

/// Whether any window is open in the process (one atomic load).
pub(crate) fn any_open() -> bool {
    OPEN.load(Ordering::SeqCst) != 0
}

/// Runs `write` now, or, while a window of `request_id` is open, hands it to that window.
pub(crate) fn run_or_defer(request_id: &str, write: impl FnOnce() + Send + 'static) {
    if !any_open() {
        return write();
    }
    let write: Write = Box::new(write);
    let refused = {
        let mut windows = windows();
        match windows.iter_mut().find(|(_, id, _)| id == request_id) {
            Some((_, _, deferred)) => {
                deferred.push(write);
                None
            }
            None => Some(write),
        }
    };
    if let Some(write) = refused {
        write();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn log() -> Arc<Mutex<Vec<&'static str>>> {
        Arc::new(Mutex::new(Vec::new()))
    }

    fn push(
        log: &Arc<Mutex<Vec<&'static str>>>,
        what: &'static str,
    ) -> impl FnOnce() + Send + use<> {
        let log = Arc::clone(log);
        move || log.lock().unwrap().push(what)
    }

    #[test]
    fn without_a_window_the_write_runs_at_once() {
        let log = log();
        run_or_defer("deferral-none", push(&log, "now"));
        assert_eq!(*log.lock().unwrap(), ["now"]);
    }

    #[test]
    fn an_open_window_holds_the_writes_of_its_request_until_it_closes() {
        let log = log();
        let window = Window::open("deferral-a");
        run_or_defer("deferral-a", push(&log, "first"));
        run_or_defer("deferral-other", push(&log, "other request"));
        run_or_defer("deferral-a", push(&log, "second"));
        assert_eq!(*log.lock().unwrap(), ["other request"]);
        window.close();
        assert_eq!(*log.lock().unwrap(), ["other request", "first", "second"]);
        run_or_defer("deferral-a", push(&log, "after"));
        assert_eq!(log.lock().unwrap().last(), Some(&"after"));
    }

    #[test]
    fn a_dropped_window_still_runs_what_it_held() {
        let log = log();
        {
            let _window = Window::open("deferral-dropped");
            run_or_defer("deferral-dropped", push(&log, "held"));
            assert!(log.lock().unwrap().is_empty());
        }
        assert_eq!(*log.lock().unwrap(), ["held"]);
    }
}
