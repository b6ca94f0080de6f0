//! A full round trip with a real function process: this test binary re-executes itself as
//! a tiny custom runtime (std-only HTTP/1.1 client) speaking the Runtime API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lambda_perf_local::emulator::{
    AnswerSummary, ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess,
    HarnessError, InvokeRequest, RuntimeApi, TraceHeader,
};
use serde_json::{Value, json};

const CHILD_MARKER: &str = "LAMBDA_PERF_LOCAL_TEST_CHILD";
const WAIT: Duration = Duration::from_secs(2);

/// One HTTP/1.1 exchange with `Connection: close`; returns (status, headers, body).
fn exchange(
    api: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(api).expect("connect to the Runtime API");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

/// The child: a minimal custom runtime. Echoes events, emits one EMF line per invocation,
/// counts invocations both in memory and in `$TMPDIR/count`, and exits abruptly on `"crash"`.
fn run_child() {
    // libtest printed `test child_entry_point ... ` without a newline; end that line so the
    // first EMF document starts a line of its own.
    writeln!(std::io::stdout()).expect("stdout");
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API set");
    let tmpdir = std::env::var("TMPDIR").expect("TMPDIR set");
    let counter = std::path::Path::new(&tmpdir).join("count");
    let mut in_process = 0_u64;
    loop {
        let (status, headers, event) =
            exchange(&api, "GET", "/2018-06-01/runtime/invocation/next", b"");
        assert_eq!(status, 200);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let id = header("lambda-runtime-aws-request-id");
        if event == b"\"crash\"" {
            std::process::exit(7);
        }
        in_process += 1;
        let on_disk = std::fs::read_to_string(&counter)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        std::fs::write(&counter, on_disk.to_string()).expect("write counter");
        let emf = json!({
            "_aws": {"Timestamp": 0, "CloudWatchMetrics": []},
            "requestId": id,
        });
        writeln!(std::io::stdout(), "{emf}").expect("stdout");
        writeln!(std::io::stderr(), "handled {id}").expect("stderr");
        let response = json!({
            "event": serde_json::from_slice::<Value>(&event).unwrap_or(Value::Null),
            "trace": header("lambda-runtime-trace-id"),
            "in_process": in_process,
            "on_disk": on_disk,
        });
        let path = format!("/2018-06-01/runtime/invocation/{id}/response");
        let (status, _, _) = exchange(&api, "POST", &path, response.to_string().as_bytes());
        assert_eq!(status, 202);
    }
}

#[test]
fn child_entry_point() {
    // Only does something when this binary is re-executed by the test below.
    if std::env::var_os(CHILD_MARKER).is_some() {
        run_child();
    }
}

fn child_command() -> FunctionCommand {
    FunctionCommand::new(std::env::current_exe().expect("test binary path")).args([
        "child_entry_point",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
}

#[tokio::test]
async fn invoke_three_times_kill_and_restart_in_the_same_environment() {
    let api = RuntimeApi::start().await.expect("server starts");
    let environment = ExecutionEnvironment::new().expect("temp dir");
    let config = FunctionConfig::new()
        .with_function_name("roundtrip")
        .with_env(CHILD_MARKER, "1");
    let command = child_command();

    let process = FunctionProcess::spawn(&command, &config, &environment, &api).expect("spawn");
    for n in 1..=3_u64 {
        let result = process
            .invoke(
                &api,
                InvokeRequest::json(json!({"n": n})).with_timeout(WAIT),
            )
            .await
            .expect("invocation succeeds");
        let trace = result.trace_header.clone().expect("trace header sent");
        let body = result.into_json().expect("JSON response");
        assert_eq!(body["event"], json!({"n": n}));
        assert_eq!(body["trace"], trace);
        assert!(TraceHeader::parse(&trace).is_some_and(|t| t.is_well_formed()));
        assert_eq!(body["in_process"], n);
        assert_eq!(body["on_disk"], n);
    }
    let emf = process
        .wait_for_emf_lines(3, WAIT)
        .await
        .expect("three EMF lines");
    let ids: Vec<_> = api
        .invocations()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    let emf_ids: Vec<_> = emf
        .iter()
        .map(|doc| doc["requestId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(emf_ids, ids);
    process.kill().await.expect("killed");

    // Restart in the same environment: in-process state is gone, TMPDIR is kept.
    let restarted = FunctionProcess::spawn(&command, &config, &environment, &api).expect("spawn");
    let body = restarted
        .invoke(
            &api,
            InvokeRequest::json(json!({"n": 4})).with_timeout(WAIT),
        )
        .await
        .expect("invocation succeeds")
        .into_json()
        .expect("JSON response");
    assert_eq!(body["in_process"], 1);
    assert_eq!(body["on_disk"], 4);

    // An abrupt crash mid-invocation surfaces as ProcessExited with the output.
    match restarted
        .invoke(&api, InvokeRequest::json(json!("crash")).with_timeout(WAIT))
        .await
    {
        Err(HarnessError::ProcessExited { status, last_lines }) => {
            assert_eq!(status.and_then(|s| s.code()), Some(7));
            assert!(
                last_lines.iter().any(|l| l.starts_with("stderr: handled ")),
                "{last_lines:?}"
            );
        }
        other => panic!("expected ProcessExited, got {other:?}"),
    }
    let resolved = api
        .invocations()
        .iter()
        .filter(|r| {
            matches!(
                r.stage,
                lambda_perf_local::emulator::Stage::Resolved(AnswerSummary::Response { .. })
            )
        })
        .count();
    assert_eq!(resolved, 4);
}
