//! Reading exported CloudWatch Logs into [`LogEvent`]s, from either form:
//!
//! - the JSON `aws logs filter-log-events` writes (`{"events": [{"logStreamName", "timestamp",
//!   "message"}, …]}`, or just the array of events), and the messages of a CloudWatch Logs
//!   subscription (`{"messageType", "logStream", "logEvents": […]}`);
//! - plain text with one event a line, optionally prefixed the way `aws logs tail` prints
//!   events: `2025-01-02T03:04:05.678000+00:00 2025/01/02/[$LATEST]0123abcd <message>`
//!   (the default format) or `2025-01-02T03:04:05 <message>` (`--format short`), colored or
//!   not; `--format json` prints a message that is entirely JSON indented on the lines after
//!   its prefix, read as one.

use std::path::Path;

use serde_json::Value;

use super::timestamp::parse_timestamp;

/// One log event line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogEvent {
    /// Where it was read: `file:line`, or `file: event n` for JSON.
    pub(crate) location: String,
    /// Its timestamp, milliseconds since the epoch, when known.
    pub(crate) timestamp_ms: Option<f64>,
    /// Whether that timestamp was printed to the second only, its milliseconds cut off
    /// (`aws logs tail --format short`): the event was logged within the second it names.
    pub(crate) to_the_second: bool,
    /// Its log stream (one per execution environment), when known.
    pub(crate) stream: Option<String>,
    /// The message line.
    pub(crate) message: String,
}

/// The events of one file, and the events of it that could not be read (with why).
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub(crate) events: Vec<LogEvent>,
    pub(crate) malformed: Vec<(String, String)>,
}

/// Reads the text of one file named `name`.
pub(crate) fn read_file(name: &str, text: &str) -> Read {
    // A byte order mark (files saved on Windows) is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(why) = not_text(text) {
        return Read {
            events: Vec::new(),
            malformed: vec![(name.to_owned(), why)],
        };
    }
    let path_stream = stream_of_path(name);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Some(read) = json_export(name, trimmed, path_stream.as_deref()) {
            return read;
        }
    }
    text_lines(name, text, path_stream.as_deref())
}

/// Why `text` is not a log export's, when it is not text: a binary file (a zip, an image) or
/// UTF-16 without its byte order mark, more than a quarter of whose characters are NUL bytes,
/// other control characters or bytes that are not UTF-8 (decoded as `U+FFFD`). A log export
/// is text: a function's output with a few NUL bytes in it (a fixed-size buffer printed
/// whole) is read as any other output.
fn not_text(text: &str) -> Option<String> {
    let (mut characters, mut unreadable) = (0_usize, 0_usize);
    for character in text.chars() {
        characters += 1;
        let is_text =
            !character.is_control() || matches!(character, '\t' | '\n' | '\r' | '\u{c}' | '\u{1b}');
        if !is_text || character == char::REPLACEMENT_CHARACTER {
            unreadable += 1;
        }
    }
    (unreadable > characters / 4).then(|| {
        format!(
            "not text: {unreadable} of its {characters} characters are NUL bytes, other control \
             characters or bytes that are not UTF-8 (a binary file, or UTF-16 without its \
             byte order mark); not read"
        )
    })
}

/// The log stream a file's path names, as an export to Amazon S3 lays its files out:
/// `…/2025/01/02/[$LATEST]0123abcd/000000.gz`, the stream's name being the four directories
/// above the file.
fn stream_of_path(name: &str) -> Option<String> {
    let mut directories = Path::new(name).parent()?.components().rev();
    let mut parts: Vec<&str> = Vec::with_capacity(4);
    for _ in 0..4 {
        parts.push(directories.next()?.as_os_str().to_str()?);
    }
    parts.reverse();
    let stream = parts.join("/");
    is_log_stream(&stream).then_some(stream)
}

/// The events of one page, and the log stream they are of when the page names it (the events
/// of `filter-log-events` each name their own).
struct Page<'a> {
    events: &'a [Value],
    stream: Option<&'a str>,
}

