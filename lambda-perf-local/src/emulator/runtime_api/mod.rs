//! [`RuntimeApi`]: an embedded Lambda Runtime API (`2018-06-01`) server on loopback.
//!
//! Routes (all under `/2018-06-01/runtime/`):
//!
//! | route | behavior |
//! |---|---|
//! | `GET invocation/next` | long-polls (no timeout) until an invocation is queued; body = event, `Lambda-Runtime-*` headers; concurrent polls each get a different invocation |
//! | `POST invocation/{id}/response` | `202`, resolves the invocation with the body bytes as received; a body over Lambda's 6,291,556 bytes gets `413` (`RequestEntityTooLarge`) and fails the invocation with `Function.ResponseSizeTooLarge`, as on Lambda |
//! | `POST invocation/{id}/error` | `202`, resolves it as an error (`Lambda-Runtime-Function-Error-Type` + body) |
//! | `POST init/error` | `202`, records an init error and fails every pending invocation with it; once the process has asked for work (`GET invocation/next`), `403` (`InvalidStateTransition`) and nothing else, as on Lambda, whose runtime is out of its init then |
//!
//! As on Lambda, whose Runtime API checks the request id and then the runtime's state, an
//! answer to an invocation the runtime has answered already (before its next
//! `GET invocation/next`) or not received yet gets `403` (`InvalidStateTransition`), the first
//! answer standing; an unknown (or finished) request id gets `400` (`InvalidRequestID`). Both
//! have a JSON error body; a wrong method gets `405`, any other path `404`; a poll on a
//! connection retired with [`RuntimeApi::retire_connections`] (its process was stopped)
//! `410`.

mod log;
mod server;
mod state;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use self::log::{ApiEvent, ApiEventKind, LoggedInitError, LoggedInvocation, Stage};
use self::state::{Enqueued, Resolution, Shared};
use crate::emulator::config::FunctionConfig;
use crate::emulator::error::HarnessError;
use crate::emulator::ids::epoch_millis;
use crate::emulator::invoke_reply::InvokeReply;
use crate::emulator::invoke_request::{DEFAULT_FUNCTION_TIMEOUT, InvokeRequest};

/// Settings for [`RuntimeApi::start_with`].
#[derive(Debug, Clone)]
pub struct RuntimeApiOptions {
    grace_period: Duration,
    fallback_timeout: Duration,
    default_function_arn: String,
    snapshot_stored_for: Duration,
}

impl Default for RuntimeApiOptions {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(2),
            fallback_timeout: DEFAULT_FUNCTION_TIMEOUT,
            default_function_arn: FunctionConfig::default().function_arn(),
            snapshot_stored_for: Duration::ZERO,
        }
    }
}

impl RuntimeApiOptions {
    /// How long past an invocation's deadline [`RuntimeApi::invoke`] keeps waiting
    /// (default 2 s).
    pub fn with_grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// How long `invoke` waits (plus the grace period) when the deadline sent is already in
    /// the past, e.g. a raw `600000` (default 30 s).
    pub fn with_fallback_timeout(mut self, timeout: Duration) -> Self {
        self.fallback_timeout = timeout;
        self
    }

    /// The `Lambda-Runtime-Invoked-Function-Arn` used until a process is spawned against the
    /// API (spawning switches it to that function's ARN).
    pub fn with_default_function_arn(mut self, arn: impl Into<String>) -> Self {
        self.default_function_arn = arn.into();
        self
    }

    /// How long a SnapStart snapshot sits stored: `GET /runtime/restore/next`, where a
    /// `snap-start` function's runtime ends init and Lambda snapshots it, answers only after
    /// this long, as a restore would (default: at once).
    pub fn with_snapshot_stored_for(mut self, stored_for: Duration) -> Self {
        self.snapshot_stored_for = stored_for;
        self
    }

    /// The grace period.
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }

    /// The fallback timeout.
    pub fn fallback_timeout(&self) -> Duration {
        self.fallback_timeout
    }

    /// How much longer `invoke` waits for an invocation handed out with this deadline:
    /// until the deadline plus the grace period, if that is still ahead.
    fn time_left(&self, deadline_ms: u64) -> Option<Duration> {
        let now = Duration::from_millis(epoch_millis(SystemTime::now()));
        let left = Duration::from_millis(deadline_ms)
            .saturating_add(self.grace_period)
            .saturating_sub(now);
        (!left.is_zero()).then_some(left)
    }

    /// How long `invoke` waits for an invocation with this deadline, queued now.
    fn timeout_for(&self, deadline_ms: u64, explicit: Option<Duration>) -> Duration {
        if let Some(timeout) = explicit {
            return timeout;
        }
        let now_ms = epoch_millis(SystemTime::now());
        let until_deadline = if deadline_ms > now_ms {
            Duration::from_millis(deadline_ms - now_ms)
        } else {
            self.fallback_timeout
        };
        until_deadline.saturating_add(self.grace_period)
    }
}

