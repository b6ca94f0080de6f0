//! One log message read as what it is ([`Record`]): a Lambda platform line (`START`, `END`,
//! `REPORT` in text, or their JSON `platform.*` records), a CloudWatch EMF line (with
//! lambda-perf's `lambda_perf` facts when present), the function's own output, or a line
//! that claims to be one of the first two but cannot be read.

use lambda_perf_core::InitializationType;
use serde_json::{Map, Value};

use crate::report::facts::Facts;

/// The figures of one `REPORT` line (or `platform.report` record).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlatformReport {
    pub(crate) request_id: String,
    pub(crate) duration_ms: f64,
    pub(crate) billed_duration_ms: f64,
    pub(crate) memory_size_mb: u32,
    pub(crate) max_memory_used_mb: f64,
    pub(crate) init_duration_ms: Option<f64>,
    pub(crate) restore_duration_ms: Option<f64>,
    /// SnapStart's `Billed Restore Duration`: the part of the restore billed as duration (the
    /// runtime's load and the after-restore hooks).
    pub(crate) billed_restore_duration_ms: Option<f64>,
    /// `success` when the line says nothing (text REPORTs of successful invocations, and
    /// every one in logs older than the `Status` field), else its `Status` (`error`,
    /// `timeout`, `failure`).
    pub(crate) status: String,
    /// Whether the line said its status (else `status` is `success` by default).
    pub(crate) status_logged: bool,
    pub(crate) error_type: Option<String>,
}

/// What an EMF line tells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmfRecord {
    /// `_aws.Timestamp`, milliseconds since the epoch.
    pub(crate) timestamp_ms: Option<f64>,
    /// Its `lambda_perf` facts, with their request id.
    pub(crate) facts: Option<(String, Facts)>,
    /// `ClientInitDuration` values, by client (`client` dimension; `(at init)` without it).
    pub(crate) client_inits: Vec<(String, f64)>,
}

/// One log message, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// `START RequestId: …` / `platform.start`.
    Start,
    /// `END RequestId: …` / `platform.runtimeDone`.
    End,
    /// `REPORT RequestId: …` / `platform.report`.
    Report(PlatformReport),
    /// `<timestamp> <request id> Task timed out after 3.00 seconds`: the platform's line for
    /// an invocation it stopped at its timeout, with the request id. Older text REPORT lines
    /// do not say so themselves (`Status: timeout`).
    TimedOut(String),
    /// `RequestId: <id> Error: Runtime exited …`: the platform's line for an invocation whose
    /// runtime exited in it (or was killed for memory), logged before its `END`, with the
    /// request id. Older text REPORT lines do not say so themselves (`Status: error`).
    RuntimeExited(String),
    /// The line Lambda logs right after that one: its error type, `Runtime.ExitError` or
    /// `Runtime.OutOfMemory`.
    RuntimeExitType(String),
    /// `platform.initStart`, with its `initializationType` when it is one Lambda documents.
    InitStart(Option<InitializationType>),
    /// Another platform line (`INIT_START`, `INIT_REPORT`, SnapStart's `RESTORE_START` and
    /// `RESTORE_REPORT`, `XRAY TraceId`, other `platform.*` records).
    OtherPlatform,
    /// A valid EMF line.
    Emf(Box<EmfRecord>),
    /// The function's own output.
    Output,
    /// A line that looks like a platform or EMF line but cannot be read, and why.
    Malformed(String),
}

/// Reads one message (one line, without its line terminator). A line of output that holds a
/// REPORT, in text or JSON, behind text that is no log prefix (what `aws` writes with
/// `--output text`, `yaml` or `table`) is malformed: it would be an invocation lost in
/// silence.
pub(crate) fn read(message: &str) -> Record {
    let record = read_line(message);
    if record == Record::Output
        && (message.contains("REPORT RequestId:") || message.contains("\"platform.report\""))
    {
        return Record::Malformed(
            "a REPORT behind text that is not a log prefix (the output of `aws` with \
             `--output text`, `yaml` or `table`? `--output json` is read)"
                .to_owned(),
        );
    }
    record
}

