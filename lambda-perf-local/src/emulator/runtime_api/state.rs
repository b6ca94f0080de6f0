//! The shared state behind the server and [`RuntimeApi::invoke`](super::RuntimeApi::invoke):
//! the queue of invocations waiting for `/next`, those in flight, and the log.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use crate::emulator::ids::epoch_millis_after;

use hyper::header::HeaderValue;
use tokio::sync::{Notify, oneshot};

use super::log::{ApiEvent, ApiEventKind, LoggedInitError, LoggedInvocation, Stage};
use crate::emulator::answer_summary::AnswerSummary;
use crate::emulator::error::HarnessError;
use crate::emulator::error_document::ErrorDocument;
use crate::emulator::invoke_reply::Answer;
use crate::emulator::invoke_request::{InvokeRequest, PreparedRequest};

/// What a resolved invocation sends back to the waiting `invoke`.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) answer: Answer,
    /// The `Lambda-Runtime-Deadline-Ms` sent (set at hand-out for a deadline counted from
    /// it).
    pub(crate) deadline_ms: u64,
    pub(crate) handed_out_at: Option<Instant>,
    pub(crate) resolved_at: Instant,
}

/// The result of queueing an invocation.
pub(crate) enum Enqueued {
    /// Queued; the receiver yields the answer.
    Pending {
        prepared: PreparedRequest,
        queued_at: Instant,
        receiver: oneshot::Receiver<Resolution>,
    },
    /// The attached process already reported an init error: resolved at once.
    InitFailed {
        prepared: PreparedRequest,
        queued_at: Instant,
        /// The [`Answer::InitError`] it failed with.
        answer: Answer,
    },
}

/// Why a `/response` or `/error` call was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// No invocation in flight or just answered has this id: it was never handed out, or
    /// its runtime has asked for work since it was answered.
    UnknownRequestId,
    /// The invocation exists but `/next` has not handed it out yet; `handed_out_before`: the
    /// process got another invocation before (it is then between two, not in its init).
    NotHandedOut { handed_out_before: bool },
    /// The invocation was answered already, and its runtime has not asked for work since.
    AlreadyAnswered,
}

/// Why an init error was refused: the runtime had already asked for work, so its init was
/// over, or it had reported its init error already. The runtime's state then, in Lambda's
/// words (`Ready`, `InitError`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InitErrorRefused(pub(crate) &'static str);

/// A `/next` hand-out: the invocation to send.
pub(crate) struct HandOut {
    pub(crate) prepared: PreparedRequest,
}

/// How a `/next` poll ended.
pub(crate) enum Next {
    /// With an invocation to send.
    HandOut(HandOut),
    /// The server is shutting down.
    Stopped,
    /// Its connection was opened before [`Shared::retire_connections`]: it belongs to a
    /// process the harness stopped, and is served nothing more.
    Retired,
    /// Its process reported an init error: as on Lambda, whose runtime leaves its
    /// `InitError` state for none, it gets no work.
    AfterInitError,
}

struct Active {
    prepared: PreparedRequest,
    record: usize,
    handed_out_at: Option<Instant>,
    responder: oneshot::Sender<Resolution>,
}

struct State {
    queue: VecDeque<String>,
    active: HashMap<String, Active>,
    records: Vec<LoggedInvocation>,
    events: Vec<ApiEvent>,
    init_errors: Vec<LoggedInitError>,
    /// The init error of the current process: its `Lambda-Runtime-Function-Error-Type`
    /// header, if sent, and its body.
    current_init_error: Option<(Option<String>, ErrorDocument)>,
    default_function_arn: String,
    stopped: bool,
    /// When the runtime of the current process first asked for work (`GET /next`) on a
    /// connection not retired: the end of its init. Forgotten when a process is attached.
    first_poll_at: Option<Instant>,
    /// When a runtime last asked for work (`GET /next`) on a connection that is not retired.
    last_poll_at: Option<Instant>,
    /// When `/next` last handed out an invocation.
    last_hand_out_at: Option<Instant>,
    /// The latest answer (the latest `finished_at` of a resolved invocation).
    last_answer_at: Option<Instant>,
    /// When `GET /restore/next` was answered since the current process was attached: its
    /// SnapStart snapshot restored.
    restored_at: Option<Instant>,
    /// A function process is attached ([`Shared::attach_process`]).
    attached: bool,
    /// `/next` handed out an invocation since the current process was attached: its init
    /// is over.
    handed_out_since_attach: bool,
    /// The current process asked for work (`GET /next`) since it was attached: as on
    /// Lambda, its runtime has left its init, and may no longer report an init error.
    polled_since_attach: bool,
    /// Connections opened now belong to this generation; `/next` polls are served only on
    /// connections of the current one (see [`Shared::retire_connections`]).
    generation: u64,
    /// Records of answered invocations whose runtime has not yet asked for work again, in
    /// the order of their answers: the next poll releases the first (see
    /// [`LoggedInvocation::released_at`]).
    unreleased: VecDeque<usize>,
}

