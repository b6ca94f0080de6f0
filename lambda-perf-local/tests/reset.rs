//! `lambda-perf run` after the function fails as Lambda recovers from: an invocation that
//! times out, a runtime that exits, an init error. Lambda resets the execution environment
//! and starts the runtime again, in the same environment (its `/tmp` kept), for the next
//! invocation; the run goes on the same way, and the function sees a restart.

mod support;

use serde_json::Value;
use support::*;

fn column<'a>(report: &'a Value, field: &str) -> Vec<&'a Value> {
    report["invocations"]
        .as_array()
        .expect("invocations")
        .iter()
        .map(|invocation| &invocation[field])
        .collect()
}

/// `lambda-perf run --json --no-progress OPTIONS --event EVENT -- COMMAND`.
fn run(event: &str, options: &[&str], command: &[&str]) -> std::process::Output {
    let event = file_with(event);
    let mut args = vec!["run", "--json", "--no-progress"];
    args.extend_from_slice(options);
    args.extend(["--event", event.path().to_str().unwrap(), "--"]);
    args.extend_from_slice(command);
    lambda_perf(&args)
}

/// A shell script that, the first time it runs in an execution environment (no `failed` in
/// its temp dir), does `FAILURE`; then, and every later time, runs the demo function.
fn failing_once_then_the_demo(failure: &str) -> String {
    format!(
        r#"if [ ! -e "$TMPDIR/failed" ]; then touch "$TMPDIR/failed"; {failure}; fi
exec {} demo-function"#,
        env!("CARGO_BIN_EXE_lambda-perf")
    )
}

#[test]
fn a_timed_out_invocation_starts_the_runtime_again_and_the_run_goes_on() {
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let function = workload_function();
    let output = run(
        r#"{"fail_once":"timeout"}"#,
        &["-n", "3", "--timeout", "1", "--log-out", &log],
        &[&function],
    );
    // The function failed: the run says so, though it went on.
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains("started again") && error.contains("timed out"),
        "{error}"
    );
    let report = json(&output);
    assert!(report["fatal"].is_null(), "{:#}", report["fatal"]);
    assert_eq!(column(&report, "status"), ["timeout", "ok", "ok"]);
    // A new process in the same environment: the function finds its marker in the temp dir.
    assert_eq!(column(&report, "start_kind"), ["cold", "restart", "warm"]);
    assert_eq!(column(&report, "process"), [0, 1, 1]);
    assert_eq!(column(&report, "environment"), [0, 0, 0]);
    // The timed-out one lasted its timeout; the restart is counted as a cold start, as an
    // out-of-memory restart is (its REPORT line has an `Init Duration`).
    assert_eq!(
        report["invocations"][0]["duration_ms"].as_f64(),
        Some(1000.0)
    );
    assert_eq!(report["summary"]["cold_starts"], 2);
    let processes = report["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 2, "{processes:#?}");
    assert_eq!(
        processes[0]["stopped_by_harness"], "reset",
        "{processes:#?}"
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let reports: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("REPORT RequestId:"))
        .collect();
    assert_eq!(reports.len(), 3, "{text}");
    assert!(reports[0].ends_with("\tStatus: timeout"), "{text}");
    assert!(text.contains("Task timed out after 1.00 seconds"), "{text}");
    assert!(reports[1].contains("\tInit Duration: "), "{text}");
    assert!(!reports[2].contains("Init Duration"), "{text}");
    // One environment, one log stream.
    let streams: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .collect();
    assert_eq!(streams.len(), 1, "{streams:?}");
}

/// A runtime that exits after its invocation's timeout (here 1.3 s into a 1 s one, while the
/// harness waits its grace period past the deadline) had been stopped by Lambda at that
/// timeout: the invocation timed out, lasting its timeout, and is logged as a timeout, with
/// no `Runtime exited` lines.
#[test]
fn a_runtime_that_exits_after_its_timeout_timed_out() {
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let script = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
curl -sS -o /dev/null "$api/next"
sleep 1.3
exit 1"#;
    let output = run(
        "{}",
        &["-n", "1", "--timeout", "1", "--log-out", &log],
        &["sh", "-c", script],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["timeout"], "{report:#}");
    assert_eq!(
        report["invocations"][0]["duration_ms"].as_f64(),
        Some(1000.0)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Task timed out after 1.00 seconds"), "{text}");
    assert!(!text.contains("Runtime exited"), "{text}");
    assert_eq!(
        logs_of(&log)["statuses"],
        serde_json::json!({ "timeout": 1 })
    );
}

/// A runtime (`sh -c`) that answers every invocation, and the first time in an environment
/// works on 2 s after its answer before asking for the next one.
const WORKS_ON_AFTER_ITS_FIRST_ANSWER: &str = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  curl -sS -o /dev/null -d '"ok"' "$api/$id/response"
  if [ ! -e "$TMPDIR/slow" ]; then touch "$TMPDIR/slow"; sleep 2; fi
done"#;

/// Lambda's invocation lasts until the runtime asks for its next event: a runtime that
/// answers in time, then works on past its timeout before asking, timed out, and its
/// environment is reset as after any timeout.
#[test]
fn work_after_the_response_past_the_timeout_is_a_timeout() {
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let script = WORKS_ON_AFTER_ITS_FIRST_ANSWER;
    let output = run(
        "{}",
        &["-n", "2", "--timeout", "1", "--log-out", &log],
        &["sh", "-c", script],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("did not ask for its next event"),
        "{}",
        stderr(&output)
    );
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["timeout", "ok"]);
    assert_eq!(
        report["invocations"][0]["duration_ms"].as_f64(),
        Some(1000.0)
    );
    assert_eq!(report["resets"]["count"], 1, "{:#}", report["resets"]);
    // Its process was stopped: the next invocation went to a new one.
    assert_eq!(column(&report, "process"), [0, 1]);
    assert_eq!(report["processes"][0]["stopped_by_harness"], "reset");
    let text = std::fs::read_to_string(&log).unwrap();
    let reports: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("REPORT RequestId:"))
        .collect();
    assert_eq!(reports.len(), 2, "{text}");
    assert!(reports[0].contains("\tDuration: 1000.00 ms"), "{text}");
    assert!(reports[0].ends_with("\tStatus: timeout"), "{text}");
    assert!(text.contains("Task timed out after 1.00 seconds"), "{text}");
    assert!(reports[1].contains("\tInit Duration: "), "{text}");
    assert_logs_agree(
        &report,
        &logs_of(&log),
        serde_json::json!({ "success": 1, "timeout": 1 }),
    );
}

