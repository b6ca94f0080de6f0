//! One log line: the fixed keys, the invocation's keys when there is one, then the fields —
//! as one flat JSON object (Powertools Logger's keys at the top level) or one line of text.
//!
//! ```text
//! {"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"order placed",
//!  "target":"orders","service":"orders","cold_start":true,"start_kind":"cold",
//!  "function_name":"orders-fn","function_memory_size":128,"function_arn":"arn:…",
//!  "function_request_id":"req-1","xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793",
//!  "order":7}
//! 2026-11-23T05:16:18.886Z<TAB>req-1<TAB>INFO<TAB>orders: order placed order=7
//! ```

use std::time::SystemTime;

use super::escape::Escape;
use super::fields::LogFields;
use super::timestamp::push_rfc3339_millis;
use super::{LogFormat, LogLevel};
use crate::formats::json::push_f64;

/// Keys a line writes itself; a field of the same name is written as `fields.<name>`.
pub(crate) const RESERVED_KEYS: [&str; 13] = [
    "timestamp",
    "level",
    "message",
    "target",
    "service",
    "sampling_rate",
    "cold_start",
    "start_kind",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
];

/// What a field whose name is reserved is prefixed with.
pub(crate) const RESERVED_PREFIX: &str = "fields.";

/// The keys of the invocation a line was written in, with Powertools Logger's names.
#[derive(Clone, Debug)]
pub(crate) struct InvocationKeys<'a> {
    pub(crate) service: &'a str,
    /// The configured sample rate, when sampling is on.
    pub(crate) sampling_rate: Option<f64>,
    pub(crate) cold_start: bool,
    pub(crate) start_kind: &'a str,
    pub(crate) function_name: Option<&'a str>,
    pub(crate) function_memory_size: Option<u32>,
    pub(crate) function_arn: Option<&'a str>,
    pub(crate) function_request_id: &'a str,
    /// The trace header's `Root` id alone.
    pub(crate) xray_trace_id: Option<&'a str>,
}

/// Everything of a line but its fields.
#[derive(Clone, Debug)]
pub(crate) struct LineHead<'a> {
    pub(crate) timestamp: SystemTime,
    pub(crate) level: LogLevel,
    pub(crate) target: &'a str,
    /// `None` outside an invocation: then the invocation keys are absent.
    pub(crate) invocation: Option<InvocationKeys<'a>>,
}

/// Appends one complete line, newline included, in the fields' format. A field recorded
/// twice is written once, with its last value (an event's field over its span's, an inner
/// span's over an outer one's). Its length is not limited here: see
/// [`line_cap`](super::line_cap).
pub(crate) fn append_line(out: &mut Vec<u8>, head: &LineHead<'_>, fields: &LogFields) {
    append_line_with(out, head, fields, |out, value| out.extend_from_slice(value));
}

/// [`append_line`], with each value the line writes — the message (when it is written),
/// then each field written — appended by `push_value` instead of as it is: how
/// [`line_cap`](super::line_cap) measures a line and writes it again with values replaced.
/// Everything else (the keys, the separators) is written as [`append_line`] writes it.
pub(crate) fn append_line_with<'f>(
    out: &mut Vec<u8>,
    head: &LineHead<'_>,
    fields: &'f LogFields,
    push_value: impl FnMut(&mut Vec<u8>, &'f [u8]),
) {
    match fields.format() {
        LogFormat::Json => append_json(out, head, fields, push_value),
        LogFormat::Text => append_text(out, head, fields, push_value),
    }
    out.push(b'\n');
}

fn append_json<'f>(
    out: &mut Vec<u8>,
    head: &LineHead<'_>,
    fields: &'f LogFields,
    mut push_value: impl FnMut(&mut Vec<u8>, &'f [u8]),
) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    push_rfc3339_millis(out, head.timestamp);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(head.level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    match fields.encoded_message() {
        Some(message) => push_value(out, message),
        None => out.extend_from_slice(b"\"\""),
    }
    push_json_str(out, "target", head.target);
    if let Some(keys) = &head.invocation {
        push_json_str(out, "service", keys.service);
        if let Some(rate) = keys.sampling_rate {
            out.extend_from_slice(b",\"sampling_rate\":");
            push_f64(out, rate);
        }
        push_json_raw(out, "cold_start", format_args!("{}", keys.cold_start));
        push_json_str(out, "start_kind", keys.start_kind);
        if let Some(name) = keys.function_name {
            push_json_str(out, "function_name", name);
        }
        if let Some(memory) = keys.function_memory_size {
            push_json_raw(out, "function_memory_size", format_args!("{memory}"));
        }
        if let Some(arn) = keys.function_arn {
            push_json_str(out, "function_arn", arn);
        }
        push_json_str(out, "function_request_id", keys.function_request_id);
        if let Some(trace_id) = keys.xray_trace_id {
            push_json_str(out, "xray_trace_id", trace_id);
        }
    }
    for_each_field(fields, |prefix, key, value| {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(prefix.as_bytes());
        Escape::Json.push(out, key);
        out.extend_from_slice(b"\":");
        push_value(out, value);
    });
    out.push(b'}');
}

