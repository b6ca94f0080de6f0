//! The X-Ray trace header: `Root=1-…;Parent=…;Sampled=1`, plus keys kept opaque (`Lineage`).

use super::id::Hex;

/// A parsed `X-Amzn-Trace-Id` / `Lambda-Runtime-Trace-Id` value.
///
/// Only a header with a well-formed `Root` and `Parent` and `Sampled=1` makes lambda-perf send
/// subsegments; every other input, however malformed, parses without panicking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    root: Option<String>,
    parent: Option<String>,
    sampled: Sampled,
    /// Other keys (`Lineage`, `Self`, …), verbatim and in order.
    others: Vec<(String, String)>,
}

/// The `Sampled` decision of a trace header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sampled {
    /// `Sampled=1`.
    Yes,
    /// `Sampled=0`.
    No,
    /// `Sampled=?`: the caller asks the receiver to decide.
    Requested,
    /// Missing or unreadable.
    Unknown,
}

impl TraceHeader {
    /// Parses a header. Unknown keys are kept, malformed parts are ignored.
    #[must_use]
    pub fn parse(header: &str) -> Self {
        let mut parsed = Self {
            root: None,
            parent: None,
            sampled: Sampled::Unknown,
            others: Vec::new(),
        };
        for part in header.split(';') {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                "Root" => parsed.root = is_trace_id(value).then(|| value.to_owned()),
                "Parent" => parsed.parent = is_segment_id(value).then(|| value.to_owned()),
                "Sampled" => {
                    parsed.sampled = match value {
                        "1" => Sampled::Yes,
                        "0" => Sampled::No,
                        "?" => Sampled::Requested,
                        _ => Sampled::Unknown,
                    }
                }
                "" => {}
                _ => parsed.others.push((key.to_owned(), value.to_owned())),
            }
        }
        parsed
    }

    /// The trace id (`1-58406520-a006649127e371903a2de979`), if well-formed.
    #[must_use]
    pub fn root(&self) -> Option<&str> {
        self.root.as_deref()
    }

    /// The id of the segment that called this function (Lambda's function segment), if
    /// well-formed.
    #[must_use]
    pub fn parent(&self) -> Option<&str> {
        self.parent.as_deref()
    }

    /// The sampling decision.
    #[must_use]
    pub fn sampled(&self) -> Sampled {
        self.sampled
    }

    /// The value of another key, such as `Lineage`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.others
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// Root and parent when this header asks for the invocation to be recorded: both
    /// well-formed and `Sampled=1`.
    #[must_use]
    pub fn recording(&self) -> Option<(&str, &str)> {
        match (&self.root, &self.parent, self.sampled) {
            (Some(root), Some(parent), Sampled::Yes) => Some((root, parent)),
            _ => None,
        }
    }
}

/// Root and parent of a header that asks for recording, found without allocating: the
/// per-invocation check, which unsampled invocations pay.
#[cfg(any(feature = "opentelemetry", test))]
pub(crate) fn recording_ids(header: &str) -> Option<(&str, &str)> {
    let (root, parent) = sampled_ids(header)?;
    let root = root.filter(|value| is_trace_id(value))?;
    let parent = parent.filter(|value| is_segment_id(value))?;
    Some((root, parent))
}

/// Root and parent of a header that says `Sampled=1`, as they are (unchecked, `None` when
/// missing); `None` when it does not say so. Inlined: every invocation's beginning reads it,
/// and a call would return the pair through memory.
#[inline(always)]
fn sampled_ids(header: &str) -> Option<(Option<&str>, Option<&str>)> {
    let (mut root, mut parent, mut sampled) = (None, None, false);
    // Lambda's own layout, `Root=<35>;Parent=<16>;Sampled=<1>`, read in place; what follows
    // it (`;Lineage=…`) is read as any header is, and may still override it.
    let mut rest = header;
    let bytes = header.as_bytes();
    if bytes.len() >= 74
        && bytes.get(74).is_none_or(|&byte| byte == b';')
        && bytes.starts_with(b"Root=")
        && bytes[40..48] == *b";Parent="
        && bytes[64..73] == *b";Sampled="
    {
        // Cut next to ASCII separators, on character boundaries.
        root = header.get(5..40);
        parent = header.get(48..64);
        sampled = bytes[73] == b'1';
        rest = header.get(74..).unwrap_or_default();
    }
    for (key, value) in key_values(rest) {
        match key.trim() {
            "Root" => root = Some(value.trim()),
            "Parent" => parent = Some(value.trim()),
            "Sampled" => sampled = value.trim() == "1",
            _ => {}
        }
    }
    // The ids are checked only when they will be used: the last of each key counts.
    sampled.then_some((root, parent))
}

