//! The timeout watchdog: an invocation still running a margin before its deadline writes what
//! it has recorded so far — Lambda kills a function at its deadline, and anything not yet
//! written is lost with it.
//!
//! One thread per process, started by the first invocation that arms it, sleeps until the
//! earliest armed moment (or a quarter of a second, whichever is sooner). It never cancels a
//! handler: it only makes the invocation write its records early ([`Watched::deadline_near`]):
//! a timeout line, and its subsegments as X-Ray in-progress documents faulted with a timeout
//! cause, which the complete ones of the same ids replace if the handler still ends in time.
//!
//! Each invocation has a slot of its own ([`Watch`]), taken on its first arming and kept while
//! it is pooled, so arming and disarming touch only that slot and take no lock: arming writes
//! the moment to it, and wakes the thread only when that moment comes before the thread's next
//! look; disarming empties it. The thread scans every slot on each look. The slot holds the
//! invocation weakly only while armed (and whoever disarmed it, until done with what it took
//! out): a pooled invocation is held by nothing else, as its renewal requires.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use super::panic;
use crate::formats::time::{MonotonicNanos, nanos};
use crate::warn::WarnOnce;

/// What the watchdog watches: an invocation, which writes its records when told.
pub(crate) trait Watched: Send + Sync {
    /// The deadline is a margin away.
    fn deadline_near(&self);

    /// Its watch: what arming it takes.
    fn watch(&self) -> &Watch;
}

/// The longest the thread sleeps without looking: a new invocation whose moment comes later
/// than that never has to wake it.
const IDLE: Duration = Duration::from_millis(250);

/// A slot's state when it is not armed; armed, it holds the moment instead.
const DISARMED: u64 = 0;

/// One invocation's slot. Its state is the moment to tell the invocation, in nanoseconds
/// since the watchdog's origin (never 0), or [`DISARMED`]. Whoever changes an armed state to
/// [`DISARMED`] takes the invocation out of the slot: its owner when it disarms, or the thread
/// when the moment has come.
struct Slot {
    state: AtomicU64,
    /// Set while armed (and until the one that disarmed it takes it out).
    invocation: UnsafeCell<Option<Weak<dyn Watched>>>,
}

// SAFETY: `invocation` is accessed by one thread at a time, handed over by `state`. It is
// written only by the slot's one owner, while the slot is disarmed and empty, before the
// store that arms it (see `Watch::arm`); it is taken out only by the one whose swap or
// exchange changed that armed state to disarmed, which one alone can do per arming (see
// `Slot::disarm` and `Slot::look`). The owner arms again only once whoever took the last
// invocation out is done with the slot: a renewed invocation once nothing holds it weakly
// (the taken value is dropped only after it was taken), a slot given to a new owner once
// freed under the lock the thread holds while it takes invocations out (the owner's own
// take, in `Watch::disarm`, comes before its invocation, and so its watch, is dropped).
// `Weak<dyn Watched>` is `Send` (`Watched: Send + Sync`).
#[allow(unsafe_code)]
unsafe impl Sync for Slot {}

impl Slot {
    const fn new() -> Self {
        Self {
            state: AtomicU64::new(DISARMED),
            invocation: UnsafeCell::new(None),
        }
    }

    /// Disarms the slot, if still armed; the invocation it held, if this took it out.
    fn disarm(&self) -> Option<Weak<dyn Watched>> {
        if self.state.swap(DISARMED, Ordering::Acquire) == DISARMED {
            return None;
        }
        // SAFETY: this swap changed the armed state to disarmed, so the invocation is this
        // caller's to take: the thread's exchange fails on a disarmed state, and the owner
        // writes the slot again only once nothing holds the invocation weakly (the taken
        // value, until dropped, does). The acquire orders this after the write that armed it.
        #[allow(unsafe_code)]
        unsafe {
            (*self.invocation.get()).take()
        }
    }

    /// What the thread finds in the slot at `now`, taking the invocation out if it is due.
    fn look(&self, now: u64) -> Look {
        let moment = self.state.load(Ordering::SeqCst);
        if moment == DISARMED {
            return Look::Disarmed;
        }
        if moment > now {
            return Look::ArmedFor(moment);
        }
        if self
            .state
            .compare_exchange(moment, DISARMED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Disarmed meanwhile (or disarmed and armed again, to be seen on the next look).
            return Look::Disarmed;
        }
        // SAFETY: this exchange changed the armed state to disarmed: the invocation is the
        // thread's to take (as in `disarm`).
        #[allow(unsafe_code)]
        let invocation = unsafe { (*self.invocation.get()).take() };
        invocation.map_or(Look::Disarmed, Look::Due)
    }
}

