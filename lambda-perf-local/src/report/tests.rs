//! Unit tests of the report model and renderers, on hand-made run records.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use super::*;
use crate::emulator::{
    Answer, Datagram, ErrorDocument, InvokeReply, OutputLine, OutputStream, parse_datagram,
};

use super::html::CHART_COLD_COLOR;

const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";
/// The fill of waterfall bars without fault, error or throttle, in the page's stylesheet.
const WATERFALL_BAR_COLOR: &str = "#1f77b4";
/// Epoch seconds of the first handler subsegment.
const T0: f64 = 1_760_000_000.0;

fn trace(n: u32) -> String {
    format!("1-68e8d800-{n:024x}")
}

fn parent(n: u32) -> String {
    format!("{:016x}", 0xabc0_0000_u64 + u64::from(n))
}

fn header(n: u32) -> String {
    format!("Root={};Parent={};Sampled=1", trace(n), parent(n))
}

/// One after the other, as a sequential function runs them: each result starts a second
/// after the one made before it.
fn result(request_id: &str, duration_ms: u64, answer: Answer) -> InvokeReply {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let at = *ORIGIN.get_or_init(Instant::now) + Duration::from_secs(n);
    InvokeReply {
        request_id: request_id.to_owned(),
        trace_header: None,
        deadline_ms: 0,
        queued_at: at,
        handed_out_at: Some(at),
        resolved_at: at + Duration::from_millis(duration_ms),
        answer,
    }
}

fn ok(request_id: &str, duration_ms: u64) -> InvokeReply {
    result(
        request_id,
        duration_ms,
        Answer::Response {
            body: Bytes::from_static(b"{}"),
        },
    )
}

fn run(
    index: usize,
    process: usize,
    trace: Option<u32>,
    request_id: &str,
    reply: Result<InvokeReply, NoReply>,
) -> RecordedInvocation {
    RecordedInvocation {
        index,
        process,
        environment: 0,
        trace_header: trace.map(header),
        request_id: request_id.to_owned(),
        handed_out_at: reply.as_ref().ok().and_then(|r| r.handed_out_at),
        ended_at: reply.as_ref().ok().map(|r| r.resolved_at),
        released_at: None,
        max_memory_used_bytes: None,
        reply: reply.map(RecordedReply::from),
    }
}

/// An EMF line: `metrics` as `(name, unit, values)` under one dimension set.
fn emf(facts: Value, dimensions: &[(&str, &str)], metrics: &[(&str, &str, Value)]) -> String {
    let mut line = json!({
        "_aws": {"Timestamp": 1_760_000_000_000_u64, "CloudWatchMetrics": [{
            "Namespace": "Shop",
            "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
            "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
                .collect::<Vec<_>>(),
        }]},
        "lambda_perf": facts,
    });
    for (name, value) in dimensions {
        line[*name] = json!(value);
    }
    for (name, _, values) in metrics {
        line[*name] = values.clone();
    }
    line.to_string()
}

fn cold_start_line(request_id: &str, kind: &str, init: f64) -> String {
    emf(
        json!({"start_kind": kind, "invocation": 1, "request_id": request_id,
               "environment_age_ms": 100.0, "init_duration_ms": init}),
        &[("function_name", "orders-fn"), ("service", "orders")],
        &[
            ("ColdStart", "Count", json!([1.0])),
            ("InitDuration", "Milliseconds", json!([init])),
        ],
    )
}

fn end_line(request_id: &str, kind: &str, invocation: u64, outcome: &str) -> String {
    let mut facts = json!({"start_kind": kind, "invocation": invocation,
        "request_id": request_id, "environment_age_ms": 200.0, "init_duration_ms": 45.5,
        "duration_ms": 3.25, "outcome": outcome});
    if invocation > 1 {
        facts["idle_gap_ms"] = json!(12.5);
    }
    emf(
        facts,
        &[("service", "orders")],
        &[("OrdersPlaced", "Count", json!([1.0]))],
    )
}

fn stdout(text: impl Into<String>) -> OutputLine {
    OutputLine::new(OutputStream::Stdout, text, Instant::now())
}

fn stderr(text: &str) -> OutputLine {
    OutputLine::new(OutputStream::Stderr, text, Instant::now())
}

fn datagram_raw(raw: Vec<u8>) -> Datagram {
    Datagram {
        document: parse_datagram(&raw),
        raw,
        received_at: Instant::now(),
    }
}

fn datagram(document: Value) -> Datagram {
    datagram_raw(format!("{HEADER}{document}").into_bytes())
}

/// A subsegment document; times in ms after `T0`.
fn subsegment(
    trace_n: u32,
    id: &str,
    name: &str,
    parent_id: &str,
    start_ms: f64,
    end_ms: f64,
) -> Value {
    json!({
        "name": name, "id": id, "trace_id": trace(trace_n), "parent_id": parent_id,
        "type": "subsegment", "start_time": T0 + start_ms / 1000.0,
        "end_time": T0 + end_ms / 1000.0,
    })
}

fn handler(trace_n: u32, id: &str, start_ms: f64, end_ms: f64, kind: &str) -> Value {
    let mut doc = subsegment(
        trace_n,
        id,
        "## orders-fn",
        &parent(trace_n),
        start_ms,
        end_ms,
    );
    doc["annotations"] =
        json!({"ColdStart": kind == "cold", "StartKind": kind, "Service": "orders"});
    doc
}

const H0: &str = "1000000000000000";
const WORK: &str = "1000000000000001";
const LOOKUP: &str = "1000000000000002";
const FAIL: &str = "1000000000000003";
const H1: &str = "2000000000000000";
const H4: &str = "4000000000000000";

/// Two processes in one environment: cold, warm (error), warm (unsampled), then a restart
/// that times out, and a warm invocation known only from X-Ray.
fn record() -> RunRecord {
    let invocations = vec![
        run(0, 0, Some(0), "req-0", Ok(ok("req-0", 120))),
        run(
            1,
            0,
            Some(1),
            "req-1",
            Ok(result(
                "req-1",
                20,
                Answer::Error {
                    error_type: Some("Unhandled".into()),
                    error: ErrorDocument::from_body(Bytes::from_static(
                        br#"{"errorType":"OrderError","errorMessage":"no items"}"#,
                    )),
                },
            )),
        ),
        run(2, 0, None, "req-2", Ok(ok("req-2", 10))),
        run(
            3,
            1,
            Some(3),
            "req-3",
            Err(NoReply::new(
                NoReplyKind::Timeout,
                "timed out waiting for invocation req-3 to finish (waited 3s)",
            )),
        ),
        run(4, 1, Some(4), "req-4", Ok(ok("req-4", 30))),
    ];
    let first = RecordedProcess {
        index: 0,
        environment: 0,
        output: vec![
            stdout(cold_start_line("req-0", "cold", 45.5)),
            stdout("handling an order"),
            stdout(end_line("req-0", "cold", 1, "success")),
            stderr("a warning"),
            stdout(end_line("req-1", "warm", 2, "error")),
            stdout(end_line("req-2", "warm", 3, "success")),
        ],
        exit: Some("signal: 9 (SIGKILL)".into()),
        stopped_by_harness: Some(HarnessStop::Restart),
        ..RecordedProcess::default()
    };
    let second = RecordedProcess {
        index: 1,
        environment: 0,
        output: vec![stdout(cold_start_line("req-3", "restart", 50.0))],
        exit: None,
        ..RecordedProcess::default()
    };
    let mut h4 = handler(4, H4, 0.0, 25.0, "warm");
    h4["metadata"] = json!({"lambda_perf": {"start_kind": "warm", "invocation": 2,
        "request_id": "req-4", "idle_gap_ms": 7.0, "init_duration_ms": 50.0}});
    let mut failure = subsegment(0, FAIL, "nested_failure", H0, 85.0, 90.0);
    failure["fault"] = json!(true);
    failure["cause"] = json!({"exceptions": [{"id": "aaaaaaaaaaaaaaaa", "type": "Error",
        "message": "boom"}]});
    let datagrams = vec![
        // Children arrive before their parents, as they do.
        datagram(subsegment(0, LOOKUP, "lookup", WORK, 10.0, 50.0)),
        datagram(subsegment(0, WORK, "work", H0, 5.0, 80.0)),
        datagram(failure),
        datagram(handler(0, H0, 0.0, 120.0, "cold")),
        datagram(handler(1, H1, 0.0, 18.0, "warm")),
        datagram(h4),
    ];
    RunRecord {
        function: "target/debug/orders-fn".into(),
        invocations,
        processes: vec![first, second],
        datagrams,
        ..RunRecord::default()
    }
}

/// The index of the first line of `log` that contains `needle`.
fn line_position(log: &str, needle: &str) -> usize {
    log.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in {log}"))
}

fn approx(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 0.01
}

#[test]
fn invocations_get_their_start_kind_status_and_times() {
    let report = Report::build(&record());
    let kinds: Vec<Option<&str>> = report
        .invocations
        .iter()
        .map(|i| i.start_kind.as_deref())
        .collect();
    assert_eq!(
        kinds,
        [
            Some("cold"),
            Some("warm"),
            Some("warm"),
            Some("restart"),
            Some("warm")
        ]
    );
    let statuses: Vec<Status> = report.invocations.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Ok,
            Status::Error,
            Status::Ok,
            Status::Timeout,
            Status::Ok
        ]
    );
    let [first, second, third, fourth, fifth] = &report.invocations[..] else {
        panic!("five invocations");
    };
    assert!(approx(first.duration_ms.unwrap(), 120.0));
    assert_eq!(first.init_duration_ms, Some(45.5));
    assert_eq!(first.function_duration_ms, Some(3.25));
    assert_eq!(first.idle_gap_ms, None);
    assert!(first.cold_start);
    assert_eq!(first.trace_id.as_deref(), Some(trace(0).as_str()));
    assert_eq!(
        second.error.as_deref(),
        Some("OrderError: no items"),
        "the body's type wins over the header"
    );
    assert_eq!(second.init_duration_ms, None, "only the first of a process");
    assert_eq!(second.idle_gap_ms, Some(12.5));
    assert!(third.subsegments.is_empty());
    assert_eq!(third.trace_id, None);
    // The timeout: facts from its ColdStart line, no duration.
    assert_eq!(fourth.duration_ms, None);
    assert_eq!(fourth.init_duration_ms, Some(50.0));
    assert!(fourth.cold_start);
    assert!(fourth.error.as_deref().unwrap().starts_with("timed out"));
    // Known only from X-Ray: the metadata's facts (not the first: no init).
    assert_eq!(fifth.idle_gap_ms, Some(7.0));
    assert_eq!(fifth.init_duration_ms, None);
    assert_eq!(fifth.process, 1);
}

