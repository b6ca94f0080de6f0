//! `lambda-perf logs` on damaged or unusual exports.

use lambda_perf_local::logs::{LogFile, LogsReport};
use lambda_perf_local::pricing::Architecture;

fn build(name: &str, text: &str) -> LogsReport {
    LogsReport::build(&[file(name, text)], Architecture::X86_64)
}

/// One of several files, for [`LogsReport::build`].
fn file(name: &str, text: &str) -> LogFile {
    LogFile {
        name: name.into(),
        text: text.into(),
    }
}

/// The statuses `lambda-perf logs` reads in a `filter-log-events` export of `events`.
fn statuses_of_export(events: Vec<serde_json::Value>) -> std::collections::BTreeMap<String, usize> {
    let export = serde_json::json!({ "events": events }).to_string();
    LogsReport::build(&[file("export.json", &export)], Architecture::X86_64).statuses
}

/// One event of a `filter-log-events` export.
fn export_event(stream: &str, timestamp: u64, message: &str) -> serde_json::Value {
    serde_json::json!({"logStreamName": stream, "timestamp": timestamp, "message": message})
}

const EVENTS: &str = r#"{
    "events": [
        {
            "logStreamName": "2025/01/02/[$LATEST]abc",
            "timestamp": 1735787045678,
            "message": "REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t\n",
            "eventId": "1"
        },
        {
            "logStreamName": "2025/01/02/[$LATEST]abc",
            "timestamp": 1735787045679,
            "message": "REPORT RequestId: r-2\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t\n",
            "eventId": "2"
        }
    ]
}"#;

/// A second page of [`EVENTS`]: the same events, of two other requests.
fn next_page() -> String {
    EVENTS.replace("r-1", "r-3").replace("r-2", "r-4")
}

/// An export cut short (an interrupted `aws logs filter-log-events > file`) is not read as
/// text of the function's own output, silently: what cannot be read is counted.
#[test]
fn a_truncated_json_export_is_not_silently_read_as_output() {
    let cut = &EVENTS[..EVENTS.rfind("\"eventId\": \"2\"").unwrap()];
    let report = build("cut.json", cut);
    assert!(
        report.lines.malformed == 1 && report.lines.output == 0,
        "a truncated export gave {} invocations and {} malformed lines ({} output lines)",
        report.invocations,
        report.lines.malformed,
        report.lines.output
    );
}

/// Two pages of `filter-log-events` output written one after the other (a loop over
/// `--starting-token`) are both read, or reported as unreadable.
#[test]
fn concatenated_json_pages_are_read_or_reported() {
    let pages = format!("{EVENTS}\n{}", next_page());
    let report = build("pages.json", &pages);
    assert!(
        report.invocations == 4 && report.lines.malformed == 0,
        "two pages gave {} invocations and {} malformed lines ({} output lines)",
        report.invocations,
        report.lines.malformed,
        report.lines.output
    );
}

/// The HTML page says what the text report says about failed invocations: timeouts and
/// errors with their type (escaped), restores and repeated REPORTs, not only the successes.
#[test]
fn the_html_report_shows_statuses_restores_and_repeats() {
    use lambda_perf_local::logs::{render_logs_html, render_logs_terminal};
    let text = "\
REPORT RequestId: r-1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\tStatus: timeout
REPORT RequestId: r-2\tDuration: 20.00 ms\tBilled Duration: 21 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.<script>alert(1)</script>
REPORT RequestId: r-3\tDuration: 5.00 ms\tBilled Duration: 80 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 75 ms
";
    // An overlapping export repeats the last REPORT.
    let repeat = text.lines().last().unwrap();
    let files = [("fn.log", text), ("overlap.log", repeat)].map(|(name, text)| LogFile {
        name: name.into(),
        text: text.into(),
    });
    let report = LogsReport::build(&files, Architecture::X86_64);
    assert_eq!(report.lines.duplicate_reports, 1);
    let terminal = render_logs_terminal(&report);
    assert!(terminal.contains("timeout 1"), "{terminal}");
    let page = render_logs_html(&report);
    assert!(!page.contains("<script>"), "{page}");
    for shown in [
        "timeout",
        "error: Runtime.&lt;script&gt;alert(1)&lt;/script&gt;",
        "restores",
        "repeated REPORT",
    ] {
        assert!(page.contains(shown), "{shown:?} missing from {page}");
    }
}