fn push_json_str(out: &mut Vec<u8>, key: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    Escape::Json.push(out, value);
    out.push(b'"');
}

fn push_json_raw(out: &mut Vec<u8>, key: &str, value: std::fmt::Arguments<'_>) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    Escape::Json.push_fmt(out, value);
}

/// `timestamp<TAB>request id<TAB>LEVEL<TAB>target: message key=value …`; outside an
/// invocation there is no request id column.
fn append_text<'f>(
    out: &mut Vec<u8>,
    head: &LineHead<'_>,
    fields: &'f LogFields,
    mut push_value: impl FnMut(&mut Vec<u8>, &'f [u8]),
) {
    push_rfc3339_millis(out, head.timestamp);
    out.push(b'\t');
    if let Some(keys) = &head.invocation {
        Escape::Text.push(out, keys.function_request_id);
        out.push(b'\t');
    }
    out.extend_from_slice(head.level.as_str().as_bytes());
    out.push(b'\t');
    Escape::Text.push(out, head.target);
    out.push(b':');
    if let Some(message) = fields.encoded_message().filter(|m| !m.is_empty()) {
        out.push(b' ');
        push_value(out, message);
    }
    for_each_field(fields, |prefix, key, value| {
        out.push(b' ');
        out.extend_from_slice(prefix.as_bytes());
        Escape::Text.push(out, key);
        out.push(b'=');
        push_value(out, value);
    });
}

/// Above this many fields (more than one callsite holds: spans nested deeply), which is
/// the last of its key is found in linear time rather than by comparing every pair.
const FEW_FIELDS: usize = 32;

/// Each field once, with its last value: (prefix, key, encoded value).
fn for_each_field<'f>(fields: &'f LogFields, write: impl FnMut(&str, &str, &'f [u8])) {
    if fields.encoded().len() > FEW_FIELDS {
        for_each_of_many_fields(fields, write);
    } else {
        for_each_of_few_fields(fields, write);
    }
}

/// [`for_each_field`] for a few fields: each compared with the ones after it, without
/// allocating.
fn for_each_of_few_fields<'f>(fields: &'f LogFields, mut write: impl FnMut(&str, &str, &'f [u8])) {
    for (index, (key, value)) in fields.encoded().enumerate() {
        let overridden = fields
            .encoded()
            .skip(index + 1)
            .any(|(later, _)| same_written_key(later, key));
        if !overridden {
            write(prefix_of(key), key, value);
        }
    }
}

/// [`for_each_field`] for many fields: each field's written key is looked up once, from the
/// last field back, in a set.
#[cold]
#[inline(never)]
fn for_each_of_many_fields<'f>(fields: &'f LogFields, mut write: impl FnMut(&str, &str, &'f [u8])) {
    let entries: Vec<(&'static str, &'f [u8])> = fields.encoded().collect();
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    let mut is_last = vec![false; entries.len()];
    for (index, (key, _)) in entries.iter().enumerate().rev() {
        is_last[index] = seen.insert(written_key(key));
    }
    for ((key, value), is_last) in entries.into_iter().zip(is_last) {
        if is_last {
            write(prefix_of(key), key, value);
        }
    }
}

/// The key a field is written under, as (prefix, name): a reserved name and its
/// `fields.`-prefixed form are the same key.
fn written_key(key: &str) -> (&'static str, &str) {
    match key.strip_prefix(RESERVED_PREFIX) {
        Some(rest) if RESERVED_KEYS.contains(&rest) => (RESERVED_PREFIX, rest),
        _ => (prefix_of(key), key),
    }
}

fn prefix_of(key: &str) -> &'static str {
    if RESERVED_KEYS.contains(&key) {
        RESERVED_PREFIX
    } else {
        ""
    }
}

