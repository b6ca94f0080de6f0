//! A JSON log line indented for reading, as Powertools writes its lines under `POWERTOOLS_DEV`
//! (`JSON.stringify(line, null, 4)`, Python's `json.dumps(line, indent=4)`): each member and
//! element on a line of its own, four spaces a level, `": "` after a key, `{}` and `[]` kept
//! whole. Only whitespace is added: keys keep their order and numbers their text.

/// Spaces per level.
const INDENT: usize = 4;

/// Appends `line`, one compact JSON value (a trailing newline allowed), to `out`, indented,
/// with a newline after it. Strings are copied as they are, escapes included; whitespace
/// outside them is dropped (a compact line has none).
pub(crate) fn append_indented(out: &mut Vec<u8>, line: &[u8]) {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut bytes = line.iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        if in_string {
            out.push(byte);
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            b'{' | b'[' => {
                out.push(byte);
                let close = if byte == b'{' { b'}' } else { b']' };
                if bytes.peek() == Some(&close) {
                    out.push(close);
                    bytes.next();
                } else {
                    depth += 1;
                    new_line(out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                new_line(out, depth);
                out.push(byte);
            }
            b',' => {
                out.push(byte);
                new_line(out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => out.push(byte),
        }
    }
    out.push(b'\n');
}

/// A line break and the indentation of `depth`.
fn new_line(out: &mut Vec<u8>, depth: usize) {
    out.push(b'\n');
    out.resize(out.len() + depth * INDENT, b' ');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::Value;
    use serde_json::ser::PrettyFormatter;

    fn indented(line: &str) -> String {
        let mut out = Vec::new();
        append_indented(&mut out, line.as_bytes());
        String::from_utf8(out).unwrap()
    }

    /// What serde_json's pretty printer writes for `value` with an indent of four spaces:
    /// `JSON.stringify`'s and Python's layout.
    fn pretty(value: &Value) -> String {
        let mut out = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut out, PrettyFormatter::with_indent(b"    "));
        value.serialize(&mut serializer).unwrap();
        out.push(b'\n');
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_line_is_laid_out_as_the_pretty_printers_lay_it_out() {
        // Keys in order, so that serde_json's map (sorted) writes them in the same order.
        let line = r#"{"a":1,"b":[1,2.5,{"c":"x"}],"d":{},"e":[],"f":{"g":null,"h":true},"i":"j"}"#;
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(indented(line), pretty(&value));
        assert_eq!(
            indented(r#"{"level":"INFO","message":"placed"}"#),
            "{\n    \"level\": \"INFO\",\n    \"message\": \"placed\"\n}\n"
        );
    }

    #[test]
    fn strings_keep_their_text_and_the_order_of_keys_is_kept() {
        let line = "{\"z\":\"a, b: {c} [d] \\\"e\\\" \\\\\",\"a\":\"\\u2028\",\"m\":12.500}\n";
        let out = indented(line);
        let value: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(line).unwrap());
        assert!(out.contains("\"a, b: {c} [d] \\\"e\\\" \\\\\""), "{out}");
        assert!(out.contains("12.500"), "{out}");
        let keys: Vec<usize> = ["\"z\"", "\"a\"", "\"m\""]
            .iter()
            .map(|key| out.find(key).unwrap())
            .collect();
        assert!(keys.is_sorted(), "{out}");
        assert!(out.ends_with("}\n") && !out.ends_with("}\n\n"), "{out:?}");
    }
}