/// SnapStart's `Billed Restore Duration` is part of `Billed Duration`, not billed on top of
/// it: in Lambda's own REPORT lines, `Billed Duration` is `Duration` rounded up to the next
/// millisecond plus `Billed Restore Duration` (127.10 → 128, + 26 = 154). The billed
/// GB-seconds are `Billed Duration` times `Memory Size`, restores or not.
#[test]
fn a_snapstart_restore_is_billed_once() {
    let text = "\
REPORT RequestId: 24addd09-6e64-49fb-b187-94ba9b60b59a\tDuration: 127.10 ms\tBilled Duration: 154 ms\tMemory Size: 2048 MB\tMax Memory Used: 212 MB\tRestore Duration: 325.93 ms\tBilled Restore Duration: 26 ms\t
REPORT RequestId: 5b321b10-9dfa-4a05-b900-c45b96303238\tDuration: 149.53 ms\tBilled Duration: 313 ms\tMemory Size: 1024 MB\tMax Memory Used: 163 MB\tRestore Duration: 789.64 ms\tBilled Restore Duration: 163 ms\t
{\"time\":\"2025-01-02T03:04:05.678Z\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"r-3\",\"metrics\":{\"durationMs\":147.156,\"billedDurationMs\":201,\"memorySizeMB\":512,\"maxMemoryUsedMB\":91,\"restoreDurationMs\":500.795,\"billedRestoreDurationMs\":53},\"status\":\"success\"}}
";
    let report = build("snapstart.log", text);
    assert_eq!((report.invocations, report.restores), (3, 3));
    let expected = 0.154 * 2.0 + 0.313 * 1.0 + 0.201 * 0.5;
    assert!(
        (report.billed_gb_seconds - expected).abs() < 1e-12,
        "billed {} GB-s, Lambda billed {expected} GB-s",
        report.billed_gb_seconds
    );
    let cost = expected * report.prices.usd_per_gb_second
        + 3.0 * report.prices.usd_per_million_requests / 1_000_000.0;
    assert!(
        (report.cost_usd - cost).abs() < 1e-15,
        "{}",
        report.cost_usd
    );
}

/// An export saved with a byte order mark (PowerShell's `Out-File -Encoding utf8`, editors on
/// Windows) is read as the export it is, not as text whose every line is the function's own
/// output.
#[test]
fn a_json_export_with_a_byte_order_mark_is_read() {
    let report = build("bom.json", &format!("\u{feff}{EVENTS}"));
    assert!(
        report.invocations == 2 && report.lines.malformed == 0,
        "gave {} invocations, {} malformed and {} output lines",
        report.invocations,
        report.lines.malformed,
        report.lines.output
    );
    let tail = "\u{feff}2025-01-02T03:04:05.678000+00:00 2025/01/02/[$LATEST]abc REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t\n";
    let report = build("bom.log", tail);
    assert_eq!(report.invocations, 1, "{:?}", report.lines);
}

/// Windows PowerShell 5.1's `aws logs filter-log-events ... > export.json` writes UTF-16 with
/// a byte order mark: read as the export it is.
#[test]
fn a_utf16_export_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bom, unit) in [
        (
            "le.json",
            [0xFF, 0xFE],
            u16::to_le_bytes as fn(u16) -> [u8; 2],
        ),
        ("be.json", [0xFE, 0xFF], u16::to_be_bytes),
    ] {
        let path = dir.path().join(name);
        let mut bytes = bom.to_vec();
        bytes.extend(EVENTS.encode_utf16().flat_map(unit));
        std::fs::write(&path, bytes).unwrap();
        let report = LogsReport::read_files(&[&path], Architecture::X86_64).unwrap();
        assert!(
            report.invocations == 2 && report.lines.malformed == 0,
            "{name} gave {} invocations, {} malformed and {} output lines",
            report.invocations,
            report.lines.malformed,
            report.lines.output
        );
    }
}

/// Logs without a REPORT bill nothing: zero GB-seconds, not minus zero (an empty sum of
/// floats), which the HTML page showed as `-0.0000 GB-s` and `--json` as `-0.0`.
#[test]
fn no_invocations_bill_zero_not_minus_zero() {
    use lambda_perf_local::logs::render_logs_html;
    let report = build("empty.log", "hello\n");
    assert!(
        report.billed_gb_seconds.is_sign_positive(),
        "{}",
        report.billed_gb_seconds
    );
    let page = render_logs_html(&report);
    assert!(!page.contains("-0.0000 GB-s"), "{page}");
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"billed_gb_seconds\":0.0"), "{json}");
}

/// Control characters in the logs (a NUL, a terminal escape sequence in a JSON message) are
/// shown, not passed through: a NUL or other C0 control character makes the HTML page
/// invalid, and an escape sequence written to the terminal would clear it or retitle it.
#[test]
fn control_characters_from_the_logs_do_not_reach_the_page_or_the_terminal() {
    use lambda_perf_local::logs::{render_logs_html, render_logs_terminal};
    let export = r#"{"events": [
        {"message": "REPORT RequestId: r-1\tDuration: \u0000\u001b[2J\u001b]0;owned\u0007 ms"},
        {"message": "REPORT RequestId: r-2\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tStatus: error\tError Type: Runtime.\u001b[31mBad\u0001"},
        {"message": "{\"_aws\":{\"Timestamp\":1,\"CloudWatchMetrics\":[{\"Namespace\":\"x\",\"Dimensions\":[[\"client\"]],\"Metrics\":[{\"Name\":\"ClientInitDuration\"}]}]},\"client\":\"db\\u001b[2J\\u0000\",\"ClientInitDuration\":4,\"lambda_perf\":{\"request_id\":\"r-2\",\"start_kind\":\"cold\\u0008\"}}"}
    ]}"#;
    let report = build("control.json", export);
    assert_eq!(report.lines.malformed, 1, "{:?}", report.lines);
    let control = |c: char| c.is_control() && !matches!(c, '\n' | '\t' | '\r');
    let page = render_logs_html(&report);
    assert!(
        !page.contains(control),
        "control characters in the HTML: {:?}",
        page.chars().filter(|c| control(*c)).collect::<String>()
    );
    let terminal = render_logs_terminal(&report);
    assert!(
        !terminal.contains(control),
        "control characters in the terminal report: {terminal:?}"
    );
}

