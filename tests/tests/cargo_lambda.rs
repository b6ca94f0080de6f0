//! `examples/basic-layer` under `cargo lambda watch`, the local emulator Rust users already run.
//!
//! The test starts `cargo lambda watch` in the workspace (it builds the function with
//! `cargo run` into the workspace's target dir on the first invocation and serves a Runtime
//! API), sends three events with `cargo lambda invoke` (two orders, then an empty one), and
//! checks the responses and the EMF lines the function wrote on the stdout that the watch
//! process relays. The watch command's variables are the example README's, and what it
//! writes is what that README shows.
//!
//! What the emulator does unlike Lambda, and what the test expects of our layer for it:
//! - the deadline it sends is `600000`, not epoch milliseconds: no `deadline_headroom_ms` and
//!   no warning about the deadline;
//! - it sets no `AWS_LAMBDA_INITIALIZATION_TYPE` (on-demand: the first start is `cold`), no
//!   `AWS_XRAY_DAEMON_ADDRESS` and no `AWS_LAMBDA_LOG_STREAM_NAME`;
//! - the function's `/tmp` is the host's, which outlives runs: without a log stream name our
//!   environment marker cannot tell a marker left by an earlier run from its own, so a second
//!   `cargo lambda watch` session would report `restart`. The test gives the watch process a
//!   fresh `TMPDIR`, as Lambda gives a fresh environment.
//!
//! `cargo lambda` comes from the venv that `tests/tools/cargo-lambda.sh` creates on first use
//! at `${CARGO_TARGET_DIR:-target}/cargo-lambda-venv`; when it cannot be installed, the test
//! fails and says why.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use lambda_perf_local::emulator::{ExecutionEnvironment, OutputLine, OutputLog, OutputStream};
use serde_json::{Value, json};
use support::*;

/// How long `cargo lambda watch` may take to listen.
const READY: Duration = Duration::from_secs(60);
/// How long the first invocation may take: the watch process compiles the function first.
const FIRST_INVOKE: Duration = Duration::from_secs(240);
/// How long any later invocation may take.
const INVOKE: Duration = Duration::from_secs(60);
/// How long the watch process may take to stop after SIGTERM before it is killed.
const STOP: Duration = Duration::from_secs(10);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// `cargo`, with the venv's `bin/` first on `PATH` so that `cargo lambda` finds it.
fn cargo_lambda(bin: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.to_owned()];
    paths.extend(std::env::split_paths(&path));
    let mut command = Command::new(cargo);
    command
        .arg("lambda")
        .env("PATH", std::env::join_paths(paths).unwrap())
        .env("CARGO_TERM_COLOR", "never")
        .env("NO_COLOR", "1")
        .current_dir(workspace());
    command
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// Reads `reader` line by line into `log` on a thread of its own, until end of file.
fn attach(log: &OutputLog, stream: OutputStream, reader: impl Read + Send + 'static) {
    let log = log.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        while let Ok(read) = reader.read_until(b'\n', &mut buf) {
            if read == 0 {
                break;
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = String::from_utf8_lossy(line).into_owned();
            log.push(OutputLine::new(stream, text, Instant::now()));
            buf.clear();
        }
    });
}

/// A process and its start time (field 22 of `/proc/<pid>/stat`), which tells it apart from
/// a later process that reuses the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcessId {
    pid: u32,
    start_time: u64,
}

/// The parent and start time of a process, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: the command may hold spaces and parentheses.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Every living descendant of `root`: `cargo lambda watch` starts the function (`cargo run`,
/// then the binary) in a session of its own, out of reach of a signal to its process group.
fn descendants(root: u32) -> Vec<ProcessId> {
    let processes: Vec<(u32, u32, u64)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| stat(pid).map(|(ppid, start_time)| (pid, ppid, start_time)))
        .collect();
    let mut found = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for &(pid, ppid, start_time) in &processes {
            if ppid == parent {
                found.push(ProcessId { pid, start_time });
                parents.push(pid);
            }
        }
    }
    found
}

