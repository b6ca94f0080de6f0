//! [`FunctionProcess`]: a function binary running against a [`RuntimeApi`] inside an
//! [`ExecutionEnvironment`].

use std::fmt;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

use crate::emulator::cgroup_start;
use crate::emulator::command::FunctionCommand;
use crate::emulator::config::FunctionConfig;
use crate::emulator::environment::ExecutionEnvironment;
use crate::emulator::error::HarnessError;
use crate::emulator::invoke_reply::InvokeReply;
use crate::emulator::invoke_request::InvokeRequest;
use crate::emulator::output::{OutputLine, OutputLog, OutputStream, WaitEnd};
use crate::emulator::process_tree;
use crate::emulator::runtime_api::RuntimeApi;
use crate::sizing::{FunctionCgroup, process_peak_bytes};

/// How many of the function's last output lines errors carry (a harness error, an early stop).
pub(crate) const ERROR_CONTEXT_LINES: usize = 20;

/// After the process exits, how long to let the output readers drain the pipes before
/// judging what was printed (a grandchild may keep a pipe open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
enum ExitState {
    Running,
    /// It exited with this status, at this moment (as its supervisor saw it).
    Exited(ExitStatus, Instant),
    /// Waiting on the child failed; the status is unknown.
    Lost(String),
}

impl ExitState {
    fn status(&self) -> Option<ExitStatus> {
        match self {
            Self::Exited(status, _) => Some(*status),
            _ => None,
        }
    }

    fn exited_at(&self) -> Option<Instant> {
        match self {
            Self::Exited(_, at) => Some(*at),
            _ => None,
        }
    }
}

/// A running (or finished) function process.
///
/// Its environment is cleared and rebuilt from a [`FunctionConfig`] (see
/// [`FunctionConfig::environment`]); it runs in its
/// [working directory](FunctionCommand::working_directory): its task root, as on Lambda (a
/// relative program path is made absolute first), unless a tool from `PATH` starts it; stdin is `/dev/null`; stdout and stderr are read
/// continuously into an [`OutputLog`]. Dropping it kills the process (`SIGKILL`).
pub struct FunctionProcess {
    pid: Option<u32>,
    command: FunctionCommand,
    spawned_at: Instant,
    output: OutputLog,
    exit: watch::Receiver<ExitState>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    /// The cgroup imposing its memory size, if sized.
    cgroup: Option<Arc<FunctionCgroup>>,
    /// The largest peak memory read so far (bytes).
    peak_seen: AtomicU64,
}

impl Drop for FunctionProcess {
    /// Kills the process and everything it started, as [`kill`](Self::kill) would.
    fn drop(&mut self) {
        let Some(pid) = self.pid else {
            return;
        };
        if self.has_exited() {
            // Its pid may be another process's by now; its group cannot be while it has
            // members.
            process_tree::kill_group(pid);
        } else {
            process_tree::kill_tree(pid);
        }
    }
}

impl fmt::Debug for FunctionProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionProcess")
            .field("pid", &self.pid)
            .field("command", &self.command)
            .field("exit", &*self.exit.borrow())
            .finish_non_exhaustive()
    }
}

impl FunctionProcess {
    /// Starts `command` as a Lambda function in `environment`, polling `api`.
    ///
    /// The API is told a new process is attached: its current init error (if any) is
    /// forgotten and invocations default to this function's ARN. Must be called inside a
    /// tokio runtime.
    pub fn spawn(
        command: &FunctionCommand,
        config: &FunctionConfig,
        environment: &ExecutionEnvironment,
        api: &RuntimeApi,
    ) -> io::Result<Self> {
        Self::start(command, config, environment, api, None, None)
    }

    /// Like [`spawn`](Self::spawn), with the function's stdout connected to `stdout` instead
    /// of the harness's pipe: to see how a function behaves when its stdout fails, e.g.
    /// `/dev/full` (every write fails with `ENOSPC`) or the write end of a pipe whose reader
    /// is gone (`EPIPE`). Its stdout is then not in the [output log](Self::output); stderr
    /// still is.
    ///
    /// ```no_run
    /// # use lambda_perf_local::emulator::*;
    /// # async fn demo(command: FunctionCommand, api: RuntimeApi) -> std::io::Result<()> {
    /// let environment = ExecutionEnvironment::new()?;
    /// let full = std::fs::File::options().write(true).open("/dev/full")?;
    /// let process = FunctionProcess::spawn_with_stdout(
    ///     &command, &FunctionConfig::new(), &environment, &api, full.into(),
    /// )?;
    /// # let _ = process; Ok(()) }
    /// ```
    pub fn spawn_with_stdout(
        command: &FunctionCommand,
        config: &FunctionConfig,
        environment: &ExecutionEnvironment,
        api: &RuntimeApi,
        stdout: Stdio,
    ) -> io::Result<Self> {
        Self::start(command, config, environment, api, None, Some(stdout))
    }

