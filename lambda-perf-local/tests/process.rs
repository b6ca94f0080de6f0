//! Spawns real child processes (`sh`) under the harness.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use serde_json::json;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, HarnessError,
    InvokeRequest, LineKind, OutputStream, RuntimeApi, Stage,
};

const WAIT: Duration = Duration::from_secs(2);

fn sh(script: &str) -> FunctionCommand {
    FunctionCommand::new("sh").arg("-c").arg(script)
}

struct Harness {
    api: RuntimeApi,
    environment: ExecutionEnvironment,
}

impl Harness {
    async fn new() -> Self {
        Self {
            api: RuntimeApi::start().await.expect("server starts"),
            environment: ExecutionEnvironment::new().expect("temp dir"),
        }
    }

    fn spawn(&self, script: &str, config: &FunctionConfig) -> FunctionProcess {
        FunctionProcess::spawn(&sh(script), config, &self.environment, &self.api)
            .expect("sh spawns")
    }
}

#[tokio::test]
async fn output_is_classified_and_kill_sends_sigkill() {
    let harness = Harness::new().await;
    let process = harness.spawn(
        r#"echo '{"_aws":{"Timestamp":1},"Latency":5}'; echo hello; echo err >&2; echo '{"not":"emf"}'; exec sleep 30"#,
        &FunctionConfig::new(),
    );
    assert!(process.pid().is_some());
    let emf = process
        .wait_for_emf_lines(1, WAIT)
        .await
        .expect("EMF line seen");
    assert_eq!(emf.len(), 1);
    assert_eq!(emf[0]["Latency"], 5);
    let err = process
        .wait_for_line(|line| line.stream == OutputStream::Stderr, WAIT)
        .await
        .expect("stderr line seen");
    assert_eq!(err.text, "err");
    process
        .wait_for_line(|line| line.text.contains("not"), WAIT)
        .await
        .expect("last stdout line seen");

    let output = process.output();
    let stdout: Vec<_> = output
        .iter()
        .filter(|l| l.stream == OutputStream::Stdout)
        .collect();
    assert_eq!(stdout.len(), 3);
    assert!(matches!(stdout[0].kind, LineKind::Emf(_)));
    assert_eq!(
        (stdout[1].text.as_str(), &stdout[1].kind),
        ("hello", &LineKind::Log)
    );
    assert_eq!(stdout[2].kind, LineKind::Log);
    assert_eq!(process.emf_lines().len(), 1);
    assert!(process.last_lines(10).contains(&"stderr: err".to_owned()));

    assert!(!process.has_exited());
    assert_eq!(process.try_exit_status(), None);
    let status = process.kill().await.expect("killed");
    assert_eq!(status.signal(), Some(9));
    assert!(process.has_exited());
    assert_eq!(process.try_exit_status(), Some(status));
    // Killing again is harmless and reports the same status.
    assert_eq!(process.kill().await.expect("already dead"), status);
}

#[tokio::test]
async fn child_sees_a_cleared_lambda_environment() {
    let harness = Harness::new().await;
    let config = FunctionConfig::new()
        .with_function_name("env-probe")
        .with_memory_mb(512)
        .with_initialization_type("on-demand")
        .with_xray_daemon_address("127.0.0.1:2000")
        .with_env("EXTRA_VAR", "extra");
    let process = harness.spawn(r#"echo "$TMPDIR $AWS_LAMBDA_FUNCTION_NAME"; env"#, &config);
    let status = process.wait_for_exit(WAIT).await.expect("sh exits");
    assert!(status.success());
    // Output readers may lag the exit slightly.
    process
        .wait_for_line(|line| line.text.starts_with("EXTRA_VAR="), WAIT)
        .await
        .expect("env printed");

    let lines: Vec<String> = process.output().into_iter().map(|l| l.text).collect();
    let tmpdir = harness.environment.tmpdir().display().to_string();
    assert_eq!(lines[0], format!("{tmpdir} env-probe"));
    let has = |entry: &str| lines.iter().any(|l| l == entry);
    assert!(has(&format!(
        "AWS_LAMBDA_RUNTIME_API={}",
        harness.api.addr()
    )));
    assert!(has("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512"));
    assert!(has("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"));
    assert!(has("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/env-probe"));
    assert!(has("AWS_REGION=us-east-1"));
    assert!(has("AWS_DEFAULT_REGION=us-east-1"));
    assert!(has("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"));
    assert!(has("AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000"));
    // What Lambda sets beside it (wire-formats §2.2, §6.1).
    assert!(has("_AWS_XRAY_DAEMON_ADDRESS=127.0.0.1"));
    assert!(has("_AWS_XRAY_DAEMON_PORT=2000"));
    assert!(has("AWS_XRAY_CONTEXT_MISSING=LOG_ERROR"));
    assert!(lines.iter().any(|l| l.starts_with("LAMBDA_RUNTIME_DIR=/")));
    assert!(has("_HANDLER=sh"));
    assert!(has("TZ=UTC"));
    assert!(has("EXTRA_VAR=extra"));
    assert!(lines.iter().any(|l| l.starts_with("LAMBDA_TASK_ROOT=/")));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("AWS_LAMBDA_LOG_STREAM_NAME=")
                && l.ends_with(harness.environment.id()))
    );
    assert!(lines.iter().any(|l| l.starts_with("PATH=")));
    // Nothing else leaks from the harness's environment.
    assert!(!lines.iter().any(|l| l.starts_with("HOME=")
        || l.starts_with("CARGO_")
        || l.starts_with("AWS_LAMBDA_MAX_CONCURRENCY=")));
}

