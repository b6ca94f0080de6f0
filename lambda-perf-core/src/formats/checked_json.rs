//! A user's `Serialize` written as compact JSON, checked as it is written.
//!
//! `serde_json` writes each token correctly, but it trusts the caller with the structure: a
//! `Serialize` that gives a map key and never its value, a value without its key, elements
//! after a length hint of zero (`[],1,2`), or that goes on after an error it ignored, makes it
//! write text that is not JSON. Such text must never be copied into a document as it is.
//! Parsing it back would catch it, but `serde_json`'s parser keeps the nesting on the heap;
//! instead, the events of its [`Formatter`] are followed as they happen against JSON's grammar
//! (a state for the innermost level, one bit per level of nesting for its kind, past 64 levels
//! a read back), which costs a few comparisons per event and allocates nothing. The bytes are [`CompactFormatter`]'s:
//! `serde_json::to_writer`'s.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::value::RawValue;

use crate::formats::failure::NotSerialized;

/// Appends `value` as compact JSON to `out`, exactly as `serde_json::to_writer` would; an
/// error when its `Serialize` failed or wrote what is not JSON (`out` then holds part of it).
pub(crate) fn write_checked<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), NotSerialized> {
    let start = out.len();
    let mut grammar = Grammar::default();
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, &mut grammar);
    value
        .serialize(&mut serializer)
        .map_err(NotSerialized::Failed)?;
    // Past the levels followed, the text is read back instead (rare, and it allocates).
    let valid = if grammar.too_deep {
        is_json(&out[start..])
    } else {
        grammar.is_complete()
    };
    if !valid {
        return Err(NotSerialized::NotJson);
    }
    Ok(())
}

/// Where the innermost level of the text stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A value must begin: at the start, in an array's element, after a map key's colon.
    Value,
    /// The value is complete (a string as soon as it begins: see its `begin_string`).
    Complete,
    /// A container is open, before its first member or after one.
    Open,
    /// A map key begins: its string must come (`serde_json` quotes every key).
    Key,
    /// The key's string has begun, and with it the key (a number key's digits come inside
    /// it).
    KeyWritten,
    /// The key is complete; its value must come.
    KeyDone,
}

/// Levels of nesting followed; deeper text is read back instead.
const FOLLOWED_LEVELS: u32 = u64::BITS;

/// JSON's grammar, followed through the formatter's events. Only the order of the serializer's
/// calls is the caller's to get wrong: inside a string, `serde_json` writes every fragment
/// itself.
#[derive(Debug)]
struct Grammar {
    slot: Slot,
    /// Open containers.
    depth: u32,
    /// The kind of each open container, bit `depth - 1` the innermost: 1 for a map.
    maps: u64,
    /// Whether the innermost open container is a map.
    in_map: bool,
    /// Nested deeper than `maps` holds: checked by reading back instead.
    too_deep: bool,
    broken: bool,
}

impl Default for Grammar {
    fn default() -> Self {
        Self {
            slot: Slot::Value,
            depth: 0,
            maps: 0,
            in_map: false,
            too_deep: false,
            broken: false,
        }
    }
}

impl Grammar {
    fn is_complete(&self) -> bool {
        !self.broken && self.depth == 0 && self.slot == Slot::Complete
    }

    /// Moves from `from` to `to`, or notes the text broken.
    #[inline]
    fn step(&mut self, from: Slot, to: Slot) {
        if self.slot == from {
            self.slot = to;
        } else {
            self.broken = true;
        }
    }

    /// A scalar (a number, a literal, a raw fragment): the value, unless part of a key's
    /// string (a number key's).
    #[inline]
    fn scalar(&mut self) {
        match self.slot {
            Slot::Value => self.slot = Slot::Complete,
            Slot::KeyWritten => {}
            _ => self.broken = true,
        }
    }

    /// A member of the innermost container begins: an array's element (then
    /// `Slot::Value`) or a map's key (then `Slot::Key`).
    #[inline]
    fn enter_member(&mut self, map: bool, to: Slot) {
        self.broken |= self.depth == 0 || self.in_map != map;
        self.step(Slot::Open, to);
    }

    #[inline]
    fn open(&mut self, map: bool) {
        self.step(Slot::Value, Slot::Open);
        if self.depth == FOLLOWED_LEVELS {
            self.too_deep = true;
            return;
        }
        self.maps = self.maps & !(1 << self.depth) | u64::from(map) << self.depth;
        self.depth += 1;
        self.in_map = map;
    }

