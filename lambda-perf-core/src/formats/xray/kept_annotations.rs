//! The `annotations` member of a handler subsegment, kept written from one invocation to the
//! next: a handler's annotations are nearly always those of the invocation before (`ColdStart`
//! false, `StartKind` warm, the service, the user's own), and comparing them costs less than
//! writing them again.

use std::borrow::Cow;

use super::annotation::AnnotationValue;
use super::datagram::write_annotations;

/// Annotations written as JSON, with what they were written from.
#[derive(Debug, Default)]
pub(crate) struct KeptAnnotations {
    /// Copies of the annotations written (their strings reused when they change).
    written: Vec<Written>,
    /// Their `annotations` member, as [`write_annotations`] writes it.
    json: Vec<u8>,
}

/// One annotation as it was written.
#[derive(Debug, Default)]
struct Written {
    key: KeptText,
    /// The value of a string annotation (of the last one, for other kinds of values).
    text: KeptText,
    value: Scalar,
}

/// A string as it was written: the `'static` one itself when it was one (the keys and most
/// values, named in the code), else a copy (its memory reused by the next copy).
///
/// A `'static` string never changes, so one at the same address and of the same length is the
/// same string: told so by comparing two pointers rather than the bytes.
#[derive(Debug, Default)]
struct KeptText {
    borrowed: Option<&'static str>,
    copy: String,
}

impl KeptText {
    /// Whether `text` is the string written.
    #[allow(clippy::ptr_arg)] // which variant it is tells a `'static` string
    fn is(&self, text: &Cow<'static, str>) -> bool {
        match (self.borrowed, text) {
            (Some(kept), Cow::Borrowed(given)) => std::ptr::eq(kept, *given) || kept == *given,
            (Some(kept), Cow::Owned(given)) => kept == given,
            (None, given) => self.copy == **given,
        }
    }

    #[allow(clippy::ptr_arg)] // which variant it is tells a `'static` string
    fn set(&mut self, text: &Cow<'static, str>) {
        match text {
            Cow::Borrowed(text) => self.borrowed = Some(text),
            Cow::Owned(text) => {
                self.borrowed = None;
                self.copy.clear();
                self.copy.push_str(text);
            }
        }
    }
}

/// The kind of an annotation's value, with the value of those that are not strings (floats by
/// their bits: `0.0` and `-0.0` are written differently).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Scalar {
    #[default]
    Text,
    Integer(i64),
    Float(u64),
    Bool(bool),
}

impl Written {
    #[allow(clippy::ptr_arg)] // which variant it is tells a `'static` string
    fn is(&self, key: &Cow<'static, str>, value: &AnnotationValue) -> bool {
        self.key.is(key)
            && match value {
                AnnotationValue::String(text) => self.value == Scalar::Text && self.text.is(text),
                other => self.value == scalar(other),
            }
    }

    #[allow(clippy::ptr_arg)] // which variant it is tells a `'static` string
    fn set(&mut self, key: &Cow<'static, str>, value: &AnnotationValue) {
        self.key.set(key);
        // The text of another kind of value is never compared.
        if let AnnotationValue::String(text) = value {
            self.text.set(text);
        }
        self.value = scalar(value);
    }
}

fn scalar(value: &AnnotationValue) -> Scalar {
    match value {
        AnnotationValue::String(_) => Scalar::Text,
        AnnotationValue::Integer(number) => Scalar::Integer(*number),
        AnnotationValue::Float(number) => Scalar::Float(number.to_bits()),
        AnnotationValue::Bool(flag) => Scalar::Bool(*flag),
    }
}