/// What the thread finds in a slot.
enum Look {
    Disarmed,
    /// Armed for this moment, still to come.
    ArmedFor(u64),
    /// Its moment has come: the invocation, taken out of the slot.
    Due(Weak<dyn Watched>),
}

/// Every slot ever taken, and those free for another invocation: they grow to the most
/// invocations alive at once that armed the watchdog (pooled ones included), then never
/// again.
#[derive(Default)]
struct Slots {
    all: Vec<&'static Slot>,
    free: Vec<&'static Slot>,
}

struct Watchdog {
    /// What the moments count from.
    origin: MonotonicNanos,
    /// When the thread will look next, in nanoseconds since `origin` (0 before it first
    /// looks: it is about to).
    planned: AtomicU64,
    slots: Mutex<Slots>,
    wake: Condvar,
}

static UNAVAILABLE: WarnOnce = WarnOnce::new();

/// The process's watchdog once [`watchdog`] started it (`None` if its thread could not be).
static WATCHDOG: OnceLock<Option<&'static Watchdog>> = OnceLock::new();

/// The process's watchdog, started on first use; `None` if its thread cannot be started.
fn watchdog() -> Option<&'static Watchdog> {
    *WATCHDOG.get_or_init(|| {
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            origin: MonotonicNanos::now(),
            planned: AtomicU64::new(0),
            slots: Mutex::new(Slots::default()),
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

/// An invocation's watch: its slot, taken when it is first armed, kept for the invocations
/// that reuse its memory, and freed with it.
#[derive(Default)]
pub(crate) struct Watch {
    slot: OnceLock<&'static Slot>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let armed = self
            .slot
            .get()
            .is_some_and(|slot| slot.state.load(Ordering::Relaxed) != DISARMED);
        formatter
            .debug_struct("Watch")
            .field("armed", &armed)
            .finish()
    }
}

impl Watch {
    /// Has `invocation` write its records at `fire_at` unless disarmed first, if nothing else
    /// holds it (as when it is created, or renewed in place): only then is its slot surely
    /// disarmed and empty, no one still taking the last arming out of it (whoever takes it
    /// holds it weakly until done). A renewed invocation's last arming was disarmed by its end
    /// or taken by the thread.
    pub(crate) fn arm<W: Watched + 'static>(invocation: &Arc<W>, fire_at: MonotonicNanos) {
        let unique = Arc::strong_count(invocation) == 1 && Arc::weak_count(invocation) == 0;
        debug_assert!(
            unique,
            "an invocation is armed only while nothing else holds it"
        );
        if !unique {
            return;
        }
        // After the release that dropped the last other hold (a taker's `Weak`).
        fence(Ordering::Acquire);
        let Some(watchdog) = watchdog() else {
            return;
        };
        let slot = *invocation.watch().slot.get_or_init(|| watchdog.take_slot());
        let moment = watchdog.moment(fire_at);
        debug_assert_eq!(slot.state.load(Ordering::Relaxed), DISARMED);
        // SAFETY: the slot is this invocation's own, and disarmed and empty with no one taking
        // from it, since nothing else holds the invocation (above): no one else accesses
        // `invocation` until the store below arms it (see `Slot`).
        #[allow(unsafe_code)]
        unsafe {
            *slot.invocation.get() = Some(Arc::downgrade(invocation) as Weak<dyn Watched>);
        }
        // Sequentially consistent with the thread's own store of `planned` and load of the
        // state: either it sees this moment when it looks, or this sees when it looks next.
        slot.state.store(moment, Ordering::SeqCst);
        if moment < watchdog.planned.load(Ordering::SeqCst) {
            watchdog.wake();
        }
    }

    /// The invocation ended: it needs no watching any more.
    pub(crate) fn disarm(&self) {
        if let Some(slot) = self.slot.get() {
            drop(slot.disarm());
        }
    }
}

impl Drop for Watch {
    /// The invocation is freed: its slot is disarmed and made free for another one, under the
    /// lock that the thread holds while it takes invocations out of slots.
    fn drop(&mut self) {
        // A watch never armed has no slot, and must not start the watchdog.
        let Some(slot) = self.slot.get() else {
            return;
        };
        let Some(watchdog) = watchdog() else {
            return;
        };
        let mut slots = watchdog.lock();
        let armed = slot.disarm();
        slots.free.push(slot);
        drop(slots);
        drop(armed);
    }
}