    #[inline]
    fn close(&mut self, map: bool) {
        if self.depth == 0 || self.in_map != map {
            self.broken = true;
            return;
        }
        self.step(Slot::Open, Slot::Complete);
        self.depth -= 1;
        self.in_map = self.depth > 0 && self.maps >> (self.depth - 1) & 1 == 1;
    }
}

/// Whether `text` is one JSON value, read back as a raw value (which has no depth limit): for
/// what the grammar does not follow, raw fragments (a raw value, or a number as written with
/// `arbitrary_precision`, which `serde_json` copies as they are) and text nested too deep.
fn is_json(text: &[u8]) -> bool {
    serde_json::from_slice::<&RawValue>(text).is_ok()
}

/// Scalars: a value each, unless part of a key; written by [`CompactFormatter`].
macro_rules! scalars {
    ($($method:ident($type:ty)),* $(,)?) => {
        $(
            #[inline]
            fn $method<W: ?Sized + io::Write>(
                &mut self,
                writer: &mut W,
                value: $type,
            ) -> io::Result<()> {
                self.scalar();
                CompactFormatter.$method(writer, value)
            }
        )*
    };
}

/// The events of the grammar, followed; the bytes are [`CompactFormatter`]'s (a string's
/// fragments and escapes are the trait's defaults, which are its too).
impl Formatter for &mut Grammar {
    scalars!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
    );

    #[inline]
    fn write_null<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.scalar();
        CompactFormatter.write_null(writer)
    }

    fn write_number_str<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        self.scalar();
        self.broken |= !is_json(value.as_bytes());
        CompactFormatter.write_number_str(writer, value)
    }

    fn write_raw_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.scalar();
        self.broken |= !is_json(fragment.as_bytes());
        CompactFormatter.write_raw_fragment(writer, fragment)
    }

    /// A string completes its value (or key) as it begins: `serde_json` writes the rest of
    /// it, its end included, itself. Only a panic stops it midway (writing to a `Vec` never
    /// fails; a `Display` given to `collect_str` that fails makes `serde_json` panic). A
    /// panic that escapes leaves the text uncaptured; one that a `Serialize` catches has also
    /// skipped the end of the member the string was in (or of its key), so the container's
    /// next step is refused. Only a number key's digits come inside a string, where
    /// `Grammar::scalar` takes them.
    #[inline]
    fn begin_string<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        match self.slot {
            Slot::Value => self.slot = Slot::Complete,
            Slot::Key => self.slot = Slot::KeyWritten,
            _ => self.broken = true,
        }
        CompactFormatter.begin_string(writer)
    }

    /// Nothing to follow: see its `begin_string`.
    #[inline]
    fn end_string<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        CompactFormatter.end_string(writer)
    }

    #[inline]
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(false);
        CompactFormatter.begin_array(writer)
    }

    #[inline]
    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(false);
        CompactFormatter.end_array(writer)
    }

    #[inline]
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.enter_member(false, Slot::Value);
        CompactFormatter.begin_array_value(writer, first)
    }

    #[inline]
    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.step(Slot::Complete, Slot::Open);
        CompactFormatter.end_array_value(writer)
    }

    #[inline]
    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(true);
        CompactFormatter.begin_object(writer)
    }

    #[inline]
    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(true);
        CompactFormatter.end_object(writer)
    }

    #[inline]
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.enter_member(true, Slot::Key);
        CompactFormatter.begin_object_key(writer, first)
    }

    #[inline]
    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.step(Slot::KeyWritten, Slot::KeyDone);
        CompactFormatter.end_object_key(writer)
    }

    #[inline]
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.step(Slot::KeyDone, Slot::Value);
        CompactFormatter.begin_object_value(writer)
    }

    #[inline]
    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.step(Slot::Complete, Slot::Open);
        CompactFormatter.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serializer;
    use serde::ser::{
        Error as _, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
        SerializeTupleVariant,
    };
    use serde_json::{Value, json};

    use super::*;
    use crate::formats::any_json::any_json;

    fn checked(value: &(impl Serialize + ?Sized)) -> Result<String, NotSerialized> {
        let mut out = Vec::new();
        write_checked(value, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    proptest! {
        #[test]
        fn well_formed_values_are_written_as_serde_json_writes_them(value in any_json()) {
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

    #[derive(Serialize)]
    enum Variant {
        Unit,
        Newtype(u8),
        Tuple(i32, Option<f32>),
        Struct { a: char, b: Vec<()> },
        NoFields {},
        NoElements(),
    }

    /// A unit variant, as a map key.
    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum KeyVariant {
        Unit,
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Newtype(u16);

    #[derive(Serialize)]
    struct UnitStruct;

    /// Map keys of every kind `serde_json` takes.
    #[derive(Serialize)]
    struct Keys {
        chars: BTreeMap<char, u8>,
        wide: BTreeMap<u128, u8>,
        variants: BTreeMap<KeyVariant, u8>,
        newtypes: BTreeMap<Newtype, u8>,
        options: BTreeMap<Option<i8>, u8>,
        shown: BTreeMap<Shown, Shown>,
    }

    /// Written through `collect_str`.
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Shown(&'static str);

    impl Serialize for Shown {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(self.0)
        }
    }

    #[derive(Serialize)]
    struct Everything {
        variants: Vec<Variant>,
        numbers: BTreeMap<i64, (u128, i128)>,
        flags: BTreeMap<bool, Value>,
        bytes: Bytes<'static>,
        raw: Box<RawValue>,
        #[serde(flatten)]
        flattened: BTreeMap<String, u8>,
        nothing: Option<()>,
        text: &'static str,
        keys: Keys,
        unit: UnitStruct,
        no_bytes: Bytes<'static>,
        floats: [f64; 3],
    }

    #[test]
    fn every_kind_of_well_formed_serialization_passes_byte_for_byte() {
        let everything = Everything {
            variants: vec![
                Variant::Unit,
                Variant::Newtype(7),
                Variant::Tuple(-1, Some(1.5)),
                Variant::Struct {
                    a: '"',
                    b: vec![(), ()],
                },
                Variant::NoFields {},
                Variant::NoElements(),
            ],
            numbers: [(-3, (u128::MAX, i128::MIN))].into_iter().collect(),
            flags: [(
                true,
                json!({ "deep": [[{}], []], "": { "a": { "b": {} } } }),
            )]
            .into_iter()
            .collect(),
            bytes: Bytes(&[1, 2, 3]),
            raw: RawValue::from_string(r#"{"kept": [1, 2]}"#.to_owned()).unwrap(),
            flattened: [("extra".to_owned(), 1)].into_iter().collect(),
            nothing: None,
            text: "a \"quoted\"\n line\u{1}",
            keys: Keys {
                chars: [('k', 1)].into_iter().collect(),
                wide: [(u128::MAX, 1)].into_iter().collect(),
                variants: [(KeyVariant::Unit, 1)].into_iter().collect(),
                newtypes: [(Newtype(9), 1)].into_iter().collect(),
                options: [(Some(-1), 1)].into_iter().collect(),
                shown: [(Shown("shown \"key\""), Shown("shown \"value\""))]
                    .into_iter()
                    .collect(),
            },
            unit: UnitStruct,
            no_bytes: Bytes(&[]),
            floats: [f64::NAN, f64::INFINITY, -0.0],
        };
        assert_eq!(
            checked(&everything).unwrap(),
            serde_json::to_string(&everything).unwrap()
        );
        // Deeper than the grammar's bits: read back instead, and still passed.
        let deep = (0..300).fold(json!({ "x": [1] }), |value, _| json!([value]));
        assert_eq!(
            checked(&deep).unwrap(),
            serde_json::to_string(&deep).unwrap()
        );
    }

    /// A `Serialize` that misuses the serializer in one of the ways `serde_json` does not see.
    #[derive(Clone, Copy, Debug)]
    enum Misuse {
        KeyWithoutValue,
        ValueWithoutKey,
        TwoKeys,
        /// Elements after a length hint of zero (`[],1,2`).
        ElementsPastZero,
        FieldsPastZero,
        VariantFieldsPastZero,
        /// A value that fails, its error ignored, and the map closed.
        IgnoredFailingValue,
        /// A key that cannot be one (a list), its error ignored.
        IgnoredFailingKey,
        /// A raw value forged through `serde_json`'s private token.
        ForgedRawValue,
        /// A raw value ended without its field, and one with it twice.
        RawValueWithoutField,
        RawValueTwice,
        /// Entries after a map length of zero, fields after a struct variant's.
        EntriesPastZero,
        StructVariantFieldsPastZero,
        /// An element that opens a list and fails, its error ignored: the list is left open.
        AbandonedContainer,
        /// A string value whose `Display` panics after writing part of it, the panic caught
        /// and the map closed: the string is left unterminated.
        CaughtPanicInString,
        /// One of the others, inside a well-formed map, inside an array.
        Inside(&'static Misuse),
        /// One of the others, this many levels down.
        Down(usize, &'static Misuse),
    }

    /// A value whose `Serialize` always fails.
    struct Fails;

    impl Serialize for Fails {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(S::Error::custom("fails"))
        }
    }

    impl Serialize for Misuse {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self {
                Self::KeyWithoutValue => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_key("a")?;
                    map.end()
                }
                Self::ValueWithoutKey => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_value(&1)?;
                    map.end()
                }
                Self::TwoKeys => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_key("a")?;
                    map.serialize_key("b")?;
                    map.serialize_value(&1)?;
                    map.end()
                }
                Self::ElementsPastZero => {
                    let mut seq = serializer.serialize_seq(Some(0))?;
                    seq.serialize_element(&1)?;
                    seq.serialize_element(&2)?;
                    seq.end()
                }
                Self::FieldsPastZero => {
                    let mut fields = serializer.serialize_struct("R", 0)?;
                    fields.serialize_field("a", &1)?;
                    fields.end()
                }
                Self::VariantFieldsPastZero => {
                    let mut fields = serializer.serialize_tuple_variant("E", 0, "V", 0)?;
                    fields.serialize_field(&1)?;
                    fields.end()
                }
                Self::IgnoredFailingValue => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_key("a")?;
                    let _ = map.serialize_value(&Fails);
                    map.end()
                }
                Self::IgnoredFailingKey => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_entry("a", &1)?;
                    let _ = map.serialize_key(&[1_u8]);
                    map.end()
                }
                Self::ForgedRawValue => {
                    let token = "$serde_json::private::RawValue";
                    let mut raw = serializer.serialize_struct(token, 1)?;
                    raw.serialize_field(token, "{not json")?;
                    raw.end()
                }
                Self::RawValueWithoutField | Self::RawValueTwice => {
                    let token = "$serde_json::private::RawValue";
                    let mut raw = serializer.serialize_struct(token, 1)?;
                    if matches!(self, Self::RawValueTwice) {
                        raw.serialize_field(token, "[]")?;
                        raw.serialize_field(token, "[]")?;
                    }
                    raw.end()
                }
                Self::EntriesPastZero => {
                    let mut map = serializer.serialize_map(Some(0))?;
                    map.serialize_entry("a", &1)?;
                    map.end()
                }
                Self::StructVariantFieldsPastZero => {
                    let mut fields = serializer.serialize_struct_variant("E", 0, "V", 0)?;
                    fields.serialize_field("a", &1)?;
                    fields.end()
                }
                Self::AbandonedContainer => {
                    let mut seq = serializer.serialize_seq(None)?;
                    let _ = seq.serialize_element(&OpensAndFails);
                    seq.serialize_element(&1)?;
                    seq.end()
                }
                Self::CaughtPanicInString => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_key("a")?;
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        map.serialize_value(&PanicsMidway)
                    }));
                    map.end()
                }
                Self::Inside(misuse) => {
                    let mut seq = serializer.serialize_seq(None)?;
                    seq.serialize_element(&json!({ "fine": [1, { "x": 2 }] }))?;
                    let inner: BTreeMap<_, _> = [("wrapped", [*misuse])].into_iter().collect();
                    seq.serialize_element(&inner)?;
                    seq.end()
                }
                Self::Down(levels, misuse) => Nest(*levels, **misuse).serialize(serializer),
            }
        }
    }

    /// A string shown by a `Display` that panics after its first part.
    struct PanicsMidway;

    impl std::fmt::Display for PanicsMidway {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("part")?;
            panic!("a Display that panics midway (expected by the test)");
        }
    }

    impl Serialize for PanicsMidway {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(self)
        }
    }

    /// Opens a list, then fails.
    struct OpensAndFails;

    impl Serialize for OpensAndFails {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let _seq = serializer.serialize_seq(None)?;
            Err(S::Error::custom("fails"))
        }
    }

    /// `misuse`, `levels` arrays down.
    struct Nest(usize, Misuse);

    impl Serialize for Nest {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            if self.0 == 0 {
                return self.1.serialize(serializer);
            }
            let mut seq = serializer.serialize_seq(Some(1))?;
            seq.serialize_element(&Nest(self.0 - 1, self.1))?;
            seq.end()
        }
    }

    #[test]
    fn every_misuse_is_refused_where_the_grammar_is_followed() {
        let simple = [
            Misuse::KeyWithoutValue,
            Misuse::ValueWithoutKey,
            Misuse::TwoKeys,
            Misuse::ElementsPastZero,
            Misuse::FieldsPastZero,
            Misuse::VariantFieldsPastZero,
            Misuse::IgnoredFailingValue,
            Misuse::IgnoredFailingKey,
            Misuse::ForgedRawValue,
            Misuse::RawValueWithoutField,
            Misuse::RawValueTwice,
            Misuse::EntriesPastZero,
            Misuse::StructVariantFieldsPastZero,
            Misuse::AbandonedContainer,
            Misuse::CaughtPanicInString,
        ];
        let mut all: Vec<Misuse> = simple.to_vec();
        for misuse in &simple {
            let misuse: &'static Misuse = Box::leak(Box::new(*misuse));
            all.push(Misuse::Inside(misuse));
            // Within the levels followed, at their edge, and past them.
            for levels in [50, 63, 64, 65, 200] {
                all.push(Misuse::Down(levels, misuse));
            }
        }
        for misuse in all {
            let unchecked = serde_json::to_vec(&misuse).unwrap();
            let text = String::from_utf8_lossy(&unchecked);
            // A raw value without its field writes nothing: alone, that is no JSON; as an
            // element, the element is gone and the text still parses (`[]`): refused too.
            let element_gone = matches!(
                misuse,
                Misuse::Inside(Misuse::RawValueWithoutField)
                    | Misuse::Down(_, Misuse::RawValueWithoutField)
            );
            assert_eq!(
                serde_json::from_slice::<&RawValue>(&unchecked).is_ok(),
                element_gone,
                "{misuse:?}: {text}"
            );
            // Past the levels followed only the text's validity is checked: the element that is
            // gone there goes unseen, and the text, being JSON, passes.
            let unseen = element_gone && matches!(misuse, Misuse::Down(levels, _) if levels > 64);
            assert_eq!(checked(&misuse).is_ok(), unseen, "{misuse:?}: {text}");
        }
    }

    /// Ways a `Serialize` could catch a panic out of a string midway and go on.
    #[derive(Clone, Copy, Debug)]
    enum CaughtMidString {
        /// In a key, then the value and the map's end.
        KeyThenValue,
        /// In a key through a newtype, then the value.
        NewtypeKeyThenValue,
        /// In a key, then the map's end only.
        KeyThenEnd,
        /// In an element, then another element and the end.
        ElementThenMore,
        /// In an element, then the end only.
        ElementThenEnd,
        /// In a newtype variant's value, the variant an element.
        NewtypeVariantElement,
        /// In a struct's second field.
        StructField,
        /// In a tuple variant's field.
        TupleVariantField,
        /// In a struct variant's field.
        StructVariantField,
        /// In an element of a list that is itself an element, caught outside.
        NestedElement,
        /// In an optional value.
        SomeValue,
        /// In a value, then another entry.
        ValueThenEntry,
        /// A `Display` that fails (`serde_json` panics) rather than panicking itself.
        FailingDisplay,
        /// A `Display` that panics before writing anything.
        PanicsAtOnce,
        /// In an element, then an element that writes nothing (a raw value without field).
        ElementThenRawNothing,
    }

    fn catching<R>(f: impl FnOnce() -> R) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    }

    struct NewtypeOf<T>(T);

    impl<T: Serialize> Serialize for NewtypeOf<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_newtype_struct("N", &self.0)
        }
    }

    struct NewtypeVariantOf<T>(T);

    impl<T: Serialize> Serialize for NewtypeVariantOf<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_newtype_variant("E", 0, "V", &self.0)
        }
    }

    struct SeqOf<T>(T);

    impl<T: Serialize> Serialize for SeqOf<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(None)?;
            seq.serialize_element(&self.0)?;
            seq.end()
        }
    }

    struct FailsToShow;

    impl std::fmt::Display for FailsToShow {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("part")?;
            Err(std::fmt::Error)
        }
    }

    struct PanicsAtOnce;

    impl std::fmt::Display for PanicsAtOnce {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("a Display that panics at once (expected by the test)");
        }
    }

    struct Collected<T>(T);

    impl<T: std::fmt::Display> Serialize for Collected<T> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(&self.0)
        }
    }

    impl Serialize for CaughtMidString {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            match self {
                Self::KeyThenValue | Self::NewtypeKeyThenValue | Self::KeyThenEnd => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_entry("fine", &1)?;
                    if matches!(self, Self::NewtypeKeyThenValue) {
                        catching(|| map.serialize_key(&NewtypeOf(PanicsMidway)));
                    } else {
                        catching(|| map.serialize_key(&PanicsMidway));
                    }
                    if !matches!(self, Self::KeyThenEnd) {
                        map.serialize_value(&1)?;
                    }
                    map.end()
                }
                Self::ElementThenMore | Self::ElementThenEnd | Self::ElementThenRawNothing => {
                    let mut seq = serializer.serialize_seq(None)?;
                    catching(|| seq.serialize_element(&PanicsMidway));
                    if matches!(self, Self::ElementThenMore) {
                        seq.serialize_element(&1)?;
                    }
                    if matches!(self, Self::ElementThenRawNothing) {
                        seq.serialize_element(&Misuse::RawValueWithoutField)?;
                    }
                    seq.end()
                }
                Self::NewtypeVariantElement => {
                    let mut seq = serializer.serialize_seq(None)?;
                    catching(|| seq.serialize_element(&NewtypeVariantOf(PanicsMidway)));
                    seq.end()
                }
                Self::StructField => {
                    let mut fields = serializer.serialize_struct("R", 2)?;
                    fields.serialize_field("a", &1)?;
                    catching(|| fields.serialize_field("b", &PanicsMidway));
                    fields.end()
                }
                Self::TupleVariantField => {
                    let mut fields = serializer.serialize_tuple_variant("E", 0, "V", 1)?;
                    catching(|| fields.serialize_field(&PanicsMidway));
                    fields.end()
                }
                Self::StructVariantField => {
                    let mut fields = serializer.serialize_struct_variant("E", 0, "V", 1)?;
                    catching(|| fields.serialize_field("a", &PanicsMidway));
                    fields.end()
                }
                Self::NestedElement => {
                    let mut seq = serializer.serialize_seq(None)?;
                    catching(|| seq.serialize_element(&SeqOf(PanicsMidway)));
                    seq.end()
                }
                Self::SomeValue
                | Self::ValueThenEntry
                | Self::FailingDisplay
                | Self::PanicsAtOnce => {
                    let mut map = serializer.serialize_map(None)?;
                    map.serialize_key("a")?;
                    match self {
                        Self::SomeValue => catching(|| map.serialize_value(&Some(PanicsMidway))),
                        Self::FailingDisplay => {
                            catching(|| map.serialize_value(&Collected(FailsToShow)));
                        }
                        Self::PanicsAtOnce => {
                            catching(|| map.serialize_value(&Collected(PanicsAtOnce)));
                        }
                        _ => catching(|| map.serialize_value(&PanicsMidway)),
                    }
                    if matches!(self, Self::ValueThenEntry) {
                        map.serialize_entry("b", &2)?;
                    }
                    map.end()
                }
            }
        }
    }

    /// Every way to catch a panic out of a string midway and go on is refused, alone and inside
    /// other containers: the panic also skips the end of the member (or key) the string was in.
    #[test]
    fn caught_panics_midway_through_a_string_are_refused_wherever_the_string_is() {
        use CaughtMidString::*;
        let all = [
            KeyThenValue,
            NewtypeKeyThenValue,
            KeyThenEnd,
            ElementThenMore,
            ElementThenEnd,
            NewtypeVariantElement,
            StructField,
            TupleVariantField,
            StructVariantField,
            NestedElement,
            SomeValue,
            ValueThenEntry,
            FailingDisplay,
            PanicsAtOnce,
            ElementThenRawNothing,
        ];
        for attempt in all {
            for wrapped in [false, true] {
                let (unchecked, result) = if wrapped {
                    let value = json!(null);
                    let inner: BTreeMap<_, _> = [("w", [attempt])].into_iter().collect();
                    let outer = (value, inner, 3);
                    (serde_json::to_vec(&outer), checked(&outer))
                } else {
                    (serde_json::to_vec(&attempt), checked(&attempt))
                };
                let text = unchecked
                    .as_ref()
                    .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
                if let Ok(bytes) = &unchecked {
                    assert!(
                        serde_json::from_slice::<&RawValue>(bytes).is_err(),
                        "{attempt:?}"
                    );
                }
                assert!(result.is_err(), "{attempt:?} wrapped={wrapped}: {text:?}");
            }
        }
    }
}
