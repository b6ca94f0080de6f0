//! `lambda-perf logs` on samples written in each documented form, and on the log
//! `lambda-perf run --log-out` writes; every figure is checked against a direct computation.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lambda_perf_local::logs::format_timestamp;
use serde_json::{Value, json};
use support::*;

/// The nearest-rank percentile, computed directly.
fn rank(values: &[f64], percent: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[n.max(1) - 1]
}

/// `{p50, p90, p99, max}` of a report field equal those of `values`.
fn assert_percentiles(field: &Value, values: &[f64], what: &str) {
    for (key, percent) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)] {
        let expected = rank(values, percent);
        let actual = field[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}.{key} in {field}"));
        assert!(
            (actual - expected).abs() < 1e-9,
            "{what} {key}: {actual} against {expected} of {values:?}"
        );
    }
    assert_eq!(field["count"], values.len(), "{what}");
}

/// One invocation of the samples.
struct Row {
    id: &'static str,
    stream: &'static str,
    duration: f64,
    billed: f64,
    memory: u32,
    used: f64,
    init: Option<f64>,
    /// SnapStart's `Restore Duration`.
    restore: Option<f64>,
}

const S1: &str = "2025/01/02/[$LATEST]4f1e0c2a9b7d4e51a8c3f60d2b9e7a14";
const S2: &str = "2025/01/02/[$LATEST]9d3b6a8e2c1f4b07b5e9d0a6c3f81e22";
const T0: u64 = 1_735_787_045_678;

const ROWS: [Row; 10] = [
    // The tail sample: two environments, with lambda-perf's EMF lines.
    Row {
        id: "r1",
        stream: S1,
        duration: 20.0,
        billed: 151.0,
        memory: 128,
        used: 40.0,
        init: Some(130.49),
        restore: None,
    },
    Row {
        id: "r2",
        stream: S1,
        duration: 5.5,
        billed: 6.0,
        memory: 128,
        used: 41.0,
        init: None,
        restore: None,
    },
    Row {
        id: "r3",
        stream: S1,
        duration: 3.25,
        billed: 4.0,
        memory: 128,
        used: 41.0,
        init: None,
        restore: None,
    },
    Row {
        id: "r4",
        stream: S2,
        duration: 25.0,
        billed: 167.0,
        memory: 128,
        used: 39.0,
        init: Some(141.2),
        restore: None,
    },
    Row {
        id: "r5",
        stream: S2,
        duration: 4.0,
        billed: 4.0,
        memory: 128,
        used: 42.0,
        init: None,
        restore: None,
    },
    // The filter-log-events sample.
    Row {
        id: "r6",
        stream: S1,
        duration: 30.0,
        billed: 190.0,
        memory: 256,
        used: 60.0,
        init: Some(159.9),
        restore: None,
    },
    Row {
        id: "r7",
        stream: S1,
        duration: 2.0,
        billed: 2.0,
        memory: 256,
        used: 61.0,
        init: None,
        restore: None,
    },
    // The JSON log format sample.
    Row {
        id: "r8",
        stream: S2,
        duration: 10.0,
        billed: 11.0,
        memory: 512,
        used: 100.0,
        init: None,
        restore: None,
    },
    // SnapStart restores: one in the JSON log format, one in text.
    Row {
        id: "r10",
        stream: S2,
        duration: 8.0,
        billed: 83.0,
        memory: 512,
        used: 90.0,
        init: None,
        restore: Some(474.16),
    },
    Row {
        id: "r11",
        stream: S2,
        duration: 6.5,
        billed: 82.0,
        memory: 512,
        used: 91.0,
        init: None,
        restore: Some(390.5),
    },
];

/// SnapStart's `Billed Restore Duration` of every restore (part of its `Billed Duration`:
/// `Duration` rounded up to the millisecond plus this).
const BILLED_RESTORE_MS: f64 = 75.0;

fn text_report(row: &Row) -> String {
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\t\
         Max Memory Used: {} MB\t",
        row.id, row.duration, row.billed, row.memory, row.used
    );
    if let Some(init) = row.init {
        let _ = write!(line, "Init Duration: {init:.2} ms\t");
    }
    if let Some(restore) = row.restore {
        let _ = write!(
            line,
            "Restore Duration: {restore:.2} ms\tBilled Restore Duration: {BILLED_RESTORE_MS} ms\t"
        );
    }
    line
}

/// lambda-perf's EMF line for an invocation.
fn emf(id: &str, kind: &str, index: u64, timestamp: u64, extra: Value) -> String {
    let mut facts = json!({"start_kind": kind, "invocation": index, "request_id": id,
        "environment_age_ms": 10.0});
    for (key, value) in extra.as_object().unwrap() {
        facts[key] = value.clone();
    }
    json!({"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [{"Namespace": "Shop",
        "Dimensions": [["service"]], "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
        "service": "orders", "Orders": [1.0], "lambda_perf": facts})
    .to_string()
}

