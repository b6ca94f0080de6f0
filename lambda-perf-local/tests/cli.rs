//! The `lambda-perf` binary: the demo, a run of an example, and how it fails.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn lambda_perf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-perf"))
        .args(args)
        .output()
        .expect("lambda-perf runs")
}

/// `lambda-perf run --json --no-progress OPTIONS --event <event> -- lambda-perf demo-function`.
fn run_demo_function(event: &str, options: &[&str]) -> Output {
    run_with_event(
        event,
        options,
        &[env!("CARGO_BIN_EXE_lambda-perf"), "demo-function"],
    )
}

/// [`run_demo_function`] through `sh -c SCRIPT`, a script that ends by running the demo
/// function: `LAMBDA_PERF` in it is the binary's path.
fn run_demo_function_in_shell(event: &str, options: &[&str], script: &str) -> Output {
    let script = script.replace("LAMBDA_PERF", env!("CARGO_BIN_EXE_lambda-perf"));
    run_with_event(event, options, &["sh", "-c", &script])
}

/// `lambda-perf run --json --no-progress OPTIONS --event <event> -- COMMAND`.
fn run_with_event(event: &str, options: &[&str], command: &[&str]) -> Output {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event).unwrap();
    let mut args = vec!["run", "--json", "--no-progress"];
    args.extend_from_slice(options);
    args.extend(["--event", file.path().to_str().unwrap(), "--"]);
    args.extend_from_slice(command);
    lambda_perf(&args)
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not the JSON report ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn column<'a>(report: &'a Value, field: &str) -> Vec<&'a Value> {
    report["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|invocation| &invocation[field])
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_demo_runs_its_scenario() {
    let output = lambda_perf(&["demo", "--json", "--no-progress"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let kinds: Vec<&str> = column(&report, "start_kind")
        .iter()
        .map(|kind| kind.as_str().unwrap())
        .collect();
    assert_eq!(kinds[..4], ["cold", "warm", "warm", "restart"]);
    assert_eq!(kinds[6], "cold", "a fresh environment is cold");
    let statuses: Vec<&str> = column(&report, "status")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "ok", "error", "ok", "ok", "ok", "ok"]);
    assert_eq!(report["summary"]["cold_starts"], 3);
    assert!(report["fatal"].is_null());
    assert_eq!(
        report["problems"].as_array().unwrap().len(),
        0,
        "{:#}",
        report["problems"]
    );

    // The cold invocation's subsegment tree: the handler, the lazy client, the calls.
    let first = &report["invocations"][0];
    let text = first.to_string();
    for name in [
        "## lambda-perf-demo",
        "## init catalog",
        "catalog.price",
        "payments.charge",
    ] {
        assert!(text.contains(name), "{name} missing from {first:#}");
    }
    let orders = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|metric| metric["name"] == "Orders")
        .unwrap();
    assert_eq!(orders["values"].as_array().unwrap().len(), 7);

    // The concurrent step really ran #4 and #5 at once in one process (run_concurrent).
    let with: Vec<&Value> = column(&report, "concurrent_with");
    assert_eq!(
        with,
        [
            &json!([]),
            &json!([]),
            &json!([]),
            &json!([]),
            &json!([5]),
            &json!([4]),
            &json!([])
        ],
        "{report:#}"
    );
    // The harness's own restarts and fresh environments are labelled as such.
    let stops: Vec<&Value> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|process| &process["stopped_by_harness"])
        .collect();
    assert_eq!(stops, ["restart", "fresh-environment", "end-of-run"]);
}