fn read_line(message: &str) -> Record {
    let text = message.trim_end_matches(['\r', '\n', '\t', ' ']);
    if let Some(rest) = text.strip_prefix("REPORT RequestId:") {
        return text_report(rest);
    }
    if text.starts_with("START RequestId:") || text.starts_with("END RequestId:") {
        let id = text.split_whitespace().nth(2);
        return match id {
            Some(_) if text.starts_with('S') => Record::Start,
            Some(_) => Record::End,
            None => Record::Malformed("a START or END line without a request id".to_owned()),
        };
    }
    if let Some(request_id) = timed_out(text) {
        return Record::TimedOut(request_id.to_owned());
    }
    if let Some(request_id) = runtime_exited(text) {
        return Record::RuntimeExited(request_id.to_owned());
    }
    if RUNTIME_EXIT_TYPES.contains(&text) {
        return Record::RuntimeExitType(text.to_owned());
    }
    if [
        "INIT_START ",
        "INIT_REPORT ",
        "RESTORE_START ",
        "RESTORE_REPORT ",
        "XRAY TraceId:",
        "EXTENSION\t",
        "TELEMETRY\t",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix))
    {
        return Record::OtherPlatform;
    }
    let Some(brace) = text.find('{') else {
        return Record::Output;
    };
    let claims_emf = text.contains("\"_aws\"");
    let claims_platform = text.contains("\"platform.");
    if !claims_emf && !claims_platform {
        return Record::Output;
    }
    // Lambda may put a prefix before an EMF document (a timestamp, a request id).
    let Ok(value) = serde_json::from_str::<Value>(&text[brace..]) else {
        return if claims_platform && brace == 0 {
            Record::Malformed("a platform record that is not valid JSON".to_owned())
        } else if claims_emf {
            Record::Malformed("an EMF line that is not valid JSON".to_owned())
        } else {
            Record::Output
        };
    };
    let Some(object) = value.as_object() else {
        return Record::Output;
    };
    if let Some(kind) = object.get("type").and_then(Value::as_str) {
        if kind.starts_with("platform.") {
            return platform_record(kind, object);
        }
    }
    match object.get("_aws") {
        Some(Value::Object(aws)) => emf(aws, object),
        Some(_) => Record::Malformed("an EMF line whose _aws is not an object".to_owned()),
        None => Record::Output,
    }
}

/// The fields of a text REPORT line after `REPORT RequestId:`, separated by tabs (or
/// spaces, as documentation renders them): `Label: value [unit]`.
fn text_report(rest: &str) -> Record {
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let Some(request_id) = tokens.first() else {
        return Record::Malformed("a REPORT line without a request id".to_owned());
    };
    let mut fields: Vec<(String, &str)> = Vec::new();
    let mut label: Vec<&str> = Vec::new();
    let mut i = 1;
    while i < tokens.len() {
        let token = tokens[i];
        i += 1;
        let Some(word) = token.strip_suffix(':') else {
            label.push(token);
            continue;
        };
        label.push(word);
        let Some(value) = tokens.get(i) else {
            return Record::Malformed(format!(
                "a REPORT line whose {} has no value",
                label.join(" ")
            ));
        };
        i += 1;
        if tokens
            .get(i)
            .is_some_and(|unit| matches!(*unit, "ms" | "MB"))
        {
            i += 1;
        }
        fields.push((label.join(" "), value));
        label.clear();
    }
    let text = |name: &str| {
        fields
            .iter()
            .find(|(label, _)| label == name)
            .map(|(_, value)| *value)
    };
    let number = |name: &str| -> Result<Option<f64>, String> {
        text(name)
            .map(|value| {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|n| is_figure(*n))
                    .ok_or_else(|| format!("a REPORT line whose {name} is {value:?}"))
            })
            .transpose()
    };
    let report = (|| {
        let required =
            |name: &str| number(name)?.ok_or_else(|| format!("a REPORT line without {name}"));
        // Checked in the order of the line.
        let duration_ms = required("Duration")?;
        let billed_duration_ms = required("Billed Duration")?;
        let memory = required("Memory Size")?;
        let memory_size_mb = memory_mb(memory)
            .ok_or_else(|| format!("a REPORT line whose Memory Size is {memory}"))?;
        Ok::<_, String>(PlatformReport {
            request_id: (*request_id).to_owned(),
            duration_ms,
            billed_duration_ms,
            memory_size_mb,
            max_memory_used_mb: required("Max Memory Used")?,
            init_duration_ms: number("Init Duration")?,
            restore_duration_ms: number("Restore Duration")?,
            billed_restore_duration_ms: number("Billed Restore Duration")?,
            status: text("Status").unwrap_or("success").to_owned(),
            status_logged: text("Status").is_some(),
            error_type: text("Error Type").map(str::to_owned),
        })
    })();
    report.map_or_else(Record::Malformed, Record::Report)
}