/// A timeout is logged as Lambda logs one: its REPORT says `Status: timeout`, and Lambda's
/// own `Task timed out` line follows. Logs whose REPORT lines do not say so are read back as
/// timeouts from that line.
#[test]
fn a_timeout_is_logged_as_lambda_logs_it_and_read_back_as_one() {
    let mut record = record();
    let timed_out = &mut record.invocations[3];
    (timed_out.handed_out_at, timed_out.ended_at) = (
        Some(Instant::now()),
        Some(Instant::now() + Duration::from_millis(3_000)),
    );
    let report = Report::build(&record);
    let log = crate::run::lambda_log(&record, &report);
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.contains("REPORT RequestId: req-3\t"))
        .unwrap_or_else(|| panic!("no REPORT of req-3 in {log}"));
    assert!(lines[at].ends_with("\tStatus: timeout"), "{log}");
    let message = lines[at + 1].split_once(" req-3 ").map(|(_, rest)| rest);
    assert_eq!(message, Some("Task timed out after 3.00 seconds"), "{log}");
    // Lambda's own timestamp starts the message: `… 2026-…Z req-3 Task …`.
    let words: Vec<&str> = lines[at + 1].split(' ').collect();
    let stamp = words[words.iter().position(|word| *word == "req-3").unwrap() - 1];
    assert!(stamp.len() == 24 && stamp.ends_with('Z'), "{stamp}");

    let read = |text: String| {
        crate::logs::LogsReport::build(
            &[crate::logs::LogFile {
                name: "run.log".into(),
                text,
            }],
            crate::pricing::Architecture::X86_64,
        )
        .statuses
    };
    assert_eq!(read(log.clone()).get("timeout"), Some(&1));
    let without_status = log.replace("\tStatus: timeout", "");
    assert_eq!(
        read(without_status.clone()).get("timeout"),
        Some(&1),
        "{without_status}"
    );
    let without_the_line = without_status.replace(" Task timed out after ", " Task went on after ");
    assert_eq!(read(without_the_line).get("timeout"), None);
}

#[test]
fn the_start_kind_falls_back_to_the_annotation() {
    let mut record = record();
    record.datagrams.truncate(5);
    record
        .datagrams
        .push(datagram(handler(4, H4, 0.0, 25.0, "prewarmed")));
    let report = Report::build(&record);
    assert_eq!(
        report.invocations[4].start_kind.as_deref(),
        Some("prewarmed")
    );
    assert!(!report.invocations[4].cold_start);
    record.datagrams.truncate(5);
    let report = Report::build(&record);
    assert_eq!(report.invocations[4].start_kind, None, "nothing told");
}

#[test]
fn subsegments_form_a_tree_relative_to_the_handler() {
    let report = Report::build(&record());
    let first = &report.invocations[0];
    assert_eq!(first.subsegments.len(), 1);
    let root = &first.subsegments[0];
    assert_eq!(root.name, "## orders-fn");
    assert_eq!(root.annotations["StartKind"], "cold");
    assert!(approx(root.start_ms, 0.0) && approx(root.end_ms.unwrap(), 120.0));
    let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["work", "nested_failure"]);
    let work = &root.children[0];
    assert!(approx(work.start_ms, 5.0) && approx(work.duration_ms().unwrap(), 75.0));
    assert_eq!(work.children.len(), 1);
    assert_eq!(work.children[0].name, "lookup");
    assert!(approx(work.children[0].start_ms, 10.0));
    let failure = &root.children[1];
    assert!(failure.fault);
    assert_eq!(failure.cause.as_deref(), Some("Error: boom"));
    assert!(!failure.orphan);
    let flat: Vec<(usize, &str)> = root
        .flatten()
        .into_iter()
        .map(|(depth, s)| (depth, s.name.as_str()))
        .collect();
    assert_eq!(
        flat,
        [
            (0, "## orders-fn"),
            (1, "work"),
            (2, "lookup"),
            (1, "nested_failure")
        ]
    );
    assert_eq!(first.handler().map(|h| h.id.as_str()), Some(H0));
    assert!(approx(first.waterfall_span_ms(), 120.0));
    assert_eq!(report.invocations[1].subsegments.len(), 1);
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.kind != ProblemKind::OrphanSubsegment)
    );
}

#[test]
fn summary_counts_and_nearest_rank_percentiles() {
    let report = Report::build(&record());
    let s = &report.summary;
    assert_eq!(s.invocations, 5);
    assert_eq!(s.cold_starts, 2);
    assert!(approx(s.cold_start_percent, 40.0));
    assert_eq!(s.errors, 2);
    // Durations 120, 20, 10, 30 (the timeout has none).
    let d = s.duration.as_ref().unwrap();
    assert_eq!(d.count, 4);
    assert!(approx(d.p50, 20.0) && approx(d.p90, 120.0) && approx(d.p99, 120.0));
    assert!(approx(d.min, 10.0) && approx(d.max, 120.0) && approx(d.mean, 45.0));
    let init = s.init.as_ref().unwrap();
    assert_eq!((init.count, init.p50, init.p90), (2, 45.5, 50.0));
    let cold = s.cold_vs_warm.cold.as_ref().unwrap();
    let warm = s.cold_vs_warm.warm.as_ref().unwrap();
    assert_eq!((cold.count, warm.count), (1, 3));
    assert!(approx(cold.p50, 120.0) && approx(warm.p50, 20.0));
    assert!(approx(s.cold_vs_warm.p50_difference_ms.unwrap(), 100.0));
    assert!(approx(s.cold_vs_warm.p50_ratio.unwrap(), 6.0));
    assert_eq!(s.problems, report.problems.len());
}

#[test]
fn metrics_are_aggregated_across_lines() {
    let report = Report::build(&record());
    let find = |name: &str| {
        report
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:#?}", report.metrics))
    };
    let cold = find("ColdStart");
    assert_eq!(cold.namespace, "Shop");
    assert_eq!(cold.unit, "Count");
    assert_eq!(cold.values, [1.0, 1.0]);
    assert_eq!(cold.lines, 2);
    assert_eq!(
        cold.dimensions_text(),
        "function_name=orders-fn, service=orders"
    );
    assert_eq!(find("InitDuration").values, [45.5, 50.0]);
    let orders = find("OrdersPlaced");
    assert_eq!(orders.values, [1.0, 1.0, 1.0]);
    assert_eq!(orders.sum(), 3.0);
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["ColdStart", "InitDuration", "OrdersPlaced"]);
    let processes = &report.processes;
    assert_eq!(processes.len(), 2);
    assert_eq!(
        (
            processes[0].stdout_lines,
            processes[0].stderr_lines,
            processes[0].emf_lines,
            processes[0].invocations
        ),
        (5, 1, 4, 3)
    );
}

#[test]
fn a_client_dimension_is_its_own_series() {
    let mut record = record();
    let client_line = emf(
        json!({"start_kind": "cold", "invocation": 1, "request_id": "req-0"}),
        &[("service", "orders"), ("client", "dynamodb")],
        &[("ClientInitDuration", "Milliseconds", json!([4.5]))],
    );
    record.processes[0].output.push(stdout(client_line));
    let report = Report::build(&record);
    let client = report
        .metrics
        .iter()
        .find(|m| m.name == "ClientInitDuration")
        .expect("client series");
    assert_eq!(client.dimensions["client"], "dynamodb");
    assert_eq!(client.values, [4.5]);
}

fn problems_of(report: &Report, kind: ProblemKind) -> Vec<&Problem> {
    report.problems.iter().filter(|p| p.kind == kind).collect()
}

#[test]
fn a_clean_run_has_only_the_function_failure() {
    let report = Report::build(&record());
    let kinds: Vec<ProblemKind> = report.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [ProblemKind::FunctionFailure],
        "{:#?}",
        report.problems
    );
    let problem = &report.problems[0];
    assert_eq!(problem.invocation, Some(3));
    assert!(problem.location.contains("req-3"));
}