#[test]
fn a_runtime_that_exits_in_an_invocation_is_started_again() {
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let function = workload_function();
    let output = run(
        r#"{"fail_once":"exit"}"#,
        &["-n", "3", "--log-out", &log],
        &[&function],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("exited during an invocation (exit status: 7)"),
        "{}",
        stderr(&output)
    );
    let report = json(&output);
    assert!(report["fatal"].is_null(), "{:#}", report["fatal"]);
    // The JSON says so too: how many failures the run went on after, and the first.
    let resets = &report["resets"];
    assert_eq!(resets["count"], 1, "{resets:#}");
    assert_eq!(resets["restarted"], 1, "{resets:#}");
    let message = resets["first"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("exited during an invocation (exit status: 7)"),
        "{resets:#}"
    );
    assert!(!message.contains('\n'), "{resets:#}");
    let last_lines = resets["first"]["last_lines"].as_array();
    assert!(
        last_lines.is_some_and(|lines| !lines.is_empty()),
        "{resets:#}"
    );
    assert_eq!(column(&report, "status"), ["exit-error", "ok", "ok"]);
    assert_eq!(column(&report, "start_kind"), ["cold", "restart", "warm"]);
    assert_eq!(column(&report, "process"), [0, 1, 1]);
    assert_eq!(column(&report, "environment"), [0, 0, 0]);
    // It ended on its own: the harness did not stop it.
    let first = &report["processes"][0];
    assert!(first["stopped_by_harness"].is_null(), "{first:#}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("\tStatus: error\tError Type: Runtime.ExitError\n")
            .count(),
        1,
        "{text}"
    );
    // Lambda's own words for the exit, before the invocation's `END`.
    let crashed = report["invocations"][0]["request_id"].as_str().unwrap();
    assert_runtime_exit_logged(&text, crashed, "Runtime exited with error: exit status 7");
    assert_eq!(
        logs_of(&log)["statuses"],
        serde_json::json!({ "error: Runtime.ExitError": 1, "success": 2 })
    );
}