#[tokio::test]
async fn restart_in_the_same_environment_keeps_tmpdir() {
    let harness = Harness::new().await;
    let config = FunctionConfig::new();
    let first = harness.spawn(
        r#"echo state > "$TMPDIR/marker"; echo written; exec sleep 30"#,
        &config,
    );
    first
        .wait_for_line(|line| line.text == "written", WAIT)
        .await
        .expect("first process wrote its marker");
    first.kill().await.expect("killed");

    let second = harness.spawn(r#"cat "$TMPDIR/marker""#, &config);
    second
        .wait_for_line(|line| line.text == "state", WAIT)
        .await
        .expect("restart sees the same TMPDIR");

    let fresh = ExecutionEnvironment::new().expect("temp dir");
    let third = FunctionProcess::spawn(
        &sh(r#"test -e "$TMPDIR/marker" && echo present || echo absent"#),
        &config,
        &fresh,
        &harness.api,
    )
    .expect("spawns");
    third
        .wait_for_line(|line| line.text == "absent", WAIT)
        .await
        .expect("a fresh environment starts empty");
}

#[tokio::test]
async fn the_first_poll_is_the_one_of_the_process_attached_last() {
    // Each process's runtime ends its init at its own first `GET /next`: a process started
    // after another is not past its init because the other asked.
    let harness = Harness::new().await;
    let poll = r#"curl -sS "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next""#;
    let first = harness.spawn(poll, &FunctionConfig::new());
    let asked = harness
        .api
        .wait_for_first_poll(WAIT)
        .await
        .expect("it asks");
    assert!(asked >= first.spawned_at());
    first.kill().await.expect("killed");
    harness.api.retire_connections();
    let second = harness.spawn("exec sleep 30", &FunctionConfig::new());
    assert_eq!(harness.api.first_poll_at(), None);
    second.kill().await.expect("killed");
    let third = harness.spawn(poll, &FunctionConfig::new());
    let asked = harness
        .api
        .wait_for_first_poll(WAIT)
        .await
        .expect("it asks");
    assert!(asked >= third.spawned_at());
    third.kill().await.expect("killed");
}

#[tokio::test]
async fn invoke_through_the_process_reports_its_exit() {
    let harness = Harness::new().await;
    let process = harness.spawn("echo dying >&2; exit 3", &FunctionConfig::new());
    let started = std::time::Instant::now();
    let result = process.invoke(&harness.api, InvokeRequest::default()).await;
    assert!(
        started.elapsed() < WAIT,
        "did not wait for the 30 s deadline"
    );
    match result {
        Err(HarnessError::ProcessExited { status, last_lines }) => {
            assert_eq!(status.and_then(|s| s.code()), Some(3));
            assert_eq!(last_lines, ["stderr: dying"]);
        }
        other => panic!("expected ProcessExited, got {other:?}"),
    }
    // The invocation was withdrawn, not left queued for a later process.
    assert_eq!(harness.api.pending_invocations(), 0);
    assert_eq!(harness.api.invocations()[0].stage, Stage::Abandoned);
}

#[tokio::test]
async fn invoke_timeout_carries_the_output() {
    let harness = Harness::new().await;
    let process = harness.spawn("echo 'never polls'; exec sleep 30", &FunctionConfig::new());
    process
        .wait_for_line(|line| line.text == "never polls", WAIT)
        .await
        .expect("started");
    let result = process
        .invoke(
            &harness.api,
            InvokeRequest::default().with_timeout(Duration::from_millis(100)),
        )
        .await;
    match result {
        Err(err @ HarnessError::Timeout { .. }) => {
            assert_eq!(err.last_lines(), ["stdout: never polls"]);
            assert!(err.to_string().contains("never polls"));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn waiting_for_emf_fails_on_exit_or_timeout() {
    let harness = Harness::new().await;
    let exits = harness.spawn("echo 'no metrics here'", &FunctionConfig::new());
    match exits.wait_for_emf_lines(1, WAIT).await {
        Err(HarnessError::ProcessExited { status, last_lines }) => {
            assert!(status.is_some_and(|s| s.success()));
            assert_eq!(last_lines, ["stdout: no metrics here"]);
        }
        other => panic!("expected ProcessExited, got {other:?}"),
    }

    let idle = harness.spawn(
        r#"echo '{"_aws":{}}'; exec sleep 30"#,
        &FunctionConfig::new(),
    );
    let started = std::time::Instant::now();
    match idle.wait_for_emf_lines(2, Duration::from_millis(200)).await {
        Err(err @ HarnessError::Timeout { .. }) => {
            assert!(err.to_string().contains("2 EMF line(s)"), "{err}");
            assert!(started.elapsed() >= Duration::from_millis(200));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(idle.emf_lines().len(), 1);
}

#[tokio::test]
async fn dropping_the_process_kills_it() {
    let harness = Harness::new().await;
    let process = harness.spawn("echo up; exec sleep 30", &FunctionConfig::new());
    process
        .wait_for_line(|line| line.text == "up", WAIT)
        .await
        .expect("started");
    let log = process.output_log().clone();
    drop(process);
    // The pipes close once the child is killed.
    let deadline = std::time::Instant::now() + WAIT;
    while !log.is_closed() {
        assert!(std::time::Instant::now() < deadline, "child still alive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(log.last_lines(5), ["stdout: up"]);
}

/// As on Lambda, where nothing a function started outlives its environment: a process it
/// started in a session of its own (`setsid`, out of its process group) goes with it, killed
/// or dropped.
#[tokio::test]
async fn a_process_in_a_session_of_its_own_goes_with_the_function() {
    let harness = Harness::new().await;
    for (n, drop_it) in [(1, false), (2, true)] {
        let sleep = support::unique_sleep(n);
        let process = harness.spawn(
            &format!(
                "setsid {} {} </dev/null >/dev/null 2>&1 & echo up; exec sleep 30",
                sleep[0], sleep[1]
            ),
            &FunctionConfig::new(),
        );
        process
            .wait_for_line(|line| line.text == "up", WAIT)
            .await
            .expect("started");
        let sleep = [sleep[0].as_str(), sleep[1].as_str()];
        let deadline = std::time::Instant::now() + WAIT;
        while support::running(&sleep).is_empty() {
            assert!(std::time::Instant::now() < deadline, "never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if drop_it {
            drop(process);
        } else {
            process.kill().await.expect("killed");
        }
        let left = support::left_running(&sleep);
        assert!(
            left.is_empty(),
            "left running (dropped: {drop_it}): {left:?}"
        );
    }
}

/// Lambda's `Max Memory Used` is the whole environment's: without a size (no cgroup to count
/// it), a function started by a wrapper (`sh -c "…; true"`, `cargo run`) is counted with it,
/// not left out for the wrapper's own few megabytes.
#[tokio::test]
async fn a_wrapped_function_s_memory_counts_in_the_peak() {
    let harness = Harness::new().await;
    let process = harness.spawn(
        &format!("{}; true", support::workload_function()),
        &FunctionConfig::new(),
    );
    process
        .invoke(
            &harness.api,
            InvokeRequest::json(json!({"allocate_mb": 64})),
        )
        .await
        .expect("answered");
    let peak = process.peak_memory_bytes().expect("a peak");
    assert!(peak >= 64 << 20, "peak {} MB", peak >> 20);
    process.kill().await.expect("killed");
    // The largest figure read stays once the processes are gone.
    assert!(process.peak_memory_bytes() >= Some(peak));
}

#[tokio::test]
async fn spawn_failure_is_an_io_error() {
    let harness = Harness::new().await;
    let missing = FunctionCommand::new("/nonexistent/lambda-perf-bootstrap");
    let result = FunctionProcess::spawn(
        &missing,
        &FunctionConfig::new(),
        &harness.environment,
        &harness.api,
    );
    assert!(result.is_err());
}
