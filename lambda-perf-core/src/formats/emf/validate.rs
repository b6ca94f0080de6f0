//! CloudWatch's limits on names and values, checked before anything is buffered.

use super::MetricsError;

/// Longest metric name CloudWatch accepts.
pub(crate) const MAX_METRIC_NAME: usize = 255;
/// Longest dimension name the EMF schema accepts.
pub(crate) const MAX_DIMENSION_NAME: usize = 250;
/// Longest dimension value CloudWatch accepts.
pub(crate) const MAX_DIMENSION_VALUE: usize = 1024;
/// Most dimensions in one dimension set.
pub(crate) const MAX_DIMENSIONS: usize = 30;
/// Longest namespace CloudWatch accepts.
pub(crate) const MAX_NAMESPACE: usize = 255;
/// Keys lambda-perf writes itself in every EMF line.
pub(crate) const RESERVED_KEYS: [&str; 2] = ["_aws", FACTS_KEY];
/// The property that carries the invocation facts.
pub(crate) const FACTS_KEY: &str = "lambda_perf";

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// The EMF schema's `^(.*)$` pattern: no line breaks (nor other control characters).
fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// Printable ASCII, as CloudWatch wants dimension names and values.
fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

pub(crate) fn metric_name(name: &str) -> Result<(), MetricsError> {
    // The common case in one pass: printable ASCII, short enough, not all spaces.
    if name.len() <= MAX_METRIC_NAME
        && is_printable_ascii(name)
        && name.bytes().any(|byte| byte != b' ')
    {
        return Ok(());
    }
    let reason = if is_blank(name) {
        "a metric name needs at least one non-blank character"
    } else if name.chars().count() > MAX_METRIC_NAME {
        "a metric name has at most 255 characters"
    } else if has_control(name) {
        "a metric name must not contain control characters or line breaks"
    } else {
        return Ok(());
    };
    Err(MetricsError::InvalidMetricName {
        name: name.to_owned(),
        reason,
    })
}

/// The largest magnitude CloudWatch surely accepts: 2^359. Its API reference says "-2^360
/// to 2^360", its concepts page "1.174271e+108" (2^359) as the base-10 bound: the narrower of
/// the two.
pub(crate) const MAX_MAGNITUDE: f64 = 1.174_271_291_386_916_6e108;
/// The smallest non-zero magnitude CloudWatch surely accepts: 2^-359 (the concepts page's
/// "8.515920e-109"; the API reference says 2^-360).
pub(crate) const MIN_MAGNITUDE: f64 = 8.515_919_680_016_301e-109;

/// Whether CloudWatch accepts `value`: finite, and zero or of a magnitude within range.
/// Inlined where values are recorded: two comparisons, decided while compiling for a
/// literal; the error ([`value_error`]) is built apart.
#[inline]
pub(crate) fn accepts_value(value: f64) -> bool {
    let magnitude = value.abs();
    // NaN and the infinities fail the first comparison.
    magnitude <= MAX_MAGNITUDE && (magnitude >= MIN_MAGNITUDE || magnitude == 0.0)
}

/// Why CloudWatch refuses `value` of metric `name`, which [`accepts_value`] refused.
#[cold]
pub(crate) fn value_error(name: &str, value: f64) -> MetricsError {
    if value.is_finite() {
        MetricsError::ValueOutOfRange {
            name: name.to_owned(),
            value,
        }
    } else {
        MetricsError::NonFiniteValue {
            name: name.to_owned(),
            value,
        }
    }
}

/// (`#[instrument_lambda]` checks its literal `service`, a dimension value, by the same rules,
/// in `lambda-perf-macros/src/attr.rs`: change both.)
pub(crate) fn dimension(name: &str, value: &str) -> Result<(), MetricsError> {
    let name_reason = if is_blank(name) {
        Some("a dimension name needs at least one non-blank character")
    } else if !is_printable_ascii(name) {
        Some("a dimension name must be printable ASCII")
    } else if name.len() > MAX_DIMENSION_NAME {
        Some("a dimension name has at most 250 characters")
    } else if name.starts_with(':') {
        Some("a dimension name must not start with ':'")
    } else {
        None
    };
    if let Some(reason) = name_reason {
        return Err(MetricsError::InvalidDimensionName {
            name: name.to_owned(),
            reason,
        });
    }
    let value_reason = if is_blank(value) {
        "a dimension value needs at least one non-blank character"
    } else if !is_printable_ascii(value) {
        "a dimension value must be printable ASCII"
    } else if value.len() > MAX_DIMENSION_VALUE {
        "a dimension value has at most 1024 characters"
    } else {
        return Ok(());
    };
    Err(MetricsError::InvalidDimensionValue {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: value_reason,
    })
}