/// An embedded Lambda Runtime API server bound to `127.0.0.1:<random port>`.
///
/// Dropping it (or calling [`shutdown`](Self::shutdown)) stops the server and fails pending
/// invocations with [`HarnessError::Shutdown`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use lambda_perf_local::emulator::{InvokeRequest, Answer, RuntimeApi};
///
/// let api = RuntimeApi::start().await?;
/// // ... spawn a function with AWS_LAMBDA_RUNTIME_API = api.addr() ...
/// let result = api.invoke(InvokeRequest::json(serde_json::json!({"x": 1}))).await?;
/// if let Answer::Response { body } = &result.answer {
///     assert_eq!(&body[..], b"\"ok\"");
/// }
/// # Ok(()) }
/// ```
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    options: RuntimeApiOptions,
    server: JoinHandle<()>,
}

impl fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Starts a server with default options. Must be called inside a tokio runtime.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(RuntimeApiOptions::default()).await
    }

    /// Starts a server with `options`. Must be called inside a tokio runtime.
    pub async fn start_with(options: RuntimeApiOptions) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(options.default_function_arn.clone()));
        let server = tokio::spawn(server::serve(
            listener,
            Arc::clone(&shared),
            options.snapshot_stored_for,
        ));
        Ok(Self {
            addr,
            shared,
            options,
            server,
        })
    }

    /// When the runtime of the function process attached last (the one
    /// [`FunctionProcess::spawn`](crate::emulator::FunctionProcess::spawn) started last) first
    /// asked this API for work (`GET /runtime/invocation/next`): the end of its init, as
    /// Lambda counts it. `None` until then: forgotten when a process is attached.
    pub fn first_poll_at(&self) -> Option<Instant> {
        self.shared.first_poll_at()
    }

    /// When a runtime last asked for work (`GET /runtime/invocation/next`) on a connection
    /// not [retired](Self::retire_connections): once this is after its last answer, the
    /// runtime is idle, and Lambda could freeze or stop it. `None` until then.
    pub fn last_poll_at(&self) -> Option<Instant> {
        self.shared.last_poll_at()
    }

    /// When `GET /runtime/restore/next` was answered since the current process was attached
    /// (a `snap-start` runtime's snapshot restored, after the
    /// [stored time](RuntimeApiOptions::with_snapshot_stored_for)), if its runtime asked.
    pub fn restored_at(&self) -> Option<Instant> {
        self.shared.restored_at()
    }

    /// When the latest answer to an invocation (a response, an error, an init error) came, if
    /// one has. `None` until then.
    pub fn last_answer_at(&self) -> Option<Instant> {
        self.shared.last_answer_at()
    }

    /// When `/next` last handed out an invocation, if it has. `None` until then.
    pub fn last_hand_out_at(&self) -> Option<Instant> {
        self.shared.last_hand_out_at()
    }

    /// When `/next` handed out invocation `request_id`, if it did: one look through the log,
    /// without copying it as [`RuntimeApi::invocations`] does.
    pub fn handed_out_at(&self, request_id: &str) -> Option<Instant> {
        self.shared.handed_out_at(request_id)
    }

    /// Waits until the runtime that answered invocation `request_id` asks for its next event
    /// (its [`released_at`](LoggedInvocation::released_at): where Lambda ends the
    /// invocation), at most until `until`. When it did, or `None` if it had not by then (or
    /// the invocation was not answered).
    pub async fn wait_for_release(&self, request_id: &str, until: Instant) -> Option<Instant> {
        self.shared.wait_for_release(request_id, until).await
    }

    /// Waits until the runtime of the process attached last has asked for work; the moment
    /// it first did ([`first_poll_at`](Self::first_poll_at)).
    ///
    /// # Errors
    ///
    /// [`HarnessError::Timeout`] if none did within `timeout`.
    pub async fn wait_for_first_poll(&self, timeout: Duration) -> Result<Instant, HarnessError> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.first_poll_at() {
                return Ok(at);
            }
            if started.elapsed() >= timeout {
                return Err(HarnessError::Timeout {
                    what: format!("a runtime to ask for work within {timeout:?}"),
                    last_lines: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for the function's `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:<port>`).
    pub fn runtime_api_env(&self) -> String {
        self.addr.to_string()
    }

    /// The options the server was started with.
    pub fn options(&self) -> &RuntimeApiOptions {
        &self.options
    }

    /// Queues `invocation` and waits for its answer.
    ///
    /// Waits at most the invocation's [timeout](InvokeRequest::with_timeout), by default until
    /// its deadline plus the grace period; then returns [`HarnessError::Timeout`] (with no
    /// output lines: use [`FunctionProcess::invoke`](crate::emulator::FunctionProcess::invoke) to also
    /// notice the process exiting and get its output). If the function process attached to
    /// this API has reported an init error, resolves at once with
    /// [`Answer::InitError`](crate::emulator::Answer::InitError).
    ///
    /// Dropping the returned future withdraws the invocation (recorded as
    /// [`Stage::Abandoned`]).
    pub async fn invoke(&self, invocation: InvokeRequest) -> Result<InvokeReply, HarnessError> {
        let explicit_timeout = invocation.timeout();
        let (prepared, queued_at, mut receiver) = match self.shared.enqueue(invocation)? {
            Enqueued::InitFailed {
                prepared,
                queued_at,
                answer,
            } => {
                return Ok(InvokeReply {
                    request_id: prepared.request_id,
                    trace_header: prepared.trace_header,
                    deadline_ms: prepared.deadline_ms,
                    queued_at,
                    handed_out_at: None,
                    resolved_at: Instant::now(),
                    answer,
                });
            }
            Enqueued::Pending {
                prepared,
                queued_at,
                receiver,
            } => (prepared, queued_at, receiver),
        };
        let mut guard = AbandonGuard {
            shared: &self.shared,
            request_id: prepared.request_id.clone(),
            armed: true,
        };
        let mut timeout = self
            .options
            .timeout_for(prepared.deadline_ms, explicit_timeout);
        let waited_from = Instant::now();
        let resolution = loop {
            match tokio::time::timeout(timeout, &mut receiver).await {
                Ok(Ok(resolution)) => break resolution,
                Ok(Err(_closed)) => {
                    guard.armed = false;
                    return Err(HarnessError::Shutdown);
                }
                Err(_elapsed) => {
                    // A deadline set at hand-out (after a slow init, a wait in the queue)
                    // may be later than the one the wait was counted from.
                    // Until then, a process still in its init is waited for: its init has
                    // a limit of its own (the caller's: the process exiting, an init timeout).
                    let later = if explicit_timeout.is_some() {
                        None
                    } else if self.shared.awaiting_init(&prepared.request_id) {
                        Some(self.options.grace_period.max(Duration::from_millis(10)))
                    } else {
                        self.shared
                            .hand_out_deadline_ms(&prepared.request_id)
                            .and_then(|deadline_ms| self.options.time_left(deadline_ms))
                    };
                    if let Some(left) = later {
                        timeout = left;
                        continue;
                    }
                    guard.armed = false;
                    if self.shared.time_out(&prepared.request_id) {
                        return Err(HarnessError::Timeout {
                            what: format!(
                                "invocation {} to finish (waited {:?})",
                                prepared.request_id,
                                waited_from.elapsed()
                            ),
                            last_lines: Vec::new(),
                        });
                    }
                    // Resolved between the timer firing and `time_out` taking the lock.
                    break receiver.try_recv().map_err(|_| HarnessError::Shutdown)?;
                }
            }
        };
        guard.armed = false;
        let Resolution {
            answer,
            deadline_ms,
            handed_out_at,
            resolved_at,
        } = resolution;
        Ok(InvokeReply {
            request_id: prepared.request_id,
            trace_header: prepared.trace_header,
            deadline_ms,
            queued_at,
            handed_out_at,
            resolved_at,
            answer,
        })
    }

    /// Every invocation queued so far, in queueing order, with the stage it is at.
    pub fn invocations(&self) -> Vec<LoggedInvocation> {
        self.shared.records()
    }

    /// Every init error received so far.
    pub fn init_errors(&self) -> Vec<LoggedInitError> {
        self.shared.init_errors()
    }

    /// Everything that happened, in order.
    pub fn events(&self) -> Vec<ApiEvent> {
        self.shared.events()
    }

    /// How many invocations are queued or in flight.
    pub fn pending_invocations(&self) -> usize {
        self.shared.pending_count()
    }

    /// Forgets the current init error so new invocations are queued again (done
    /// automatically by [`FunctionProcess::spawn`](crate::emulator::FunctionProcess::spawn)).
    pub fn clear_init_error(&self) {
        self.shared.clear_init_error();
    }

    /// Serves no more `GET /runtime/invocation/next` polls on the connections open now.
    ///
    /// Call it after stopping a function process and before starting its replacement on
    /// this API: a poll the stopped process left waiting (the server has not yet seen its
    /// connection close, or the process is still dying) would otherwise take the next
    /// invocation, meant for the replacement, and lose it. Only for an API that serves one
    /// process at a time: a process still running keeps its connections, which this retires
    /// too.
    pub fn retire_connections(&self) {
        self.shared.retire_connections();
    }

    /// Called when a process is spawned against this API.
    pub(crate) fn attach_process(&self, config: &FunctionConfig) {
        self.shared.attach_process(Some(config.function_arn()));
    }

    /// Stops the server: open connections are closed, pending invocations fail with
    /// [`HarnessError::Shutdown`]. Also done on drop.
    pub fn shutdown(&self) {
        self.shared.shutdown();
        self.server.abort();
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Withdraws a still-pending invocation when `invoke`'s future is dropped.
struct AbandonGuard<'a> {
    shared: &'a Shared,
    request_id: String,
    armed: bool,
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.abandon(&self.request_id);
        }
    }
}
