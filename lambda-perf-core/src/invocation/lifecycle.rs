//! One invocation from its beginning to its end: the start classified, the `ColdStart` line
//! and the trace opened before the handler runs; the trace closed and the metrics written
//! when it ends, whichever way it ends.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

use serde_json::Value;

use super::InitializationType;
use super::client_init::{self, InitRecord};
use super::deferral;
use super::facts::InvocationFacts;
use super::facts_record::{WrittenFacts, WrittenRecord};
#[cfg(feature = "tracing")]
use super::function_context::FunctionContext;
use super::instrumentation::{self, Instrumentation};
use super::outcome::Outcome;
use super::output::{Began, ClientInit, Delivery, Ended};
use super::pool::{Pool, ThreadKept};
use super::readiness;
use super::redaction::Captured;
use super::resources::{Baseline, ResourceUse, environment_vcpus};
use super::response_buffer;
use super::response_check;
use super::settings::{InvocationSettings, ServiceAnnotation};
use super::start_tracker::Start;
use super::trace::{Target, Trace};
use super::watchdog;
use crate::drops::{self, Dropped, Report};
use crate::formats::capped::{capped, capped_json};
use crate::formats::emf::set::MetricSet;
use crate::formats::faas_trigger::FaasTrigger;
use crate::formats::failure::Failure;
use crate::formats::read_back::read_back;
use crate::formats::time::{MonotonicNanos, nanos};
use crate::formats::xray::metadata_name::MetadataName;
use crate::formats::xray::metadata_value::MetadataValue;
use crate::warn::WarnOnce;

pub(crate) use crate::formats::xray::document::FACTS_NAMESPACE;

/// Ended invocations, for the next ones to reuse.
static ENDED: Pool<Invocation> = Pool::new(&ENDED_HERE);

thread_local! {
    /// The ended invocations this thread keeps for itself.
    static ENDED_HERE: ThreadKept<Invocation> = const { ThreadKept::new(|| &ENDED) };
}

thread_local! {
    /// Marks this thread: its address is what an invocation's `holder` holds while this
    /// thread holds its state (two threads alive at once never share it).
    static THREAD_MARK: u8 = const { 0 };
}

/// This thread's mark (never 0).
#[inline]
fn this_thread() -> usize {
    THREAD_MARK.with(|mark| std::ptr::from_ref(mark).addr())
}

/// Why the current invocation cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// No invocation runs on this task, and none was carried into it.
    NoInvocation,
    /// The invocation's state is already in use further up this call stack.
    Reentrant,
    /// The invocation has ended.
    Ended,
}

/// Clears an invocation's `holder`, also when unwinding; dropped before the lock is released,
/// so that it never clears the mark of a thread that took the state after it.
struct Release<'a>(&'a AtomicUsize);

impl Drop for Release<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// One invocation in flight, shared by every task that works for it.
#[derive(Debug)]
pub(crate) struct Invocation {
    instrumentation: Arc<Instrumentation>,
    facts: InvocationFacts,
    /// The context's function name, memory size, ARN and trace header (for log lines).
    #[cfg(feature = "tracing")]
    context: FunctionContext,
    /// Boxed, so that its end takes it out and puts it back as a pointer; `None` while the
    /// end writes it (or when a panic there left it out).
    state: Mutex<Option<Box<State>>>,
    /// The mark of the thread holding the state in [`Invocation::with_state`] (0: none): a
    /// call made meanwhile on that thread (from a `Serialize` that records a metric, say) is
    /// refused instead of deadlocking. Only the holding thread writes its mark, and clears it
    /// before it releases the state: a thread that reads its own mark here holds the state.
    holder: AtomicUsize,
    /// Whether a trace was opened for it (sampled, tracing on), so that what only adds to
    /// the trace skips the state of an invocation that has none.
    traced: bool,
    /// Set once it has ended: later calls are refused. Set under the state's lock and read
    /// there, and read without it by what an untraced invocation refuses, by the taking of
    /// a response buffer.
    ended: AtomicBool,
    /// Its slot in the watchdog, kept for the invocations that reuse its memory.
    watch: watchdog::Watch,
    /// Held while the watchdog writes ([`watchdog::Watched::deadline_near`]) and while the
    /// writes of an end kept for later run ([`Invocation::write_pending`]): under a
    /// runtime-level companion, the window waits here for what the watchdog writes (its
    /// timeout records, or the writes it took over), so that all is out before the runtime
    /// asks for its next event. (An end written before the POST does not wait: that would
    /// delay the response, up to its deadline.)
    writing: Mutex<()>,
    /// The process's resource use when the invocation began, when measured.
    usage: Option<Baseline>,
}

/// How an invocation ended, kept in its state while the writes wait for the response.
#[derive(Debug)]
struct PendingEnding {
    outcome: Outcome,
    at: MonotonicNanos,
    /// From the beginning to `at`, in nanoseconds.
    duration_nanos: u64,
    resources: Option<ResourceUse>,
}

/// The end's writes, once the response is posted.
impl deferral::Deferred for Invocation {
    fn request_id(&self) -> &str {
        &self.facts.request_id
    }