/// An export damaged in the middle (here a stray comma, as left by joining exports by hand)
/// is not read line by line as the function's own output, dropping every invocation
/// silently: what cannot be read is counted.
#[test]
fn a_damaged_json_export_is_not_silently_read_as_output() {
    for (name, damaged) in [
        (
            "comma.json",
            EVENTS.replace("\"eventId\": \"2\"", "\"eventId\": \"2\","),
        ),
        (
            "array.json",
            format!("[{}]", &EVENTS[EVENTS.find('{').unwrap() + 1..])
                .replace("\"events\": [", "")
                .replace("\"eventId\": \"1\"", "\"eventId\": \"1\" x"),
        ),
    ] {
        let report = build(name, &damaged);
        assert!(
            report.lines.malformed >= 1 && report.lines.output == 0,
            "{name} gave {} invocations and {} malformed lines ({} output lines)",
            report.invocations,
            report.lines.malformed,
            report.lines.output
        );
    }
}

/// Lambda retries a failed asynchronous invocation with the same request id: each attempt
/// has its own REPORT, is an invocation and is billed. Only the same REPORT read twice (the
/// same log event in overlapping exports) is a repeat.
#[test]
fn asynchronous_retries_are_invocations_and_repeated_events_are_not() {
    let attempt = |n: u64, duration: &str| {
        format!(
            r#"{{"logStreamName": "2025/01/02/[$LATEST]abc", "timestamp": {}, "eventId": "{n}", "message": "REPORT RequestId: r-1\tDuration: {duration} ms\tBilled Duration: 3000 ms\tMemory Size: 1024 MB\tMax Memory Used: 60 MB\tStatus: timeout\t\n"}}"#,
            1_735_787_045_678 + n * 60_000
        )
    };
    let export = format!(
        "{{\"events\": [{}, {}, {}]}}",
        attempt(0, "3000.00"),
        attempt(1, "3000.00"),
        attempt(3, "3000.00")
    );
    let file = |name: &str| LogFile {
        name: name.into(),
        text: export.clone(),
    };
    // The same export read twice, as overlapping exports would give it.
    let report = LogsReport::build(&[file("a.json"), file("b.json")], Architecture::X86_64);
    assert_eq!(
        (report.invocations, report.lines.duplicate_reports),
        (3, 3),
        "three attempts, each read twice"
    );
    assert_eq!(report.statuses.get("timeout"), Some(&3));
    assert!((report.billed_gb_seconds - 9.0).abs() < 1e-12);
}

/// Without times (the messages alone, as `jq -r '.events[].message'` writes them), alike
/// REPORTs of one request in one file are attempts alike, not one log event read twice (a
/// file never holds an event twice): an asynchronous invocation that timed out on each of its
/// three attempts is three invocations. In another file, they are repeats.
#[test]
fn alike_reports_without_a_time_are_attempts_in_one_file_and_repeats_across_files() {
    let report = "REPORT RequestId: r-1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t\
                  Memory Size: 128 MB\tMax Memory Used: 20 MB\t";
    let attempt = format!(
        "START RequestId: r-1 Version: $LATEST\nEND RequestId: r-1\n{report}Status: timeout\n"
    );
    // Logs older than the `Status` field: each REPORT, then its attempt's timeout line.
    let older = format!(
        "START RequestId: r-1 Version: $LATEST\nEND RequestId: r-1\n{report}\nr-1 Task timed out after 3.00 seconds\n"
    );
    for attempts in [attempt.repeat(3), older.repeat(3)] {
        let file = |name: &str| LogFile {
            name: name.into(),
            text: attempts.clone(),
        };
        let once = LogsReport::build(&[file("a.log")], Architecture::X86_64);
        assert_eq!(
            (once.invocations, once.lines.duplicate_reports),
            (3, 0),
            "{attempts}"
        );
        assert_eq!(
            once.statuses,
            [("timeout".to_owned(), 3)].into(),
            "{attempts}"
        );
        let twice = LogsReport::build(&[file("a.log"), file("b.log")], Architecture::X86_64);
        assert_eq!(
            (twice.invocations, twice.lines.duplicate_reports),
            (3, 3),
            "{attempts}"
        );
        assert_eq!(twice.statuses, once.statuses, "{attempts}");
    }

    // The same attempts with their times, and an overlapping export of the last without:
    // one repeat.
    let timed: String = (0..3)
        .map(|n| format!("2025-01-02T03:0{n}:08.000Z {report}Status: timeout\n"))
        .collect();
    let files = [
        LogFile {
            name: "timed.log".into(),
            text: timed,
        },
        LogFile {
            name: "messages.log".into(),
            text: format!("{report}Status: timeout\n"),
        },
    ];
    let report = LogsReport::build(&files, Architecture::X86_64);
    assert_eq!((report.invocations, report.lines.duplicate_reports), (3, 1));
}

/// Messages alone in the JSON log format, the first the function's own record with an
/// `events` array: the file is read as the text it is, every invocation in it, not as a
/// `filter-log-events` export followed by something else.
#[test]
fn messages_whose_first_record_holds_events_are_not_an_export() {
    let text = r#"{"timestamp":"2025-01-02T03:04:05.000Z","level":"INFO","requestId":"r-0","message":"batch","events":[{"message":"order 1"}]}
{"time":"2025-01-02T03:04:05.100Z","type":"platform.report","record":{"requestId":"r-0","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":41},"status":"success"}}
{"time":"2025-01-02T03:04:06.100Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":41},"status":"success"}}
"#;
    let report = build("messages.log", text);
    assert_eq!(report.invocations, 2, "{:?}", report.lines);
    assert_eq!(
        (report.lines.output, report.lines.malformed),
        (1, 0),
        "{:?}",
        report.lines
    );
}