#[test]
fn the_terminal_report_draws_waterfalls_and_a_summary() {
    let output = lambda_perf(&["demo", "--no-progress"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("├─ ## init catalog"), "{text}");
    assert!(text.contains('█'));
    assert!(text.contains("cold starts 3"), "{text}");
    assert!(
        text.contains("Concurrent invocations\n  #4, #5 in flight at once, in process 1"),
        "{text}"
    );
    assert!(
        text.contains("↻ the harness restarted the function: process 1, same environment 0"),
        "{text}"
    );
    assert!(
        text.contains("✱ the harness started a fresh environment 1: process 2"),
        "{text}"
    );
    assert!(
        !text.contains("SIGKILL"),
        "harness stops are no crashes: {text}"
    );
}

#[test]
fn a_program_that_cannot_start_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("bootstrap");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let script = dir.path().join("handler.py");
    std::fs::write(&script, "#!/usr/bin/env no-such-python-lp\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A script whose interpreter is a file that cannot be run.
    let through = dir.path().join("through.sh");
    std::fs::write(&through, format!("#!{}\n", not_executable.display())).unwrap();
    std::fs::set_permissions(&through, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Executable, but no program: the kernel refuses it ("Exec format error").
    let text = dir.path().join("notes");
    std::fs::write(&text, "echo hello\n").unwrap();
    std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (program, reason) in [
        ("target/debug/no-such-function", "no such file"),
        (not_executable.to_str().unwrap(), "not executable"),
        (script.to_str().unwrap(), "interpreter no-such-python-lp"),
        (through.to_str().unwrap(), "is not an executable file"),
        (
            text.to_str().unwrap(),
            "neither a binary for this machine nor a script",
        ),
    ] {
        let output = lambda_perf(&["run", "--no-progress", "--", program]);
        assert_eq!(output.status.code(), Some(2), "{program}");
        assert!(
            output.stdout.is_empty(),
            "no report for {program}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let stderr = stderr(&output);
        assert_eq!(
            stderr.lines().count(),
            1,
            "one line for {program}: {stderr}"
        );
        assert!(
            stderr.starts_with(&format!("lambda-perf: error: cannot run {program}: "))
                && stderr.contains(reason),
            "{program}: {stderr}"
        );
    }
}

/// As on Lambda, the function runs in its task root (`LAMBDA_TASK_ROOT`, the directory of its
/// program): it reads the files packaged beside it by relative paths, whatever the caller's
/// directory, and a program named relative to the caller's directory still starts.
#[test]
fn the_function_runs_in_its_task_root() {
    let caller = tempfile::tempdir().unwrap();
    let task = caller.path().join("fn");
    std::fs::create_dir(&task).unwrap();
    std::fs::write(task.join("config.txt"), "packaged").unwrap();
    let bootstrap = task.join("bootstrap");
    std::fs::write(
        &bootstrap,
        format!(
            "#!/bin/sh\necho \"cwd=$(pwd) root=$LAMBDA_TASK_ROOT config=$(cat config.txt)\" >&2\n\
             exec {} demo-function\n",
            env!("CARGO_BIN_EXE_lambda-perf")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(caller.path().join("order.json"), r#"{"action":"order"}"#).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lambda-perf"))
        .current_dir(caller.path())
        .args(["run", "--json", "--no-progress", "-n", "1"])
        .args(["--event", "order.json", "--", "./fn/bootstrap"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let task = task.canonicalize().unwrap();
    let expected = format!(
        "cwd={} root={} config=packaged",
        task.display(),
        task.display()
    );
    let last = report["processes"][0]["last_stderr"].as_array().unwrap();
    assert!(last.iter().any(|line| line == &expected[..]), "{last:?}");
}

#[test]
fn the_report_shows_the_last_stderr_lines_of_each_process() {
    // Without a namespace, the function warns on stderr when its layer is built.
    let output = run_demo_function(r#"{"action":"order"}"#, &["-n", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let last = report["processes"][0]["last_stderr"].as_array().unwrap();
    assert!(
        last.iter().any(|line| line
            .as_str()
            .unwrap()
            .contains("POWERTOOLS_METRICS_NAMESPACE")),
        "{report:#}"
    );

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"action":"order"}"#).unwrap();
    let program = env!("CARGO_BIN_EXE_lambda-perf");
    let event = file.path().to_str().unwrap();
    let args = [
        "run",
        "--no-progress",
        "-n",
        "1",
        "--event",
        event,
        "--",
        program,
    ];
    let output = lambda_perf(&[&args[..], &["demo-function"]].concat());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("    stderr:\n      lambda-perf: warning: "),
        "{text}"
    );
    assert!(
        text.contains("POWERTOOLS_METRICS_NAMESPACE is not set"),
        "{text}"
    );
}

#[test]
fn concurrency_sets_max_concurrency_even_when_fewer_invocations_are_made() {
    // `-c 4` tells the function it may get four invocations at once, whatever `-n` is: the
    // runtime sizes its workers by it.
    for (options, expected) in [
        (&["-n", "1", "-c", "4"][..], "max=4"),
        (&["-n", "2", "-c", "4"][..], "max=4"),
        (&["-n", "1"][..], "max="),
    ] {
        let output = run_demo_function_in_shell(
            r#"{"action":"order"}"#,
            options,
            r#"echo "max=$AWS_LAMBDA_MAX_CONCURRENCY" >&2; exec LAMBDA_PERF demo-function"#,
        );
        assert!(output.status.success(), "{options:?}: {}", stderr(&output));
        let report = json(&output);
        let last = report["processes"][0]["last_stderr"].as_array().unwrap();
        assert!(
            last.iter().any(|line| line == expected),
            "{options:?}: {expected} not in {last:?}"
        );
    }
}

#[test]
fn a_function_that_tells_nothing_has_its_cold_starts_counted_as_lambda_counts_them() {
    // With its metrics and traces off, the function says nothing of how it started: the
    // report counts what Lambda counts (the first invocation of each process, with an
    // `Init Duration`), as `lambda-perf logs` does on the run's own log, not zero.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let output = run_demo_function(
        r#"{"action":"order"}"#,
        &[
            "-n",
            "3",
            "--restart-after",
            "2",
            "--env",
            "POWERTOOLS_METRICS_DISABLED=true",
            "--env",
            "POWERTOOLS_TRACE_DISABLED=true",
            "--log-out",
            log.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "start_kind"), [&Value::Null; 3]);
    assert_eq!(column(&report, "cold_start"), [true, false, true]);
    let summary = &report["summary"];
    assert_eq!(summary["cold_starts"], 2, "{summary:#}");
    assert_eq!(summary["cold_vs_warm"]["cold"]["count"], 2, "{summary:#}");
    assert_eq!(summary["cold_vs_warm"]["warm"]["count"], 1, "{summary:#}");

    let logs = lambda_perf(&["logs", "--json", log.to_str().unwrap()]);
    assert!(logs.status.success(), "{}", stderr(&logs));
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("\"cold_starts\": 2"), "{text}");
}

#[test]
fn an_example_runs_with_restarts_and_an_event_file() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = escargot::CargoBuild::new()
        .manifest_path(workspace.join("Cargo.toml"))
        .package("basic-layer")
        .bin("basic-layer")
        .current_release()
        .run()
        .unwrap();
    let event = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(event.path(), r#"{"order_id":"o-2","quantity":2}"#).unwrap();
    let output = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "4",
        "--restart-after",
        "2",
        "--event",
        event.path().to_str().unwrap(),
        "--env",
        "POWERTOOLS_METRICS_NAMESPACE=Shop",
        "--",
        example.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let kinds: Vec<&Value> = column(&report, "start_kind");
    assert_eq!(kinds, ["cold", "warm", "restart", "warm"]);
    let placed = report["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|metric| metric["name"] == "ItemsOrdered")
        .unwrap();
    assert_eq!(placed["values"], serde_json::json!([2.0, 2.0, 2.0, 2.0]));
}

#[test]
fn a_function_that_exits_during_init_is_reported_with_its_output() {
    let output = lambda_perf(&[
        "run",
        "--no-progress",
        "--",
        "sh",
        "-c",
        "echo connecting; exit 3",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr(&output);
    assert!(stderr.contains("exited during init"), "{stderr}");
    assert!(stderr.contains("connecting"), "{stderr}");
}

#[test]
fn a_function_that_never_asks_for_work_is_reported() {
    let output = lambda_perf(&[
        "run",
        "--no-progress",
        "--init-timeout",
        "1",
        "--",
        "sh",
        "-c",
        "echo not a lambda function; sleep 30",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr(&output);
    assert!(stderr.contains("never asked for an invocation"), "{stderr}");
    assert!(stderr.contains("not a lambda function"), "{stderr}");
}

#[test]
fn a_function_that_logs_without_end_cannot_take_the_harness_s_memory() {
    // `yes` never asks for work and prints lines as fast as it can: about a million a second
    // here, each of which the harness kept, until the init timeout (several GB at the 10 s
    // default). Past 256 MB of plain output they are counted, not kept. Under a 1.5 GB
    // address-space limit, so that the test cannot take the machine's memory.
    let output = Command::new("sh")
        .arg("-c")
        .arg(
            "ulimit -v 1500000; exec \"$0\" run --json --no-progress --init-timeout 4 -n 1 \
             -- sh -c yes",
        )
        .arg(env!("CARGO_BIN_EXE_lambda-perf"))
        .output()
        .expect("lambda-perf runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("never asked for an invocation"), "{error}");
    assert!(error.contains("stdout: y"), "{error}");
    let report = json(&output);
    let process = &report["processes"][0];
    assert!(
        process["dropped_output_lines"].as_u64().unwrap() > 0,
        "{process:#}"
    );
}

#[test]
fn a_function_that_prints_emf_lines_without_end_cannot_take_the_harness_s_memory() {
    // The same with an EMF line: each was kept, parsed, at about 3 KB of the harness's memory
    // (3 GB in 2 s here). Past their own budget they are counted, not kept.
    let output = Command::new("sh")
        .arg("-c")
        .arg(
            "ulimit -v 1500000; exec \"$0\" run --json --no-progress --init-timeout 4 -n 1 \
             -- sh -c 'exec yes \"{\\\"_aws\\\":{\\\"Timestamp\\\":1,\\\"CloudWatchMetrics\\\":[]},\\\"x\\\":1}\"'",
        )
        .arg(env!("CARGO_BIN_EXE_lambda-perf"))
        .output()
        .expect("lambda-perf runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("never asked for an invocation"), "{error}");
    let report = json(&output);
    let process = &report["processes"][0];
    assert!(
        process["emf_lines"].as_u64().unwrap() > 0
            && process["dropped_output_lines"].as_u64().unwrap() > 0,
        "{process:#}"
    );
}

#[test]
fn stopping_lambda_perf_stops_the_function_too() {
    // The function runs in a process group of its own (a terminal's Ctrl-C does not reach
    // it): when lambda-perf is told to stop, it must stop the function, not leave it running
    // without its harness.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 300", pid_file.display());
    let harness = Command::new(env!("CARGO_BIN_EXE_lambda-perf"))
        .args([
            "run",
            "--no-progress",
            "--init-timeout",
            "60",
            "--",
            "sh",
            "-c",
        ])
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the function never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status = Command::new("kill")
        .args(["-TERM", &harness.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = harness.wait_with_output().unwrap();
    // Gone, or dead and waiting to be reaped: not running.
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    };
    let stopped = std::time::Instant::now();
    while running() && stopped.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let still = running();
    if still {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    assert!(!still, "the function (pid {pid}) outlived lambda-perf");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_function_that_exits_between_invocations_is_not_said_to_crash_in_one() {
    // The function answers its first invocation, then exits (killed by `timeout`) while
    // idle: the second invocation was never handed to it, but to the runtime started again.
    let script = format!(
        "timeout 2 {} demo-function",
        env!("CARGO_BIN_EXE_lambda-perf")
    );
    let output = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "2",
        "--idle-ms",
        "4000",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr(&output);
    assert!(!stderr.contains("during an invocation"), "{stderr}");
    assert!(stderr.contains("between invocations"), "{stderr}");
    // The second invocation never reached the process: as Lambda would, the run starts the
    // runtime again for it, and it is answered.
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["ok", "ok"]);
    assert_eq!(column(&report, "process"), [0, 1]);
}

#[test]
fn a_function_name_lambda_would_refuse_is_a_clear_error_and_a_file_name_never_crashes_the_runtime()
{
    // `--function-name` goes into `Lambda-Runtime-Invoked-Function-Arn`: a name Lambda would
    // refuse is refused, not sent to crash the runtime on a header it cannot read.
    let output = lambda_perf(&[
        "run",
        "--no-progress",
        "--function-name",
        "fün",
        "--",
        env!("CARGO_BIN_EXE_lambda-perf"),
        "demo-function",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr_text = stderr(&output);
    assert!(stderr_text.contains("--function-name"), "{stderr_text}");
    assert!(output.stdout.is_empty(), "no report");

    // The default name comes from the program's file name, whatever it is.
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("fünktion v2");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lambda-perf"), &program).unwrap();
    let output = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "1",
        "--",
        program.to_str().unwrap(),
        "demo-function",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(column(&json(&output), "status"), ["ok"]);
}

#[test]
fn a_slow_function_times_out() {
    // Each invocation times out; Lambda starts the runtime again for the next one, and so
    // does the run: it goes on, and says the function failed.
    let output = run_demo_function(r#"{"sleep_ms":5000}"#, &["-n", "2", "--timeout", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    let report = json(&output);
    assert!(report["fatal"].is_null(), "{:#}", report["fatal"]);
    assert_eq!(column(&report, "status"), ["timeout", "timeout"]);
    assert_eq!(column(&report, "process"), [0, 1]);
}

#[test]
fn a_timed_out_invocation_lasts_and_is_billed_its_timeout() {
    // On Lambda a timed-out invocation's `Duration` is the function's timeout, and it is
    // billed (its cold start's init too): `Duration: 1000.00 ms`, not the harness's wait for
    // an answer past the deadline.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("timeout.log");
    let output = run_demo_function(
        r#"{"sleep_ms":5000}"#,
        &[
            "-n",
            "1",
            "--timeout",
            "1",
            "--log-out",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["timeout"]);
    let invocation = &report["invocations"][0];
    assert_eq!(
        invocation["duration_ms"].as_f64(),
        Some(1000.0),
        "{invocation:#}"
    );
    let init = invocation["platform_init_ms"]
        .as_f64()
        .expect("a cold start's init");
    let billed = (1000.0 + init).ceil();
    assert_eq!(invocation["billed_duration_ms"].as_f64(), Some(billed));
    assert_eq!(report["resources"]["billing"]["invocations"], 1);
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("REPORT RequestId:"))
        .expect("a REPORT line");
    assert!(
        line.contains("\tDuration: 1000.00 ms\t")
            && line.contains(&format!("\tBilled Duration: {billed} ms\t"))
            && line.ends_with("\tStatus: timeout"),
        "{line}"
    );
    // Lambda's own line follows the REPORT, with the request id and the time it ran.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| *l == line).unwrap();
    let request_id = invocation["request_id"].as_str().unwrap();
    assert!(
        lines.get(at + 1).is_some_and(
            |next| next.ends_with(&format!("Z {request_id} Task timed out after 1.00 seconds"))
        ),
        "{text}"
    );
    // `lambda-perf logs` reads it as a timeout, and so without the REPORT's `Status`, as in
    // logs whose REPORT lines do not say so.
    let without_status = dir.path().join("without-status.log");
    std::fs::write(&without_status, text.replace("\tStatus: timeout", "")).unwrap();
    for file in [&log, &without_status] {
        let logs = lambda_perf(&["logs", "--json", file.to_str().unwrap()]);
        assert!(logs.status.success(), "{}", stderr(&logs));
        let logs = json(&logs);
        assert_eq!(
            logs["statuses"],
            serde_json::json!({ "timeout": 1 }),
            "{logs:#}"
        );
    }
}

#[test]
fn an_invocation_that_ends_in_time_after_its_timeout_line_reports_its_own_duration() {
    // The watchdog writes a timeout line 500 ms in (the margin, 500 ms before the 1 s
    // deadline), with what the handler recorded so far; the handler still answers in time,
    // about 850 ms in, and its final line says how long it took.
    let output = run_demo_function(
        r#"{"charge_ms":800}"#,
        &[
            "-n",
            "1",
            "--timeout",
            "1",
            "--env",
            "LAMBDA_PERF_TIMEOUT_MARGIN_MS=500",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["ok"]);
    let function = report["invocations"][0]["function_duration_ms"]
        .as_f64()
        .expect("the function's own duration");
    assert!(
        function >= 800.0,
        "the duration of the timeout line ({function} ms) was taken for the invocation's"
    );
}

#[test]
fn output_that_looks_like_emf_but_is_not_is_a_problem() {
    let output = run_demo_function(r#"{"action":"garbage"}"#, &["-n", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].to_string().contains("yesterday"),
        "{problems:#?}"
    );
}

#[test]
fn a_restart_kills_what_the_function_started_too() {
    // The function runs behind a shell: the restart must stop the real function, or it
    // would keep answering invocations meant for the restarted one.
    let program = env!("CARGO_BIN_EXE_lambda-perf");
    let wrapped = format!("{program} demo-function; echo done");
    let output = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "4",
        "--restart-after",
        "2",
        "--",
        "sh",
        "-c",
        &wrapped,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        column(&report, "start_kind"),
        ["cold", "warm", "restart", "warm"]
    );
    let processes: Vec<&Value> = column(&report, "process");
    assert_eq!(processes, [0, 0, 1, 1]);
}

#[test]
fn a_busy_function_is_not_one_that_never_asks_for_work() {
    // Three at once against a function that serves one at a time, each taking longer than
    // the init timeout: the later ones wait in the queue, which is not a failure.
    let output = run_demo_function(
        r#"{"sleep_ms":700}"#,
        &[
            "-n",
            "3",
            "-c",
            "3",
            "--init-timeout",
            "1",
            "--env",
            "AWS_LAMBDA_MAX_CONCURRENCY=1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(column(&json(&output), "status"), ["ok", "ok", "ok"]);
}

/// `--env` for the variables lambda-perf sets from its own options and bills by, the memory
/// size and the initialization type, sets the function's configuration, which the report,
/// its billing and its log follow; beside the option that also sets it, or in a sweep that
/// sets it to each size, it is refused. (Before, the function was told 1024 MB or provisioned
/// concurrency while the run billed it at 128 MB, init included, and its `REPORT` said
/// 128 MB.)
#[test]
fn env_cannot_contradict_the_memory_size_or_init_type_billed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let output = run_demo_function(
        r#"{"action":"order"}"#,
        &[
            "-n",
            "2",
            "--env",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
            "--log-out",
            log.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["resources"]["memory_size_mb"], 1024);
    assert!(
        report["resources"]["sizing"].is_null(),
        "configured, not imposed"
    );
    let gb_seconds = report["resources"]["billing"]["gb_seconds"]
        .as_f64()
        .unwrap();
    let billed_ms = report["resources"]["billing"]["billed_ms"]
        .as_f64()
        .unwrap();
    assert!(
        (gb_seconds - billed_ms / 1000.0).abs() < 1e-12,
        "1 GB: {gb_seconds}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("Memory Size: 1024 MB"), "{log}");

    let output = run_demo_function(
        r#"{"action":"order"}"#,
        &[
            "-n",
            "2",
            "--env",
            "AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let first = &report["invocations"][0];
    let duration = first["duration_ms"].as_f64().unwrap();
    assert_eq!(
        first["billed_duration_ms"].as_f64(),
        Some(duration.ceil()),
        "a provisioned-concurrency init is not billed with the invocation: {first}"
    );

    let output = run_demo_function("{}", &["--env", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=64"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("128"), "{}", stderr(&output));
    // An initialization type Lambda never sets would be billed as none: neither its init
    // (as on demand) nor at the provisioned concurrency price. Refused, naming the values.
    for value in ["bogus", "provisioned", "On-Demand", " snap-start"] {
        let output = run_demo_function(
            "{}",
            &["--env", &format!("AWS_LAMBDA_INITIALIZATION_TYPE={value}")],
        );
        assert_eq!(output.status.code(), Some(2), "{value}");
        let error = stderr(&output);
        assert!(
            error.contains(&format!("{value:?} is not an initialization type"))
                && error.contains("on-demand, provisioned-concurrency, snap-start"),
            "{error}"
        );
    }
    let output = run_demo_function(
        "{}",
        &[
            "--init-type",
            "on-demand",
            "--env",
            "AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--init-type"),
        "{}",
        stderr(&output)
    );

    // A sweep tells the function each size in turn: one value for all would contradict all
    // but one of them.
    let output = lambda_perf(&[
        "tune",
        "--memory",
        "128,256",
        "--no-progress",
        "--env",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
        "--",
        env!("CARGO_BIN_EXE_lambda-perf"),
        "demo-function",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "{}",
        stderr(&output)
    );
}

/// An environment initialized ahead of its invocations (provisioned concurrency, SnapStart,
/// Managed Instances) has no `Init Duration` in its `REPORT` lines on Lambda, so its log read
/// back by `lambda-perf logs` counts no cold start, as the run's own report says.
#[test]
fn a_log_of_an_environment_initialized_ahead_has_no_init_duration_nor_cold_start() {
    for init_type in [
        "provisioned-concurrency",
        "snap-start",
        "lambda-managed-instances",
        "on-demand",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("run.log");
        let output = run_demo_function(
            r#"{"action":"order"}"#,
            &[
                "-n",
                "2",
                "--init-type",
                init_type,
                "--log-out",
                log.to_str().unwrap(),
            ],
        );
        assert!(output.status.success(), "{init_type}: {}", stderr(&output));
        let on_demand = init_type == "on-demand";
        let cold_starts = usize::from(on_demand);
        assert_eq!(
            json(&output)["summary"]["cold_starts"],
            cold_starts,
            "{init_type}"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text.contains("Init Duration"),
            on_demand,
            "{init_type}: {text}"
        );
        let logs = lambda_perf(&["logs", "--json", log.to_str().unwrap()]);
        assert!(logs.status.success(), "{}", stderr(&logs));
        let logs = json(&logs);
        assert_eq!(logs["cold_starts"], cold_starts, "{init_type}: {logs:#}");
    }
}

/// A `snap-start` runtime (curl) that asks for its restore, spends 300 ms in after-restore
/// work, then answers every invocation at once.
const RESTORED_AFTER_300_MS: &str = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
curl -sS -o /dev/null "$api/restore/next"
sleep 0.3
while :; do
  id=$(curl -sS -D - -o /dev/null "$api/invocation/next" | tr -d '\r' | tr 'A-Z' 'a-z' \
    | sed -n 's/^lambda-runtime-aws-request-id: //p')
  curl -sS -o /dev/null -d '{}' "$api/invocation/$id/response"
done"#;

/// On Lambda the `REPORT` line of a restored SnapStart environment's first invocation has
/// `Restore Duration` and `Billed Restore Duration`, the latter part of `Billed Duration`:
/// the run's log says so too, as its report does, and `lambda-perf logs` reads it back.
#[test]
fn a_snapstart_restore_is_in_the_report_line_and_billed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let output = run_with_event(
        "{}",
        &[
            "-n",
            "2",
            "--init-type",
            "snap-start",
            "--log-out",
            log.to_str().unwrap(),
        ],
        &["sh", "-c", RESTORED_AFTER_300_MS],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let first = &report["invocations"][0];
    let restore = first["restore_duration_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("a restore: {first:#}"));
    assert!((300.0..2000.0).contains(&restore), "{first:#}");
    assert!(report["invocations"][1]["restore_duration_ms"].is_null());
    let duration = first["duration_ms"].as_f64().unwrap();
    let billed = first["billed_duration_ms"].as_u64().unwrap();
    let billed_restore = restore.ceil() as u64;
    assert_eq!(billed, duration.ceil() as u64 + billed_restore, "{first:#}");
    assert_eq!(report["summary"]["cold_starts"], 0);

    let text = std::fs::read_to_string(&log).unwrap();
    let reports: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("REPORT RequestId:"))
        .collect();
    assert_eq!(reports.len(), 2, "{text}");
    assert!(
        reports[0].contains(&format!("\tBilled Duration: {billed} ms\t"))
            && reports[0].ends_with(&format!(
                "\tMax Memory Used: {} MB\tRestore Duration: {restore:.2} ms\t\
                 Billed Restore Duration: {billed_restore} ms",
                first["max_memory_used_mb"]
                    .as_f64()
                    .map_or(0, |mb| mb.ceil() as u64)
            )),
        "{text}"
    );
    assert!(!reports[1].contains("Restore Duration"), "{text}");
    assert!(!text.contains("Init Duration"), "{text}");
    let logs = lambda_perf(&["logs", "--json", log.to_str().unwrap()]);
    assert!(logs.status.success(), "{}", stderr(&logs));
    let logs = json(&logs);
    assert_eq!(logs["restores"], 1, "{logs:#}");
    assert_eq!(logs["cold_starts"], 0, "{logs:#}");
}

/// `--env` cannot set what Lambda reserves and lambda-perf sets as Lambda would: the function
/// would be told a name its ARN and log group do not have, or lose the Runtime API. The
/// region is configuration, which the ARN follows.
#[test]
fn env_cannot_set_what_lambda_reserves_but_the_region_is_configuration() {
    for (pair, hint) in [
        ("AWS_LAMBDA_FUNCTION_NAME=other", "--function-name"),
        ("AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "reserves"),
        ("_HANDLER=x", "reserves"),
        ("AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION"),
    ] {
        let output = run_demo_function("{}", &["-n", "1", "--env", pair]);
        assert_eq!(output.status.code(), Some(2), "{pair}");
        let error = stderr(&output);
        assert!(
            error.contains(pair) && error.contains(hint),
            "{pair}: {error}"
        );
        assert!(output.stdout.is_empty(), "{pair}: no report");
    }
    let script = r#"echo "region=$AWS_REGION default=$AWS_DEFAULT_REGION" >&2
exec LAMBDA_PERF demo-function"#;
    let output = run_demo_function_in_shell(
        r#"{"action":"order"}"#,
        &["-n", "1", "--env", "AWS_REGION=eu-west-1"],
        script,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    let last = report["processes"][0]["last_stderr"].as_array().unwrap();
    assert!(
        last.iter()
            .any(|line| line == "region=eu-west-1 default=eu-west-1"),
        "{last:?}"
    );
}

/// Under provisioned concurrency Lambda bills an invocation's duration at the provisioned
/// concurrency duration price ($0.0000097222 per GB-second on x86_64, $0.0000077778 on
/// arm64, us-east-1), not the on-demand one, and its init not with the invocation.
#[test]
fn provisioned_concurrency_is_priced_at_its_duration_price() {
    for (arch, per_gb_second) in [("x86_64", 0.0000097222), ("arm64", 0.0000077778)] {
        let output = run_demo_function(
            r#"{"action":"order"}"#,
            &[
                "-n",
                "3",
                "--arch",
                arch,
                "--init-type",
                "provisioned-concurrency",
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let report = json(&output);
        let billing = &report["resources"]["billing"];
        assert_eq!(billing["usd_per_gb_second"], per_gb_second, "{billing}");
        let prices = billing["prices"].as_str().unwrap();
        assert!(prices.contains("provisioned concurrency"), "{prices}");
        let gb_seconds = billing["gb_seconds"].as_f64().unwrap();
        let cost = billing["cost_usd"].as_f64().unwrap();
        let expected = gb_seconds * per_gb_second + 3.0 * 0.20 / 1_000_000.0;
        assert!((cost - expected).abs() < 1e-15, "{cost} against {expected}");
    }
}

/// One process taking several invocations at once is what Lambda Managed Instances do, and
/// only they: `-c` above 1 is a Managed Instances run, initialized ahead (no cold start) and
/// billed by its requests, and the run says so; with a type that runs one invocation per
/// environment at a time, it is refused, saying why.
#[test]
fn several_invocations_at_once_are_a_managed_instances_run() {
    for (options, note) in [
        (&["-n", "2", "-c", "2"][..], true),
        (
            &[
                "-n",
                "2",
                "-c",
                "2",
                "--init-type",
                "lambda-managed-instances",
            ][..],
            false,
        ),
    ] {
        let output = run_demo_function(r#"{"action":"order"}"#, options);
        assert!(output.status.success(), "{options:?}: {}", stderr(&output));
        assert_eq!(
            stderr(&output).contains("as only Lambda Managed Instances do"),
            note,
            "{options:?}: {}",
            stderr(&output)
        );
        let report = json(&output);
        assert_eq!(report["summary"]["cold_starts"], 0, "{options:?}");
        // The two are handed out at once: either is the environment's first.
        let mut kinds = column(&report, "start_kind");
        kinds.sort_by_key(|kind| kind.to_string());
        assert_eq!(kinds, ["prewarmed", "warm"], "{options:?}");
        let billing = &report["resources"]["billing"];
        assert_eq!(billing["usd_per_gb_second"], 0.0, "{billing}");
        let cost = billing["cost_usd"].as_f64().unwrap();
        assert!((cost - 2.0 * 0.20 / 1e6).abs() < 1e-15, "{cost}");
    }
    for given in [
        &["--init-type", "on-demand"][..],
        &["--init-type", "provisioned-concurrency"][..],
        &["--env", "AWS_LAMBDA_INITIALIZATION_TYPE=snap-start"][..],
    ] {
        let mut options = vec!["-n", "2", "-c", "2"];
        options.extend_from_slice(given);
        let output = run_demo_function(r#"{"action":"order"}"#, &options);
        assert_eq!(output.status.code(), Some(2), "{given:?}");
        let error = stderr(&output);
        assert!(
            error.contains("runs one invocation per execution environment at a time"),
            "{given:?}: {error}"
        );
        assert!(output.stdout.is_empty(), "{given:?}");
    }
}

/// A huge `-n` is one line saying what is possible, not an abort: the plan holds one step per
/// invocation, built before the run, so `-n 100000000000` asks for terabytes (under a 1.5 GB
/// address-space limit here, so that the test cannot take the machine's memory).
#[test]
fn a_huge_invocation_count_is_refused_not_an_abort() {
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1500000; exec \"$0\" run -n 100000000000 --no-progress -- /bin/true")
        .arg(env!("CARGO_BIN_EXE_lambda-perf"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("memory allocation"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("at most 1000000"),
        "{}",
        stderr(&output)
    );
}

/// `--arch` chooses the price table and nothing else: x86_64 by default, arm64 when asked,
/// each applied to the billed durations the run reports (no free tier).
#[test]
fn arch_chooses_the_price_table() {
    for (options, architecture, per_gb_second) in [
        (&["-n", "3"][..], "x86_64", 0.0000166667),
        (&["-n", "3", "--arch", "arm64"][..], "arm64", 0.0000133334),
    ] {
        let output = run_demo_function(r#"{"action":"order"}"#, options);
        assert!(output.status.success(), "{}", stderr(&output));
        let report = json(&output);
        let billing = &report["resources"]["billing"];
        assert_eq!(billing["architecture"], architecture);
        assert_eq!(billing["usd_per_gb_second"], per_gb_second);
        assert_eq!(billing["usd_per_million_requests"], 0.20);
        let billed: f64 = column(&report, "billed_duration_ms")
            .iter()
            .map(|billed| billed.as_f64().expect("a billed duration"))
            .sum();
        assert_eq!(billing["billed_ms"].as_f64(), Some(billed));
        let memory_gb = report["resources"]["memory_size_mb"].as_f64().unwrap() / 1024.0;
        let cost = billed / 1000.0 * memory_gb * per_gb_second + 3.0 * 0.20 / 1_000_000.0;
        let reported = billing["cost_usd"].as_f64().unwrap();
        assert!((reported - cost).abs() < 1e-15, "{reported} against {cost}");
    }
}

#[test]
fn a_count_of_zero_is_a_clear_error_not_a_run_that_ignores_it() {
    for (option, name) in [
        ("-n", "--invocations"),
        ("--restart-after", "--restart-after"),
        ("--fresh-environment-after", "--fresh-environment-after"),
    ] {
        let output = lambda_perf(&[
            "run",
            "--no-progress",
            option,
            "0",
            "--",
            env!("CARGO_BIN_EXE_lambda-perf"),
            "demo-function",
        ]);
        assert_eq!(output.status.code(), Some(2), "{option}");
        let stderr_text = stderr(&output);
        assert!(
            stderr_text.contains(name) && stderr_text.contains("must be 1 or more"),
            "{option}: {stderr_text}"
        );
        assert!(output.stdout.is_empty(), "{option}: no report");
    }
}

#[test]
fn a_timeout_out_of_range_is_a_clear_error_not_a_panic_or_another_timeout() {
    for (option, value) in [
        ("--timeout", "0"),
        ("--init-timeout", "0"),
        ("--timeout", "18446744073709551615"),
        ("--init-timeout", "18446744073709551615"),
    ] {
        let output = lambda_perf(&[
            "run",
            "--no-progress",
            "-n",
            "1",
            option,
            value,
            "--",
            env!("CARGO_BIN_EXE_lambda-perf"),
            "demo-function",
        ]);
        let stderr_text = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{option} {value}: {stderr_text}"
        );
        assert!(
            stderr_text.contains(option) && !stderr_text.contains("panicked"),
            "{option} {value}: {stderr_text}"
        );
        assert!(output.stdout.is_empty(), "{option} {value}: no report");
    }
}

#[test]
fn an_answer_after_the_timeout_is_a_timeout_even_within_the_harness_grace() {
    // Lambda stops an invocation at its timeout: an answer 1.5 s into a 1 s timeout never
    // arrives, the invocation times out. The harness waits a grace period past the deadline
    // for an answer; one arriving in it must still be a timeout, not a success lasting
    // longer than the timeout.
    let output = run_demo_function(r#"{"sleep_ms":1500}"#, &["-n", "1", "--timeout", "1"]);
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["timeout"], "{report:#}");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        report["invocations"][0]["duration_ms"].as_f64(),
        Some(1000.0)
    );
}

#[test]
fn a_cold_start_s_init_does_not_eat_into_the_invocation_s_timeout() {
    // On Lambda the function's timeout runs from the start of the invocation, after init
    // (which has its own limit): a function 3 s in init and 1.5 s in its handler, under a
    // 2 s timeout, answers in time. Its `Lambda-Runtime-Deadline-Ms` is 2 s after it got
    // the invocation, not 2 s after the harness queued it while the function was still
    // starting.
    let output = run_demo_function_in_shell(
        r#"{"sleep_ms":1500}"#,
        &["-n", "1", "--timeout", "2"],
        "sleep 3; exec LAMBDA_PERF demo-function",
    );
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["ok"], "{report:#}");
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn an_invocation_the_function_crashed_in_ends_at_the_exit_not_after_the_harness_drain() {
    // The function is killed 1 s after it started, in the middle of a 3 s invocation, while
    // a process it started keeps its stdout open: the invocation ran until the kill (under
    // 1 s after its hand-out), not until the harness stopped waiting for the output.
    let output = run_demo_function_in_shell(
        r#"{"sleep_ms":3000}"#,
        &["-n", "1"],
        "sleep 60 & exec timeout --foreground -s KILL 1 LAMBDA_PERF demo-function",
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("during an invocation"),
        "{}",
        stderr(&output)
    );
    let report = json(&output);
    let duration = report["invocations"][0]["duration_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("a duration: {report:#}"));
    assert!(duration < 1_150.0, "{duration} ms");
}

#[test]
fn an_init_longer_than_the_timeout_is_not_a_timeout() {
    // Lambda limits init on its own (10 s): a function 4 s in init under a 1 s timeout gets
    // its invocation once it asks for it, and answers in time.
    let output = run_demo_function_in_shell(
        "{}",
        &["-n", "1", "--timeout", "1"],
        "sleep 4; exec LAMBDA_PERF demo-function",
    );
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["ok"], "{report:#}");
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn an_event_lambda_would_refuse_is_a_clear_error_not_a_run() {
    // Lambda refuses a synchronous invocation whose payload is over 6 MB ("Request must be
    // smaller than 6291456 bytes for the InvokeFunction operation"): a run with such an
    // event would show a function working that Lambda never calls.
    let event = format!("{{\"data\":\"{}\"}}", "x".repeat(6_291_456));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &event).unwrap();
    let output = lambda_perf(&[
        "run",
        "--no-progress",
        "-n",
        "1",
        "--event",
        file.path().to_str().unwrap(),
        "--",
        env!("CARGO_BIN_EXE_lambda-perf"),
        "demo-function",
    ]);
    let stderr_text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr_text}");
    assert!(stderr_text.contains("6291456"), "{stderr_text}");
    assert!(output.stdout.is_empty(), "no report");
}

/// A runtime (curl) that answers at once, then sleeps 1.5 s before it asks for its next
/// event.
const SLOW_TO_ASK_AGAIN: &str = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while :; do
  id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | tr 'A-Z' 'a-z' \
    | sed -n 's/^lambda-runtime-aws-request-id: //p')
  curl -sS -o /dev/null -d '{}' "$api/$id/response"
  sleep 1.5
done"#;

#[test]
fn a_runtime_that_asks_for_work_only_after_the_timeout_timed_out_and_is_billed_its_timeout() {
    // The invocation lasts until the runtime asks for its next event, but no longer than
    // its timeout: Lambda times the invocation out there, and resets the environment. A
    // runtime (curl) that answers at once, then sleeps 1.5 s before asking again, under a
    // 1 s timeout.
    let output = run_with_event(
        "{}",
        &["-n", "2", "--timeout", "1"],
        &["sh", "-c", SLOW_TO_ASK_AGAIN],
    );
    let report = json(&output);
    assert_eq!(
        column(&report, "status"),
        ["timeout", "timeout"],
        "{report:#}"
    );
    assert_eq!(column(&report, "process"), [0, 1], "{report:#}");
    let first = &report["invocations"][0];
    let duration = first["duration_ms"].as_f64().expect("a duration");
    assert!(
        (999.0..=1000.0).contains(&duration),
        "lasted {duration} ms under a 1 s timeout: {first:#}"
    );
    let billed = first["billed_duration_ms"].as_f64().expect("billed");
    let init = first["platform_init_ms"]
        .as_f64()
        .expect("a cold start's init");
    assert!(billed <= (1000.0 + init).ceil(), "{first:#}");
    for invocation in report["invocations"].as_array().unwrap() {
        let duration = invocation["duration_ms"].as_f64().expect("a duration");
        assert!(duration <= 1000.0, "{invocation:#}");
    }
}

#[test]
fn a_runtime_that_never_asks_again_timed_out_in_its_answered_invocation() {
    // The runtime answers, then never asks for its next event: the answered invocation lasted
    // until its timeout, where Lambda ends it as timed out, as when the run ends after it;
    // not until its answer. The next goes to a new process, as after any timeout.
    let script = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | tr 'A-Z' 'a-z' \
  | sed -n 's/^lambda-runtime-aws-request-id: //p')
curl -sS -o /dev/null -d '{}' "$api/$id/response"
exec sleep 60"#;
    let output = run_with_event("{}", &["-n", "2", "--timeout", "1"], &["sh", "-c", script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(error.contains("did not ask for its next event"), "{error}");
    let report = json(&output);
    let first = &report["invocations"][0];
    assert_eq!(first["status"], "timeout", "{first:#}");
    let duration = first["duration_ms"].as_f64().expect("a duration");
    assert!(
        (999.0..=1000.0).contains(&duration),
        "lasted {duration} ms, though its runtime never asked for work again: {first:#}"
    );
    let billed = first["billed_duration_ms"].as_f64().expect("billed");
    assert!(billed >= 1000.0, "{first:#}");
}

#[test]
fn a_runtime_still_busy_after_its_answer_when_the_run_ends_ran_until_its_timeout() {
    // The last invocation of a run, or the last before a restart: the harness waits for the
    // runtime to ask for its next event, at most a timeout, then stops it. A runtime that
    // had not asked by then was still in the invocation at its timeout, where Lambda ends
    // it as timed out, as for any other of its invocations: not at its answer.
    for options in [
        &["-n", "1", "--timeout", "1"][..],
        &["-n", "2", "--timeout", "1", "--restart-after", "1"][..],
    ] {
        let output = run_with_event("{}", options, &["sh", "-c", SLOW_TO_ASK_AGAIN]);
        let report = json(&output);
        for invocation in report["invocations"].as_array().unwrap() {
            assert_eq!(
                invocation["status"], "timeout",
                "{options:?}: {invocation:#}"
            );
            let duration = invocation["duration_ms"].as_f64().expect("a duration");
            assert!(
                (999.0..=1000.0).contains(&duration),
                "{options:?}: lasted {duration} ms, though its runtime had not asked for work \
                 by its 1 s timeout: {invocation:#}"
            );
        }
    }
}
