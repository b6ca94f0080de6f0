//! The timeout watchdog: an invocation still running a margin before its deadline writes what
//! it has recorded so far — Lambda kills a function at its deadline, and anything not yet
//! written is lost with it.
//!
//! One thread per process, started by the first invocation that arms it, sleeps until the
//! earliest armed moment (or a quarter of a second, whichever is sooner). It never cancels a
//! handler: it only makes the invocation write its records early ([`Watched::deadline_near`]).

use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::warn::WarnOnce;

/// What the watchdog watches: an invocation, which writes its records when told.
pub(crate) trait Watched: Send + Sync {
    /// The deadline is a margin away.
    fn deadline_near(&self);
}

/// The longest the thread sleeps without looking: a new invocation whose moment comes later
/// than that never has to wake it.
const IDLE: Duration = Duration::from_millis(250);

/// One armed invocation.
struct Watch {
    ticket: u64,
    fire_at: Instant,
    invocation: Weak<dyn Watched>,
}

#[derive(Default)]
struct Watches {
    armed: Vec<Watch>,
    next_ticket: u64,
    /// When the thread will look next.
    planned: Option<Instant>,
}

struct Watchdog {
    watches: Mutex<Watches>,
    wake: Condvar,
}

static UNAVAILABLE: WarnOnce = WarnOnce::new();

/// The process's watchdog, started on first use; `None` if its thread cannot be started.
fn watchdog() -> Option<&'static Watchdog> {
    static WATCHDOG: OnceLock<Option<&'static Watchdog>> = OnceLock::new();
    *WATCHDOG.get_or_init(|| {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            watches: Mutex::new(Watches::default()),
            wake: Condvar::new(),
        }));
        match std::thread::Builder::new()
            .name("lambda-perf-watchdog".into())
            .spawn(move || watchdog.run())
        {
            Ok(_) => Some(watchdog),
            Err(error) => {
                UNAVAILABLE.warn(format_args!(
                    "the timeout watchdog cannot start ({error}); an invocation killed at its \
                     deadline loses what it recorded"
                ));
                None
            }
        }
    })
}

/// Has `invocation` write its records at `fire_at` unless disarmed first; returns the ticket
/// that disarms it.
pub(crate) fn arm(invocation: &Arc<impl Watched + 'static>, fire_at: Instant) -> Option<u64> {
    let watchdog = watchdog()?;
    let mut watches = watchdog.lock();
    let ticket = watches.next_ticket;
    watches.next_ticket += 1;
    watches.armed.push(Watch {
        ticket,
        fire_at,
        invocation: Arc::downgrade(invocation) as Weak<dyn Watched>,
    });
    if watches.planned.is_none_or(|planned| fire_at < planned) {
        watchdog.wake.notify_one();
    }
    Some(ticket)
}

/// The invocation of `ticket` ended: it needs no watching any more.
pub(crate) fn disarm(ticket: u64) {
    let Some(watchdog) = watchdog() else {
        return;
    };
    let mut watches = watchdog.lock();
    if let Some(index) = watches
        .armed
        .iter()
        .position(|watch| watch.ticket == ticket)
    {
        watches.armed.swap_remove(index);
    }
}

impl Watchdog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Watches> {
        self.watches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut due: Vec<Weak<dyn Watched>> = Vec::new();
        let mut watches = self.lock();
        loop {
            let now = Instant::now();
            let mut index = 0;
            while index < watches.armed.len() {
                if watches.armed[index].fire_at <= now {
                    due.push(watches.armed.swap_remove(index).invocation);
                } else {
                    index += 1;
                }
            }
            if !due.is_empty() {
                drop(watches);
                for invocation in due.drain(..) {
                    if let Some(invocation) = invocation.upgrade() {
                        invocation.deadline_near();
                    }
                }
                watches = self.lock();
                continue;
            }
            let earliest = watches.armed.iter().map(|watch| watch.fire_at).min();
            let next = earliest.map_or(now + IDLE, |at| at.min(now + IDLE));
            watches.planned = Some(next);
            watches = self
                .wake
                .wait_timeout(watches, next.saturating_duration_since(now))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