#[test]
fn every_broken_emf_line_is_a_problem() {
    let mut record = record();
    let good: Value = serde_json::from_str(&end_line("req-x", "warm", 2, "success")).unwrap();
    let mutated = |mutate: &dyn Fn(&mut Value)| {
        let mut line = good.clone();
        mutate(&mut line);
        line.to_string()
    };
    let broken = vec![
        ("{\"_aws\": {\"Timestamp\": 1,".to_owned(), "not JSON"),
        ("[\"_aws\"]".to_owned(), "not a JSON object"),
        (
            mutated(&|l| l["_aws"]["Timestamp"] = json!("now")),
            "Timestamp",
        ),
        (
            mutated(&|l| l["_aws"]["CloudWatchMetrics"] = json!("x")),
            "CloudWatchMetrics is not an array",
        ),
        (
            mutated(&|l| {
                l.as_object_mut().unwrap().remove("service");
            }),
            "dimension \"service\"",
        ),
        (
            mutated(&|l| {
                l.as_object_mut().unwrap().remove("OrdersPlaced");
            }),
            "metric \"OrdersPlaced\" has no member",
        ),
        (
            mutated(&|l| l["OrdersPlaced"] = json!(vec![1; 101])),
            "101 values",
        ),
        (
            mutated(&|l| {
                l["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(
                    (0..101)
                        .map(|i| json!({"Name": format!("m{i}")}))
                        .collect::<Vec<_>>()
                );
                for i in 0..101 {
                    l[format!("m{i}")] = json!(1);
                }
            }),
            "101 metrics",
        ),
        (
            mutated(&|l| {
                let names: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
                for name in &names {
                    l[name] = json!("v");
                }
                l["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([names]);
            }),
            "31 dimensions",
        ),
    ];
    let first_new_line = record.processes[1].output.len() + 1;
    for (text, _) in &broken {
        record.processes[1].output.push(stdout(text.clone()));
    }
    // Not claims to be EMF: ignored.
    record.processes[1]
        .output
        .push(stdout("{\"aws\": 1} plain JSON log"));
    record.processes[1]
        .output
        .push(stderr("{\"_aws\": broken on stderr}"));
    let report = Report::build(&record);
    let found = problems_of(&report, ProblemKind::InvalidEmf);
    assert_eq!(found.len(), broken.len(), "{found:#?}");
    for (n, ((text, expected), problem)) in broken.iter().zip(&found).enumerate() {
        assert!(
            problem.message.contains(expected),
            "expected {expected:?}, got {problem:#?}"
        );
        assert_eq!(
            problem.location,
            format!("process 1, output line {}", first_new_line + n)
        );
        let excerpt = problem.excerpt.as_deref().unwrap();
        assert!(text.starts_with(excerpt.trim_end_matches('…')));
    }
    // The broken lines' metrics are not counted.
    let orders = report.metrics.iter().find(|m| m.name == "OrdersPlaced");
    assert_eq!(orders.map(|m| m.values.len()), Some(3));
}

#[test]
fn every_bad_datagram_is_a_problem() {
    let mut record = record();
    let mut missing_id = subsegment(1, "3000000000000000", "x", H1, 1.0, 2.0);
    missing_id.as_object_mut().unwrap().remove("id");
    let mut no_end = subsegment(1, "3000000000000001", "y", H1, 1.0, 2.0);
    no_end.as_object_mut().unwrap().remove("end_time");
    let mut in_progress = subsegment(1, "3000000000000002", "z", H1, 1.0, 2.0);
    in_progress.as_object_mut().unwrap().remove("end_time");
    in_progress["in_progress"] = json!(true);
    let bad_id = subsegment(1, "not-hex-at-all!!", "w", H1, 1.0, 2.0);
    let mut no_name = subsegment(1, "3000000000000003", "v", H1, 1.0, 2.0);
    no_name.as_object_mut().unwrap().remove("name");
    let mut no_trace = subsegment(1, "3000000000000004", "u", H1, 1.0, 2.0);
    no_trace.as_object_mut().unwrap().remove("trace_id");
    let mut no_start = subsegment(1, "3000000000000005", "t", H1, 1.0, 2.0);
    no_start.as_object_mut().unwrap().remove("start_time");
    let before = record.datagrams.len();
    record.datagrams.extend([
        datagram_raw(b"{\"name\":\"no header\"}".to_vec()),
        datagram_raw(b"{\"format\":\"json\",\"version\":2}\n{}".to_vec()),
        datagram_raw(format!("{HEADER}{{\"name\":").into_bytes()),
        datagram(missing_id),
        datagram(no_end),
        datagram(in_progress),
        datagram(bad_id),
        datagram(no_name),
        datagram(no_trace),
        datagram(no_start),
    ]);
    let report = Report::build(&record);
    let found = problems_of(&report, ProblemKind::InvalidXRay);
    let expected = [
        (before + 1, "no newline"),
        (before + 2, "invalid header"),
        (before + 3, "document is not JSON"),
        (before + 4, "id is missing"),
        (before + 5, "end_time is missing"),
        (before + 7, "id is not 16 hex digits"),
        (before + 8, "name is missing"),
        (before + 9, "trace_id is missing"),
        (before + 10, "start_time is missing"),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for ((datagram, message), problem) in expected.iter().zip(&found) {
        assert_eq!(problem.location, format!("datagram {datagram}"));
        assert!(
            problem.message.contains(message),
            "expected {message:?}, got {problem:#?}"
        );
        assert!(problem.excerpt.is_some());
    }
    // The in-progress one is valid and drawn, open-ended.
    let handler = &report.invocations[1].subsegments[0];
    let z = handler.children.iter().find(|c| c.name == "z").expect("z");
    assert_eq!(z.end_ms, None);
}

#[test]
fn orphans_and_unmatched_traces_are_problems_and_still_drawn() {
    let mut record = record();
    record.datagrams.extend([
        // Its parent never arrived.
        datagram(subsegment(
            1,
            "5000000000000000",
            "lost",
            "ffffffffffffffff",
            2.0,
            4.0,
        )),
        // A loop of parents.
        datagram(subsegment(
            1,
            "5000000000000001",
            "a",
            "5000000000000002",
            1.0,
            2.0,
        )),
        datagram(subsegment(
            1,
            "5000000000000002",
            "b",
            "5000000000000001",
            1.5,
            3.0,
        )),
        // A trace no invocation had.
        datagram(handler(9, "9000000000000000", 0.0, 1.0, "warm")),
    ]);
    let report = Report::build(&record);
    let orphans = problems_of(&report, ProblemKind::OrphanSubsegment);
    assert_eq!(orphans.len(), 2, "{orphans:#?}");
    assert!(orphans[0].message.contains("\"lost\""));
    assert!(orphans[0].message.contains("ffffffffffffffff"));
    assert!(orphans[0].location.starts_with("datagram 7"));
    assert_eq!(orphans[0].invocation, Some(1));
    assert!(orphans[1].message.contains("loop"));
    let roots: Vec<(&str, bool)> = report.invocations[1]
        .subsegments
        .iter()
        .map(|s| (s.name.as_str(), s.orphan))
        .collect();
    assert_eq!(roots.len(), 3, "{roots:?}");
    assert_eq!(roots[0], ("## orders-fn", false));
    assert_eq!(roots[1], ("lost", true));
    assert!(roots[2].1);
    let cycle = &report.invocations[1].subsegments[2];
    assert_eq!(cycle.children.len(), 1, "the loop is drawn once");
    assert!(cycle.children[0].children.is_empty());
    assert_eq!(
        report.invocations[1].handler().map(|h| h.name.as_str()),
        Some("## orders-fn")
    );

    let unmatched = problems_of(&report, ProblemKind::UnmatchedTrace);
    assert_eq!(unmatched.len(), 1);
    assert!(unmatched[0].location.contains(&trace(9)));
}

#[test]
fn a_trace_header_only_in_the_result_is_used() {
    let mut record = record();
    let mut result = ok("req-0", 120);
    result.trace_header = Some(header(0));
    record.invocations[0].trace_header = None;
    record.invocations[0].reply = Ok(result.into());
    let report = Report::build(&record);
    assert_eq!(report.invocations[0].subsegments.len(), 1);
}

#[test]
fn init_errors_and_process_exits_have_their_status() {
    let mut record = record();
    let mut init = result(
        "req-2",
        0,
        Answer::InitError {
            error_type: None,
            error: ErrorDocument::from_body(Bytes::from_static(
                br#"{"errorType":"Config","errorMessage":"no table"}"#,
            )),
        },
    );
    init.handed_out_at = None;
    record.invocations[2].reply = Ok(init.into());
    record.invocations[3].reply = Err(NoReply::from("function process exited (exit status: 1)"));
    let report = Report::build(&record);
    assert_eq!(report.invocations[2].status, Status::InitError);
    assert_eq!(
        report.invocations[2].error.as_deref(),
        Some("Config: no table")
    );
    assert_eq!(report.invocations[2].duration_ms, None);
    assert_eq!(report.invocations[3].status, Status::ExitError);
    assert_eq!(report.summary.errors, 3);
}

#[test]
fn json_uses_stable_names_and_round_trips() {
    let report = Report::build(&record());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["invocations"][3]["status"], "timeout");
    assert_eq!(json["invocations"][1]["status"], "error");
    assert_eq!(json["problems"][0]["kind"], "function-failure");
    assert_eq!(
        json["invocations"][0]["subsegments"][0]["children"][0]["name"],
        "work"
    );
    assert_eq!(json["summary"]["cold_starts"], 2);
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn an_empty_run_renders() {
    let report = Report::build(&RunRecord::default());
    assert_eq!(report.summary.invocations, 0);
    assert_eq!(report.summary.cold_start_percent, 0.0);
    assert!(report.summary.duration.is_none());
    let text = render_terminal(&report, 80, false);
    assert!(text.contains("Problems: none"), "{text}");
    let html = render_html(&report);
    assert!(html.contains("No X-Ray subsegments received"));
}

#[test]
fn the_terminal_report_draws_waterfalls_and_the_summary() {
    let report = Report::build(&record());
    let text = render_terminal(&report, 100, false);
    assert!(!text.contains('\x1b'), "no escape without color");
    let lines: Vec<&str> = text.lines().collect();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
    };
    // The invocation table.
    let row = find("req-1");
    assert!(row.contains("warm") && row.contains("20.0 ms") && row.contains("12.5 ms"));
    assert!(row.contains("error: OrderError: no items"), "{row}");
    assert!(find("req-0 ").contains("45.5 ms"));
    assert!(find("req-3 ").contains("timeout"));
    // The waterfall of the first invocation.
    let handler = find("## orders-fn ");
    assert!(handler.contains("0.000 ms") && handler.contains("120.0 ms"));
    assert!(handler.ends_with(&"█".repeat(20)), "{handler}");
    let work = find("├─ work");
    assert!(work.contains('█') && work.contains("75.0 ms"), "{work}");
    let lookup = find("│  └─ lookup");
    assert!(lookup.contains('█'), "{lookup}");
    let failure = find("└─ nested_failure [fault]");
    assert!(failure.contains('█'));
    assert!(find("↳ Error: boom").contains("   "));
    // The bars are placed by start: work starts later than the handler.
    let bar_start = |line: &str| line.chars().position(|c| c == '█').unwrap();
    assert!(bar_start(work) > bar_start(handler));
    assert!(bar_start(failure) > bar_start(lookup));
    // Metrics and summary.
    assert!(find("OrdersPlaced").contains("Count") && find("OrdersPlaced").contains("1, 1, 1"));
    assert!(find("function_name=orders-fn, service=orders").starts_with("    "));
    assert!(
        find("cold starts 2").contains("(40.0 %)") && find("cold starts 2").contains("errors 2")
    );
    let duration = find("n=4");
    assert!(
        duration.contains("n=4")
            && duration.contains("p50 20.0 ms")
            && duration.contains("p90 120.0 ms")
            && duration.contains("p99 120.0 ms"),
        "{duration}"
    );
    assert!(find("p50 45.5 ms").starts_with("  init "));
    assert!(find("cold vs warm").contains("+100.0 ms") && find("cold vs warm").contains("×6.00"));
    assert!(find("Problems (1)").starts_with("Problems"));
    assert!(find("✗ function failure").contains("req-3"));
    for width in [60, 100, 160] {
        let text = render_terminal(&report, width, false);
        for line in text.lines() {
            assert!(
                line.chars().count() <= width,
                "line wider than {width}: {line:?}"
            );
        }
    }
}

#[test]
fn the_terminal_report_colors_on_request() {
    let report = Report::build(&record());
    let text = render_terminal(&report, 100, true);
    assert!(text.contains("\x1b[36m"), "bars in cyan");
    assert!(text.contains("\x1b[31m"), "failures in red");
    assert!(text.contains("\x1b[0m"));
}

#[test]
fn problems_are_wrapped_never_cut() {
    let mut record = record();
    let long = "x".repeat(50);
    record.invocations[3].reply = Err(NoReply::from(format!(
        "timed out waiting for {long} and {long} and the end"
    )));
    let text = render_terminal(&Report::build(&record), 60, false);
    assert!(text.contains("the end"), "{text}");
}

#[test]
fn html_text_has_its_markup_escaped_and_its_control_characters_written_out() {
    assert_eq!(
        html::escape("a\u{0}<b> & 'c'\u{1b}[2J\n\t\r\"d\""),
        "a\\u{0}&lt;b&gt; &amp; &#39;c&#39;\\u{1b}[2J\n\t\r&quot;d&quot;"
    );
}

#[test]
fn html_is_self_contained_with_classed_waterfall_bars() {
    let mut record = record();
    record.function = "orders <fn> & \"co\"".into();
    let report = Report::build(&record);
    let html = render_html(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for external in ["<script", "http://", "https://", "<link", "@import", "url("] {
        assert!(!html.contains(external), "{external} in the page");
    }
    assert!(html.contains("orders &lt;fn&gt; &amp; &quot;co&quot;"));
    assert!(!html.contains("<fn>"));
    assert!(html.contains(&format!("background: {WATERFALL_BAR_COLOR}")));
    let bars = html.matches("class=\"wf-bar").count();
    assert_eq!(bars, 4 + 1 + 1, "one bar per subsegment");
    assert!(html.contains("class=\"wf-bar wf-fault\""));
    assert!(html.contains("style=\"left:0.000%;width:100.000%\""));
    assert!(html.contains("├─ "), "tree prefixes");
    assert!(html.contains("<svg class=\"chart\""));
    assert_eq!(html.matches("class=\"chart-bar\"").count(), 4);
    assert_eq!(
        html.matches(&format!("fill=\"{CHART_COLD_COLOR}\""))
            .count(),
        1
    );
    assert!(html.contains("OrdersPlaced"));
    assert!(html.contains("function failure"));
    assert!(html.contains("Error: boom"));
}

/// Two processes, the first spawned 30 ms before its first invocation, the second 20 ms
/// before its only one, which the OOM killer ends 400 ms in; sized at 128 MB.
fn sized_record() -> RunRecord {
    let spawned = Instant::now();
    let at = |ms: u64| spawned + Duration::from_millis(ms);
    let timed = |mut result: InvokeReply, start_ms: u64, duration_ms: u64| {
        result.handed_out_at = Some(at(start_ms));
        result.resolved_at = at(start_ms + duration_ms);
        result
    };
    let mut first = run(0, 0, None, "req-0", Ok(timed(ok("req-0", 0), 30, 12)));
    first.max_memory_used_bytes = Some(20 << 20);
    let second = run(1, 0, None, "req-1", Ok(timed(ok("req-1", 0), 50, 5)));
    let mut killed = run(2, 1, None, "req-2", Err(NoReply::out_of_memory("req-2")));
    (killed.handed_out_at, killed.ended_at) = (Some(at(120)), Some(at(520)));
    let process = |index: usize, spawned_ms: u64, out_of_memory: bool| RecordedProcess {
        index,
        spawned_at: Some(at(spawned_ms)),
        peak_memory_bytes: Some(if out_of_memory { 128 << 20 } else { 21 << 20 }),
        memory_limit_bytes: Some(128 << 20),
        out_of_memory,
        ..RecordedProcess::default()
    };
    RunRecord {
        invocations: vec![first, second, killed],
        processes: vec![process(0, 0, false), process(1, 100, true)],
        sizing: Some(SizingRecord {
            memory_mb: 128,
            cpu_cores: 128.0 / 1769.0,
            cgroup: crate::sizing::CgroupVersion::V1,
            machine_cpus: Some(2),
        }),
        ..RunRecord::default()
    }
}

/// Two processes: the first stopped by the harness for a restart after writing `stderr`
/// lines, the second running `overlapping` invocations at once (each given as start and
/// end in ms from the first hand-out).
fn concurrent_record(stderr_lines: usize, overlapping: &[(u64, u64)]) -> RunRecord {
    let origin = Instant::now();
    let at = |ms: u64| origin + Duration::from_millis(ms);
    let timed = |request_id: &str, (start, end): (u64, u64)| InvokeReply {
        request_id: request_id.to_owned(),
        trace_header: None,
        deadline_ms: 0,
        queued_at: at(start),
        handed_out_at: Some(at(start)),
        resolved_at: at(end),
        answer: Answer::Response {
            body: Bytes::from_static(b"{}"),
        },
    };
    let mut invocations = vec![run(0, 0, None, "req-0", Ok(timed("req-0", (0, 10))))];
    for (i, span) in overlapping.iter().enumerate() {
        let id = format!("req-{}", i + 1);
        invocations.push(run(i + 1, 1, None, &id, Ok(timed(&id, *span))));
    }
    let first = RecordedProcess {
        index: 0,
        environment: 0,
        output: (0..stderr_lines)
            .map(|n| stderr(&format!("stderr line {n}")))
            .collect(),
        exit: Some("signal: 9 (SIGKILL)".into()),
        stopped_by_harness: Some(HarnessStop::Restart),
        ..RecordedProcess::default()
    };
    let second = RecordedProcess {
        index: 1,
        environment: 0,
        exit: Some("signal: 9 (SIGKILL)".into()),
        stopped_by_harness: Some(HarnessStop::EndOfRun),
        ..RecordedProcess::default()
    };
    RunRecord {
        function: "fn".into(),
        invocations,
        processes: vec![first, second],
        ..RunRecord::default()
    }
}

#[test]
fn platform_init_billing_and_out_of_memory() {
    let report = Report::build(&sized_record());
    let [first, second, killed] = &report.invocations[..] else {
        panic!("three invocations");
    };
    // Init from the process's start to its first hand-out, billed with the first invocation.
    assert!(approx(first.platform_init_ms.unwrap(), 30.0));
    assert_eq!(first.billed_duration_ms, Some(42));
    assert_eq!(second.platform_init_ms, None);
    assert_eq!(second.billed_duration_ms, Some(5));
    assert!(approx(first.max_memory_used_mb.unwrap(), 20.0));
    // The OOM kill: Lambda's status and words, its duration to the kill, and no problem.
    assert_eq!(killed.status, Status::OutOfMemory);
    assert_eq!(
        killed.error.as_deref(),
        Some("Runtime.OutOfMemory: Runtime exited with error: signal: killed")
    );
    assert!(approx(killed.duration_ms.unwrap(), 400.0));
    assert!(approx(killed.platform_init_ms.unwrap(), 20.0));
    assert_eq!(killed.billed_duration_ms, Some(420));
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let resources = &report.resources;
    assert_eq!(resources.memory_size_mb, 128);
    assert_eq!(resources.out_of_memory, 1);
    assert_eq!(resources.peak_memory_mb, Some(128.0));
    assert_eq!(
        resources.sizing.as_ref().map(|s| s.cgroup.as_str()),
        Some("v1")
    );
    let billing = &resources.billing;
    assert_eq!((billing.invocations, billing.billed_ms), (3, 467));
    let gb_seconds = 0.467 * 0.125;
    assert!((billing.gb_seconds - gb_seconds).abs() < 1e-12);
    let cost = gb_seconds * 0.0000166667 + 3.0 * 0.2 / 1e6;
    assert!((billing.cost_usd - cost).abs() < 1e-15);
    assert!(report.processes[1].out_of_memory);
    assert_eq!(report.processes[1].memory_limit_mb, Some(128.0));
    // Each process's peak against its limit, in both reports.
    let text = render_terminal(&report, 100, false);
    assert!(
        text.contains("peak memory 21.0 MB of 128.0 MB (16 %)"),
        "{text}"
    );
    assert!(
        text.contains("peak memory 128.0 MB of 128.0 MB (100 %)"),
        "{text}"
    );
    let html = render_html(&report);
    assert!(html.contains(">21.0 MB of 128.0 MB (16 %)<"), "{html}");
    assert!(html.contains(">128.0 MB of 128.0 MB (100 %)<"), "{html}");

    // The same run as Lambda would log it.
    let log = crate::run::lambda_log(&sized_record(), &report);
    let reports: Vec<&str> = log.lines().filter(|l| l.contains(" REPORT ")).collect();
    assert_eq!(reports.len(), 3, "{log}");
    assert!(reports[0].ends_with(
        "REPORT RequestId: req-0\tDuration: 12.00 ms\tBilled Duration: 42 ms\tMemory Size: 128 MB\t\
         Max Memory Used: 20 MB\tInit Duration: 30.00 ms"
    ), "{log}");
    assert!(reports[2].ends_with(
        "Max Memory Used: 128 MB\tInit Duration: 20.00 ms\tStatus: error\tError Type: Runtime.OutOfMemory"
    ), "{log}");
    let order: Vec<&str> = log.lines().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(
        order,
        [
            "START",
            "END",
            "REPORT",
            "START",
            "END",
            "REPORT",
            "START",
            "RequestId:",
            "Runtime.OutOfMemory",
            "END",
            "REPORT"
        ],
        "{log}"
    );
}

/// Lambda writes a `Max Memory Used` figure in every `REPORT`: an invocation whose peak was not
/// read gets the smallest figure Lambda writes (never a 0 that reads as measured), and is
/// counted so the run can say so; one killed for memory used its whole size.
#[test]
fn an_unmeasured_peak_is_logged_as_the_smallest_figure_and_counted() {
    let record = sized_record();
    let report = Report::build(&record);
    let log = crate::run::lambda_log(&record, &report);
    let used: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" REPORT "))
        .filter_map(|l| {
            l.split('\t')
                .find(|field| field.starts_with("Max Memory Used"))
        })
        .collect();
    assert_eq!(
        used,
        [
            "Max Memory Used: 20 MB",
            "Max Memory Used: 1 MB",
            "Max Memory Used: 128 MB"
        ],
        "{log}"
    );
    assert_eq!(crate::run::unmeasured_max_memory(&report), 1);
}

