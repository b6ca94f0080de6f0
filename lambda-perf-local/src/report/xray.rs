//! Reads X-Ray documents as the daemon would forward them: checks the required fields and
//! flattens embedded `subsegments` into [`Doc`]s that point at their parent by id.

use serde_json::{Map, Value};

use super::facts::Facts;
use super::problem::quote;

/// Longest segment or subsegment name X-Ray accepts (characters).
const MAX_NAME: usize = 200;
/// The latest `start_time` or `end_time` read (epoch seconds, in 2286): times are epoch
/// seconds, and one far beyond, drawn relative to the handler's start, would overflow to an
/// infinite number of milliseconds (which JSON cannot hold).
const MAX_EPOCH_SECONDS: f64 = 1e10;

/// One subsegment read from a datagram (possibly embedded in another document).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doc {
    /// The datagram it came from (0-based).
    pub(crate) datagram: usize,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) trace_id: String,
    pub(crate) parent_id: Option<String>,
    /// Epoch seconds.
    pub(crate) start: f64,
    /// Epoch seconds; `None` while in progress.
    pub(crate) end: Option<f64>,
    pub(crate) namespace: Option<String>,
    pub(crate) fault: bool,
    pub(crate) error: bool,
    pub(crate) throttle: bool,
    pub(crate) cause: Option<String>,
    pub(crate) annotations: Map<String, Value>,
    /// `metadata.lambda_perf`, on handler subsegments.
    pub(crate) facts: Option<Facts>,
}

/// What one datagram's document held: the subsegments that could be read, and what is
/// wrong with the others (`(where, reasons)`, `where` empty for the document itself).
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub(crate) docs: Vec<Doc>,
    pub(crate) invalid: Vec<(String, Vec<String>)>,
}

/// Reads the document of datagram `datagram`.
pub(crate) fn read(document: &Value, datagram: usize) -> Read {
    let mut read = Read::default();
    let Some(object) = document.as_object() else {
        read.invalid
            .push((String::new(), vec!["not a JSON object".to_owned()]));
        return read;
    };
    let mut reasons = Vec::new();
    let trace_id = match object.get("trace_id") {
        Some(Value::String(id)) if is_trace_id(id) => Some(id.clone()),
        Some(other) => {
            reasons.push(format!(
                "trace_id is not 1-<8 hex>-<24 hex>: {other}",
                other = quote(other)
            ));
            None
        }
        None => {
            reasons.push("trace_id is missing".to_owned());
            None
        }
    };
    let is_subsegment = object.get("type").and_then(Value::as_str) == Some("subsegment");
    let parent_id = match object.get("parent_id") {
        Some(Value::String(id)) if is_hex_id(id) => Some(id.clone()),
        Some(other) => {
            reasons.push(format!(
                "parent_id is not 16 hex digits: {other}",
                other = quote(other)
            ));
            None
        }
        None if is_subsegment => {
            reasons.push("parent_id is missing (required for a subsegment)".to_owned());
            None
        }
        None => None,
    };
    let common = check_common(object, &mut reasons);
    match (trace_id, common) {
        (Some(trace_id), Some(common)) if reasons.is_empty() => {
            let facts = object
                .get("metadata")
                .and_then(|m| m.get("lambda_perf"))
                .and_then(Facts::from_value);
            let doc = common.into_doc(datagram, trace_id, parent_id, facts);
            embedded(object, &doc, "", &mut read);
            read.docs.insert(0, doc);
        }
        _ => read.invalid.push((String::new(), reasons)),
    }
    read
}

/// Reads the `subsegments` embedded in `object` (whose doc is `parent`), recursively.
fn embedded(object: &Map<String, Value>, parent: &Doc, path: &str, read: &mut Read) {
    let Some(children) = object.get("subsegments") else {
        return;
    };
    let Some(children) = children.as_array() else {
        read.invalid.push((
            format!("{path}subsegments"),
            vec!["not an array".to_owned()],
        ));
        return;
    };
    for (i, child) in children.iter().enumerate() {
        let at = format!("{path}subsegments[{i}]");
        let Some(child) = child.as_object() else {
            read.invalid
                .push((at, vec!["not a JSON object".to_owned()]));
            continue;
        };
        let mut reasons = Vec::new();
        match check_common(child, &mut reasons) {
            Some(common) if reasons.is_empty() => {
                let doc = common.into_doc(
                    parent.datagram,
                    parent.trace_id.clone(),
                    Some(parent.id.clone()),
                    None,
                );
                embedded(child, &doc, &format!("{at}."), read);
                read.docs.push(doc);
            }
            _ => read.invalid.push((at, reasons)),
        }
    }
}