    /// Like [`spawn`](Self::spawn), inside `cgroup` (see [`crate::sizing`]): the process
    /// joins it before the function's program starts, so its memory cap and CPU quota hold
    /// from the first instruction. The cgroup is removed once the process is gone and this
    /// value dropped.
    pub fn spawn_in_cgroup(
        command: &FunctionCommand,
        config: &FunctionConfig,
        environment: &ExecutionEnvironment,
        api: &RuntimeApi,
        cgroup: FunctionCgroup,
    ) -> io::Result<Self> {
        Self::start(
            command,
            config,
            environment,
            api,
            Some(Arc::new(cgroup)),
            None,
        )
    }

    fn start(
        command: &FunctionCommand,
        config: &FunctionConfig,
        environment: &ExecutionEnvironment,
        api: &RuntimeApi,
        cgroup: Option<Arc<FunctionCgroup>>,
        stdout: Option<Stdio>,
    ) -> io::Result<Self> {
        let vars = config.environment(command, environment, api.addr());
        let mut process = Command::new(command.program_to_start());
        process.args(command.arguments()).stdin(Stdio::null());
        if let Some(directory) = command.working_directory() {
            process.current_dir(directory);
        }
        let join_report = match &cgroup {
            None => None,
            Some(cgroup) => Some(cgroup_start::install(&mut process, command, &vars, cgroup)?),
        };
        // Attached before the process exists: a runtime that posts its init error at once
        // (a `curl` in a shell script) could otherwise do so before the attachment, which
        // forgets the previous process's init error and would forget this one's too.
        api.attach_process(config);
        let spawned = process
            .env_clear()
            .envs(&vars)
            .stdout(stdout.unwrap_or_else(Stdio::piped))
            .stderr(Stdio::piped())
            // Its own process group, so that a kill reaches what it started too (a `sh -c`
            // wrapper's child, `cargo run`'s binary).
            .process_group(0)
            .kill_on_drop(true)
            .spawn();
        let mut child = match (spawned, &join_report) {
            (Ok(child), _) => child,
            (Err(error), Some(report)) => return Err(report.explain(error)),
            (Err(error), None) => return Err(error),
        };
        // After the `exec` (the spawn returns once it succeeded): a sized process's move
        // into its cgroup is not counted as the function's init.
        let spawned_at = Instant::now();
        let output = OutputLog::new();
        if let Some(stdout) = child.stdout.take() {
            output.attach(OutputStream::Stdout, stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            output.attach(OutputStream::Stderr, stderr);
        }
        let pid = child.id();
        let (exit_tx, exit) = watch::channel(ExitState::Running);
        let (kill_tx, kill_rx) = oneshot::channel();
        tokio::spawn(supervise(child, kill_rx, exit_tx, cgroup.clone()));
        Ok(Self {
            pid,
            command: command.clone(),
            spawned_at,
            output,
            exit,
            kill: Mutex::new(Some(kill_tx)),
            cgroup,
            peak_seen: AtomicU64::new(0),
        })
    }

    /// The cgroup imposing its memory size, if it was spawned in one.
    pub fn cgroup(&self) -> Option<&FunctionCgroup> {
        self.cgroup.as_deref()
    }

    /// The most memory it has used so far, in bytes: the larger of its cgroup's peak when
    /// sized (all its processes, as the limit counts them) and the peak resident size
    /// (`VmHWM`, as last read while it ran), which also counts the pages of its program that
    /// the machine had cached before (Lambda's `Max Memory Used` counts them: its environment
    /// loads the code afresh). Without a size, that resident size is the whole tree's, the
    /// process's and every one descending from it (a wrapper's function; see
    /// `process_tree::tree_peak_bytes`): Lambda counts the whole environment. `None` when
    /// never known.
    ///
    /// Read when asked (after each invocation, and before a kill), never in between.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let cgroup = self.cgroup.as_ref().and_then(|c| c.peak_memory_bytes());
        let resident = match (self.pid, &self.cgroup) {
            _ if self.has_exited() => None,
            (Some(pid), Some(_)) => process_peak_bytes(pid),
            (Some(pid), None) => process_tree::tree_peak_bytes(pid),
            (None, _) => None,
        };
        let now = cgroup.max(resident);
        let seen = self
            .peak_seen
            .fetch_max(now.unwrap_or(0), Ordering::Relaxed)
            .max(now.unwrap_or(0));
        (seen > 0).then_some(seen)
    }