#[test]
fn a_cpu_share_above_the_machines_cpus_is_said_to_be_capped() {
    // 10,240 MB is 5.79 vCPUs on Lambda: on a 2-CPU machine the function gets at most 2, and
    // the report must not claim the share was imposed as such.
    let mut record = sized_record();
    record.sizing = Some(SizingRecord {
        memory_mb: 10_240,
        cpu_cores: 10_240.0 / 1769.0,
        cgroup: crate::sizing::CgroupVersion::V2,
        machine_cpus: Some(2),
    });
    let report = Report::build(&record);
    let sizing = report.resources.sizing.as_ref().unwrap();
    assert_eq!(sizing.cpu_capped_at(), Some(2));
    let text = render_terminal(&report, 200, false);
    assert!(
        text.contains(
            "10240 MB imposed (cgroup v2, CPU 5.789 of a core; this machine has 2 CPU(s): at \
             most 2 here)"
        ),
        "{text}"
    );
    assert!(
        render_html(&report).contains("this machine has 2 CPU(s): at most 2 here"),
        "the HTML report says it too"
    );
    // A share the machine can give is not capped; an unknown machine is not either.
    record.sizing = Some(SizingRecord {
        memory_mb: 1769,
        cpu_cores: 1.0,
        cgroup: crate::sizing::CgroupVersion::V2,
        machine_cpus: Some(2),
    });
    let report = Report::build(&record);
    assert_eq!(
        report.resources.sizing.as_ref().unwrap().cpu_capped_at(),
        None
    );
    assert!(!render_terminal(&report, 200, false).contains("at most"));
    record.sizing = Some(SizingRecord {
        machine_cpus: None,
        ..record.sizing.unwrap()
    });
    let report = Report::build(&record);
    assert_eq!(
        report.resources.sizing.as_ref().unwrap().cpu_capped_at(),
        None
    );
}

#[test]
fn init_is_billed_for_on_demand_cold_starts_only() {
    // On demand (the default, or said so): the cold start's 30 ms of init are billed with
    // its 12 ms, rounded up as one.
    // A value Lambda never sets is on demand too, as the function takes it.
    for config in [
        crate::emulator::FunctionConfig::new(),
        crate::emulator::FunctionConfig::new().with_initialization_type("on-demand"),
        crate::emulator::FunctionConfig::new().with_initialization_type("warm-pool"),
    ] {
        let record = RunRecord {
            config,
            ..sized_record()
        };
        let report = Report::build(&record);
        assert_eq!(report.invocations[0].billed_duration_ms, Some(42));
    }
    // Provisioned concurrency and SnapStart bill their init apart, not per invocation.
    for kind in ["provisioned-concurrency", "snap-start"] {
        let record = RunRecord {
            config: crate::emulator::FunctionConfig::new().with_initialization_type(kind),
            ..sized_record()
        };
        let report = Report::build(&record);
        let first = &report.invocations[0];
        assert!(approx(first.platform_init_ms.unwrap(), 30.0), "{kind}");
        assert_eq!(first.billed_duration_ms, Some(12), "{kind}");
    }
}

#[test]
fn managed_instances_bill_requests_not_duration() {
    // On Lambda Managed Instances the EC2 instances are the compute bill, by the hour: an
    // invocation costs its request, not GB-seconds at the on-demand price.
    let record = RunRecord {
        config: crate::emulator::FunctionConfig::new()
            .with_initialization_type("lambda-managed-instances"),
        ..sized_record()
    };
    let report = Report::build(&record);
    let billing = &report.resources.billing;
    assert_eq!(billing.invocations, 3);
    assert_eq!(billing.usd_per_gb_second, 0.0);
    assert!(
        (billing.cost_usd - 3.0 * 0.2 / 1e6).abs() < 1e-15,
        "{billing:?}"
    );
    assert!(
        billing.prices.contains("Managed Instances"),
        "{}",
        billing.prices
    );
    let text = render_terminal(&report, 200, false);
    assert!(text.contains("EC2 instances billed apart"), "{text}");
}

#[test]
fn every_report_states_the_code_size_beside_init() {
    let artifact = |path: &str, bytes: u64| Artifact {
        path: path.to_owned(),
        bytes,
    };
    let mut record = sized_record();
    record.code = CodeSize {
        binary: Some(artifact("bootstrap", 3_250_000)),
        package: Some(artifact("function.zip", 1_260_000)),
    };
    let report = Report::build(&record);
    assert_eq!(
        report.resources.binary.as_ref().map(|b| b.bytes),
        Some(3_250_000)
    );
    assert_eq!(
        report.resources.package.as_ref().map(|p| p.bytes),
        Some(1_260_000)
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["resources"]["binary"]["bytes"], 3_250_000);
    assert_eq!(json["resources"]["package"]["path"], "function.zip");
    let text = render_terminal(&report, 100, false);
    let lines: Vec<&str> = text.lines().collect();
    let at = |start: &str| {
        lines
            .iter()
            .position(|line| line.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("a line {start:?} in {text}"))
    };
    assert!(
        lines[at("code size")].ends_with("binary 3.10 MB, package 1.20 MB"),
        "{text}"
    );
    assert_eq!(at("code size"), at("init") + 1, "beside init: {text}");
    let html = render_html(&report);
    assert!(html.contains("3.10 MB (package 1.20 MB)"), "{html}");

    // A package without a binary that could be found still has its size stated.
    record.code.binary = None;
    let report = Report::build(&record);
    let text = render_terminal(&report, 100, false);
    assert!(text.contains("binary not found, package 1.20 MB"), "{text}");
    assert!(
        render_html(&report).contains("not found (package 1.20 MB)"),
        "html"
    );
}