/// The fields every segment and subsegment has.
struct Common {
    id: String,
    name: String,
    start: f64,
    end: Option<f64>,
    namespace: Option<String>,
    fault: bool,
    error: bool,
    throttle: bool,
    cause: Option<String>,
    annotations: Map<String, Value>,
}

impl Common {
    fn into_doc(
        self,
        datagram: usize,
        trace_id: String,
        parent_id: Option<String>,
        facts: Option<Facts>,
    ) -> Doc {
        Doc {
            datagram,
            id: self.id,
            name: self.name,
            trace_id,
            parent_id,
            start: self.start,
            end: self.end,
            namespace: self.namespace,
            fault: self.fault,
            error: self.error,
            throttle: self.throttle,
            cause: self.cause,
            annotations: self.annotations,
            facts,
        }
    }
}

fn check_common(object: &Map<String, Value>, reasons: &mut Vec<String>) -> Option<Common> {
    let name = match object.get("name") {
        Some(Value::String(name)) if (1..=MAX_NAME).contains(&name.chars().count()) => {
            Some(name.clone())
        }
        Some(other) => {
            reasons.push(format!(
                "name is not a string of 1 to {MAX_NAME} characters: {other}",
                other = quote(other)
            ));
            None
        }
        None => {
            reasons.push("name is missing".to_owned());
            None
        }
    };
    let id = match object.get("id") {
        Some(Value::String(id)) if is_hex_id(id) => Some(id.clone()),
        Some(other) => {
            reasons.push(format!(
                "id is not 16 hex digits: {other}",
                other = quote(other)
            ));
            None
        }
        None => {
            reasons.push("id is missing".to_owned());
            None
        }
    };
    let start = match object.get("start_time") {
        Some(Value::Number(n)) => epoch_seconds("start_time", n, reasons),
        Some(other) => {
            reasons.push(format!(
                "start_time is not a number: {other}",
                other = quote(other)
            ));
            None
        }
        None => {
            reasons.push("start_time is missing".to_owned());
            None
        }
    };
    let in_progress = object.get("in_progress").and_then(Value::as_bool) == Some(true);
    let end = match object.get("end_time") {
        Some(Value::Number(n)) => epoch_seconds("end_time", n, reasons),
        Some(other) => {
            reasons.push(format!(
                "end_time is not a number: {other}",
                other = quote(other)
            ));
            None
        }
        None if in_progress => None,
        None => {
            reasons.push("end_time is missing (and in_progress is not true)".to_owned());
            None
        }
    };
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            reasons.push(format!("end_time {end} is before start_time {start}"));
        }
    }
    let annotations = match object.get("annotations") {
        None => Map::new(),
        Some(Value::Object(annotations)) => {
            check_annotations(annotations, reasons);
            annotations.clone()
        }
        Some(_) => {
            reasons.push("annotations is not an object".to_owned());
            Map::new()
        }
    };
    let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
    Some(Common {
        id: id?,
        name: name?,
        start: start?,
        end,
        namespace: object
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned),
        fault: flag("fault"),
        error: flag("error"),
        throttle: flag("throttle"),
        cause: object.get("cause").and_then(cause_text),
        annotations,
    })
}

/// The time `field` holds, if it is epoch seconds (0 to [`MAX_EPOCH_SECONDS`]); else why not
/// is added to `reasons`.
fn epoch_seconds(field: &str, n: &serde_json::Number, reasons: &mut Vec<String>) -> Option<f64> {
    let seconds = n.as_f64().filter(|s| (0.0..=MAX_EPOCH_SECONDS).contains(s));
    if seconds.is_none() {
        reasons.push(format!(
            "{field} is not epoch seconds (0 to {MAX_EPOCH_SECONDS:e}): {n}"
        ));
    }
    seconds
}

fn check_annotations(annotations: &Map<String, Value>, reasons: &mut Vec<String>) {
    for (key, value) in annotations {
        let quoted = quote(format!("{key:?}"));
        let key_ok = (1..=500).contains(&key.len())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !key_ok {
            reasons.push(format!(
                "annotation key {quoted} is not [A-Za-z0-9_]{{1,500}}"
            ));
        }
        if !(value.is_string() || value.is_number() || value.is_boolean()) {
            reasons.push(format!(
                "annotation {quoted} is not a string, number or boolean"
            ));
        }
    }
}