/// A header that asks for recording (`Sampled=1`) whose `Root` or `Parent` is missing or
/// malformed: the trace it asks for cannot be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MalformedHeader;

/// A trace id read from a header that asks for recording, with the parent's id as the
/// lowercase digits a document writes: `recording_ids` for a recorded invocation's own use;
/// `Ok(None)` for a header that does not ask for recording (whose ids are not checked).
pub(crate) fn recording_trace(header: &str) -> Result<Option<(TraceId, Hex)>, MalformedHeader> {
    let Some((root, parent)) = sampled_ids(header) else {
        return Ok(None);
    };
    let ids = root
        .filter(|value| is_trace_id(value))
        // Checked and made lowercase at once.
        .and_then(|root| Some((TraceId::checked(root)?, segment_id(parent?)?)));
    ids.map(Some).ok_or(MalformedHeader)
}

/// A well-formed trace id (`1-5759e988-bd862e3fe1be46a994272793`), checked when read from
/// its header: `1-`, 8 hex digits, `-`, 24 hex digits, nothing JSON would escape.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceId([u8; TRACE_ID_LENGTH]);

const TRACE_ID_LENGTH: usize = 35;

impl TraceId {
    /// `root`, which [`is_trace_id`] accepted.
    fn checked(root: &str) -> Option<Self> {
        debug_assert!(is_trace_id(root), "{root:?}");
        root.as_bytes().try_into().ok().map(Self)
    }

    /// Reads a trace id; `None` unless it is well-formed.
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if is_trace_id(text) {
            Self::checked(text)
        } else {
            None
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII was accepted.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id between double quotes: its JSON string (nothing in it needs an escape).
    pub(crate) fn quoted(&self) -> [u8; TRACE_ID_LENGTH + 2] {
        let mut quoted = [b'"'; TRACE_ID_LENGTH + 2];
        quoted[1..=TRACE_ID_LENGTH].copy_from_slice(&self.0);
        quoted
    }
}

impl std::fmt::Debug for TraceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The `key=value` parts of a header, split at `;` and the first `=` (parts without `=` are
/// skipped), by bytes: the separators are ASCII.
fn key_values(header: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = header;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = rest.bytes().position(|byte| byte == b';');
            let part = &rest[..end.unwrap_or(rest.len())];
            rest = end.map_or("", |end| &rest[end + 1..]);
            if let Some(equals) = part.bytes().position(|byte| byte == b'=') {
                return Some((&part[..equals], &part[equals + 1..]));
            }
        }
    })
}

/// The `Root` trace id of a header, sampled or not, found without allocating: what log lines
/// carry as `xray_trace_id`. `None` when it is missing or malformed.
#[cfg(any(feature = "tracing", test))]
pub(crate) fn root_id(header: &str) -> Option<&str> {
    let mut root = None;
    for part in header.split(';') {
        if let Some((key, value)) = part.split_once('=') {
            if key.trim() == "Root" {
                root = Some(value.trim()).filter(|value| is_trace_id(value));
            }
        }
    }
    root
}

/// `1-` + 8 hex + `-` + 24 hex. The 32 digits are checked as four words ([`not_hex_flags`])
/// and one test of what they flag together.
fn is_trace_id(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 35 || !bytes.starts_with(b"1-") || bytes[10] != b'-' {
        return false;
    }
    [2, 11, 19, 27].into_iter().fold(0, |flags, at| {
        flags | unordered_word_at(bytes, at).map_or(HIGHS, not_hex_flags)
    }) == 0
}

