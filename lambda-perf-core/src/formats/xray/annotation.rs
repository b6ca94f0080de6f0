//! Annotation values and the X-Ray rules for annotations and metadata.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

use super::XRayError;

/// Most annotations X-Ray indexes per trace.
pub(crate) const MAX_ANNOTATIONS: usize = 50;
const MAX_KEY: usize = 500;
const MAX_STRING_VALUE: usize = 1000;

/// The value of an annotation: a string, a number or a boolean (X-Ray indexes nothing else).
#[derive(Clone, Debug, PartialEq)]
pub enum AnnotationValue {
    /// A string of at most 1000 characters.
    String(Cow<'static, str>),
    /// An integer.
    Integer(i64),
    /// A finite floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl Serialize for AnnotationValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(text) => serializer.serialize_str(text),
            Self::Integer(number) => serializer.serialize_i64(*number),
            Self::Float(number) => serializer.serialize_f64(*number),
            Self::Bool(flag) => serializer.serialize_bool(*flag),
        }
    }
}

macro_rules! from_value {
    ($($source:ty => |$v:ident| $make:expr),* $(,)?) => {
        $(impl From<$source> for AnnotationValue {
            fn from($v: $source) -> Self {
                $make
            }
        })*
    };
}

from_value! {
    &'static str => |v| Self::String(Cow::Borrowed(v)),
    String => |v| Self::String(Cow::Owned(v)),
    Cow<'static, str> => |v| Self::String(v),
    bool => |v| Self::Bool(v),
    i32 => |v| Self::Integer(i64::from(v)),
    i64 => |v| Self::Integer(v),
    u32 => |v| Self::Integer(i64::from(v)),
    f64 => |v| Self::Float(v),
}

/// The bytes of annotation keys: `[A-Za-z0-9_]`.
const KEY_BYTES: [bool; 256] = {
    let mut accepted = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        accepted[byte] = b.is_ascii_alphanumeric() || b == b'_';
        byte += 1;
    }
    accepted
};

/// Checks a key against `^[A-Za-z0-9_]{1,500}$` and a value against X-Ray's limits.
#[inline]
pub(crate) fn validate(key: &str, value: &AnnotationValue) -> Result<(), XRayError> {
    if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| KEY_BYTES[usize::from(b)]) {
        return Err(XRayError::InvalidAnnotationKey {
            key: key.to_owned(),
        });
    }
    match value {
        // At most one character per byte: a short string is not counted.
        AnnotationValue::String(text)
            if text.len() > MAX_STRING_VALUE && text.chars().count() > MAX_STRING_VALUE =>
        {
            Err(XRayError::AnnotationValueTooLong {
                key: key.to_owned(),
                length: text.chars().count(),
            })
        }
        AnnotationValue::Float(number) if !number.is_finite() => {
            Err(XRayError::NonFiniteAnnotation {
                key: key.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Refuses metadata namespaces reserved for AWS (`AWS.` prefix) and empty ones.
pub(crate) fn validate_namespace(namespace: &str) -> Result<(), XRayError> {
    if namespace.is_empty() || namespace.starts_with("AWS.") {
        Err(XRayError::ReservedMetadataNamespace {
            namespace: namespace.to_owned(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_alphanumeric_or_underscore_up_to_500() {
        assert!(validate("customer_tier", &"gold".into()).is_ok());
        assert!(validate(&"k".repeat(500), &true.into()).is_ok());
        for bad in [
            "",
            "bad-key",
            "has space",
            "dot.ted",
            "ünï",
            &"k".repeat(501),
        ] {
            assert_eq!(
                validate(bad, &1.into()),
                Err(XRayError::InvalidAnnotationKey {
                    key: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn key_bytes_are_ascii_letters_digits_and_underscore() {
        for byte in 0..=u8::MAX {
            let expected = byte.is_ascii_alphanumeric() || byte == b'_';
            assert_eq!(KEY_BYTES[usize::from(byte)], expected, "{byte}");
        }
    }

    #[test]
    fn values_are_bounded_and_finite() {
        assert!(validate("k", &AnnotationValue::from("é".repeat(1000))).is_ok());
        assert!(matches!(
            validate("k", &AnnotationValue::from("é".repeat(1001))),
            Err(XRayError::AnnotationValueTooLong { length: 1001, .. })
        ));
        assert!(matches!(
            validate("k", &f64::NAN.into()),
            Err(XRayError::NonFiniteAnnotation { .. })
        ));
    }

    #[test]
    fn aws_namespaces_are_reserved() {
        assert!(validate_namespace("payment").is_ok());
        assert!(validate_namespace("AWS.reserved").is_err());
        assert!(validate_namespace("").is_err());
    }
}
