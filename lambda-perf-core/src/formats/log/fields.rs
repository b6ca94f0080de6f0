//! [`LogFields`]: the fields of a log line — an event's, its spans' — each value encoded
//! once, as the line's format writes it, into one reused byte buffer.

use std::fmt;
use std::ops::Range;

use super::LogFormat;
use super::escape::Escape;
use crate::formats::failure::DebugFailure;
use crate::formats::json::push_f64;

/// Writes `value`'s `Debug` text, for values that are no user code (a number, a message
/// lambda-perf makes); an error it returns is described, a panic not caught.
fn plain_debug(out: &mut dyn fmt::Write, value: &dyn fmt::Debug) -> Result<(), DebugFailure> {
    out.write_fmt(format_args!("{value:?}"))
        .map_err(|fmt::Error| DebugFailure::Failed)
}

/// Named values in the order they were recorded, plus the event's message. Recording the
/// same key twice keeps both; the line writes the last (see [`line`](super::line)).
#[derive(Clone, Debug, Default)]
pub(crate) struct LogFields {
    format: LogFormat,
    message: Option<Range<usize>>,
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Entry {
    key: &'static str,
    value: Range<usize>,
}

impl LogFields {
    /// No fields yet, encoded for `format`.
    pub(crate) fn new(format: LogFormat) -> Self {
        Self {
            format,
            ..Self::default()
        }
    }

    /// Empties the fields (keeping their memory) and encodes the next ones for `format`.
    pub(crate) fn reset(&mut self, format: LogFormat) {
        self.format = format;
        self.message = None;
        self.entries.clear();
        self.bytes.clear();
    }

    pub(crate) fn format(&self) -> LogFormat {
        self.format
    }

    /// Whether there is neither a field nor a message.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.message.is_none()
    }

    /// The bytes kept: what a buffer that grew too large is measured by.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// The message, encoded (a JSON string with its quotes, or escaped text).
    pub(crate) fn encoded_message(&self) -> Option<&[u8]> {
        self.message.clone().map(|range| &self.bytes[range])
    }