    /// Whether the kernel's OOM killer killed a process of its cgroup (always `false`
    /// without a cgroup).
    pub fn out_of_memory(&self) -> bool {
        self.cgroup
            .as_ref()
            .and_then(|cgroup| cgroup.oom_kills())
            .is_some_and(|kills| kills > 0)
    }

    /// The OS process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The command it runs.
    pub fn command(&self) -> &FunctionCommand {
        &self.command
    }

    /// When it was spawned.
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Its output log (a handle that stays usable after the process is gone).
    pub fn output_log(&self) -> &OutputLog {
        &self.output
    }

    /// A snapshot of every output line so far.
    pub fn output(&self) -> Vec<OutputLine> {
        self.output.lines()
    }

    /// The parsed EMF documents printed so far.
    pub fn emf_lines(&self) -> Vec<Value> {
        self.output.emf_lines()
    }

    /// The last `n` output lines rendered as `stdout: …` / `stderr: …`.
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        self.output.last_lines(n)
    }

    /// The exit status, if the process has exited.
    pub fn try_exit_status(&self) -> Option<ExitStatus> {
        self.exit.borrow().status()
    }

    /// When the process exited, if it has: before its output was drained (a process it
    /// started may keep its pipes open long after).
    pub fn exited_at(&self) -> Option<Instant> {
        self.exit.borrow().exited_at()
    }

    /// Whether the process has exited (or can no longer be waited on).
    pub fn has_exited(&self) -> bool {
        !matches!(*self.exit.borrow(), ExitState::Running)
    }

    async fn exited(&self) -> ExitState {
        let mut exit = self.exit.clone();
        match exit
            .wait_for(|state| !matches!(state, ExitState::Running))
            .await
        {
            Ok(state) => state.clone(),
            Err(_) => ExitState::Lost("the process supervisor stopped".to_owned()),
        }
    }

    /// Waits for the process to exit, then briefly for its output to be drained.
    async fn exited_and_drained(&self) -> ExitState {
        let state = self.exited().await;
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, self.output.wait_until(|_| false)).await;
        state
    }

    fn exited_error(&self, state: &ExitState) -> HarnessError {
        HarnessError::ProcessExited {
            status: state.status(),
            last_lines: self.last_lines(ERROR_CONTEXT_LINES),
        }
    }

    fn timeout_error(&self, what: String) -> HarnessError {
        HarnessError::Timeout {
            what,
            last_lines: self.last_lines(ERROR_CONTEXT_LINES),
        }
    }

    /// Waits for the process to exit by itself.
    pub async fn wait(&self) -> io::Result<ExitStatus> {
        match self.exited().await {
            ExitState::Exited(status, _) => Ok(status),
            ExitState::Lost(message) => Err(io::Error::other(message)),
            ExitState::Running => Err(io::Error::other("process still running")),
        }
    }

    /// Waits at most `timeout` for the process to exit by itself.
    pub async fn wait_for_exit(&self, timeout: Duration) -> Result<ExitStatus, HarnessError> {
        match tokio::time::timeout(timeout, self.wait()).await {
            Ok(result) => Ok(result?),
            Err(_) => {
                Err(self.timeout_error(format!("the function process to exit ({timeout:?})")))
            }
        }
    }

    /// Kills the process with `SIGKILL` (like an abrupt runtime crash) and waits for it.
    /// Returns the exit status (or the earlier one if it had already exited).
    pub async fn kill(&self) -> io::Result<ExitStatus> {
        // The last chance to read the peak of a process without a cgroup.
        let _ = self.peak_memory_bytes();
        let sender = self
            .kill
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // The supervisor may already be gone if the process exited; that is fine.
            let _ = sender.send(());
        }
        self.wait().await
    }

    /// Waits until at least `n` EMF lines have been printed and returns all EMF documents
    /// seen so far. Fails with [`HarnessError::Timeout`] after `timeout`, or with
    /// [`HarnessError::ProcessExited`] if the process exits without printing them; both
    /// carry the last output lines.
    pub async fn wait_for_emf_lines(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Value>, HarnessError> {
        let enough = |lines: &[OutputLine]| lines.iter().filter(|l| l.is_emf()).count() >= n;
        self.wait_for_output(enough, timeout, || format!("{n} EMF line(s)"))
            .await?;
        Ok(self.emf_lines())
    }

    /// Waits until an output line matches `predicate` and returns it (the first match).
    /// Fails like [`wait_for_emf_lines`](Self::wait_for_emf_lines).
    pub async fn wait_for_line<P>(
        &self,
        predicate: P,
        timeout: Duration,
    ) -> Result<OutputLine, HarnessError>
    where
        P: Fn(&OutputLine) -> bool,
    {
        let mut found = None;
        let condition = |lines: &[OutputLine]| {
            found = lines.iter().find(|line| predicate(line)).cloned();
            found.is_some()
        };
        self.wait_for_output(condition, timeout, || "a matching output line".to_owned())
            .await?;
        found.ok_or_else(|| self.timeout_error("a matching output line".to_owned()))
    }

    async fn wait_for_output<F, W>(
        &self,
        mut condition: F,
        timeout: Duration,
        what: W,
    ) -> Result<(), HarnessError>
    where
        F: FnMut(&[OutputLine]) -> bool,
        W: Fn() -> String,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let ended = tokio::select! {
            biased;
            end = self.output.wait_until(&mut condition) => Ended::Output(end),
            state = self.exited_and_drained() => Ended::Exited(state),
            () = tokio::time::sleep_until(deadline) => Ended::TimedOut,
        };
        let state = match ended {
            Ended::Output(WaitEnd::Satisfied) => return Ok(()),
            Ended::TimedOut => return Err(self.timeout_error(what())),
            Ended::Exited(state) => state,
            // Both pipes closed: the process is exiting or gone (or closed them itself).
            Ended::Output(WaitEnd::Closed) => tokio::time::timeout_at(deadline, self.exited())
                .await
                .unwrap_or(ExitState::Running),
        };
        // One last look: the output may have been complete by the time the process exited.
        if condition(&self.output.lines()) {
            Ok(())
        } else if matches!(state, ExitState::Running) {
            Err(self.timeout_error(format!("{} (output closed)", what())))
        } else {
            Err(self.exited_error(&state))
        }
    }

    /// Invokes the function through `api`, racing the invocation against this process
    /// exiting: returns [`HarnessError::ProcessExited`] (with the last output lines) instead
    /// of waiting for the timeout if the process dies first, and adds the last output lines
    /// to [`HarnessError::Timeout`].
    pub async fn invoke(
        &self,
        api: &RuntimeApi,
        invocation: InvokeRequest,
    ) -> Result<InvokeReply, HarnessError> {
        tokio::select! {
            biased;
            result = api.invoke(invocation) => result.map_err(|err| match err {
                HarnessError::Timeout { .. } => err.with_last_lines(self.last_lines(ERROR_CONTEXT_LINES)),
                other => other,
            }),
            state = self.exited_and_drained() => Err(self.exited_error(&state)),
        }
    }
}

/// How a wait on the output ended.
enum Ended {
    Output(WaitEnd),
    Exited(ExitState),
    TimedOut,
}

/// Owns the child: waits for it to exit, or kills it when asked (or when the
/// [`FunctionProcess`] is dropped, which drops the kill sender), then publishes the status.
///
/// It holds the process's cgroup until the process is reaped, so that the cgroup (removed
/// when its last holder drops it) is empty by then.
async fn supervise(
    mut child: Child,
    kill: oneshot::Receiver<()>,
    exit: watch::Sender<ExitState>,
    cgroup: Option<Arc<FunctionCgroup>>,
) {
    let waited = tokio::select! {
        status = child.wait() => status,
        _ = kill => {
            // Not reaped yet (its id is `None` once it is): the pid is still the function's.
            if let Some(pid) = child.id() {
                process_tree::kill_tree(pid);
            }
            // Fails only if the child is already reaped; `wait` then returns its status.
            let _ = child.kill().await;
            child.wait().await
        }
    };
    exit.send_replace(match waited {
        Ok(status) => ExitState::Exited(status, Instant::now()),
        Err(err) => ExitState::Lost(err.to_string()),
    });
    drop(cgroup);
}