/// A REPORT whose figures no invocation can have (1e308 ms) is malformed, not summed into
/// infinities that `--json` writes as `null` where a number belongs.
#[test]
fn absurd_figures_are_malformed_and_the_json_stays_readable() {
    let line = |id: &str| {
        format!(
            "REPORT RequestId: {id}\tDuration: 1e308 ms\tBilled Duration: 1e308 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\n"
        )
    };
    let json_line = r#"{"time":"2025-01-02T03:04:05.678Z","type":"platform.report","record":{"requestId":"r-3","metrics":{"durationMs":1e308,"billedDurationMs":1e308,"memorySizeMB":128,"maxMemoryUsedMB":30}}}"#;
    let text = format!("{}{}{json_line}\n", line("r-1"), line("r-2"));
    let report = build("absurd.log", &text);
    assert_eq!(
        (report.invocations, report.lines.malformed),
        (0, 3),
        "{:?}",
        report.lines
    );
    assert_json_reads_back(&report);
}

/// `--json`'s text of `report` reads back as a report: no figure is written as `null`.
fn assert_json_reads_back(report: &LogsReport) {
    let json = serde_json::to_string(report).unwrap();
    assert!(
        serde_json::from_str::<LogsReport>(&json).is_ok(),
        "the JSON does not read back: {json}"
    );
}

/// lambda-perf facts with absurd figures (an idle gap of 1e308 ms, twice) give a mean that
/// is a number, not an infinity that `--json` writes as `null`.
#[test]
fn absurd_emf_figures_keep_the_json_readable() {
    let emf = |id: &str| {
        format!(
            r#"{{"_aws":{{"Timestamp":1735787045678,"CloudWatchMetrics":[{{"Namespace":"x","Dimensions":[[]],"Metrics":[]}}]}},"lambda_perf":{{"request_id":"{id}","start_kind":"warm","invocation":2,"idle_gap_ms":1e308}}}}"#
        )
    };
    let report = build(
        "absurd-emf.log",
        &format!("{}\n{}\n", emf("r-1"), emf("r-2")),
    );
    assert_json_reads_back(&report);
}

/// SnapStart's own platform lines in the text format, `RESTORE_START` and `RESTORE_REPORT`,
/// are platform lines, not the function's output.
#[test]
fn snapstart_restore_lines_are_platform_lines() {
    let text = "\
RESTORE_START Runtime Version: java:21.v21\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0a25e3e7a1cc9ce404bc435eeb2ad358d8fa64338e618d0c224fe509403583ca
RESTORE_REPORT Restore Duration: 571.67 ms
START RequestId: r-1 Version: 3
END RequestId: r-1
REPORT RequestId: r-1\tDuration: 5.00 ms\tBilled Duration: 80 ms\tMemory Size: 512 MB\tMax Memory Used: 70 MB\tRestore Duration: 571.67 ms\tBilled Restore Duration: 75 ms
";
    let report = build("snapstart.log", text);
    assert_eq!(
        (report.lines.platform, report.lines.output),
        (5, 0),
        "{:?}",
        report.lines
    );
}

/// The HTML page shows what the text report shows of billing and memory: the billed
/// duration's percentiles (beside the Billed Restore Duration's) and the memory headroom.
#[test]
fn the_html_report_shows_the_billed_duration_and_the_headroom() {
    use lambda_perf_local::logs::{render_logs_html, render_logs_terminal};
    let text = "\
REPORT RequestId: r-1\tDuration: 5.00 ms\tBilled Duration: 80 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 75 ms
REPORT RequestId: r-2\tDuration: 2.10 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB
";
    let report = build("fn.log", text);
    let terminal = render_logs_terminal(&report);
    assert!(terminal.contains("billed duration"), "{terminal}");
    assert!(terminal.contains("headroom 58.0 MB"), "{terminal}");
    let page = render_logs_html(&report);
    for shown in ["billed duration (n=2)", "headroom 58.0 MB"] {
        assert!(page.contains(shown), "{shown:?} missing from {page}");
    }
}

/// A text log whose first line is the function printing a JSON array (`print([1, 2])`, a
/// list of records) is text, not a `filter-log-events` array of events whose rest cannot be
/// read.
#[test]
fn a_text_log_opening_with_a_json_array_is_text() {
    for first in ["[1, 2]", r#"[{"order": "o-1"}, {"order": "o-2"}]"#] {
        let text = format!(
            "{first}
START RequestId: r-1 Version: $LATEST
END RequestId: r-1
REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t
"
        );
        let report = build("plain.log", &text);
        assert!(
            report.invocations == 1 && report.lines.malformed == 0,
            "{first}: gave {} invocations and {:?}",
            report.invocations,
            report.lines
        );
    }
}

/// Pages of `filter-log-events` gathered into one array (`jq -s . page-*.json`) are read, or
/// reported as unreadable, not read as text.
#[test]
fn an_array_of_json_pages_is_read() {
    let pages = format!("[{EVENTS},\n{}]", next_page());
    let report = build("slurped.json", &pages);
    assert!(
        report.invocations == 4 && report.lines.malformed == 0,
        "gave {} invocations and {:?}",
        report.invocations,
        report.lines
    );
}