/// The keys a `filter-log-events` (or `get-log-events`) document has beside its `events`.
const EXPORT_KEYS: [&str; 4] = [
    "searchedLogStreams",
    "nextToken",
    "nextForwardToken",
    "nextBackwardToken",
];

/// The pages of one JSON object: `{"events": [...]}` (`filter-log-events`), or a CloudWatch
/// Logs subscription's message (`{"messageType": "DATA_MESSAGE", "logStream": …,
/// "logEvents": [...]}`, as Amazon Data Firehose delivers it), whose `CONTROL_MESSAGE`s hold
/// no log events of the function. A record of the function's own that happens to hold an
/// `events` or `logEvents` array (the first line of its messages, in the JSON log format) is
/// none: its other keys are not the export's, nor are its items log events.
fn object_pages(object: &Value) -> Option<Vec<Page<'_>>> {
    let fields = object.as_object()?;
    if let Some(events) = fields.get("events").and_then(Value::as_array) {
        let export = fields
            .keys()
            .all(|key| key == "events" || EXPORT_KEYS.contains(&key.as_str()));
        return (export || all_log_events(events)).then(|| {
            vec![Page {
                events,
                stream: None,
            }]
        });
    }
    let events = fields.get("logEvents").and_then(Value::as_array)?;
    let message_type = fields.get("messageType").and_then(Value::as_str);
    if message_type.is_none() && !all_log_events(events) {
        return None;
    }
    if message_type == Some("CONTROL_MESSAGE") {
        return Some(Vec::new());
    }
    let stream = fields.get("logStream").and_then(Value::as_str);
    Some(vec![Page { events, stream }])
}

/// Whether `items` are log events as CloudWatch Logs writes each: a `message` and a numeric
/// `timestamp`.
fn all_log_events(items: &[Value]) -> bool {
    !items.is_empty()
        && items.iter().all(|item| {
            item.get("message").is_some_and(Value::is_string)
                && item.get("timestamp").is_some_and(Value::is_number)
        })
}

/// The pages of events of an export document: one object ([`object_pages`]), the array of
/// events alone (of log events: an array without any, `[1, 2]`, is a line of the function's
/// own output), or an array of such objects (`jq -s` of several).
fn pages_of(document: &Value) -> Option<Vec<Page<'_>>> {
    let is_event = |event: &Value| {
        ["message", "timestamp", "logStreamName", "eventId"]
            .iter()
            .any(|key| event.get(key).is_some())
    };
    match document {
        Value::Object(_) => object_pages(document),
        Value::Array(items) => {
            // Objects with pages, each read once.
            let objects = (!items.is_empty())
                .then(|| items.iter().map(object_pages).collect::<Option<Vec<_>>>())
                .flatten();
            match objects {
                Some(pages) => Some(pages.into_iter().flatten().collect()),
                None => (items.is_empty() || items.iter().any(is_event)).then(|| {
                    vec![Page {
                        events: items,
                        stream: None,
                    }]
                }),
            }
        }
        _ => None,
    }
}

/// The events of one or more `filter-log-events` documents one after the other (pages
/// written by a loop over `--starting-token`); `None` when the text is not such an export
/// (JSON lines of the function's own output are text). An export cut short, damaged, or
/// followed by something else, is read as far as it goes and the rest counted as malformed.
fn json_export(name: &str, text: &str, path_stream: Option<&str>) -> Option<Read> {
    let mut read = Read::default();
    let mut documents = 0;
    let mut events = 0;
    for document in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        let why = match document {
            Ok(document) => match pages_of(&document) {
                Some(pages) => {
                    for page in pages {
                        let stream = page.stream.or(path_stream);
                        json_events(name, page.events, stream, &mut events, &mut read);
                    }
                    documents += 1;
                    continue;
                }
                None if documents == 0 => return None,
                None => "a JSON document that is not a filter-log-events export".to_owned(),
            },
            Err(error) if documents > 0 || error.is_eof() || looks_like_export(text) => {
                format!("a JSON export that cannot be read from here on: {error}")
            }
            Err(_) => return None,
        };
        read.malformed
            .push((format!("{name}: after event {events}"), why));
        break;
    }
    Some(read)
}

