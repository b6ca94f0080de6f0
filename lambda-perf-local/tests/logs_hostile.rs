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