/// Most levels of arrays and objects a metadata value may nest. The line's own object adds
/// one: `serde_json` reads 127 at most, other JSON readers stop at similar depths.
pub(crate) const MAX_METADATA_DEPTH: usize = 100;

/// Refuses a metadata value that nests arrays and objects more than [`MAX_METADATA_DEPTH`]
/// levels deep (a scalar is 0 levels, `[1]` one).
pub(crate) fn metadata_depth(key: &str, value: &serde_json::Value) -> Result<(), MetricsError> {
    /// Whether `value` nests more than `levels` levels; looks no deeper than that.
    fn deeper_than(value: &serde_json::Value, levels: usize) -> bool {
        use serde_json::Value;
        match value {
            Value::Array(items) => {
                levels == 0 || items.iter().any(|item| deeper_than(item, levels - 1))
            }
            Value::Object(entries) => {
                levels == 0 || entries.values().any(|entry| deeper_than(entry, levels - 1))
            }
            _ => false,
        }
    }
    if deeper_than(value, MAX_METADATA_DEPTH) {
        Err(MetricsError::MetadataTooDeep {
            key: key.to_owned(),
            limit: MAX_METADATA_DEPTH,
        })
    } else {
        Ok(())
    }
}

pub(crate) fn metadata_key(key: &str) -> Result<(), MetricsError> {
    if key.is_empty() {
        Err(MetricsError::InvalidMetadataKey {
            key: key.to_owned(),
            reason: "a metadata key must not be empty",
        })
    } else {
        Ok(())
    }
}