/// The messages of a `--log-out` file, without their timestamp and log stream.
fn messages(text: &str) -> Vec<&str> {
    text.lines()
        .map(|line| line.splitn(3, ' ').nth(2).unwrap_or_default())
        .collect()
}

/// The log has Lambda's two lines for a runtime that exited during invocation `request_id`
/// (`exit`: how Lambda says it ended), once, just before its `END`.
fn assert_runtime_exit_logged(text: &str, request_id: &str, exit: &str) {
    let messages = messages(text);
    let error = format!("RequestId: {request_id} Error: {exit}");
    let at: Vec<usize> = (0..messages.len())
        .filter(|&i| messages[i] == error)
        .collect();
    assert_eq!(at.len(), 1, "{error:?} once in {text}");
    assert_eq!(
        messages[at[0] + 1..at[0] + 3],
        ["Runtime.ExitError", &format!("END RequestId: {request_id}")],
        "{text}"
    );
}

/// A runtime killed by a signal during an invocation is logged as Lambda logs it, the signal
/// named as Lambda's init (written in Go) names it, and one that exits with status 0 as
/// giving no reason; `lambda-perf logs` reads the invocation back as a `Runtime.ExitError`.
#[test]
fn a_runtime_killed_by_a_signal_in_an_invocation_is_logged_as_lambda_logs_it() {
    for (end, words) in [
        (
            "kill -SEGV $$",
            "Runtime exited with error: signal: segmentation fault",
        ),
        (
            "kill -ABRT $$",
            "Runtime exited with error: signal: aborted",
        ),
        (
            "kill -TERM $$",
            "Runtime exited with error: signal: terminated",
        ),
        ("exit 0", "Runtime exited without providing a reason"),
    ] {
        let logs = tempfile::tempdir().unwrap();
        let log = temp_path(&logs, "run.log");
        // No core file left behind.
        let script = format!(
            r#"ulimit -c 0
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
curl -sS -o /dev/null "$api/next"
{end}"#
        );
        let output = run(
            "{}",
            &["-n", "1", "--log-out", &log],
            &["sh", "-c", &script],
        );
        assert_eq!(output.status.code(), Some(2), "{end}: {}", stderr(&output));
        let report = json(&output);
        assert_eq!(column(&report, "status"), ["exit-error"], "{end}");
        let text = std::fs::read_to_string(&log).unwrap();
        let request_id = report["invocations"][0]["request_id"].as_str().unwrap();
        assert_runtime_exit_logged(&text, request_id, words);
        let logs = logs_of(&log);
        assert_eq!(
            logs["statuses"],
            serde_json::json!({ "error: Runtime.ExitError": 1 }),
            "{end}: {logs:#}"
        );
        assert_eq!(logs["lines"]["malformed"], 0, "{end}: {logs:#}");
    }
}

/// Two invocations in flight at once in one runtime (`-c 2`), which crashes: one failure of
/// the function, one reset, named as the function's failure (Lambda's `Runtime.ExitError`).
/// They were the run's last: no runtime was started again, and stderr does not say so.
#[test]
fn one_crash_under_concurrency_is_one_reset() {
    let script = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
main=$$
serve() {
  while true; do
    id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
    if [ "$1" = crash ]; then sleep 0.2; kill -9 $main; fi
    sleep 0.5
    curl -sS -o /dev/null -d '"ok"' "$api/$id/response"
  done
}
serve crash & serve other & wait"#;
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let output = run(
        "{}",
        &["-n", "2", "-c", "2", "--log-out", &log],
        &["sh", "-c", script],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains("failed 1 time(s), in the run's last invocation(s)")
            && !error.contains("started again"),
        "{error}"
    );
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["exit-error", "exit-error"]);
    let resets = &report["resets"];
    assert_eq!(resets["count"], 1, "{resets:#}");
    assert_eq!(resets["restarted"], 0, "{resets:#}");
    let processes = report["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 1, "{processes:#?}");
    let kinds: Vec<&Value> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| &problem["kind"])
        .collect();
    assert_eq!(
        kinds,
        ["function-failure", "function-failure"],
        "{report:#}"
    );
    // Each invocation that was in the runtime has Lambda's lines of its exit.
    let text = std::fs::read_to_string(&log).unwrap();
    for request_id in column(&report, "request_id") {
        assert_runtime_exit_logged(
            &text,
            request_id.as_str().unwrap(),
            "Runtime exited with error: signal: killed",
        );
    }
    assert_eq!(
        logs_of(&log)["statuses"],
        serde_json::json!({ "error: Runtime.ExitError": 2 })
    );
}

