//! Checks a stdout line against the CloudWatch Embedded Metric Format specification, as
//! CloudWatch would before extracting metrics from it.

use serde_json::{Map, Value};

use super::problem::quote;

/// Most metrics one directive may define.
pub(crate) const MAX_METRICS: usize = 100;
/// Most values one metric may carry in one line.
pub(crate) const MAX_VALUES: usize = 100;
/// Most dimensions one dimension set may reference.
pub(crate) const MAX_DIMENSIONS: usize = 30;
/// Longest namespace and metric name (characters).
const MAX_NAME: usize = 1024;
/// Longest dimension name (characters).
const MAX_DIMENSION_NAME: usize = 250;
/// How many reasons one line reports at most.
const MAX_REASONS: usize = 8;

/// The units CloudWatch accepts.
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Whether a stdout line claims to be EMF: it mentions the `"_aws"` key.
pub(crate) fn looks_like_emf(text: &str) -> bool {
    text.contains("\"_aws\"")
}

/// The document of a line that claims to be EMF: from its first `{`, past what may come
/// before it (a timestamp, a request id, a level), as CloudWatch reads EMF in Lambda ("a valid
/// embedded metric format document after this metadata is considered valid") and as
/// `lambda-perf logs` reads it.
pub(crate) fn document_text(text: &str) -> &str {
    text.find('{').map_or(text, |at| &text[at..]).trim()
}

/// Parses and checks one line. Returns the document, or every reason (up to a few) it is
/// not valid EMF.
pub(crate) fn check(text: &str) -> Result<Value, Vec<String>> {
    let document: Value = serde_json::from_str(document_text(text))
        .map_err(|error| vec![format!("not JSON: {error}")])?;
    let reasons = match document.as_object() {
        Some(root) => check_root(root),
        None => vec!["not a JSON object".to_owned()],
    };
    if reasons.is_empty() {
        Ok(document)
    } else {
        Err(cap(reasons))
    }
}

fn cap(mut reasons: Vec<String>) -> Vec<String> {
    if reasons.len() > MAX_REASONS {
        let more = reasons.len() - (MAX_REASONS - 1);
        reasons.truncate(MAX_REASONS - 1);
        reasons.push(format!("… and {more} more"));
    }
    reasons
}

fn check_root(root: &Map<String, Value>) -> Vec<String> {
    let mut reasons = Vec::new();
    let Some(aws) = root.get("_aws") else {
        return vec!["no _aws member".to_owned()];
    };
    let Some(aws) = aws.as_object() else {
        return vec!["_aws is not an object".to_owned()];
    };
    match aws.get("Timestamp") {
        None => reasons.push("_aws.Timestamp is missing".to_owned()),
        Some(Value::Number(n)) if n.is_u64() => {}
        Some(other) => reasons.push(format!(
            "_aws.Timestamp is not a non-negative integer: {other}",
            other = quote(other)
        )),
    }
    match aws.get("CloudWatchMetrics") {
        None => reasons.push("_aws.CloudWatchMetrics is missing".to_owned()),
        Some(Value::Array(directives)) => {
            for (i, directive) in directives.iter().enumerate() {
                let at = format!("_aws.CloudWatchMetrics[{i}]");
                match directive.as_object() {
                    Some(directive) => check_directive(root, directive, &at, &mut reasons),
                    None => reasons.push(format!("{at} is not an object")),
                }
            }
        }
        Some(_) => reasons.push("_aws.CloudWatchMetrics is not an array".to_owned()),
    }
    reasons
}

/// The characters the specification's name pattern `^(.*)$` does not match: `.` is no
/// line terminator.
const LINE_TERMINATORS: [char; 4] = ['\n', '\r', '\u{2028}', '\u{2029}'];

/// Adds a reason when `name`, the value of `what`, holds a line terminator.
fn check_one_line(name: &str, what: &str, reasons: &mut Vec<String>) {
    if name.contains(LINE_TERMINATORS) {
        let quoted = quote(format!("{name:?}"));
        reasons.push(format!("{what} {quoted} holds a line terminator"));
    }
}

