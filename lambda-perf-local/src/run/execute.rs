//! Carrying out a [`Plan`]: the function under the embedded Runtime API and X-Ray daemon
//! stand-in, restarted and moved to fresh environments as the plan says.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::emulator::{
    Answer, ERROR_CONTEXT_LINES, ExecutionEnvironment, FunctionCommand, FunctionConfig,
    FunctionProcess, HarnessError, InvokeReply, InvokeRequest, RuntimeApi, Stage, TraceSetting,
    XRayCollector, new_request_id,
};
use crate::pricing::Architecture;
use crate::report::{
    CodeSize, HarnessStop, NoReply, NoReplyKind, RecordedInvocation, RecordedProcess,
    RecordedReply, RunRecord, SizingRecord, WallClock,
};
use crate::run::resets::After;
use crate::run::{EarlyStop, Plan, Resets, Step, several_at_once};
use crate::sizing::Sizing;

/// How an invocation went, for the run.
enum Classified {
    /// The function answered (a response or a handler error).
    Answered(InvokeReply),
    /// The kernel's OOM killer ended the function's process: the invocation failed as it
    /// would on Lambda (`Runtime.OutOfMemory`), and the next one starts a new process.
    OutOfMemory,
    /// The function failed; an init error still has its reply.
    Failed {
        reply: Option<InvokeReply>,
        stop: EarlyStop,
    },
}

/// An early stop as the report shows the invocation it happened in: an invocation without
/// a reply.
fn no_reply(stop: &EarlyStop) -> NoReply {
    let kind = match stop {
        EarlyStop::TimedOut { .. }
        | EarlyStop::TimedOutAfterAnswer { .. }
        | EarlyStop::NeverAskedForWork { .. }
        | EarlyStop::NeverAskedAgain { .. } => NoReplyKind::Timeout,
        EarlyStop::ExitedDuringInit { .. }
        | EarlyStop::Crashed { .. }
        | EarlyStop::ExitedBetweenInvocations { .. } => NoReplyKind::ProcessExited,
        _ => NoReplyKind::Other,
    };
    let message = stop.to_string();
    NoReply::new(kind, message.lines().next().unwrap_or_default())
}

/// How long the last datagrams may take to arrive after the last invocation.
const DRAIN: Duration = Duration::from_millis(100);

/// The function to run, how to size it and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The function's command line.
    pub command: FunctionCommand,
    /// Its Lambda environment (the daemon address is set by the runner, and the memory size
    /// when sized). With `AWS_LAMBDA_MAX_CONCURRENCY` above 1, the run is a Managed
    /// Instances one, or refused with another initialization type ([`several_at_once()`]).
    pub config: FunctionConfig,
    /// Each invocation's deadline (one past what an `Instant` holds, such as
    /// `Duration::MAX`, is no limit, sent as the latest `Lambda-Runtime-Deadline-Ms`).
    pub timeout: Duration,
    /// How long a new process may take before asking for its first invocation (one past what
    /// an `Instant` holds is no limit).
    pub init_timeout: Duration,
    /// The memory size imposed on each process with cgroups; `None`: unlimited.
    pub sizing: Option<Sizing>,
    /// The deployment package whose size the report states.
    pub package: Option<PathBuf>,
    /// The architecture whose prices the report uses.
    pub architecture: Architecture,
}

impl Runner {
    /// Runs `command` with `config`: invocations time out after 30 s, init after 10 s; not
    /// sized, no package, x86_64 prices.
    pub fn new(command: FunctionCommand, config: FunctionConfig) -> Self {
        Self {
            command,
            config,
            timeout: Duration::from_secs(30),
            init_timeout: Duration::from_secs(10),
            sizing: None,
            package: None,
            architecture: Architecture::default(),
        }
    }

    /// The configuration the function gets, before [`several_at_once()`]: the memory size set
    /// to the imposed one.
    fn sized_config(&self) -> FunctionConfig {
        match &self.sizing {
            Some(sizing) => self.config.clone().with_memory_mb(sizing.memory().mb()),
            None => self.config.clone(),
        }
    }

