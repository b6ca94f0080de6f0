//! The current invocation: task-local state that the handler's calls reach.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::futures::TaskLocalFuture;

use crate::facts::{End, InvocationFacts, Outcome};
use crate::layer::PerfConfig;
use crate::metrics::{MetricsError, flush, set::MetricSet};

tokio::task_local! {
    static CURRENT: RefCell<Invocation>;
}

/// One invocation in flight.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) config: Arc<PerfConfig>,
    pub(crate) facts: InvocationFacts,
    pub(crate) metrics: MetricSet,
}

/// The handler's future with the invocation as its task-local state.
pub(crate) type Scoped<F> = TaskLocalFuture<RefCell<Invocation>, F>;

impl Invocation {
    pub(crate) fn new(config: Arc<PerfConfig>, facts: InvocationFacts) -> Self {
        Self {
            config,
            facts,
            metrics: MetricSet::default(),
        }
    }

    /// Runs `future` with this invocation as the current one.
    pub(crate) fn scope<F: Future>(self, future: F) -> Scoped<F> {
        CURRENT.scope(RefCell::new(self), future)
    }

    /// Ends the invocation: records the end for idle-gap tracking and writes its metrics.
    pub(crate) fn finish(self, outcome: Outcome) {
        let end = End {
            outcome,
            at: Instant::now(),
        };
        self.config.tracker.end();
        if self.config.metrics_disabled {
            return;
        }
        let record = self
            .config
            .invocation_facts
            .then(|| self.facts.record(Some(end)));
        flush::write_set(
            &self.config.writer,
            &self.config.namespace,
            &self.config.fixed_dimensions,
            &self.metrics,
            record.as_ref(),
        );
    }
}

/// Runs `f` on the current invocation.
pub(crate) fn with_current<R>(f: impl FnOnce(&mut Invocation) -> R) -> Result<R, MetricsError> {
    CURRENT
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut invocation) => Ok(f(&mut invocation)),
            Err(_) => Err(MetricsError::Reentrant),
        })
        .unwrap_or(Err(MetricsError::NoInvocation))
}