/// The request id of a `[<timestamp> ]<request id> Task timed out after <seconds> seconds`
/// line.
fn timed_out(text: &str) -> Option<&str> {
    let (before, after) = text.split_once(" Task timed out after ")?;
    let seconds = after.strip_suffix(" seconds")?;
    seconds.parse::<f64>().ok()?;
    let mut words = before.split_whitespace().rev();
    let request_id = words.next()?;
    // Before the id, a timestamp or nothing: not a sentence of the function's own output.
    words.nth(1).is_none().then_some(request_id)
}

/// The error types Lambda logs on the line after a `Runtime exited` line.
const RUNTIME_EXIT_TYPES: [&str; 2] = ["Runtime.ExitError", "Runtime.OutOfMemory"];

/// The request id of a `RequestId: <request id> Error: Runtime exited …` line (`… with error:
/// exit status 1`, `… without providing a reason`).
fn runtime_exited(text: &str) -> Option<&str> {
    let (request_id, error) = text.strip_prefix("RequestId: ")?.split_once(" Error: ")?;
    let one_word = !request_id.is_empty() && !request_id.contains(char::is_whitespace);
    (one_word && error.starts_with("Runtime exited ")).then_some(request_id)
}

/// The largest figure (milliseconds or MB) a REPORT is read with: 10^12 ms is 31 years,
/// far beyond any invocation; a larger one is not a figure, and sums of such would overflow.
const MAX_FIGURE: f64 = 1e12;

/// Whether `n` can be a REPORT's figure: finite, not negative, at most [`MAX_FIGURE`].
fn is_figure(n: f64) -> bool {
    (0.0..=MAX_FIGURE).contains(&n)
}

fn memory_mb(value: f64) -> Option<u32> {
    (value.fract() == 0.0 && value >= 1.0 && value <= f64::from(u32::MAX)).then_some(value as u32)
}

