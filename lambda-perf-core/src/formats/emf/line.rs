//! The CloudWatch Embedded Metric Format serializer: one compact JSON object per line.
//!
//! Layout, as Powertools writes it: `_aws` first, then the dimensions, the metadata, the
//! `lambda_perf` invocation facts and the metric values, each value list an array of numbers.

use serde_json::Value;

use std::num::NonZeroU64;

use super::dimension::Dimension;
use super::directive::{DirectiveCache, QuickKey, ValueKeys};
use super::head::Head;
use super::set::MetricSlice;
use crate::formats::json::{
    WriteJson, push_epoch_millis, push_f64, push_key, push_serialized, push_str, push_u64,
};

/// One EMF document: a single metric directive and the members it references.
pub(crate) struct EmfLine<'a, F: ?Sized> {
    /// `_aws.Timestamp`, milliseconds since the Unix epoch.
    pub(crate) timestamp_ms: u64,
    /// The namespace and the dimensions written first (the configured ones).
    pub(crate) head: Head<'a>,
    /// The dimensions written after the head's (those added to the set).
    pub(crate) dimensions: &'a [Dimension],
    pub(crate) metrics: &'a [MetricSlice<'a>],
    pub(crate) metadata: &'a [(String, Value)],
    /// The invocation facts, written under `lambda_perf`.
    pub(crate) facts: Option<&'a F>,
}

impl<F: ?Sized> EmfLine<'_, F> {
    /// The whole dimension set, in order.
    fn dimensions(&self) -> impl Iterator<Item = &Dimension> + Clone {
        self.head.dimensions.iter().chain(self.dimensions)
    }
}

impl<F: ?Sized> EmfLine<'_, F> {
    /// The directive and the dimension members: from `,"CloudWatchMetrics"` to the last
    /// dimension's value, the same in every line of one namespace, dimension set and list of
    /// metric definitions; and into `value_keys`, when given, each metric's value key.
    fn write_directive(&self, out: &mut Vec<u8>, value_keys: Option<&mut ValueKeys>) {
        out.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
        push_str(out, self.head.namespace);
        out.extend_from_slice(b",\"Dimensions\":[[");
        for (index, dimension) in self.dimensions().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            push_str(out, &dimension.name);
        }
        out.extend_from_slice(b"]],\"Metrics\":[");
        for (index, metric) in self.metrics.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_definition(out, metric);
        }
        out.extend_from_slice(b"]}]}");
        for dimension in self.dimensions() {
            out.push(b',');
            push_key(out, &dimension.name);
            push_str(out, &dimension.value);
        }
        if let Some(value_keys) = value_keys {
            for metric in self.metrics {
                value_keys.push(|into| write_value_key(into, metric.name));
            }
        }
    }

    /// What [`write_directive`](Self::write_directive) writes depends on, in the form the
    /// directive cache recognises at a glance: for a fixed head (its identity standing for the
    /// namespace and the head's dimensions) and no dimensions added after it, the metric
    /// definitions.
    fn quick_key(&self) -> Option<QuickKey<'_>> {
        let head = self.head.id()?;
        self.dimensions.is_empty().then_some(QuickKey {
            head,
            metrics: self.metrics,
        })
    }

    /// What [`write_directive`](Self::write_directive) writes depends on, unambiguously:
    /// first the head's identity (0 for a head spelled out after them), the number of added
    /// dimensions and the number of metrics, in one copy; then the head's namespace and
    /// dimensions when it has no identity; then each added dimension and each metric, each
    /// string with its length before it.
    fn write_directive_key(&self, key: &mut Vec<u8>) {
        fn push_text(key: &mut Vec<u8>, text: &str) {
            key.extend_from_slice(&text.len().to_ne_bytes());
            key.extend_from_slice(text.as_bytes());
        }
        fn push_dimensions(key: &mut Vec<u8>, dimensions: &[Dimension]) {
            for dimension in dimensions {
                push_text(key, &dimension.name);
                push_text(key, &dimension.value);
            }
        }
        const WORD: usize = size_of::<u64>();
        let id = self.head.id().map_or(0, NonZeroU64::get);
        let mut counts = [0; 3 * WORD];
        let words = [id, self.dimensions.len() as u64, self.metrics.len() as u64];
        for (bytes, word) in counts.chunks_exact_mut(WORD).zip(words) {
            bytes.copy_from_slice(&word.to_ne_bytes());
        }
        key.extend_from_slice(&counts);
        if id == 0 {
            push_text(key, self.head.namespace);
            key.extend_from_slice(&self.head.dimensions.len().to_ne_bytes());
            push_dimensions(key, self.head.dimensions);
        }
        push_dimensions(key, self.dimensions);
        for metric in self.metrics {
            // The name's length and the definition's codes in one copy, then the name.
            let mut definition = [0; WORD + 2];
            definition[..WORD].copy_from_slice(&(metric.name.len() as u64).to_ne_bytes());
            definition[WORD..].copy_from_slice(&[metric.unit.code(), metric.resolution.seconds()]);
            key.extend_from_slice(&definition);
            key.extend_from_slice(metric.name.as_bytes());
        }
    }
}