    fn write(self: Arc<Self>) {
        self.write_pending();
        // The handler's future is usually gone by now, and this the last reference: the next
        // invocation reuses its memory (else the future's, dropped later, recycles it).
        Self::recycle(self);
    }
}

/// What an invocation accumulates until it ends.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) metrics: MetricSet,
    /// Present only when the invocation is sampled and tracing is on.
    pub(crate) trace: Option<Trace>,
    /// A finished trace, whose memory the next sampled invocation reuses.
    spare_trace: Option<Trace>,
    /// Uses of each `TimedCache`: (name, hits, misses).
    pub(crate) cache_uses: Vec<(&'static str, u32, u32)>,
    /// Set once the watchdog made it write what it had, near its deadline.
    pub(crate) timed_out: bool,
    /// The watchdog's writes near the deadline took metric values (a line went out with them,
    /// saying `timeout`): the end's line corrects it.
    values_at_timeout: bool,
    /// The facts record of the end, written once for every output (its memory reused).
    written_facts: WrittenFacts,
    /// How the invocation ended, while its writes wait for the response (see [`deferral`]).
    pending_ending: Option<PendingEnding>,
}

impl State {
    /// Empties the state for another invocation, keeping what it allocated, once the end's
    /// writes are done (they took the trace, and how it ended).
    fn renew(&mut self) {
        debug_assert!(self.trace.is_none() && self.pending_ending.is_none());
        self.metrics.clear();
        self.cache_uses.clear();
        self.timed_out = false;
        self.values_at_timeout = false;
    }

    /// Empties the state of an invocation whose end's writes never ran.
    #[cold]
    fn abandon(&mut self) {
        self.pending_ending = None;
        if let Some(mut trace) = self.trace.take() {
            trace.release();
            self.spare_trace = Some(trace);
        }
        self.renew();
    }

    /// Counts a hit or a miss of cache `name`.
    pub(crate) fn count_cache(&mut self, name: &'static str, hit: bool) {
        let index = match self.cache_uses.iter().position(|(n, _, _)| *n == name) {
            Some(index) => index,
            None => {
                self.cache_uses.push((name, 0, 0));
                self.cache_uses.len() - 1
            }
        };
        let entry = &mut self.cache_uses[index];
        if hit {
            entry.1 += 1;
        } else {
            entry.2 += 1;
        }
    }
}

impl Invocation {
    /// Classifies the start, tells the outputs (the `ColdStart` line) and opens the trace:
    /// what every instrumented handler does before it runs. The trace header is the
    /// invocation's own (`Context::xray_trace_id`), never the process environment's.
    pub(crate) fn begin(
        instrumentation: &Arc<Instrumentation>,
        context: &lambda_runtime::Context,
        trigger: FaasTrigger,
    ) -> Arc<Self> {
        readiness::begin_serving(|| instrumentation::first_served(instrumentation));
        // An ended invocation's memory, when one is kept (its `Arc`, its strings, its state),
        // is renewed in place; a new one only when none is. Taken before the start is
        // classified, so that the start is written in place rather than moved there.
        // The clients created at init go to the first invocation as classified (not to
        // whichever of several beginning at once asks first).
        let mut reused = ENDED.take();
        let renewed = if let Some(spare) = reused.as_mut().and_then(Arc::get_mut) {
            spare.renew(instrumentation, context);
            let init_clients = client_init::take_pending(spare.facts.index() == 1);
            spare.open(context, &init_clients, trigger);
            reused
        } else {
            None
        };
        let invocation = renewed.unwrap_or_else(|| {
            let mut created = Self::fresh(instrumentation, context);
            let init_clients = client_init::take_pending(created.facts.index() == 1);
            created.open(context, &init_clients, trigger);
            Arc::new(created)
        });
        if let Some(fire_at) = invocation.watchdog_moment() {
            watchdog::Watch::arm(&invocation, fire_at);
        }
        invocation
    }

    /// Tells the outputs the invocation began (the `ColdStart` line) and opens its trace.
    fn open(
        &mut self,
        context: &lambda_runtime::Context,
        init_clients: &[InitRecord],
        trigger: FaasTrigger,
    ) {
        let Self {
            instrumentation,
            facts,
            state,
            traced,
            ..
        } = self;
        let settings = &instrumentation.settings;
        let state = state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_default();
        // Most outputs have nothing to do for a warm invocation without init clients: it
        // does not call them.
        if instrumentation.every_beginning || facts.is_cold_start() || !init_clients.is_empty() {
            instrumentation.output.invocation_began(&Began {
                facts,
                settings,
                context_function_name: &context.env_config.function_name,
                init_clients,
                context,
                trigger,
            });
        }
        if settings.tracing {
            state.trace = Trace::begin(
                context.xray_trace_id.as_deref(),
                &settings.handler_subsegment_name,
                settings.capture_error,
                (facts.began_epoch_nanos(), facts.began()),
                &mut state.spare_trace,
            );
            if let Some(trace) = &mut state.trace {
                annotate_handler(trace, settings, facts, init_clients);
            }
        }
        *traced = state.trace.is_some();
    }