/// The first exception of a `cause`, as `type: message`.
fn cause_text(cause: &Value) -> Option<String> {
    match cause {
        Value::String(id) => Some(format!("exception {id}")),
        Value::Object(object) => {
            let first = object.get("exceptions")?.as_array()?.first()?;
            let kind = first.get("type").and_then(Value::as_str);
            let message = first.get("message").and_then(Value::as_str);
            match (kind, message) {
                (Some(kind), Some(message)) => Some(format!("{kind}: {message}")),
                (Some(text), None) | (None, Some(text)) => Some(text.to_owned()),
                (None, None) => Some("exception".to_owned()),
            }
        }
        _ => None,
    }
}

/// Whether `id` is 16 hex digits.
fn is_hex_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `id` is a trace id: `1-<8 hex>-<24 hex>`.
fn is_trace_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    parts.len() == 3 && parts[0] == "1" && hex(parts[1], 8) && hex(parts[2], 24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type Mutation = Box<dyn Fn(&mut Map<String, Value>)>;

    const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn handler() -> Value {
        json!({
            "name": "## orders-fn", "id": "aaaaaaaaaaaaaaaa", "trace_id": TRACE,
            "parent_id": "53995c3f42cd8ad8", "type": "subsegment",
            "start_time": 100.0, "end_time": 100.5,
            "annotations": {"ColdStart": true, "StartKind": "cold"},
            "metadata": {"lambda_perf": {"start_kind": "cold", "invocation": 1}},
            "subsegments": [{"name": "inner", "id": "bbbbbbbbbbbbbbbb", "start_time": 100.1,
                             "end_time": 100.2, "fault": true,
                             "cause": {"exceptions": [{"id": "cccccccccccccccc", "type": "Error", "message": "boom"}]}}]
        })
    }

    #[test]
    fn reads_a_document_and_its_embedded_subsegments() {
        let got = read(&handler(), 3);
        assert!(got.invalid.is_empty(), "{:?}", got.invalid);
        assert_eq!(got.docs.len(), 2);
        let (outer, inner) = (&got.docs[0], &got.docs[1]);
        assert_eq!(outer.datagram, 3);
        assert_eq!(outer.facts.as_ref().and_then(|f| f.invocation), Some(1));
        assert_eq!(inner.parent_id.as_deref(), Some("aaaaaaaaaaaaaaaa"));
        assert_eq!(inner.trace_id, TRACE);
        assert!(inner.fault);
        assert_eq!(inner.cause.as_deref(), Some("Error: boom"));
    }

    #[test]
    fn reports_missing_and_malformed_fields() {
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|d| drop(d.remove("name"))), "name is missing"),
            (
                Box::new(|d| drop(d.insert("id".into(), json!("xyz")))),
                "id is not 16 hex",
            ),
            (Box::new(|d| drop(d.remove("id"))), "id is missing"),
            (
                Box::new(|d| drop(d.remove("trace_id"))),
                "trace_id is missing",
            ),
            (
                Box::new(|d| drop(d.insert("trace_id".into(), json!("1-2-3")))),
                "trace_id is not",
            ),
            (
                Box::new(|d| drop(d.remove("start_time"))),
                "start_time is missing",
            ),
            (
                Box::new(|d| drop(d.remove("end_time"))),
                "end_time is missing",
            ),
            (
                Box::new(|d| drop(d.insert("end_time".into(), json!(99.0)))),
                "before start_time",
            ),
            (
                Box::new(|d| drop(d.remove("parent_id"))),
                "parent_id is missing",
            ),
            (
                Box::new(|d| drop(d.insert("annotations".into(), json!({"bad key": 1})))),
                "annotation key",
            ),
        ];
        for (mutate, expected) in cases {
            let mut document = handler();
            mutate(document.as_object_mut().expect("object"));
            let got = read(&document, 0);
            assert!(got.docs.is_empty(), "{expected}");
            let reasons = &got.invalid[0].1;
            assert!(
                reasons.iter().any(|r| r.contains(expected)),
                "expected {expected:?}, got {reasons:?}"
            );
        }
        let mut in_progress = handler();
        in_progress.as_object_mut().map(|d| d.remove("end_time"));
        in_progress["in_progress"] = json!(true);
        let got = read(&in_progress, 0);
        assert_eq!(got.docs[0].end, None);

        let mut bad_child = handler();
        bad_child["subsegments"][0]
            .as_object_mut()
            .map(|d| d.remove("start_time"));
        let got = read(&bad_child, 0);
        assert_eq!(got.docs.len(), 1);
        assert_eq!(got.invalid[0].0, "subsegments[0]");
    }
}