#[test]
fn an_init_error_is_retried_at_the_next_invocation() {
    // The runtime reports an init error and exits, once; Lambda answers the invocation
    // with the error and tries init again at the next one, in the same environment.
    let script = failing_once_then_the_demo(
        r#"curl -sS -o /dev/null -d '{"errorMessage":"no settings","errorType":"Config.Missing"}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exit 1"#,
    );
    let output = run("{}", &["-n", "3"], &["sh", "-c", &script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no settings"),
        "{}",
        stderr(&output)
    );
    let report = json(&output);
    assert!(report["fatal"].is_null(), "{:#}", report["fatal"]);
    assert_eq!(column(&report, "status"), ["init-error", "ok", "ok"]);
    assert_eq!(column(&report, "process"), [0, 1, 1]);
    assert_eq!(column(&report, "environment"), [0, 0, 0]);
}

#[test]
fn a_runtime_that_exits_during_init_is_started_again_at_the_next_invocation() {
    let script = failing_once_then_the_demo("echo connecting; exit 3");
    let output = run("{}", &["-n", "2"], &["sh", "-c", &script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains("exited during init") && error.contains("connecting"),
        "{error}"
    );
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["exit-error", "ok"]);
    assert_eq!(column(&report, "process"), [0, 1]);
}

#[test]
fn an_init_error_fails_every_invocation_sent_at_once_and_the_next_batch_runs() {
    let script = failing_once_then_the_demo(
        r#"curl -sS -o /dev/null -d '{"errorMessage":"no settings","errorType":"Config.Missing"}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exit 1"#,
    );
    let output = run("{}", &["-n", "4", "-c", "2"], &["sh", "-c", &script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        column(&report, "status"),
        ["init-error", "init-error", "ok", "ok"]
    );
    assert_eq!(column(&report, "process"), [0, 0, 1, 1]);
}

#[test]
fn a_runtime_that_hangs_after_its_init_error_is_not_waited_for() {
    // Lambda resets the environment after the init error at once; the harness must not
    // wait the function's timeout (20 s) for the hanging runtime to ask for work first.
    let script = failing_once_then_the_demo(
        r#"curl -sS -o /dev/null -d '{"errorMessage":"no settings","errorType":"Config.Missing"}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exec sleep 60"#,
    );
    let started = std::time::Instant::now();
    let output = run(
        "{}",
        &["-n", "2", "--timeout", "20"],
        &["sh", "-c", &script],
    );
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["init-error", "ok"]);
    assert_eq!(report["processes"][0]["stopped_by_harness"], "reset");
    assert!(elapsed.as_secs() < 10, "the run took {elapsed:?}");
}

#[test]
fn invocations_sent_at_once_that_never_reached_a_runtime_that_exited_in_another_are_sent_again() {
    // Three at once to a runtime that takes them one at a time: the first makes it exit; the
    // other two were never handed to it, in a process well past its init. They are sent to
    // the runtime started again, and the function failed once, not three times.
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let function = workload_function();
    let output = run(
        r#"{"fail_once":"exit"}"#,
        &["-n", "3", "-c", "3", "--log-out", &log],
        &[&function],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(!error.contains("during init"), "{error}");
    assert!(
        error.contains("failed 1 time(s)") && error.contains("exited during an invocation"),
        "{error}"
    );
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["exit-error", "ok", "ok"]);
    assert_eq!(column(&report, "process"), [0, 1, 1]);
    assert_eq!(column(&report, "start_kind")[1], "restart");
    // Every invocation of the report has its REPORT line.
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("REPORT RequestId:").count(), 3, "{text}");
}