/// Whether `text` opens as a `filter-log-events` export does (`{"events": [` or `[{`), so
/// that a syntax error in it is an export damaged, not text.
fn looks_like_export(text: &str) -> bool {
    match text.strip_prefix('{') {
        Some(rest) => {
            let rest = rest.trim_start();
            rest.starts_with("\"events\"") || rest.starts_with("\"messageType\"")
        }
        None => text
            .strip_prefix('[')
            .is_some_and(|rest| rest.trim_start().starts_with('{')),
    }
}

/// The events of one page, `stream` the log stream of those that do not name their own.
fn json_events(
    name: &str,
    events: &[Value],
    stream: Option<&str>,
    count: &mut usize,
    read: &mut Read,
) {
    for event in events {
        *count += 1;
        let location = format!("{name}: event {count}");
        let Some(message) = event.get("message").and_then(Value::as_str) else {
            read.malformed
                .push((location, "an event without a message".to_owned()));
            continue;
        };
        let timestamp_ms = event.get("timestamp").and_then(Value::as_f64);
        let stream = event
            .get("logStreamName")
            .and_then(Value::as_str)
            .or(stream)
            .map(str::to_owned);
        // A message may hold several lines (a REPORT and its XRAY line).
        for line in message.lines().filter(|line| !line.trim().is_empty()) {
            read.events.push(LogEvent {
                location: location.clone(),
                timestamp_ms,
                to_the_second: false,
                stream: stream.clone(),
                message: line.to_owned(),
            });
        }
    }
}

/// The events of a text file, `stream` the log stream of the lines that do not name their own.
fn text_lines(name: &str, text: &str, stream: Option<&str>) -> Read {
    let mut read = Read::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        let line = strip_ansi(lines[n]);
        let location = format!("{name}:{}", n + 1);
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let Prefix {
            timestamp_ms,
            to_the_second,
            stream: own_stream,
            message,
        } = split_prefix(&line);
        let mut message = message.to_owned();
        // `aws logs tail --format json`: a message that is entirely JSON on the lines after
        // its prefix, indented.
        if timestamp_ms.is_some() && message.trim().is_empty() {
            if let Some((document, used)) = pretty_json(&lines[n..]) {
                message = document;
                n += used;
            }
        }
        read.events.push(LogEvent {
            location,
            timestamp_ms,
            to_the_second,
            stream: own_stream.or_else(|| stream.map(str::to_owned)),
            message,
        });
    }
    read
}

/// The most bytes a message printed over several lines is read with: a log event holds at
/// most 256 KB, and indenting it may double that.
const MAX_PRETTY_JSON_BYTES: usize = 1 << 20;

/// The JSON document `aws logs tail --format json` prints on the lines after a message's
/// prefix (Python's `json.dumps(message, indent=4)`: opened at the start of the first line,
/// closed at the start of the last), as one line, with how many lines it took; `None` when
/// `lines` do not open with one.
fn pretty_json(lines: &[&str]) -> Option<(String, usize)> {
    let first = lines.first()?.trim_end();
    let close = match first {
        "{" => "}",
        "[" => "]",
        _ => return None,
    };
    let mut bytes = 0;
    for (index, line) in lines.iter().enumerate().skip(1) {
        bytes += line.len() + 1;
        if bytes > MAX_PRETTY_JSON_BYTES {
            return None;
        }
        if line.trim_end() != close {
            // `json.dumps(…, indent=4)` indents every line but the last: this one ends it,
            // unclosed.
            if !line.starts_with(' ') {
                return None;
            }
            continue;
        }
        let document = lines[..=index].join("\n");
        let value: Value = serde_json::from_str(&document).ok()?;
        return Some((value.to_string(), index + 1));
    }
    None
}

/// What `aws logs tail`'s prefix of a line says, and the message after it.
struct Prefix<'a> {
    timestamp_ms: Option<f64>,
    /// Whether the timestamp is `--format short`'s `2025-01-02T03:04:05`, to the second (no
    /// fraction, no offset).
    to_the_second: bool,
    stream: Option<String>,
    message: &'a str,
}