/// The events of two execution environments (streams `S1` and `S2`): their offset from `T0`
/// in milliseconds, their stream and their message.
fn environment_events() -> Vec<(u64, &'static str, String)> {
    let client = json!({"_aws": {"Timestamp": T0, "CloudWatchMetrics": [{"Namespace": "Shop",
        "Dimensions": [["service", "client"]], "Metrics": [{"Name": "ClientInitDuration",
        "Unit": "Milliseconds"}]}]}, "service": "orders", "client": "dynamodb",
        "ClientInitDuration": [41.5]});
    // Environment 1: r1 cold, r2 warm after 1 s idle, r3 warm after 250 s idle.
    // Environment 2: r4 cold, r5 warm after 60 s idle.
    vec![
        (0, S1, "START RequestId: r1 Version: $LATEST".into()),
        (0, S1, client.to_string()),
        (
            10,
            S1,
            emf(
                "r1",
                "cold",
                1,
                T0 + 10,
                json!({"init_duration_ms": 100.0, "duration_ms": 19.0, "outcome": "success"}),
            ),
        ),
        (20, S1, "END RequestId: r1".into()),
        (20, S1, text_report(&ROWS[0])),
        (
            1_100,
            S1,
            emf(
                "r2",
                "warm",
                2,
                T0 + 1_100,
                json!({"idle_gap_ms": 1000.0, "outcome": "success", "cpu_ratio": 0.07,
                    "cpu_allotment_used": 0.967}),
            ),
        ),
        (1_110, S1, text_report(&ROWS[1])),
        (
            251_200,
            S1,
            emf(
                "r3",
                "warm",
                3,
                T0 + 251_200,
                json!({"idle_gap_ms": 250000.0, "outcome": "success", "cpu_ratio": 0.01,
                    "cpu_allotment_used": 0.138}),
            ),
        ),
        (251_210, S1, text_report(&ROWS[2])),
        (
            30,
            S2,
            emf("r4", "cold", 1, T0 + 30, json!({"init_duration_ms": 110.0})),
        ),
        (40, S2, text_report(&ROWS[3])),
        (
            60_100,
            S2,
            emf(
                "r5",
                "warm",
                2,
                T0 + 60_100,
                json!({"idle_gap_ms": 60000.0, "outcome": "success", "cpu_ratio": 0.072,
                    "cpu_allotment_used": 0.991}),
            ),
        ),
        (60_110, S2, text_report(&ROWS[4])),
    ]
}