fn check_directive(
    root: &Map<String, Value>,
    directive: &Map<String, Value>,
    at: &str,
    reasons: &mut Vec<String>,
) {
    match directive.get("Namespace") {
        None => reasons.push(format!("{at}.Namespace is missing")),
        Some(Value::String(ns)) if (1..=MAX_NAME).contains(&ns.chars().count()) => {
            check_one_line(ns, &format!("{at}.Namespace"), reasons);
        }
        Some(other) => reasons.push(format!(
            "{at}.Namespace is not a string of 1 to {MAX_NAME} characters: {other}",
            other = quote(other)
        )),
    }
    match directive.get("Dimensions") {
        None => reasons.push(format!("{at}.Dimensions is missing")),
        Some(Value::Array(sets)) if sets.is_empty() => {
            reasons.push(format!("{at}.Dimensions is empty (use [[]] for none)"));
        }
        Some(Value::Array(sets)) => {
            for (j, set) in sets.iter().enumerate() {
                check_dimension_set(root, set, &format!("{at}.Dimensions[{j}]"), reasons);
            }
        }
        Some(_) => reasons.push(format!("{at}.Dimensions is not an array")),
    }
    match directive.get("Metrics") {
        None => reasons.push(format!("{at}.Metrics is missing")),
        Some(Value::Array(metrics)) => {
            if metrics.len() > MAX_METRICS {
                reasons.push(format!(
                    "{at}.Metrics defines {} metrics (at most {MAX_METRICS})",
                    metrics.len()
                ));
            }
            for (j, metric) in metrics.iter().enumerate() {
                check_metric(root, metric, &format!("{at}.Metrics[{j}]"), reasons);
            }
        }
        Some(_) => reasons.push(format!("{at}.Metrics is not an array")),
    }
}

fn check_dimension_set(
    root: &Map<String, Value>,
    set: &Value,
    at: &str,
    reasons: &mut Vec<String>,
) {
    let Some(members) = set.as_array() else {
        reasons.push(format!("{at} is not an array of dimension names"));
        return;
    };
    if members.len() > MAX_DIMENSIONS {
        reasons.push(format!(
            "{at} references {} dimensions (at most {MAX_DIMENSIONS})",
            members.len()
        ));
    }
    for member in members {
        let Some(name) = member.as_str() else {
            reasons.push(format!(
                "{at} has a non-string entry {member}",
                member = quote(member)
            ));
            continue;
        };
        let quoted = quote(format!("{name:?}"));
        check_one_line(name, &format!("{at}: dimension name"), reasons);
        if !(1..=MAX_DIMENSION_NAME).contains(&name.chars().count()) {
            reasons.push(format!(
                "{at}: dimension name {quoted} is not 1 to {MAX_DIMENSION_NAME} characters"
            ));
        }
        match root.get(name) {
            None => reasons.push(format!("dimension {quoted} ({at}) has no member")),
            Some(Value::String(_)) => {}
            Some(other) => reasons.push(format!(
                "dimension {quoted} ({at}) is not a string: {other}",
                other = quote(other)
            )),
        }
    }
}