#[test]
fn an_invocation_queued_behind_one_that_times_out_times_out_too_and_the_run_goes_on() {
    // A runtime in shell taking invocations one at a time: the environment's first process
    // answers two, then hangs in the third; the ones after it answer every invocation. Sent
    // two at once, the fourth waits behind the third: it was never handed out because its
    // runtime was stuck, not because it stopped asking for work after answering. Both time
    // out, and the run goes on in a new process.
    let script = r#"R="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
answer() {
  id=$(curl -sS -D - -o /dev/null "$R/invocation/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  curl -sS -o /dev/null -d '{}' "$R/invocation/$id/response"
}
if [ ! -e "$TMPDIR/hung" ]; then
  touch "$TMPDIR/hung"; answer; answer; curl -sS -o /dev/null "$R/invocation/next"; exec sleep 60
fi
while true; do answer; done"#;
    let output = run(
        "{}",
        &["-n", "6", "-c", "2", "--timeout", "1"],
        &["sh", "-c", script],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(!error.contains("never asked for the next one"), "{error}");
    let report = json(&output);
    assert!(report["fatal"].is_null(), "{:#}", report["fatal"]);
    assert_eq!(
        column(&report, "status"),
        ["ok", "ok", "timeout", "timeout", "ok", "ok"]
    );
    assert_eq!(column(&report, "process"), [0, 0, 0, 0, 1, 1]);
}

#[test]
fn a_runtime_that_hangs_after_its_init_error_in_the_last_invocation_is_not_waited_for() {
    // The last invocation's init error resets the environment as the others do: the run
    // ends without waiting the function's timeout (20 s) for the hanging runtime.
    let script = r#"curl -sS -o /dev/null -d '{"errorMessage":"no settings","errorType":"Config.Missing"}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exec sleep 60"#;
    let started = std::time::Instant::now();
    let output = run("{}", &["-n", "1", "--timeout", "20"], &["sh", "-c", script]);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["init-error"]);
    assert!(elapsed.as_secs() < 10, "the run took {elapsed:?}");
}

#[test]
fn invocations_sent_at_once_with_one_that_runs_out_of_memory_did_not_run_out_of_memory() {
    require_sizing(
        "invocations_sent_at_once_with_one_that_runs_out_of_memory_did_not_run_out_of_memory",
    );
    // Three at once to a runtime that takes them one at a time: the first runs out of memory;
    // the other two never reached the process. They are sent to the runtime started again,
    // not counted as out of memory.
    let function = workload_function();
    let output = run(
        r#"{"fail_once":"oom"}"#,
        &["-n", "3", "-c", "3", "--memory", "128"],
        &[&function],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains("1 invocation(s) ran out of memory"),
        "{error}"
    );
    assert!(!error.contains("failed"), "{error}");
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["out-of-memory", "ok", "ok"]);
    assert_eq!(column(&report, "process"), [0, 1, 1]);
    assert_eq!(report["resources"]["out_of_memory"], 1);
    assert_eq!(report["resets"]["count"], 0);
}

