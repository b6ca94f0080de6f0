//! Whether bytes are one JSON value, read without allocating: for text written elsewhere and
//! copied into documents as it is (a captured response), which must not make them invalid.
//!
//! It accepts what `serde_json` reads back as a raw value (`serde_json::value::RawValue`):
//! UTF-8 text holding one value (RFC 8259), with whitespace around and between its tokens; a
//! number's digits are read by the grammar, whatever its size. `serde_json` does that too, but
//! allocates for text with containers nested in containers: this follows up to [`DEPTH`]
//! levels in one word, and hands deeper text (rare) to `serde_json`.

use serde_json::value::RawValue;

use super::json::clean_prefix;

/// Containers open at once that are followed without allocating: one bit each in a `u128`.
const DEPTH: u32 = u128::BITS;

/// Whether `text` is one JSON value.
pub(crate) fn is_one_value(text: &[u8]) -> bool {
    if std::str::from_utf8(text).is_err() {
        return false;
    }
    Reader::new(text)
        .one_value()
        .unwrap_or_else(|TooDeep| serde_json::from_slice::<&RawValue>(text).is_ok())
}

/// Text nested deeper than [`DEPTH`].
struct TooDeep;

/// What may come next.
#[derive(Clone, Copy)]
enum Next {
    /// A value.
    Value,
    /// A value, or the end of the array just opened.
    ValueOrEnd,
    /// A key, or the end of the object just opened.
    KeyOrEnd,
    /// A key (after a comma in an object).
    Key,
    /// The colon after a key.
    Colon,
    /// A comma, or the end of the innermost container.
    CommaOrEnd,
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    /// The open containers, innermost in the lowest bit: 1 an object, 0 an array.
    open: u128,
    depth: u32,
}