#[test]
fn the_last_stderr_lines_of_each_process_are_kept_and_shown() {
    let report = Report::build(&concurrent_record(14, &[(20, 30)]));
    let kept = &report.processes[0].last_stderr;
    assert_eq!(kept.len(), ReportedProcess::STDERR_LINES);
    assert_eq!(kept.first().unwrap(), "stderr line 4");
    assert_eq!(kept.last().unwrap(), "stderr line 13");
    assert_eq!(report.processes[0].stderr_lines, 14);
    assert!(report.processes[1].last_stderr.is_empty());

    let text = render_terminal(&report, 100, false);
    assert!(text.contains("last 10 of 14 stderr lines:"), "{text}");
    assert!(text.contains("      stderr line 13"), "{text}");
    assert!(!text.contains("stderr line 3\n"), "{text}");
    let html = render_html(&report);
    assert!(html.contains("stderr line 4\nstderr line 5"), "{html}");

    let few = Report::build(&concurrent_record(2, &[(20, 30)]));
    let text = render_terminal(&few, 100, false);
    assert!(
        text.contains("    stderr:\n      stderr line 0\n"),
        "{text}"
    );
}

#[test]
fn processes_the_harness_stopped_are_labelled_not_shown_as_crashes() {
    let report = Report::build(&concurrent_record(0, &[(20, 30)]));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["processes"][0]["stopped_by_harness"], "restart");
    assert_eq!(json["processes"][1]["stopped_by_harness"], "end-of-run");
    assert_eq!(json["processes"][0]["exit"], "signal: 9 (SIGKILL)");
    for text in [render_terminal(&report, 100, false), render_html(&report)] {
        assert!(!text.contains("SIGKILL"), "{text}");
        assert!(
            text.contains("stopped by the harness for a restart (same environment)"),
            "{text}"
        );
        assert!(text.contains("stopped by the harness at the end of the run"));
    }
    let text = render_terminal(&report, 100, false);
    assert!(
        text.contains("↻ the harness restarted the function: process 1, same environment 0"),
        "{text}"
    );

    let mut record = concurrent_record(0, &[(20, 30)]);
    record.processes[0].stopped_by_harness = Some(HarnessStop::FreshEnvironment);
    record.processes[0].exit = Some("exit status: 3".into());
    record.processes[1].stopped_by_harness = None;
    let text = render_terminal(&Report::build(&record), 100, false);
    assert!(text.contains("stopped by the harness for a fresh environment"));
    assert!(text.contains("✱ the harness started a fresh environment 0: process 1"));
    assert!(
        text.contains("ended: signal: 9 (SIGKILL)"),
        "a crash stays one: {text}"
    );
}

#[test]
fn a_process_stopped_after_a_failed_invocation_is_labelled_as_lambda_s_reset() {
    let mut record = concurrent_record(0, &[(20, 30)]);
    record.processes[0].stopped_by_harness = Some(HarnessStop::Reset);
    let report = Report::build(&record);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["processes"][0]["stopped_by_harness"], "reset");
    for text in [render_terminal(&report, 100, false), render_html(&report)] {
        assert!(!text.contains("SIGKILL"), "{text}");
        assert!(
            text.contains("stopped by the harness after a failed invocation, as Lambda resets"),
            "{text}"
        );
    }
    let text = render_terminal(&report, 100, false);
    assert!(
        text.contains(
            "↻ started again after a failure, as Lambda does: process 1, same environment 0"
        ),
        "{text}"
    );
}

/// The title of a concurrency group of process 1 (`concurrent_record`'s), as the terminal
/// writes it: its members and the time they span.
fn group_title(members: &str, span: &str) -> String {
    format!(
        "  {members} in flight at once, in process 1 ({span} in all, each from hand-out to answer)"
    )
}

/// The terminal report's "Concurrent invocations" section, to its first blank line.
fn concurrency_section(text: &str) -> &str {
    let section = text
        .split("Concurrent invocations\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no concurrency section: {text}"));
    section.split("\n\n").next().unwrap()
}

/// The row of invocation `n` (`#<index>`) in a concurrency section.
fn concurrency_row<'a>(section: &'a str, n: &str) -> &'a str {
    section
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{n} ")))
        .unwrap_or_else(|| panic!("no row {n}: {section}"))
}

#[test]
fn overlapping_invocations_are_grouped_and_drawn_on_one_axis() {
    // #1 and #2 overlap, #3 overlaps #2 only, #4 runs alone afterwards.
    let report = Report::build(&concurrent_record(
        0,
        &[(20, 50), (25, 60), (55, 70), (80, 90)],
    ));
    let with: Vec<&[usize]> = report
        .invocations
        .iter()
        .map(|i| i.concurrent_with.as_slice())
        .collect();
    assert_eq!(with, [&[][..], &[2], &[1, 3], &[2], &[]]);
    let started: Vec<f64> = report
        .invocations
        .iter()
        .map(|i| i.started_ms.unwrap())
        .collect();
    assert!(
        approx(started[2], 25.0) && approx(started[0], 0.0),
        "{started:?}"
    );

    let text = render_terminal(&report, 100, false);
    let section = concurrency_section(&text);
    assert!(
        section.starts_with(&group_title("#1, #2, #3", "50.0 ms")),
        "{section}"
    );
    let row = |n: &str| concurrency_row(section, n);
    assert!(row("#2").contains("+5.00 ms") && row("#2").contains("35.0 ms"));
    // The later one's bar starts further right.
    let bar_start = |n: &str| {
        row(n)
            .chars()
            .position(|c| c == '█')
            .unwrap_or_else(|| panic!("no bar in row {n}: {section}"))
    };
    assert!(bar_start("#1") < bar_start("#2") && bar_start("#2") < bar_start("#3"));
    assert!(!section.contains("#4"), "{section}");
    assert!(render_html(&report).contains("<td>#1 #3</td>"));

    // One after the other: no section at all.
    let sequential = Report::build(&concurrent_record(0, &[(20, 30), (30, 40)]));
    assert!(
        sequential
            .invocations
            .iter()
            .all(|i| i.concurrent_with.is_empty())
    );
    assert!(!render_terminal(&sequential, 100, false).contains("Concurrent invocations"));
}

/// The concurrency section draws each invocation from its hand-out to its answer, as its
/// groups are made: what a runtime does after its answer, before its next request for work
/// (which the duration counts), is left out, so that no bar reaches past its group.
#[test]
fn the_concurrency_bars_end_at_the_answer_not_at_the_next_request() {
    let mut record = concurrent_record(0, &[(20, 40), (30, 50)]);
    let origin = record.invocations[0].handed_out_at.unwrap();
    // Both runtimes asked for work long after their answers.
    record.invocations[1].released_at = Some(origin + Duration::from_millis(120));
    record.invocations[2].released_at = Some(origin + Duration::from_millis(130));
    let report = Report::build(&record);
    assert!(approx(report.invocations[1].duration_ms.unwrap(), 100.0));
    assert!(approx(report.invocations[1].in_flight_ms().unwrap(), 20.0));
    let text = render_terminal(&report, 100, false);
    let section = concurrency_section(&text);
    assert!(
        section.starts_with(&group_title("#1, #2", "30.0 ms")),
        "{section}"
    );
    let row = |n: &str| concurrency_row(section, n);
    assert!(
        row("#1").contains(" 20.0 ms") && !row("#1").contains("100 ms"),
        "{section}"
    );
    assert!(row("#2").contains("+10.0 ms"), "{section}");
}

/// The README's sample of the concurrency section draws its bars as the renderer draws them
/// for the sample's own figures (at 100 columns): each row's bar from its offset, as long as
/// its time, on the group's axis.
#[test]
fn the_readme_concurrency_sample_draws_its_bars_as_the_renderer_does() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let section = concurrency_section(&readme);
    let millis = |text: &str| -> f64 {
        text.trim_start_matches('+')
            .trim_end_matches(" ms")
            .parse()
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    };
    let (title, rows) = section.split_once('\n').unwrap();
    let span = millis(
        title
            .split_once(" (")
            .and_then(|(_, rest)| rest.split_once(" in all"))
            .unwrap_or_else(|| panic!("no span in {title:?}"))
            .0,
    );
    // "  #<n> <kind>  <start> <duration> <bar>", as `concurrency` lays it out.
    let prefix = 2 + 5 + 10 + 11 + 11;
    let mut drawn = 0;
    for row in rows.lines() {
        let columns: Vec<char> = row.chars().collect();
        let text = |from: usize, to: usize| columns[from..to].iter().collect::<String>();
        let offset = millis(text(18, 28).trim());
        let duration = millis(text(28, 39).trim());
        let expected = terminal::bar(offset, Some(offset + duration), span, 100 - prefix);
        assert_eq!(text(prefix, columns.len()), expected.trim_end(), "{row}");
        drawn += 1;
    }
    assert_eq!(drawn, 2, "{section}");
}

#[test]
fn an_invocation_the_function_crashed_in_lasts_and_is_billed_until_the_exit() {
    // On Lambda an invocation whose runtime exits (`Runtime.ExitError`) ran, and is billed,
    // until the exit; the REPORT line of the `--log-out` file says so, and the report's
    // figures must agree with it.
    let mut record = record();
    let crashed = &mut record.invocations[3];
    let at = Instant::now();
    crashed.reply = Err(NoReply::new(
        NoReplyKind::ProcessExited,
        "the function exited during an invocation (exit status: 1)",
    ));
    (crashed.handed_out_at, crashed.ended_at) = (Some(at), Some(at + Duration::from_millis(200)));
    let report = Report::build(&record);
    let invocation = &report.invocations[3];
    assert_eq!(invocation.status, Status::ExitError);
    assert!(
        invocation.duration_ms.is_some_and(|d| approx(d, 200.0)),
        "{invocation:?}"
    );
    let billed = invocation
        .billed_duration_ms
        .expect("billed until the exit");
    let log = crate::run::lambda_log(&record, &report);
    let line = log
        .lines()
        .find(|line| line.contains("REPORT RequestId: req-3\t"))
        .unwrap_or_else(|| panic!("no REPORT of req-3 in {log}"));
    assert!(
        line.contains(&format!("\tBilled Duration: {billed} ms\t")),
        "{line}"
    );
    let billed_invocations = report
        .invocations
        .iter()
        .filter(|i| i.billed_duration_ms.is_some())
        .count();
    assert_eq!(report.resources.billing.invocations, billed_invocations);
    assert_eq!(billed_invocations, record.invocations.len());
}

