//! A user's `Serialize` written as compact JSON, checked as it is written.
//!
//! `serde_json` writes each token correctly, but it trusts the caller with the order of a
//! map's keys and values: a `Serialize` that gives a key and never its value, a value without
//! its key, or two keys in a row makes it write text that is not JSON (`{"a"}`, `{:1}`,
//! `{"a","b":1}`). Such text must never be copied into a document as it is. Parsing it back
//! would catch it, but `serde_json`'s parser keeps the nesting on the heap; instead, the map
//! events of its [`Formatter`] are followed as they happen, which costs a flag check each and
//! allocates nothing. Everything else is the trait's default, which is what
//! [`CompactFormatter`](serde_json::ser::CompactFormatter) writes: the bytes are
//! `serde_json::to_writer`'s.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// Appends `value` as compact JSON to `out`, exactly as `serde_json::to_writer` would; an
/// error when its `Serialize` failed or wrote what is not JSON (`out` then holds part of it).
pub(crate) fn write_checked<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut order = MapOrder::default();
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, &mut order);
    value
        .serialize(&mut serializer)
        .map_err(|error| error.to_string())?;
    if order.broken {
        return Err(
            "its Serialize wrote what is not JSON (a map key without its value, a \
                    value without its key, or two keys in a row)"
                .to_owned(),
        );
    }
    Ok(())
}

/// Whether map keys and values came in turn. One flag suffices for every level of nesting: a
/// key is only ever pending in the innermost map, since a map's value is opened (and a nested
/// map begun) only after its key.
#[derive(Debug, Default)]
struct MapOrder {
    /// A key was written; its value must come next.
    key_written: bool,
    /// Keys and values did not come in turn: the text is not JSON.
    broken: bool,
}

impl Formatter for &mut MapOrder {
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.broken |= self.key_written;
        if !first {
            writer.write_all(b",")?;
        }
        Ok(())
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.key_written = true;
        Ok(())
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.broken |= !self.key_written;
        self.key_written = false;
        writer.write_all(b":")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.broken |= self.key_written;
        writer.write_all(b"}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serializer;
    use serde::ser::{SerializeMap, SerializeSeq};
    use serde_json::{Value, json};

    use super::*;

    fn checked(value: &(impl Serialize + ?Sized)) -> Result<String, String> {
        let mut out = Vec::new();
        write_checked(value, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    /// Any JSON value.
    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn well_ordered_values_are_written_as_serde_json_writes_them(value in any_value()) {
            prop_assert_eq!(checked(&value).unwrap(), serde_json::to_string(&value).unwrap());
        }
    }

    /// Bytes through `serialize_bytes` (what `serde_bytes` does).
    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }

    #[test]
    fn keys_of_every_kind_bytes_and_nesting_are_written_as_serde_json_writes_them() {
        let mut numbers = BTreeMap::new();
        numbers.insert(7_i32, vec![Some(1.5), None]);
        let mut flags = BTreeMap::new();
        flags.insert(true, json!({ "deep": [[{}], []], "": {"a": {"b": {}}} }));
        let text = "a \"quoted\"\n line";
        for (written, expected) in [
            (checked(&numbers), serde_json::to_string(&numbers)),
            (checked(&flags), serde_json::to_string(&flags)),
            (
                checked(&Bytes(&[1, 2, 3])),
                serde_json::to_string(&Bytes(&[1, 2, 3])),
            ),
            (checked(&text), serde_json::to_string(&text)),
        ] {
            assert_eq!(written.unwrap(), expected.unwrap());
        }
    }

    /// A `Serialize` that misuses a map in one of the ways `serde_json` does not see.
    #[derive(Clone, Copy, Debug)]
    enum Misuse {
        KeyWithoutValue,
        ValueWithoutKey,
        TwoKeys,
        /// A well-formed map holding a value that misuses another, inside an array.
        Inside(&'static Misuse),
    }

    impl Serialize for Misuse {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            if let Self::Inside(misuse) = self {
                let mut seq = serializer.serialize_seq(None)?;
                seq.serialize_element(&json!({ "fine": [1, {"x": 2}] }))?;
                let mut inner = BTreeMap::new();
                inner.insert("wrapped", [*misuse]);
                seq.serialize_element(&inner)?;
                return seq.end();
            }
            let mut map = serializer.serialize_map(None)?;
            match self {
                Self::KeyWithoutValue => map.serialize_key("a")?,
                Self::ValueWithoutKey => map.serialize_value(&1)?,
                Self::TwoKeys => {
                    map.serialize_key("a")?;
                    map.serialize_key("b")?;
                    map.serialize_value(&1)?;
                }
                Self::Inside(_) => unreachable!("handled above"),
            }
            map.end()
        }
    }

    #[test]
    fn every_misuse_is_refused_and_its_text_is_indeed_not_json() {
        for misuse in [
            Misuse::KeyWithoutValue,
            Misuse::ValueWithoutKey,
            Misuse::TwoKeys,
            Misuse::Inside(&Misuse::KeyWithoutValue),
            Misuse::Inside(&Misuse::ValueWithoutKey),
            Misuse::Inside(&Misuse::TwoKeys),
        ] {
            let unchecked = serde_json::to_vec(&misuse).unwrap();
            let text = String::from_utf8_lossy(&unchecked);
            assert!(
                serde_json::from_slice::<Value>(&unchecked).is_err(),
                "{misuse:?}: {text}"
            );
            assert!(checked(&misuse).is_err(), "{misuse:?}: {text}");
        }
    }
}