/// A JSON platform record (`AWS_LAMBDA_LOG_FORMAT=JSON`).
fn platform_record(kind: &str, object: &Map<String, Value>) -> Record {
    let record = object.get("record").and_then(Value::as_object);
    let request_id = record
        .and_then(|r| r.get("requestId"))
        .and_then(Value::as_str);
    match kind {
        "platform.start" | "platform.runtimeDone" => match request_id {
            Some(_) if kind == "platform.start" => Record::Start,
            Some(_) => Record::End,
            None => Record::Malformed(format!("a {kind} record without a requestId")),
        },
        "platform.report" => {
            let Some(request_id) = request_id else {
                return Record::Malformed("a platform.report record without a requestId".into());
            };
            let metrics = record
                .and_then(|r| r.get("metrics"))
                .and_then(Value::as_object);
            let metric = |name: &str| {
                metrics
                    .and_then(|m| m.get(name))
                    .and_then(Value::as_f64)
                    .filter(|n| is_figure(*n))
            };
            let required = |name: &str| {
                metric(name).ok_or_else(|| format!("a platform.report record without {name}"))
            };
            let report = (|| {
                Ok::<_, String>(PlatformReport {
                    request_id: request_id.to_owned(),
                    duration_ms: required("durationMs")?,
                    billed_duration_ms: required("billedDurationMs")?,
                    memory_size_mb: memory_mb(required("memorySizeMB")?)
                        .ok_or("a platform.report record with a bad memorySizeMB")?,
                    max_memory_used_mb: required("maxMemoryUsedMB")?,
                    init_duration_ms: metric("initDurationMs"),
                    restore_duration_ms: metric("restoreDurationMs"),
                    billed_restore_duration_ms: metric("billedRestoreDurationMs"),
                    status: record
                        .and_then(|r| r.get("status"))
                        .and_then(Value::as_str)
                        .unwrap_or("success")
                        .to_owned(),
                    status_logged: record.and_then(|r| r.get("status")).is_some(),
                    error_type: record
                        .and_then(|r| r.get("errorType"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            })();
            report.map_or_else(Record::Malformed, Record::Report)
        }
        "platform.initStart" => Record::InitStart(
            record
                .and_then(|r| r.get("initializationType"))
                .and_then(Value::as_str)
                .and_then(InitializationType::parse),
        ),
        _ => Record::OtherPlatform,
    }
}

/// An EMF document: its timestamp, lambda-perf's facts, client init durations.
fn emf(aws: &Map<String, Value>, object: &Map<String, Value>) -> Record {
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return Record::Malformed("an EMF line without _aws.CloudWatchMetrics".to_owned());
    };
    let facts = object.get("lambda_perf").and_then(|record| {
        let request_id = record.get("request_id")?.as_str()?.to_owned();
        Some((request_id, Facts::from_value(record)?))
    });
    let mut client_inits = Vec::new();
    let declares_client_init = directives.iter().any(|directive| {
        directive["Metrics"]
            .as_array()
            .is_some_and(|metrics| metrics.iter().any(|m| m["Name"] == "ClientInitDuration"))
    });
    if declares_client_init {
        let client = object
            .get("client")
            .and_then(Value::as_str)
            .unwrap_or("(at init)");
        let values = match object.get("ClientInitDuration") {
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_f64).collect(),
            Some(value) => value.as_f64().into_iter().collect(),
            None => Vec::new(),
        };
        client_inits.extend(values.into_iter().map(|v: f64| (client.to_owned(), v)));
    }
    Record::Emf(Box::new(EmfRecord {
        timestamp_ms: aws.get("Timestamp").and_then(Value::as_f64),
        facts,
        client_inits,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(line: &str) -> PlatformReport {
        match read(line) {
            Record::Report(report) => report,
            other => panic!("not a report: {other:?}"),
        }
    }

    #[test]
    fn text_report_lines() {
        let cold = report(
            "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 15.74 ms\t\
             Billed Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\t\
             Init Duration: 130.49 ms\t",
        );
        assert_eq!(cold.request_id, "8f507cfc-xmpl-4697-b07a-ac58fc914c95");
        assert_eq!(
            (
                cold.duration_ms,
                cold.billed_duration_ms,
                cold.memory_size_mb
            ),
            (15.74, 16.0, 128)
        );
        assert_eq!(cold.max_memory_used_mb, 56.0);
        assert_eq!(cold.init_duration_ms, Some(130.49));
        assert_eq!(cold.status, "success");
        // With spaces, as documentation renders it; SnapStart; an OOM kill.
        let restored = report(
            "REPORT RequestId: r-2 Duration: 5.00 ms Billed Duration: 80 ms Memory Size: 512 MB \
             Max Memory Used: 70 MB Restore Duration: 474.16 ms Billed Restore Duration: 75 ms",
        );
        assert_eq!(restored.restore_duration_ms, Some(474.16));
        assert_eq!(restored.billed_restore_duration_ms, Some(75.0));
        assert_eq!(restored.init_duration_ms, None);
        let oom = report(
            "REPORT RequestId: r-3\tDuration: 2417.11 ms\tBilled Duration: 2418 ms\tMemory Size: \
             128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
        );
        assert_eq!(oom.status, "error");
        assert_eq!(oom.error_type.as_deref(), Some("Runtime.OutOfMemory"));
    }

    #[test]
    fn json_platform_records() {
        let line = r#"{"time":"2025-01-02T03:04:05.678Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":12.5,"billedDurationMs":140,"memorySizeMB":256,"maxMemoryUsedMB":41,"initDurationMs":126.9},"status":"success"}}"#;
        let parsed = report(line);
        assert_eq!(parsed.memory_size_mb, 256);
        assert_eq!(parsed.init_duration_ms, Some(126.9));
        assert_eq!(parsed.billed_restore_duration_ms, None);
        let restored = report(
            r#"{"time":"2025-01-02T03:04:05.678Z","type":"platform.report","record":{"requestId":"r-2","metrics":{"durationMs":147.156,"billedDurationMs":201,"memorySizeMB":512,"maxMemoryUsedMB":91,"restoreDurationMs":500.795,"billedRestoreDurationMs":53},"status":"success"}}"#,
        );
        assert_eq!(restored.restore_duration_ms, Some(500.795));
        assert_eq!(restored.billed_restore_duration_ms, Some(53.0));
        assert_eq!(
            read(r#"{"time":"x","type":"platform.start","record":{"requestId":"r-1"}}"#),
            Record::Start
        );
        assert_eq!(
            read(r#"{"time":"x","type":"platform.initStart","record":{}}"#),
            Record::InitStart(None)
        );
        assert_eq!(
            read(
                r#"{"time":"x","type":"platform.initStart","record":{"initializationType":"provisioned-concurrency","phase":"init"}}"#
            ),
            Record::InitStart(Some(InitializationType::ProvisionedConcurrency))
        );
        assert!(matches!(
            read(r#"{"type":"platform.report","record":{"requestId":"r","metrics":{}}}"#),
            Record::Malformed(reason) if reason.contains("durationMs")
        ));
    }

    #[test]
    fn emf_lines_and_their_facts() {
        let line = r#"{"_aws":{"Timestamp":1735787045678,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["service","client"]],"Metrics":[{"Name":"ClientInitDuration","Unit":"Milliseconds"}]}]},"service":"orders","client":"dynamodb","ClientInitDuration":[41.5],"lambda_perf":{"start_kind":"cold","invocation":1,"request_id":"r-1","environment_age_ms":50.0,"init_duration_ms":12.0}}"#;
        let Record::Emf(emf) = read(line) else {
            panic!("EMF")
        };
        assert_eq!(emf.timestamp_ms, Some(1_735_787_045_678.0));
        let (request_id, facts) = emf.facts.unwrap();
        assert_eq!(request_id, "r-1");
        assert_eq!(facts.start_kind.as_deref(), Some("cold"));
        assert_eq!(emf.client_inits, [("dynamodb".to_owned(), 41.5)]);
        // A prefix before the document is allowed, as on Lambda.
        let prefixed = format!("2025-01-02T03:04:05.678Z\tr-1\tINFO\t{line}");
        assert!(matches!(read(&prefixed), Record::Emf(_)));
    }

    #[test]
    fn everything_else() {
        assert_eq!(read("START RequestId: r-1 Version: $LATEST"), Record::Start);
        assert_eq!(read("END RequestId: r-1"), Record::End);
        assert_eq!(
            read("INIT_START Runtime Version: provided:al2023.v33"),
            Record::OtherPlatform
        );
        assert_eq!(
            read("XRAY TraceId: 1-5e34a614-10bd\tSegmentId: 07f5\tSampled: true"),
            Record::OtherPlatform
        );
        assert_eq!(
            read("2026-06-23T14:08:22.417Z 5f3c1a9e-9a1b Task timed out after 3.01 seconds"),
            Record::TimedOut("5f3c1a9e-9a1b".to_owned())
        );
        assert_eq!(
            read("r-1 Task timed out after 900.00 seconds\n"),
            Record::TimedOut("r-1".to_owned())
        );
        for output in [
            "the batch said Task timed out after 3.00 seconds",
            "r-1 Task timed out after a while seconds",
            "r-1 Task timed out after 3.00 seconds, retrying",
            "Task timed out after 3.00 seconds",
        ] {
            assert_eq!(read(output), Record::Output, "{output}");
        }
        assert_eq!(
            read("RequestId: r-1 Error: Runtime exited with error: exit status 1"),
            Record::RuntimeExited("r-1".to_owned())
        );
        assert_eq!(
            read("RequestId: r-2 Error: Runtime exited without providing a reason"),
            Record::RuntimeExited("r-2".to_owned())
        );
        assert_eq!(
            read("Runtime.ExitError"),
            Record::RuntimeExitType("Runtime.ExitError".to_owned())
        );
        assert_eq!(
            read("Runtime.OutOfMemory\n"),
            Record::RuntimeExitType("Runtime.OutOfMemory".to_owned())
        );
        for output in [
            "RequestId: r-1 Error: the order was refused",
            "RequestId: a b Error: Runtime exited with error: exit status 1",
            "Runtime.ExitError raised by the batch",
        ] {
            assert_eq!(read(output), Record::Output, "{output}");
        }
        assert_eq!(read("handling order o-42"), Record::Output);
        assert_eq!(read(r#"{"level":"INFO","message":"hi"}"#), Record::Output);
        assert_eq!(read("START the engines"), Record::Output);
        for malformed in [
            "START RequestId:",
            "REPORT RequestId: r-1\tDuration: 1.0 ms",
            "REPORT RequestId: r-1\tDuration: fast ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB",
            "REPORT RequestId: r-1\tDuration: 1 ms\tBilled Duration: 1 ms\tMemory Size: 12.5 MB\tMax Memory Used: 1 MB",
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"#,
            r#"{"_aws":5}"#,
            r#"{"_aws":{"Timestamp":1}}"#,
            r#"{"type":"platform.report","record":"#,
        ] {
            assert!(
                matches!(read(malformed), Record::Malformed(_)),
                "{malformed}"
            );
        }
    }
}