/// What a function writes reaches the terminal report as text, never as the terminal's own
/// control sequences: an escape in its stderr, its error message or a broken EMF line could
/// clear the screen or retitle the window of whoever reads the report.
#[test]
fn a_function_s_control_characters_are_written_out_in_the_terminal_report() {
    let mut record = concurrent_record(0, &[(20, 30)]);
    record.processes[0]
        .output
        .push(stderr("\u{1b}]0;owned\u{7}\u{1b}[2J cleared"));
    record.processes[1]
        .output
        .push(stdout("{\"_aws\": \u{1b}[2J broken}"));
    record.invocations.push(run(
        2,
        1,
        None,
        "req-2",
        Ok(result(
            "req-2",
            10,
            Answer::Error {
                error_type: Some("Unhandled".into()),
                error: ErrorDocument::from_body(Bytes::from_static(
                    b"{\"errorType\":\"E\",\"errorMessage\":\"no \\u001b[2J items\"}",
                )),
            },
        )),
    ));
    let report = Report::build(&record);
    assert!(
        !report.problems.is_empty(),
        "the broken EMF line is a problem"
    );
    let text = render_terminal(&report, 100, false);
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(!text.contains('\u{7}'), "{text:?}");
    assert!(text.contains("\\u{1b}[2J cleared"), "{text}");
    assert!(text.contains("no \\u{1b}[2J items"), "{text}");
}

/// An invocation lasts, and is billed, until its runtime asks for the next event; the caller
/// waited only for the answer. Without that request (the runtime never asked again while the
/// run lasted), it ends at the answer.
#[test]
fn an_invocation_lasts_until_its_runtime_asks_for_work_again() {
    let answered = ok("req-0", 4);
    let released_at = answered.resolved_at + Duration::from_micros(7_500);
    let mut first = run(0, 0, None, "req-0", Ok(answered));
    first.released_at = Some(released_at);
    let last = run(1, 0, None, "req-1", Ok(ok("req-1", 3)));
    let record = RunRecord {
        function: "fn".into(),
        invocations: vec![first, last],
        processes: vec![RecordedProcess::default()],
        ..RunRecord::default()
    };
    let report = Report::build(&record);
    let [first, last] = &report.invocations[..] else {
        panic!("two invocations");
    };
    assert!(approx(first.response_ms.unwrap(), 4.0), "{first:?}");
    assert!(approx(first.duration_ms.unwrap(), 11.5), "{first:?}");
    assert_eq!(first.billed_duration_ms, Some(12));
    assert!(approx(last.response_ms.unwrap(), 3.0), "{last:?}");
    assert!(approx(last.duration_ms.unwrap(), 3.0), "{last:?}");
    assert_eq!(last.billed_duration_ms, Some(3));
}

/// Lambda's END comes when the runtime asks for its next event, and a line the runtime wrote
/// just before asking, read a moment after, goes before it. A line read long after that
/// request (a background thread's, written while the process sat idle) was written then: it
/// keeps its time, after the END, and does not become part of the invocation.
#[test]
fn only_a_line_read_just_after_the_request_for_work_goes_before_the_end() {
    let answered = ok("req-0", 4);
    let handed_out_at = answered.handed_out_at.unwrap();
    let released_at = answered.resolved_at + Duration::from_millis(6);
    let mut invocation = run(0, 0, None, "req-0", Ok(answered));
    invocation.released_at = Some(released_at);
    let at = |ms: u64| handed_out_at + Duration::from_millis(ms);
    let process = RecordedProcess {
        output: vec![
            OutputLine::new(OutputStream::Stdout, "written before asking", at(11)),
            OutputLine::new(OutputStream::Stderr, "heartbeat while idle", at(2_000)),
        ],
        ..RecordedProcess::default()
    };
    let record = RunRecord {
        function: "fn".into(),
        invocations: vec![invocation],
        processes: vec![process],
        ..RunRecord::default()
    };
    let log = crate::run::lambda_log(&record, &Report::build(&record));
    let position = |needle: &str| line_position(&log, needle);
    assert!(
        position("written before asking") < position("END RequestId: req-0"),
        "{log}"
    );
    assert!(
        position("REPORT RequestId: req-0") < position("heartbeat while idle"),
        "{log}"
    );
    let stamp = |needle: &str| log.lines().nth(position(needle)).unwrap()[..23].to_owned();
    assert_ne!(
        stamp("heartbeat while idle"),
        stamp("END RequestId: req-0"),
        "{log}"
    );
}

/// Invocations at once, found in one sweep: the same pairs and groups as comparing every
/// invocation with every other, for spans of every kind (overlapping, touching, nested, of
/// zero length, starting together).
#[test]
fn the_overlaps_found_in_one_sweep_are_those_of_every_pair() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    for _ in 0..20 {
        let spans: Vec<(u64, u64)> = (0..120)
            .map(|_| {
                let start = next(400);
                (start, start + next(4) * next(30))
            })
            .collect();
        let report = Report::build(&concurrent_record(0, &spans));
        // Invocation 0 is the first process's, from 0 to 10 ms; the spans are 1..=120.
        let all: Vec<(u64, u64)> = std::iter::once((0, 10)).chain(spans.clone()).collect();
        for (i, &(start, end)) in all.iter().enumerate() {
            let expected: Vec<usize> = all
                .iter()
                .enumerate()
                .filter(|&(j, &(other_start, other_end))| {
                    j != i && other_start < end && start < other_end
                })
                .map(|(j, _)| j)
                .collect();
            assert_eq!(report.invocations[i].concurrent_with, expected, "{all:?}");
        }
        // Groups: what is reachable from each member through its overlaps.
        for group in super::timeline::concurrent_groups(&report.invocations) {
            let members: Vec<usize> = group.iter().map(|member| member.index).collect();
            let mut reached = vec![members[0]];
            let mut at = 0;
            while at < reached.len() {
                let index = reached[at];
                for &other in &report.invocations[index].concurrent_with {
                    if !reached.contains(&other) {
                        reached.push(other);
                    }
                }
                at += 1;
            }
            reached.sort_unstable();
            assert_eq!(members, reached, "{spans:?}");
        }
        // Every invocation in flight with another is in one group, and only once.
        let mut grouped: Vec<usize> = super::timeline::concurrent_groups(&report.invocations)
            .iter()
            .flatten()
            .map(|member| member.index)
            .collect();
        grouped.sort_unstable();
        let overlapping: Vec<usize> = report
            .invocations
            .iter()
            .filter(|invocation| !invocation.concurrent_with.is_empty())
            .map(|invocation| invocation.index)
            .collect();
        assert_eq!(grouped, overlapping, "{spans:?}");
    }
}

/// A run of `invocations`, two at a time, two per process.
fn long_run(invocations: usize) -> RunRecord {
    let origin = Instant::now();
    let at = |micros: u64| origin + Duration::from_micros(micros);
    let runs: Vec<RecordedInvocation> = (0..invocations)
        .map(|i| {
            let start = (i as u64 / 2) * 100;
            let request_id = format!("req-{i}");
            let reply = InvokeReply {
                request_id: request_id.clone(),
                trace_header: None,
                deadline_ms: 0,
                queued_at: at(start),
                handed_out_at: Some(at(start)),
                resolved_at: at(start + 60),
                answer: Answer::Response {
                    body: Bytes::from_static(b"{}"),
                },
            };
            let mut recorded = run(i, i / 2, None, &request_id, Ok(reply));
            recorded.released_at = Some(at(start + 70));
            recorded
        })
        .collect();
    let processes = (0..invocations / 2)
        .map(|index| RecordedProcess {
            index,
            spawned_at: Some(origin),
            log_stream: format!("stream-{index}"),
            ..RecordedProcess::default()
        })
        .collect();
    RunRecord {
        function: "fn".into(),
        invocations: runs,
        processes,
        ..RunRecord::default()
    }
}

/// A long run's report and log are built in time that grows with the run, not with its
/// square: 100,000 invocations, two at a time, over 50,000 processes (10^10 pairs of
/// invocations, 5·10^9 of invocations and processes, each a look at the whole run before),
/// and four times as many take about four times as long (five, with sorting), not sixteen:
/// under ten times as long is required (a single part that looks through the whole run for
/// each invocation stays well under any fixed limit, at 15 s, but takes 30 times as long).
#[test]
fn a_long_run_is_reported_in_time_that_grows_with_it() {
    const INVOCATIONS: usize = 100_000;
    // The quickest of a few tries: the machine's other work only adds.
    let time = |record: &RunRecord, tries: usize| {
        (0..tries)
            .map(|_| {
                let started = Instant::now();
                let report = Report::build(record);
                let log = crate::run::lambda_log(record, &report);
                let took = started.elapsed();
                (took, report, log)
            })
            .min_by_key(|(took, _, _)| *took)
            .unwrap()
    };
    let (small, _, _) = time(&long_run(INVOCATIONS / 4), 3);
    let (took, report, log) = time(&long_run(INVOCATIONS), 2);
    assert_eq!(report.invocations[0].concurrent_with, [1]);
    assert_eq!(report.invocations[3].concurrent_with, [2]);
    assert_eq!(log.matches("REPORT RequestId").count(), INVOCATIONS);
    assert!(
        took < Duration::from_secs(60) && took < small * 10,
        "a report of {INVOCATIONS} invocations took {took:?}, of a quarter as many {small:?}"
    );
}

/// A subsegment that is its own parent is said to be in a loop of parents, not to have a
/// parent the trace lacks.
#[test]
fn a_subsegment_that_is_its_own_parent_is_in_a_loop() {
    let mut record = record();
    let own = "5000000000000009";
    record
        .datagrams
        .push(datagram(subsegment(1, own, "selfish", own, 1.0, 2.0)));
    let report = Report::build(&record);
    let orphans = problems_of(&report, ProblemKind::OrphanSubsegment);
    assert_eq!(orphans.len(), 1, "{orphans:#?}");
    assert!(orphans[0].message.contains("loop"), "{orphans:#?}");
    assert!(!orphans[0].message.contains("neither"), "{orphans:#?}");
}

/// `count` subsegments of trace 1, each the parent of the next (the first a child of the
/// handler `H1`): a chain as deep as it is long.
fn chain(count: usize) -> Vec<Datagram> {
    (0..count)
        .map(|n| {
            let parent = if n == 0 {
                H1.to_owned()
            } else {
                format!("{:016x}", 0x7000_0000_0000_0000_u64 + n as u64 - 1)
            };
            let id = format!("{:016x}", 0x7000_0000_0000_0000_u64 + n as u64);
            datagram(subsegment(1, &id, &format!("level {n}"), &parent, 1.0, 2.0))
        })
        .collect()
}

/// A chain of subsegments, each in its own datagram, is drawn to a bounded depth: deeper
/// ones are counted in a problem, not drawn; the report neither overflows its stack
/// building, rendering, serializing or dropping the tree, nor writes JSON too deep to read
/// back.
#[test]
fn a_chain_of_subsegments_is_drawn_to_a_bounded_depth() {
    const LEVELS: usize = 100_000;
    let mut record = record();
    record.datagrams.extend(chain(LEVELS));
    let report = Report::build(&record);
    let handler = &report.invocations[1].subsegments[0];
    let depth = handler.flatten().iter().map(|(d, _)| *d).max().unwrap();
    assert!(depth < 60, "drawn {depth} levels deep");
    let drawn = handler.flatten().len() - 1;
    let deep = problems_of(&report, ProblemKind::DeepSubsegments);
    assert_eq!(deep.len(), 1, "{deep:#?}");
    assert!(
        deep[0]
            .message
            .contains(&format!("{} subsegment(s)", LEVELS - drawn)),
        "{deep:#?}"
    );
    assert_eq!(deep[0].invocation, Some(1));
    render_terminal(&report, 100, false);
    render_html(&report);
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
    let read_back = back.invocations[1].subsegments[0].flatten().len();
    assert_eq!(read_back, drawn + 1);
}