impl<F: WriteJson + ?Sized> EmfLine<'_, F> {
    /// Appends the document and a newline to `out`, the directive written anew.
    #[cfg(test)]
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.write_with(out, None)
    }

    /// Appends the document and a newline to `out`, the directive from `directives` when it
    /// holds it; on an error (only a metadata value's own `Serialize` can fail) `out` holds
    /// part of a line, for the caller to truncate.
    pub(crate) fn write_with(
        &self,
        out: &mut Vec<u8>,
        directives: Option<&mut DirectiveCache>,
    ) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"_aws\":{\"Timestamp\":");
        push_epoch_millis(out, self.timestamp_ms);
        let value_keys = match directives {
            Some(directives) => directives.write(
                out,
                self.quick_key(),
                |key| self.write_directive_key(key),
                |into, value_keys| self.write_directive(into, value_keys),
            ),
            None => {
                self.write_directive(out, None);
                None
            }
        };
        for (key, value) in self.metadata {
            out.push(b',');
            push_key(out, key);
            push_serialized(out, value)?;
        }
        if let Some(facts) = self.facts {
            out.extend_from_slice(FACTS_MEMBER);
            facts.write_json(out);
        }
        for (index, metric) in self.metrics.iter().enumerate() {
            match value_keys.and_then(|value_keys| value_keys.get(index)) {
                Some(value_key) => out.extend_from_slice(value_key),
                None => write_value_key(out, metric.name),
            }
            for (index, value) in metric.values.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                push_f64(out, *value);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}\n");
        Ok(())
    }
}

/// What comes before a metric's values: `,"name":[`. Out of line: most lines copy it from
/// the directive cache.
#[inline(never)]
fn write_value_key(out: &mut Vec<u8>, name: &str) {
    out.push(b',');
    push_key(out, name);
    out.push(b'[');
}

/// What comes before the facts: `,"lambda_perf":` (the key needs no escape).
const FACTS_MEMBER: &[u8] = b",\"lambda_perf\":";