/// 16 hex digits.
pub(crate) fn is_segment_id(value: &str) -> bool {
    value.len() == 16 && all_hex(value.as_bytes())
}

/// 16 hex digits (either case) as the lowercase ones X-Ray writes; `None` for anything else.
fn segment_id(digits: &str) -> Option<Hex> {
    let bytes = digits.as_bytes();
    if bytes.len() != 16 {
        return None;
    }
    let (high, low) = (unordered_word_at(bytes, 0)?, unordered_word_at(bytes, 8)?);
    if not_hex_flags(high) | not_hex_flags(low) != 0 {
        return None;
    }
    // A hex digit with bit 0x20 set is a lowercase one: decimal digits have it already.
    let mut lowercase = [0; 16];
    lowercase[..8].copy_from_slice(&(high | (ONES * 0x20)).to_ne_bytes());
    lowercase[8..].copy_from_slice(&(low | (ONES * 0x20)).to_ne_bytes());
    Some(Hex::from_lowercase_digits(lowercase))
}

/// Whether every byte is a hex digit (either case), checked without branching on each.
fn all_hex(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(0, |flags, &byte| flags | HEX_VALUES[usize::from(byte)])
        & NOT_HEX
        == 0
}

/// The eight bytes of `bytes` from `at`, as one word in the machine's byte order: for a check
/// of each byte alike ([`not_hex_flags`]), which needs no order.
fn unordered_word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let eight = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_ne_bytes(eight.try_into().ok()?))
}

/// A word with 1 in each of its eight bytes: [`not_hex_flags`] checks eight digits at once, a
/// byte each.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte.
const HIGHS: u64 = ONES * 0x80;

/// In each byte of `word` (ASCII: below `0x80`), its high bit set where it is at least
/// `floor` (at most `0x80`): the sum stays within the byte, so bytes do not carry into each
/// other.
const fn at_least(word: u64, floor: u8) -> u64 {
    word.wrapping_add(ONES * (0x80 - floor as u64)) & HIGHS
}

/// In each byte of `word` (eight bytes read as one), its high bit set where it is a decimal
/// digit, and where it is a hex letter (either case): `(digits, letters)`. Meaningful only
/// when no byte of `word` has its high bit set (a byte beyond ASCII may carry into the next).
fn hex_digit_flags(word: u64) -> (u64, u64) {
    // Upper-case letters made lower-case; no other byte becomes a hex letter.
    let lowered = word | (ONES * 0x20);
    let digits = at_least(word, b'0') & !at_least(word, b'9' + 1);
    let letters = at_least(lowered, b'a') & !at_least(lowered, b'f' + 1);
    (digits, letters)
}

/// In each byte of `word`, its high bit set where it is no hex digit, or beyond ASCII (when
/// one is, some bit is set, whatever the others): 0 when all eight are hex digits.
fn not_hex_flags(word: u64) -> u64 {
    let (digits, letters) = hex_digit_flags(word);
    (word | !(digits | letters)) & HIGHS
}

/// The flag [`HEX_VALUES`] sets for a byte that is no hex digit.
const NOT_HEX: u8 = 0x10;

