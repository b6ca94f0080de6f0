//! The current invocation: task-local state that the handler's calls reach.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::task::futures::TaskLocalFuture;

use crate::capture::{Failure, capped};
use crate::config::trace_header_from_env;
use crate::facts::{End, InvocationFacts, Outcome};
use crate::layer::PerfConfig;
use crate::metrics::cold_start;
use crate::metrics::{MetricsError, flush, set::MetricSet};
use crate::xray::trace::Trace;

tokio::task_local! {
    /// `None` only after the invocation was taken back out (see `call_in_scope`).
    static CURRENT: RefCell<Option<Invocation>>;
}

/// Why the current invocation cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// Not inside an invocation (or on a task spawned from one).
    NoInvocation,
    /// Already borrowed further up the call stack.
    Reentrant,
}

impl From<Unavailable> for MetricsError {
    fn from(unavailable: Unavailable) -> Self {
        match unavailable {
            Unavailable::NoInvocation => Self::NoInvocation,
            Unavailable::Reentrant => Self::Reentrant,
        }
    }
}

/// One invocation in flight.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) config: Arc<PerfConfig>,
    pub(crate) facts: InvocationFacts,
    pub(crate) metrics: MetricSet,
    /// Present only when the invocation is sampled and tracing is on.
    pub(crate) trace: Option<Trace>,
    /// Uses of each `TimedCache`: (name, hits, misses).
    pub(crate) cache_uses: Vec<(&'static str, u32, u32)>,
}

/// How the handler ended, as the trace records it.
#[derive(Debug, Default)]
pub(crate) struct Ending {
    /// The captured response, when the trace wants one.
    pub(crate) response: Option<Value>,
    /// The error or panic.
    pub(crate) failure: Option<Failure>,
}

/// The handler's future with the invocation as its task-local state.
pub(crate) type Scoped<F> = TaskLocalFuture<RefCell<Option<Invocation>>, F>;

impl Invocation {
    /// Classifies the start, writes the `ColdStart` line if it is one, and opens the trace:
    /// what every instrumented handler does before it runs.
    pub(crate) fn begin(config: &Arc<PerfConfig>, context: &lambda_runtime::Context) -> Self {
        let start = config.tracker.begin(config.initialization_type);
        let facts = InvocationFacts::new(start, context.request_id.clone(), context.deadline);
        let init_clients = crate::lazy::take_pending();
        cold_start::write_line(
            config,
            &facts,
            &context.env_config.function_name,
            &init_clients,
        );
        // The invocation's own header; the process-wide variable only for runtimes that set it
        // and send none (in concurrent mode Lambda sets no variable at all).
        let env_header;
        let header = match &context.xray_trace_id {
            Some(header) => Some(header.as_str()),
            None if config.trace_disabled => None,
            None => {
                env_header = trace_header_from_env();
                env_header.as_deref()
            }
        };
        let mut invocation = Self::new(Arc::clone(config), facts, header);
        if let (Some(trace), false) = (&mut invocation.trace, init_clients.is_empty()) {
            let handler = Some(trace.handler_id());
            let value = crate::lazy::init_metadata(&init_clients);
            trace.add_metadata(handler, "lambda_perf".into(), "init_clients".into(), value);
        }
        invocation
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

    fn new(config: Arc<PerfConfig>, facts: InvocationFacts, header: Option<&str>) -> Self {
        let trace = if config.trace_disabled {
            None
        } else {
            Trace::begin(
                header,
                config.handler_subsegment_name.clone().into(),
                &config.xray_sink,
            )
        };
        let mut invocation = Self {
            config,
            facts,
            metrics: MetricSet::default(),
            trace,
            cache_uses: Vec::new(),
        };
        invocation.annotate_handler();
        invocation
    }

    /// `ColdStart`, `StartKind` and `Service` on the handler subsegment.
    fn annotate_handler(&mut self) {
        let Some(trace) = &mut self.trace else {
            return;
        };
        let kind = self.facts.start_kind();
        let handler = Some(trace.handler_id());
        // Fixed keys and short values: these cannot fail.
        let _ = trace.annotate_record(handler, "ColdStart".into(), kind.is_cold_start().into());
        let _ = trace.annotate_record(handler, "StartKind".into(), kind.as_str().into());
        if let Some(service) = &self.config.explicit_service {
            let _ = trace.annotate_record(handler, "Service".into(), service.clone().into());
        }
    }

    /// Whether ending this invocation records the response.
    pub(crate) fn wants_response(&self) -> bool {
        self.trace.is_some() && self.config.capture_response
    }

    /// Runs `future` with this invocation as the current one.
    pub(crate) fn scope<F: Future>(invocation: Option<Self>, future: F) -> Scoped<F> {
        CURRENT.scope(RefCell::new(invocation), future)
    }

    /// Runs `call` (a service's `call`, which may open spans, record metrics or annotate)
    /// with this invocation as the current one, and gives the invocation back with the
    /// result; a panic in `call` is returned, not raised.
    pub(crate) fn call_in_scope<R>(
        self,
        call: impl FnOnce() -> R,
    ) -> (Option<Self>, std::thread::Result<R>) {
        CURRENT.sync_scope(RefCell::new(Some(self)), || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
            let invocation = CURRENT.with(|cell| cell.borrow_mut().take());
            (invocation, result)
        })
    }

