//! Captured values kept to a size: a response or error recorded as trace metadata, and the
//! values of a log line too long for Lambda's log capture (`formats::log::line_cap`), which
//! are replaced by the same marker.

use serde_json::{Value, json};

use super::xray::metadata_value::MetadataValue;

/// `value`, or a marker with its size and a preview when its JSON exceeds `limit` bytes.
/// Measured by writing it into a buffer, with the serializer the other captures use (no
/// serializer of its own, nor `Display`'s, is compiled for this rare path).
pub(crate) fn capped(value: Value, limit: usize) -> Value {
    match serde_json::to_vec(&value) {
        Ok(json) if json.len() > limit => truncation_marker(&String::from_utf8_lossy(&json), limit),
        _ => value,
    }
}

/// `json` (JSON text), or the marker [`capped`] makes when it exceeds `limit` bytes.
pub(crate) fn capped_json(json: Vec<u8>, limit: usize) -> MetadataValue {
    if json.len() <= limit {
        return MetadataValue::Written(json);
    }
    MetadataValue::Value(truncation_marker(&String::from_utf8_lossy(&json), limit))
}

/// The marker that stands for `text` (JSON text): its size and its first `limit` bytes
/// (whole characters). Serialized, the preview may take more than `limit` bytes: the
/// characters JSON escapes in it (`"`, `\`) grow.
pub(crate) fn truncation_marker(text: &str, limit: usize) -> Value {
    json!({
        "lambda_perf_truncated": {
            "size_bytes": text.len(),
            "preview": preview(text, limit),
        }
    })
}

/// The first `limit` bytes of `text`, or fewer: a character is never cut.
pub(crate) fn preview(text: &str, limit: usize) -> &str {
    let cut = (0..=limit.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_values_are_truncated_with_a_marker() {
        let small = json!({ "ok": true });
        assert_eq!(capped(small.clone(), 100), small);
        let large = json!({ "blob": "é".repeat(100) });
        let capped = capped(large, 50);
        let marker = &capped["lambda_perf_truncated"];
        assert_eq!(marker["size_bytes"], 211);
        let preview = marker["preview"].as_str().unwrap();
        assert!(preview.len() <= 50 && preview.starts_with("{\"blob\":\"é"));
    }

    /// Written JSON is capped as the value it was written from.
    #[test]
    fn written_json_is_capped_as_its_value() {
        for (value, limit) in [
            (json!({ "ok": true }), 100),
            (json!({ "ok": true }), 11),
            (json!({ "ok": true }), 10),
            (json!({ "blob": "é".repeat(100) }), 50),
        ] {
            let json = serde_json::to_vec(&value).unwrap();
            let expected = capped(value, limit);
            let written = capped_json(json, limit);
            assert_eq!(*written.to_value(), expected, "limit {limit}");
            assert_eq!(
                matches!(written, MetadataValue::Written(_)),
                expected.get("lambda_perf_truncated").is_none()
            );
        }
    }
}