fn signal(signal: &str, pids: impl IntoIterator<Item = u32>) {
    let pids: Vec<String> = pids.into_iter().map(|pid| pid.to_string()).collect();
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .args(pids)
            .stderr(Stdio::null())
            .status();
    }
}

/// A running `cargo lambda watch`, its output, and the environment its function runs in.
/// Dropping it stops the watch process and everything it started.
struct Watch {
    child: Child,
    port: u16,
    output: OutputLog,
    /// The function's `TMPDIR`, removed after the processes are gone.
    _environment: ExecutionEnvironment,
}

impl Watch {
    /// Starts `cargo lambda watch` for `basic-layer` and waits until it listens. A port taken
    /// between [`free_port`] and the bind makes it exit: it is tried again on another port.
    fn start(bin: &Path) -> Self {
        let mut attempt = 1;
        loop {
            let mut watch = Self::spawn(bin);
            match watch.wait_until_listening() {
                Ok(()) => return watch,
                Err(_) if attempt < 3 => attempt += 1,
                Err(status) => panic!(
                    "`cargo lambda watch` exited ({status}) before listening:\n{}",
                    watch.log()
                ),
            }
        }
    }

    fn spawn(bin: &Path) -> Self {
        let environment = ExecutionEnvironment::new().unwrap();
        let port = free_port();
        let mut command = cargo_lambda(bin);
        command
            .args(["watch", "--package", "basic-layer", "--locked"])
            // Other edits to the workspace while the test runs must not rebuild and restart
            // the function between invocations.
            .arg("--ignore-changes")
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            // The function's variables as the example's README gives them, so that the
            // output it shows is the output of its command.
            .args(
                readme()
                    .watch_env_vars
                    .iter()
                    .flat_map(|var| ["--env-var", var]),
            )
            .env("TMPDIR", environment.tmpdir())
            // Only what the emulator itself sets, whatever the test runner's environment has.
            .env_remove("AWS_LAMBDA_INITIALIZATION_TYPE")
            .env_remove("AWS_XRAY_DAEMON_ADDRESS")
            .env_remove("AWS_LAMBDA_LOG_STREAM_NAME")
            .env_remove("_X_AMZN_TRACE_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("starting `cargo lambda watch`: {error}"));
        let output = OutputLog::new();
        attach(&output, OutputStream::Stdout, child.stdout.take().unwrap());
        attach(&output, OutputStream::Stderr, child.stderr.take().unwrap());
        Self {
            child,
            port,
            output,
            _environment: environment,
        }
    }

    /// Waits until the watch process accepts connections; its exit status if it exited first.
    fn wait_until_listening(&mut self) -> Result<(), ExitStatus> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + READY;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            if TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "`cargo lambda watch` did not listen on {address} within {READY:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `cargo lambda invoke basic-layer` with `event`, within `limit`.
    fn invoke(&mut self, bin: &Path, event: &Value, limit: Duration) -> Output {
        let mut child = cargo_lambda(bin)
            .args(["invoke", "basic-layer", "--invoke-address", "127.0.0.1"])
            .arg("--invoke-port")
            .arg(self.port.to_string())
            .arg("--data-ascii")
            .arg(event.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("starting `cargo lambda invoke`: {error}"));
        let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let read_all = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        };
        let (stdout, stderr) = (read_all(Box::new(stdout)), read_all(Box::new(stderr)));
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`cargo lambda invoke` with {event} did not finish within {limit:?}:\n{}",
                    self.log()
                );
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`cargo lambda watch` exited ({status}) during an invocation:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    }

    /// The end-of-invocation EMF lines (those with `lambda_perf.outcome`) so far.
    fn end_lines(&self) -> Vec<Value> {
        self.output
            .emf_lines()
            .into_iter()
            .filter(|line| line["lambda_perf"].get("outcome").is_some())
            .collect()
    }

    /// Waits until the function wrote `count` end-of-invocation lines, and returns them.
    fn wait_for_end_lines(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let lines = self.end_lines();
            if lines.len() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} EMF end lines within {WAIT:?}:\n{}",
                lines.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last lines of the watch process's output, for failure messages.
    fn log(&self) -> String {
        self.output.last_lines(60).join("\n")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let pid = self.child.id();
        let started = descendants(pid);
        // SIGTERM first: the watch process shuts down gracefully and stops its function.
        signal("TERM", [pid]);
        let deadline = Instant::now() + STOP;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever it started and left behind (a `cargo run` still compiling, the function):
        // only the very processes seen before, not later ones that reuse an id.
        let left = started
            .iter()
            .filter(|process| stat(process.pid).map(|(_, start)| start) == Some(process.start_time))
            .map(|process| process.pid);
        signal("KILL", left);
    }
}