impl KeptAnnotations {
    /// The `annotations` member of `annotations` (empty when there are none): the one kept
    /// when they are those written last, else written now and kept. The first `known` of them
    /// are known to be the first `known` written last (unchanged since), and are not compared.
    pub(crate) fn json(
        &mut self,
        annotations: &[(Cow<'static, str>, AnnotationValue)],
        known: usize,
    ) -> &[u8] {
        debug_assert!(
            known <= annotations.len().min(self.written.len())
                && self.written[..known]
                    .iter()
                    .zip(annotations)
                    .all(|(written, (key, value))| written.is(key, value)),
            "the first {known} annotations are those written last"
        );
        let same = self.written.len() == annotations.len()
            && self
                .written
                .iter()
                .zip(annotations)
                .skip(known)
                .all(|(written, (key, value))| written.is(key, value));
        if !same {
            self.written.truncate(annotations.len());
            for (index, (key, value)) in annotations.iter().enumerate() {
                match self.written.get_mut(index) {
                    Some(written) => written.set(key, value),
                    None => {
                        let mut written = Written::default();
                        written.set(key, value);
                        self.written.push(written);
                    }
                }
            }
            self.json.clear();
            write_annotations(&mut self.json, annotations);
        }
        &self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(annotations: &[(Cow<'static, str>, AnnotationValue)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_annotations(&mut out, annotations);
        out
    }

    /// Static strings, some of the same text at different addresses (`"ab"` twice).
    const STATIC_TEXTS: [&str; 5] = ["a", "b", "ab", "ba", "aab".split_at(1).1];

    /// A text, owned or borrowed (`'static`).
    fn text(owned: &'static str) -> impl Strategy<Value = Cow<'static, str>> {
        prop_oneof![
            owned.prop_map(Cow::Owned),
            proptest::sample::select(STATIC_TEXTS.to_vec()).prop_map(Cow::Borrowed),
        ]
    }

    fn value() -> impl Strategy<Value = AnnotationValue> {
        prop_oneof![
            text("[a-c\"\\\\é]{0,3}").prop_map(AnnotationValue::from),
            (-2_i64..2).prop_map(AnnotationValue::from),
            prop_oneof![Just(0.0), Just(-0.0), Just(0.5), Just(1.0)]
                .prop_map(AnnotationValue::from),
            any::<bool>().prop_map(AnnotationValue::from),
        ]
    }

    fn annotations() -> impl Strategy<Value = Vec<(Cow<'static, str>, AnnotationValue)>> {
        proptest::collection::vec((text("[ab]{1,2}"), value()), 0..4)
    }

    proptest! {
        /// Whatever came before, the kept JSON is that of the annotations asked for; also
        /// when each list keeps the first of the list before (not compared again) and changes
        /// the rest.
        #[test]
        fn the_kept_json_is_always_that_of_the_annotations_given(
            sequence in proptest::collection::vec((0..4_usize, annotations()), 1..8)
        ) {
            let mut kept = KeptAnnotations::default();
            let mut last: Vec<(Cow<'static, str>, AnnotationValue)> = Vec::new();
            for (keep, rest) in &sequence {
                let known = (*keep).min(last.len());
                let mut annotations = last[..known].to_vec();
                annotations.extend(rest.iter().cloned());
                let expected = written(&annotations);
                prop_assert_eq!(kept.json(&annotations, known), expected.as_slice());
                // Asked again, unchanged: all known, or none.
                prop_assert_eq!(
                    kept.json(&annotations, annotations.len()),
                    expected.as_slice()
                );
                prop_assert_eq!(kept.json(&annotations, 0), expected.as_slice());
                last = annotations;
            }
        }
    }

    #[test]
    fn integers_floats_and_strings_that_look_alike_are_told_apart() {
        let mut kept = KeptAnnotations::default();
        let key = || Cow::Borrowed("k");
        for value in [
            AnnotationValue::from(1),
            AnnotationValue::from(1.0),
            AnnotationValue::from("1"),
            AnnotationValue::from(true),
            AnnotationValue::from(0.0),
            AnnotationValue::from(-0.0),
        ] {
            let annotations = [(key(), value)];
            assert_eq!(kept.json(&annotations, 0), written(&annotations).as_slice());
        }
    }
}