    /// A new invocation, for when no ended one is kept: only until the pool holds as many as
    /// run at once (cold, so that the classification of the start inlines in the renewal
    /// alone).
    #[cold]
    fn fresh(instrumentation: &Arc<Instrumentation>, context: &lambda_runtime::Context) -> Self {
        let start = classify(instrumentation);
        let usage = usage_baseline(instrumentation, context);
        Self {
            instrumentation: Arc::clone(instrumentation),
            facts: InvocationFacts::new(start, context.request_id.clone(), context.deadline),
            #[cfg(feature = "tracing")]
            context: FunctionContext::new(context),
            state: Mutex::new(Some(Box::default())),
            holder: AtomicUsize::new(0),
            traced: false,
            ended: AtomicBool::new(false),
            watch: watchdog::Watch::default(),
            writing: Mutex::new(()),
            usage,
        }
    }

    /// An ended invocation made the one of `context`, keeping the memory it allocated.
    fn renew(&mut self, instrumentation: &Arc<Instrumentation>, context: &lambda_runtime::Context) {
        if !Arc::ptr_eq(&self.instrumentation, instrumentation) {
            self.instrumentation = Arc::clone(instrumentation);
        }
        self.facts.renew(
            classify(instrumentation),
            &context.request_id,
            context.deadline,
        );
        #[cfg(feature = "tracing")]
        self.context.renew(context);
        // Emptied when the last end's writes put it back (or never used: a new one) — unless
        // those writes never ran (a deferred write dropped unrun: a window runs all of its
        // writes even when one panics, so this is a safeguard): then how it ended is still
        // there, and the rest is emptied here.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let state = state.get_or_insert_default();
        if state.pending_ending.is_some() {
            state.abandon();
        }
        *self.ended.get_mut() = false;
        self.usage = usage_baseline(instrumentation, context);
    }

    /// Keeps an ended invocation's memory for a later one, once nothing else holds it (a
    /// task spawned in it and still running does: then it is freed as usual). One that has
    /// not ended is freed too: its renewal would find what it recorded still there.
    ///
    /// Inlined: the first of two holders to let go (under `PerfRuntimeLayer`, the handler's
    /// future, dropped before the response is posted while the window still holds the
    /// invocation) only lets go, where it is dropped.
    #[inline]
    pub(crate) fn recycle(invocation: Arc<Self>) {
        if Arc::strong_count(&invocation) == 1 {
            Self::keep(invocation);
        }
    }

    /// [`Invocation::recycle`] for the last holder: kept if it has ended.
    #[inline(never)]
    fn keep(invocation: Arc<Self>) {
        if invocation.ended.load(Ordering::Acquire) {
            ENDED.give_back(invocation);
        }
    }

    /// The ended invocation kept for the next one on this thread, if any (taken out).
    #[cfg(test)]
    pub(crate) fn take_kept() -> Option<Arc<Self>> {
        ENDED.take()
    }

    /// When the watchdog should make this invocation write its records: a margin before its
    /// deadline. Never without a deadline at least the margin away as it begins (`cargo lambda
    /// watch` sends `600000`, no deadline at all), nor on Lambda Managed Instances, which do
    /// not stop an invocation at its deadline (its record then says it ran past it).
    fn watchdog_moment(&self) -> Option<MonotonicNanos> {
        let settings = self.settings();
        let margin = settings.timeout_margin?;
        if settings.initialization_type == InitializationType::ManagedInstances {
            return None;
        }
        let fire_at = self
            .facts
            .deadline_epoch_nanos()?
            .checked_sub(nanos(margin))?;
        let left = fire_at.checked_sub(self.facts.began_epoch_nanos())?;
        Some(self.facts.began().plus_nanos(left))
    }
}