/// What `examples/basic-layer/README.md` says of `cargo lambda watch`: the `--env-var`s of
/// its command and the lines it shows the function writing, a log line and an EMF line.
struct Readme {
    watch_env_vars: Vec<String>,
    log_line: Value,
    emf_line: Value,
}

fn readme() -> Readme {
    let text = std::fs::read_to_string(workspace().join("examples/basic-layer/README.md")).unwrap();
    let start = text
        .find("\ncargo lambda watch")
        .expect("the README's `cargo lambda watch` command");
    let mut command = String::new();
    for line in text[start + 1..].lines() {
        match line.strip_suffix('\\') {
            Some(continued) => command.push_str(continued),
            None => {
                command.push_str(line);
                break;
            }
        }
    }
    let words: Vec<&str> = command.split_whitespace().collect();
    let watch_env_vars = words
        .windows(2)
        .filter(|pair| pair[0] == "--env-var")
        .map(|pair| pair[1].to_owned())
        .collect();
    let shown = text
        .split("```json\n")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("the README's output block");
    let lines: Vec<Value> = shown
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let [log_line, emf_line] = <[Value; 2]>::try_from(lines).expect("a log line and an EMF line");
    Readme {
        watch_env_vars,
        log_line,
        emf_line,
    }
}

fn keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn order(id: &str, quantity: u32) -> Value {
    json!({ "order_id": id, "quantity": quantity })
}

