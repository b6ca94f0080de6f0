//! JSON text lambda-perf wrote, read back as a `serde_json::Value` with every number exactly as
//! written: for the rare paths that need a value (a redaction hook, OpenTelemetry attributes).
//!
//! `serde_json`'s own parser reads floats on a best-effort basis unless its `float_roundtrip`
//! feature is on, and that feature, unified across a function's whole build, would add about
//! 70 KB to every binary and slow the function's own parsing of floats. Here `serde_json`
//! finds the text of each member and element (as raw values), strings and literals are read
//! by `serde_json`, and numbers by the standard library, whose float parser is correctly
//! rounded.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// The most levels of nesting read back: as many as `serde_json`'s own parser reads.
const MOST_LEVELS: usize = 127;

/// `text` as a value, its numbers exactly as written; `None` if it is not JSON, or nests
/// deeper than [`MOST_LEVELS`], or holds a number no `f64` can hold (which `serde_json` does
/// not read either).
pub(crate) fn read_back(text: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(text).ok()?;
    // Valid JSON, and not too deep, before reading it level by level (which reads each level's
    // text again: cheap only when the levels are few).
    // Read from bytes, as every other reading of this crate: one reader compiled, not two.
    let whole: &RawValue = serde_json::from_slice(text.as_bytes()).ok()?;
    if deepest(whole.get()) > MOST_LEVELS {
        return None;
    }
    value(whole.get())
}

/// The deepest nesting of arrays and objects in `json` (valid JSON), in one pass.
fn deepest(json: &str) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The value of `text`, one JSON value without surrounding whitespace.
fn value(text: &str) -> Option<Value> {
    match text.as_bytes().first()? {
        b'{' => {
            let Members(members) = serde_json::from_slice(text.as_bytes()).ok()?;
            let mut object = Map::new();
            for (key, member) in members {
                // As `serde_json` builds its maps: a repeated key's last value, in whatever
                // order its `Map` keeps.
                object.insert(key, value(member.get())?);
            }
            Some(Value::Object(object))
        }
        b'[' => {
            let elements: Vec<&RawValue> = serde_json::from_slice(text.as_bytes()).ok()?;
            elements
                .into_iter()
                .map(|element| value(element.get()))
                .collect::<Option<Vec<Value>>>()
                .map(Value::Array)
        }
        b'-' | b'0'..=b'9' => number(text).map(Value::Number),
        // Read as a string, not as a value: `Value`'s own reading is not compiled for this.
        b'"' => serde_json::from_slice(text.as_bytes())
            .ok()
            .map(Value::String),
        _ => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            "null" => Some(Value::Null),
            _ => None,
        },
    }
}

/// An object's members in the order they are written, each value as its text. (Unlike
/// `serde_json`'s own reading, an object whose one key is `serde_json`'s private raw-value
/// marker stays an object: what was written is what comes back.)
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;

        impl<'de> Visitor<'de> for InOrder {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(InOrder)
    }
}

/// A JSON number as `serde_json` reads it: an integer when it has neither fraction nor
/// exponent and fits 64 bits (`-0` is the float -0.0), else a float, correctly rounded.
fn number(text: &str) -> Option<Number> {
    let integral = !text.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(unsigned) = text.parse::<u64>() {
            return Some(unsigned.into());
        }
        if let Ok(signed) = text.parse::<i64>() {
            if signed != 0 {
                return Some(signed.into());
            }
        }
    }
    let float: f64 = text.parse().ok()?;
    Number::from_f64(float)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::formats::any_json::any_json;

    fn written(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    #[test]
    fn reads_back_every_kind_of_value() {
        let value = json!({
            "s": "a \"quoted\" \u{e9}\n", "t": true, "f": false, "n": null,
            "u": u64::MAX, "i": i64::MIN, "x": 0.1, "e": 1.5e300, "tiny": 5e-324,
            "nested": {"list": [1, -2, 3.25, [], {}, [[["deep"]]]]},
        });
        assert_eq!(read_back(&written(&value)), Some(value));
    }

    #[test]
    fn floats_come_back_exactly_as_they_were() {
        // Floats `serde_json` writes and, without its `float_roundtrip` feature, reads back a
        // unit off (found by drawing random ones: about three in ten are).
        let floats: [f64; 5] = [
            1.071_566_039_146_582_6e-75,
            -1.819_967_304_027_17e-179,
            -1.603_964_615_428_183e143,
            -9.643_915_712_060_552e-234,
            1.586_084_611_999_269_7e-265,
        ];
        for float in floats {
            let back = read_back(&written(&json!(float))).unwrap();
            assert_eq!(back.as_f64().map(f64::to_bits), Some(float.to_bits()));
        }
    }

    /// What `serde_json` reads (numbers aside, whose text it reads on a best-effort basis
    /// here), `read_back` reads the same, and what it refuses, `read_back` refuses.
    #[test]
    fn reads_what_serde_json_reads_and_refuses_what_it_refuses() {
        let arrays = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        let objects = |levels: usize| "{\"k\":".repeat(levels) + "1" + &"}".repeat(levels);
        // Objects and arrays by turns, one level at a time.
        let mixed = |levels: usize| {
            let (mut open, mut close) = (String::new(), String::new());
            for level in 0..levels {
                let (opening, closing) = if level % 2 == 0 {
                    ("{\"k\":", "}")
                } else {
                    ("[", "]")
                };
                open.push_str(opening);
                close.insert_str(0, closing);
            }
            open + "1" + &close
        };
        let mut texts: Vec<String> = (MOST_LEVELS - 1..=MOST_LEVELS + 2)
            .flat_map(|levels| [arrays(levels), objects(levels), mixed(levels)])
            .collect();
        texts.extend(
            [
                r#"{"a":1,"a":2,"b":{"b":[true,null]}}"#,
                r#"{"z":1,"a":2,"m":3}"#,
                "-0",
                "[-0,0,-1,18446744073709551615,18446744073709551616,-9223372036854775808]",
                "[-9223372036854775809,1E2,1e-400,-1e-400,-0.0,0e999,1.0]",
                r#"{"\u00e9\n":"\ud83d\ude00","":"","\"":"[{"}"#,
                " [ 1 , { \"a\" : \"]\" } ] ",
                "1e400",
                r#""\ud800""#,
                "[1,]",
                "{\"a\":",
                "[] x",
                "nope",
            ]
            .map(str::to_owned),
        );
        // Compared as written: `Value`'s equality takes -0.0 for 0.0 and ignores key order.
        let written =
            |value: Option<Value>| value.map(|value| serde_json::to_string(&value).unwrap());
        for text in texts {
            let by_serde_json: Option<Value> = serde_json::from_str(&text).ok();
            let shown = &text[..text.len().min(40)];
            assert_eq!(
                written(read_back(text.as_bytes())),
                written(by_serde_json),
                "{shown}"
            );
        }
        assert_eq!(read_back(b"\xff"), None);
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert_eq!(deepest(r#"{"a":["[[[{",{"b":"\"]]"}]}"#), 3);
        // An escaped backslash, then the string's end.
        assert_eq!(deepest(r#"["\\",[1]]"#), 2);
        assert_eq!(deepest("1"), 0);
    }

    proptest! {
        #[test]
        fn what_serde_json_writes_reads_back_unchanged(value in any_json()) {
            let back = read_back(&written(&value));
            // Floats compared bit for bit, through their text.
            prop_assert_eq!(back.map(|v| written(&v)), Some(written(&value)));
        }
    }
}