/// `aws logs tail --format json` prints a message that is entirely JSON (every record of
/// Lambda's JSON log format, every EMF line) on the lines after its timestamp and log stream,
/// indented four spaces: one record read whole, not each of its lines as output.
#[test]
fn aws_logs_tail_format_json_reads_each_pretty_printed_record_whole() {
    let text = r#"2025-01-02T03:04:05.100000+00:00 2025/01/02/[$LATEST]abc 
{
    "time": "2025-01-02T03:04:05.100Z",
    "type": "platform.start",
    "record": {
        "requestId": "r-1",
        "version": "$LATEST"
    }
}
2025-01-02T03:04:05.150000+00:00 2025/01/02/[$LATEST]abc handling order o-42
2025-01-02T03:04:05.200000+00:00 2025/01/02/[$LATEST]abc 
{
    "time": "2025-01-02T03:04:05.200Z",
    "type": "platform.report",
    "record": {
        "requestId": "r-1",
        "metrics": {
            "durationMs": 12.5,
            "billedDurationMs": 140,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 30,
            "initDurationMs": 126.9
        },
        "status": "success"
    }
}
2025-01-02T03:04:06+00:00 2025/01/02/[$LATEST]abc 
{
    "time": "2025-01-02T03:04:06.000Z",
    "type": "platform.report",
    "record": {
        "requestId": "r-2",
        "metrics": {
            "durationMs": 2.5,
            "billedDurationMs": 3,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 31
        },
        "status": "timeout"
    }
}
"#;
    let report = build("tail.txt", text);
    assert_eq!(
        (report.invocations, report.cold_starts),
        (2, 1),
        "{report:#?}"
    );
    assert_eq!(report.init_duration_ms.unwrap().p50, 126.9);
    assert_eq!(report.statuses.get("timeout"), Some(&1));
    let lines = &report.lines;
    assert_eq!(
        (lines.events, lines.platform, lines.output, lines.malformed),
        (4, 3, 1, 0),
        "{lines:#?}"
    );
}

/// Overlapping exports repeat a `Task timed out` line as they repeat its REPORT: the repeat
/// marks no other attempt of its request (the retry that succeeded) as a timeout.
#[test]
fn a_timeout_line_read_twice_marks_one_attempt() {
    let text = "\
2025-01-02T03:04:05.000000+00:00 2025/01/02/[$LATEST]abc START RequestId: r-1 Version: $LATEST
2025-01-02T03:04:08.000000+00:00 2025/01/02/[$LATEST]abc 2025-01-02T03:04:08.000Z r-1 Task timed out after 3.00 seconds
2025-01-02T03:04:08.001000+00:00 2025/01/02/[$LATEST]abc REPORT RequestId: r-1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t
2025-01-02T03:05:08.000000+00:00 2025/01/02/[$LATEST]def START RequestId: r-1 Version: $LATEST
2025-01-02T03:05:08.100000+00:00 2025/01/02/[$LATEST]def REPORT RequestId: r-1\tDuration: 100.00 ms\tBilled Duration: 100 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t
";
    let file = |name: &str| LogFile {
        name: name.into(),
        text: text.into(),
    };
    let once = LogsReport::build(&[file("a.log")], Architecture::X86_64);
    let twice = LogsReport::build(&[file("a.log"), file("b.log")], Architecture::X86_64);
    for report in [&once, &twice] {
        assert_eq!(report.invocations, 2);
        assert_eq!(
            report.statuses,
            [("success".to_owned(), 1), ("timeout".to_owned(), 1)].into(),
            "{:?}",
            report.files
        );
    }
    assert_eq!(twice.lines.duplicate_reports, 2);
}

/// `aws logs filter-log-events` with `--output yaml` or `text` (an AWS CLI whose default
/// output is not JSON) writes each REPORT behind text no log prefix has: counted and quoted
/// as malformed, saying why, not read as the function's own output in silence.
#[test]
fn a_report_behind_an_unknown_prefix_is_malformed_not_output() {
    let yaml = r#"events:
- eventId: '37592334'
  ingestionTime: 1735787046000
  logStreamName: 2025/01/02/[$LATEST]abc
  message: "REPORT RequestId: r-1\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\t\n"
  timestamp: 1735787045678
- eventId: '37592335'
  ingestionTime: 1735787046000
  logStreamName: 2025/01/02/[$LATEST]abc
  message: '{"time":"2025-01-02T03:04:05.678Z","type":"platform.report","record":{"requestId":"r-2","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":30},"status":"success"}}'
  timestamp: 1735787045679
searchedLogStreams: []
"#;
    let text = "EVENTS\t37592334\t1735787046000\t2025/01/02/[$LATEST]abc\tREPORT RequestId: r-1\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\t\n";
    for (name, export, reports) in [("yaml.txt", yaml, 2), ("text.txt", text, 1)] {
        let report = build(name, export);
        assert_eq!(report.invocations, 0);
        let lines = &report.lines;
        assert_eq!(lines.malformed, reports, "{name}: {lines:#?}");
        assert!(
            lines.malformed_examples[0].reason.contains("--output json"),
            "{name}: {:?}",
            lines.malformed_examples[0]
        );
    }
}

/// A function whose memory size changed (raised after running out at 128 MB): the headroom is
/// that of the invocation that used the most, and the report names the size it ran at, not
/// the largest size seen, which the headroom is not the difference to.
#[test]
fn the_headroom_names_the_memory_size_it_is_taken_from() {
    let report = build(
        "sizes.log",
        "REPORT RequestId: a\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 120 MB\t\n\
         REPORT RequestId: b\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 1024 MB\tMax Memory Used: 100 MB\t\n",
    );
    assert_eq!(report.memory_headroom_mb, Some(8.0));
    let terminal = lambda_perf_local::logs::render_logs_terminal(&report);
    assert!(
        terminal.contains("max used 120.0 MB at 128 MB: headroom 8.0 MB (6.2 %)"),
        "{terminal}"
    );
    let html = lambda_perf_local::logs::render_logs_html(&report);
    assert!(html.contains("120.0 MB of 128 MB"), "{html}");
    assert!(!html.contains("120.0 MB of 1024 MB"), "{html}");
}

