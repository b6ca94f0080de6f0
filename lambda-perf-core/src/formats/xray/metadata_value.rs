//! A subsegment's metadata value: a JSON value, or JSON text already written.
//!
//! A captured response is written straight from its `Serialize` into a buffer its trace
//! reuses, and copied as it is into the datagram: a handler that returns an object then
//! allocates nothing for its capture, where a `serde_json::Value` would allocate its map and
//! each of its strings.

use serde::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// One metadata entry's value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum MetadataValue {
    /// A JSON value.
    Value(Value),
    /// Compact JSON text, as `serde_json` writes it: valid by construction.
    Written(Vec<u8>),
}

impl From<Value> for MetadataValue {
    fn from(value: Value) -> Self {
        Self::Value(value)
    }
}

impl MetadataValue {
    /// Appends the value's compact JSON to `out`: written text as it is. An error comes only
    /// from a value's own `Serialize`.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Self::Value(value) => serde_json::to_writer(out, value),
            Self::Written(json) => {
                out.extend_from_slice(json);
                Ok(())
            }
        }
    }

    /// The value as a `serde_json::Value` (reading written text back: for the rare paths).
    /// What cannot be read back as a value — nesting deeper than the 127 levels `serde_json`
    /// reads, which its writer has no limit on — is kept as its text, a string: nothing is
    /// lost, and what is written from it stays valid JSON.
    #[cfg(any(test, feature = "opentelemetry"))]
    pub(crate) fn to_value(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Self::Value(value) => std::borrow::Cow::Borrowed(value),
            Self::Written(json) => std::borrow::Cow::Owned(
                crate::formats::read_back::read_back(json)
                    .unwrap_or_else(|| Value::String(String::from_utf8_lossy(json).into_owned())),
            ),
        }
    }
}

/// Written text goes out verbatim, through `serde_json`'s raw values (which take any depth);
/// text that is not JSON, which lambda-perf never writes, would go out as a string.
impl Serialize for MetadataValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(value) => value.serialize(serializer),
            Self::Written(json) => match serde_json::from_slice::<&RawValue>(json) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_str(&String::from_utf8_lossy(json)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn written(value: &Value) -> MetadataValue {
        MetadataValue::Written(serde_json::to_vec(value).unwrap())
    }

    /// Written text and the value it was written from serialize alike, compactly, also
    /// inside a document that `serde_json` writes, and read back as the same value.
    #[test]
    fn written_text_is_the_value_it_was_written_from() {
        for value in [
            json!({ "order": "a\"1", "items": [1, 2.5, null], "nested": { "ok": true } }),
            json!("text with \\ and \u{1}"),
            json!(12),
            Value::Null,
        ] {
            let from_text = written(&value);
            let from_value = MetadataValue::from(value.clone());
            let mut out = Vec::new();
            from_text.write_json(&mut out).unwrap();
            assert_eq!(out, serde_json::to_vec(&value).unwrap());
            assert_eq!(
                serde_json::to_string(&[&from_text, &from_value]).unwrap(),
                serde_json::to_string(&[&value, &value]).unwrap()
            );
            assert_eq!(*from_text.to_value(), value);
            assert_eq!(*from_value.to_value(), value);
        }
    }

    /// Nesting that `serde_json` writes but cannot read back as a value (past 127 levels) is
    /// copied and serialized as it is, and kept as its text where it has to be a value.
    #[test]
    fn text_too_deep_to_read_back_is_kept_as_a_string() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let written = MetadataValue::Written(deep.clone().into_bytes());
        let mut out = Vec::new();
        written.write_json(&mut out).unwrap();
        assert_eq!(out, deep.as_bytes());
        assert_eq!(*written.to_value(), Value::String(deep.clone()));
        assert_eq!(serde_json::to_string(&written).unwrap(), deep);
    }
}