impl Watchdog {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A free slot, or a new one.
    fn take_slot(&self) -> &'static Slot {
        let mut slots = self.lock();
        if let Some(slot) = slots.free.pop() {
            return slot;
        }
        let slot: &'static Slot = Box::leak(Box::new(Slot::new()));
        slots.all.push(slot);
        slot
    }

    /// `at`, in nanoseconds since the origin, never [`DISARMED`].
    fn moment(&self, at: MonotonicNanos) -> u64 {
        at.nanos_since(self.origin).max(DISARMED + 1)
    }

    /// Wakes the thread to look again: under its lock, so that it is either waiting, or yet to
    /// look at the slots, or telling invocations (after which it looks again at once).
    #[cold]
    fn wake(&self) {
        let _slots = self.lock();
        self.wake.notify_one();
    }

    fn run(&self) {
        let mut due: Vec<Weak<dyn Watched>> = Vec::new();
        let mut slots = self.lock();
        loop {
            let now = self.moment(MonotonicNanos::now());
            let longest = now.saturating_add(nanos(IDLE));
            // Before looking at the slots: an invocation armed after this sees it.
            self.planned.store(longest, Ordering::SeqCst);
            let earliest = slots.take_due(now, &mut due);
            if !due.is_empty() {
                drop(slots);
                tell(&mut due);
                slots = self.lock();
                continue;
            }
            let next = earliest.map_or(longest, |at| at.min(longest));
            self.planned.store(next, Ordering::SeqCst);
            slots = self
                .wake
                .wait_timeout(slots, Duration::from_nanos(next - now))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Slots {
    /// Takes the invocations due at `now` out of their slots into `due`; the earliest moment
    /// of those still armed.
    fn take_due(&self, now: u64, due: &mut Vec<Weak<dyn Watched>>) -> Option<u64> {
        let mut earliest = None;
        for slot in &self.all {
            match slot.look(now) {
                Look::Disarmed => {}
                Look::ArmedFor(moment) => {
                    earliest = Some(earliest.map_or(moment, |earliest: u64| earliest.min(moment)));
                }
                Look::Due(invocation) => due.push(invocation),
            }
        }
        earliest
    }
}

/// Tells the invocations of `due` that are still alive that their deadline is near (with no
/// lock held: they write their records).
fn tell(due: &mut Vec<Weak<dyn Watched>>) {
    for invocation in due.drain(..) {
        if let Some(invocation) = invocation.upgrade() {
            // A panic in what it writes (user code among it) is the panic hook's to report;
            // the thread goes on watching the others.
            let _ = panic::catch(|| invocation.deadline_near());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    /// An invocation that counts how often it was told.
    #[derive(Default)]
    struct Counted {
        told: AtomicUsize,
        watch: Watch,
    }

    impl Watched for Counted {
        fn deadline_near(&self) {
            self.told.fetch_add(1, Ordering::SeqCst);
        }

        fn watch(&self) -> &Watch {
            &self.watch
        }
    }

    impl Counted {
        fn told(&self) -> usize {
            self.told.load(Ordering::SeqCst)
        }

        /// Waits up to `within` until it was told `times` times; whether it was.
        fn wait_until_told(&self, times: usize, within: Duration) -> bool {
            let began = Instant::now();
            while self.told() < times {
                if began.elapsed() > within {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            true
        }
    }

    fn in_ms(ms: u64) -> MonotonicNanos {
        MonotonicNanos::now().plus_nanos(ms * 1_000_000)
    }

    /// Waits until nothing but `counted` holds it (the thread lets its reference go once it
    /// has told it).
    fn wait_until_unique(counted: &mut Arc<Counted>) -> &mut Counted {
        let began = Instant::now();
        while Arc::get_mut(counted).is_none() {
            assert!(began.elapsed() < Duration::from_secs(5), "still held");
            std::thread::sleep(Duration::from_millis(1));
        }
        Arc::get_mut(counted).unwrap()
    }

    #[test]
    fn an_invocation_is_told_once_at_its_moment_then_held_by_nothing() {
        let mut counted = Arc::new(Counted::default());
        let armed = Instant::now();
        Watch::arm(&counted, in_ms(20));
        assert!(counted.wait_until_told(1, Duration::from_secs(5)));
        // Not before its moment (1 ms for the two readings of the clock).
        let took = armed.elapsed();
        assert!(took >= Duration::from_millis(19), "told after {took:?}");
        wait_until_unique(&mut counted);
        counted.watch.disarm();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(counted.told(), 1);
    }

    #[test]
    fn a_disarmed_invocation_is_never_told() {
        let counted = Arc::new(Counted::default());
        Watch::arm(&counted, in_ms(30));
        counted.watch.disarm();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(counted.told(), 0);
    }

    #[test]
    fn a_renewed_invocation_reuses_its_slot_and_is_told_for_each_arming() {
        let mut counted = Arc::new(Counted::default());
        Watch::arm(&counted, in_ms(0));
        assert!(counted.wait_until_told(1, Duration::from_secs(5)));
        let slot = *wait_until_unique(&mut counted).watch.slot.get().unwrap();
        for armings in 2..=4 {
            Watch::arm(&counted, in_ms(0));
            assert!(counted.wait_until_told(armings, Duration::from_secs(5)));
            wait_until_unique(&mut counted);
        }
        // Disarmed before its moment, it holds nothing either.
        Watch::arm(&counted, in_ms(60_000));
        counted.watch.disarm();
        assert!(Arc::get_mut(&mut counted).is_some());
        assert!(std::ptr::eq(*counted.watch.slot.get().unwrap(), slot));
        assert_eq!(counted.told(), 4);
    }

    #[test]
    fn disarming_as_the_thread_looks_tells_each_arming_at_most_once_and_holds_nothing() {
        let rounds = if cfg!(miri) { 20 } else { 500 };
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let mut counted = Arc::new(Counted::default());
                    for round in 1..=rounds {
                        // Due at once: the thread, woken, takes it out as it is disarmed.
                        Watch::arm(&counted, in_ms(0));
                        counted.watch.disarm();
                        let counted = wait_until_unique(&mut counted);
                        assert!(*counted.told.get_mut() <= round);
                    }
                });
            }
        });
    }

    #[test]
    fn a_sooner_moment_wakes_the_thread() {
        // Told as the thread looks: it then sleeps a quarter of a second, unless woken.
        let first = Arc::new(Counted::default());
        Watch::arm(&first, in_ms(0));
        assert!(first.wait_until_told(1, Duration::from_secs(5)));
        let second = Arc::new(Counted::default());
        let armed = Instant::now();
        Watch::arm(&second, in_ms(20));
        assert!(
            second.wait_until_told(1, IDLE - Duration::from_millis(50)),
            "the thread was not woken"
        );
        let took = armed.elapsed();
        assert!(took >= Duration::from_millis(19), "told after {took:?}");
    }

    #[test]
    fn invocations_at_once_each_have_their_own_watch() {
        let invocations: Vec<Arc<Counted>> = (0..8).map(|_| Arc::default()).collect();
        for (index, invocation) in invocations.iter().enumerate() {
            // Every other one ends before its moment.
            let moment = if index % 2 == 0 { 10 } else { 200 };
            Watch::arm(invocation, in_ms(moment));
        }
        for invocation in invocations.iter().skip(1).step_by(2) {
            invocation.watch.disarm();
        }
        for invocation in invocations.iter().step_by(2) {
            assert!(invocation.wait_until_told(1, Duration::from_secs(5)));
        }
        std::thread::sleep(Duration::from_millis(300));
        let told: Vec<usize> = invocations
            .iter()
            .map(|invocation| invocation.told())
            .collect();
        assert_eq!(told, [1, 0, 1, 0, 1, 0, 1, 0]);
    }

    /// A process that never arms a watch (invocations without a deadline to watch, as on
    /// Managed Instances) starts no watchdog, even as its invocations are freed.
    #[test]
    fn a_watch_never_armed_starts_no_watchdog_when_freed() {
        assert!(
            WATCHDOG.get().is_none(),
            "the watchdog already started in this process: the suite runs each test in a \
             process of its own (cargo nextest)"
        );
        drop(Watch::default());
        assert!(
            WATCHDOG.get().is_none(),
            "freeing a watch never armed started the watchdog"
        );
        let counted = Arc::new(Counted::default());
        Watch::arm(&counted, in_ms(60_000));
        assert!(WATCHDOG.get().is_some_and(Option::is_some));
    }

    #[test]
    fn a_freed_invocation_gives_its_slot_back() {
        let slots = || watchdog().unwrap().lock().all.len();
        for _ in 0..1_000 {
            let counted = Arc::new(Counted::default());
            Watch::arm(&counted, in_ms(60_000));
            // Freed while armed: its slot is disarmed and free for the next.
            drop(counted);
        }
        let before = slots();
        for _ in 0..1_000 {
            let counted = Arc::new(Counted::default());
            Watch::arm(&counted, in_ms(60_000));
            drop(counted);
        }
        // Other tests running at once may take a few.
        assert!(slots() - before < 16, "{before} then {}", slots());
    }
}