/// The EMF lines of `ClientInitDuration` read twice, from overlapping exports (the last of
/// one export repeated at the start of the next), are the same log events: their values
/// count once, as the REPORTs do, and the percentiles are those of the function's inits.
#[test]
fn client_inits_read_twice_from_overlapping_exports_count_once() {
    let line = |at: &str, ms: f64| {
        format!(
            "{at} {{\"_aws\":{{\"Timestamp\":1735787045678,\"CloudWatchMetrics\":[{{\"Namespace\":\"Shop\",\
             \"Dimensions\":[[\"service\",\"client\"]],\"Metrics\":[{{\"Name\":\"ClientInitDuration\",\
             \"Unit\":\"Milliseconds\"}}]}}]}},\"service\":\"orders\",\"client\":\"dynamodb\",\
             \"ClientInitDuration\":[{ms}]}}\n"
        )
    };
    let first = line("2025-01-02T03:04:05.678Z", 41.5) + &line("2025-01-02T03:04:06.678Z", 90.0);
    let overlap = line("2025-01-02T03:04:06.678Z", 90.0);
    let files = [("first.log", first), ("overlap.log", overlap)].map(|(name, text)| LogFile {
        name: name.into(),
        text,
    });
    let report = LogsReport::build(&files, Architecture::X86_64);
    let figures = report.lambda_perf.expect("client inits");
    let client = &figures.client_init_ms[0];
    assert_eq!(client.client, "dynamodb");
    assert_eq!(client.duration_ms.count, 2, "{client:?}");
    assert_eq!(client.duration_ms.p50, 41.5, "{client:?}");
    // In one file, alike lines without a time are events alike, each counted.
    let untimed = line("", 41.5).trim_start().repeat(2);
    let report = build("untimed.log", &untimed);
    let figures = report.lambda_perf.expect("client inits");
    assert_eq!(figures.client_init_ms[0].duration_ms.count, 2);
}

/// `aws logs tail --format short` prints times to the second (`2025-01-02T03:04:06`, the
/// milliseconds cut off): a REPORT it printed that an overlapping `filter-log-events` export
/// holds too (logged at `…:06.679`) is the same log event, counted once, as it would be
/// from the default format's microseconds.
#[test]
fn a_report_printed_to_the_second_is_a_repeat_of_the_same_one_to_the_millisecond() {
    let report = |id: &str| {
        format!(
            "REPORT RequestId: {id}\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t"
        )
    };
    let export = serde_json::json!({"events": [
        {"logStreamName": "2025/01/02/[$LATEST]abc", "timestamp": 1_735_787_045_678_u64,
         "message": format!("{}\n", report("r-1")), "eventId": "1"},
        {"logStreamName": "2025/01/02/[$LATEST]abc", "timestamp": 1_735_787_046_679_u64,
         "message": format!("{}\n", report("r-2")), "eventId": "2"},
    ]});
    let short = format!(
        "2025-01-02T03:04:06 {}\n2025-01-02T03:04:07 {}\n",
        report("r-2"),
        report("r-3")
    );
    let file = |name: &str, text: String| LogFile {
        name: name.into(),
        text,
    };
    for files in [
        [
            file("export.json", export.to_string()),
            file("short.log", short.clone()),
        ],
        [
            file("short.log", short.clone()),
            file("export.json", export.to_string()),
        ],
    ] {
        let report = LogsReport::build(&files, Architecture::X86_64);
        assert_eq!(report.invocations, 3, "{:?}", report.lines);
        assert_eq!(report.lines.duplicate_reports, 1);
    }
    // Alike REPORTs a second apart are not one: r-2 at …:06.679 is not r-2 printed at …:07.
    let later = short.replace("03:04:06", "03:04:07");
    let files = [
        file("export.json", export.to_string()),
        file("later.log", later),
    ];
    assert_eq!(
        LogsReport::build(&files, Architecture::X86_64).invocations,
        4
    );
}

/// A `Task timed out` line is logged in the log stream (execution environment) of the attempt
/// it ended. An export that starts after that attempt's REPORT but holds its timeout line,
/// then the retry of the same request (same id) in another environment, which succeeded:
/// the line is not about the retry, which stays a success. Likewise a `Runtime exited` line.
#[test]
fn a_status_line_marks_no_report_of_another_log_stream() {
    let report = "REPORT RequestId: r-1\tDuration: 100.00 ms\tBilled Duration: 100 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\t";
    let timed_out = format!(
        "2025-01-02T03:04:05.678000+00:00 2025/01/02/[$LATEST]abc 2025-01-02T03:04:05.678Z r-1 Task timed out after 3.00 seconds\n\
         2025-01-02T03:05:10.100000+00:00 2025/01/02/[$LATEST]def {report}\n"
    );
    let report_of = |text: &str| build("window.log", text);
    assert_eq!(
        report_of(&timed_out).statuses.get("success"),
        Some(&1),
        "{:?}",
        report_of(&timed_out).statuses
    );
    let exited = format!(
        "2025-01-02T03:04:05.678000+00:00 2025/01/02/[$LATEST]abc RequestId: r-1 Error: Runtime exited with error: exit status 1\n\
         2025-01-02T03:04:05.678000+00:00 2025/01/02/[$LATEST]abc Runtime.ExitError\n\
         2025-01-02T03:05:10.100000+00:00 2025/01/02/[$LATEST]def {report}\n"
    );
    assert_eq!(
        report_of(&exited).statuses.get("success"),
        Some(&1),
        "{:?}",
        report_of(&exited).statuses
    );
    // In the same log stream, or where a stream is not known, the line still claims it.
    let same = timed_out.replace("[$LATEST]def", "[$LATEST]abc");
    assert_eq!(report_of(&same).statuses.get("timeout"), Some(&1));
    let unknown = "2025-01-02T03:04:05.678Z r-1 Task timed out after 3.00 seconds\n".to_owned()
        + report
        + "\n";
    assert_eq!(report_of(&unknown).statuses.get("timeout"), Some(&1));
}