/// Many subsegments in one trace, in a loop of parents and in one traces no invocation
/// had, are read in time that grows with their number, not with its square.
#[test]
fn many_subsegments_are_read_in_time_that_grows_with_them() {
    let datagrams = |count: usize| -> Vec<Datagram> {
        let id = |n: usize| format!("{:016x}", 0x6000_0000_0000_0000_u64 + n as u64);
        let mut all = Vec::new();
        for n in 0..count {
            // A loop of parents in trace 1: each the child of the next, the last of the first.
            let next = id((n + 1) % count);
            all.push(datagram(subsegment(1, &id(n), "looped", &next, 1.0, 2.0)));
            // Distinct names in trace 9, which no invocation had.
            let stray = format!("{:016x}", 0x5000_0000_0000_0000_u64 + n as u64);
            let name = format!("stray {n}");
            all.push(datagram(subsegment(9, &stray, &name, H1, 1.0, 2.0)));
        }
        all
    };
    let time = |count: usize| {
        let mut record = record();
        record.datagrams.extend(datagrams(count));
        (0..2)
            .map(|_| {
                let started = Instant::now();
                let report = Report::build(&record);
                (started.elapsed(), report)
            })
            .min_by_key(|(took, _)| *took)
            .unwrap()
    };
    const COUNT: usize = 40_000;
    let (small, _) = time(COUNT / 4);
    let (took, report) = time(COUNT);
    assert!(
        took < Duration::from_secs(60) && took < small * 10,
        "{COUNT} subsegments took {took:?}, a quarter as many {small:?}"
    );
    let looped = problems_of(&report, ProblemKind::OrphanSubsegment);
    assert_eq!(looped.len(), 1, "one loop, broken once");
    let unmatched = problems_of(&report, ProblemKind::UnmatchedTrace);
    assert_eq!(unmatched.len(), 1);
    assert!(
        unmatched[0].message.len() < 1000,
        "{} characters",
        unmatched[0].message.len()
    );
    assert!(
        unmatched[0]
            .message
            .contains(&format!("{COUNT} subsegment(s)")),
        "{}",
        unmatched[0].message
    );
}

/// What the function names (subsegments, their causes, metrics, dimensions, namespaces, its
/// start kind) reaches the terminal with its control characters written out, as its errors
/// and stderr do: a name cannot clear the screen or retitle the terminal.
#[test]
fn names_the_function_chose_reach_the_terminal_written_out() {
    const ESCAPE: &str = "\u{1b}[2J";
    let mut record = record();
    let mut named = subsegment(
        1,
        "5000000000000010",
        &format!("name {ESCAPE}"),
        H1,
        1.0,
        2.0,
    );
    named["fault"] = json!(true);
    named["cause"] = json!({"exceptions": [{"id": "aaaaaaaaaaaaaaab", "type": "E",
        "message": format!("cause {ESCAPE}")}]});
    record.datagrams.push(datagram(named));
    let mut line: Value = serde_json::from_str(&emf(
        json!({"start_kind": format!("kind {ESCAPE}"), "request_id": "req-2",
               "outcome": "success"}),
        &[("service", &format!("dimension {ESCAPE}"))],
        &[(&format!("metric {ESCAPE}"), "Count", json!([1.0]))],
    ))
    .unwrap();
    line["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(format!("namespace {ESCAPE}"));
    record.processes[0]
        .output
        .insert(0, stdout(line.to_string()));
    let report = Report::build(&record);
    assert_eq!(
        report.invocations[2].start_kind.as_deref(),
        Some(format!("kind {ESCAPE}").as_str())
    );
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.kind != ProblemKind::InvalidEmf)
    );
    let text = render_terminal(&report, 120, false);
    assert!(!text.contains('\u{1b}'), "{text}");
    // The start kind's column is narrower than it: cut.
    for written_out in ["name", "cause", "kind", "metric", "dimension", "namespace"] {
        assert!(
            text.contains(&format!("{written_out} \\u{{")),
            "{written_out}: {text}"
        );
    }
}

/// A subsegment whose times are no epoch seconds (negative, or so large that its time from
/// the handler's start overflows to infinity, which JSON writes as `null`) is an invalid
/// document, not drawn: the JSON report still reads back, and no time reads `inf`.
#[test]
fn times_that_are_no_epoch_seconds_are_invalid() {
    let mut record = record();
    let mut far = subsegment(1, "5000000000000020", "far", H1, 1.0, 2.0);
    far["start_time"] = json!(1e306);
    far["end_time"] = json!(1e306);
    let mut negative = subsegment(1, "5000000000000021", "negative", H1, 1.0, 2.0);
    negative["start_time"] = json!(-5.0);
    record.datagrams.extend([datagram(far), datagram(negative)]);
    let report = Report::build(&record);
    let json = serde_json::to_string(&report).unwrap();
    let back: Result<Report, _> = serde_json::from_str(&json);
    assert!(back.is_ok(), "{back:?}");
    let text = render_terminal(&report, 100, false);
    assert!(!text.contains("inf ms"), "{text}");
    let invalid = problems_of(&report, ProblemKind::InvalidXRay);
    assert_eq!(invalid.len(), 2, "{invalid:#?}");
    assert!(
        invalid.iter().all(|p| p.message.contains("epoch seconds")),
        "{invalid:#?}"
    );
}

/// The terminal column where `needle` starts in `line` (CJK characters take two).
fn column_of(line: &str, needle: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {line:?}"));
    line[..at].width()
}

/// Names of wide characters (X-Ray and EMF take any Unicode letters) keep the columns
/// aligned: each takes two terminal columns, not one.
#[test]
fn wide_names_keep_the_columns_aligned() {
    let mut record = record();
    record.datagrams.push(datagram(subsegment(
        1,
        "5000000000000030",
        "注文を検索",
        H1,
        1.0,
        2.0,
    )));
    let line = emf(
        json!({"request_id": "req-2"}),
        &[("service", "orders")],
        &[("注文数", "Count", json!([1.0]))],
    );
    record.processes[0].output.push(stdout(line));
    let report = Report::build(&record);
    let text = render_terminal(&report, 100, false);
    let lines: Vec<&str> = text.lines().collect();
    let row = |needle: &str| -> &str {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} in {text}"))
    };
    // The waterfall of #1: its handler and the wide-named child, times right-aligned.
    let wide = row("注文を検索");
    let section = text.split("#1 warm error").nth(1).expect("waterfall #1");
    let handler = section
        .lines()
        .find(|l| l.contains("## orders-fn"))
        .unwrap();
    assert_eq!(
        column_of(wide, " ms "),
        column_of(handler, " ms "),
        "\n{handler}\n{wide}"
    );
    // The metrics: units in one column.
    let metric = row("注文数");
    let other = row("OrdersPlaced");
    assert_eq!(
        column_of(metric, "Count"),
        column_of(other, "Count"),
        "\n{metric}\n{other}"
    );
}

/// A time too long for its column (an idle gap of over 16 minutes, a figure a function made
/// up) is written in seconds, with its unit, instead of cut to digits without one.
#[test]
fn times_too_long_for_their_column_keep_their_unit() {
    let mut record = record();
    let line = emf(
        json!({"request_id": "req-2", "start_kind": "warm", "outcome": "success",
               "idle_gap_ms": 2_000_000.0, "invocation": 1, "init_duration_ms": 1e300}),
        &[("service", "orders")],
        &[],
    );
    record.processes[0].output.insert(0, stdout(line));
    let report = Report::build(&record);
    assert_eq!(report.invocations[2].idle_gap_ms, Some(2_000_000.0));
    let text = render_terminal(&report, 100, false);
    let row = text
        .lines()
        .find(|l| l.contains("req-2"))
        .expect("the row of req-2");
    assert!(row.contains(" 2000 s "), "{row}");
    assert!(row.contains(" 1e297 s "), "{row}");
    assert!(!row.contains('…'), "{row}");
}

/// A metric's count is never cut: 10,000 values read `×10000`, not `×100…`.
#[test]
fn a_metric_count_is_written_whole() {
    let mut report = Report::build(&record());
    report.metrics[0].values = vec![1.0; 10_000];
    let text = render_terminal(&report, 100, false);
    let row = text
        .lines()
        .find(|l| l.contains("ColdStart"))
        .expect("the ColdStart row");
    assert!(row.contains(" ×10000 "), "{row}");
    let other = text.lines().find(|l| l.contains("InitDuration")).unwrap();
    assert_eq!(
        column_of(row, "×") + "×10000".chars().count(),
        column_of(other, "×") + "×2".chars().count(),
        "counts right-aligned\n{row}\n{other}"
    );
}

/// Indices, processes and environments of long runs are written whole in the invocation
/// table: invocation 1100 reads `1100`, not `11…`.
#[test]
fn long_runs_have_their_indices_written_whole() {
    let mut record = long_run(2_400);
    for (n, run) in record.invocations.iter_mut().enumerate() {
        run.environment = n / 2;
    }
    for process in &mut record.processes {
        process.environment = process.index;
    }
    let report = Report::build(&record);
    let text = render_terminal(&report, 120, false);
    let row = text
        .lines()
        .find(|l| l.contains(" req-2100 "))
        .expect("the row of req-2100");
    assert!(row.contains(" 2100 req-2100 "), "{row}");
    assert!(row.contains(" 1050 1050 "), "{row}");
    assert!(!row.contains('…'), "{row}");
    let header = text.lines().find(|l| l.contains("request id")).unwrap();
    assert_eq!(
        column_of(header, "request id"),
        column_of(row, "req-2100"),
        "\n{header}\n{row}"
    );
    let concurrency = concurrency_section(&text);
    assert!(concurrency.contains("  #2101 "), "{concurrency}");
}

/// A problem quotes what is wrong shortened, as its excerpt is: a namespace, a dimension
/// name, an X-Ray name or annotation key of 100,000 characters does not make a message of
/// 100,000 characters (the terminal would print it whole, wrapped over a thousand lines).
#[test]
fn problems_quote_long_values_shortened() {
    let long = "x".repeat(100_000);
    let mut record = record();
    let mut line: Value = serde_json::from_str(&emf(
        json!({"request_id": "req-2"}),
        &[("service", "orders")],
        &[("Orders", "Count", json!([1.0]))],
    ))
    .unwrap();
    line["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(long);
    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([[long]]);
    line["_aws"]["Timestamp"] = json!(long);
    record.processes[0].output.push(stdout(line.to_string()));
    let mut named = subsegment(1, "5000000000000040", &long, H1, 1.0, 2.0);
    named["annotations"] = json!({ long.clone(): 1 });
    named["trace_id"] = json!(long);
    named["id"] = json!(long);
    named["parent_id"] = json!(long);
    record.datagrams.push(datagram(named));
    let report = Report::build(&record);
    let emf = problems_of(&report, ProblemKind::InvalidEmf);
    let xray = problems_of(&report, ProblemKind::InvalidXRay);
    assert_eq!(
        (emf.len(), xray.len()),
        (1, 1),
        "{:?}",
        report.problems.len()
    );
    for problem in emf.iter().chain(&xray) {
        assert!(
            problem.message.chars().count() < 2_000,
            "{} characters: {}…",
            problem.message.chars().count(),
            problem.message.chars().take(300).collect::<String>()
        );
    }
}

/// A negative duration in a function's `lambda_perf` facts (an init, an idle gap, a
/// handler's duration) is a problem: the report shows what the function wrote, and says it
/// cannot be.
#[test]
fn negative_durations_in_the_facts_are_problems() {
    let mut record = record();
    let line = emf(
        json!({"request_id": "req-2", "start_kind": "warm", "outcome": "success",
               "idle_gap_ms": -12.5, "duration_ms": -1.0, "init_duration_ms": 3.0}),
        &[("service", "orders")],
        &[("Orders", "Count", json!([1.0]))],
    );
    record.processes[0].output.insert(0, stdout(line));
    let report = Report::build(&record);
    let found = problems_of(&report, ProblemKind::InvalidFacts);
    assert_eq!(found.len(), 1, "{:#?}", report.problems);
    assert!(
        found[0].message.contains("idle_gap_ms is negative: -12.5"),
        "{found:#?}"
    );
    assert!(
        found[0].message.contains("duration_ms is negative: -1"),
        "{found:#?}"
    );
    assert!(!found[0].message.contains("init_duration_ms"), "{found:#?}");
    assert_eq!(found[0].location, "process 0, output line 1");
    assert!(render_terminal(&report, 100, false).contains("invalid lambda_perf facts"));
}

/// An EMF document after a prefix (a timestamp, a request id, a level) is EMF, as
/// CloudWatch takes it in Lambda and as `lambda-perf logs` reads the run's log: its metrics
/// and facts count, and it is no problem. The report and the log of the same run agree on
/// how many EMF lines there were.
#[test]
fn an_emf_document_after_a_prefix_is_emf() {
    let mut record = record();
    for process in &mut record.processes {
        process.log_stream = format!("2026/12/06/[$LATEST]{:032x}", process.environment);
    }
    let document = emf(
        json!({"request_id": "req-2", "start_kind": "prefixed", "outcome": "success",
               "invocation": 3}),
        &[("service", "orders")],
        &[("Prefixed", "Count", json!([1.0]))],
    );
    let prefixed = format!("2026-12-06T17:44:26.990Z\treq-2\tINFO\t{document}");
    record.processes[0].output.insert(0, stdout(prefixed));
    let report = Report::build(&record);
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.kind != ProblemKind::InvalidEmf),
        "{:#?}",
        report.problems
    );
    assert!(report.metrics.iter().any(|m| m.name == "Prefixed"));
    assert_eq!(
        report.invocations[2].start_kind.as_deref(),
        Some("prefixed")
    );
    let log = crate::run::lambda_log(&record, &report);
    let logs = crate::logs::LogsReport::build(
        &[crate::logs::LogFile {
            name: "run.log".into(),
            text: log,
        }],
        crate::pricing::Architecture::X86_64,
    );
    let emf_lines: usize = report.processes.iter().map(|p| p.emf_lines).sum();
    assert_eq!(emf_lines, logs.lines.emf);
}

