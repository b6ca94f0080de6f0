//! A subsegment document written out: as JSON, and as the daemon's datagram that fits.
//!
//! At full detail, what every sampled invocation sends, it is written by hand: the fixed
//! members are byte strings, ids, times and annotations are formatted in place, and
//! lambda-perf's facts are copied as they were written. What a trace keeps written from one
//! invocation to the next (the handler's name, its annotations while they stay the same) is
//! copied as it is, and the trace id, checked when read, needs no escaping. The user's own
//! objects (metadata values, `http`, `aws`, a cause) go through their `Serialize`. The result
//! equals the serde view's byte for byte (the tests hold both side by side); reduced details,
//! for documents that do not fit a datagram, are the serde view's.

use std::borrow::Cow;

use super::annotation::AnnotationValue;
use super::document::{
    BriefView, CauseView, DAEMON_HEADER, Detail, FACTS_NAMESPACE, MAX_DATAGRAM, Metadata, Record,
    SubsegmentDocument, View,
};
use super::header::TraceId;
use super::id::Hex;
use super::metadata_name::MetadataName;
use super::metadata_value::MetadataValue;
use crate::formats::json::{
    is_plain_text, push_bool, push_f64, push_i64, push_seconds, push_seconds_pair, push_serialized,
    push_str,
};

/// Bytes reserved for a document beyond its name and facts: the fixed members and
/// a few annotations.
const RESERVED: usize = 512;
/// The `lambda_perf` key of the metadata object.
const FACTS_KEY: &[u8] = b"\"lambda_perf\":";

impl SubsegmentDocument<'_> {
    /// The document as compact JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        if write_full(*self, &mut out).is_err() {
            return String::new();
        }
        // Only valid UTF-8 was written: strings, numbers and punctuation.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the daemon header and the document to `out`, shrinking the document — the
    /// user's metadata first (lambda-perf's own `lambda_perf` facts stay), then long strings,
    /// then the exceptions but the first nine and the latest (as the record keeps its own:
    /// the first ones and the latest), then `aws`, then annotations, `http` and the
    /// facts — until the datagram fits 64 000 bytes. A shrunk document says in its
    /// `lambda_perf` metadata, as `trimmed`, what it left out or cut of what the record held
    /// (e.g. `390 of 400 exceptions removed (…); aws removed: the document exceeded 64000
    /// bytes`), whether or not the record had metadata; at a level that this note alone would
    /// make too large, only `the document exceeded 64000 bytes`, rather than go down a level.
    /// Returns the level of detail that fit.
    pub(crate) fn write_datagram(&self, out: &mut Vec<u8>) -> Detail {
        let start = out.len();
        out.extend_from_slice(DAEMON_HEADER);
        if write_full(*self, out).is_ok() && out.len() - start <= MAX_DATAGRAM {
            return Detail::Full;
        }
        for detail in [
            Detail::WithoutMetadata,
            Detail::Shortened,
            Detail::FewerExceptions,
            Detail::WithoutAws,
            Detail::Skeleton,
        ] {
            out.truncate(start);
            out.extend_from_slice(DAEMON_HEADER);
            let view = View {
                document: *self,
                detail,
            };
            let written = serde_json::to_writer(&mut *out, &view);
            if written.is_ok() && out.len() - start <= MAX_DATAGRAM {
                return detail;
            }
            // The detailed note is up to a few hundred bytes: a document it alone makes too
            // large keeps this level, with the brief note, rather than lose more.
            out.truncate(start);
            out.extend_from_slice(DAEMON_HEADER);
            let written = serde_json::to_writer(&mut *out, &BriefView(view));
            if written.is_ok() && out.len() - start <= MAX_DATAGRAM {
                return detail;
            }
        }
        Detail::Skeleton
    }
}

