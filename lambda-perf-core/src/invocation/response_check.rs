//! A captured response's text: checked to be JSON as it is written, or, while the response
//! waits to be posted, written as the runtime writes it and checked once the response is out.
//!
//! A hand-written `Serialize` can make `serde_json` put out what is not JSON (a map key without
//! its value, elements past a length of zero), and the text goes into documents as it is, so
//! it is checked. Without a runtime-level companion it is written through a formatter that
//! follows the grammar as it writes (`formats::checked_json`). Under `PerfRuntimeLayer`, whose
//! window defers the invocation's records until the response is posted, it is written as
//! `serde_json::to_vec` writes it for `lambda_runtime` instead: the same code, so that the
//! capture, which cannot wait (the value goes on to the runtime), runs code the runtime's own
//! serialization runs right after, rather than a copy of its own that the client waits for
//! too. That text is marked unchecked, and read back (without allocating) where the records
//! are written, after the POST.

use serde::Serialize;

use crate::drops;
use crate::formats::failure::NotSerialized;
use crate::formats::json_text::is_one_value;
use crate::warn::WarnOnce;

use super::deferral;
use super::panic;

/// Ends a text written unchecked: a byte no JSON text (nor UTF-8) holds, taken off before the
/// text is used.
const UNCHECKED: u8 = 0xff;

/// Appends `value`'s compact JSON to `out`, checked now or marked to be checked by
/// [`keep_if_json`]; or says why not (`out` may then hold part of it).
pub(crate) fn write_response_json<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), NotSerialized> {
    if !deferral::any_open() {
        return panic::write_json(value, out);
    }
    panic::write_compact_json(value, out)?;
    out.push(UNCHECKED);
    Ok(())
}

/// A response that could not be captured: one warning, and each one counted
/// (`capture.response_not_serializable`). The reason is worded for the warning only, so every
/// invocation after the first pays for the count alone.
pub(crate) fn not_captured(why: NotSerialized) {
    static NOT_CAPTURED: WarnOnce = WarnOnce::new();
    drops::count("capture.response_not_serializable");
    NOT_CAPTURED.warn(format_args!(
        "the handler's response could not be captured ({why}); \
         it is left out of the trace (counted in lambda_perf.dropped)"
    ));
}

/// The captured text in `response` with its mark taken off, when it was written unchecked and
/// is one JSON value; taken out (and handed to `give_back`, for its memory) when it is not, as
/// [`not_captured`] counts it. Called before the ending's records take the drops they report,
/// so that the invocation that dropped it reports it.
pub(crate) fn keep_if_json(response: &mut Option<Vec<u8>>, give_back: impl FnOnce(Vec<u8>)) {
    let Some(text) = response else {
        return;
    };
    if text.last() != Some(&UNCHECKED) {
        return;
    }
    text.pop();
    if is_one_value(text) {
        return;
    }
    if let Some(text) = response.take() {
        give_back(text);
    }
    not_captured(NotSerialized::NotJson);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchecked_text_is_kept_only_when_it_is_one_json_value() {
        for (text, kept) in [
            (&br#"{"a":[1,"b"]}"#[..], true),
            (b"1", true),
            (br#"{"a":}"#, false),
            (br#"{"a"}"#, false),
            (b"[]]", false),
            (b"", false),
        ] {
            let mut response = Some([text, &[UNCHECKED]].concat());
            let mut given_back = None;
            keep_if_json(&mut response, |buffer| given_back = Some(buffer));
            assert_eq!(response.as_deref(), kept.then_some(text), "{text:?}");
            assert_eq!(given_back.is_some(), !kept, "{text:?}");
        }
    }

    #[test]
    fn checked_text_and_no_text_are_left_as_they_are() {
        let mut checked = Some(br#"{"a":1}"#.to_vec());
        keep_if_json(&mut checked, |_| panic!("kept"));
        assert_eq!(checked.as_deref(), Some(&br#"{"a":1}"#[..]));
        let mut none = None;
        keep_if_json(&mut none, |_| panic!("nothing to give back"));
    }

    /// A map key without its value: `serde_json` writes `{"orphan"}`.
    struct KeyWithoutValue;

    impl Serialize for KeyWithoutValue {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(None)?;
            map.serialize_key("orphan")?;
            map.end()
        }
    }

    #[test]
    fn without_an_open_window_the_text_is_checked_as_it_is_written() {
        let mut out = Vec::new();
        assert!(matches!(
            write_response_json(&KeyWithoutValue, &mut out),
            Err(NotSerialized::NotJson)
        ));
        out.clear();
        write_response_json(&[1, 2], &mut out).unwrap();
        assert_eq!(out, b"[1,2]");
    }

    /// While a window is open the text is written as `serde_json::to_vec` writes it, whether
    /// it is JSON or not, and marked: [`keep_if_json`] checks it. A `Serialize` that fails is
    /// refused at once, as without a window.
    #[test]
    fn with_an_open_window_the_text_is_written_as_serde_json_writes_it_and_marked() {
        let window = deferral::Window::open("response-check-open-window");
        let mut out = Vec::new();
        write_response_json(&KeyWithoutValue, &mut out).unwrap();
        let written = serde_json::to_vec(&KeyWithoutValue).unwrap();
        assert_eq!(out, [&written[..], &[UNCHECKED]].concat());
        let mut response = Some(out);
        keep_if_json(&mut response, drop);
        assert!(response.is_none());
        let mut out = Vec::new();
        write_response_json(&[1, 2], &mut out).unwrap();
        assert_eq!(out, b"[1,2]\xff");
        let mut response = Some(out);
        keep_if_json(&mut response, |_| panic!("kept"));
        assert_eq!(response.as_deref(), Some(&b"[1,2]"[..]));
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        assert!(matches!(
            write_response_json(&Fails, &mut Vec::new()),
            Err(NotSerialized::Failed(_))
        ));
        window.close();
    }
}