    /// Starts the function in `environment`, inside a new cgroup when sized.
    fn spawn(
        &self,
        config: &FunctionConfig,
        environment: &ExecutionEnvironment,
        api: &RuntimeApi,
    ) -> Result<FunctionProcess, EarlyStop> {
        let started = match &self.sizing {
            None => FunctionProcess::spawn(&self.command, config, environment, api),
            Some(sizing) => {
                let cgroup = sizing.create_cgroup().map_err(|error| {
                    EarlyStop::Harness(format!("cannot size the function: {error}"))
                })?;
                FunctionProcess::spawn_in_cgroup(&self.command, config, environment, api, cgroup)
            }
        };
        started.map_err(|error| cannot_start(&self.command, &error))
    }
}

/// What a run produced: everything recorded, the failures the run went on after, and the
/// failure that stopped it early, if any.
#[derive(Debug)]
pub struct RunResult {
    /// The raw material of the report.
    pub record: RunRecord,
    /// The failures after which the runtime was started again, as Lambda starts it again
    /// after an invocation that timed out, a runtime that exited, or an init error.
    pub resets: Resets,
    /// Why the run stopped early.
    pub early_stop: Option<EarlyStop>,
}

/// The function's current process and where it runs.
struct Current {
    process: Arc<FunctionProcess>,
    index: usize,
    environment: usize,
    /// Invocations this process answered.
    served: AtomicUsize,
}

/// Runs `plan`; `progress` is called with the number of invocations done after each one.
pub async fn execute(plan: &Plan, runner: &Runner, progress: &(dyn Fn(usize) + Sync)) -> RunResult {
    let mut record = RunRecord {
        function: command_line(&runner.command),
        config: runner.sized_config(),
        sizing: runner.sizing.as_ref().map(|sizing| SizingRecord {
            memory_mb: sizing.memory().mb(),
            cpu_cores: sizing.memory().cpu_cores(),
            cgroup: sizing.version(),
            machine_cpus: crate::sizing::machine_cpus(),
        }),
        architecture: runner.architecture,
        code: CodeSize::measure(&runner.command, runner.package.as_deref()),
        clock: WallClock::now(),
        ..RunRecord::default()
    };
    let mut resets = Resets::default();
    let started = match several_at_once(record.config.clone()) {
        Ok(config) => {
            record.config = config.clone();
            Execution::start(plan, runner, config).await
        }
        Err(refused) => Err(EarlyStop::OneAtATime(refused)),
    };
    let early_stop = match started {
        Ok(mut execution) => {
            let early_stop = execution
                .run(plan, &mut record, &mut resets, progress)
                .await
                .err();
            resets.restarted = execution.restarted_after_failures;
            execution.stop(&mut record, early_stop.is_none()).await;
            early_stop
        }
        Err(early_stop) => Some(early_stop),
    };
    RunResult {
        record,
        resets,
        early_stop,
    }
}

struct Execution<'a> {
    runner: &'a Runner,
    config: FunctionConfig,
    api: Arc<RuntimeApi>,
    collector: XRayCollector,
    environments: Vec<ExecutionEnvironment>,
    current: Current,
    /// The current process ran out of memory, or failed so that Lambda would reset its
    /// environment: the next invocation needs a new one.
    needs_restart: AtomicBool,
    /// A failure counted in [`Resets`] whose process has not been replaced yet.
    failure_not_restarted: bool,
    /// How many failures counted in [`Resets`] a new process followed.
    restarted_after_failures: usize,
    /// The invocations (by index in the run) whose runtime had not asked for work again by
    /// the time the harness stopped waiting for it, past their timeout.
    overran: HashSet<usize>,
    /// [`Plan::stop_at_failure`].
    stop_at_failure: bool,
}