/// `aws logs tail`'s prefix: a timestamp, then (default format) the log stream.
fn split_prefix(line: &str) -> Prefix<'_> {
    let none = Prefix {
        timestamp_ms: None,
        to_the_second: false,
        stream: None,
        message: line,
    };
    let Some((first, rest)) = line.split_once(' ') else {
        return none;
    };
    let Some(timestamp) = parse_timestamp(first) else {
        return none;
    };
    let (stream, message) = match rest.split_once(' ') {
        Some((stream, message)) if is_log_stream(stream) => (Some(stream.to_owned()), message),
        None if is_log_stream(rest) => (Some(rest.to_owned()), ""),
        _ => (None, rest),
    };
    Prefix {
        timestamp_ms: Some(timestamp),
        to_the_second: first.len() == 19,
        stream,
        message,
    }
}

/// A Lambda log stream name: `2025/01/02/[$LATEST]0123abcd` (a date, then the version in
/// brackets and the environment's id).
fn is_log_stream(token: &str) -> bool {
    let bytes = token.as_bytes();
    bytes.len() > 12
        && bytes[4] == b'/'
        && bytes[7] == b'/'
        && bytes[10] == b'/'
        && [0..4, 5..7, 8..10]
            .into_iter()
            .all(|range| bytes[range].iter().all(u8::is_ascii_digit))
        && token[11..].contains('[')
        && token[11..].contains(']')
}