    /// Every field as (key, encoded value), in recording order.
    pub(crate) fn encoded(&self) -> impl ExactSizeIterator<Item = (&'static str, &[u8])> + '_ {
        self.entries
            .iter()
            .map(|entry| (entry.key, &self.bytes[entry.value.clone()]))
    }

    /// The event's message (`Display`ed, as `tracing`'s `message` field gives it).
    pub(crate) fn message(&mut self, message: &dyn fmt::Debug) {
        self.message_written(|out| plain_debug(out, message));
    }

    /// The event's message, as `write` writes it (see [`debug_written`](Self::debug_written)).
    pub(crate) fn message_written(
        &mut self,
        write: impl FnOnce(&mut dyn fmt::Write) -> Result<(), DebugFailure>,
    ) {
        let start = self.bytes.len();
        self.push_written(write);
        self.message = Some(start..self.bytes.len());
    }

    /// A string: a JSON string, or a quoted one in text.
    pub(crate) fn str(&mut self, key: &'static str, value: &str) {
        let start = self.bytes.len();
        self.bytes.push(b'"');
        Escape::Json.push(&mut self.bytes, value);
        self.bytes.push(b'"');
        self.finish(key, start);
    }

    /// A value's `Debug` text (a `%value` field's `Display`): a JSON string, or as it is in
    /// text.
    #[cfg(test)]
    pub(crate) fn debug(&mut self, key: &'static str, value: &dyn fmt::Debug) {
        self.debug_written(key, |out| plain_debug(out, value));
    }

    /// A value's `Debug` text as `write` writes it (user code, which the caller guards): a
    /// JSON string, or as it is in text. One that could not be written is described instead
    /// (`<formatting failed>`, `<formatting panicked: …>`), still a JSON string.
    pub(crate) fn debug_written(
        &mut self,
        key: &'static str,
        write: impl FnOnce(&mut dyn fmt::Write) -> Result<(), DebugFailure>,
    ) {
        let start = self.bytes.len();
        self.push_written(write);
        self.finish(key, start);
    }

    /// What `write` writes, encoded as a text value: a JSON string, or escaped text.
    fn push_written(
        &mut self,
        write: impl FnOnce(&mut dyn fmt::Write) -> Result<(), DebugFailure>,
    ) {
        match self.format {
            LogFormat::Json => {
                self.bytes.push(b'"');
                Escape::Json.push_written(&mut self.bytes, write);
                self.bytes.push(b'"');
            }
            LogFormat::Text => Escape::Text.push_written(&mut self.bytes, write),
        }
    }

    /// An integer, as a JSON number.
    pub(crate) fn integer(&mut self, key: &'static str, value: impl fmt::Display) {
        let start = self.bytes.len();
        Escape::Text.push_fmt(&mut self.bytes, format_args!("{value}"));
        self.finish(key, start);
    }

    /// A float, as a JSON number written as `serde_json` writes an `f64` — shortest digits
    /// that read back the same, a whole number with its `.0` (`12.0`, not `12`, so that a
    /// float field stays a float from line to line), exponents for the very large and small
    /// (`1e+300`); NaN and the infinities, which JSON has no number for, as the strings
    /// `"NaN"`, `"inf"` and `"-inf"`.
    pub(crate) fn float(&mut self, key: &'static str, value: f64) {
        if value.is_finite() {
            let start = self.bytes.len();
            push_f64(&mut self.bytes, value);
            self.finish(key, start);
        } else if self.format == LogFormat::Json {
            self.str(key, &value.to_string());
        } else {
            self.integer(key, value);
        }
    }

    /// `true` or `false`.
    pub(crate) fn bool(&mut self, key: &'static str, value: bool) {
        let start = self.bytes.len();
        self.bytes
            .extend_from_slice(if value { b"true" } else { b"false" });
        self.finish(key, start);
    }

    /// A value that is already compact JSON (serialized by serde_json), kept as it is.
    pub(crate) fn json(&mut self, key: &'static str, json: &str) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(json.as_bytes());
        self.finish(key, start);
    }

    fn finish(&mut self, key: &'static str, start: usize) {
        self.entries.push(Entry {
            key,
            value: start..self.bytes.len(),
        });
    }

    /// Appends `other`'s fields (not its message) after these: a span's fields, gathered
    /// for one of its events.
    pub(crate) fn extend(&mut self, other: &Self) {
        debug_assert_eq!(self.format, other.format);
        let offset = self.bytes.len();
        for entry in &other.entries {
            let value = entry.value.start + offset..entry.value.end + offset;
            self.entries.push(Entry {
                key: entry.key,
                value,
            });
        }
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// Takes `newer`'s fields, replacing those of the same key (a span's field recorded
    /// again); what no field refers to any more is dropped.
    pub(crate) fn update(&mut self, newer: &Self) {
        let mut updated = Self::new(self.format);
        for (key, value) in self.encoded() {
            if !newer.entries.iter().any(|entry| entry.key == key) {
                let start = updated.bytes.len();
                updated.bytes.extend_from_slice(value);
                updated.finish(key, start);
            }
        }
        updated.extend(newer);
        updated.message = None;
        *self = updated;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(fields: &LogFields) -> Vec<(&'static str, String)> {
        fields
            .encoded()
            .map(|(key, value)| (key, String::from_utf8(value.to_vec()).unwrap()))
            .collect()
    }

    fn every_kind(format: LogFormat) -> LogFields {
        let mut fields = LogFields::new(format);
        fields.message(&format_args!("order {} placed\n", 7));
        fields.str("user", "ann \"a\"");
        fields.debug("tags", &["a", "b"]);
        fields.integer("order", 7_i64);
        fields.integer("big", u128::MAX);
        fields.float("ratio", 0.25);
        fields.float("whole", 12.0);
        fields.float("huge", 1e300);
        fields.float("tiny", 5e-324);
        fields.float("nan", f64::NAN);
        fields.bool("paid", true);
        fields.json("event", r#"{"id":1}"#);
        fields
    }

    #[test]
    fn json_values_keep_their_types() {
        let fields = every_kind(LogFormat::Json);
        assert_eq!(
            fields.encoded_message(),
            Some(&br#""order 7 placed\n""#[..])
        );
        assert_eq!(
            encoded(&fields),
            [
                ("user", r#""ann \"a\"""#.to_owned()),
                ("tags", r#""[\"a\", \"b\"]""#.to_owned()),
                ("order", "7".to_owned()),
                ("big", u128::MAX.to_string()),
                ("ratio", "0.25".to_owned()),
                ("whole", "12.0".to_owned()),
                ("huge", "1e+300".to_owned()),
                ("tiny", "5e-324".to_owned()),
                ("nan", r#""NaN""#.to_owned()),
                ("paid", "true".to_owned()),
                ("event", r#"{"id":1}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn text_values_are_readable_and_stay_on_one_line() {
        let fields = every_kind(LogFormat::Text);
        assert_eq!(fields.encoded_message(), Some(&br"order 7 placed\n"[..]));
        assert_eq!(
            encoded(&fields),
            [
                ("user", r#""ann \"a\"""#.to_owned()),
                ("tags", r#"["a", "b"]"#.to_owned()),
                ("order", "7".to_owned()),
                ("big", u128::MAX.to_string()),
                ("ratio", "0.25".to_owned()),
                ("whole", "12.0".to_owned()),
                ("huge", "1e+300".to_owned()),
                ("tiny", "5e-324".to_owned()),
                ("nan", "NaN".to_owned()),
                ("paid", "true".to_owned()),
                ("event", r#"{"id":1}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn extend_appends_and_update_replaces() {
        let mut span = LogFields::new(LogFormat::Json);
        span.integer("order", 1);
        span.str("step", "cart");
        let mut newer = LogFields::new(LogFormat::Json);
        newer.str("step", "pay");
        span.update(&newer);
        assert_eq!(
            encoded(&span),
            [("order", "1".to_owned()), ("step", r#""pay""#.to_owned())]
        );

        let mut event = LogFields::new(LogFormat::Json);
        event.bool("first", true);
        event.extend(&span);
        assert_eq!(
            encoded(&event),
            [
                ("first", "true".to_owned()),
                ("order", "1".to_owned()),
                ("step", r#""pay""#.to_owned())
            ]
        );
        event.reset(LogFormat::Text);
        assert!(event.is_empty());
        assert_eq!(event.format(), LogFormat::Text);
    }
}
