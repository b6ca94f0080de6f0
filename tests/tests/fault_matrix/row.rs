//! One row of the fault matrix: the echo function (`src/bin/echo-function.rs`) run twice
//! under the same fault — once instrumented, once bare (`ECHO_BARE=1`) — with the same
//! invocations. The bare run is the oracle: what the runtime received from it, whether its
//! process survived, what it wrote on stderr, the instrumented run must match; and every
//! record the instrumented run wrote must be valid.

#![allow(unreachable_pub)] // shared by the rows of this test binary only

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes_compare::Received;
use lambda_perf_local::emulator::{
    Answer, ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, HarnessError,
    InvokeReply, InvokeRequest, LoggedInvocation, OutputStream, RuntimeApi, TraceHeader,
    XRayCollector,
};
use serde_json::Value;

use crate::support::{WAIT, assert_valid_emf, assert_valid_xray, function_config};

/// The marker file lambda-perf keeps in the temp dir.
pub const MARKER_FILE: &str = ".lambda-perf-environment";

/// The handler subsegment's name (`## <function name>`).
pub const HANDLER: &str = "## orders-fn";

/// Where the function's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdout {
    /// The harness's pipe, read line by line.
    Captured,
    /// `/dev/full`: every write fails with `ENOSPC`.
    Full,
    /// A pipe whose read end was closed before the function started: writes fail with `EPIPE`.
    ReaderGone,
    /// File descriptor 1 closed when the program starts.
    ClosedAtStart,
}

/// What the function finds in `TMPDIR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TempDir {
    /// The environment's own, empty, writable directory.
    Own,
    /// A directory the function cannot write to (mode 0555; run as `nobody` when the tests
    /// run as root, whom permission bits do not stop).
    ReadOnly,
    /// A path that does not exist.
    Missing,
    /// A symbolic link to a writable directory.
    Symlinked,
    /// The environment's directory, holding a marker file with these bytes.
    Marker(Vec<u8>),
}

/// The fault a row arranges, for both runs.
#[derive(Clone, Debug)]
pub struct Fault {
    stdout: Stdout,
    temp_dir: TempDir,
    /// `None`: the collector's address.
    daemon_setting: Option<String>,
    env: Vec<(String, String)>,
}

impl Fault {
    /// No fault: the function as Lambda runs it.
    pub fn none() -> Self {
        Self {
            stdout: Stdout::Captured,
            temp_dir: TempDir::Own,
            daemon_setting: None,
            env: Vec::new(),
        }
    }

    pub fn stdout(mut self, stdout: Stdout) -> Self {
        self.stdout = stdout;
        self
    }

    pub fn temp_dir(mut self, temp_dir: TempDir) -> Self {
        self.temp_dir = temp_dir;
        self
    }

    /// `AWS_XRAY_DAEMON_ADDRESS` set to `setting` instead of the collector's address.
    pub fn daemon_setting(mut self, setting: impl Into<String>) -> Self {
        self.daemon_setting = Some(setting.into());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs `requests` one after the other in both runs, at the same time.
    pub async fn run(&self, requests: Vec<InvokeRequest>) -> Ran {
        let (instrumented, bare) = tokio::join!(
            Side::run(self, false, requests.clone()),
            Side::run(self, true, requests)
        );
        Ran { instrumented, bare }
    }
}

/// An event for the echo function: its token (which names the request, `req-<token>`), and
/// what else the handler does.
pub fn echo(token: &str, extra: Value) -> InvokeRequest {
    let mut event = serde_json::json!({ "token": token, "nested": true });
    if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
        event.extend(extra);
    }
    InvokeRequest::json(event).with_request_id(format!("req-{token}"))
}

/// `n` plain echoes, tokens `t-1` to `t-n`.
pub fn echoes(n: usize) -> Vec<InvokeRequest> {
    (1..=n)
        .map(|i| echo(&format!("t-{i}"), serde_json::json!({})))
        .collect()
}

/// One run of the function.
pub struct Side {
    pub api: RuntimeApi,
    pub collector: XRayCollector,
    pub process: FunctionProcess,
    pub environment: ExecutionEnvironment,
    pub replies: Vec<Result<InvokeReply, HarnessError>>,
    /// The request ids sent, in order.
    pub request_ids: Vec<String>,
    /// Where the marker is expected (the directory `TMPDIR` resolves to).
    pub marker_dir: PathBuf,
    command: FunctionCommand,
    config: FunctionConfig,
}

