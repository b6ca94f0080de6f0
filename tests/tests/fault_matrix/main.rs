//! The fault matrix: each fault and bad input of the environment, one test each, under the
//! real `lambda_runtime` loop. Every row runs the echo function instrumented and bare under
//! the same fault and checks (`Ran::check`) that the runtime received exactly what the bare
//! function sent, that the process survived where the bare one did, that lambda-perf warned
//! once per cause and no more, and that every record written is valid; then what the row
//! itself is about. `docs/reliability.md` lists the rows.

#[path = "../support/mod.rs"]
mod support;

mod row;

use std::time::Duration;

use lambda_perf_local::emulator::{Answer, InvokeRequest};
use row::{Fault, HANDLER, MARKER_FILE, Ran, Stdout, TempDir, echo, echoes, marker_names};
use serde_json::{Value, json};
use support::dropped;

/// The handler subsegments of the `index`th invocation, in the order they were sent.
async fn handlers(ran: &Ran, index: usize) -> Vec<Value> {
    ran.instrumented
        .trace(index)
        .await
        .into_iter()
        .filter(|doc| doc["name"] == HANDLER)
        .collect()
}

/// A sampled echo at the end of a row: once its handler subsegment arrived, the documents
/// received are exactly its own (so nothing was sent for the invocations before it).
async fn only_the_last_trace_was_sent(ran: &Ran) {
    let last = ran.instrumented.replies.len() - 1;
    let trace = ran.instrumented.trace(last).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ran.instrumented.collector.documents(), trace);
    assert_eq!(trace.len(), 2, "the handler's and `echo work`: {trace:#?}");
}

// The X-Ray daemon.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_daemon_listening() {
    // A port nobody listens on: a send there draws an ICMP "port unreachable", which the
    // next send on the connected socket reports.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let ran = Fault::none().daemon_setting(address).run(echoes(3)).await;
    ran.check(&["could not send a subsegment to the X-Ray daemon"])
        .await;
    let mut counted = 0;
    for index in 0..3 {
        counted += dropped(&ran.instrumented.end_line(index).await, "xray.send_failed");
    }
    assert!(
        counted >= 1,
        "the failed sends are counted in the EMF lines"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_daemon_address() {
    an_unusable_daemon_address("not an address").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolvable_daemon_address() {
    an_unusable_daemon_address("no-such-host.invalid:2000").await;
}

/// Settings the X-Ray SDKs refuse (a malformed TCP address, though only the UDP one is used;
/// prefixes in capitals), and port 0, where no daemon can be reached: one warning names the
/// setting, says what is wrong with it and what is expected; nothing is sent, not even to the
/// default address, and every subsegment is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_address_the_x_ray_sdks_refuse() {
    for (setting, reason) in [
        (
            "tcp:garbage udp:127.0.0.1:2000",
            "its tcp address \"garbage\" has no port",
        ),
        (
            "UDP:127.0.0.1:2000 TCP:127.0.0.1:2000",
            "prefixes \"UDP\" and \"TCP\": the prefixes are `tcp:` and `udp:`, in lowercase",
        ),
        (
            "127.0.0.1:0",
            "its address \"127.0.0.1:0\" has port 0, where no daemon can be reached",
        ),
    ] {
        let ran = Fault::none().daemon_setting(setting).run(echoes(1)).await;
        ran.check(&[&format!(
            "X-Ray daemon address {setting:?} is unusable ({reason}; expected host:port or \
             \"tcp:host:port udp:host:port\", with lowercase prefixes and ports from 1 to 65535)"
        )])
        .await;
        let end = ran.instrumented.end_line(0).await;
        assert_eq!(dropped(&end, "xray.daemon_address_unusable"), 2, "{end}");
    }
}

/// A setting that cannot be used sends nothing to the default address (`127.0.0.1:2000`,
/// where a daemon may well listen) in its place: a socket bound there receives none of the
/// invocations' documents. (Documents of other tests' functions, should any send there, are
/// told apart by their trace ids.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_daemon_address_sends_nothing_to_the_default_one() {
    let default = tokio::net::UdpSocket::bind("127.0.0.1:2000")
        .await
        .expect("the default daemon address, 127.0.0.1:2000, is free for this test");
    let mut traces = Vec::new();
    let mut ends = Vec::new();
    for setting in [
        "not an address",
        "no-such-host.invalid:2000",
        "UDP:127.0.0.1:2000 TCP:127.0.0.1:2000",
        "tcp:garbage udp:127.0.0.1:2000",
    ] {
        let ran = Fault::none().daemon_setting(setting).run(echoes(2)).await;
        for index in 0..2 {
            ends.push(ran.instrumented.end_line(index).await);
            traces.push(ran.instrumented.trace_id(index).expect("a sampled trace"));
        }
    }
    // Each subsegment was counted before its end line was written; a send to the default
    // address would have come with the count.
    let mut datagram = vec![0; 65_536];
    while let Ok(received) =
        tokio::time::timeout(Duration::from_millis(300), default.recv(&mut datagram)).await
    {
        let text = String::from_utf8_lossy(&datagram[..received.unwrap()]).into_owned();
        for trace in &traces {
            assert!(
                !text.contains(trace.as_str()),
                "sent to the default address: {text}"
            );
        }
    }
    for end in ends {
        assert_eq!(dropped(&end, "xray.daemon_address_unusable"), 2, "{end}");
    }
}