/// `line` without ANSI escape sequences (`aws logs tail --color on`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that is not text (a zip, an image, UTF-16 without its byte order mark) is not
    /// read as the function's output: it is one malformed entry, saying why.
    #[test]
    fn a_file_that_is_not_text_is_malformed_not_output() {
        let zip = "PK\u{3}\u{4}\u{14}\0\0\0\u{8}\0\u{fffd}\u{fffd}\nX\u{fffd}\0\0\u{2}\0\0\n";
        let utf16: String = "START RequestId: r-1 Version: $LATEST\n"
            .chars()
            .flat_map(|c| [c, '\0'])
            .collect();
        for (name, text) in [("logs.zip", zip), ("utf16.log", utf16.as_str())] {
            let read = read_file(name, text);
            assert!(read.events.is_empty(), "{name}: {read:?}");
            assert_eq!(read.malformed.len(), 1, "{name}: {read:?}");
            assert_eq!(read.malformed[0].0, name);
            assert!(
                read.malformed[0].1.starts_with("not text: "),
                "{name}: {read:?}"
            );
        }
    }

    /// A function's output holding a few NUL bytes (a fixed-size buffer printed whole) is
    /// text: read as output, NUL bytes and all.
    #[test]
    fn output_with_a_few_nul_bytes_is_read() {
        let text =
            "START RequestId: r-1 Version: $LATEST\nuser=alice\0\0\0\0\nEND RequestId: r-1\n";
        let read = read_file("fn.log", text);
        assert!(read.malformed.is_empty(), "{read:?}");
        assert_eq!(read.events[1].message, "user=alice\0\0\0\0");
    }

    #[test]
    fn filter_log_events_json() {
        let text = r#"{"events": [
            {"logStreamName": "2025/01/02/[$LATEST]abc", "timestamp": 1735787045678,
             "message": "REPORT RequestId: r-1\tDuration: 1.00 ms\t\nXRAY TraceId: 1-2-3\tSampled: true\t\n",
             "ingestionTime": 1735787046000, "eventId": "1"},
            {"logStreamName": "2025/01/02/[$LATEST]abc", "timestamp": 1735787045679}
        ], "searchedLogStreams": []}"#;
        let read = read_file("export.json", text);
        assert_eq!(read.events.len(), 2, "{:?}", read.events);
        assert_eq!(read.events[0].timestamp_ms, Some(1_735_787_045_678.0));
        assert_eq!(
            read.events[0].stream.as_deref(),
            Some("2025/01/02/[$LATEST]abc")
        );
        assert!(read.events[1].message.starts_with("XRAY"));
        assert_eq!(read.malformed.len(), 1);
        assert_eq!(read.malformed[0].0, "export.json: event 2");
        let array = read_file("events.json", r#"[{"message": "hello"}]"#);
        assert_eq!(array.events[0].message, "hello");
    }

    #[test]
    fn a_record_of_the_function_with_an_events_array_opens_text_not_an_export() {
        // Messages alone (`jq -r '.events[].message'`) in the JSON log format: the first is
        // the function's own record, which has an `events` array (or `logEvents`).
        for first in [
            r#"{"timestamp":"2025-01-02T03:04:05.000Z","level":"INFO","message":"batch","events":[{"message":"order 1"}]}"#,
            r#"{"level":"INFO","logEvents":[{"id":"1","message":"order 1"}]}"#,
        ] {
            let text = format!(
                "{first}\n{{\"time\":\"2025-01-02T03:04:05.100Z\",\"type\":\"platform.start\"}}\nplain\n"
            );
            let read = read_file("messages.log", &text);
            let messages: Vec<&str> = read.events.iter().map(|e| e.message.as_str()).collect();
            assert_eq!(messages, text.lines().collect::<Vec<_>>(), "{first}");
            assert!(read.malformed.is_empty(), "{:?}", read.malformed);
        }
        // An export with a key more than today's, its events as CloudWatch Logs writes them,
        // is still one.
        let export = r#"{"events": [{"timestamp": 1735787045678, "message": "hello"}], "more": 1}"#;
        let read = read_file("export.json", export);
        assert_eq!(read.events.len(), 1);
        assert_eq!(read.events[0].message, "hello");
    }

    #[test]
    fn tail_prefixes() {
        let text = "\
2025-01-02T03:04:05.678000+00:00 2025/01/02/[$LATEST]abc START RequestId: r-1 Version: $LATEST
2025-01-02T03:04:05 END RequestId: r-1
\u{1b}[32m2025-01-02T03:04:05.678000+00:00\u{1b}[0m \u{1b}[36m2025/01/02/[$LATEST]abc\u{1b}[0m hello world

no prefix at all
{\"_aws\": 1}";
        let read = read_file("tail.txt", text);
        let events = &read.events;
        assert_eq!(events.len(), 5);
        assert_eq!(events[0].message, "START RequestId: r-1 Version: $LATEST");
        assert_eq!(events[0].stream.as_deref(), Some("2025/01/02/[$LATEST]abc"));
        assert_eq!(events[1].stream, None);
        assert_eq!(events[1].timestamp_ms, Some(1_735_787_045_000.0));
        assert_eq!(events[1].message, "END RequestId: r-1");
        assert_eq!(events[2].message, "hello world");
        assert_eq!(events[2].location, "tail.txt:3");
        assert_eq!(events[3].timestamp_ms, None);
        assert_eq!(events[3].message, "no prefix at all");
        assert_eq!(events[4].message, "{\"_aws\": 1}", "a JSON line is text");
    }

    #[test]
    fn the_log_stream_of_a_path_laid_out_as_an_export_to_s3() {
        let stream = stream_of_path("logs/task/2025/01/02/[$LATEST]abc/000000.gz");
        assert_eq!(stream.as_deref(), Some("2025/01/02/[$LATEST]abc"));
        assert_eq!(stream_of_path("2025/01/02/[$LATEST]abc/000000.gz"), stream);
        assert_eq!(stream_of_path("01/02/[$LATEST]abc/000000.gz"), None);
        assert_eq!(stream_of_path("000000.gz"), None);
        assert_eq!(stream_of_path("logs/2025/01/02/other/000000.gz"), None);
        let read = read_file(
            "task/2025/01/02/[$LATEST]abc/000000.gz",
            "2025-01-02T03:04:05.678Z START RequestId: r-1 Version: $LATEST\n\
             2025-01-02T03:04:05.679Z 2025/01/02/[$LATEST]def its own stream\n",
        );
        assert_eq!(read.events[0].stream, stream);
        assert_eq!(read.events[0].timestamp_ms, Some(1_735_787_045_678.0));
        assert_eq!(
            read.events[0].message,
            "START RequestId: r-1 Version: $LATEST"
        );
        assert_eq!(
            read.events[1].stream.as_deref(),
            Some("2025/01/02/[$LATEST]def")
        );
    }
}