/// The same JSON-log-format `platform.report` read in two forms of overlapping exports: as
/// Lambda wrote it (`filter-log-events`), and as `aws logs tail --format json` prints it
/// (Python's `json.dumps(…, indent=4)` on the lines after the prefix). It is one log event,
/// logged at the same millisecond, of the same request: one invocation, one cold start, as
/// the same text-format REPORT read in two forms is.
#[test]
fn a_json_format_report_read_from_filter_log_events_and_tail_format_json_counts_once() {
    let record = r#"{"time":"2025-01-02T03:04:05.200Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":12.5,"billedDurationMs":140,"memorySizeMB":128,"maxMemoryUsedMB":30,"initDurationMs":126.9},"status":"success"}}"#;
    let export = serde_json::json!({"events": [{
        "logStreamName": "2025/01/02/[$LATEST]abc",
        "timestamp": 1_735_787_045_200_u64,
        "message": format!("{record}\n"),
        "eventId": "1"
    }]})
    .to_string();
    let tail = r#"2025-01-02T03:04:05.200000+00:00 2025/01/02/[$LATEST]abc 
{
    "time": "2025-01-02T03:04:05.200Z",
    "type": "platform.report",
    "record": {
        "requestId": "r-1",
        "metrics": {
            "durationMs": 12.5,
            "billedDurationMs": 140,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 30,
            "initDurationMs": 126.9
        },
        "status": "success"
    }
}
"#;
    let report = LogsReport::build(
        &[file("export.json", &export), file("tail.txt", tail)],
        Architecture::X86_64,
    );
    assert_eq!(
        (
            report.invocations,
            report.cold_starts,
            report.lines.duplicate_reports
        ),
        (1, 1, 1),
        "{report:#?}"
    );
}

/// Two invocations at their peak of 128 MB: one killed for memory at 128 MB, one at
/// 1024 MB. The headroom must not depend on the order the lines are read in, and must not
/// hide the invocation that ran out: it is 0 MB.
#[test]
fn the_headroom_of_a_tie_is_the_smallest_whatever_the_order() {
    let oom = "REPORT RequestId: a\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n";
    let big = "REPORT RequestId: b\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 1024 MB\tMax Memory Used: 128 MB\n";
    for text in [format!("{oom}{big}"), format!("{big}{oom}")] {
        let report = LogsReport::build(&[file("sizes.log", &text)], Architecture::X86_64);
        assert_eq!(report.memory_headroom_mb, Some(0.0), "{text}");
    }
}

/// An asynchronous request retried in another environment: the first attempt (stream A)
/// has no lambda-perf EMF line (its code had none yet, or its lines are not in the
/// export), the retry (stream B) has. Both REPORTs are cold starts; only B's has an
/// in-process init to put beside it. A's platform init (500 ms) must not be paired with B's
/// in-process init (80 ms): the EMF facts are those of their own log stream.
#[test]
fn the_facts_of_one_log_stream_are_not_another_streams_reports() {
    let a = "2025/01/02/[1]aaaa";
    let b = "2025/01/02/[2]bbbb";
    let emf = r#"{"_aws":{"Timestamp":1735787105000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["service"]],"Metrics":[{"Name":"Orders"}]}]},"service":"orders","Orders":[1.0],"lambda_perf":{"request_id":"r-1","start_kind":"cold","invocation":1,"init_duration_ms":80.0}}"#;
    let text = format!(
        "2025-01-02T03:04:05.000000+00:00 {a} REPORT RequestId: r-1\tDuration: 3000.00 ms\tBilled Duration: 3500 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tInit Duration: 500.00 ms\tStatus: timeout\n\
         2025-01-02T03:05:05.000000+00:00 {b} {emf}\n\
         2025-01-02T03:05:05.100000+00:00 {b} REPORT RequestId: r-1\tDuration: 10.00 ms\tBilled Duration: 110 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tInit Duration: 100.00 ms\n"
    );
    let report = LogsReport::build(&[file("tail.txt", &text)], Architecture::X86_64);
    assert_eq!(report.cold_starts, 2);
    let side = report
        .lambda_perf
        .and_then(|figures| figures.init_side_by_side)
        .expect("B's cold start has both inits");
    assert_eq!(side.pairs, 1, "{side:#?}");
    assert_eq!(side.platform_ms.max, 100.0, "{side:#?}");
    assert_eq!(side.difference_p50_ms, 20.0, "{side:#?}");
}

