//! Timing an initialization and filing its record under the invocation that waited for it —
//! or, where none did, as init (before the process served) or background work.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::drops;
use crate::formats::failure::panic_message;
use crate::invocation::client_init::{self, InitRecord, Phase};
use crate::invocation::current::{self, Unavailable};
use crate::invocation::lifecycle::FACTS_NAMESPACE;
use crate::invocation::output::ClientInit;
use crate::invocation::panic;
use crate::invocation::readiness;
use crate::invocation::trace::Target;
use crate::setup;
use crate::warn::WarnOnce;
use crate::xray::Subsegment;

/// The name of the subsegment around an initialization, and around a wait for one.
fn subsegment_name(client: &str) -> String {
    format!("## init {client}")
}

/// Files one initialization that took `duration`. Called inside the `## init <client>`
/// subsegment when in an invocation, so the trace data lands there.
fn finished(client: &'static str, duration: Duration, error: Option<String>) {
    let in_invocation = current::with_current(|current| {
        let invocation = current.invocation();
        let record = InitRecord {
            client,
            duration,
            phase: Phase::Invocation,
            start_kind: Some(invocation.facts().start_kind()),
            error: error.clone(),
        };
        let subsegment = current.subsegment();
        current
            .with_state(|state| invocation.client_initialized(state, subsegment, &record))
            .map_err(|unavailable| (unavailable, std::sync::Arc::clone(invocation)))
    });
    let unattributed = |phase| InitRecord {
        client,
        duration,
        phase,
        start_kind: None,
        error: error.clone(),
    };
    match in_invocation {
        Ok(Ok(())) => {}
        // Work that outlived its invocation (or ran under its state): no invocation waited.
        Ok(Err((_, invocation))) => {
            let record = unattributed(Phase::Background);
            invocation
                .instrumentation()
                .output
                .client_initialized(&ClientInit {
                    record: &record,
                    invocation: None,
                });
        }
        Err(Unavailable::NoInvocation | Unavailable::Reentrant | Unavailable::Ended)
            if !readiness::serving() =>
        {
            client_init::keep_for_first_invocation(unattributed(Phase::Init));
        }
        // Written as the handler that serves the process writes, not as the environment
        // alone would have it.
        Err(_) => {
            let record = unattributed(Phase::Background);
            setup::outside_invocation()
                .output
                .client_initialized(&ClientInit {
                    record: &record,
                    invocation: None,
                });
        }
    }
}

/// Marks the current `## init <client>` subsegment as a wait for an initialization another
/// caller ran (`gave_up`: this caller stopped waiting before it finished). A wait the
/// invocation can no longer record (it ended while this waited, or its state is in use further
/// up this call) is counted as dropped, with one warning.
fn waited(client: &'static str, duration: Duration, gave_up: bool) {
    let mut value =
        json!({ "client": client, "waited_ms": crate::formats::time::millis_f64(duration) });
    if gave_up {
        value["gave_up"] = true.into();
    }
    let recorded = current::with_trace(|trace, subsegment| {
        let target = Target::Current(subsegment);
        trace.add_metadata(target, FACTS_NAMESPACE.into(), "client_wait".into(), value);
    });
    if let Err(refused) = recorded {
        crate::xray::report_refused(refused);
    }
}

/// An initialization under way: filed as one that did not finish if it is dropped first —
/// its future dropped (the caller gave up on it: a timeout, a `select!`, or a panic elsewhere
/// unwinding the code that awaited it), or unwound by a panic of its own — so that its
/// `## init <client>` subsegment says so rather than closing as if it had succeeded.
struct Underway {
    client: &'static str,
    started: Instant,
    /// Whether the initialization's own code is running (or was, when it panicked): dropped
    /// then, it is that code that panicked; dropped otherwise, it was given up on.
    running: bool,
}

impl Underway {
    fn start(client: &'static str) -> Self {
        Self {
            client,
            started: Instant::now(),
            running: false,
        }
    }

    /// Runs `f`, the initialization's own code: a panic out of it is the initialization's.
    fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.running = true;
        let result = f();
        self.running = false;
        result
    }

    /// Files the record of the initialization that finished now, with the error `error`
    /// describes, if any.
    fn finish(self, error: impl FnOnce() -> Option<String>) {
        let this = std::mem::ManuallyDrop::new(self);
        let duration = this.started.elapsed();
        finished(this.client, duration, error());
    }
}