impl State {
    fn event(&mut self, kind: ApiEventKind) {
        self.events.push(ApiEvent {
            at: Instant::now(),
            kind,
        });
    }

    fn finish(&mut self, record: usize, stage: Stage, at: Instant) {
        if matches!(stage, Stage::Resolved(_)) {
            self.answered(at);
        }
        if let Some(record) = self.records.get_mut(record) {
            record.stage = stage;
            record.finished_at = Some(at);
        }
    }

    /// An invocation was answered (resolved) at `at`.
    fn answered(&mut self, at: Instant) {
        if self.last_answer_at.is_none_or(|last| last < at) {
            self.last_answer_at = Some(at);
        }
    }

    /// A runtime asked for work at `at`: the invocation answered first of those not yet
    /// released is over. With one invocation at a time, that is the one just answered; with
    /// several at once (`run_concurrent`), each poll comes from the loop whose answer came
    /// first, as far as the harness can tell.
    /// Whether it released one.
    fn release_first(&mut self, at: Instant) -> bool {
        let Some(index) = self.unreleased.pop_front() else {
            return false;
        };
        if let Some(record) = self.records.get_mut(index) {
            record.released_at = Some(at);
        }
        true
    }

    /// Whether invocation `request_id` was answered and its runtime has not asked for work
    /// since.
    fn answered_unreleased(&self, request_id: &str) -> bool {
        self.unreleased.iter().any(|&index| {
            self.records
                .get(index)
                .is_some_and(|record| record.request_id == request_id)
        })
    }

    /// Removes an active invocation from the active map and the queue.
    fn take_active(&mut self, request_id: &str) -> Option<Active> {
        let active = self.active.remove(request_id)?;
        if active.handed_out_at.is_none() {
            self.queue.retain(|id| id != request_id);
        }
        Some(active)
    }
}

/// State shared between the HTTP server and the [`RuntimeApi`](super::RuntimeApi) handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    available: Notify,
    /// Woken when a poll releases an answered invocation ([`LoggedInvocation::released_at`]).
    released: Notify,
}