/// `{"Name":…,"Unit":…}`, with `StorageResolution` for high-resolution metrics.
fn write_definition(out: &mut Vec<u8>, metric: &MetricSlice<'_>) {
    out.extend_from_slice(b"{\"Name\":");
    push_str(out, metric.name);
    out.extend_from_slice(b",\"Unit\":\"");
    // Unit names are fixed ASCII with nothing to escape ("Bytes/Second" and the like).
    out.extend_from_slice(metric.unit.as_str().as_bytes());
    out.push(b'"');
    if metric.resolution == super::Resolution::High {
        out.extend_from_slice(b",\"StorageResolution\":");
        push_u64(out, u64::from(metric.resolution.seconds()));
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::formats::emf::head::FixedHead;
    use crate::formats::emf::validate::FACTS_KEY;
    use crate::formats::emf::{Resolution, Unit};

    fn render<F: WriteJson>(line: &EmfLine<'_, F>) -> String {
        let mut out = Vec::new();
        line.write_to(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn golden_line_matches_powertools_layout() {
        let fixed = [
            Dimension::new("environment", "prod"),
            Dimension::new("service", "payment"),
        ];
        let added = [Dimension::new("route", "/book")];
        let metrics = [
            MetricSlice {
                name: "SuccessfulBooking",
                static_name: None,
                unit: Unit::Count,
                resolution: Resolution::Standard,
                values: &[1.0],
            },
            MetricSlice {
                name: "Latency",
                static_name: None,
                unit: Unit::Milliseconds,
                resolution: Resolution::High,
                values: &[12.5, 20.0],
            },
        ];
        let metadata = [("booking_id".to_owned(), Value::from("abc123"))];
        let line = EmfLine::<()> {
            timestamp_ms: 1_795_410_771_965,
            head: Head::new("ServerlessAirline", &fixed),
            dimensions: &added,
            metrics: &metrics,
            metadata: &metadata,
            facts: None,
        };
        assert_eq!(
            render(&line),
            concat!(
                r#"{"_aws":{"Timestamp":1795410771965,"CloudWatchMetrics":[{"Namespace":"ServerlessAirline","#,
                r#""Dimensions":[["environment","service","route"]],"Metrics":[{"Name":"SuccessfulBooking","Unit":"Count"},"#,
                r#"{"Name":"Latency","Unit":"Milliseconds","StorageResolution":1}]}]},"#,
                r#""environment":"prod","service":"payment","route":"/book","booking_id":"abc123","#,
                r#""SuccessfulBooking":[1.0],"Latency":[12.5,20.0]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn the_facts_member_is_the_facts_key() {
        assert_eq!(FACTS_MEMBER, format!(",\"{FACTS_KEY}\":").as_bytes());
    }

    #[test]
    fn unit_names_need_no_escape() {
        for unit in Unit::ALL {
            let name = unit.as_str();
            assert_eq!(serde_json::to_string(name).unwrap(), format!("\"{name}\""));
        }
    }

    #[test]
    fn golden_line_with_facts_and_escaping() {
        struct Facts {
            start_kind: &'static str,
        }
        impl WriteJson for Facts {
            fn write_json(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(b"{\"start_kind\":");
                push_str(out, self.start_kind);
                out.push(b'}');
            }
        }
        let fixed = [Dimension::new("service", "quote\"d")];
        let metrics = [MetricSlice {
            name: "a\"b",
            static_name: None,
            unit: Unit::BytesPerSecond,
            resolution: Resolution::Standard,
            values: &[0.1, -3.0],
        }];
        let line = EmfLine {
            timestamp_ms: 1,
            head: Head::new("ns", &fixed),
            dimensions: &[],
            metrics: &metrics,
            metadata: &[],
            facts: Some(&Facts { start_kind: "warm" }),
        };
        assert_eq!(
            render(&line),
            concat!(
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[["service"]],"#,
                r#""Metrics":[{"Name":"a\"b","Unit":"Bytes/Second"}]}]},"service":"quote\"d","#,
                r#""lambda_perf":{"start_kind":"warm"},"a\"b":[0.1,-3.0]}"#,
                "\n"
            )
        );
    }

    /// A line's shape: namespace, dimensions and metric definitions (from small alphabets,
    /// so that shapes repeat and differ in one part at a time), and its head: 0 for the
    /// namespace and the first half of the dimensions spelled out; 1 or 2 for a fixed head
    /// (with its identity), 3 or 4 for the same head's text spelled out, the shape's
    /// dimensions added after either. Each metric's name is written from a `String`, or from
    /// `'static` text in one of two places (the same text at two addresses).
    type Shape = (
        String,
        Vec<(String, String)>,
        Vec<(String, bool, bool, Option<bool>)>,
        usize,
    );

    fn shape() -> impl Strategy<Value = Shape> {
        (
            "[ab\"]{0,2}",
            dimensions(),
            prop::collection::vec(
                (
                    "[ab\"]{1,2}",
                    any::<bool>(),
                    any::<bool>(),
                    proptest::option::of(any::<bool>()),
                ),
                1..3,
            ),
            0..5usize,
        )
    }

    fn dimensions() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec(("[ab\\\\]{1,2}", "[ab\n]{0,2}"), 0..3)
    }

    /// Two fixed heads, built as an output builds its own (their texts may be alike).
    fn fixed_heads() -> impl Strategy<Value = Vec<FixedHead>> {
        prop::collection::vec(("[ab\"]{0,2}", dimensions()), 2).prop_map(|heads| {
            heads
                .into_iter()
                .map(|(namespace, dimensions)| FixedHead::new(namespace, built(&dimensions)))
                .collect()
        })
    }

    fn built(dimensions: &[(String, String)]) -> Vec<Dimension> {
        dimensions
            .iter()
            .map(|(name, value)| Dimension::new(name.clone(), value.clone()))
            .collect()
    }

    /// `name` as `'static` text in one of two places, at the same address each time.
    fn static_name(name: &str, place: bool) -> &'static str {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static PLACES: OnceLock<Mutex<HashMap<(String, bool), &'static str>>> = OnceLock::new();
        let mut places = PLACES.get_or_init(Mutex::default).lock().unwrap();
        places
            .entry((name.to_owned(), place))
            .or_insert_with(|| Box::leak(name.to_owned().into_boxed_str()))
    }

    fn written(
        shape: &Shape,
        fixed: &[FixedHead],
        directives: Option<&mut DirectiveCache>,
    ) -> Vec<u8> {
        let (namespace, dimensions, metrics, head) = shape;
        let dimensions = built(dimensions);
        let metrics: Vec<MetricSlice<'_>> = metrics
            .iter()
            .map(|(name, count, high, place)| MetricSlice {
                name,
                static_name: place.map(|place| static_name(name, place)),
                unit: if *count { Unit::Count } else { Unit::Bytes },
                resolution: if *high {
                    Resolution::High
                } else {
                    Resolution::Standard
                },
                values: &[1.0],
            })
            .collect();
        let (head, added) = match *head {
            0 => {
                let (first, added) = dimensions.split_at(dimensions.len() / 2);
                (Head::new(namespace, first), added)
            }
            index @ 1..=2 => (Head::from(&fixed[index - 1]), &dimensions[..]),
            index => {
                let identified = Head::from(&fixed[index - 3]);
                (
                    Head::new(identified.namespace, identified.dimensions),
                    &dimensions[..],
                )
            }
        };
        let line = EmfLine::<()> {
            timestamp_ms: 1,
            head,
            dimensions: added,
            metrics: &metrics,
            metadata: &[],
            facts: None,
        };
        let mut out = Vec::new();
        line.write_with(&mut out, directives).unwrap();
        out
    }

    proptest! {
        /// Through the directive cache, any sequence of lines (shapes repeated or changed, heads
        /// fixed or spelled out, names `'static` or not) is written byte for byte as without
        /// it.
        #[test]
        fn cached_lines_are_the_lines(
            fixed in fixed_heads(),
            shapes in prop::collection::vec(shape(), 1..12),
        ) {
            let mut directives = DirectiveCache::new();
            for shape in &shapes {
                let cached = written(shape, &fixed, Some(&mut directives));
                prop_assert_eq!(
                    String::from_utf8(cached).unwrap(),
                    String::from_utf8(written(shape, &fixed, None)).unwrap()
                );
            }
        }
    }
}