    /// Ends the invocation: records the end for idle-gap tracking, sends the handler
    /// subsegment and writes the metrics.
    pub(crate) fn finish(self, outcome: Outcome, ending: Ending) {
        let end = End {
            outcome,
            at: Instant::now(),
        };
        let config = &self.config;
        config.tracker.end();
        if let Some(mut trace) = self.trace {
            record_ending(config, &self.facts, &mut trace, end, ending);
            if !self.cache_uses.is_empty() {
                let uses: serde_json::Map<String, Value> = self
                    .cache_uses
                    .iter()
                    .map(|(name, hits, misses)| {
                        (
                            (*name).to_owned(),
                            serde_json::json!({ "hits": hits, "misses": misses }),
                        )
                    })
                    .collect();
                let handler = Some(trace.handler_id());
                trace.add_metadata(
                    handler,
                    "lambda_perf".into(),
                    "cache".into(),
                    Value::Object(uses),
                );
            }
            trace.finish();
        }
        if config.metrics_disabled {
            return;
        }
        let record = config
            .invocation_facts
            .then(|| self.facts.record(Some(end)));
        flush::write_set(
            &config.writer,
            &config.namespace,
            &config.fixed_dimensions,
            &self.metrics,
            record.as_ref(),
        );
    }
}

/// Facts, response and error on the handler subsegment.
fn record_ending(
    config: &PerfConfig,
    facts: &InvocationFacts,
    trace: &mut Trace,
    end: End,
    ending: Ending,
) {
    let handler = Some(trace.handler_id());
    if let Ok(Value::Object(fields)) = serde_json::to_value(facts.record(Some(end))) {
        for (key, value) in fields {
            if key == "init_duration_ms" && facts.index() > 1 {
                continue;
            }
            trace.add_metadata(handler, "lambda_perf".into(), key.into(), value);
        }
    }
    let namespace = &config.service;
    if let Some(response) = ending.response {
        let value = capped(response, config.capture_limit);
        let key = format!("{} response", config.handler_name);
        trace.add_metadata(handler, namespace.clone().into(), key.into(), value);
    }
    if let Some(failure) = ending.failure {
        trace.record_error(handler, &failure.kind, &failure.message);
        if config.capture_error {
            let value = capped(failure.to_value(), config.capture_limit);
            let key = format!("{} error", config.handler_name);
            trace.add_metadata(handler, namespace.clone().into(), key.into(), value);
        }
    }
}

/// Runs `f` on the current invocation.
pub(crate) fn with_current<R>(f: impl FnOnce(&mut Invocation) -> R) -> Result<R, Unavailable> {
    CURRENT
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut invocation) => match invocation.as_mut() {
                Some(invocation) => Ok(f(invocation)),
                None => Err(Unavailable::NoInvocation),
            },
            Err(_) => Err(Unavailable::Reentrant),
        })
        .unwrap_or(Err(Unavailable::NoInvocation))
}