fn check_metric(root: &Map<String, Value>, metric: &Value, at: &str, reasons: &mut Vec<String>) {
    let Some(metric) = metric.as_object() else {
        reasons.push(format!("{at} is not an object"));
        return;
    };
    let name = match metric.get("Name") {
        Some(Value::String(name)) if (1..=MAX_NAME).contains(&name.chars().count()) => name,
        Some(other) => {
            reasons.push(format!(
                "{at}.Name is not a string of 1 to {MAX_NAME} characters: {other}",
                other = quote(other)
            ));
            return;
        }
        None => {
            reasons.push(format!("{at}.Name is missing"));
            return;
        }
    };
    let quoted = quote(format!("{name:?}"));
    check_one_line(name, &format!("{at}.Name"), reasons);
    match metric.get("Unit") {
        None => {}
        Some(Value::String(unit)) if UNITS.contains(&unit.as_str()) => {}
        Some(other) => reasons.push(format!(
            "metric {quoted} has an unknown unit {other}",
            other = quote(other)
        )),
    }
    match metric.get("StorageResolution") {
        None => {}
        Some(Value::Number(n)) if n.as_u64() == Some(1) || n.as_u64() == Some(60) => {}
        Some(other) => reasons.push(format!(
            "metric {quoted} has a StorageResolution other than 1 or 60: {other}",
            other = quote(other)
        )),
    }
    match root.get(name.as_str()) {
        None => reasons.push(format!("metric {quoted} has no member")),
        Some(Value::Number(_)) => {}
        Some(Value::Array(values)) => {
            if values.len() > MAX_VALUES {
                reasons.push(format!(
                    "metric {quoted} has {} values (at most {MAX_VALUES})",
                    values.len()
                ));
            }
            if values.iter().any(|v| !v.is_number()) {
                reasons.push(format!("metric {quoted} has a value that is not a number"));
            }
        }
        Some(other) => reasons.push(format!(
            "metric {quoted} is not a number or an array of numbers: {}",
            quote(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type Mutation = Box<dyn Fn(&mut Value)>;

    fn reasons(document: &Value) -> Vec<String> {
        check(&document.to_string()).err().unwrap_or_default()
    }

    fn valid() -> Value {
        json!({
            "_aws": {"Timestamp": 1_700_000_000_000_u64, "CloudWatchMetrics": [{
                "Namespace": "Shop",
                "Dimensions": [["service"]],
                "Metrics": [{"Name": "Orders", "Unit": "Count"},
                            {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1}]
            }]},
            "service": "orders", "Orders": [1.0, 2.0], "Latency": 3.5
        })
    }

    #[test]
    fn accepts_a_valid_line() {
        assert!(check(&valid().to_string()).is_ok());
        assert!(check(&format!("2026-12-06T17:44:26.990Z\tr-1\tINFO\t{}", valid())).is_ok());
        let mut none = valid();
        none["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([[]]);
        assert!(check(&none.to_string()).is_ok());
    }

    #[test]
    fn rejects_each_kind_of_mistake() {
        assert!(check("{\"_aws\": ").unwrap_err()[0].starts_with("not JSON"));
        assert_eq!(check("[\"_aws\"]").unwrap_err(), ["not a JSON object"]);
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|d| d["_aws"]["Timestamp"] = json!(1.5)),
                "Timestamp",
            ),
            (
                Box::new(|d| d["_aws"]["Timestamp"] = json!("1")),
                "Timestamp",
            ),
            (
                Box::new(|d| d["_aws"]["CloudWatchMetrics"] = json!({})),
                "not an array",
            ),
            (
                Box::new(|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("")),
                "Namespace",
            ),
            (
                Box::new(|d| {
                    d["_aws"]["CloudWatchMetrics"][0]
                        .as_object_mut()
                        .map(|o| o.remove("Dimensions"));
                }),
                "Dimensions is missing",
            ),
            (
                Box::new(|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["nope"]])),
                "dimension \"nope\"",
            ),
            (Box::new(|d| d["service"] = json!(5)), "is not a string"),
            (
                Box::new(|d| {
                    d.as_object_mut().map(|o| o.remove("Orders"));
                }),
                "metric \"Orders\" has no member",
            ),
            (Box::new(|d| d["Orders"] = json!(["1"])), "not a number"),
            (
                Box::new(|d| d["Orders"] = json!(vec![1.0; 101])),
                "101 values",
            ),
            (
                Box::new(|d| d["Latency"] = json!({"v": 1})),
                "not a number or an array",
            ),
            (
                Box::new(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("ms")),
                "unknown unit",
            ),
            (
                Box::new(|d| {
                    d["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["StorageResolution"] = json!(5);
                }),
                "StorageResolution",
            ),
        ];
        for (mutate, expected) in cases {
            let mut document = valid();
            mutate(&mut document);
            let found = reasons(&document);
            assert!(
                found.iter().any(|r| r.contains(expected)),
                "expected {expected:?} for {document}, got {found:?}"
            );
        }
    }

    /// The specification's names match `^(.*)$`, where `.` is no line terminator.
    #[test]
    fn rejects_names_that_break_lines() {
        for breaking in ["\n", "\r", "\u{2028}", "\u{2029}"] {
            let mut namespace = valid();
            namespace["_aws"]["CloudWatchMetrics"][0]["Namespace"] =
                json!(format!("Sh{breaking}op"));
            let mut metric = valid();
            let name = format!("Lat{breaking}ency");
            metric["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Name"] = json!(name);
            metric[name.as_str()] = json!(3.5);
            let mut dimension = valid();
            let name = format!("serv{breaking}ice");
            dimension["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([[name]]);
            dimension[name.as_str()] = json!("orders");
            for document in [namespace, metric, dimension] {
                let found = reasons(&document);
                assert!(
                    found.iter().any(|r| r.contains("line terminator")),
                    "{breaking:?}: {found:?}"
                );
            }
        }
    }

    #[test]
    fn enforces_the_limits() {
        let mut document = valid();
        let names: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
        for name in &names {
            document[name] = json!("x");
        }
        document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([names]);
        assert!(
            reasons(&document)
                .iter()
                .any(|r| r.contains("31 dimensions"))
        );

        let mut document = valid();
        let metrics: Vec<Value> = (0..101)
            .map(|i| {
                document[format!("m{i}")] = json!(1);
                json!({"Name": format!("m{i}")})
            })
            .collect();
        document["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(metrics);
        assert_eq!(
            reasons(&document),
            ["_aws.CloudWatchMetrics[0].Metrics defines 101 metrics (at most 100)"]
        );
    }
}