impl Side {
    async fn run(fault: &Fault, bare: bool, requests: Vec<InvokeRequest>) -> Self {
        let mut side = Self::start(fault, bare).await;
        for request in requests {
            side.invoke(request).await;
        }
        side
    }

    /// Sends one more invocation.
    pub async fn invoke(&mut self, request: InvokeRequest) {
        let id = request.request_id().expect("requests are named").to_owned();
        let reply = self.process.invoke(&self.api, request).await;
        self.request_ids.push(id);
        self.replies.push(reply);
    }

    /// Kills the process and starts it again in the same environment, as Lambda restarts a
    /// crashed runtime (stdout captured).
    pub async fn restart(&mut self) {
        self.process.kill().await.unwrap();
        // Its leftover poll must not take the restarted process's invocations.
        self.api.retire_connections();
        self.process =
            FunctionProcess::spawn(&self.command, &self.config, &self.environment, &self.api)
                .unwrap();
    }

    async fn start(fault: &Fault, bare: bool) -> Self {
        let api = RuntimeApi::start().await.unwrap();
        let collector = XRayCollector::start().await.unwrap();
        let environment = ExecutionEnvironment::new().unwrap();
        let daemon = fault
            .daemon_setting
            .clone()
            .unwrap_or_else(|| collector.addr().to_string());
        // Panic messages without backtraces, which differ where lambda-perf's frames are.
        let mut config = function_config()
            .with_xray_daemon_address(daemon)
            .with_env("RUST_BACKTRACE", "0");
        if bare {
            config = config.with_env("ECHO_BARE", "1");
        }
        for (name, value) in &fault.env {
            config = config.with_env(name, value);
        }
        let program = PathBuf::from(env!("CARGO_BIN_EXE_echo-function"));
        let (config, marker_dir, as_nobody) =
            arrange_temp_dir(&fault.temp_dir, &environment, config);
        let mut command = FunctionCommand::new(&program);
        if as_nobody {
            command = FunctionCommand::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&program);
        }
        let process = match fault.stdout {
            Stdout::Captured => FunctionProcess::spawn(&command, &config, &environment, &api),
            Stdout::Full => {
                let full = std::fs::File::options()
                    .write(true)
                    .open("/dev/full")
                    .unwrap();
                FunctionProcess::spawn_with_stdout(
                    &command,
                    &config,
                    &environment,
                    &api,
                    full.into(),
                )
            }
            Stdout::ReaderGone => {
                let (reader, writer) = std::io::pipe().unwrap();
                drop(reader);
                FunctionProcess::spawn_with_stdout(
                    &command,
                    &config,
                    &environment,
                    &api,
                    Stdio::from(writer),
                )
            }
            Stdout::ClosedAtStart => {
                let mut closing = FunctionCommand::new("/bin/sh")
                    .args(["-c", "exec \"$@\" >&-", "sh"])
                    .arg(command.program());
                closing = closing.args(command.arguments().iter().cloned());
                FunctionProcess::spawn(&closing, &config, &environment, &api)
            }
        }
        .unwrap();
        Self {
            api,
            collector,
            process,
            environment,
            replies: Vec::new(),
            request_ids: Vec::new(),
            marker_dir,
            command,
            config,
        }
    }

    /// The stderr lines of lambda-perf's warnings.
    pub fn warnings(&self) -> Vec<String> {
        self.stderr()
            .into_iter()
            .filter(|line| line.starts_with("lambda-perf: warning"))
            .collect()
    }

    /// Every stderr line.
    pub fn stderr(&self) -> Vec<String> {
        self.process
            .output()
            .into_iter()
            .filter(|line| line.stream == OutputStream::Stderr)
            .map(|line| line.text)
            .collect()
    }

    /// The reply to the `index`th invocation.
    pub fn reply(&self, index: usize) -> &InvokeReply {
        self.replies[index]
            .as_ref()
            .unwrap_or_else(|error| panic!("invocation {index} got no reply: {error}"))
    }

    /// The request id of the `index`th invocation.
    pub fn request_id(&self, index: usize) -> String {
        self.request_ids[index].clone()
    }

    /// The EMF lines of the `index`th invocation, once its end line arrived.
    pub async fn lines(&self, index: usize) -> Vec<Value> {
        let id = self.request_id(index);
        crate::support::end_line(&self.process, &id).await;
        crate::support::lines_of(&self.process, &id)
    }

    /// The end line of the `index`th invocation (its last line with an outcome).
    pub async fn end_line(&self, index: usize) -> Value {
        let lines = self.lines(index).await;
        lines
            .into_iter()
            .rfind(|line| line["lambda_perf"].get("outcome").is_some())
            .unwrap()
    }

    /// The `index`th invocation as the Runtime API logged it (whether it was answered or not).
    pub fn logged(&self, index: usize) -> LoggedInvocation {
        let id = self.request_id(index);
        self.api
            .invocations()
            .into_iter()
            .find(|logged| logged.request_id == id)
            .unwrap()
    }

    /// The deadline the `index`th invocation was sent, in epoch milliseconds.
    pub fn reply_deadline_ms(&self, index: usize) -> u64 {
        self.logged(index).deadline_ms
    }

    /// The trace id the `index`th invocation was sent.
    pub fn trace_id(&self, index: usize) -> Option<String> {
        let header = self.logged(index).trace_header?;
        TraceHeader::parse(&header).map(|header| header.root)
    }

    /// The EMF lines of the `index`th invocation so far.
    pub fn lines_of(&self, index: usize) -> Vec<Value> {
        crate::support::lines_of(&self.process, &self.request_id(index))
    }

    /// Waits for the line of the `index`th invocation with this `outcome`.
    pub async fn line_with_outcome(&self, index: usize, outcome: &str) -> Value {
        let id = self.request_id(index);
        let line = self
            .process
            .wait_for_line(
                |line| {
                    line.emf().is_some_and(|emf| {
                        emf["lambda_perf"]["request_id"] == id.as_str()
                            && emf["lambda_perf"]["outcome"] == outcome
                    })
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|error| panic!("no {outcome} line for {id}: {error}"));
        line.emf().unwrap().clone()
    }

    /// Waits for the handler subsegment of the `index`th invocation, and returns every
    /// document of its trace, in the order they arrived.
    pub async fn trace(&self, index: usize) -> Vec<Value> {
        let root = self.trace_id(index).unwrap();
        let wanted = root.clone();
        self.collector
            .wait_for(
                move |doc| doc["trace_id"] == wanted.as_str() && doc["name"] == HANDLER,
                WAIT,
            )
            .await
            .unwrap();
        self.documents_of(&root)
    }

    /// Every document received for trace `root`.
    pub fn documents_of(&self, root: &str) -> Vec<Value> {
        self.collector
            .documents()
            .into_iter()
            .filter(|doc| doc["trace_id"] == root)
            .collect()
    }

    /// The start kinds of the invocations, from their end lines.
    pub async fn start_kinds(&self) -> Vec<String> {
        let mut kinds = Vec::new();
        for index in 0..self.replies.len() {
            let line = self.end_line(index).await;
            kinds.push(
                line["lambda_perf"]["start_kind"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        kinds
    }
}

/// Prepares `TMPDIR` for `temp_dir`; returns the configuration, the directory the marker
/// belongs in, and whether the function must run as `nobody` to be refused writing there.
fn arrange_temp_dir(
    temp_dir: &TempDir,
    environment: &ExecutionEnvironment,
    config: FunctionConfig,
) -> (FunctionConfig, PathBuf, bool) {
    use std::os::unix::fs::PermissionsExt;

    let own = environment.tmpdir().to_owned();
    match temp_dir {
        TempDir::Own => (config, own, false),
        TempDir::ReadOnly => {
            std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o555)).unwrap();
            let probe = own.join("probe");
            let writable = std::fs::File::create(&probe).is_ok();
            let _ = std::fs::remove_file(&probe);
            (config, own, writable)
        }
        TempDir::Missing => {
            let missing = own.join("missing");
            (config.with_env("TMPDIR", &missing), missing, false)
        }
        TempDir::Symlinked => {
            let real = own.join("real");
            std::fs::create_dir(&real).unwrap();
            let link = own.join("link");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            (config.with_env("TMPDIR", &link), real, false)
        }
        TempDir::Marker(bytes) => {
            std::fs::write(own.join(MARKER_FILE), bytes).unwrap();
            (config, own, false)
        }
    }
}

/// Both runs of a row.
pub struct Ran {
    pub instrumented: Side,
    pub bare: Side,
}

impl Ran {
    /// The checks every row passes:
    ///
    /// - the runtime received exactly what it received from the bare function (the same
    ///   response bytes, the same error type and body, or the same harness failure);
    /// - the instrumented process is alive exactly when the bare one is;
    /// - lambda-perf's warnings on stderr are `warnings`, each once, and stderr holds no other
    ///   line than the bare function's (a panic message may repeat: see the response whose
    ///   `Serialize` panics);
    /// - every stdout line is a valid EMF line, every datagram is a header line and one valid
    ///   X-Ray document.
    pub async fn check(&self, warnings: &[&str]) {
        self.check_answers();
        self.check_survival().await;
        self.check_stderr(warnings);
        self.check_records();
    }

    fn check_answers(&self) {
        let answers =
            |side: &Side| -> Vec<Received> { side.replies.iter().map(Received::of).collect() };
        assert_eq!(
            answers(&self.instrumented),
            answers(&self.bare),
            "the runtime received something else from the instrumented function"
        );
    }

    async fn check_survival(&self) {
        // A process that is going down is given the time to finish.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            self.instrumented.process.has_exited(),
            self.bare.process.has_exited(),
            "instrumented {:?}, bare {:?}",
            self.instrumented.process.try_exit_status(),
            self.bare.process.try_exit_status()
        );
    }

    fn check_stderr(&self, expected: &[&str]) {
        let warnings = self.instrumented.warnings();
        for needle in expected {
            let matching = warnings.iter().filter(|w| w.contains(needle)).count();
            assert_eq!(matching, 1, "{needle:?} in {warnings:#?}");
        }
        assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
        let others = |side: &Side| -> BTreeSet<String> {
            side.stderr()
                .into_iter()
                .filter(|line| !line.starts_with("lambda-perf: warning"))
                .map(|line| without_thread_id(&line))
                .collect()
        };
        assert_eq!(others(&self.instrumented), others(&self.bare));
        assert!(self.bare.warnings().is_empty());
    }

    fn check_records(&self) {
        for line in self.instrumented.process.output() {
            if line.stream == OutputStream::Stdout {
                let emf = line
                    .emf()
                    .unwrap_or_else(|| panic!("a stdout line that is no EMF line: {line}"));
                assert_valid_emf(emf);
            }
        }
        for side in [&self.instrumented, &self.bare] {
            for datagram in side.collector.datagrams() {
                let text = String::from_utf8(datagram.raw.clone()).unwrap();
                assert_eq!(text.matches('\n').count(), 1, "{text}");
                assert!(
                    text.starts_with("{\"format\":\"json\",\"version\":1}\n"),
                    "{text}"
                );
                let document = datagram.document.as_ref().unwrap();
                assert_valid_xray(document);
            }
        }
        assert!(
            self.bare.collector.datagrams().is_empty() && self.bare.process.emf_lines().is_empty(),
            "the bare function records nothing"
        );
    }
}

