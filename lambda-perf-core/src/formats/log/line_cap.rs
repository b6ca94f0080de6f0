//! Log lines held to [`MAX_LINE_BYTES`], the longest line lambda-perf writes to stdout (EMF
//! lines are held to it too). Lambda's log capture splits a longer line into pieces that are
//! each invalid JSON, so one huge value — a 300 KB request body in a field, a logged event —
//! would spoil its whole line.
//!
//! A line over the limit is written again with its longest values replaced. The fixed keys
//! (`timestamp`, `level`, `target`, the invocation's keys) and the field names stay as they
//! are; the message and the field values are capped, the longest first: the cap is the
//! largest `c` for which the line fits when every value longer than `c` is replaced by a
//! marker of at most `c` bytes (water-filling). Values no longer than `c` are untouched, and
//! a value no longer than its smallest marker is never replaced (that would not shorten the
//! line). In JSON the marker is the one X-Ray metadata capping uses
//! ([`truncation_marker`]); in text it says the same on the line:
//!
//! ```text
//! "body":{"lambda_perf_truncated":{"preview":"\"bbbb…","size_bytes":300002}}
//! body=[lambda_perf_truncated size_bytes=300002 preview="bbbb…]
//! ```
//!
//! `size_bytes` is the size of the value as the line would have written it (its JSON, or its
//! escaped text), the preview its first bytes, cut between characters.
//!
//! A line within the limit costs one comparison after it is written; the rewrite is a cold
//! path. Of the fixed keys, only `target` can be long: a `log` record's target is a string the
//! code that logs makes at run time. Should the fixed keys and the field names leave no room
//! for even the smallest markers, the target is cut, between characters, to the room left,
//! ending in `…` (it stays a string); should that not be enough either (hundreds of
//! thousands of bytes of field names), the line is written with every value at its smallest
//! marker, as short as it can be made.

use std::borrow::Cow;

use super::LogFormat;
use super::escape::Escape;
use super::fields::LogFields;
use super::line::{LineHead, append_line, append_line_with};
use crate::formats::capped::{preview, truncation_marker};
pub(crate) use crate::formats::emf::MAX_LINE_BYTES;

/// How many times a marker's preview is shortened by what escaping it added before the
/// marker is written without a preview. Once is always enough (escaping never shortens
/// text, so cutting the excess from the preview cuts at least as much from the marker);
/// the bound keeps the loop finite whatever the marker's format.
const PREVIEW_SHRINKS: usize = 4;

/// Whether a line was written as it was, or with values replaced to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum LineFit {
    /// Written as [`append_line`] writes it.
    Whole,
    /// Written with its longest values replaced by markers; the caller counts it.
    Trimmed,
}

/// Appends one complete line, as [`append_line`] does, within [`MAX_LINE_BYTES`] (its
/// newline not counted).
pub(crate) fn append_fitting_line(
    out: &mut Vec<u8>,
    head: &LineHead<'_>,
    fields: &LogFields,
) -> LineFit {
    append_line_within(out, head, fields, MAX_LINE_BYTES)
}

/// [`append_fitting_line`] with the limit given (tests use small ones).
fn append_line_within(
    out: &mut Vec<u8>,
    head: &LineHead<'_>,
    fields: &LogFields,
    limit: usize,
) -> LineFit {
    let start = out.len();
    append_line(out, head, fields);
    if line_length(out, start) <= limit {
        return LineFit::Whole;
    }
    out.truncate(start);
    append_capped_line(out, head, fields, limit);
    LineFit::Trimmed
}

/// The length of the line appended to `out` at `start`, without its newline.
fn line_length(out: &[u8], start: usize) -> usize {
    out.len() - start - 1
}