impl watchdog::Watched for Invocation {
    /// The handler is still running a margin before the deadline: write what it recorded so
    /// far, as a timeout — the metric values (which later lines will not repeat), and copies
    /// of the nested subsegments still open (the call it is stuck in, most often) and of the
    /// handler subsegment, each faulted with a timeout cause. The copies go to X-Ray as
    /// in-progress documents (`"in_progress": true`, no `end_time`): if Lambda ends the
    /// process at the deadline, they are what remains; if the handler still finishes in time,
    /// the complete documents of the same ids replace them, as X-Ray replaces an in-progress
    /// document. (The OpenTelemetry outputs, which have no in-progress span, take them as
    /// spans ending now.) The handler is not disturbed.
    ///
    /// An invocation that has ended, its writes waiting for the response's POST
    /// ([`deferral`]), writes them now instead, as they are (not as a timeout): the POST (a
    /// streamed response, say) may outlast the deadline, and the process with it.
    fn deadline_near(&self) {
        // Held until all it writes is out, so that a window closing meanwhile waits for these
        // writes (which carry values no later line repeats) before the runtime goes on. Held
        // already: the invocation has ended, and a window is running its writes.
        let Some(_writing) = self.try_writing() else {
            return;
        };
        let at = MonotonicNanos::now();
        let outcome = Outcome::Timeout;
        let duration_nanos = self.facts.since_began(at);
        let ending = self.facts.ending(&outcome, duration_nanos);
        // What it used so far: a function Lambda kills at its deadline leaves only these
        // records. Measured before the lock, as at the end.
        let resources = self
            .usage
            .and_then(|began| began.until_now(Duration::from_nanos(duration_nanos)));
        let settings = self.settings();
        let output = &self.instrumentation.output;
        let so_far = self.with_state(|state| {
            if state.timed_out {
                return None;
            }
            state.timed_out = true;
            let mut written_facts = WrittenFacts::default();
            let mut record = self.facts.record(Some(&ending));
            record.add_resources(resources);
            written_facts.write(&record);
            if let Some(trace) = &state.trace {
                let failure = timeout_failure(settings);
                let timeout = || crate::formats::xray::document::Exception {
                    id: crate::formats::xray::id::next(),
                    kind: failure.kind.clone(),
                    message: failure.message.clone(),
                };
                // Closed now for the outputs that need an end (spans); written to X-Ray as
                // still in progress.
                for open in trace.open_records() {
                    let mut nested = open.clone();
                    nested.record_exception(timeout());
                    nested.close_at(at);
                    let copy = trace.document(&nested).as_in_progress();
                    output.subsegment_closed(&self.facts, &copy);
                }
                let mut handler = trace.handler_snapshot();
                handler.set_facts(&subsegment_facts(&self.facts, &written_facts, None));
                handler.record_exception(timeout());
                handler.close_at(at);
                let copy = trace.document(&handler).as_in_progress();
                output.subsegment_closed(&self.facts, &copy);
            }
            let values = state.metrics.take_values();
            state.values_at_timeout = !values.is_empty();
            Some((values, written_facts))
        });
        match so_far {
            Ok(Some((metrics, written_facts))) => output.deadline_near(&Ended {
                facts: &self.facts,
                metrics: &metrics,
                at_epoch_nanos: ending.epoch_nanos,
                written_facts: &written_facts,
                // The handler snapshot reports no drops.
                exported_drops: &Mutex::new(None),
                corrects_timeout_line: false,
            }),
            // It has ended: nothing to do unless its writes still wait for the POST; whichever
            // of this and the window takes them out first writes them, once.
            Err(Unavailable::Ended) => self.write_pending_now(),
            Ok(None) | Err(_) => {}
        }
    }

    fn watch(&self) -> &watchdog::Watch {
        &self.watch
    }
}