/// (`#[instrument_lambda]` checks its literal `namespace` by the same rules, in
/// `lambda-perf-macros/src/attr.rs`: change both.)
pub(crate) fn namespace(namespace: &str) -> Result<(), MetricsError> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#' | ':' | ' ');
    let reason = if is_blank(namespace) {
        "a namespace needs at least one non-blank character"
    } else if namespace.len() > MAX_NAMESPACE {
        "a namespace has at most 255 characters"
    } else if !namespace.chars().all(allowed) {
        "a namespace may only contain 0-9 A-Z a-z . - _ / # : and space"
    } else if namespace.starts_with(':') {
        "a namespace must not start with ':'"
    } else if namespace.starts_with("AWS/") {
        "namespaces starting with AWS/ are reserved for AWS services"
    } else {
        return Ok(());
    };
    Err(MetricsError::InvalidNamespace {
        namespace: namespace.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    /// What recording `value` of metric `name` returns.
    fn value(name: &str, value: f64) -> Result<(), MetricsError> {
        if accepts_value(value) {
            Ok(())
        } else {
            Err(value_error(name, value))
        }
    }

    #[test]
    fn values_stay_within_cloudwatchs_range() {
        assert_eq!(MAX_MAGNITUDE, 2f64.powi(359));
        assert_eq!(MIN_MAGNITUDE, 2f64.powi(-359));
        // Between the two texts' bounds: refused, as one of them would have CloudWatch do.
        for doubtful in [2f64.powi(360), -2f64.powi(-360)] {
            assert!(value("m", doubtful).is_err(), "{doubtful}");
        }
        for fine in [
            0.0,
            -0.0,
            1.0,
            -1e100,
            MAX_MAGNITUDE,
            -MIN_MAGNITUDE,
            1e-100,
        ] {
            assert!(value("m", fine).is_ok(), "{fine}");
        }
        for refused in [
            MAX_MAGNITUDE * 2.0,
            -1e200,
            MIN_MAGNITUDE / 2.0,
            -1e-200,
            5e-324,
        ] {
            assert!(
                matches!(
                    value("m", refused),
                    Err(MetricsError::ValueOutOfRange { .. })
                ),
                "{refused}"
            );
        }
    }

    use super::*;

    #[test]
    fn metric_names_are_1_to_255_characters() {
        assert!(metric_name("Latency").is_ok());
        assert!(metric_name(&"é".repeat(255)).is_ok());
        for bad in [
            "",
            "   ",
            &"x".repeat(256),
            "a\nb",
            "tab\there",
            "sep\u{2028}",
        ] {
            assert!(matches!(
                metric_name(bad),
                Err(MetricsError::InvalidMetricName { .. })
            ));
        }
    }

    proptest::proptest! {
        #[test]
        fn the_one_pass_check_of_metric_names_agrees_with_the_rules(
            name in proptest::prop_oneof![
                "[ -~]{0,300}",
                "[ a\t\n\u{2028}\u{7f}é]{0,8}",
                proptest::prelude::any::<String>(),
            ],
        ) {
            let by_the_rules = !name.trim().is_empty()
                && name.chars().count() <= MAX_METRIC_NAME
                && !name
                    .chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}');
            proptest::prop_assert_eq!(metric_name(&name).is_ok(), by_the_rules, "{:?}", name);
        }
    }

    #[test]
    fn only_finite_values() {
        assert!(value("m", 0.0).is_ok());
        assert!(value("m", -1e100).is_ok());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(
                value("m", bad),
                Err(MetricsError::NonFiniteValue { .. })
            ));
        }
    }

    #[test]
    fn dimensions_follow_cloudwatch_rules() {
        assert!(dimension("route", "/book").is_ok());
        assert!(dimension(&"n".repeat(250), &"v".repeat(1024)).is_ok());
        for bad_name in [
            "",
            " ",
            "rüte",
            ":route",
            "a\nb",
            "del\x7f",
            &"n".repeat(251),
        ] {
            assert!(
                matches!(
                    dimension(bad_name, "v"),
                    Err(MetricsError::InvalidDimensionName { .. })
                ),
                "{bad_name:?}"
            );
        }
        for bad_value in ["", "  ", "naïve", "line\nbreak", "\ttab", &"v".repeat(1025)] {
            assert!(
                matches!(
                    dimension("n", bad_value),
                    Err(MetricsError::InvalidDimensionValue { .. })
                ),
                "{bad_value:?}"
            );
        }
    }

    #[test]
    fn namespaces_follow_cloudwatch_rules() {
        for good in ["ServerlessAirline", "my-app/prod #1:x", &"a".repeat(255)] {
            assert!(namespace(good).is_ok(), "{good:?}");
        }
        for bad in ["", " ", "a;b", ":x", "AWS/Lambda", "ünï", &"a".repeat(256)] {
            assert!(
                matches!(namespace(bad), Err(MetricsError::InvalidNamespace { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn metadata_nests_at_most_100_levels() {
        use serde_json::{Value, json};
        let nested = |levels: usize, inner: Value| {
            (0..levels).fold(inner, |inner, level| {
                if level % 2 == 0 {
                    Value::Array(vec![json!(1), inner])
                } else {
                    json!({ "a": 1, "b": inner })
                }
            })
        };
        for fine in [
            json!(1),
            json!([]),
            json!({}),
            nested(99, json!([])),
            nested(100, json!(null)),
        ] {
            assert!(metadata_depth("k", &fine).is_ok(), "{fine}");
        }
        for deep in [
            nested(100, json!([])),
            nested(100, json!({})),
            nested(300, json!(1)),
        ] {
            assert_eq!(
                metadata_depth("k", &deep),
                Err(MetricsError::MetadataTooDeep {
                    key: "k".into(),
                    limit: MAX_METADATA_DEPTH
                })
            );
        }
        // What is accepted reads back inside a line's object.
        let line = json!({ "_aws": {}, "k": nested(MAX_METADATA_DEPTH, json!(1)) });
        assert!(serde_json::from_str::<Value>(&line.to_string()).is_ok());
    }

    #[test]
    fn metadata_keys_are_not_empty() {
        assert!(metadata_key("booking_id").is_ok());
        assert!(metadata_key("").is_err());
    }
}
