//! A subsegment document written out: as JSON, and as the daemon's datagram that fits.
//!
//! At full detail, what every sampled invocation sends, it is written by hand: the fixed
//! members are byte strings, ids, times and annotations are formatted in place, and
//! lambda-perf's facts are copied as they were written. The user's own objects (metadata
//! values, `http`, `aws`, a cause) go through their `Serialize`. The result equals the serde
//! view's byte for byte (the tests hold both side by side); reduced details, for documents
//! that do not fit a datagram, are the serde view's.

use std::time::Instant;

use super::annotation::AnnotationValue;
use super::document::{
    CauseView, DAEMON_HEADER, Detail, FACTS_NAMESPACE, MAX_DATAGRAM, Metadata, Record,
    SubsegmentDocument, View, epoch_micros, round_micros,
};
use super::id::Hex;
use crate::formats::json::{
    push_bool, push_f64, push_i64, push_key, push_seconds, push_serialized, push_str,
};

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
    /// then annotations and the facts — until the datagram fits 64 000 bytes. Returns the level
    /// of detail that fit.
    pub(crate) fn write_datagram(&self, out: &mut Vec<u8>) -> Detail {
        let start = out.len();
        for detail in [
            Detail::Full,
            Detail::WithoutMetadata,
            Detail::Shortened,
            Detail::Skeleton,
        ] {
            out.truncate(start);
            out.extend_from_slice(DAEMON_HEADER);
            let written = if detail == Detail::Full {
                write_full(*self, out)
            } else {
                let view = View {
                    document: *self,
                    detail,
                };
                serde_json::to_writer(&mut *out, &view)
            };
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
    let end = record.end.unwrap_or_else(Instant::now);
    let duration = end.saturating_duration_since(record.start);
    out.extend_from_slice(b"{\"name\":");
    push_str(out, &record.name);
    out.extend_from_slice(b",\"id\":");
    push_id(out, record.id);
    out.extend_from_slice(b",\"trace_id\":");
    push_str(out, document.trace_id);
    out.extend_from_slice(b",\"parent_id\":");
    push_id(out, record.parent_id);
    out.extend_from_slice(b",\"type\":\"subsegment\",\"start_time\":");
    push_seconds(out, epoch_micros(record.start_wall));
    out.extend_from_slice(b",\"end_time\":");
    push_seconds(
        out,
        epoch_micros(record.start_wall + round_micros(duration)),
    );
    if let Some(namespace) = record.namespace {
        out.extend_from_slice(b",\"namespace\":");
        push_str(out, namespace.as_str());
    }
    for (key, flag) in [
        ("fault", record.fault),
        ("error", record.error),
        ("throttle", record.throttle),
    ] {
        if flag {
            out.push(b',');
            push_key(out, key);
            push_bool(out, true);
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
    if !record.annotations.is_empty() {
        out.extend_from_slice(b",\"annotations\":{");
        for (index, (key, value)) in record.annotations.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            push_key(out, key);
            push_annotation(out, value);
        }
        out.push(b'}');
    }
    if !record.metadata.is_empty() || !record.facts.is_empty() {
        out.extend_from_slice(b",\"metadata\":");
        write_metadata(record, out)?;
    }
    out.push(b'}');
    Ok(())
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
        push_key(out, FACTS_NAMESPACE);
        // Written by `Record::set_facts`: one JSON object.
        out.extend_from_slice(&record.facts);
        first = false;
    }
    for (index, (namespace, _, _)) in entries.iter().enumerate() {
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
        push_key(out, namespace);
        out.push(b'{');
        let mut first_entry = true;
        for (_, key, value) in entries.iter().filter(|(ns, _, _)| ns == namespace) {
            if !first_entry {
                out.push(b',');
            }
            first_entry = false;
            push_key(out, key);
            push_serialized(out, value)?;
        }
        out.push(b'}');
    }
    out.push(b'}');
    Ok(())
}

fn push_id(out: &mut Vec<u8>, id: u64) {
    out.push(b'"');
    out.extend_from_slice(Hex::new(id).as_str().as_bytes());
    out.push(b'"');
}

fn push_annotation(out: &mut Vec<u8>, value: &AnnotationValue) {
    match value {
        AnnotationValue::String(text) => push_str(out, text),
        AnnotationValue::Integer(number) => push_i64(out, *number),
        AnnotationValue::Float(number) => push_f64(out, *number),
        AnnotationValue::Bool(flag) => push_bool(out, *flag),
    }
}