impl Invocation {
    pub(crate) fn facts(&self) -> &InvocationFacts {
        &self.facts
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn function_context(&self) -> &FunctionContext {
        &self.context
    }

    pub(crate) fn settings(&self) -> &InvocationSettings {
        &self.instrumentation.settings
    }

    /// Whether no other invocation of its process (of its start tracker) has begun since
    /// this one.
    pub(crate) fn is_the_latest_begun(&self) -> bool {
        self.instrumentation.tracker.begun() == self.facts.index()
    }

    pub(crate) fn instrumentation(&self) -> &Arc<Instrumentation> {
        &self.instrumentation
    }

    /// The state; a panic while it was held (in user code called under it) does not make it
    /// unusable.
    #[inline]
    fn lock_state(&self) -> MutexGuard<'_, Option<Box<State>>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for `f`; refused after the end, and while this thread already holds it.
    ///
    /// Tried first without waiting: only when the state is taken does it ask whether this
    /// thread is the one that took it (then refused), before it waits for it.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, Unavailable> {
        let mut state = match self.state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                if self.held_here() {
                    return Err(Unavailable::Reentrant);
                }
                self.lock_state()
            }
        };
        let Some(state) = state
            .as_deref_mut()
            .filter(|_| !self.ended.load(Ordering::Acquire))
        else {
            return Err(Unavailable::Ended);
        };
        self.holder.store(this_thread(), Ordering::Relaxed);
        // Declared after the guard: dropped before it.
        let _release = Release(&self.holder);
        Ok(f(state))
    }

    /// Whether this thread holds this invocation's state, further up its stack.
    #[inline]
    fn held_here(&self) -> bool {
        self.holder.load(Ordering::Relaxed) == this_thread()
    }

    /// An empty buffer to write the response to when ending this invocation records it
    /// (capture on, invocation traced): one an earlier value was written to, when this thread
    /// or the trace kept one. Inlined: for the others, the answer is two loads where it is
    /// asked.
    #[inline]
    pub(crate) fn response_buffer(&self) -> Option<Vec<u8>> {
        if !self.settings().capture_response || !self.traced {
            return None;
        }
        self.recorded_response_buffer()
    }

    /// [`Invocation::response_buffer`] for an invocation that records its response.
    fn recorded_response_buffer(&self) -> Option<Vec<u8>> {
        if !self.ended.load(Ordering::Acquire) {
            if let Some(buffer) = response_buffer::take() {
                return Some(buffer);
            }
        }
        self.with_state(|state| state.trace.as_mut().map(|trace| trace.take_json_buffer()))
            .ok()
            .flatten()
    }

    /// Takes back a buffer from [`Invocation::response_buffer`] that the response could not
    /// be written to, for the next value to reuse.
    pub(crate) fn give_back_response_buffer(&self, buffer: Vec<u8>) {
        let Some(buffer) = response_buffer::keep(buffer) else {
            return;
        };
        let _ = self.with_state(|state| {
            if let Some(trace) = state.trace.as_mut() {
                trace.give_back_json_buffer(buffer);
            }
        });
    }

    /// Whether the invocation has ended.
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether a trace was opened for the invocation (sampled, tracing on), ended or not.
    #[inline]
    pub(crate) fn is_traced(&self) -> bool {
        self.traced
    }

    /// Whether the invocation is traced (sampled, tracing on) and has not ended.
    pub(crate) fn is_recording(&self) -> bool {
        self.traced
            && self
                .with_state(|state| state.trace.is_some())
                .unwrap_or(false)
    }

    /// `f` on the state of an invocation that has a trace; `None` without locking it for one
    /// that has none (refused alike after the end, and while this thread holds the state).
    pub(crate) fn with_traced_state<R>(
        &self,
        f: impl FnOnce(&mut State) -> R,
    ) -> Result<Option<R>, Unavailable> {
        match self.untraced() {
            Some(untraced) => untraced.map(|()| None),
            None => self.with_state(f).map(Some),
        }
    }

    /// For an invocation without a trace, what [`Invocation::with_traced_state`] answers,
    /// found without locking the state: refused while this thread holds the state, then
    /// after the end, as [`Invocation::with_state`] refuses; `None` for one with a trace.
    /// Inlined: for an unsampled invocation, a few loads where it is asked.
    #[inline]
    pub(crate) fn untraced(&self) -> Option<Result<(), Unavailable>> {
        if self.traced {
            return None;
        }
        Some(if self.held_here() {
            Err(Unavailable::Reentrant)
        } else if self.ended.load(Ordering::Acquire) {
            Err(Unavailable::Ended)
        } else {
            Ok(())
        })
    }

    /// Closes nested subsegment `id` and sends it.
    pub(crate) fn close_subsegment(&self, state: &mut State, id: u64) {
        let Some(trace) = &mut state.trace else {
            return;
        };
        if let Some(record) = trace.close(id) {
            self.instrumentation
                .output
                .subsegment_closed(&self.facts, &trace.document(&record));
        }
    }

    /// A client finished initializing in this invocation: on the current subsegment (an
    /// `## init <client>` one), and to the outputs.
    pub(crate) fn client_initialized(
        &self,
        state: &mut State,
        subsegment: Option<u64>,
        record: &InitRecord,
    ) {
        let record = &*as_captured(self.settings(), record);
        if let Some(trace) = &mut state.trace {
            if let Ok(value) = serde_json::to_value(record) {
                let target = Target::Current(subsegment);
                trace.add_metadata(target, FACTS_NAMESPACE.into(), "client_init".into(), value);
            }
            if let Some(message) = &record.error {
                let failure = crate::formats::failure::Failure::new("ClientInitError", message);
                trace.record_error(Target::Current(subsegment), &failure);
            }
        }
        self.instrumentation.output.client_initialized(&ClientInit {
            record,
            invocation: Some((&self.facts, self.settings())),
        });
    }

    /// Ends the invocation (once; later calls do nothing): records the end for idle-gap
    /// tracking, closes and sends the trace, and hands the metrics to the outputs. Under a
    /// runtime-level companion ([`deferral`]) the trace and the metrics are written once the
    /// runtime has posted the response instead.
    pub(crate) fn finish(self: &Arc<Self>, mut outcome: Outcome) {
        if self.held_here() {
            // Only from user code run under this invocation's state, which cannot end it.
            return;
        }
        if deferral::any_open() {
            return self.finish_later(outcome);
        }
        // Taken out (a pointer), so that the writes, which run user code (a redaction hook, a
        // writer, a sink), hold no lock: work of this invocation still running elsewhere is
        // refused at once, never kept waiting.
        let state = {
            let mut state = self.lock_state();
            if self.end_under_lock(&state) {
                return;
            }
            state.take()
        };
        let Some(state) = state else {
            return;
        };
        let (at, duration_nanos, resources) = self.end_now();
        self.watch.disarm();
        self.instrumentation
            .tracker
            .end(&self.facts.start, duration_nanos);
        self.write_ending(state, &mut outcome, at, duration_nanos, resources);
    }

    /// [`Invocation::finish`] while a runtime-level companion may defer the writes: the end
    /// is taken now, and kept in the state (which stays in place, the invocation ended) with
    /// how it ended; the writes, and what can wait with them, come once the response is
    /// posted ([`deferral::Deferred`]) — or now, when no window of its request is open.
    ///
    /// The window gets an `Arc` of its own: the caller keeps its own (the handler's future
    /// keeps it to the end), and whichever of the two lets go last recycles the invocation.
    /// (The watchdog holds one too while it writes them near the deadline: should it let go
    /// last, the invocation is freed rather than kept.)
    fn finish_later(self: &Arc<Self>, outcome: Outcome) {
        // Measured before the lock (the resource use is a system call), so that work of this
        // invocation still running elsewhere does not wait for it.
        let (at, duration_nanos, resources) = self.end_now();
        if !self.keep_ending(outcome, at, duration_nanos, resources) {
            return;
        }
        self.instrumentation
            .tracker
            .end(&self.facts.start, duration_nanos);
        if !deferral::defer(self) {
            // Now, before the POST: not waiting for the watchdog (which would delay the
            // response).
            self.write_pending_now();
        }
    }

    /// Marks the invocation ended; `true` if it already was. Only with the state locked
    /// (`_locked`), as every change of `ended` is (or with the invocation held alone, when it
    /// is renewed): a load and a store then do what a swap does, without its locked
    /// instruction.
    #[inline]
    fn end_under_lock(&self, _locked: &MutexGuard<'_, Option<Box<State>>>) -> bool {
        if self.ended.load(Ordering::Relaxed) {
            return true;
        }
        self.ended.store(true, Ordering::Release);
        false
    }

    /// Ends the invocation with how it ended kept in its state for the writes (written there
    /// in place); `false` when it had already ended. What is dropped instead (rarely) is
    /// dropped out of line.
    fn keep_ending(
        &self,
        outcome: Outcome,
        at: MonotonicNanos,
        duration_nanos: u64,
        resources: Option<ResourceUse>,
    ) -> bool {
        let mut locked = self.lock_state();
        let ended_before = self.end_under_lock(&locked);
        match locked.as_deref_mut() {
            Some(state) if !ended_before => {
                if state.pending_ending.is_some() {
                    discard(state.pending_ending.take());
                }
                state.pending_ending = Some(PendingEnding {
                    outcome,
                    at,
                    duration_nanos,
                    resources,
                });
                true
            }
            _ => {
                drop(locked);
                discard(outcome);
                false
            }
        }
    }

    /// The writes of an end kept by [`Invocation::finish_later`], if still kept, once the
    /// response is posted: first waits while the watchdog writes (them, or its timeout
    /// records), so that a window returns only once all is out.
    fn write_pending(&self) {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        self.write_pending_now();
    }

    /// The right to write for the watchdog, unless the invocation's writes are being run.
    fn try_writing(&self) -> Option<MutexGuard<'_, ()>> {
        match self.writing.try_lock() {
            Ok(writing) => Some(writing),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// The writes of an end kept by [`Invocation::finish_later`], if still kept: by the window
    /// once the response is posted, by the watchdog near the deadline, or by the end itself
    /// when no window of its request is open, whichever comes first (the state taken out
    /// under its lock: once).
    fn write_pending_now(&self) {
        // Disarmed only now: until then, the watchdog may find the invocation ended with its
        // writes waiting, and write them.
        self.watch.disarm();
        // Taken out (a pointer) for the writes, as when they are not deferred; how it ended
        // is taken out of it after the lock.
        let state = {
            let mut state = self.lock_state();
            if state
                .as_ref()
                .is_some_and(|state| state.pending_ending.is_some())
            {
                state.take()
            } else {
                None
            }
        };
        if let Some(mut state) = state {
            if let Some(mut ending) = state.pending_ending.take() {
                self.write_ending(
                    state,
                    &mut ending.outcome,
                    ending.at,
                    ending.duration_nanos,
                    ending.resources,
                );
            }
        }
    }

    /// The invocation's end as of now: when, how long after its beginning (in nanoseconds), and
    /// the process's resource use during it (only measured when it was at the beginning:
    /// `getrusage(2)` is a system call). Inlined in both ends: a call would return the three
    /// through memory.
    #[inline(always)]
    fn end_now(&self) -> (MonotonicNanos, u64, Option<ResourceUse>) {
        let at = MonotonicNanos::now();
        let duration_nanos = self.facts.since_began(at);
        let resources = self
            .usage
            .and_then(|began| began.until_now(Duration::from_nanos(duration_nanos)));
        (at, duration_nanos, resources)
    }

    /// What ending writes: the trace closed and sent, the metrics handed to the outputs.
    fn write_ending(
        &self,
        mut state: Box<State>,
        outcome: &mut Outcome,
        at: MonotonicNanos,
        duration_nanos: u64,
        resources: Option<ResourceUse>,
    ) {
        let instrumentation = &self.instrumentation;
        // Before any record takes the drops it reports: a response left out is counted in
        // this invocation's.
        if let Outcome::Success(response) = outcome {
            response_check::keep_if_json(response, |buffer| {
                if let Some(trace) = state.trace.as_mut() {
                    trace.give_back_json_buffer(buffer);
                }
            });
        }
        // Written once for the subsegment and the EMF line, and only for them: an unsampled
        // invocation that recorded no metric has no record that carries it.
        let ending = self.facts.ending(outcome, duration_nanos);
        let at_epoch_nanos = ending.epoch_nanos;
        if state.trace.is_some() || !state.metrics.is_empty() || state.values_at_timeout {
            let mut record = self.facts.record(Some(&ending));
            record.add_resources(resources);
            state.written_facts.write(&record);
        } else {
            state.written_facts.clear();
        }
        let exported_drops = Mutex::new(None);
        if let Some(mut trace) = state.trace.take() {
            let reported = record_ending(
                &instrumentation.settings,
                &self.facts,
                &mut trace,
                outcome,
                &state.written_facts,
                &state.cache_uses,
            );
            // The handler's subsegment is sent last.
            let mut handlers = Delivery::NotCarried;
            trace.finish((at, duration_nanos), |document| {
                handlers = instrumentation
                    .output
                    .subsegment_closed(&self.facts, document);
            });
            match (handlers, reported) {
                (Delivery::Lost, Some(reported)) => drops::restore(Report::Trace, reported),
                (Delivery::Exporting, reported) => {
                    *exported_drops
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = reported;
                }
                _ => {}
            }
            trace.release();
            // A buffer the trace kept (the last response's, most often), for this thread's
            // next response: only where responses are captured.
            if instrumentation.settings.capture_response {
                response_buffer::keep_one(|| trace.take_spare_json_buffer());
            }
            state.spare_trace = Some(trace);
        }
        instrumentation.output.invocation_ended(&Ended {
            facts: &self.facts,
            metrics: &state.metrics,
            at_epoch_nanos,
            written_facts: &state.written_facts,
            exported_drops: &exported_drops,
            corrects_timeout_line: state.values_at_timeout,
        });
        // Drops of a handler subsegment being exported that no export took.
        if let Some(untaken) = exported_drops
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            drops::restore(Report::Trace, untaken);
        }
        // Back in place (the invocation still ended), emptied now rather than when a later
        // invocation begins (under `PerfRuntimeLayer`, after the response rather than before
        // the next one's), so that the later one reuses its memory.
        state.renew();
        *self.lock_state() = Some(state);
    }
}