/// The value of each hex digit (`0`-`9`, `a`-`f`, `A`-`F`), [`NOT_HEX`] for other bytes.
const HEX_VALUES: [u8; 256] = {
    let mut values = [NOT_HEX; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        values[byte] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => NOT_HEX,
        };
        byte += 1;
    }
    values
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn parses_the_lambda_header() {
        let header = TraceHeader::parse(HEADER);
        assert_eq!(header.root(), Some("1-5759e988-bd862e3fe1be46a994272793"));
        assert_eq!(header.parent(), Some("53995c3f42cd8ad8"));
        assert_eq!(header.sampled(), Sampled::Yes);
        assert!(header.recording().is_some());
    }

    #[test]
    fn the_last_of_a_repeated_key_counts_in_both_parsers() {
        let input = format!("{HEADER};Root=bad");
        assert_eq!(TraceHeader::parse(&input).recording(), None);
        assert_eq!(recording_ids(&input), None);
    }

    #[test]
    fn the_root_id_is_found_sampled_or_not() {
        assert_eq!(root_id(HEADER), Some("1-5759e988-bd862e3fe1be46a994272793"));
        let pass_through = "Root=1-5759e988-bd862e3fe1be46a994272793";
        assert_eq!(
            root_id(pass_through),
            TraceHeader::parse(pass_through).root()
        );
        assert_eq!(root_id("Parent=53995c3f42cd8ad8;Sampled=1"), None);
        assert_eq!(root_id(&format!("{HEADER};Root=bad")), None);
    }

    #[test]
    fn keeps_unknown_keys_opaque() {
        let header = TraceHeader::parse(&format!(
            "{HEADER};Lineage=a87bd80c:1|68fd508a:5|c512fbe3:2;Self=1-67891234-abcdef012345678912345678"
        ));
        assert_eq!(
            header.get("Lineage"),
            Some("a87bd80c:1|68fd508a:5|c512fbe3:2")
        );
        assert_eq!(
            header.get("Self"),
            Some("1-67891234-abcdef012345678912345678")
        );
        assert!(header.recording().is_some());
    }

    #[test]
    fn only_sampled_complete_headers_record() {
        for header in [
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            // X-Ray's PassThrough mode: Root alone, neither Parent nor Sampled.
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "garbage",
            "",
        ] {
            assert_eq!(TraceHeader::parse(header).recording(), None, "{header}");
        }
    }

    #[test]
    fn hex_values_are_those_of_hex_digits() {
        for byte in 0..=u8::MAX {
            let text = [byte];
            let expected = std::str::from_utf8(&text)
                .ok()
                .and_then(|digit| u8::from_str_radix(digit, 16).ok())
                .unwrap_or(NOT_HEX);
            assert_eq!(HEX_VALUES[usize::from(byte)], expected, "{byte}");
            assert_eq!(all_hex(&text), byte.is_ascii_hexdigit());
        }
    }

    /// Each byte of a segment id is checked, and either case of a letter is kept lowercase.
    #[test]
    fn eight_digits_at_once_are_checked_a_byte_each() {
        let digits = *b"09afAF5c1BdE7e3D";
        for at in 0..16 {
            for byte in 0..=u8::MAX {
                let mut text = digits;
                text[at] = byte;
                let flags =
                    not_hex_flags(u64::from_ne_bytes(text[at & 8..][..8].try_into().unwrap()));
                assert_eq!(flags == 0, byte.is_ascii_hexdigit(), "{text:?}");
                let Ok(text) = std::str::from_utf8(&text) else {
                    continue;
                };
                let expected = (text.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u64::from_str_radix(text, 16).unwrap());
                let id = segment_id(text);
                assert_eq!(id.map(Hex::value), expected, "{text:?}");
                assert_eq!(
                    id.map(|id| id.as_str().to_owned()),
                    expected.map(|_| text.to_ascii_lowercase()),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn each_character_of_a_trace_id_is_checked() {
        let id = "1-5759e988-bd862e3fe1be46a994272793";
        for at in 0..id.len() {
            for character in (0..=0x7f_u8).map(char::from).chain(['é', '€']) {
                // In place of as many bytes as it takes: the length stays that of an id.
                let end = at + character.len_utf8();
                if end > id.len() {
                    continue;
                }
                let mut text = id.to_owned();
                text.replace_range(at..end, character.encode_utf8(&mut [0; 4]));
                let expected = match at {
                    0 => character == '1',
                    1 | 10 => character == '-',
                    _ => character.is_ascii_hexdigit(),
                };
                assert_eq!(is_trace_id(&text), expected, "{text:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn trace_ids_are_those_of_the_pattern(text in "1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}|[0-9a-fA-Fg-z1 -]{33,36}|.{0,36}") {
            let bytes = text.as_bytes();
            let expected = bytes.len() == 35
                && bytes.starts_with(b"1-")
                && bytes[10] == b'-'
                && bytes[2..10].iter().chain(&bytes[11..]).all(u8::is_ascii_hexdigit);
            prop_assert_eq!(is_trace_id(&text), expected);
        }

        #[test]
        fn segment_ids_parse_as_from_str_radix_reads_16_hex_digits(text in "[0-9a-fA-F]{16}|[0-9a-fA-Fxz+ -]{0,18}|.{0,17}") {
            let expected = (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u64::from_str_radix(&text, 16).unwrap());
            prop_assert_eq!(segment_id(&text).map(Hex::value), expected);
            prop_assert_eq!(segment_id(&text).map(|id| id.as_str().to_owned()), expected.map(|value| format!("{value:016x}")));
            prop_assert_eq!(is_segment_id(&text), expected.is_some());
        }

        #[test]
        fn any_input_parses_without_panicking(input in ".*") {
            let header = TraceHeader::parse(&input);
            if let Some((root, parent)) = header.recording() {
                prop_assert!(is_trace_id(root));
                prop_assert!(is_segment_id(parent));
            }
            prop_assert_eq!(recording_ids(&input), header.recording());
            prop_assert_eq!(root_id(&input), header.root());
        }

        #[test]
        fn header_shaped_input_parses_without_panicking(
            parts in proptest::collection::vec("(Root|Parent|Sampled|Lineage|[A-Za-z]{0,4})=?[0-9a-f;=:|-]{0,40}", 0..6)
        ) {
            let input = parts.join(";");
            let header = TraceHeader::parse(&input);
            prop_assert_eq!(recording_ids(&input), header.recording());
            prop_assert_eq!(root_id(&input), header.root());
        }

        #[test]
        fn lambdas_layout_read_in_place_as_any_header_is_read(
            root in "1-[0-9a-f]{8}-[0-9a-f]{24}|[0-9a-f -]{35}|1-[0-9a-f]{8}-[0-9a-f]{23}",
            parent in "[0-9a-f]{16}|[0-9a-fz ]{16}",
            sampled in "[01? ]",
            tail in "(;(Root|Parent|Sampled|Lineage)=[0-9a-f:;=-]{0,40})?|[x=]{0,3}",
        ) {
            let input = format!("Root={root};Parent={parent};Sampled={sampled}{tail}");
            let header = TraceHeader::parse(&input);
            prop_assert_eq!(recording_ids(&input), header.recording());
        }

        #[test]
        fn recording_trace_is_recording_ids_typed(input in "Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-fA-F]{16};Sampled=[01]|.*") {
            let typed = recording_trace(&input).ok().flatten();
            let plain = recording_ids(&input);
            prop_assert_eq!(typed.is_some(), plain.is_some());
            // Malformed exactly when the header asks for recording and its ids cannot be.
            prop_assert_eq!(
                recording_trace(&input).is_err(),
                sampled_ids(&input).is_some() && plain.is_none()
            );
            if let (Some((root, parent)), Some((plain_root, plain_parent))) = (typed, plain) {
                prop_assert_eq!(root.as_str(), plain_root);
                prop_assert_eq!(parent.as_str(), plain_parent.to_ascii_lowercase());
                prop_assert_eq!(Some(parent.value()), u64::from_str_radix(plain_parent, 16).ok());
                prop_assert_eq!(root.quoted().to_vec(), serde_json::to_vec(plain_root).unwrap());
                prop_assert_eq!(TraceId::parse(plain_root), Some(root));
            }
        }

        #[test]
        fn well_formed_headers_round_trip(
            epoch in "[0-9a-f]{8}", random in "[0-9a-f]{24}", parent in "[0-9a-f]{16}"
        ) {
            let root = format!("1-{epoch}-{random}");
            let header = TraceHeader::parse(&format!("Root={root};Parent={parent};Sampled=1"));
            prop_assert_eq!(header.recording(), Some((root.as_str(), parent.as_str())));
        }
    }
}