impl<'a> Execution<'a> {
    /// Starts the run of `plan` by `runner`, its function configured by `config`.
    async fn start(
        plan: &Plan,
        runner: &'a Runner,
        config: FunctionConfig,
    ) -> Result<Self, EarlyStop> {
        let harness = |error: std::io::Error| EarlyStop::Harness(error.to_string());
        let api = Arc::new(RuntimeApi::start().await.map_err(harness)?);
        let collector = XRayCollector::start().await.map_err(harness)?;
        let mut config = config.with_xray_daemon_address(collector.addr().to_string());
        let concurrency = plan
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Concurrent { events, .. } => Some(events.len()),
                _ => None,
            })
            .max();
        // At least what the plan sends at once; more when the configuration says so.
        if let Some(concurrency) = concurrency {
            let needed = u32::try_from(concurrency).unwrap_or(u32::MAX);
            let configured = config.max_concurrency().unwrap_or(0);
            config = config.with_max_concurrency(needed.max(configured));
        }
        let environment = ExecutionEnvironment::new().map_err(harness)?;
        let process = runner.spawn(&config, &environment, &api)?;
        Ok(Self {
            runner,
            config,
            api,
            collector,
            environments: vec![environment],
            current: Current {
                process: Arc::new(process),
                index: 0,
                environment: 0,
                served: AtomicUsize::new(0),
            },
            needs_restart: AtomicBool::new(false),
            failure_not_restarted: false,
            restarted_after_failures: 0,
            overran: HashSet::new(),
            stop_at_failure: plan.stop_at_failure,
        })
    }

    async fn run(
        &mut self,
        plan: &Plan,
        record: &mut RunRecord,
        resets: &mut Resets,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(), EarlyStop> {
        for step in &plan.steps {
            let invokes = matches!(step, Step::Invoke { .. } | Step::Concurrent { .. });
            if invokes && self.needs_restart.swap(false, Ordering::Relaxed) {
                // After an out-of-memory kill, a timeout, a runtime that exited or an init
                // error, Lambda starts the runtime again in the same environment.
                self.replace_process(record, HarnessStop::Reset).await?;
            }
            match step {
                Step::Invoke { event, sampled } => {
                    let events = std::slice::from_ref(event);
                    self.invoke_all(events, *sampled, record, resets).await?;
                }
                Step::Concurrent { events, sampled } => {
                    self.invoke_all(events, *sampled, record, resets).await?;
                }
                Step::Idle(duration) => tokio::time::sleep(*duration).await,
                Step::Restart => {
                    self.replace_process(record, HarnessStop::Restart).await?;
                }
                Step::FreshEnvironment => {
                    self.replace_process(record, HarnessStop::FreshEnvironment)
                        .await?;
                }
            }
            progress(record.invocations.len());
        }
        Ok(())
    }

    /// Invokes with `events` at once and records them in order. A failure Lambda recovers
    /// from is noted in `resets` and starts the runtime again before the next invocation;
    /// an invocation that never reached a process gone since its last answer is sent again,
    /// once, to a new one. Any other failure ends the run, once the batch is recorded.
    async fn invoke_all(
        &mut self,
        events: &[bytes::Bytes],
        sampled: bool,
        record: &mut RunRecord,
        resets: &mut Resets,
    ) -> Result<(), EarlyStop> {
        let first = record.invocations.len();
        let batch = events
            .iter()
            .enumerate()
            .map(|(i, event)| self.invoke(event.clone(), sampled, first + i));
        let mut runs: Vec<Option<RecordedInvocation>> = Vec::with_capacity(events.len());
        let mut resend = Vec::new();
        // The process's exit the invocations to send again found: one failure, however many
        // found it, and none more when an invocation it was in failed with it. Likewise the
        // failures of the invocations in it: one reset of one process, however many were in
        // flight when it crashed or timed out.
        let (mut exited, mut failed) = (None, false);
        let mut first_stop = None;
        for (i, (run, after)) in futures_util::future::join_all(batch)
            .await
            .into_iter()
            .enumerate()
        {
            match after {
                After::Continue => {}
                After::Reset(failure) => {
                    self.needs_restart.store(true, Ordering::Relaxed);
                    if !failed {
                        resets.add(failure);
                        self.failure_not_restarted = true;
                    }
                    failed = true;
                }
                After::Resend(failure) => {
                    exited.get_or_insert(failure);
                    resend.push(i);
                    runs.push(None);
                    continue;
                }
                After::Stop(stop) => first_stop = first_stop.or(Some(stop)),
            }
            runs.push(Some(run));
        }
        // An out-of-memory kill in an invocation is counted as such; one between
        // invocations only as the exit the invocations to send again found.
        let failed = failed || runs.iter().flatten().any(ran_out_of_memory);
        if let Some(exited) = exited.filter(|_| !failed) {
            resets.add(exited);
            self.failure_not_restarted = true;
        }
        if first_stop.is_none() && !resend.is_empty() {
            self.replace_process(record, HarnessStop::Reset).await?;
            let again = resend
                .iter()
                .map(|&i| self.invoke(events[i].clone(), sampled, first + i));
            let again = futures_util::future::join_all(again).await;
            // The new process's failure: one, however many invocations found it.
            let mut failed_again = false;
            for (&i, (run, after)) in resend.iter().zip(again) {
                match after {
                    After::Continue => {}
                    // Sent once again only: a second miss is the invocation's failure.
                    After::Reset(failure) | After::Resend(failure) => {
                        self.needs_restart.store(true, Ordering::Relaxed);
                        if !failed_again {
                            resets.add(failure);
                            self.failure_not_restarted = true;
                        }
                        failed_again = true;
                    }
                    After::Stop(stop) => first_stop = first_stop.or(Some(stop)),
                }
                runs[i] = Some(run);
            }
        }
        record.invocations.extend(runs.into_iter().flatten());
        first_stop.map_or(Ok(()), Err)
    }

    /// Invokes once. A handler error is a reply; a failure of the function (it exited,
    /// never asked for work, timed out, failed its init) is recorded, and what the run does
    /// next returned.
    async fn invoke(
        &self,
        event: bytes::Bytes,
        sampled: bool,
        index: usize,
    ) -> (RecordedInvocation, After) {
        let request_id = new_request_id();
        let invocation = InvokeRequest::new(event)
            .with_request_id(request_id.clone())
            .with_deadline_after_hand_out(self.runner.timeout)
            .with_trace(TraceSetting::Generate { sampled });
        let process = &self.current.process;
        let classified = tokio::select! {
            invoked = process.invoke(&self.api, invocation) => self.classify(invoked, &request_id),
            () = self.never_asked_for_work() => Classified::Failed {
                reply: None,
                stop: EarlyStop::NeverAskedForWork {
                    waited_secs: self.runner.init_timeout.as_secs_f64(),
                    last_lines: process.last_lines(ERROR_CONTEXT_LINES),
                },
            },
        };
        // A process that exited ended its invocation then, not when the harness finished
        // draining its output.
        let ended_at = process
            .exited_at()
            .map_or_else(Instant::now, |exited_at| exited_at.min(Instant::now()));
        // Lambda stops an invocation at its timeout: an answer that came later (while the
        // harness waited its grace period past the deadline) never reached the caller.
        let classified = match classified {
            Classified::Answered(reply)
                if reply
                    .duration()
                    .is_some_and(|duration| duration > self.runner.timeout) =>
            {
                Classified::Failed {
                    reply: None,
                    stop: EarlyStop::TimedOut {
                        request_id: request_id.clone(),
                        last_lines: process.last_lines(ERROR_CONTEXT_LINES),
                    },
                }
            }
            // Likewise a runtime that exited in the invocation after its deadline: Lambda had
            // stopped it at its timeout.
            Classified::Failed {
                reply: None,
                stop: EarlyStop::Crashed { .. },
            } if self
                .api
                .handed_out_at(&request_id)
                .and_then(|at| at.checked_add(self.runner.timeout))
                .is_some_and(|deadline| deadline < ended_at) =>
            {
                Classified::Failed {
                    reply: None,
                    stop: EarlyStop::TimedOut {
                        request_id: request_id.clone(),
                        last_lines: process.last_lines(ERROR_CONTEXT_LINES),
                    },
                }
            }
            // Lambda's invocation lasts until the runtime asks for its next event: one that
            // works past the deadline after its answer timed out all the same.
            Classified::Answered(reply) if self.ran_past_deadline(&reply).await => {
                Classified::Failed {
                    reply: None,
                    stop: EarlyStop::TimedOutAfterAnswer {
                        request_id: request_id.clone(),
                        last_lines: process.last_lines(ERROR_CONTEXT_LINES),
                    },
                }
            }
            other => other,
        };
        // The run keeps what the report needs of a reply, not its body.
        let (reply, stop) = match classified {
            Classified::Answered(result) => {
                self.current.served.fetch_add(1, Ordering::Relaxed);
                (Ok(RecordedReply::from(result)), None)
            }
            Classified::OutOfMemory => {
                self.needs_restart.store(true, Ordering::Relaxed);
                (Err(NoReply::out_of_memory(&request_id)), None)
            }
            Classified::Failed {
                reply: Some(reply),
                stop,
            } => (Ok(RecordedReply::from(reply)), Some(stop)),
            Classified::Failed { reply: None, stop } => (Err(no_reply(&stop)), Some(stop)),
        };
        let (handed_out_at, ended_at) = match &reply {
            Ok(reply) => (reply.handed_out_at, Some(reply.resolved_at)),
            Err(_) => {
                let handed_out_at = self.api.handed_out_at(&request_id);
                // Lambda ends a timed-out invocation at its timeout, whereas the harness
                // waited a grace period past the deadline before giving up.
                // One that answered in time ran on until its timeout all the same.
                let ended_at = match (&stop, handed_out_at) {
                    (Some(EarlyStop::TimedOut { .. }), Some(handed_out_at)) => handed_out_at
                        .checked_add(self.runner.timeout)
                        .map_or(ended_at, |deadline| ended_at.min(deadline)),
                    (Some(EarlyStop::TimedOutAfterAnswer { .. }), Some(handed_out_at)) => {
                        handed_out_at
                            .checked_add(self.runner.timeout)
                            .unwrap_or(ended_at)
                    }
                    _ => ended_at,
                };
                (handed_out_at, Some(ended_at))
            }
        };
        let run = RecordedInvocation {
            index,
            process: self.current.index,
            environment: self.current.environment,
            trace_header: reply.as_ref().ok().and_then(|r| r.trace_header.clone()),
            request_id,
            reply,
            handed_out_at,
            ended_at,
            // Known only once its runtime asks for work again: filled in at the run's end.
            released_at: None,
            max_memory_used_bytes: process.peak_memory_bytes(),
        };
        let after = match stop {
            None => After::Continue,
            Some(stop) if self.stop_at_failure => After::Stop(stop),
            Some(stop) => After::from_failure(stop),
        };
        (run, after)
    }

    /// Whether the runtime that answered `reply` went on past the invocation's deadline
    /// without asking for its next event (and without exiting): waits until it asks, exits,
    /// or the deadline passes. The next invocation could not reach it before anyway.
    ///
    /// Never on Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` above 1, or their
    /// initialization type): there an invocation ends with its answer, its process takes
    /// concurrent `GET /next` requests (which tell no loop from another, so a prompt loop's
    /// request would end a slow one's invocation and leave its own running), and Lambda does not
    /// enforce per-invocation timeouts.
    async fn ran_past_deadline(&self, reply: &InvokeReply) -> bool {
        if self.managed_instances() {
            return false;
        }
        let Some(deadline) = reply
            .handed_out_at
            .and_then(|at| at.checked_add(self.runner.timeout))
        else {
            return false;
        };
        let process = &self.current.process;
        tokio::select! {
            released = self.api.wait_for_release(&reply.request_id, deadline) => {
                released.is_none() && !process.has_exited()
            }
            _ = process.wait() => false,
        }
    }

    /// Resolves if the current process has not asked for work (`GET /next`) within the init
    /// timeout of its start (a busy process that did ask is not "never asking", nor one that
    /// asked and was handed nothing yet, as when the plan lets it sit idle first).
    async fn never_asked_for_work(&self) {
        let spawned_at = self.current.process.spawned_at();
        // An init timeout past what an instant holds is no limit.
        let Some(limit) = spawned_at.checked_add(self.runner.init_timeout) else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until(limit.into()).await;
        // Asked of every invocation once the process is past its init timeout: one reading,
        // not a look through the whole log. The first poll is forgotten when a process is
        // attached: this one is the current process's.
        let asked = self.api.first_poll_at().is_some();
        if asked {
            std::future::pending::<()>().await;
        }
    }

    /// The reply, or why the run stops (with the reply when there was one: an init error).
    fn classify(&self, invoked: Result<InvokeReply, HarnessError>, request_id: &str) -> Classified {
        let last_lines = || self.current.process.last_lines(ERROR_CONTEXT_LINES);
        let stop = match invoked {
            Ok(result) => {
                return match &result.answer {
                    Answer::InitError { error: report, .. } => {
                        let stop = EarlyStop::InitError {
                            error: report.to_string(),
                            last_lines: last_lines(),
                        };
                        Classified::Failed {
                            reply: Some(result),
                            stop,
                        }
                    }
                    _ => Classified::Answered(result),
                };
            }
            // Killed for its memory in this invocation, or in its init (the invocation that
            // found it gone failed there, as on Lambda). Not one never handed to a process
            // past its init: the kill came in another invocation sent at the same time, or
            // between invocations, after its answer; this one never reached it (it is sent
            // again, below).
            Err(HarnessError::ProcessExited { .. })
                if self.current.process.out_of_memory()
                    && (self.api.handed_out_at(request_id).is_some() || !self.past_its_init()) =>
            {
                return Classified::OutOfMemory;
            }
            Err(HarnessError::ProcessExited { status, .. }) => {
                let status = status.map_or_else(|| "status unknown".to_owned(), |s| s.to_string());
                // A kill for its memory says so: its signal alone does not.
                let status = if self.current.process.out_of_memory() {
                    format!("out of memory, {status}")
                } else {
                    status
                };
                let handed_out = self.api.handed_out_at(request_id).is_some();
                let past_init = self.past_its_init();
                if !past_init && !handed_out {
                    EarlyStop::ExitedDuringInit {
                        status,
                        last_lines: last_lines(),
                    }
                } else if !handed_out {
                    EarlyStop::ExitedBetweenInvocations {
                        status,
                        last_lines: last_lines(),
                    }
                } else {
                    EarlyStop::Crashed {
                        status,
                        last_lines: last_lines(),
                    }
                }
            }
            // Its process had answered, then did not ask for work again: it never had it.
            // (One stuck in an invocation it was handed, sent at the same time, was busy:
            // this one timed out behind it.)
            Err(HarnessError::Timeout { .. })
                if self.api.handed_out_at(request_id).is_none()
                    && self.current.served.load(Ordering::Relaxed) > 0
                    && !self.stuck_in_an_invocation() =>
            {
                EarlyStop::NeverAskedAgain {
                    request_id: request_id.to_owned(),
                    last_lines: last_lines(),
                }
            }
            Err(HarnessError::Timeout { .. }) => EarlyStop::TimedOut {
                request_id: request_id.to_owned(),
                last_lines: last_lines(),
            },
            Err(HarnessError::InitError(report)) => EarlyStop::InitError {
                error: report.to_string(),
                last_lines: last_lines(),
            },
            Err(other) => EarlyStop::Harness(other.to_string()),
        };
        Classified::Failed { reply: None, stop }
    }

    /// Whether the current process is past its init: it had an invocation, answered or not
    /// (another of those sent at once may be the one it exited in).
    fn past_its_init(&self) -> bool {
        let spawned_at = self.current.process.spawned_at();
        self.current.served.load(Ordering::Relaxed) > 0
            || self
                .api
                .last_hand_out_at()
                .is_some_and(|at| at >= spawned_at)
    }

    /// Whether the current process was handed an invocation it never answered (stuck in it,
    /// or gone in it).
    fn stuck_in_an_invocation(&self) -> bool {
        let spawned_at = self.current.process.spawned_at();
        self.api.invocations().iter().any(|logged| {
            logged.handed_out_at.is_some_and(|at| at >= spawned_at)
                && !matches!(logged.stage, Stage::Resolved(_))
        })
    }

    /// Kills the current process (unless it is gone) for `stop`, and starts another: in a
    /// new environment for [`HarnessStop::FreshEnvironment`], else in the same one.
    async fn replace_process(
        &mut self,
        record: &mut RunRecord,
        stop: HarnessStop,
    ) -> Result<(), EarlyStop> {
        let fresh = stop == HarnessStop::FreshEnvironment;
        // Lambda resets an environment after a failure at once: it does not wait for a
        // runtime that failed (stuck past its timeout, hanging after an init error) to ask
        // for work again; nor does a restart the plan makes then.
        let failed = self.needs_restart.swap(false, Ordering::Relaxed);
        if stop != HarnessStop::Reset && !failed {
            self.wait_until_idle(record).await;
        }
        let ended = self.end_process(stop).await;
        record.processes.push(ended);
        // Whatever the stopped process left polling gets nothing meant for its replacement.
        self.api.retire_connections();
        if fresh {
            let environment = ExecutionEnvironment::new()
                .map_err(|error| EarlyStop::Harness(error.to_string()))?;
            self.environments.push(environment);
        }
        let environment = if fresh {
            self.environments.len() - 1
        } else {
            self.current.environment
        };
        let process =
            self.runner
                .spawn(&self.config, &self.environments[environment], &self.api)?;
        if std::mem::take(&mut self.failure_not_restarted) {
            self.restarted_after_failures += 1;
        }
        self.current = Current {
            process: Arc::new(process),
            index: self.current.index + 1,
            environment,
            served: AtomicUsize::new(0),
        };
        Ok(())
    }

    /// [`Self::until_idle`], noting the current process's answered invocations as
    /// [`overran`](Self::overran) when it reached its limit (the process neither asked for
    /// work after its last answer nor exited): their runtime was still in them at their
    /// timeout.
    async fn wait_until_idle(&mut self, record: &RunRecord) {
        if self.until_idle().await {
            return;
        }
        self.overran
            .extend(answered_by(record, self.current.index).map(|run| run.index));
    }

    /// Waits until the current process is idle, as Lambda finds a runtime it freezes or stops:
    /// asking for its next event after its last answer (what it does between its response
    /// and that request, such as writing its telemetry, is still part of the invocation), or
    /// gone; at most the function's timeout. Whether it did (or had nothing to wait for),
    /// rather than reaching that limit.
    async fn until_idle(&self) -> bool {
        let process = &self.current.process;
        let Some(last_answer) = self.api.last_answer_at() else {
            return true;
        };
        // A timeout past what an instant holds is no limit.
        let limit = Instant::now().checked_add(self.runner.timeout);
        let polled_since = || {
            self.api
                .last_poll_at()
                .is_some_and(|polled| polled >= last_answer)
        };
        while !process.has_exited()
            && !polled_since()
            && limit.is_none_or(|limit| Instant::now() < limit)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        process.has_exited() || polled_since()
    }

    /// Stops the current process for `stop`, unless it already ended on its own, and
    /// records how it ended.
    async fn end_process(&self, stop: HarnessStop) -> RecordedProcess {
        let process = &self.current.process;
        let exit_status = process.try_exit_status();
        let (exit, stopped_by_harness) = match exit_status {
            Some(status) => (Some(status.to_string()), None),
            None => {
                let exit = process.kill().await.ok().map(|status| status.to_string());
                (exit, Some(stop))
            }
        };
        RecordedProcess {
            index: self.current.index,
            environment: self.current.environment,
            output: process.output(),
            dropped_output_lines: process.output_log().dropped_lines(),
            exit,
            exit_status,
            spawned_at: Some(process.spawned_at()),
            restored_at: self.api.restored_at(),
            log_stream: self
                .config
                .log_stream_name(&self.environments[self.current.environment]),
            peak_memory_bytes: process.peak_memory_bytes(),
            memory_limit_bytes: process.cgroup().map(|cgroup| cgroup.limits().memory_bytes),
            out_of_memory: process.out_of_memory(),
            stopped_by_harness,
        }
    }

    /// Ends the run: the last datagrams, the last process.
    async fn stop(mut self, record: &mut RunRecord, finished: bool) {
        if finished {
            // After a last invocation that failed, Lambda resets the environment at once,
            // as between two: no waiting for a failed runtime to ask for work again.
            if !self.needs_restart.load(Ordering::Relaxed) {
                self.wait_until_idle(record).await;
            }
        } else if !self.current.process.has_exited() {
            // Stopped early (the next invocation failed): an answered invocation whose
            // runtime is still running and has not asked for work since was, past its
            // timeout, still in it there, as a run that ends finds it.
            let now = Instant::now();
            let timeout = self.runner.timeout;
            self.overran.extend(
                answered_by(record, self.current.index)
                    .filter(|run| {
                        run.handed_out_at
                            .and_then(|at| at.checked_add(timeout))
                            .is_some_and(|deadline| deadline <= now)
                    })
                    .map(|run| run.index),
            );
        }
        tokio::time::sleep(DRAIN).await;
        let ended = self.end_process(HarnessStop::EndOfRun).await;
        record.processes.push(ended);
        record.datagrams = self.collector.datagrams();
        self.fill_releases(record);
    }

    /// Whether the run is on Lambda Managed Instances (`-c` above 1, or that initialization
    /// type), where a runtime's loops share one process and a `GET /next` tells no loop from
    /// another: an invocation there ends with its answer.
    fn managed_instances(&self) -> bool {
        self.config.max_concurrency().is_some_and(|max| max > 1)
            || self.config.initialization_type() == Some("lambda-managed-instances")
    }

    /// When the runtime asked for work after each answered invocation, as the Runtime API
    /// logged it, but no later than the invocation's timeout: Lambda stops an invocation
    /// there, whatever its runtime still does after its answer. One whose runtime never
    /// asked, though the harness waited past its timeout, ran until that timeout. None on
    /// Managed Instances, where an invocation ends with its answer.
    fn fill_releases(&self, record: &mut RunRecord) {
        if self.managed_instances() {
            return;
        }
        let released: HashMap<String, Instant> = self
            .api
            .invocations()
            .into_iter()
            .filter_map(|logged| Some((logged.request_id, logged.released_at?)))
            .collect();
        for run in &mut record.invocations {
            if run.reply.is_ok() {
                let deadline = run
                    .handed_out_at
                    .and_then(|at| at.checked_add(self.runner.timeout));
                run.released_at = match released.get(&run.request_id) {
                    Some(&released) => {
                        Some(deadline.map_or(released, |deadline| released.min(deadline)))
                    }
                    None if self.overran.contains(&run.index) => deadline,
                    None => None,
                };
            }
        }
    }
}

/// The function's program could not be started: named as given, with the reason.
fn cannot_start(command: &FunctionCommand, error: &std::io::Error) -> EarlyStop {
    EarlyStop::CannotStart(command.start_error(error))
}

fn command_line(command: &FunctionCommand) -> String {
    std::iter::once(command.program().display().to_string())
        .chain(
            command
                .arguments()
                .iter()
                .map(|a| a.to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `run` failed because its runtime was killed for its memory in it.
fn ran_out_of_memory(run: &RecordedInvocation) -> bool {
    matches!(&run.reply, Err(failure) if failure.kind == NoReplyKind::OutOfMemory)
}

/// The answered invocations of process `process`, the run's last process (its invocations
/// are the last of the run), latest first.
fn answered_by(record: &RunRecord, process: usize) -> impl Iterator<Item = &RecordedInvocation> {
    record
        .invocations
        .iter()
        .rev()
        .take_while(move |run| run.process == process)
        .filter(|run| run.reply.is_ok())
}