/// `filter-log-events` interleaves the log streams by time: a line of another stream,
/// logged in the same millisecond, can fall between a `Runtime exited` line and the error
/// type Lambda logs after it in its own stream. The REPORT (older, without `Status`) is an
/// out-of-memory error, not `Runtime.ExitError`.
#[test]
fn the_error_type_after_a_runtime_exit_is_read_in_its_own_stream() {
    let a = "2025/01/02/[$LATEST]aaaa";
    let b = "2025/01/02/[$LATEST]bbbb";
    let out_of_memory = statuses_of_export(vec![
        export_event(a, 1_000, "START RequestId: r-1 Version: $LATEST\n"),
        export_event(
            a,
            1_900,
            "RequestId: r-1 Error: Runtime exited with error: signal: killed\n",
        ),
        export_event(b, 1_900, "handling order o-42\n"),
        export_event(a, 1_900, "Runtime.OutOfMemory\n"),
        export_event(a, 1_900, "END RequestId: r-1\n"),
        export_event(
            a,
            1_900,
            "REPORT RequestId: r-1\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t\n",
        ),
    ]);
    assert_eq!(
        out_of_memory.get("error: Runtime.OutOfMemory"),
        Some(&1),
        "{out_of_memory:?}"
    );
}

/// A text file where many prefixed events with an empty message are followed by a line
/// `{` that no `}` closes: each looks ahead for its closing line over up to 1 MiB, so the
/// reading time grows with the square of the file (1.2 MB: 35 s in a debug build). Reading
/// it must take about as long as reading any text of its size.
#[test]
fn unclosed_pretty_json_openings_are_read_in_linear_time() {
    let text = "2025-01-02T03:04:05.000000+00:00 2025/01/02/[$LATEST]abc \n{\n".repeat(20_000);
    let started = std::time::Instant::now();
    let report = LogsReport::build(&[file("tail.txt", &text)], Architecture::X86_64);
    let took = started.elapsed();
    assert_eq!(report.lines.events, 40_000);
    assert!(
        took < std::time::Duration::from_secs(5),
        "1.2 MB of text read in {took:?}"
    );
}

/// Two environments' runtimes exit in the same millisecond; `filter-log-events`
/// interleaves their streams so that B's `Runtime exited` line falls between A's and the
/// error type A logs after it. Each REPORT is an out-of-memory error, in its own stream.
#[test]
fn error_types_after_two_interleaved_runtime_exits_are_both_read() {
    let a = "2025/01/02/[$LATEST]aaaa";
    let b = "2025/01/02/[$LATEST]bbbb";
    let out_of_memory = statuses_of_export(vec![
        export_event(a, 1_000, "START RequestId: r-1 Version: $LATEST\n"),
        export_event(b, 1_000, "START RequestId: r-2 Version: $LATEST\n"),
        export_event(
            a,
            1_900,
            "RequestId: r-1 Error: Runtime exited with error: signal: killed\n",
        ),
        export_event(
            b,
            1_900,
            "RequestId: r-2 Error: Runtime exited with error: signal: killed\n",
        ),
        export_event(a, 1_900, "Runtime.OutOfMemory\n"),
        export_event(b, 1_900, "Runtime.OutOfMemory\n"),
        export_event(a, 1_900, "END RequestId: r-1\n"),
        export_event(b, 1_900, "END RequestId: r-2\n"),
        export_event(
            a,
            1_900,
            "REPORT RequestId: r-1\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t\n",
        ),
        export_event(
            b,
            1_900,
            "REPORT RequestId: r-2\tDuration: 900.00 ms\tBilled Duration: 900 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t\n",
        ),
    ]);
    assert_eq!(
        out_of_memory.get("error: Runtime.OutOfMemory"),
        Some(&2),
        "{out_of_memory:?}"
    );
}

/// A CloudWatch log event may hold a NUL byte (a function that prints a fixed-size C buffer,
/// a Go `[N]byte` turned into a string). The same events, read from a `filter-log-events`
/// export and from `aws logs tail` text (or an export to S3), are read alike: the function's
/// own output, not a malformed line of a file that is not text.
#[test]
fn output_with_a_nul_byte_is_output_in_text_as_in_a_json_export() {
    const STREAM: &str = "2025/01/02/[$LATEST]0123abcd";
    const MESSAGES: [&str; 4] = [
        "START RequestId: r-1 Version: $LATEST",
        "user=alice\0\0\0\0",
        "END RequestId: r-1",
        "REPORT RequestId: r-1\tDuration: 12.50 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tInit Duration: 128.21 ms",
    ];
    let events = (0_u64..)
        .zip(MESSAGES)
        .map(|(n, message)| export_event(STREAM, 1_735_787_045_678 + n, message))
        .collect::<Vec<_>>();
    let export = serde_json::json!({ "events": events }).to_string();
    let tail: String = (0..)
        .zip(MESSAGES)
        .map(|(n, message)| {
            format!(
                "2025-01-02T03:04:05.{:03}000+00:00 {STREAM} {message}\n",
                678 + n
            )
        })
        .collect();
    let counts = |report: &LogsReport| {
        (
            report.lines.events,
            report.lines.platform,
            report.lines.output,
            report.lines.malformed,
        )
    };
    let json = build("export.json", &export);
    let text = build("tail.txt", &tail);
    assert_eq!(counts(&json), (4, 3, 1, 0), "JSON export: {:?}", json.lines);
    assert_eq!(
        counts(&text),
        counts(&json),
        "aws logs tail text: {:?}",
        text.lines
    );
}