/// Drops `value`, out of line: for what is rarely there to drop, so that its drop's code
/// stays out of the common path.
#[cold]
#[inline(never)]
fn discard<T>(value: T) {
    drop(value);
}

/// The start of the invocation that begins now, classified by the handler's tracker. Inlined
/// into where it is stored, so that its fields are written there at once.
#[inline(always)]
fn classify(instrumentation: &Instrumentation) -> Start {
    instrumentation
        .tracker
        .begin(instrumentation.settings.initialization_type)
}

/// The process's resource use as the invocation begins, when measured (read after its start
/// is classified, so that the start's clock reading comes first).
#[inline(always)]
fn usage_baseline(
    instrumentation: &Instrumentation,
    context: &lambda_runtime::Context,
) -> Option<Baseline> {
    instrumentation
        .settings
        .resource_usage
        .then(|| {
            Baseline::now(environment_vcpus(
                instrumentation.settings.initialization_type,
                u32::try_from(context.env_config.memory).ok(),
            ))
        })
        .flatten()
}

/// The cause of a timeout, as the watchdog records it (its message only with error capture).
fn timeout_failure(settings: &InvocationSettings) -> crate::formats::failure::Failure {
    let message = match settings.timeout_margin {
        Some(margin) if settings.capture_error => format!(
            "the invocation was still running {} ms before its deadline",
            margin.as_millis()
        ),
        _ => String::new(),
    };
    crate::formats::failure::Failure::new("timeout", message)
}