/// Appends the document at full detail to `out`. An error comes only from a user object's
/// own `Serialize`; `out` then holds part of a document, for the caller to truncate.
pub(super) fn write_full(
    document: SubsegmentDocument<'_>,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let record = document.record;
    // Room for the members of a handler subsegment, so that nothing grows on the way.
    out.reserve(RESERVED + record.name.len() + record.facts.len());
    out.extend_from_slice(b"{\"name\":");
    match document.quoted_name {
        Some(quoted) => out.extend_from_slice(quoted),
        None => push_text(out, &record.name),
    }
    out.extend_from_slice(&ids(record.id, document.trace_id, record.parent_id));
    let (start_time, end_time) = record.epoch_micros();
    if document.in_progress {
        push_seconds(out, start_time);
        out.extend_from_slice(b",\"in_progress\":true");
    } else {
        push_seconds_pair(out, start_time, b",\"end_time\":", end_time);
    }
    if let Some(namespace) = record.namespace {
        out.extend_from_slice(b",\"namespace\":");
        push_str(out, namespace.as_str());
    }
    for (member, flag) in [
        (&b",\"fault\":true"[..], record.fault),
        (b",\"error\":true", record.error),
        (b",\"throttle\":true", record.throttle),
    ] {
        if flag {
            out.extend_from_slice(member);
        }
    }
    match &record.cause {
        Some(super::document::Cause::Exceptions(exceptions)) => {
            out.extend_from_slice(b",\"cause\":");
            push_serialized(
                out,
                &CauseView {
                    exceptions,
                    detail: Detail::Full,
                },
            )?;
        }
        Some(super::document::Cause::Reference(id)) => {
            out.extend_from_slice(b",\"cause\":");
            push_id(out, *id);
        }
        None => {}
    }
    if let Some(http) = &record.http {
        out.extend_from_slice(b",\"http\":");
        push_serialized(out, http)?;
    }
    if let Some(aws) = &record.aws {
        out.extend_from_slice(b",\"aws\":");
        push_serialized(out, aws)?;
    }
    match document.annotations_json {
        Some(json) => out.extend_from_slice(json),
        None => write_annotations(out, &record.annotations),
    }
    if !record.metadata.is_empty() || !record.facts.is_empty() {
        out.extend_from_slice(b",\"metadata\":");
        write_metadata(record, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// Appends the `annotations` member, a comma before it, when there are annotations.
pub(super) fn write_annotations(
    out: &mut Vec<u8>,
    annotations: &[(Cow<'static, str>, AnnotationValue)],
) {
    if annotations.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"annotations\":{");
    for (index, (key, value)) in annotations.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_text(out, key);
        out.push(b':');
        push_annotation(out, value);
    }
    out.push(b'}');
}

/// The `metadata` object: the facts under `lambda_perf` as they were written, then each
/// namespace in the order it first appears, its entries in theirs.
fn write_metadata(record: &Record, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let entries = &record.metadata;
    if entries
        .iter()
        .any(|(namespace, _, _)| namespace == FACTS_NAMESPACE)
    {
        // Facts and entries share a namespace: merged as the serde view merges them.
        return push_serialized(out, &Metadata(record));
    }
    out.push(b'{');
    let mut first = true;
    if !record.facts.is_empty() {
        out.extend_from_slice(FACTS_KEY);
        // Written by `Record::set_facts`: one JSON object.
        out.extend_from_slice(&record.facts);
        first = false;
    }
    for (index, (namespace, key, value)) in entries.iter().enumerate() {
        if entries[..index]
            .iter()
            .any(|(earlier, _, _)| earlier == namespace)
        {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        push_name(out, namespace);
        out.extend_from_slice(b":{");
        push_entry(out, key, value)?;
        // After its first entry: none before has this namespace.
        let namespaced = entries[index + 1..]
            .iter()
            .filter(|(ns, _, _)| ns == namespace);
        for (_, key, value) in namespaced {
            out.push(b',');
            push_entry(out, key, value)?;
        }
        out.push(b'}');
    }
    out.push(b'}');
    Ok(())
}

/// Appends one metadata entry, `"key":value`.
#[inline]
fn push_entry(
    out: &mut Vec<u8>,
    key: &MetadataName,
    value: &MetadataValue,
) -> serde_json::Result<()> {
    push_name(out, key);
    out.push(b':');
    value.write_json(out)
}

/// The members from `id` to the `start_time` key, all of fixed lengths, put together in place.
fn ids(id: u64, trace_id: &TraceId, parent_id: Hex) -> [u8; IDS_LENGTH] {
    let mut ids = [0; IDS_LENGTH];
    ids[..ID].copy_from_slice(ID_KEY);
    ids[ID..ID + QUOTED_ID].copy_from_slice(&Hex::new(id).quoted());
    ids[ID + QUOTED_ID..TRACE_ID].copy_from_slice(TRACE_ID_KEY);
    ids[TRACE_ID..TRACE_ID + QUOTED_TRACE_ID].copy_from_slice(&trace_id.quoted());
    ids[TRACE_ID + QUOTED_TRACE_ID..PARENT_ID].copy_from_slice(PARENT_ID_KEY);
    ids[PARENT_ID..TYPE].copy_from_slice(&parent_id.quoted());
    ids[TYPE..].copy_from_slice(TYPE_AND_START_KEY);
    ids
}

const ID_KEY: &[u8] = b",\"id\":";
const TRACE_ID_KEY: &[u8] = b",\"trace_id\":";
const PARENT_ID_KEY: &[u8] = b",\"parent_id\":";
const TYPE_AND_START_KEY: &[u8] = b",\"type\":\"subsegment\",\"start_time\":";
/// Lengths of an id and of a trace id, quoted.
const QUOTED_ID: usize = 18;
const QUOTED_TRACE_ID: usize = 37;
/// Where each part of [`ids`] begins.
const ID: usize = ID_KEY.len();
const TRACE_ID: usize = ID + QUOTED_ID + TRACE_ID_KEY.len();
const PARENT_ID: usize = TRACE_ID + QUOTED_TRACE_ID + PARENT_ID_KEY.len();
const TYPE: usize = PARENT_ID + QUOTED_ID;
/// `,"id":"…","trace_id":"…","parent_id":"…","type":"subsegment","start_time":`.
const IDS_LENGTH: usize = TYPE + TYPE_AND_START_KEY.len();

fn push_id(out: &mut Vec<u8>, id: u64) {
    out.extend_from_slice(&Hex::new(id).quoted());
}

/// Appends `text` as a JSON string: copied as it is when it is short and nothing in it needs
/// an escape (names, trace ids, keys and short values nearly always are), through the
/// escaper otherwise.
fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if bytes.len() <= SHORT_TEXT && is_plain_text(bytes) {
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        push_str(out, text);
    }
}

/// Appends a metadata name as a JSON string: a kept one's as it was written.
fn push_name(out: &mut Vec<u8>, name: &MetadataName) {
    match name {
        MetadataName::Plain { quoted, .. } => out.extend_from_slice(quoted.as_bytes()),
        MetadataName::Text(text) => push_text(out, text),
    }
}

/// Longest text [`push_text`] checks byte by byte; longer ones go to the escaper, which checks
/// several at a time.
const SHORT_TEXT: usize = 64;

fn push_annotation(out: &mut Vec<u8>, value: &AnnotationValue) {
    match value {
        AnnotationValue::String(text) => push_text(out, text),
        AnnotationValue::Integer(number) => push_i64(out, *number),
        AnnotationValue::Float(number) => push_f64(out, *number),
        AnnotationValue::Bool(flag) => push_bool(out, *flag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(write: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = b"prefix".to_vec();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn facts_key_is_the_facts_namespace_as_a_key() {
        assert_eq!(FACTS_KEY, format!("\"{FACTS_NAMESPACE}\":").as_bytes());
    }

    proptest! {
        #[test]
        fn short_texts_are_written_as_the_escaper_writes_them(text in ".{0,80}|[ -~]{0,80}|[ -~\\x00-\\x1f\"\\\\é]{0,80}") {
            prop_assert_eq!(
                written(|out| push_text(out, &text)),
                written(|out| push_str(out, &text))
            );
            prop_assert_eq!(
                written(|out| push_text(out, &text)),
                format!("prefix{}", serde_json::to_string(&text).unwrap())
            );
        }
    }
}