/// Appends the line with the values longer than the cap replaced by their markers.
#[cold]
#[inline(never)]
fn append_capped_line(out: &mut Vec<u8>, head: &LineHead<'_>, fields: &LogFields, limit: usize) {
    // The line with its values left out is what stays; what it leaves is the values' room.
    let start = out.len();
    let mut values: Vec<&[u8]> = Vec::new();
    append_line_with(out, head, fields, |_, value| values.push(value));
    let fixed = line_length(out, start);
    let room = limit.saturating_sub(fixed);
    out.truncate(start);

    let marker = marker_format(fields.format());
    // Encoded values are UTF-8 (escaped from `str`s): this borrows, it does not copy.
    let texts: Vec<Cow<'_, str>> = values.iter().map(|v| String::from_utf8_lossy(v)).collect();
    let smallest: Vec<usize> = texts.iter().map(|text| marker(text, 0).len()).collect();
    let lengths: Vec<usize> = values.iter().map(|value| value.len()).collect();

    // The values at their shortest leave no room for the target: it is cut to what is left.
    let shortest: usize = lengths.iter().zip(&smallest).map(|(&l, &s)| l.min(s)).sum();
    let excess = (fixed + shortest).saturating_sub(limit);
    if excess > 0 {
        if let Some(target) = cut_target(head.target, fields.format(), excess) {
            let head = LineHead {
                target: &target,
                ..head.clone()
            };
            return append_capped_line(out, &head, fields, limit);
        }
    }
    let cap = largest_cap(&lengths, &smallest, room);
    let replacements: Vec<Option<Vec<u8>>> = texts
        .iter()
        .zip(&smallest)
        .map(|(text, &smallest)| {
            let allowed = cap.max(smallest);
            (text.len() > allowed).then(|| marker_within(marker, text, allowed, smallest))
        })
        .collect();

    let mut replacements = replacements.iter();
    append_line_with(out, head, fields, |out, value| match replacements.next() {
        Some(Some(marker)) => out.extend_from_slice(marker),
        _ => out.extend_from_slice(value),
    });
}

/// The largest cap for which the values take at most `room` bytes, a value longer than both
/// the cap and its smallest marker taking the larger of the two (what its marker is held to);
/// 0 when none fits, every value that can shrink then at its smallest marker.
fn largest_cap(lengths: &[usize], smallest: &[usize], room: usize) -> usize {
    let taken = |cap: usize| -> usize {
        lengths
            .iter()
            .zip(smallest)
            .map(|(&length, &smallest)| length.min(cap.max(smallest)))
            .sum()
    };
    // `taken` never falls as the cap grows: the largest cap that fits is found by halving.
    let (mut fits, mut highest) = (0, lengths.iter().copied().max().unwrap_or(0));
    while fits < highest {
        let cap = fits + (highest - fits).div_ceil(2);
        if taken(cap) <= room {
            fits = cap;
        } else {
            highest = cap - 1;
        }
    }
    fits
}

/// What a cut target ends with.
const CUT: &str = "…";

/// `target` cut, between characters, so that the line writes it at least `excess` bytes
/// shorter, with [`CUT`] at its end; `None` when that would not shorten it.
fn cut_target(target: &str, format: LogFormat, excess: usize) -> Option<String> {
    let escape = match format {
        LogFormat::Json => Escape::Json,
        LogFormat::Text => Escape::Text,
    };
    let mut escaped = Vec::new();
    let mut written_as = |text: &str| {
        escaped.clear();
        escape.push(&mut escaped, text);
        escaped.len()
    };
    let budget = written_as(target)
        .saturating_sub(excess)
        .saturating_sub(written_as(CUT));
    let (mut kept, mut used) = (0, 0);
    for (index, character) in target.char_indices() {
        let end = index + character.len_utf8();
        used += written_as(&target[index..end]);
        if used > budget {
            break;
        }
        kept = end;
    }
    let cut = format!("{}{CUT}", &target[..kept]);
    (cut.len() < target.len()).then_some(cut)
}

/// Writes the marker for a value's text with a preview of at most so many bytes.
type MarkerFormat = fn(&str, usize) -> Vec<u8>;

fn marker_format(format: LogFormat) -> MarkerFormat {
    match format {
        LogFormat::Json => json_marker,
        LogFormat::Text => text_marker,
    }
}

/// `{"lambda_perf_truncated":{"preview":…,"size_bytes":…}}`, as X-Ray metadata is capped.
fn json_marker(text: &str, preview_bytes: usize) -> Vec<u8> {
    // A `Value` always serializes; `null` keeps the line valid were it ever not to.
    serde_json::to_vec(&truncation_marker(text, preview_bytes)).unwrap_or_else(|_| b"null".to_vec())
}

/// `[lambda_perf_truncated size_bytes=… preview=…]`. A text value is already escaped onto
/// one line, so its preview needs no escaping of its own.
fn text_marker(text: &str, preview_bytes: usize) -> Vec<u8> {
    format!(
        "[lambda_perf_truncated size_bytes={} preview={}]",
        text.len(),
        preview(text, preview_bytes)
    )
    .into_bytes()
}