impl<'a> Reader<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            at: 0,
            open: 0,
            depth: 0,
        }
    }

    fn one_value(mut self) -> Result<bool, TooDeep> {
        let mut next = Next::Value;
        loop {
            self.skip_whitespace();
            let Some(&byte) = self.text.get(self.at) else {
                return Ok(false);
            };
            let complete = match (next, byte) {
                (Next::ValueOrEnd, b']') | (Next::KeyOrEnd, b'}') => self.close(),
                (Next::CommaOrEnd, b']') if self.in_array() => self.close(),
                (Next::CommaOrEnd, b'}') if !self.in_array() => self.close(),
                (Next::CommaOrEnd, b',') => {
                    self.at += 1;
                    next = if self.in_array() {
                        Next::Value
                    } else {
                        Next::Key
                    };
                    continue;
                }
                (Next::KeyOrEnd | Next::Key, b'"') => {
                    if !self.string() {
                        return Ok(false);
                    }
                    next = Next::Colon;
                    continue;
                }
                (Next::Colon, b':') => {
                    self.at += 1;
                    next = Next::Value;
                    continue;
                }
                (Next::Value | Next::ValueOrEnd, b'[' | b'{') => {
                    self.enter(byte == b'{')?;
                    next = if byte == b'{' {
                        Next::KeyOrEnd
                    } else {
                        Next::ValueOrEnd
                    };
                    continue;
                }
                (Next::Value | Next::ValueOrEnd, _) => self.scalar(byte),
                _ => false,
            };
            if !complete {
                return Ok(false);
            }
            if self.depth == 0 {
                self.skip_whitespace();
                return Ok(self.at == self.text.len());
            }
            next = Next::CommaOrEnd;
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    fn in_array(&self) -> bool {
        self.open & 1 == 0
    }

    fn enter(&mut self, object: bool) -> Result<(), TooDeep> {
        if self.depth == DEPTH {
            return Err(TooDeep);
        }
        self.open = (self.open << 1) | u128::from(object);
        self.depth += 1;
        self.at += 1;
        Ok(())
    }

    /// Closes the innermost container (its closing byte is at `at`): a value is complete.
    fn close(&mut self) -> bool {
        self.open >>= 1;
        self.depth -= 1;
        self.at += 1;
        true
    }

    /// A string, a number or a literal beginning with `byte`; `false` if it is none.
    fn scalar(&mut self, byte: u8) -> bool {
        match byte {
            b'"' => self.string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.text[self.at..].starts_with(word);
        self.at += word.len();
        found
    }

    /// A string from its opening quote at `at`: no control character unescaped, every escape
    /// one of JSON's. The bytes JSON carries as they are are passed as the writer finds them
    /// ([`clean_prefix`], eight at a time).
    fn string(&mut self) -> bool {
        self.at += 1;
        loop {
            self.at += clean_prefix(&self.text[self.at..]);
            let Some(&byte) = self.text.get(self.at) else {
                return false;
            };
            self.at += 1;
            match byte {
                b'"' => return true,
                b'\\' if !self.escape() => return false,
                0..=0x1f => return false,
                _ => {}
            }
        }
    }

    /// The rest of an escape, after its backslash.
    fn escape(&mut self) -> bool {
        let Some(&escaped) = self.text.get(self.at) else {
            return false;
        };
        self.at += 1;
        match escaped {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => true,
            b'u' => {
                let hex = self.text.get(self.at..self.at + 4);
                self.at += 4;
                hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            }
            _ => false,
        }
    }

    /// A number from its first byte at `at`: `-`, then `0` or digits not beginning with `0`,
    /// then a fraction and an exponent, each with at least one digit.
    fn number(&mut self) -> bool {
        if self.text[self.at] == b'-' {
            self.at += 1;
        }
        match self.text.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            if !self.some_digits() {
                return false;
            }
        }
        if let Some(b'e' | b'E') = self.text.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.text.get(self.at) {
                self.at += 1;
            }
            if !self.some_digits() {
                return false;
            }
        }
        true
    }

    fn digits(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
    }

    /// At least one digit.
    fn some_digits(&mut self) -> bool {
        let from = self.at;
        self.digits();
        self.at > from
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::formats::any_json::any_json;

    fn serde_reads(text: &[u8]) -> bool {
        serde_json::from_slice::<&RawValue>(text).is_ok()
    }

    #[test]
    fn reads_as_serde_json_reads_raw_values() {
        let texts: &[&[u8]] = &[
            b"1",
            b"-0",
            b"0.5e-7",
            b"1E+400",
            b"123456789012345678901234567890",
            b" [ 1 , {\"a\" : [ ] } ]\n",
            br#"{"":{},"b":[[],[{}]],"c":"\" \\ \/ \b \f \n \r \t \u00e9 \uD800"}"#,
            b"\"\xc3\xa9\"",
            b"true",
            b"null",
            // Not JSON:
            b"",
            b"  ",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{\"a\"}",
            b"{1:2}",
            b"[1 2]",
            b"1 2",
            b"01",
            b"-",
            b"1.",
            b".5",
            b"1e",
            b"1e+",
            b"+1",
            b"[",
            b"]",
            b"[}",
            b"{]",
            b"\"a",
            b"\"\x01\"",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"\\u12g4\"",
            b"tru",
            b"truex",
            b"nul",
            b"\"\xff\"",
            b"[1]]",
            b"{}}",
        ];
        for text in texts {
            assert_eq!(
                is_one_value(text),
                serde_reads(text),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn text_nested_deeper_than_it_follows_is_read_by_serde_json() {
        for depth in [DEPTH as usize - 1, DEPTH as usize, DEPTH as usize + 1, 300] {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            assert!(is_one_value(nested.as_bytes()), "{depth}");
            let open = format!("{}{}", "[".repeat(depth), "]".repeat(depth - 1));
            assert!(!is_one_value(open.as_bytes()), "{depth}");
        }
    }

    /// A string's bytes are passed eight at a time: a byte that ends it, escapes or is not
    /// allowed in it is found wherever it falls in a word, or past the last whole word; and
    /// an escape or a character is read alike when cut short by the end of the text.
    #[test]
    fn a_string_is_read_alike_wherever_its_bytes_fall_among_the_words() {
        let middles: &[&[u8]] = &[
            b"\"",
            b"\\\"",
            b"\\",
            b"\\u",
            b"\\u00",
            b"\\u00e9",
            b"\\n",
            b"\\x",
            b"\x00",
            b"\x1f",
            b"\x7f",
            b"\xc3\xa9",
            b"\xf0\x9f\x98\x80",
            b"\xc3",
            b"\xff",
        ];
        let opens: &[&[u8]] = &[b"\"", b"[\"", b"{\"", b"{\"k\":\""];
        let closes: &[&[u8]] = &[b"", b"\"", b"\"]", b"\"}", b"\":1}", b"\" "];
        for (before, after) in (0..18).flat_map(|before| (0..18).map(move |after| (before, after)))
        {
            for middle in middles {
                for open in opens {
                    for close in closes {
                        let (before, after) = (b"a".repeat(before), b"b".repeat(after));
                        let text = [open, &*before, middle, &*after, close].concat();
                        assert_eq!(
                            is_one_value(&text),
                            serde_reads(&text),
                            "{:?}",
                            String::from_utf8_lossy(&text)
                        );
                    }
                }
            }
        }
    }

    /// One edit of a text: a byte cut out, one put in (one that JSON gives meaning to, most
    /// often), or the text cut short.
    fn edited(text: &[u8], edit: (u8, usize, u8)) -> Vec<u8> {
        let (kind, place, byte) = edit;
        let mut text = text.to_vec();
        let place = place % (text.len() + 1);
        const MEANINGFUL: &[u8] = b"{}[],:\"\\ -+.eE0123456789tfnu";
        match kind % 3 {
            0 if place < text.len() => {
                text.remove(place);
            }
            1 => text.insert(place, MEANINGFUL[usize::from(byte) % MEANINGFUL.len()]),
            2 => text.truncate(place),
            _ => text.insert(place, byte),
        }
        text
    }

    proptest! {
        /// Any bytes at all: read as `serde_json` reads them, and never a panic.
        #[test]
        fn any_bytes_are_read_as_serde_json_reads_them(
            text in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            prop_assert_eq!(is_one_value(&text), serde_reads(&text));
        }

        /// Bytes that JSON gives meaning to, and a few it does not allow, in any order.
        #[test]
        fn meaningful_bytes_are_read_as_serde_json_reads_them(
            text in prop::collection::vec(
                prop::sample::select(&b"[]{},:\"\\ \t\n\r0159-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9/x"[..]),
                0..40,
            ),
        ) {
            prop_assert_eq!(
                is_one_value(&text),
                serde_reads(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }

        #[test]
        fn every_value_written_compact_or_pretty_is_one_value(value in any_json()) {
            prop_assert!(is_one_value(&serde_json::to_vec(&value).unwrap()));
            prop_assert!(is_one_value(&serde_json::to_vec_pretty(&value).unwrap()));
        }

        #[test]
        fn an_edited_value_is_read_as_serde_json_reads_it(
            value in any_json(),
            edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut text = serde_json::to_vec(&value).unwrap();
            for edit in edits {
                text = edited(&text, edit);
            }
            prop_assert_eq!(
                is_one_value(&text),
                serde_reads(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