#[test]
fn a_runtime_killed_for_memory_between_invocations_did_not_run_out_of_memory_in_the_next() {
    require_sizing(
        "a_runtime_killed_for_memory_between_invocations_did_not_run_out_of_memory_in_the_next",
    );
    // A runtime in shell: the environment's first process answers its invocation, then fills
    // its memory (`tail` keeps a line that never ends) instead of asking for the next one;
    // the ones after it answer every invocation. The second invocation was never handed to
    // the killed process: it did not run out of memory, but is sent to the runtime started
    // again; the kill is the runtime's failure between invocations.
    let script = r#"R="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
answer() {
  id=$(curl -sS -D - -o /dev/null "$R/invocation/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
  curl -sS -o /dev/null -d '{}' "$R/invocation/$id/response"
}
if [ ! -e "$TMPDIR/filled" ]; then touch "$TMPDIR/filled"; answer; exec tail /dev/zero; fi
while true; do answer; done"#;
    let output = run("{}", &["-n", "3", "--memory", "128"], &["sh", "-c", script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(!error.contains("ran out of memory"), "{error}");
    assert!(
        error.contains("failed 1 time(s)")
            && error.contains("exited between invocations")
            && error.contains("out of memory"),
        "{error}"
    );
    let report = json(&output);
    assert!(report["fatal"].is_null(), "{:#}", report["fatal"]);
    assert_eq!(column(&report, "status"), ["ok", "ok", "ok"]);
    assert_eq!(column(&report, "process"), [0, 1, 1]);
    // The invocation sent again started the runtime again: an init of its own.
    let inits = column(&report, "platform_init_ms");
    assert!(inits[1].is_number() && inits[2].is_null(), "{inits:?}");
    assert_eq!(report["resources"]["out_of_memory"], 0);
    assert_eq!(report["resets"]["count"], 1);
    assert_eq!(report["processes"][0]["out_of_memory"], true);
}

#[test]
fn a_planned_restart_after_a_failed_invocation_does_not_wait_for_the_failed_runtime() {
    // Every process reports an init error and hangs; the plan restarts the runtime after
    // each invocation. The failed runtime is stopped at once, as for a reset: not after the
    // function's timeout (20 s) spent waiting for it to ask for work.
    let script = r#"curl -sS -o /dev/null -d '{"errorMessage":"no settings","errorType":"Config.Missing"}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exec sleep 60"#;
    for planned in ["--restart-after", "--fresh-environment-after"] {
        let started = std::time::Instant::now();
        let output = run(
            "{}",
            &["-n", "2", planned, "1", "--timeout", "20"],
            &["sh", "-c", script],
        );
        let elapsed = started.elapsed();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let report = json(&output);
        assert_eq!(column(&report, "status"), ["init-error", "init-error"]);
        assert!(
            elapsed.as_secs() < 10,
            "{planned}: the run took {elapsed:?}"
        );
    }
}

/// The `logs --json` report of a `--log-out` file.
fn logs_of(log: &str) -> Value {
    let output = lambda_perf(&["logs", "--json", log]);
    assert!(output.status.success(), "{}", stderr(&output));
    json(&output)
}

/// What `lambda-perf logs` reads back of a run's `--log-out` agrees with the run's report:
/// its invocations, their statuses, cold starts, init durations, durations and bill.
fn assert_logs_agree(report: &Value, logs: &Value, statuses: Value) {
    let two_decimals = |value: f64| format!("{value:.2}").parse::<f64>().unwrap();
    let figures = |field: &str| -> Vec<f64> {
        let mut values: Vec<f64> = column(report, field)
            .into_iter()
            .filter_map(Value::as_f64)
            .map(two_decimals)
            .collect();
        values.sort_by(f64::total_cmp);
        values
    };
    let summary = &report["summary"];
    assert_eq!(logs["invocations"], summary["invocations"], "{logs:#}");
    assert_eq!(logs["cold_starts"], summary["cold_starts"], "{logs:#}");
    assert_eq!(logs["statuses"], statuses, "{logs:#}");
    assert_eq!(logs["lines"]["malformed"], 0, "{:#}", logs["lines"]);
    for (from_logs, from_run) in [
        ("init_duration_ms", "platform_init_ms"),
        ("duration_ms", "duration_ms"),
    ] {
        let values = figures(from_run);
        let field = &logs[from_logs];
        assert_eq!(
            field["count"].as_u64().unwrap_or(0),
            values.len() as u64,
            "{from_logs}: {field:#} against {values:?}"
        );
        if let Some(max) = values.last() {
            assert_eq!(field["max"].as_f64(), Some(*max), "{from_logs}: {field:#}");
        }
    }
    let billed: Vec<f64> = column(report, "billed_duration_ms")
        .into_iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(billed.len(), column(report, "status").len(), "{billed:?}");
    let memory = logs["memory_size_mb"].as_f64().unwrap();
    let gb_seconds: f64 = billed.iter().map(|b| b / 1000.0 * memory / 1024.0).sum();
    assert!(
        (logs["billed_gb_seconds"].as_f64().unwrap() - gb_seconds).abs() < 1e-12,
        "{logs:#} against {billed:?}"
    );
}

#[test]
fn invocations_failed_by_init_errors_are_logged_as_lambda_logs_an_init_failed_in_the_invocation() {
    // Every process reports an init error and exits: each invocation fails, and Lambda logs
    // each, after an `INIT_REPORT … Phase: invoke Status: error` line for the init that
    // failed in it, with a REPORT that says the error and has no `Init Duration`. The error
    // type logged is the `Lambda-Runtime-Function-Error-Type` header's, not the body's.
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let script = r#"curl -sS -o /dev/null -H 'Lambda-Runtime-Function-Error-Type: Runtime.NoSettings' -d '{"errorMessage":"no settings","errorType":"Config.Missing"}' "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"; exit 1"#;
    let output = run("{}", &["-n", "3", "--log-out", &log], &["sh", "-c", script]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        column(&report, "status"),
        ["init-error", "init-error", "init-error"]
    );
    assert_eq!(report["summary"]["cold_starts"], 0);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let position = |wanted: &dyn Fn(&str) -> bool| lines.iter().position(|line| wanted(line));
    for invocation in report["invocations"].as_array().unwrap() {
        let id = invocation["request_id"].as_str().unwrap();
        let start =
            position(&|line| line.ends_with(&format!("START RequestId: {id} Version: $LATEST")))
                .unwrap_or_else(|| panic!("no START of {id}: {text}"));
        let end = position(&|line| line.ends_with(&format!("END RequestId: {id}")))
            .unwrap_or_else(|| panic!("no END of {id}: {text}"));
        let report_at = position(&|line| line.contains(&format!("REPORT RequestId: {id}\t")))
            .unwrap_or_else(|| panic!("no REPORT of {id}: {text}"));
        assert!(start < end && end < report_at, "{text}");
        // Its INIT_REPORT comes right before its START.
        let init_report = lines[start - 1];
        let duration = invocation["duration_ms"].as_f64().expect("a duration");
        assert!(
            init_report.ends_with(&format!(
                " INIT_REPORT Init Duration: {duration:.2} ms\tPhase: invoke\tStatus: error\tError Type: Runtime.NoSettings"
            )),
            "{text}"
        );
        let report_line = lines[report_at];
        assert!(
            report_line.contains(&format!("\tDuration: {duration:.2} ms\t"))
                && report_line.ends_with("\tStatus: error\tError Type: Runtime.NoSettings")
                && !report_line.contains("Init Duration"),
            "{report_line}"
        );
    }
    assert_eq!(text.matches("INIT_REPORT ").count(), 3, "{text}");

    assert_logs_agree(
        &report,
        &logs_of(&log),
        serde_json::json!({ "error: Runtime.NoSettings": 3 }),
    );
}

#[test]
fn an_invocation_whose_runtime_exits_during_init_is_logged_with_runtime_exit_error() {
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    let script = failing_once_then_the_demo("echo connecting; exit 3");
    let output = run(
        "{}",
        &["-n", "2", "--log-out", &log],
        &["sh", "-c", &script],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["exit-error", "ok"]);
    let text = std::fs::read_to_string(&log).unwrap();
    let init_reports: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" INIT_REPORT "))
        .collect();
    assert_eq!(init_reports.len(), 1, "{text}");
    assert!(
        init_reports[0].ends_with("\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError"),
        "{text}"
    );
    // What the runtime wrote before it exited comes before the platform's lines.
    let connecting = text.find(" connecting\n").expect("the runtime's output");
    assert!(connecting < text.find(" INIT_REPORT ").unwrap(), "{text}");
    // Lambda's lines of the exit come after its `START`, before its `END`.
    let failed = report["invocations"][0]["request_id"].as_str().unwrap();
    assert_runtime_exit_logged(&text, failed, "Runtime exited with error: exit status 3");
    let start = format!(" START RequestId: {failed} ");
    assert!(
        text.find(&start).unwrap() < text.find(" Error: Runtime exited").unwrap(),
        "{text}"
    );
    // The restart after it is a cold start, with an `Init Duration`, in both.
    assert_eq!(report["summary"]["cold_starts"], 1);
    assert_logs_agree(
        &report,
        &logs_of(&log),
        serde_json::json!({ "error: Runtime.ExitError": 1, "success": 1 }),
    );
}

/// On Lambda Managed Instances per-invocation timeouts are not enforced (the remaining time
/// can read zero or negative while the code keeps running, and several invocations share one
/// process): a runtime that answers in time, then works on before asking again, is no
/// timeout there, and its process (which other invocations may be using) is not reset.
/// The same whether `--init-type` or `--env` says so, and billed as Managed Instances are.
#[test]
fn work_after_the_response_is_no_timeout_on_managed_instances() {
    let script = WORKS_ON_AFTER_ITS_FIRST_ANSWER;
    for managed_instances in [
        ["--init-type", "lambda-managed-instances"],
        [
            "--env",
            "AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances",
        ],
    ] {
        let mut options = vec!["-n", "2", "--timeout", "1"];
        options.extend(managed_instances);
        let output = run("{}", &options, &["sh", "-c", script]);
        assert!(
            output.status.success(),
            "{managed_instances:?}: {}",
            stderr(&output)
        );
        let report = json(&output);
        assert_eq!(
            column(&report, "status"),
            ["ok", "ok"],
            "{managed_instances:?}"
        );
        assert_eq!(report["resets"]["count"], 0, "{:#}", report["resets"]);
        let prices = report["resources"]["billing"]["prices"].as_str().unwrap();
        assert!(prices.contains("Managed Instances"), "{prices}");
    }
}

/// With invocations at once (`-c`), the loop that works on after its answer is the one whose
/// invocation ran past its deadline, if any did: another loop's prompt `GET /next` does not end
/// the slow loop's invocation and leave its own running.
#[test]
fn under_concurrency_the_slow_loops_invocation_is_the_one_timed_out() {
    let logs = tempfile::tempdir().unwrap();
    let log = temp_path(&logs, "run.log");
    // Loop `slow` answers at once, then works 2 s; loop `quick` answers after 0.3 s and asks
    // again at once.
    let script = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
serve() {
  while true; do
    id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
    if [ "$1" = quick ]; then sleep 0.3; fi
    curl -sS -o /dev/null -d '"ok"' "$api/$id/response"
    if [ "$1" = slow ] && mkdir "$TMPDIR/slow" 2>/dev/null; then echo "slow-loop $id"; sleep 2; fi
  done
}
serve slow & serve quick & wait"#;
    let output = run(
        "{}",
        &["-n", "2", "-c", "2", "--timeout", "1", "--log-out", &log],
        &["sh", "-c", script],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let slow = text
        .lines()
        .find_map(|line| line.split("slow-loop ").nth(1))
        .unwrap_or_else(|| panic!("no slow loop: {text}"))
        .trim()
        .to_owned();
    let stderr = stderr(&output);
    if stderr.contains("timed out") {
        assert!(
            stderr.contains(&format!("invocation {slow} timed out")),
            "the slow loop served {slow}, yet: {stderr}"
        );
    }
}

/// On Managed Instances an invocation ends with its answer (README: "except on Managed
/// Instances (`-c` above 1, or that initialization type), where an invocation ends with its
/// answer"; a `GET /next` tells no loop from another there): its duration is its answer's,
/// not the time until the process next asked for work. A runtime that answers at once, then
/// works 2 s before asking again, under a 3 s timeout.
#[test]
fn on_managed_instances_an_invocation_lasts_until_its_answer() {
    let output = run(
        "{}",
        &[
            "-n",
            "2",
            "--timeout",
            "3",
            "--init-type",
            "lambda-managed-instances",
        ],
        &["sh", "-c", WORKS_ON_AFTER_ITS_FIRST_ANSWER],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(column(&report, "status"), ["ok", "ok"], "{report:#}");
    let first = &report["invocations"][0];
    let duration = first["duration_ms"].as_f64().expect("a duration");
    let response = first["response_ms"].as_f64().expect("a response time");
    assert!(
        duration < response + 100.0,
        "lasted {duration} ms though it answered after {response} ms: {first:#}"
    );
}

/// Under `-c` the harness pairs each `GET /next` with the answer that came first, so a
/// prompt loop's request ends the slow loop's invocation and its own runs on until another
/// request comes. Loop `slow` answers at once, then works 1 s (once); loop `quick` answers
/// after 0.3 s and asks again at once. The slow loop's invocation, answered at once, is
/// ended by the quick loop's request at 0.3 s (about 320 ms), and an invocation the quick loop
/// answered at 0.3 s by its next request after another 0.3 s (about 650 ms): neither ends
/// with its answer, as README says one does on Managed Instances.
#[test]
fn under_concurrency_a_prompt_loops_invocation_is_not_billed_a_slow_loops_work() {
    let script = r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
serve() {
  while true; do
    id=$(curl -sS -D - -o /dev/null "$api/next" | tr -d '\r' | sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')
    if [ "$1" = quick ]; then sleep 0.3; fi
    curl -sS -o /dev/null -d '"ok"' "$api/$id/response"
    if [ "$1" = slow ] && mkdir "$TMPDIR/slow" 2>/dev/null; then sleep 1; fi
  done
}
serve slow & serve quick & wait"#;
    let output = run(
        "{}",
        &["-n", "4", "-c", "2", "--timeout", "5"],
        &["sh", "-c", script],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    for invocation in report["invocations"].as_array().unwrap() {
        let duration = invocation["duration_ms"].as_f64().expect("a duration");
        let response = invocation["response_ms"].as_f64().expect("a response time");
        assert!(
            duration < response + 100.0,
            "an invocation answered within {response} ms lasted {duration} ms: {invocation:#}"
        );
    }
}