impl Drop for Underway {
    fn drop(&mut self) {
        let why = if self.running {
            "the initialization panicked"
        } else {
            "the initialization did not finish: its future was dropped (the caller stopped \
             waiting for it); the next use starts it again"
        };
        finished(self.client, self.started.elapsed(), Some(why.to_owned()));
    }
}

/// Runs `init` timed and files its record: for the caller that initializes.
pub(crate) fn time<T>(client: &'static str, init: impl FnOnce() -> T) -> T {
    let mut underway = Underway::start(client);
    let value = underway.run(init);
    underway.finish(|| None);
    value
}

/// Runs and awaits `init` timed and files its record; an `Err` is recorded as a failure.
pub(crate) async fn time_async<T, E, F>(
    client: &'static str,
    init: impl FnOnce() -> F,
) -> Result<T, E>
where
    E: fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    let mut underway = Underway::start(client);
    let mut future = std::pin::pin!(underway.run(init));
    let result = std::future::poll_fn(|cx| underway.run(|| future.as_mut().poll(cx))).await;
    underway.finish(|| result.as_ref().err().map(describe));
    result
}

/// The message of a failed initialization's error. A `Display` that panics leaves the error
/// the caller's to handle: the record says the error could not be described.
fn describe<E: fmt::Display>(error: &E) -> String {
    panic::catch(|| error.to_string()).unwrap_or_else(|panicked| {
        format!(
            "describing the error panicked: {}",
            panic_message(&*panicked)
        )
    })
}

/// The slow path of a lazy value: `get` initializes it or waits for another caller to, and
/// says whether it initialized. Inside a recorded invocation all of it runs in an
/// `## init <client>` subsegment, so a caller that only waited sees its wait too.
pub(crate) fn slow_path<R>(client: &'static str, get: impl FnOnce() -> (R, bool)) -> R {
    Subsegment::new(subsegment_name(client))
        .unreported_outside_invocations()
        .in_scope(|| {
            let started = Instant::now();
            let (value, initialized) = get();
            if !initialized {
                waited(client, started.elapsed(), false);
            }
            value
        })
}

/// A caller's wait in [`slow_path_async`], recorded as it ends — when `get` finished, or when
/// the caller stopped waiting (its future dropped: a timeout, a `select!`) — unless the caller
/// ran the initialization itself (`initializing`), which [`Underway`] records.
struct Waiting<'a> {
    client: &'static str,
    started: Instant,
    initializing: &'a AtomicBool,
    finished: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.initializing.load(Ordering::Relaxed) {
            waited(self.client, self.started.elapsed(), !self.finished);
        }
    }
}

/// [`slow_path`] for a value initialized asynchronously: `get` sets `initializing` when this
/// caller runs the initialization. A caller that stops waiting for another's records its wait
/// too (`gave_up`).
pub(crate) async fn slow_path_async<R>(
    client: &'static str,
    initializing: &AtomicBool,
    get: impl Future<Output = R>,
) -> R {
    let timed = async move {
        let mut waiting = Waiting {
            client,
            started: Instant::now(),
            initializing,
            finished: false,
        };
        let value = get.await;
        waiting.finished = true;
        // `waiting` records the wait here, inside the subsegment.
        value
    };
    Subsegment::new(subsegment_name(client))
        .unreported_outside_invocations()
        .instrument(timed)
        .await
}

/// Counts a use of cache `name` in the current invocation. A use the invocation cannot count
/// (by work that outlived it, or under its state) is counted as dropped, with one warning.
pub(crate) fn count_cache(name: &'static str, hit: bool) {
    static UNCOUNTED: WarnOnce = WarnOnce::new();
    let cause = match current::with_state(|state, _| state.count_cache(name, hit)) {
        Ok(()) | Err(Unavailable::NoInvocation) => return,
        Err(Unavailable::Ended) => "cache.invocation_ended",
        Err(Unavailable::Reentrant) => "cache.reentrant",
    };
    drops::count(cause);
    UNCOUNTED.warn(format_args!(
        "a use of cache {name:?} is not counted in its invocation's cache hits and misses: \
         the invocation has ended, or its state is in use further up this call (counted in \
         lambda_perf.dropped)"
    ));
}
