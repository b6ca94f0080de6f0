//! Escaping text into log lines, from a `&str` or straight from a `Debug`/`Display` impl
//! (no intermediate `String`).

use std::fmt;

use crate::formats::failure::DebugFailure;
use crate::formats::json::{push_escape, push_str_contents};

/// How text is escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Escape {
    /// Inside a JSON string: `"`, `\` and control characters.
    Json,
    /// In a text line: control characters only, so that an event stays on one line.
    Text,
}

impl Escape {
    /// Appends `text`, escaped.
    pub(super) fn push(self, out: &mut Vec<u8>, text: &str) {
        if self == Self::Json {
            push_str_contents(out, text);
            return;
        }
        let bytes = text.as_bytes();
        let mut start = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            if byte < 0x20 {
                out.extend_from_slice(&bytes[start..index]);
                start = index + 1;
                push_escape(out, byte);
            }
        }
        out.extend_from_slice(&bytes[start..]);
    }

    /// Appends, escaped, what `write` writes: a value's `Debug` text (a `%` field's
    /// `Display`). When it could not be written (the `Debug` returned an error or panicked),
    /// what it wrote is taken back and the failure described instead, as the X-Ray layer
    /// describes it (`<formatting failed>`, `<formatting panicked: …>`).
    pub(super) fn push_written(
        self,
        out: &mut Vec<u8>,
        write: impl FnOnce(&mut dyn fmt::Write) -> Result<(), DebugFailure>,
    ) {
        let start = out.len();
        let written = write(&mut Escaping { out, escape: self });
        if let Err(failure) = written {
            out.truncate(start);
            self.push_fmt(out, format_args!("{failure}"));
        }
    }

    /// Appends what `value` formats to, escaped.
    pub(super) fn push_fmt(self, out: &mut Vec<u8>, value: fmt::Arguments<'_>) {
        // Writing into a Vec cannot fail; a Debug impl that returns an error leaves what it
        // wrote so far.
        let _ = fmt::Write::write_fmt(&mut Escaping { out, escape: self }, value);
    }
}

/// A `fmt::Write` that escapes as it appends.
struct Escaping<'a> {
    out: &'a mut Vec<u8>,
    escape: Escape,
}

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.escape.push(self.out, text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(escape: Escape, text: &str) -> String {
        let mut out = Vec::new();
        escape.push(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(
            escaped(Escape::Json, "a\"b\\c\nd\te\u{1}é"),
            r#"a\"b\\c\nd\te\u0001é"#
        );
        let text = "line \"one\"\nline two";
        let json: String =
            serde_json::from_str(&format!("\"{}\"", escaped(Escape::Json, text))).unwrap();
        assert_eq!(json, text);
    }

    #[test]
    fn text_keeps_quotes_and_escapes_line_breaks() {
        assert_eq!(escaped(Escape::Text, "say \"hi\"\r\n"), "say \"hi\"\\r\\n");
    }

    #[test]
    fn formatted_values_are_escaped_as_they_are_written() {
        let mut out = Vec::new();
        Escape::Json.push_fmt(&mut out, format_args!("{:?}", "quoted"));
        assert_eq!(out, br#"\"quoted\""#);
    }
}