/// A panic message's first line without the thread's id, which differs between processes:
/// `thread 'main' (4242) panicked at …` becomes `thread 'main' panicked at …`.
fn without_thread_id(line: &str) -> String {
    if let Some((before, after)) = line.split_once("' (")
        && let Some((id, rest)) = after.split_once(") panicked at ")
        && id.bytes().all(|b| b.is_ascii_digit())
    {
        return format!("{before}' panicked at {rest}");
    }
    line.to_owned()
}

/// Whether `dir` holds a marker naming this environment's log stream.
pub fn marker_names(dir: &Path, environment: &ExecutionEnvironment) -> bool {
    std::fs::read_to_string(dir.join(MARKER_FILE))
        .is_ok_and(|text| text.trim_end().ends_with(environment.id()))
}

/// What the runtime received for one invocation, comparable between the two runs.
mod bytes_compare {
    use super::{Answer, HarnessError, InvokeReply};

    #[derive(Debug, PartialEq)]
    pub enum Received {
        Response(Vec<u8>),
        Error {
            error_type: Option<String>,
            body: Vec<u8>,
        },
        InitError(Vec<u8>),
        /// The process exited before answering.
        ProcessExited,
        /// No answer before the harness gave up.
        TimedOut,
        Other(String),
    }

    impl Received {
        pub fn of(reply: &Result<InvokeReply, HarnessError>) -> Self {
            match reply {
                Ok(reply) => match &reply.answer {
                    Answer::Response { body } => Self::Response(body.to_vec()),
                    Answer::Error { error_type, error } => Self::Error {
                        error_type: error_type.clone(),
                        body: error.raw.to_vec(),
                    },
                    Answer::InitError { error, .. } => Self::InitError(error.raw.to_vec()),
                    other => Self::Other(format!("{other:?}")),
                },
                Err(HarnessError::ProcessExited { .. }) => Self::ProcessExited,
                Err(HarnessError::Timeout { .. }) => Self::TimedOut,
                Err(other) => Self::Other(other.to_string()),
            }
        }
    }
}
