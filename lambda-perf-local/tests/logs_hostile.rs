//! `lambda-perf logs` on damaged or unusual exports.

use lambda_perf_local::logs::{LogFile, LogsReport};
use lambda_perf_local::pricing::Architecture;

fn build(name: &str, text: &str) -> LogsReport {
    LogsReport::build(
        &[LogFile {
            name: name.into(),
            text: text.into(),
        }],
        Architecture::X86_64,
    )
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
    let pages = format!(
        "{EVENTS}\n{}",
        EVENTS.replace("r-1", "r-3").replace("r-2", "r-4")
    );
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
REPORT RequestId: r-3\tDuration: 5.00 ms\tBilled Duration: 80 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 75 ms
";
    let report = build("fn.log", text);
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
