//! Everything the invocations of one instrumented handler share.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::output::Output;
use super::settings::InvocationSettings;
use super::start_tracker::StartTracker;

/// The settings, the start classifier and the outputs of one instrumented handler (one
/// `PerfLayer`, one `#[instrument_lambda]` function), built once and shared by its
/// invocations.
pub(crate) struct Instrumentation {
    pub(crate) settings: InvocationSettings,
    pub(crate) tracker: Arc<StartTracker>,
    pub(crate) output: Box<dyn Output>,
    /// `output.needs_every_beginning()`, asked once.
    pub(crate) every_beginning: bool,
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumentation")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The instrumentation of the process's first invocation.
static FIRST_SERVED: OnceLock<Arc<Instrumentation>> = OnceLock::new();

/// `instrumentation` began the process's first invocation (the first to ask, of several
/// beginning at once).
#[cold]
pub(crate) fn first_served(instrumentation: &Arc<Instrumentation>) {
    let _ = FIRST_SERVED.set(Arc::clone(instrumentation));
}

/// The instrumentation of the process's first invocation, once one began: the configuration
/// (namespace, service, outputs) of what is written for the process after it began serving,
/// outside any invocation (a client created by a background task).
pub(crate) fn served() -> Option<&'static Arc<Instrumentation>> {
    FIRST_SERVED.get()
}
