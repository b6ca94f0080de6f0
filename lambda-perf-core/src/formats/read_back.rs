//! JSON text lambda-perf wrote, read back as a `serde_json::Value` with every number exactly as
//! written: for the rare paths that need a value (a redaction hook, OpenTelemetry attributes).
//!
//! `serde_json`'s own parser reads floats on a best-effort basis unless its `float_roundtrip`
//! feature is on, and that feature, unified across a function's whole build, would add about
//! 70 KB to every binary and slow the function's own parsing of floats. Here `serde_json`
//! finds the text of each member and element (as raw values), strings and literals are read
//! by `serde_json`, and numbers by the standard library, whose float parser is correctly
//! rounded.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// The most levels of nesting read back: as many as `serde_json`'s own parser reads.
pub(crate) const MOST_LEVELS: usize = 128;

/// `text` as a value, its numbers exactly as written; `None` if it is not JSON, or nests
/// deeper than [`MOST_LEVELS`], or holds a number no `f64` can hold (which `serde_json` does
/// not read either).
pub(crate) fn read_back(text: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(text).ok()?;
    // Valid JSON to begin with: what follows reads it member by member.
    let whole: &RawValue = serde_json::from_str(text).ok()?;
    value(whole.get(), 1)
}

/// The value of `text`, one JSON value without surrounding whitespace, `depth` levels down.
fn value(text: &str, depth: usize) -> Option<Value> {
    match text.as_bytes().first()? {
        b'{' => {
            if depth > MOST_LEVELS {
                return None;
            }
            let members: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
            members
                .into_iter()
                .map(|(key, member)| Some((key, value(member.get(), depth + 1)?)))
                .collect::<Option<Map<String, Value>>>()
                .map(Value::Object)
        }
        b'[' => {
            if depth > MOST_LEVELS {
                return None;
            }
            let elements: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            elements
                .into_iter()
                .map(|element| value(element.get(), depth + 1))
                .collect::<Option<Vec<Value>>>()
                .map(Value::Array)
        }
        b'-' | b'0'..=b'9' => number(text).map(Value::Number),
        _ => serde_json::from_str(text).ok(),
    }
}

/// A JSON number: an integer as `serde_json` keeps it when it fits 64 bits, else a float,
/// correctly rounded.
fn number(text: &str) -> Option<Number> {
    let integral = !text.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(unsigned) = text.parse::<u64>() {
            return Some(unsigned.into());
        }
        if let Ok(signed) = text.parse::<i64>() {
            return Some(signed.into());
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

    #[test]
    fn too_deep_or_not_json_is_none() {
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        assert!(read_back(nested(MOST_LEVELS).as_bytes()).is_some());
        assert_eq!(read_back(nested(MOST_LEVELS + 1).as_bytes()), None);
        for text in [&b"{\"a\":"[..], b"[1,]", b"nope", b"1e400", b"\xff"] {
            assert_eq!(read_back(text), None, "{:?}", String::from_utf8_lossy(text));
        }
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn what_serde_json_writes_reads_back_unchanged(value in any_value()) {
            let back = read_back(&written(&value));
            // Floats compared bit for bit, through their text.
            prop_assert_eq!(back.map(|v| written(&v)), Some(written(&value)));
        }
    }
}