/// `ColdStart`, `StartKind` and `Service` on the handler subsegment, and the clients
/// initialized before this (first) invocation.
fn annotate_handler(
    trace: &mut Trace,
    settings: &InvocationSettings,
    facts: &InvocationFacts,
    init_clients: &[InitRecord],
) {
    let service = match &settings.service_annotation {
        // Borrowed when kept (the common case): no copy.
        ServiceAnnotation::Valid(service) => Some(service),
        ServiceAnnotation::Refused => {
            drops::count(ServiceAnnotation::REFUSED_CAUSE);
            None
        }
        ServiceAnnotation::Unset => None,
    };
    trace.annotate_start(facts.start_kind(), service);
    if !init_clients.is_empty() {
        let captured: Vec<_> = init_clients
            .iter()
            .map(|record| as_captured(settings, record))
            .collect();
        let value = serde_json::json!(captured);
        let handler = Target::Exactly(trace.handler_id());
        trace.add_metadata(
            handler,
            FACTS_NAMESPACE.into(),
            "init_clients".into(),
            value,
        );
    }
}

/// A client's record as the outputs may see it: without error capture, no error message
/// reaches any output (the failure is kept, its message emptied) — whether the client failed
/// inside an invocation or at init, before the first one.
fn as_captured<'a>(settings: &InvocationSettings, record: &'a InitRecord) -> Cow<'a, InitRecord> {
    match &record.error {
        Some(message) if !settings.capture_error && !message.is_empty() => Cow::Owned(InitRecord {
            error: Some(String::new()),
            ..record.clone()
        }),
        _ => Cow::Borrowed(record),
    }
}