impl Shared {
    pub(crate) fn new(default_function_arn: String) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                active: HashMap::new(),
                records: Vec::new(),
                events: Vec::new(),
                init_errors: Vec::new(),
                current_init_error: None,
                first_poll_at: None,
                last_poll_at: None,
                last_hand_out_at: None,
                last_answer_at: None,
                restored_at: None,
                attached: false,
                handed_out_since_attach: false,
                polled_since_attach: false,
                default_function_arn,
                stopped: false,
                generation: 0,
                unreleased: VecDeque::new(),
            }),
            available: Notify::new(),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update; the state is still
        // usable for a test harness, so keep going rather than cascading the panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an invocation (or resolves it at once after an init error).
    pub(crate) fn enqueue(&self, invocation: InvokeRequest) -> Result<Enqueued, HarnessError> {
        let mut state = self.lock();
        if state.stopped {
            return Err(HarnessError::Shutdown);
        }
        let queued_at = Instant::now();
        let prepared = invocation.prepare(SystemTime::now(), &state.default_function_arn);
        for (name, value) in prepared.header_pairs() {
            if HeaderValue::from_str(&value).is_err() {
                return Err(HarnessError::InvalidInvocation(format!(
                    "{name} is not a valid header value: {value:?}"
                )));
            }
        }
        if prepared.request_id.is_empty() || prepared.request_id.contains('/') {
            return Err(HarnessError::InvalidInvocation(format!(
                "request id {:?} cannot appear in a URL path segment",
                prepared.request_id
            )));
        }
        if state.active.contains_key(&prepared.request_id) {
            return Err(HarnessError::InvalidInvocation(format!(
                "request id {} is already pending",
                prepared.request_id
            )));
        }
        let record = LoggedInvocation {
            request_id: prepared.request_id.clone(),
            trace_header: prepared.trace_header.clone(),
            deadline_ms: prepared.deadline_ms,
            event: prepared.event.clone(),
            queued_at,
            handed_out_at: None,
            finished_at: None,
            released_at: None,
            stage: Stage::Queued,
        };
        if let Some((error_type, report)) = state.current_init_error.clone() {
            let answer = Answer::InitError {
                error_type,
                error: report,
            };
            state.answered(queued_at);
            state.records.push(LoggedInvocation {
                finished_at: Some(queued_at),
                stage: Stage::Resolved(AnswerSummary::from(&answer)),
                ..record
            });
            return Ok(Enqueued::InitFailed {
                prepared,
                queued_at,
                answer,
            });
        }
        let (responder, receiver) = oneshot::channel();
        let index = state.records.len();
        state.records.push(record);
        state.queue.push_back(prepared.request_id.clone());
        state.active.insert(
            prepared.request_id.clone(),
            Active {
                prepared: prepared.clone(),
                record: index,
                handed_out_at: None,
                responder,
            },
        );
        state.event(ApiEventKind::Queued {
            request_id: prepared.request_id.clone(),
        });
        drop(state);
        self.available.notify_waiters();
        Ok(Enqueued::Pending {
            prepared,
            queued_at,
            receiver,
        })
    }

    fn try_hand_out(state: &mut State) -> Option<HandOut> {
        let now = Instant::now();
        while let Some(request_id) = state.queue.pop_front() {
            let Some(active) = state.active.get_mut(&request_id) else {
                continue;
            };
            active.handed_out_at = Some(now);
            if let Some(after) = active.prepared.deadline_after_hand_out {
                active.prepared.deadline_ms = epoch_millis_after(SystemTime::now(), after);
            }
            let prepared = active.prepared.clone();
            let record = active.record;
            if let Some(record) = state.records.get_mut(record) {
                record.handed_out_at = Some(now);
                record.deadline_ms = prepared.deadline_ms;
                record.stage = Stage::InFlight;
            }
            state.handed_out_since_attach = true;
            state.last_hand_out_at = Some(now);
            state.event(ApiEventKind::HandedOut { request_id });
            return Some(HandOut { prepared });
        }
        None
    }

    /// Waits (without timeout) until an invocation is queued and hands it out, to a poll on
    /// a connection opened in `generation`. Several callers may wait at once; each gets a
    /// different invocation. Ends without one once the server is shut down, or once the
    /// connection is retired.
    pub(crate) async fn next_invocation(&self, generation: u64) -> Next {
        let released = {
            let mut state = self.lock();
            if state.generation == generation && state.current_init_error.is_some() {
                return Next::AfterInitError;
            }
            let now = Instant::now();
            state.generation == generation && {
                state.first_poll_at.get_or_insert(now);
                state.last_poll_at = Some(now);
                state.polled_since_attach = true;
                state.release_first(now)
            }
        };
        if released {
            self.released.notify_waiters();
        }
        loop {
            let mut notified = pin!(self.available.notified());
            // Register before checking the queue so a concurrent enqueue cannot be missed.
            notified.as_mut().enable();
            {
                // One lock for the checks and the hand-out: a retirement cannot slip between.
                let mut state = self.lock();
                if state.stopped {
                    return Next::Stopped;
                }
                if state.generation != generation {
                    return Next::Retired;
                }
                if let Some(hand_out) = Self::try_hand_out(&mut state) {
                    return Next::HandOut(hand_out);
                }
            }
            notified.await;
        }
    }

    /// The latest answer to an invocation.
    pub(crate) fn last_answer_at(&self) -> Option<Instant> {
        self.lock().last_answer_at
    }

    /// When `/next` last handed out an invocation.
    pub(crate) fn last_hand_out_at(&self) -> Option<Instant> {
        self.lock().last_hand_out_at
    }

    /// When `/next` handed out invocation `request_id`, if it did.
    pub(crate) fn handed_out_at(&self, request_id: &str) -> Option<Instant> {
        self.lock()
            .records
            .iter()
            .find(|record| record.request_id == request_id)
            .and_then(|record| record.handed_out_at)
    }

    /// When the runtime that answered `request_id` asked for its next event, if it did.
    fn released_at(&self, request_id: &str) -> Option<Instant> {
        self.lock()
            .records
            .iter()
            .rfind(|record| record.request_id == request_id)
            .and_then(|record| record.released_at)
    }

    /// Waits until the runtime that answered `request_id` asks for its next event, at most
    /// until `until`; when it did, if it did by then.
    pub(crate) async fn wait_for_release(
        &self,
        request_id: &str,
        until: Instant,
    ) -> Option<Instant> {
        let deadline = tokio::time::sleep_until(until.into());
        let mut deadline = pin!(deadline);
        loop {
            let mut notified = pin!(self.released.notified());
            // Register before looking so a release in between cannot be missed.
            notified.as_mut().enable();
            if let Some(at) = self.released_at(request_id) {
                return Some(at);
            }
            tokio::select! {
                () = notified => {}
                () = &mut deadline => return self.released_at(request_id),
            }
        }
    }

    /// When a runtime last asked for work, on a connection not retired.
    pub(crate) fn last_poll_at(&self) -> Option<Instant> {
        self.lock().last_poll_at
    }

    /// `GET /restore/next` is answered now: the current process's snapshot is restored.
    pub(crate) fn restored(&self) {
        self.lock().restored_at = Some(Instant::now());
    }

    /// When `GET /restore/next` was answered since the current process was attached.
    pub(crate) fn restored_at(&self) -> Option<Instant> {
        self.lock().restored_at
    }

    /// The generation a connection opened now belongs to.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Serves no more `/next` polls on the connections open now: their process was stopped.
    /// A poll it left waiting would otherwise take the next invocation, meant for its
    /// replacement, before the server noticed the connection closed.
    pub(crate) fn retire_connections(&self) {
        let mut state = self.lock();
        state.generation += 1;
        // The stopped process will not ask for work again.
        state.unreleased.clear();
        drop(state);
        self.available.notify_waiters();
    }

    /// When the runtime of the current process first asked for work, if it did.
    pub(crate) fn first_poll_at(&self) -> Option<Instant> {
        self.lock().first_poll_at
    }

    /// Resolves an in-flight invocation with `answer`.
    pub(crate) fn resolve(&self, request_id: &str, answer: Answer) -> Result<(), ResolveError> {
        let mut state = self.lock();
        let handed_out_at = match state.active.get(request_id) {
            None if state.answered_unreleased(request_id) => {
                return Err(ResolveError::AlreadyAnswered);
            }
            None => return Err(ResolveError::UnknownRequestId),
            Some(active) => active.handed_out_at.ok_or(ResolveError::NotHandedOut {
                handed_out_before: state.handed_out_since_attach,
            })?,
        };
        let Some(active) = state.take_active(request_id) else {
            return Err(ResolveError::UnknownRequestId);
        };
        let resolved_at = Instant::now();
        let event = match &answer {
            Answer::Response { body } => ApiEventKind::Response {
                request_id: request_id.to_owned(),
                bytes: body.len(),
            },
            Answer::Error { error_type, .. } => ApiEventKind::Error {
                request_id: request_id.to_owned(),
                error_type: error_type.clone(),
            },
            Answer::InitError { error_type, .. } => ApiEventKind::InitError {
                error_type: error_type.clone(),
                failed_invocations: 1,
            },
        };
        state.event(event);
        state.finish(
            active.record,
            Stage::Resolved(AnswerSummary::from(&answer)),
            resolved_at,
        );
        if !matches!(answer, Answer::InitError { .. }) {
            state.unreleased.push_back(active.record);
        }
        // The waiting `invoke` may be gone (abandoned); the record above still has it.
        let _ = active.responder.send(Resolution {
            answer,
            deadline_ms: active.prepared.deadline_ms,
            handed_out_at: Some(handed_out_at),
            resolved_at,
        });
        Ok(())
    }

    /// Records an init error and fails every pending invocation with it. Invocations queued
    /// later fail at once until [`Shared::attach_process`] is called.
    ///
    /// Refused ([`InitErrorRefused`]), with nothing recorded, once the current process has
    /// asked for work: as on Lambda, whose runtime leaves its init at its first
    /// `GET /next` and then gets `403` for an init error, its invocations unaffected. Refused
    /// too once the current process has reported one: the first stands.
    pub(crate) fn init_error(
        &self,
        error_type: Option<String>,
        report: ErrorDocument,
    ) -> Result<(), InitErrorRefused> {
        let mut state = self.lock();
        if state.polled_since_attach {
            return Err(InitErrorRefused("Ready"));
        }
        // As on Lambda, whose runtime leaves its `InitError` state for none.
        if state.current_init_error.is_some() {
            return Err(InitErrorRefused("InitError"));
        }
        let now = Instant::now();
        state.init_errors.push(LoggedInitError {
            received_at: now,
            error_type: error_type.clone(),
            error: report.clone(),
        });
        state.current_init_error = Some((error_type.clone(), report.clone()));
        state.queue.clear();
        let pending: Vec<Active> = state.active.drain().map(|(_, active)| active).collect();
        state.event(ApiEventKind::InitError {
            error_type: error_type.clone(),
            failed_invocations: pending.len(),
        });
        for active in pending {
            let answer = Answer::InitError {
                error_type: error_type.clone(),
                error: report.clone(),
            };
            state.finish(
                active.record,
                Stage::Resolved(AnswerSummary::from(&answer)),
                now,
            );
            let _ = active.responder.send(Resolution {
                answer,
                deadline_ms: active.prepared.deadline_ms,
                handed_out_at: active.handed_out_at,
                resolved_at: now,
            });
        }
        Ok(())
    }

    /// The deadline of an invocation in flight whose deadline was set when `/next` handed it
    /// out (`None` when it is not in flight or its deadline was set at queueing).
    pub(crate) fn hand_out_deadline_ms(&self, request_id: &str) -> Option<u64> {
        let state = self.lock();
        let active = state.active.get(request_id)?;
        active.handed_out_at?;
        active.prepared.deadline_after_hand_out?;
        Some(active.prepared.deadline_ms)
    }

    /// Whether an invocation whose deadline is counted from its hand-out is still queued
    /// while the attached process is in its init (it has not yet been handed any
    /// invocation): Lambda limits init apart from the function's timeout.
    pub(crate) fn awaiting_init(&self, request_id: &str) -> bool {
        let state = self.lock();
        state.attached
            && !state.handed_out_since_attach
            && state.active.get(request_id).is_some_and(|active| {
                active.handed_out_at.is_none() && active.prepared.deadline_after_hand_out.is_some()
            })
    }

    /// Marks an invocation as timed out (if still pending) and returns whether it was.
    pub(crate) fn time_out(&self, request_id: &str) -> bool {
        self.give_up(request_id, Stage::TimedOut)
    }

    /// Marks an invocation as abandoned (if still pending).
    pub(crate) fn abandon(&self, request_id: &str) {
        self.give_up(request_id, Stage::Abandoned);
    }

    fn give_up(&self, request_id: &str, stage: Stage) -> bool {
        let mut state = self.lock();
        let Some(active) = state.take_active(request_id) else {
            return false;
        };
        let request_id = request_id.to_owned();
        let kind = match stage {
            Stage::TimedOut => ApiEventKind::TimedOut { request_id },
            _ => ApiEventKind::Abandoned { request_id },
        };
        state.event(kind);
        state.finish(active.record, stage, Instant::now());
        true
    }

    /// Records a refused HTTP request.
    pub(crate) fn rejected(&self, method: &str, path: &str, status: u16, reason: &str) {
        self.lock().event(ApiEventKind::Rejected {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            reason: reason.to_owned(),
        });
    }

    /// A new function process is attached: forget the current init error and use
    /// `default_function_arn` for invocations without an explicit ARN.
    pub(crate) fn attach_process(&self, default_function_arn: Option<String>) {
        let mut state = self.lock();
        state.current_init_error = None;
        state.attached = true;
        state.handed_out_since_attach = false;
        state.polled_since_attach = false;
        state.first_poll_at = None;
        state.restored_at = None;
        if let Some(arn) = default_function_arn {
            state.default_function_arn = arn;
        }
    }

    /// Forgets the current init error.
    pub(crate) fn clear_init_error(&self) {
        self.lock().current_init_error = None;
    }

    /// Stops handing out invocations and fails every pending one with `Shutdown`. A poll
    /// waiting for an invocation is never answered (Lambda never answers one at shutdown): the
    /// caller aborts the server next, which closes its connection.
    pub(crate) fn shutdown(&self) {
        let mut state = self.lock();
        if state.stopped {
            return;
        }
        state.stopped = true;
        state.queue.clear();
        let now = Instant::now();
        let pending: Vec<Active> = state.active.drain().map(|(_, active)| active).collect();
        for active in pending {
            // Dropping the responder wakes `invoke` with `HarnessError::Shutdown`.
            state.finish(active.record, Stage::Shutdown, now);
        }
        drop(state);
        self.available.notify_waiters();
    }

    pub(crate) fn records(&self) -> Vec<LoggedInvocation> {
        self.lock().records.clone()
    }

    pub(crate) fn events(&self) -> Vec<ApiEvent> {
        self.lock().events.clone()
    }

    pub(crate) fn init_errors(&self) -> Vec<LoggedInitError> {
        self.lock().init_errors.clone()
    }

    pub(crate) fn pending_count(&self) -> usize {
        self.lock().active.len()
    }
}
