//! One invocation from its beginning to its end: the start classified, the `ColdStart` line
//! and the trace opened before the handler runs; the trace closed and the metrics written
//! when it ends, whichever way it ends.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::Value;

use super::client_init::{self, InitRecord};
use super::facts::InvocationFacts;
#[cfg(feature = "tracing")]
use super::function_context::FunctionContext;
use super::instrumentation::Instrumentation;
use super::outcome::Outcome;
use super::output::{Began, ClientInit, Ended};
use super::readiness;
use super::settings::InvocationSettings;
use super::trace::{Target, Trace};
use crate::formats::capped::capped;
use crate::formats::emf::set::MetricSet;

/// The key of lambda-perf's own trace metadata.
pub(crate) const FACTS_NAMESPACE: &str = "lambda_perf";

thread_local! {
    /// The address of the invocation whose state this thread holds (0: none): a call made
    /// meanwhile on the same invocation (from a `Serialize` that records a metric, say) is
    /// refused instead of deadlocking.
    static HOLDING_STATE: Cell<usize> = const { Cell::new(0) };
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

/// Restores [`HOLDING_STATE`], also when unwinding.
struct Release(usize);

impl Drop for Release {
    fn drop(&mut self) {
        HOLDING_STATE.with(|holding| holding.set(self.0));
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
    state: Mutex<State>,
}

/// What an invocation accumulates until it ends.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) metrics: MetricSet,
    /// Present only when the invocation is sampled and tracing is on.
    pub(crate) trace: Option<Trace>,
    /// Uses of each `TimedCache`: (name, hits, misses).
    pub(crate) cache_uses: Vec<(&'static str, u32, u32)>,
    /// Set once the invocation has ended: later calls are refused.
    pub(crate) ended: bool,
}

impl State {
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
    ) -> Arc<Self> {
        readiness::begin_serving();
        let settings = &instrumentation.settings;
        let start = instrumentation.tracker.begin(settings.initialization_type);
        let facts = InvocationFacts::new(start, context.request_id.clone(), context.deadline);
        let init_clients = client_init::take_pending();
        instrumentation.output.invocation_began(&Began {
            facts: &facts,
            settings,
            context_function_name: &context.env_config.function_name,
            init_clients: &init_clients,
        });
        let trace = settings
            .tracing
            .then(|| {
                let name = Cow::Owned(settings.handler_subsegment_name.clone());
                Trace::begin(context.xray_trace_id.as_deref(), name)
            })
            .flatten()
            .map(|mut trace| {
                annotate_handler(&mut trace, settings, &facts, &init_clients);
                trace
            });
        Arc::new(Self {
            instrumentation: Arc::clone(instrumentation),
            facts,
            #[cfg(feature = "tracing")]
            context: FunctionContext::new(context),
            state: Mutex::new(State {
                trace,
                ..State::default()
            }),
        })
    }

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

    pub(crate) fn instrumentation(&self) -> &Arc<Instrumentation> {
        &self.instrumentation
    }

    /// The state; a panic while it was held (in user code called under it) does not make it
    /// unusable.
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for `f`; refused after the end, and while this thread already holds it.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, Unavailable> {
        if self.held_here() {
            return Err(Unavailable::Reentrant);
        }
        let mut state = self.lock_state();
        if state.ended {
            return Err(Unavailable::Ended);
        }
        let _release = Release(HOLDING_STATE.with(|holding| holding.replace(self.address())));
        Ok(f(&mut state))
    }

    fn address(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Whether this thread holds this invocation's state, further up its stack.
    fn held_here(&self) -> bool {
        HOLDING_STATE.with(Cell::get) == self.address()
    }

    /// Whether ending this invocation records the response.
    pub(crate) fn wants_response(&self) -> bool {
        self.settings().capture_response && self.is_recording()
    }

    /// Whether the invocation is traced (sampled, tracing on) and has not ended.
    pub(crate) fn is_recording(&self) -> bool {
        self.with_state(|state| state.trace.is_some())
            .unwrap_or(false)
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
    /// tracking, closes and sends the trace, and hands the metrics to the outputs.
    pub(crate) fn finish(&self, outcome: Outcome) {
        if self.held_here() {
            // Only from user code run under this invocation's state, which cannot end it.
            return;
        }
        let state = {
            let mut state = self.lock_state();
            if state.ended {
                return;
            }
            let taken = std::mem::take(&mut *state);
            state.ended = true;
            taken
        };
        let at = Instant::now();
        let instrumentation = &self.instrumentation;
        instrumentation.tracker.end();
        if let Some(mut trace) = state.trace {
            record_ending(
                &instrumentation.settings,
                &self.facts,
                &mut trace,
                (&outcome, at),
                &state.cache_uses,
            );
            trace.finish(|document| {
                instrumentation
                    .output
                    .subsegment_closed(&self.facts, document);
            });
        }
        instrumentation.output.invocation_ended(&Ended {
            facts: &self.facts,
            settings: &instrumentation.settings,
            outcome: &outcome,
            at,
            metrics: &state.metrics,
        });
    }
}

/// `ColdStart`, `StartKind` and `Service` on the handler subsegment, and the clients
/// initialized before this (first) invocation.
fn annotate_handler(
    trace: &mut Trace,
    settings: &InvocationSettings,
    facts: &InvocationFacts,
    init_clients: &[InitRecord],
) {
    let handler = Target::Exactly(trace.handler_id());
    let kind = facts.start_kind();
    // Fixed keys and short values: these cannot fail.
    let _ = trace.annotate(handler, "ColdStart".into(), kind.is_cold_start().into());
    let _ = trace.annotate(handler, "StartKind".into(), kind.as_str().into());
    if let Some(service) = &settings.explicit_service {
        let _ = trace.annotate(handler, "Service".into(), service.clone().into());
    }
    if !init_clients.is_empty() {
        let value = serde_json::json!(init_clients);
        trace.add_metadata(
            handler,
            FACTS_NAMESPACE.into(),
            "init_clients".into(),
            value,
        );
    }
}

/// Facts, cache uses, response and error on the handler subsegment.
fn record_ending(
    settings: &InvocationSettings,
    facts: &InvocationFacts,
    trace: &mut Trace,
    ended: (&Outcome, Instant),
    cache_uses: &[(&'static str, u32, u32)],
) {
    let handler = Target::Exactly(trace.handler_id());
    if let Ok(Value::Object(fields)) = serde_json::to_value(facts.record(Some(ended))) {
        for (key, value) in fields {
            if key == "init_duration_ms" && facts.index() > 1 {
                continue;
            }
            trace.add_metadata(handler, FACTS_NAMESPACE.into(), key.into(), value);
        }
    }
    if !cache_uses.is_empty() {
        let uses: serde_json::Map<String, Value> = cache_uses
            .iter()
            .map(|(name, hits, misses)| {
                let counts = serde_json::json!({ "hits": hits, "misses": misses });
                ((*name).to_owned(), counts)
            })
            .collect();
        trace.add_metadata(
            handler,
            FACTS_NAMESPACE.into(),
            "cache".into(),
            Value::Object(uses),
        );
    }
    let namespace = || Cow::Owned(settings.service.clone());
    let (outcome, _) = ended;
    if let Outcome::Success(Some(response)) = outcome {
        let value = capped(response.clone(), settings.capture_limit);
        let key = Cow::Owned(settings.response_key.clone());
        trace.add_metadata(handler, namespace(), key, value);
    }
    if let Some(failure) = outcome.failure() {
        trace.record_error(handler, failure);
        if settings.capture_error {
            let value = capped(failure.to_value(), settings.capture_limit);
            let key = Cow::Owned(settings.error_key.clone());
            trace.add_metadata(handler, namespace(), key, value);
        }
    }
}