/// With `AWS_XRAY_DAEMON_ADDRESS` set to `setting`, one warning names it, and every end line
/// counts the subsegments it could not send.
async fn an_unusable_daemon_address(setting: &str) {
    let ran = Fault::none().daemon_setting(setting).run(echoes(3)).await;
    ran.check(&[&format!("X-Ray daemon address {setting:?} is unusable")])
        .await;
    for index in 0..3 {
        // `echo work` and the handler's, counted before the end line is written.
        let end = ran.instrumented.end_line(index).await;
        assert_eq!(dropped(&end, "xray.daemon_address_unusable"), 2, "{end}");
    }
}

// The temp dir and the environment marker.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_temp_dir() {
    let ran = Fault::none()
        .temp_dir(TempDir::ReadOnly)
        .run(echoes(3))
        .await;
    ran.check(&["cannot use the start marker"]).await;
    assert_eq!(
        ran.instrumented.start_kinds().await,
        ["cold", "warm", "warm"]
    );
    assert!(!ran.instrumented.marker_dir.join(MARKER_FILE).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_temp_dir() {
    let ran = Fault::none()
        .temp_dir(TempDir::Missing)
        .run(echoes(3))
        .await;
    ran.check(&["cannot use the start marker"]).await;
    assert_eq!(
        ran.instrumented.start_kinds().await,
        ["cold", "warm", "warm"]
    );
    assert!(!ran.instrumented.marker_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_temp_dir() {
    let mut ran = Fault::none()
        .temp_dir(TempDir::Symlinked)
        .run(echoes(2))
        .await;
    ran.check(&[]).await;
    let side = &mut ran.instrumented;
    assert_eq!(side.start_kinds().await, ["cold", "warm"]);
    assert!(marker_names(&side.marker_dir, &side.environment));
    // The marker, through the link, tells a restarted runtime from a new environment.
    side.restart().await;
    side.invoke(echo("t-3", json!({}))).await;
    assert_eq!(
        side.end_line(2).await["lambda_perf"]["start_kind"],
        "restart"
    );
}

/// A marker of `garbage` is not this environment's: the first invocation is cold, quietly,
/// and the marker is replaced by one that names this environment.
async fn a_garbage_marker_is_replaced_quietly(garbage: Vec<u8>) {
    let ran = Fault::none()
        .temp_dir(TempDir::Marker(garbage))
        .run(echoes(2))
        .await;
    ran.check(&[]).await;
    let side = &ran.instrumented;
    assert_eq!(side.start_kinds().await, ["cold", "warm"]);
    assert!(marker_names(&side.marker_dir, &side.environment));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_text_marker() {
    a_garbage_marker_is_replaced_quietly(b"garbage\nnot a marker at all".to_vec()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_binary_marker() {
    a_garbage_marker_is_replaced_quietly(vec![0xff, 0xfe, 0x00, 0x9f, 0x80, b'\n', 0xc3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_marker() {
    let foreign = b"1700000000000\n2020/01/01/[$LATEST]0123456789abcdef0123456789abcdef".to_vec();
    let ran = Fault::none()
        .temp_dir(TempDir::Marker(foreign))
        .run(echoes(2))
        .await;
    ran.check(&[]).await;
    let side = &ran.instrumented;
    assert_eq!(side.start_kinds().await, ["cold", "warm"]);
    let first = side.end_line(0).await;
    assert!(
        first["lambda_perf"]["environment_age_ms"].as_f64().unwrap() < 60_000.0,
        "the other environment's age is not taken: {first}"
    );
    assert!(marker_names(&side.marker_dir, &side.environment));
}

// Stdout.

/// The rows where every EMF write fails: one warning, and each handler subsegment counts the
/// lines lost since the previous one (the first: the `ColdStart` line).
async fn emf_writes_fail(stdout: Stdout) {
    let ran = Fault::none().stdout(stdout).run(echoes(3)).await;
    ran.check(&["could not write EMF metrics"]).await;
    let body = ran.instrumented.reply(0).response_body().unwrap().clone();
    assert_eq!(&body[..], br#"{"token":"t-1"}"#);
    for index in 0..3 {
        let handler = handlers(&ran, index).await;
        let counted = dropped(&handler[0], "emf.write_failed");
        assert_eq!(counted, 1, "invocation {index}: {handler:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_full() {
    emf_writes_fail(Stdout::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_whose_reader_is_gone() {
    emf_writes_fail(Stdout::ReaderGone).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_closed_at_start() {
    // Rust's runtime opens /dev/null where fd 1 is closed: the writes succeed, unseen.
    let ran = Fault::none()
        .stdout(Stdout::ClosedAtStart)
        .run(echoes(3))
        .await;
    ran.check(&[]).await;
    for index in 0..3 {
        let handler = handlers(&ran, index).await;
        assert!(
            handler[0]["metadata"]["lambda_perf"]
                .get("dropped")
                .is_none()
        );
    }
}

// The handler.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error() {
    let requests = vec![
        echo("t-1", json!({ "action": "error" })),
        echo("t-2", json!({})),
    ];
    let ran = Fault::none().run(requests).await;
    ran.check(&[]).await;
    let side = &ran.instrumented;
    assert!(matches!(side.reply(0).answer, Answer::Error { .. }));
    let end = side.end_line(0).await;
    assert_eq!(end["lambda_perf"]["outcome"], "error");
    assert_eq!(end["Echoes"], json!([1.0]));
    let handler = &handlers(&ran, 0).await[0];
    assert_eq!(handler["fault"], true);
    assert_eq!(
        handler["cause"]["exceptions"][0]["message"],
        "echo failed for t-1"
    );
    assert_eq!(side.end_line(1).await["lambda_perf"]["outcome"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_panic() {
    let requests = vec![
        echo("t-1", json!({ "action": "panic" })),
        echo("t-2", json!({})),
    ];
    let ran = Fault::none().run(requests).await;
    ran.check(&[]).await;
    let side = &ran.instrumented;
    // A failed invocation, and the next one works.
    assert!(matches!(side.reply(0).answer, Answer::Error { .. }));
    assert!(matches!(side.reply(1).answer, Answer::Response { .. }));
    let end = side.end_line(0).await;
    assert_eq!(end["lambda_perf"]["outcome"], "panic");
    let handler = &handlers(&ran, 0).await[0];
    assert_eq!(handler["fault"], true);
    assert_eq!(handler["cause"]["exceptions"][0]["type"], "panic");
    let next = side.end_line(1).await;
    assert_eq!(next["lambda_perf"]["outcome"], "success");
    assert_eq!(next["lambda_perf"]["start_kind"], "warm");
}

/// An invocation due in 600 ms whose handler sleeps `sleep_ms` first; the watchdog (margin
/// 100 ms) writes at 500 ms.
fn overrunning(token: &str, sleep_ms: u64) -> InvokeRequest {
    echo(token, json!({ "sleep_ms": sleep_ms })).with_deadline_in(Duration::from_millis(600))
}

/// The timeout records of the first invocation: its EMF line, written before its deadline,
/// and its handler subsegment, in progress (what X-Ray keeps if the process is killed there,
/// and what a complete document of its id replaces).
async fn timeout_records(ran: &Ran) -> (Value, Value) {
    let side = &ran.instrumented;
    let deadline_ms = side.reply_deadline_ms(0);
    let line = side.line_with_outcome(0, "timeout").await;
    let written_ms = line["_aws"]["Timestamp"].as_u64().unwrap();
    assert!(written_ms <= deadline_ms, "{written_ms} > {deadline_ms}");
    assert_eq!(line["Echoes"], json!([1.0]), "what it had recorded");
    let handler = handlers(ran, 0).await.remove(0);
    assert_eq!(handler["fault"], true);
    assert_eq!(handler["cause"]["exceptions"][0]["type"], "timeout");
    assert_eq!(handler["metadata"]["lambda_perf"]["outcome"], "timeout");
    assert_eq!(handler["in_progress"], true, "{handler}");
    assert!(handler.get("end_time").is_none(), "{handler}");
    (line, handler)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_past_its_deadline_that_never_returns() {
    // The harness gives up at 1.5 s, long before the handler would end: as Lambda, which
    // kills the function at its deadline, the records must be out by then.
    let request = overrunning("t-1", 30_000).with_timeout(Duration::from_millis(1_500));
    let ran = Fault::none().run(vec![request]).await;
    ran.check(&[]).await;
    assert!(matches!(
        ran.instrumented.replies[0],
        Err(lambda_perf_local::emulator::HarnessError::Timeout { .. })
    ));
    timeout_records(&ran).await;
    ran.instrumented.process.kill().await.unwrap();
    let lines = ran.instrumented.lines_of(0);
    assert_eq!(lines.len(), 2, "ColdStart and the timeout line: {lines:#?}");
}

/// A handler stuck inside a nested subsegment (the slow downstream call a timeout is about)
/// when the deadline nears: what the watchdog writes includes that subsegment, in progress,
/// under the handler's; Lambda kills the function at its deadline, and a subsegment left to
/// be sent when it closes would never be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_stuck_in_a_nested_subsegment_past_its_deadline() {
    let request = echo("t-1", json!({ "nested_sleep_ms": 30_000 }))
        .with_deadline_in(Duration::from_millis(600))
        .with_timeout(Duration::from_millis(1_500));
    let ran = Fault::none().run(vec![request]).await;
    ran.check(&[]).await;
    let (_, handler) = timeout_records(&ran).await;
    let trace = ran.instrumented.trace(0).await;
    let work: Vec<&Value> = trace
        .iter()
        .filter(|doc| doc["name"] == "echo work")
        .collect();
    assert_eq!(work.len(), 1, "the open subsegment is written: {trace:#?}");
    assert_eq!(work[0]["parent_id"], handler["id"]);
    // In progress, faulted with the timeout, as the handler's copy is.
    assert_eq!(work[0]["fault"], true, "{}", work[0]);
    assert_eq!(work[0]["cause"]["exceptions"][0]["type"], "timeout");
    assert_eq!(work[0]["in_progress"], true, "{}", work[0]);
    assert!(work[0].get("end_time").is_none(), "{}", work[0]);
    ran.instrumented.process.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_past_its_deadline_that_returns_late() {
    // Lambda would have killed it; locally it returns at 1.2 s, past its deadline.
    let requests = vec![overrunning("t-1", 1_200), echo("t-2", json!({}))];
    let ran = Fault::none().run(requests).await;
    ran.check(&[]).await;
    let side = &ran.instrumented;
    let (timeout_line, early) = timeout_records(&ran).await;
    // Its response, late; then the final records: no value written twice, one handler
    // subsegment (the same id, sent again, complete) that says it ran past its deadline.
    assert!(matches!(side.reply(0).answer, Answer::Response { .. }));
    let end = side.line_with_outcome(0, "success").await;
    assert_eq!(end["lambda_perf"]["past_deadline"], true);
    assert_eq!(
        end["Echoes"],
        json!([1.0]),
        "only the value after the timeout line"
    );
    assert_eq!(timeout_line["Echoes"], json!([1.0]));
    let sent = handlers(&ran, 0).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[1]["id"], early["id"]);
    assert!(sent[1]["end_time"].is_number(), "{}", sent[1]);
    assert!(sent[1].get("in_progress").is_none(), "{}", sent[1]);
    assert_eq!(sent[1]["metadata"]["lambda_perf"]["past_deadline"], true);
    let trace = side.trace(0).await;
    let nested = trace
        .iter()
        .filter(|doc| doc["name"] == "echo work")
        .count();
    assert_eq!(nested, 1, "{trace:#?}");
    // The process goes on.
    assert_eq!(side.end_line(1).await["lambda_perf"]["outcome"], "success");
}

// Trace headers.

/// A row whose first invocations carry `headers` (`None`: no header), then one sampled echo.
/// Invocations with `headers`, then one sampled: only the last is traced; `warnings` are
/// what the instrumented side warns (each once). Returns the end lines of the first ones.
async fn unrecorded_headers(headers: &[Option<&str>], warnings: &[&str]) -> Vec<Value> {
    let mut requests: Vec<InvokeRequest> = headers
        .iter()
        .enumerate()
        .map(|(index, header)| {
            let request = echo(&format!("t-{index}"), json!({}));
            match header {
                Some(header) => request.with_trace_header(*header),
                None => request.without_trace_header(),
            }
        })
        .collect();
    requests.push(echo("t-sampled", json!({})));
    let ran = Fault::none().run(requests).await;
    ran.check(warnings).await;
    let mut ends = Vec::new();
    for index in 0..headers.len() {
        let end = ran.instrumented.end_line(index).await;
        assert_eq!(end["lambda_perf"]["outcome"], "success");
        ends.push(end);
    }
    only_the_last_trace_was_sent(&ran).await;
    ends
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_trace_headers() {
    let ends = unrecorded_headers(
        &[
            Some("garbage"),
            Some("Root=1-zzzzzzzz-zzzzzzzzzzzzzzzzzzzzzzzz;Parent=53995c3f42cd8ad8;Sampled=1"),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=not-hex;Sampled=1"),
            Some(";;=;Sampled=1;Root=;Parent="),
        ],
        // The three that ask for a trace which cannot be recorded: one warning, each counted.
        &["asks for recording (Sampled=1) but its Root or Parent is missing or malformed"],
    )
    .await;
    // "garbage" asks for no trace: untraced as an unsampled header is, nothing to report.
    let counted: Vec<&Value> = ends
        .iter()
        .map(|end| &end["lambda_perf"]["dropped"]["xray.malformed_trace_header"])
        .collect();
    assert_eq!(
        counted,
        [&Value::Null, &json!(1), &json!(1), &json!(1)],
        "{ends:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_trace_header() {
    unrecorded_headers(&[None, None], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_trace_header() {
    unrecorded_headers(
        &[Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        )],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passthrough_trace_header() {
    unrecorded_headers(&[Some("Root=1-6b03e819-84559f7b403357cb15b31940")], &[]).await;
}

// Configuration.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_disabled() {
    let ran = Fault::none()
        .env("POWERTOOLS_METRICS_DISABLED", "true")
        .run(echoes(2))
        .await;
    ran.check(&[]).await;
    for index in 0..2 {
        assert_eq!(handlers(&ran, index).await.len(), 1);
    }
    assert!(ran.instrumented.process.emf_lines().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_disabled() {
    let ran = Fault::none()
        .env("POWERTOOLS_TRACE_DISABLED", "true")
        .run(echoes(2))
        .await;
    ran.check(&[]).await;
    for index in 0..2 {
        let end = ran.instrumented.end_line(index).await;
        assert_eq!(end["token"], format!("t-{}", index + 1));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(ran.instrumented.collector.datagrams().is_empty());
}

// Responses the runtime cannot send.

/// The rows where the response cannot be serialized: lambda_runtime then ends the process
/// (an error from `run`, or the panic) — with or without lambda-perf. The records of the
/// invocation are out before, and say the response could not be captured.
async fn unserializable_response(action: &str) {
    let requests = vec![
        echo("t-1", json!({ "action": action })),
        echo("t-2", json!({})),
    ];
    let ran = Fault::none().run(requests).await;
    ran.check(&["could not be captured"]).await;
    let side = &ran.instrumented;
    // The runtime could not send the response: its loop ended, and the process with it.
    assert!(matches!(
        side.replies[0],
        Err(lambda_perf_local::emulator::HarnessError::ProcessExited { .. })
    ));
    assert!(side.process.has_exited());
    let end = side.end_line(0).await;
    assert_eq!(end["lambda_perf"]["outcome"], "success");
    assert_eq!(dropped(&end, "capture.response_not_serializable"), 1);
    let handler = &handlers(&ran, 0).await[0];
    assert!(
        handler["metadata"]["orders"]
            .get("orders-fn response")
            .is_none()
    );
    assert_eq!(dropped(handler, "capture.response_not_serializable"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_whose_serialize_fails() {
    unserializable_response("serialize_error").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_whose_serialize_panics() {
    unserializable_response("serialize_panic").await;
}