#[test]
fn basic_layer_under_cargo_lambda_watch() {
    let bin = tools::install("cargo-lambda");
    let mut watch = Watch::start(&bin);

    // Two orders, then an empty one. The first invocation waits for the build.
    for (index, (id, quantity)) in [("o-3", 3), ("o-5", 5)].into_iter().enumerate() {
        let limit = if index == 0 { FIRST_INVOKE } else { INVOKE };
        let output = watch.invoke(&bin, &order(id, quantity), limit);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "invoke {id}: {}\nstdout: {stdout}\nstderr: {}\nwatch:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            watch.log()
        );
        assert_eq!(
            stdout.trim_end_matches('\n'),
            format!(r#"{{"order_id":"{id}","quantity":{quantity},"status":"accepted"}}"#),
            "the response is exactly what the handler returned"
        );
        watch.wait_for_end_lines(index + 1);
    }
    let output = watch.invoke(&bin, &order("o-0", 0), INVOKE);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the empty order failed: {stderr}");
    assert!(
        stderr.contains("order o-0 has no items"),
        "the error reaches the caller: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "no response for a failed invocation: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let ends = watch.wait_for_end_lines(3);

    let log = watch.log();
    let all = watch.output.emf_lines();
    all.iter().for_each(assert_valid_emf);
    for line in watch.output.lines() {
        if line.text.contains("_aws") {
            assert!(line.is_emf(), "a broken EMF line: {line}");
        }
        assert!(
            !(line.text.contains("lambda-perf: warning") && line.text.contains("deadline")),
            "a warning about the emulator's deadline: {line}"
        );
    }

    // One end line per invocation, in order: cold, warm, warm; the third failed.
    assert_eq!(ends.len(), 3, "{log}");
    let facts: Vec<&Value> = ends.iter().map(|line| &line["lambda_perf"]).collect();
    let kinds: Vec<&str> = facts
        .iter()
        .map(|f| f["start_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["cold", "warm", "warm"], "{log}");
    let outcomes: Vec<&str> = facts
        .iter()
        .map(|f| f["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["success", "success", "error"], "{log}");
    let invocations: Vec<&Value> = facts.iter().map(|f| &f["invocation"]).collect();
    assert_eq!(invocations, [&json!(1), &json!(2), &json!(3)], "{log}");
    let request_ids: Vec<&str> = facts
        .iter()
        .map(|f| f["request_id"].as_str().unwrap())
        .collect();
    assert!(request_ids.iter().all(|id| !id.is_empty()), "{log}");
    assert!(
        request_ids[0] != request_ids[1]
            && request_ids[1] != request_ids[2]
            && request_ids[0] != request_ids[2],
        "distinct request ids: {request_ids:?}"
    );
    // The emulator's deadline (`600000`) is no deadline: no headroom is reported.
    for line in &all {
        assert!(
            line["lambda_perf"].get("deadline_headroom_ms").is_none(),
            "headroom from the emulator's deadline: {line}"
        );
    }
    // The handler's metrics, under the configured namespace and service.
    for line in &ends {
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Shop");
        assert_eq!(line["service"], "orders");
    }
    assert_eq!(ends[0]["OrdersPlaced"], json!([1.0]));
    assert_eq!(ends[0]["ItemsOrdered"], json!([3.0]));
    assert_eq!(ends[1]["OrdersPlaced"], json!([1.0]));
    assert_eq!(ends[1]["ItemsOrdered"], json!([5.0]));
    assert_eq!(ends[2]["RejectedOrders"], json!([1.0]));
    assert!(ends[2].get("OrdersPlaced").is_none(), "{}", ends[2]);

    // Exactly one ColdStart line, for the first invocation, before its end line.
    let cold: Vec<(usize, &Value)> = all
        .iter()
        .enumerate()
        .filter(|(_, line)| is_cold_start_line(line))
        .collect();
    assert_eq!(cold.len(), 1, "{log}");
    let (cold_index, cold) = cold[0];
    assert_eq!(cold["lambda_perf"]["request_id"], request_ids[0]);
    assert_eq!(cold["lambda_perf"]["start_kind"], "cold");
    assert_eq!(cold["ColdStart"], json!([1.0]));
    // `cargo lambda watch` names the function after its binary.
    assert_eq!(cold["function_name"], "basic-layer");
    assert_eq!(cold["service"], "orders");
    let first_end = all.iter().position(|line| line == &ends[0]).unwrap();
    assert!(cold_index < first_end, "ColdStart comes first: {log}");

    // The README's command writes the lines the README shows (a warm order's): the same
    // keys, service and namespace, facts and metrics.
    let shown = readme();
    let warm = &ends[1];
    assert_eq!(warm["service"], shown.emf_line["service"], "{warm}");
    assert_eq!(
        warm["_aws"]["CloudWatchMetrics"], shown.emf_line["_aws"]["CloudWatchMetrics"],
        "{warm}"
    );
    assert_eq!(keys(warm), keys(&shown.emf_line), "{warm}");
    assert_eq!(
        keys(&warm["lambda_perf"]),
        keys(&shown.emf_line["lambda_perf"]),
        "{warm}"
    );
    let placed: Vec<Value> = watch
        .output
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line.text.trim()).ok())
        .filter(|line| line["message"] == "order placed")
        .collect();
    assert_eq!(placed.len(), 2, "{log}");
    let placed = &placed[1];
    assert_eq!(keys(placed), keys(&shown.log_line), "{placed}");
    for key in [
        "service",
        "function_name",
        "function_memory_size",
        "function_arn",
        "start_kind",
        "cold_start",
        "target",
    ] {
        assert_eq!(placed[key], shown.log_line[key], "{key}: {placed}");
    }
}