/// The samples: `aws logs tail` output (default format, one line in the short format),
/// `filter-log-events` JSON, the JSON log format, and plain lines with malformed ones.
fn samples(dir: &tempfile::TempDir) -> Vec<String> {
    // `aws logs tail`'s timestamp (microseconds and an offset) of T0 + offset, T0 being
    // 2025-01-02T03:04:05.678Z; every offset is under 5 minutes.
    let at = |offset: u64| {
        let from_minute = 5_678 + offset;
        let seconds = from_minute / 1000;
        format!(
            "2025-01-02T03:{:02}:{:02}.{:03}000+00:00",
            4 + seconds / 60,
            seconds % 60,
            from_minute % 1000
        )
    };
    let events = environment_events();
    let mut tail = String::new();
    for (offset, stream, message) in &events {
        let _ = writeln!(tail, "{} {stream} {message}", at(*offset));
    }
    // One line in `--format short`: a timestamp without a stream.
    let _ = writeln!(tail, "2025-01-02T03:04:05 handling an order");

    let filter_events = json!({"events": [
        {"logStreamName": ROWS[5].stream, "timestamp": T0, "message": "START RequestId: r6 Version: $LATEST\n", "ingestionTime": T0, "eventId": "1"},
        {"logStreamName": ROWS[5].stream, "timestamp": T0 + 40, "message": format!("{}\nXRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: true\t\n", text_report(&ROWS[5])), "ingestionTime": T0, "eventId": "2"},
        {"logStreamName": ROWS[6].stream, "timestamp": T0 + 90, "message": format!("{}\n", text_report(&ROWS[6])), "ingestionTime": T0, "eventId": "3"},
        {"logStreamName": ROWS[6].stream, "timestamp": T0 + 95, "ingestionTime": T0, "eventId": "4"}
    ], "searchedLogStreams": []});

    let row = &ROWS[7];
    let json_format = [
        json!({"time": "2025-01-02T03:04:05.678Z", "type": "platform.start", "record": {"requestId": row.id, "version": "$LATEST"}}),
        json!({"time": "2025-01-02T03:04:05.688Z", "type": "platform.runtimeDone", "record": {"requestId": row.id, "status": "success"}}),
        json!({"time": "2025-01-02T03:04:05.689Z", "type": "platform.report", "record": {"requestId": row.id, "metrics": {"durationMs": row.duration, "billedDurationMs": row.billed, "memorySizeMB": row.memory, "maxMemoryUsedMB": row.used}, "status": "success"}}),
        json!({"time": "2025-01-02T03:04:06.100Z", "type": "platform.restoreReport", "record": {"status": "success", "metrics": {"durationMs": 474.16}}}),
        json!({"time": "2025-01-02T03:04:06.689Z", "type": "platform.report", "record": {"requestId": ROWS[8].id, "metrics": {"durationMs": ROWS[8].duration, "billedDurationMs": ROWS[8].billed, "memorySizeMB": ROWS[8].memory, "maxMemoryUsedMB": ROWS[8].used, "restoreDurationMs": ROWS[8].restore, "billedRestoreDurationMs": BILLED_RESTORE_MS}, "status": "success"}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");

    let plain = [
        "START RequestId: r9 Version: $LATEST",
        "REPORT RequestId: r9\tDuration: 1.00 ms",
        "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[",
        text_report(&ROWS[1]).as_str(),
        "an ordinary log line",
        text_report(&ROWS[9]).as_str(),
    ]
    .join("\n");

    [
        ("tail.txt", tail),
        (
            "filter.json",
            serde_json::to_string_pretty(&filter_events).unwrap(),
        ),
        ("json-format.log", json_format),
        ("plain.log", plain),
    ]
    .into_iter()
    .map(|(name, text)| {
        let path = temp_path(dir, name);
        std::fs::write(&path, text).unwrap();
        path
    })
    .collect()
}

#[test]
fn samples_of_every_form_give_the_direct_figures() {
    let dir = tempfile::tempdir().unwrap();
    let files = samples(&dir);
    let mut args = vec!["logs", "--json"];
    args.extend(files.iter().map(String::as_str));
    let output = lambda_perf(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);

    let inits: Vec<f64> = ROWS.iter().filter_map(|r| r.init).collect();
    let durations: Vec<f64> = ROWS.iter().map(|r| r.duration).collect();
    let cold: Vec<f64> = ROWS
        .iter()
        .filter(|r| r.init.is_some())
        .map(|r| r.duration)
        .collect();
    let restored: Vec<f64> = ROWS
        .iter()
        .filter(|r| r.init.is_none() && r.restore.is_some())
        .map(|r| r.duration)
        .collect();
    let warm: Vec<f64> = ROWS
        .iter()
        .filter(|r| r.init.is_none() && r.restore.is_none())
        .map(|r| r.duration)
        .collect();
    assert_eq!(report["invocations"], ROWS.len());
    assert_eq!(report["cold_starts"], inits.len());
    let percent = inits.len() as f64 * 100.0 / ROWS.len() as f64;
    assert!((report["cold_start_percent"].as_f64().unwrap() - percent).abs() < 1e-9);
    assert_percentiles(&report["init_duration_ms"], &inits, "init_duration_ms");
    let restores: Vec<f64> = ROWS.iter().filter_map(|r| r.restore).collect();
    assert_eq!(report["restores"], restores.len());
    assert_percentiles(
        &report["restore_duration_ms"],
        &restores,
        "restore_duration_ms",
    );
    assert_percentiles(&report["duration_ms"], &durations, "duration_ms");
    assert_percentiles(&report["cold_duration_ms"], &cold, "cold_duration_ms");
    assert_percentiles(
        &report["restored_duration_ms"],
        &restored,
        "restored_duration_ms",
    );
    assert_percentiles(&report["warm_duration_ms"], &warm, "warm_duration_ms");
    assert_eq!(report["memory_size_mb"], 512);
    assert_eq!(report["memory_sizes_mb"], json!([128, 256, 512]));
    assert_eq!(report["max_memory_used_mb"], 100.0);
    assert_eq!(report["memory_headroom_mb"], 412.0);
    // A restore's billed part is shown; it is already part of `Billed Duration`.
    assert_percentiles(
        &report["billed_restore_duration_ms"],
        &vec![BILLED_RESTORE_MS; restores.len()],
        "billed_restore_duration_ms",
    );
    let gb_seconds: f64 = ROWS
        .iter()
        .map(|r| r.billed / 1000.0 * f64::from(r.memory) / 1024.0)
        .sum();
    let cost = gb_seconds * 0.0000166667 + ROWS.len() as f64 * 0.20 / 1_000_000.0;
    assert!((report["billed_gb_seconds"].as_f64().unwrap() - gb_seconds).abs() < 1e-12);
    assert!((report["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-15);
    // arm64 only when asked for, at its own per-GB-second price.
    let mut arm_args = vec!["logs", "--json", "--arch", "arm64"];
    arm_args.extend(files.iter().map(String::as_str));
    let arm = json(&lambda_perf(&arm_args));
    let arm_cost = gb_seconds * 0.0000133334 + ROWS.len() as f64 * 0.20 / 1_000_000.0;
    assert_eq!(arm["prices"]["architecture"], "arm64");
    assert!((arm["cost_usd"].as_f64().unwrap() - arm_cost).abs() < 1e-15);
    assert_eq!(report["prices"]["architecture"], "x86_64");
    assert_eq!(report["statuses"], json!({"success": ROWS.len()}));

    // Malformed lines are counted, never fatal: a REPORT without its figures, a broken EMF
    // line, an event without a message; the repeated REPORT of r2 is counted once.
    let lines = &report["lines"];
    assert_eq!(lines["malformed"], 3, "{lines:#}");
    assert_eq!(lines["duplicate_reports"], 1);
    let reasons: Vec<&str> = lines["malformed_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"a REPORT line without Billed Duration"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"an EMF line that is not valid JSON"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"an event without a message"),
        "{reasons:?}"
    );

    // What lambda-perf's EMF lines add.
    let figures = &report["lambda_perf"];
    assert_eq!(figures["invocations"], 5);
    assert_eq!(figures["start_kinds"], json!({"cold": 2, "warm": 3}));
    assert_percentiles(
        &figures["init_duration_ms"],
        &[100.0, 110.0],
        "in-process init",
    );
    let side = &figures["init_side_by_side"];
    assert_eq!(side["pairs"], 2);
    assert_eq!(
        side["difference_p50_ms"].as_f64().unwrap(),
        rank(&[130.49 - 100.0, 141.2 - 110.0], 50.0)
    );
    assert_eq!(figures["client_init_ms"][0]["client"], "dynamodb");
    assert_eq!(figures["client_init_ms"][0]["duration_ms"]["max"], 41.5);
    // Is it CPU-bound? The share of its size's CPU each invocation used, where measured.
    assert_percentiles(
        &figures["cpu_allotment_used"],
        &[0.967, 0.138, 0.991],
        "cpu_allotment_used",
    );
    assert_percentiles(&figures["cpu_ratio"], &[0.07, 0.01, 0.072], "cpu_ratio");
    let reuse = &figures["reuse"];
    assert_percentiles(
        &reuse["idle_gap_ms"],
        &[1000.0, 250_000.0, 60_000.0],
        "idle gaps",
    );
    assert_eq!(reuse["longest_reused_idle_gap_ms"], 250_000.0);
    assert_eq!(reuse["environments"], 2);
    // First to last invocation seen, by the EMF timestamps.
    assert_percentiles(
        &reuse["lifetime_ms"],
        &[251_200.0 - 10.0, 60_100.0 - 30.0],
        "lifetimes",
    );
}

#[test]
fn the_text_and_html_reports_say_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let files = samples(&dir);
    let html = temp_path(&dir, "logs.html");
    let mut args = vec!["logs", "--arch", "arm64", "--html", html.as_str()];
    args.extend(files.iter().map(String::as_str));
    let output = lambda_perf(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("invocations 10   cold starts 3 (30.0 %)   restores 2"),
        "{text}"
    );
    assert!(
        text.contains("Cost (arm64, on-demand (default), us-east-1, first tier"),
        "{text}"
    );
    assert!(
        text.contains("longest idle gap after which an environment was reused: 250000 ms"),
        "{text}"
    );
    assert!(text.contains("Malformed lines: 3"), "{text}");
    assert!(
        text.contains(
            "CPU used of the size's share        3       0.97       0.99       0.99       0.99"
        ),
        "{text}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // One percentile strip (three bands) per distribution shown.
    assert!(
        page.matches("class=\"percentile\"").count() >= 3 * 5,
        "{page}"
    );
    assert!(page.contains("a REPORT line without Billed Duration"));
    assert!(
        page.contains("CPU used of the memory size's share: n=3 p50 0.97 p90 0.99 max 0.99"),
        "{page}"
    );
}

#[test]
fn an_unreadable_file_is_one_clear_error() {
    let output = lambda_perf(&["logs", "/no/such/export.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("lambda-perf: error: cannot read /no/such/export.json:"),
        "{}",
        stderr(&output)
    );
}

/// `-` reads standard input (`aws logs tail … | lambda-perf logs -`), named `stdin` in the
/// report; named twice, it is one clear error, not a second, empty read.
#[test]
fn a_dash_reads_standard_input_once() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let logs = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lambda-perf"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if !input.is_empty() {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let input = "REPORT RequestId: 6f2c0d1e-0000-4000-8000-000000000001\tDuration: 12.34 ms\t\
                 Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\
                 Init Duration: 101.50 ms\t\n\
                 REPORT RequestId: 6f2c0d1e-0000-4000-8000-000000000002\tDuration: 2.00 ms\t\
                 Billed Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t\n";
    let output = logs(&["logs", "--json", "-"], input);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["files"], json!(["stdin"]), "{report:#}");
    assert_eq!(report["invocations"], 2, "{report:#}");
    assert_eq!(report["cold_starts"], 1, "{report:#}");

    // Refused before anything is read: no input, which the child, gone at once, could not
    // take (a write to its closed pipe would fail).
    let output = logs(&["logs", "-", "-"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("lambda-perf: error: cannot read -: standard input is named"),
        "{}",
        stderr(&output)
    );
}

/// `lambda-perf run --log-out` on the demo function (restarts, a fresh environment, idle
/// gaps), read back by `lambda-perf logs`: the same figures as the run's own report.
#[test]
fn run_log_out_round_trips_through_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log = temp_path(&dir, "run.log");
    let event = file_with(r#"{"action":"order","order_id":"o-7"}"#);
    let run = lambda_perf(&[
        "run",
        "--json",
        "--no-progress",
        "-n",
        "6",
        "--restart-after",
        "2",
        "--fresh-environment-after",
        "4",
        "--idle-ms",
        "20",
        "--event",
        event.path().to_str().unwrap(),
        "--env",
        "POWERTOOLS_METRICS_NAMESPACE=Shop",
        "--log-out",
        &log,
        "--",
        env!("CARGO_BIN_EXE_lambda-perf"),
        "demo-function",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let run = json(&run);
    let logs = lambda_perf(&["logs", "--json", &log]);
    assert!(logs.status.success(), "{}", stderr(&logs));
    let logs = json(&logs);

    let invocations = run["invocations"].as_array().unwrap();
    // The log carries durations with two decimals, as Lambda's REPORT lines do.
    let two_decimals = |value: f64| format!("{value:.2}").parse::<f64>().unwrap();
    let field = |name: &str, keep: &dyn Fn(&Value) -> bool| -> Vec<f64> {
        invocations
            .iter()
            .filter(|i| keep(i))
            .filter_map(|i| i[name].as_f64())
            .collect()
    };
    let cold = |i: &Value| i["platform_init_ms"].is_f64();
    let inits: Vec<f64> = field("platform_init_ms", &|_| true)
        .into_iter()
        .map(two_decimals)
        .collect();
    let durations: Vec<f64> = field("duration_ms", &|_| true)
        .into_iter()
        .map(two_decimals)
        .collect();
    let cold_durations: Vec<f64> = field("duration_ms", &cold)
        .into_iter()
        .map(two_decimals)
        .collect();
    let warm_durations: Vec<f64> = field("duration_ms", &|i| !cold(i))
        .into_iter()
        .map(two_decimals)
        .collect();

    assert_eq!(logs["invocations"], 6);
    assert_eq!(
        logs["cold_starts"], 3,
        "the first invocation of each of the 3 processes"
    );
    assert_eq!(logs["lines"]["malformed"], 0, "{:#}", logs["lines"]);
    assert_percentiles(&logs["init_duration_ms"], &inits, "init_duration_ms");
    assert_percentiles(&logs["duration_ms"], &durations, "duration_ms");
    assert_percentiles(
        &logs["cold_duration_ms"],
        &cold_durations,
        "cold_duration_ms",
    );
    assert_percentiles(
        &logs["warm_duration_ms"],
        &warm_durations,
        "warm_duration_ms",
    );
    assert_eq!(logs["memory_size_mb"], 128);
    let used = field("max_memory_used_mb", &|_| true)
        .into_iter()
        .map(f64::ceil)
        .fold(0.0, f64::max);
    assert_eq!(logs["max_memory_used_mb"].as_f64(), Some(used));
    let billed: Vec<f64> = field("billed_duration_ms", &|_| true);
    assert_eq!(billed.len(), 6);
    let gb_seconds: f64 = billed.iter().map(|b| b / 1000.0 * 128.0 / 1024.0).sum();
    assert!((logs["billed_gb_seconds"].as_f64().unwrap() - gb_seconds).abs() < 1e-12);
    let run_billing = &run["resources"]["billing"];
    assert!(
        (logs["cost_usd"].as_f64().unwrap() - run_billing["cost_usd"].as_f64().unwrap()).abs()
            < 1e-15
    );

    // Start kinds and reuse from the function's own EMF lines.
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for invocation in invocations {
        *kinds
            .entry(invocation["start_kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(kinds.get("restart"), Some(&1));
    let figures = &logs["lambda_perf"];
    assert_eq!(figures["start_kinds"], json!(kinds));
    let gaps = field("idle_gap_ms", &|i| i["start_kind"] == "warm");
    assert_percentiles(&figures["reuse"]["idle_gap_ms"], &gaps, "idle gaps");
    assert!(gaps.iter().all(|gap| *gap >= 20.0), "{gaps:?}");
    assert_eq!(
        figures["reuse"]["longest_reused_idle_gap_ms"].as_f64(),
        Some(rank(&gaps, 100.0))
    );
    assert_eq!(figures["reuse"]["environments"], 2);
    assert_eq!(figures["init_side_by_side"]["pairs"], 3);
    // The demo's lazy catalog client.
    let clients: Vec<&str> = figures["client_init_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client"].as_str().unwrap())
        .collect();
    assert!(clients.contains(&"catalog"), "{clients:?}");
}

/// `bytes` compressed as one gzip member.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The report of `paths`, without the names of the files it read.
fn report_of(paths: &[&str]) -> Value {
    let mut args = vec!["logs", "--json"];
    args.extend(paths);
    let output = lambda_perf(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut report = json(&output);
    report.as_object_mut().unwrap().remove("files");
    report
}

/// The same events exported to Amazon S3 (a directory per log stream, gzip files of
/// `<timestamp> <message>` lines) and delivered by Amazon Data Firehose from a subscription
/// (gzip members of `DATA_MESSAGE`s one after the other, a `CONTROL_MESSAGE` among them)
/// give the report their `aws logs tail` text gives, log streams (environments) included.
#[test]
fn exports_to_s3_and_firehose_deliveries_give_the_figures_of_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let events = environment_events();
    let at = |offset: u64| format_timestamp((T0 + offset) as f64);

    let tail: String = events
        .iter()
        .map(|(offset, stream, message)| format!("{} {stream} {message}\n", at(*offset)))
        .collect();
    let tail_path = temp_path(&dir, "tail.txt");
    std::fs::write(&tail_path, tail).unwrap();
    let expected = report_of(&[&tail_path]);
    assert_eq!(expected["invocations"], 5, "{expected:#}");
    assert_eq!(
        expected["lambda_perf"]["reuse"]["environments"], 2,
        "{expected:#}"
    );

    // An export task's objects: `<prefix>/<task id>/<log stream>/000000.gz`, the stream's
    // events split over two objects, each line `2025-01-02T03:04:05.678Z <message>`.
    let export = dir.path().join("exportedlogs/0f1e2d3c-task");
    for stream in [S1, S2] {
        let lines: Vec<String> = events
            .iter()
            .filter(|(_, of, _)| *of == stream)
            .map(|(offset, _, message)| format!("{}Z {message}\n", &at(*offset)[..23]))
            .collect();
        let (first, second) = lines.split_at(lines.len() / 2);
        let objects = export.join(stream);
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::write(objects.join("000000.gz"), gzip(first.concat().as_bytes())).unwrap();
        std::fs::write(objects.join("000001.gz"), gzip(second.concat().as_bytes())).unwrap();
    }
    let exported = report_of(&[dir.path().join("exportedlogs").to_str().unwrap()]);
    assert_eq!(exported, expected, "export to S3");

    // A Firehose delivery: one gzip member per subscription message, no separator.
    let control = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudWatchLogs",
        "logGroup": "", "logStream": "", "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": T0,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]});
    let mut delivery = gzip(control.to_string().as_bytes());
    for stream in [S1, S2] {
        let log_events: Vec<Value> = events
            .iter()
            .enumerate()
            .filter(|(_, (_, of, _))| *of == stream)
            .map(|(n, (offset, _, message))| {
                json!({"id": n.to_string(), "timestamp": T0 + offset, "message": message})
            })
            .collect();
        let message = json!({"messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": "/aws/lambda/orders", "logStream": stream,
            "subscriptionFilters": ["to-firehose"], "logEvents": log_events});
        delivery.extend(gzip(message.to_string().as_bytes()));
    }
    let delivery_path = temp_path(&dir, "orders-1-2025-01-02-03-04-05-0f1e2d3c");
    std::fs::write(&delivery_path, delivery).unwrap();
    let delivered = report_of(&[&delivery_path]);
    assert_eq!(delivered, expected, "Firehose delivery");
}

/// In logs older than the `Status` field, a timeout is known by its "Task timed out" line;
/// the retry of the same request (an asynchronous invocation keeps its id) that succeeded is
/// not a timeout too.
#[test]
fn a_timeout_line_marks_its_attempt_not_the_retry_of_its_request() {
    let dir = tempfile::tempdir().unwrap();
    let report = |duration: f64| {
        format!(
            "REPORT RequestId: r-1\tDuration: {duration:.2} ms\tBilled Duration: {} ms\t\
             Memory Size: 128 MB\tMax Memory Used: 20 MB\t",
            duration.ceil()
        )
    };
    let lines = [
        "2025-01-02T03:04:05.000Z START RequestId: r-1 Version: $LATEST".to_owned(),
        "2025-01-02T03:04:08.000Z r-1 Task timed out after 3.00 seconds".to_owned(),
        format!("2025-01-02T03:04:08.010Z {}", report(3000.0)),
        "2025-01-02T03:05:08.000Z START RequestId: r-1 Version: $LATEST".to_owned(),
        format!("2025-01-02T03:05:08.020Z {}", report(20.0)),
    ];
    let path = temp_path(&dir, "old.log");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let report = report_of(&[&path]);
    assert_eq!(report["invocations"], 2, "{report:#}");
    assert_eq!(
        report["statuses"],
        json!({"success": 1, "timeout": 1}),
        "{report:#}"
    );
}

/// In logs older than the `Status` field, a runtime's exit is known by Lambda's lines before
/// its attempt's `END`: `RequestId: … Error: Runtime exited …`, then the error type. The
/// retry of the same request that succeeded is no error, and those lines are the
/// platform's, not the function's output.
#[test]
fn a_runtime_exit_line_marks_its_attempt_with_the_error_type_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = |id: &str, duration: f64| {
        format!(
            "REPORT RequestId: {id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\t\
             Memory Size: 128 MB\tMax Memory Used: 20 MB\t",
            duration.ceil()
        )
    };
    let lines = [
        "2025-01-02T03:04:05.000Z START RequestId: r-1 Version: $LATEST".to_owned(),
        "2025-01-02T03:04:05.700Z RequestId: r-1 Error: Runtime exited with error: exit status 1"
            .to_owned(),
        "2025-01-02T03:04:05.700Z Runtime.ExitError".to_owned(),
        "2025-01-02T03:04:05.700Z END RequestId: r-1".to_owned(),
        format!("2025-01-02T03:04:05.700Z {}", report("r-1", 700.0)),
        "2025-01-02T03:05:05.000Z START RequestId: r-1 Version: $LATEST".to_owned(),
        "2025-01-02T03:05:05.020Z END RequestId: r-1".to_owned(),
        format!("2025-01-02T03:05:05.020Z {}", report("r-1", 20.0)),
        "2025-01-02T03:06:05.000Z START RequestId: r-2 Version: $LATEST".to_owned(),
        "2025-01-02T03:06:05.900Z RequestId: r-2 Error: Runtime exited with error: signal: killed"
            .to_owned(),
        "2025-01-02T03:06:05.900Z Runtime.OutOfMemory".to_owned(),
        "2025-01-02T03:06:05.900Z END RequestId: r-2".to_owned(),
        format!("2025-01-02T03:06:05.900Z {}", report("r-2", 900.0)),
    ];
    let path = temp_path(&dir, "old.log");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let report = report_of(&[&path]);
    assert_eq!(report["invocations"], 3, "{report:#}");
    assert_eq!(
        report["statuses"],
        json!({
            "error: Runtime.ExitError": 1,
            "error: Runtime.OutOfMemory": 1,
            "success": 1
        }),
        "{report:#}"
    );
    assert_eq!(report["lines"]["platform"], 13, "{report:#}");
    assert_eq!(report["lines"]["output"], 0, "{report:#}");
}

/// Today's REPORT of a timeout says `Status: timeout`, and Lambda's "Task timed out" line
/// follows it: that line is the REPORT's own, and marks no retry of the same request (here
/// one that succeeded, in another environment) as a timeout too.
#[test]
fn a_timeout_line_after_a_report_that_says_timeout_marks_no_retry() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        format!("2025-01-02T03:04:05.000Z {S1} START RequestId: r-1 Version: $LATEST"),
        format!("2025-01-02T03:04:08.010Z {S1} END RequestId: r-1"),
        format!(
            "2025-01-02T03:04:08.010Z {S1} REPORT RequestId: r-1\tDuration: 3000.00 ms\t\
             Billed Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t\
             Status: timeout"
        ),
        format!(
            "2025-01-02T03:04:08.010Z {S1} 2025-01-02T03:04:08.008Z r-1 Task timed out after \
             3.00 seconds"
        ),
        format!("2025-01-02T03:05:08.000Z {S2} START RequestId: r-1 Version: $LATEST"),
        format!("2025-01-02T03:05:08.020Z {S2} END RequestId: r-1"),
        format!(
            "2025-01-02T03:05:08.020Z {S2} REPORT RequestId: r-1\tDuration: 20.00 ms\t\
             Billed Duration: 20 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t"
        ),
    ];
    let path = temp_path(&dir, "tail.log");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let report = report_of(&[&path]);
    assert_eq!(report["invocations"], 2, "{report:#}");
    assert_eq!(
        report["statuses"],
        json!({"success": 1, "timeout": 1}),
        "{report:#}"
    );
}

/// An asynchronous invocation that failed in one environment and was retried (same request
/// id) in a new one: in lambda-perf's figures, as in the platform's, each attempt is an
/// invocation of its own, a cold start in its own environment; read again from an
/// overlapping export that does not name the log streams, the same lines count once.
#[test]
fn a_retry_in_another_environment_is_an_invocation_of_its_own_in_lambda_perfs_figures() {
    let dir = tempfile::tempdir().unwrap();
    let report = |id: &str, init: f64, status: &str| {
        format!(
            "REPORT RequestId: {id}\tDuration: 10.00 ms\tBilled Duration: {} ms\t\
             Memory Size: 128 MB\tMax Memory Used: 20 MB\tInit Duration: {init:.2} ms\t{status}",
            10.0 + init.ceil()
        )
    };
    let events = [
        (0, S1, emf("r-1", "cold", 1, T0, json!({"init_duration_ms": 100.0, "outcome": "error"}))),
        (10, S1, report("r-1", 120.0, "Status: error\tError Type: Runtime.ExitError")),
        (1_000, S1, emf("r-2", "warm", 2, T0 + 1_000, json!({"idle_gap_ms": 990.0, "outcome": "success"}))),
        (1_010, S1, "REPORT RequestId: r-2\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t".to_owned()),
        (60_000, S2, emf("r-1", "cold", 1, T0 + 60_000, json!({"init_duration_ms": 90.0, "outcome": "success"}))),
        (60_010, S2, report("r-1", 115.0, "")),
    ];
    let export = json!({"events": events.iter().enumerate().map(|(n, (offset, stream, message))| {
        json!({"logStreamName": stream, "timestamp": T0 + offset, "message": message,
            "eventId": n.to_string()})
    }).collect::<Vec<_>>()});
    let export_path = temp_path(&dir, "export.json");
    std::fs::write(&export_path, export.to_string()).unwrap();
    let alone = report_of(&[&export_path]);
    assert_eq!(
        (&alone["invocations"], &alone["cold_starts"]),
        (&json!(3), &json!(2))
    );
    let figures = &alone["lambda_perf"];
    assert_eq!(figures["invocations"], 3, "{figures:#}");
    assert_eq!(
        figures["start_kinds"],
        json!({"cold": 2, "warm": 1}),
        "{figures:#}"
    );
    let side_by_side = &figures["init_side_by_side"];
    assert_eq!(side_by_side["pairs"], 2, "{figures:#}");
    assert_eq!(side_by_side["in_process_ms"]["max"], 100.0, "{figures:#}");
    assert_eq!(side_by_side["difference_p50_ms"], 20.0, "{figures:#}");
    let reuse = &figures["reuse"];
    assert_eq!(reuse["environments"], 2, "{figures:#}");
    // The first environment lived from r-1's first attempt to r-2, not to the retry.
    assert_eq!(reuse["lifetime_ms"]["max"], 1_000.0, "{figures:#}");

    // `aws logs tail --format short` of the second request: its EMF line without a stream is
    // the one the export read with it.
    let short: String = events[2..4]
        .iter()
        .map(|(offset, _, message)| {
            format!("{} {message}\n", format_timestamp((T0 + offset) as f64))
        })
        .collect();
    let short_path = temp_path(&dir, "short.log");
    std::fs::write(&short_path, short).unwrap();
    let mut both = report_of(&[&export_path, &short_path]);
    assert_eq!(both["lines"]["duplicate_reports"], 1, "{both:#}");
    both["lines"] = alone["lines"].clone();
    assert_eq!(both, alone);
}

/// `--init-type` chooses the prices, as in `lambda-perf run`, and the report says which
/// were used.
#[test]
fn init_type_chooses_the_prices_and_the_report_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "mi.log");
    std::fs::write(
        &path,
        "REPORT RequestId: r-1\tDuration: 900.00 ms\tBilled Duration: 1000 ms\t\
         Memory Size: 1024 MB\tMax Memory Used: 40 MB\n",
    )
    .unwrap();
    let output = lambda_perf(&[
        "logs",
        "--json",
        "--init-type",
        "lambda-managed-instances",
        &path,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        report["prices"]["initialization_type"],
        "lambda-managed-instances"
    );
    assert_eq!(report["prices"]["initialization_type_from"], "--init-type");
    // The request only: the instances are billed apart.
    assert!((report["cost_usd"].as_f64().unwrap() - 0.20 / 1e6).abs() < 1e-15);

    let output = lambda_perf(&["logs", "--init-type", "provisioned-concurrency", &path]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(
            "Cost (x86_64, provisioned-concurrency (--init-type), us-east-1, provisioned \
             concurrency duration, as of"
        ),
        "{text}"
    );
}