/// `text`'s marker within `allowed` bytes (at least `smallest`, its length without a
/// preview): the preview is given the bytes the marker leaves, then shortened by what
/// escaping it added.
fn marker_within(marker: MarkerFormat, text: &str, allowed: usize, smallest: usize) -> Vec<u8> {
    let mut preview_bytes = allowed.saturating_sub(smallest);
    for _ in 0..PREVIEW_SHRINKS {
        let written = marker(text, preview_bytes);
        match written.len().checked_sub(allowed) {
            None | Some(0) => return written,
            Some(excess) => preview_bytes = preview_bytes.saturating_sub(excess),
        }
    }
    marker(text, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::log::LogLevel;
    use crate::formats::log::line::InvocationKeys;
    use serde_json::Value;
    use std::time::{Duration, UNIX_EPOCH};

    fn head() -> LineHead<'static> {
        LineHead {
            timestamp: UNIX_EPOCH + Duration::from_millis(1_795_410_978_886),
            level: LogLevel::Info,
            target: "payment::handler",
            invocation: Some(InvocationKeys {
                service: "payment",
                sampling_rate: Some(0.1),
                cold_start: true,
                start_kind: "cold",
                function_name: Some("my-fn"),
                function_memory_size: Some(128),
                function_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
                function_request_id: "req-1",
                xray_trace_id: Some("1-5759e988-bd862e3fe1be46a994272793"),
            }),
        }
    }

    fn recorded(format: LogFormat, fill: impl FnOnce(&mut LogFields)) -> LogFields {
        let mut fields = LogFields::new(format);
        fill(&mut fields);
        fields
    }

    /// The line as [`append_line`] writes it, without its newline.
    fn uncapped(fields: &LogFields) -> String {
        let mut out = Vec::new();
        append_line(&mut out, &head(), fields);
        out.pop();
        String::from_utf8(out).unwrap()
    }

    /// The line held to `limit`: one line (without its newline) of at most `limit` bytes.
    fn capped(fields: &LogFields, limit: usize) -> (String, LineFit) {
        let mut out = b"earlier line\n".to_vec();
        let fit = append_line_within(&mut out, &head(), fields, limit);
        let line = String::from_utf8(out).unwrap();
        let line = line.strip_prefix("earlier line\n").unwrap();
        let line = line.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'), "one line: {line:.300}");
        assert!(
            line.len() <= limit,
            "{} bytes over {limit}: {line:.300}",
            line.len()
        );
        (line.to_owned(), fit)
    }

    fn parsed(line: &str) -> serde_json::Map<String, Value> {
        match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object ({other:?}): {line:.300}"),
        }
    }

    /// The marker's preview, after checking it stands for `original` (a value's JSON).
    fn preview_of(marker: &Value, original: &str) -> String {
        let marker = &marker["lambda_perf_truncated"];
        assert_eq!(marker["size_bytes"], original.len(), "{marker}");
        let preview = marker["preview"].as_str().unwrap().to_owned();
        assert!(original.starts_with(&preview), "{preview:.100}");
        preview
    }

    /// Keys and values of a small line that a trimmed line must keep as they are.
    fn small_fields(fields: &mut LogFields) {
        fields.integer("order", 7);
        fields.str("currency", "EUR");
    }

    #[test]
    fn a_line_within_the_limit_is_written_as_it_is() {
        let fields = recorded(LogFormat::Json, |fields| {
            fields.message(&format_args!("Collecting payment"));
            small_fields(fields);
            fields.str("body", &"b".repeat(500));
        });
        let whole = uncapped(&fields);
        assert_eq!(
            capped(&fields, whole.len()),
            (whole.clone(), LineFit::Whole)
        );
        let (trimmed, fit) = capped(&fields, whole.len() - 1);
        assert_eq!(fit, LineFit::Trimmed);
        assert_ne!(trimmed, whole);
    }

    #[test]
    fn a_line_over_the_limit_fits_and_keeps_its_fixed_keys_and_small_fields() {
        let body = "b".repeat(300_000);
        let fields = recorded(LogFormat::Json, |fields| {
            fields.message(&format_args!("response body"));
            small_fields(fields);
            fields.str("body", &body);
            fields.str("after", "kept");
        });
        let (line, fit) = capped(&fields, MAX_LINE_BYTES);
        assert_eq!(fit, LineFit::Trimmed);
        // The body's marker takes the room the rest of the line leaves, to a few bytes.
        assert!(line.len() >= MAX_LINE_BYTES - 4, "{} bytes", line.len());
        let mut trimmed = parsed(&line);
        let mut whole = parsed(&uncapped(&fields));
        let preview = preview_of(&trimmed.remove("body").unwrap(), &format!("\"{body}\""));
        assert!(preview.len() > 250_000, "{} bytes", preview.len());
        whole.remove("body");
        assert_eq!(trimmed, whole);
        // The keys keep their places.
        assert!(
            line.starts_with(concat!(
                r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","#,
                r#""message":"response body","target":"payment::handler","service":"payment","#,
                r#""sampling_rate":0.1,"cold_start":true,"start_kind":"cold","#
            )),
            "{line:.300}"
        );
        assert!(
            line.ends_with(r#"","size_bytes":300002}},"after":"kept"}"#),
            "{}",
            &line[line.len() - 100..]
        );
    }

    #[test]
    fn the_longest_values_are_capped_first() {
        let fields = recorded(LogFormat::Json, |fields| {
            small_fields(fields);
            fields.str("medium", &"m".repeat(1_000));
            fields.str("large", &"l".repeat(5_000));
            fields.str("largest", &"x".repeat(20_000));
        });
        let whole = uncapped(&fields);
        let original = parsed(&whole);
        let marker_of = |line: &str, key: &str| -> Option<String> {
            let value = parsed(line)[key].clone();
            value
                .get("lambda_perf_truncated")
                .map(|_| preview_of(&value, &serde_json::to_string(&original[key]).unwrap()))
        };

        // Room to spare for all but the largest: only it is replaced.
        let (line, _) = capped(&fields, whole.len() - 10_000);
        assert!(marker_of(&line, "largest").is_some());
        assert_eq!(marker_of(&line, "large"), None);
        assert_eq!(marker_of(&line, "medium"), None);

        // Less room than the large value takes: both large ones are held to the same cap,
        // the medium one and the small ones are untouched.
        let (line, _) = capped(&fields, whole.len() - 20_000);
        let large = marker_of(&line, "large").expect("large is capped");
        let largest = marker_of(&line, "largest").expect("largest is capped");
        assert!(
            large.len().abs_diff(largest.len()) <= 2,
            "{} {}",
            large.len(),
            largest.len()
        );
        let trimmed = parsed(&line);
        for key in ["medium", "order", "currency"] {
            assert_eq!(trimmed[key], original[key], "{key}");
        }
        assert!(
            line.len() >= whole.len() - 20_000 - 8,
            "{} bytes",
            line.len()
        );
    }

    #[test]
    fn a_value_shorter_than_its_marker_is_never_replaced() {
        let short = "s".repeat(40);
        let fields = recorded(LogFormat::Json, |fields| {
            fields.str("short", &short);
            fields.str("long", &"l".repeat(2_000));
        });
        let whole = uncapped(&fields);
        // Less room than the short value and the long one's smallest marker take: no cap
        // fits, and the line is as short as it can be made — the long value at its smallest
        // marker, the short one as it is (its marker would be longer).
        let limit = whole.len() - 2_000;
        let mut out = Vec::new();
        assert_eq!(
            append_line_within(&mut out, &head(), &fields, limit),
            LineFit::Trimmed
        );
        let trimmed = parsed(std::str::from_utf8(&out).unwrap());
        assert_eq!(trimmed["short"], short.as_str());
        let long = format!("\"{}\"", "l".repeat(2_000));
        assert_eq!(preview_of(&trimmed["long"], &long), "");
    }

    #[test]
    fn a_huge_message_is_capped_and_the_fields_kept() {
        let message = "m".repeat(1_000_000);
        let fields = recorded(LogFormat::Json, |fields| {
            fields.message(&format_args!("{message}"));
            small_fields(fields);
        });
        let (line, fit) = capped(&fields, MAX_LINE_BYTES);
        assert_eq!(fit, LineFit::Trimmed);
        let trimmed = parsed(&line);
        preview_of(&trimmed["message"], &format!("\"{message}\""));
        assert_eq!(trimmed["order"], 7);
        assert_eq!(trimmed["currency"], "EUR");
        assert_eq!(trimmed["level"], "INFO");
    }

    /// Every limit from a little above what the keys take to the whole line: the line fits,
    /// is JSON, and each preview is whole characters of the value (the line would not be
    /// UTF-8 otherwise) and a prefix of its JSON.
    fn fits_at_every_cut(value: &str) {
        let fields = recorded(LogFormat::Json, |fields| {
            small_fields(fields);
            fields.str("value", value);
            fields.debug("also", &value);
        });
        let whole = uncapped(&fields);
        let value_json = serde_json::to_string(value).unwrap();
        let debug_json = serde_json::to_string(&format!("{value:?}")).unwrap();
        let keys_only = whole.len() - value_json.len() - debug_json.len();
        for limit in keys_only + 2 * 70..whole.len() {
            let (line, fit) = capped(&fields, limit);
            assert_eq!(fit, LineFit::Trimmed);
            let trimmed = parsed(&line);
            assert_eq!(trimmed["order"], 7);
            for (key, json) in [("value", &value_json), ("also", &debug_json)] {
                if trimmed[key].get("lambda_perf_truncated").is_some() {
                    preview_of(&trimmed[key], json);
                }
            }
        }
    }

    #[test]
    fn multi_byte_characters_are_never_cut() {
        fits_at_every_cut(&"é😀a".repeat(60));
    }

    #[test]
    fn characters_that_escape_long_fit_at_every_cut() {
        // A control character is 6 bytes in a value's JSON (`\u0001`) and 7 in a preview;
        // a quote or a backslash 2, then 4: the preview grows as it is escaped.
        fits_at_every_cut(&"\u{1}\u{1f}".repeat(60));
        fits_at_every_cut(&"\"\\".repeat(100));
        fits_at_every_cut(&"a\u{7}é\"".repeat(40));
    }

    #[test]
    fn text_lines_are_capped_on_one_line() {
        let fields = recorded(LogFormat::Text, |fields| {
            fields.message(&format_args!("{}", "m\n".repeat(100_000)));
            small_fields(fields);
            fields.str("body", &"é".repeat(200_000));
        });
        let (line, fit) = capped(&fields, MAX_LINE_BYTES);
        assert_eq!(fit, LineFit::Trimmed);
        assert!(line.len() >= MAX_LINE_BYTES - 4, "{} bytes", line.len());
        let (start, message) = line.split_once(": ").unwrap();
        assert_eq!(
            start,
            "2026-11-23T05:16:18.886Z\treq-1\tINFO\tpayment::handler"
        );
        let message = message
            .strip_prefix("[lambda_perf_truncated size_bytes=300000 preview=m\\nm\\n")
            .unwrap();
        let (_, rest) = message
            .split_once("] order=7 currency=\"EUR\" body=")
            .unwrap();
        let preview = rest
            .strip_prefix("[lambda_perf_truncated size_bytes=400002 preview=\"éé")
            .unwrap();
        assert!(
            preview.ends_with("é]"),
            "{}",
            &preview[preview.len() - 20..]
        );

        let small = recorded(LogFormat::Text, small_fields);
        let whole = uncapped(&small);
        assert_eq!(capped(&small, whole.len()), (whole, LineFit::Whole));
    }

    /// A `log` record's target is the one fixed key of a line whose length the code that logs
    /// decides: one longer than the line allows is cut, and the line still fits.
    #[test]
    fn a_target_too_long_for_the_line_is_cut_and_the_line_fits() {
        let target = format!("orders{}", "\"\u{1}é".repeat(100_000));
        for format in [LogFormat::Json, LogFormat::Text] {
            let fields = recorded(format, |fields| {
                fields.message(&format_args!("{}", "m".repeat(1_000)));
                small_fields(fields);
            });
            let head = LineHead {
                target: &target,
                ..head()
            };
            let mut out = Vec::new();
            let fit = append_line_within(&mut out, &head, &fields, MAX_LINE_BYTES);
            assert_eq!(fit, LineFit::Trimmed);
            let line = String::from_utf8(out).unwrap();
            let line = line.strip_suffix('\n').unwrap();
            assert!(!line.contains('\n'));
            assert!(line.len() <= MAX_LINE_BYTES, "{} bytes", line.len());
            assert!(line.len() >= MAX_LINE_BYTES - 16, "{} bytes", line.len());
            if format == LogFormat::Json {
                let trimmed = parsed(line);
                let written = trimmed["target"].as_str().unwrap();
                let kept = written.strip_suffix('…').unwrap();
                assert!(
                    target.starts_with(kept) && kept.len() > 30_000,
                    "{}",
                    kept.len()
                );
                assert_eq!(trimmed["order"], 7);
                assert_eq!(trimmed["function_request_id"], "req-1");
            } else {
                assert!(line.contains("\tINFO\torders\"\\u0001é"), "{line:.100}");
                assert!(
                    line.ends_with("order=7 currency=\"EUR\""),
                    "{}",
                    &line[line.len() - 100..]
                );
            }
        }
    }
}