/// The facts record as a handler subsegment carries it: with the drops it reports, and init's
/// duration on the first invocation only.
fn subsegment_facts<'a>(
    facts: &InvocationFacts,
    written: &'a WrittenFacts,
    dropped: Option<Dropped>,
) -> WrittenRecord<'a> {
    written.record(dropped, facts.index() == 1)
}

/// A response written as JSON, as its metadata keeps it: as written, unless a redaction
/// hook is set (which sees it as a value); capped in size either way. A response the hook
/// cannot see as a value (nested deeper than `serde_json` reads, or holding a number no `f64`
/// holds) is not captured: one warning, and each one counted
/// (`capture.response_not_redactable`).
fn captured_response(settings: &InvocationSettings, json: Vec<u8>) -> Option<MetadataValue> {
    static NOT_REDACTABLE: WarnOnce = WarnOnce::new();
    if settings.redact.is_none() {
        return Some(capped_json(json, settings.capture_limit));
    }
    let Some(value) = read_back(&json) else {
        drops::count("capture.response_not_redactable");
        NOT_REDACTABLE.warn(format_args!(
            "the handler's response cannot be read back as a value for the redaction hook \
             (nested too deep, or a number no f64 holds); it is left out of the trace \
             (counted in lambda_perf.dropped)"
        ));
        return None;
    };
    let value = settings.redacted(Captured::Response, value)?;
    Some(capped(value, settings.capture_limit).into())
}

/// Facts, cache uses, response and error on the handler subsegment; returns the drops its
/// facts report, for when it is lost.
fn record_ending(
    settings: &InvocationSettings,
    facts: &InvocationFacts,
    trace: &mut Trace,
    outcome: &mut Outcome,
    written_facts: &WrittenFacts,
    cache_uses: &[(&'static str, u32, u32)],
) -> Option<Dropped> {
    let handler = Target::Exactly(trace.handler_id());
    let record = subsegment_facts(facts, written_facts, drops::take(Report::Trace));
    trace.set_handler_facts(&record);
    let reported = record.into_dropped();
    if !cache_uses.is_empty() {
        // Inserted one by one: collecting into the map compiles a sort and a bulk build of
        // its own (about 10 KB of binary) for the same result, a repeated name's last counts.
        let mut uses = serde_json::Map::new();
        for (name, hits, misses) in cache_uses {
            let counts = serde_json::json!({ "hits": hits, "misses": misses });
            uses.insert((*name).to_owned(), counts);
        }
        trace.add_metadata(
            handler,
            FACTS_NAMESPACE.into(),
            "cache".into(),
            Value::Object(uses),
        );
    }
    // The response is not needed after this: taken, not copied.
    if let Outcome::Success(response) = outcome {
        match response.take() {
            // No response (`()`, `None`): nothing to capture, as Powertools skips `None`.
            Some(json) if json == b"null" => trace.give_back_json_buffer(json),
            Some(json) => {
                if let Some(value) = captured_response(settings, json) {
                    add_captured(trace, handler, settings, &settings.response_key, value);
                }
            }
            None => {}
        }
    }
    if let Some(failure) = outcome.failure() {
        let captured = settings
            .capture_error
            .then(|| settings.redacted(Captured::Error, failure.to_value()))
            .flatten();
        // The cause keeps the message the capture keeps: none without one.
        let message = captured
            .as_ref()
            .and_then(|value| value["message"].as_str())
            .unwrap_or_default();
        trace.record_error(handler, &Failure::new(failure.kind(), message));
        if let Some(value) = captured {
            let value = capped(value, settings.capture_limit);
            add_captured(trace, handler, settings, &settings.error_key, value);
        }
    }
    reported
}

/// A captured response or error under the service's namespace, or counted when X-Ray
/// reserves that namespace (`AWS.…`, warned about at setup).
fn add_captured(
    trace: &mut Trace,
    handler: Target,
    settings: &InvocationSettings,
    key: &MetadataName,
    value: impl Into<MetadataValue>,
) {
    match &settings.capture_namespace {
        Some(namespace) => trace.add_metadata(handler, namespace.clone(), key.clone(), value),
        None => drops::count("xray.reserved_metadata_namespace"),
    }
}

#[cfg(test)]
mod tests {
    use crate::formats::xray::annotation;
    use crate::invocation::StartKind;
    use crate::invocation::trace::{COLD_START_ANNOTATION, START_KIND_ANNOTATION};

    /// `annotate_handler` skips the validation of the annotations it writes on every handler
    /// subsegment: each of them passes it.
    #[test]
    fn the_start_annotations_are_valid() {
        for kind in [
            StartKind::Cold,
            StartKind::Restart,
            StartKind::Warm,
            StartKind::Prewarmed,
            StartKind::Restored,
        ] {
            annotation::validate(COLD_START_ANNOTATION, &kind.is_cold_start().into()).unwrap();
            annotation::validate(START_KIND_ANNOTATION, &kind.as_str().into()).unwrap();
        }
    }
}