/// A start kind lambda-perf does not report is counted as a warm start, and said so: never
/// taken in silence into the warm figures.
#[test]
fn a_start_kind_lambda_perf_does_not_report_is_a_problem() {
    let mut record = record();
    let line = emf(
        json!({"request_id": "req-2", "start_kind": "banana", "outcome": "success",
               "duration_ms": 1.0}),
        &[("service", "orders")],
        &[("Orders", "Count", json!([1.0]))],
    );
    record.processes[0].output.insert(0, stdout(line));
    let report = Report::build(&record);
    let found = problems_of(&report, ProblemKind::InvalidFacts);
    assert_eq!(found.len(), 1, "{:#?}", report.problems);
    assert!(
        found[0]
            .message
            .contains("start_kind \"banana\" is none of cold, restart, warm, prewarmed, restored"),
        "{found:#?}"
    );
    // Every kind lambda-perf reports is none.
    for kind in lambda_perf_core::StartKind::ALL {
        let mut record = self::record();
        let line = emf(
            json!({"request_id": "req-2", "start_kind": kind.as_str(), "outcome": "success"}),
            &[("service", "orders")],
            &[("Orders", "Count", json!([1.0]))],
        );
        record.processes[0].output.insert(0, stdout(line));
        let report = Report::build(&record);
        assert!(
            problems_of(&report, ProblemKind::InvalidFacts).is_empty(),
            "{kind:?}: {:#?}",
            report.problems
        );
    }
}

/// A runtime that failed its init wrote its last lines before it failed: read a moment after
/// its exit (its output comes from a pipe, read by a task of its own), they still go before
/// the platform's lines of the invocation its init failed in, as in Lambda's log.
#[test]
fn what_a_runtime_wrote_before_its_init_failed_goes_before_the_init_report() {
    let spawned_at = Instant::now();
    let at = |micros: u64| spawned_at + Duration::from_micros(micros);
    let exited = RecordedInvocation {
        index: 0,
        process: 0,
        environment: 0,
        trace_header: None,
        request_id: "req-0".into(),
        reply: Err(NoReply::new(
            NoReplyKind::ProcessExited,
            "the function exited during its init (exit status: 3)",
        )),
        handed_out_at: None,
        ended_at: Some(at(2_000)),
        released_at: None,
        max_memory_used_bytes: None,
    };
    let process = RecordedProcess {
        spawned_at: Some(spawned_at),
        output: vec![
            OutputLine::new(OutputStream::Stdout, "connecting", at(2_035)),
            OutputLine::new(OutputStream::Stderr, "no settings", at(2_050)),
        ],
        exit: Some("exit status: 3".into()),
        ..RecordedProcess::default()
    };
    let record = RunRecord {
        function: "fn".into(),
        invocations: vec![exited],
        processes: vec![process],
        ..RunRecord::default()
    };
    let log = crate::run::lambda_log(&record, &Report::build(&record));
    let position = |needle: &str| line_position(&log, needle);
    let init_report = position("INIT_REPORT Init Duration: 2.00 ms\tPhase: invoke");
    assert!(position("connecting") < init_report, "{log}");
    assert!(position("no settings") < init_report, "{log}");
    assert!(
        init_report < position("START RequestId: req-0")
            && position("START RequestId: req-0") < position("END RequestId: req-0")
            && position("END RequestId: req-0") < position("REPORT RequestId: req-0"),
        "{log}"
    );
}

/// A runtime that exited during an invocation, or that the kernel killed for memory, wrote
/// its last lines (a panic message) before it ended: read a moment after its exit (its output
/// comes from a pipe, read by a task of its own), they still go before Lambda's lines of that
/// exit, its `END` and its `REPORT`, as in Lambda's log.
#[test]
fn what_a_runtime_wrote_before_it_exited_in_an_invocation_goes_before_its_end() {
    for failure in [
        NoReply::new(
            NoReplyKind::ProcessExited,
            "the function exited during an invocation (exit status: 101)",
        ),
        NoReply::out_of_memory("req-0"),
    ] {
        let spawned_at = Instant::now();
        let at = |micros: u64| spawned_at + Duration::from_micros(micros);
        let crashed = RecordedInvocation {
            index: 0,
            process: 0,
            environment: 0,
            trace_header: None,
            request_id: "req-0".into(),
            reply: Err(failure.clone()),
            handed_out_at: Some(at(1_000)),
            ended_at: Some(at(3_000)),
            released_at: None,
            max_memory_used_bytes: None,
        };
        let process = RecordedProcess {
            spawned_at: Some(spawned_at),
            output: vec![
                OutputLine::new(OutputStream::Stdout, "handling", at(2_000)),
                OutputLine::new(OutputStream::Stderr, "panicked at main.rs", at(3_040)),
            ],
            exit: Some("exit status: 101".into()),
            ..RecordedProcess::default()
        };
        let record = RunRecord {
            function: "fn".into(),
            invocations: vec![crashed],
            processes: vec![process],
            ..RunRecord::default()
        };
        let log = crate::run::lambda_log(&record, &Report::build(&record));
        let position = |needle: &str| line_position(&log, needle);
        let exit_line = position("RequestId: req-0 Error: Runtime exited");
        assert!(
            position("START RequestId: req-0") < position("handling"),
            "{log}"
        );
        assert!(position("handling") < position("panicked"), "{log}");
        assert!(position("panicked") < exit_line, "{failure:?}: {log}");
        assert!(
            exit_line < position("END RequestId: req-0")
                && position("END RequestId: req-0") < position("REPORT RequestId: req-0"),
            "{log}"
        );
    }
}

/// A runtime the kernel killed for memory in its init, before it asked for work, failed its
/// init in the invocation it was started for: on demand, that invocation is logged as Lambda
/// logs an init it retried and that failed again, with `Runtime.OutOfMemory` as its error
/// type and Lambda's two lines of the kill, and `lambda-perf logs` reads it back; the run's
/// report gives it that init as its duration, as the log does.
#[test]
fn an_out_of_memory_kill_in_init_is_logged_as_a_failed_init() {
    let spawned_at = Instant::now();
    let at = |micros: u64| spawned_at + Duration::from_micros(micros);
    let killed = RecordedInvocation {
        index: 0,
        process: 0,
        environment: 0,
        trace_header: None,
        request_id: "req-0".into(),
        reply: Err(NoReply::out_of_memory("req-0")),
        handed_out_at: None,
        ended_at: Some(at(30_000)),
        released_at: None,
        max_memory_used_bytes: None,
    };
    let process = RecordedProcess {
        spawned_at: Some(spawned_at),
        out_of_memory: true,
        exit: Some("signal: 9 (SIGKILL)".into()),
        ..RecordedProcess::default()
    };
    let record = RunRecord {
        function: "fn".into(),
        invocations: vec![killed],
        processes: vec![process],
        ..RunRecord::default()
    };
    let report = Report::build(&record);
    assert_eq!(report.invocations[0].status, Status::OutOfMemory);
    assert!(
        report.invocations[0]
            .duration_ms
            .is_some_and(|d| approx(d, 30.0)),
        "{:?}",
        report.invocations[0]
    );
    let log = crate::run::lambda_log(&record, &report);
    let position = |needle: &str| line_position(&log, needle);
    let init_report = position(
        "INIT_REPORT Init Duration: 30.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.OutOfMemory",
    );
    let kill = position("RequestId: req-0 Error: Runtime exited with error: signal: killed");
    assert!(
        init_report < position("START RequestId: req-0")
            && position("START RequestId: req-0") < kill
            && log
                .lines()
                .nth(kill + 1)
                .is_some_and(|line| line.ends_with(" Runtime.OutOfMemory"))
            && kill + 1 < position("END RequestId: req-0")
            && position("END RequestId: req-0") < position("REPORT RequestId: req-0"),
        "{log}"
    );
    assert!(
        log.lines()
            .nth(position("REPORT RequestId: req-0"))
            .is_some_and(|line| line.ends_with("\tStatus: error\tError Type: Runtime.OutOfMemory")),
        "{log}"
    );
    let logs = crate::logs::LogsReport::build(
        &[crate::logs::LogFile {
            name: "run.log".into(),
            text: log,
        }],
        crate::pricing::Architecture::X86_64,
    );
    assert_eq!(logs.invocations, 1);
    assert_eq!(
        logs.statuses.get("error: Runtime.OutOfMemory").copied(),
        Some(1)
    );
}

/// On Managed Instances (no `released_at`: the invocation ends with its answer), a line the
/// handler wrote just before answering, read by the pipe task a millisecond after the
/// answer, still goes before the END, as it does when the invocation ends at the next
/// `GET /next`.
#[test]
fn a_line_read_just_after_an_answer_that_ends_the_invocation_goes_before_the_end() {
    let answered = ok("req-0", 4);
    let read_at = answered.resolved_at + Duration::from_millis(1);
    let invocation = run(0, 0, None, "req-0", Ok(answered));
    assert!(invocation.released_at.is_none());
    let process = RecordedProcess {
        output: vec![OutputLine::new(
            OutputStream::Stdout,
            "written before answering",
            read_at,
        )],
        ..RecordedProcess::default()
    };
    let record = RunRecord {
        function: "fn".into(),
        invocations: vec![invocation],
        processes: vec![process],
        ..RunRecord::default()
    };
    let log = crate::run::lambda_log(&record, &Report::build(&record));
    assert!(
        line_position(&log, "written before answering")
            < line_position(&log, "END RequestId: req-0"),
        "{log}"
    );
}