/// Whether two field names end up as the same key in the line.
fn same_written_key(a: &str, b: &str) -> bool {
    a == b || written_key(a) == written_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_410_978_886)
    }

    fn keys() -> InvocationKeys<'static> {
        InvocationKeys {
            service: "payment",
            sampling_rate: None,
            cold_start: true,
            start_kind: "cold",
            function_name: Some("my-fn"),
            function_memory_size: Some(128),
            function_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:my-fn"),
            function_request_id: "req-1",
            xray_trace_id: Some("1-5759e988-bd862e3fe1be46a994272793"),
        }
    }

    fn line(
        format: LogFormat,
        invocation: Option<InvocationKeys<'_>>,
        fill: impl FnOnce(&mut LogFields),
    ) -> String {
        let mut fields = LogFields::new(format);
        fill(&mut fields);
        let head = LineHead {
            timestamp: at(),
            level: LogLevel::Info,
            target: "payment::handler",
            invocation,
        };
        let mut out = Vec::new();
        append_line(&mut out, &head, &fields);
        String::from_utf8(out).unwrap()
    }

    fn collecting_payment(fields: &mut LogFields) {
        fields.message(&format_args!("Collecting payment"));
        fields.integer("order", 7);
        fields.str("currency", "EUR");
    }

    #[test]
    fn json_inside_an_invocation() {
        assert_eq!(
            line(LogFormat::Json, Some(keys()), collecting_payment),
            concat!(
                r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"Collecting payment","#,
                r#""target":"payment::handler","service":"payment","cold_start":true,"start_kind":"cold","#,
                r#""function_name":"my-fn","function_memory_size":128,"#,
                r#""function_arn":"arn:aws:lambda:us-east-1:123456789012:function:my-fn","#,
                r#""function_request_id":"req-1","xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","#,
                r#""order":7,"currency":"EUR"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn json_outside_an_invocation_has_no_invocation_keys() {
        assert_eq!(
            line(LogFormat::Json, None, collecting_payment),
            concat!(
                r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"Collecting payment","#,
                r#""target":"payment::handler","order":7,"currency":"EUR"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn json_with_sampling_and_without_what_the_context_lacked() {
        let keys = InvocationKeys {
            sampling_rate: Some(0.1),
            cold_start: false,
            start_kind: "warm",
            function_name: None,
            function_memory_size: None,
            function_arn: None,
            xray_trace_id: None,
            ..keys()
        };
        assert_eq!(
            line(LogFormat::Json, Some(keys), |fields| fields
                .bool("paid", false)),
            concat!(
                r#"{"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"","#,
                r#""target":"payment::handler","service":"payment","sampling_rate":0.1,"#,
                r#""cold_start":false,"start_kind":"warm","function_request_id":"req-1","paid":false}"#,
                "\n"
            )
        );
    }

    /// The sample rate is written as `serde_json` writes a float: `1.0`, not `1`.
    #[test]
    fn a_whole_sample_rate_stays_a_float() {
        let keys = InvocationKeys {
            sampling_rate: Some(1.0),
            ..keys()
        };
        let written = line(LogFormat::Json, Some(keys), |_| {});
        assert!(written.contains(r#","sampling_rate":1.0,"#), "{written}");
    }

    #[test]
    fn text_inside_and_outside_an_invocation() {
        assert_eq!(
            line(LogFormat::Text, Some(keys()), collecting_payment),
            "2026-11-23T05:16:18.886Z\treq-1\tINFO\tpayment::handler: Collecting payment order=7 currency=\"EUR\"\n"
        );
        assert_eq!(
            line(LogFormat::Text, None, collecting_payment),
            "2026-11-23T05:16:18.886Z\tINFO\tpayment::handler: Collecting payment order=7 currency=\"EUR\"\n"
        );
        assert_eq!(
            line(LogFormat::Text, None, |_| {}),
            "2026-11-23T05:16:18.886Z\tINFO\tpayment::handler:\n"
        );
    }

    #[test]
    fn a_reserved_name_is_prefixed_not_dropped_and_the_last_value_wins() {
        let written = line(LogFormat::Json, Some(keys()), |fields| {
            fields.str("step", "outer span");
            fields.str("level", "gold");
            fields.str("function_request_id", "spoofed");
            fields.message(&format_args!("done"));
            fields.str("step", "event");
            fields.str("fields.level", "explicit");
        });
        let value: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["function_request_id"], "req-1");
        assert_eq!(value["fields.function_request_id"], "spoofed");
        assert_eq!(value["fields.level"], "explicit");
        assert_eq!(value["step"], "event");
        assert_eq!(written.matches("\"step\"").count(), 1, "{written}");
        assert_eq!(written.matches("\"fields.level\"").count(), 1, "{written}");
    }

    /// Past [`FEW_FIELDS`], the line is the one comparing every pair would write.
    #[test]
    fn many_fields_are_written_as_few_are() {
        let keys = [
            "level",
            "fields.level",
            "step",
            "message",
            "fields.message",
            "order",
        ];
        let fill = |fields: &mut LogFields| {
            for round in 0..20 {
                for key in keys {
                    fields.integer(key, round);
                }
            }
        };
        let mut fields = LogFields::new(LogFormat::Json);
        fill(&mut fields);
        let mut pairwise = Vec::new();
        for_each_of_few_fields(&fields, |prefix, key, value| {
            pairwise.push((prefix.to_owned(), key.to_owned(), value.to_vec()));
        });
        let mut linear = Vec::new();
        for_each_field(&fields, |prefix, key, value| {
            linear.push((prefix.to_owned(), key.to_owned(), value.to_vec()));
        });
        assert!(fields.encoded().len() > FEW_FIELDS);
        assert_eq!(linear, pairwise);
        assert_eq!(linear.len(), 4, "{linear:?}");
    }

    #[test]
    fn every_line_is_one_json_object_whatever_the_values() {
        let written = line(LogFormat::Json, Some(keys()), |fields| {
            fields.message(&format_args!("two\nlines \"quoted\" \u{7}"));
            fields.str("path", "C:\\temp");
            fields.float("inf", f64::INFINITY);
        });
        assert_eq!(written.matches('\n').count(), 1);
        let value: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(value["message"], "two\nlines \"quoted\" \u{7}");
        assert_eq!(value["path"], "C:\\temp");
        assert_eq!(value["inf"], "inf");
    }
}
