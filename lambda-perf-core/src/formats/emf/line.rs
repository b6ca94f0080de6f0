//! The CloudWatch Embedded Metric Format serializer: one compact JSON object per line.
//!
//! Layout, as Powertools writes it: `_aws` first, then the dimensions, the metadata, the
//! `lambda_perf` invocation facts and the metric values, each value list an array of numbers.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use super::dimension::Dimension;
use super::set::MetricSlice;
use super::validate::FACTS_KEY;

/// One EMF document: a single metric directive and the members it references.
pub(crate) struct EmfLine<'a, F> {
    /// `_aws.Timestamp`, milliseconds since the Unix epoch.
    pub(crate) timestamp_ms: u64,
    pub(crate) namespace: &'a str,
    /// The dimension set, as groups written in order (configured ones, then added ones).
    pub(crate) dimensions: [&'a [Dimension]; 2],
    pub(crate) metrics: &'a [MetricSlice<'a>],
    pub(crate) metadata: &'a [(String, Value)],
    /// The invocation facts, written under `lambda_perf`.
    pub(crate) facts: Option<&'a F>,
}

impl<F> EmfLine<'_, F> {
    fn dimensions(&self) -> impl Iterator<Item = &Dimension> + Clone {
        self.dimensions.iter().flat_map(|group| group.iter())
    }
}

impl<F: Serialize> EmfLine<'_, F> {
    /// Appends the document and a newline to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.push(b'\n');
        Ok(())
    }
}

impl<F: Serialize> Serialize for EmfLine<'_, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut root = serializer.serialize_map(None)?;
        root.serialize_entry("_aws", &Aws(self))?;
        for dimension in self.dimensions() {
            root.serialize_entry(&*dimension.name, &*dimension.value)?;
        }
        for (key, value) in self.metadata {
            root.serialize_entry(key, value)?;
        }
        if let Some(facts) = self.facts {
            root.serialize_entry(FACTS_KEY, facts)?;
        }
        for metric in self.metrics {
            root.serialize_entry(metric.name, metric.values)?;
        }
        root.end()
    }
}

/// The `_aws` member.
struct Aws<'a, 'b, F>(&'a EmfLine<'b, F>);

impl<F> Serialize for Aws<'_, '_, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut aws = serializer.serialize_map(Some(2))?;
        aws.serialize_entry("Timestamp", &self.0.timestamp_ms)?;
        aws.serialize_entry("CloudWatchMetrics", &[Directive(self.0)])?;
        aws.end()
    }
}

/// The one `MetricDirective`.
struct Directive<'a, 'b, F>(&'a EmfLine<'b, F>);

impl<F> Serialize for Directive<'_, '_, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let line = self.0;
        let mut directive = serializer.serialize_map(Some(3))?;
        directive.serialize_entry("Namespace", line.namespace)?;
        directive.serialize_entry("Dimensions", &[DimensionSet(line)])?;
        directive.serialize_entry("Metrics", &MetricDefinitions(line.metrics))?;
        directive.end()
    }
}

struct DimensionSet<'a, 'b, F>(&'a EmfLine<'b, F>);

impl<F> Serialize for DimensionSet<'_, '_, F> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.dimensions().map(|dimension| &*dimension.name))
    }
}

struct MetricDefinitions<'a>(&'a [MetricSlice<'a>]);

impl Serialize for MetricDefinitions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(MetricDefinition))
    }
}

struct MetricDefinition<'a>(&'a MetricSlice<'a>);

impl Serialize for MetricDefinition<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let metric = self.0;
        let high = metric.resolution == super::Resolution::High;
        let mut definition = serializer.serialize_map(Some(2 + usize::from(high)))?;
        definition.serialize_entry("Name", metric.name)?;
        definition.serialize_entry("Unit", metric.unit.as_str())?;
        if high {
            definition.serialize_entry("StorageResolution", &metric.resolution.seconds())?;
        }
        definition.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::emf::{Resolution, Unit};

    fn render<F: Serialize>(line: &EmfLine<'_, F>) -> String {
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
                unit: Unit::Count,
                resolution: Resolution::Standard,
                values: &[1.0],
            },
            MetricSlice {
                name: "Latency",
                unit: Unit::Milliseconds,
                resolution: Resolution::High,
                values: &[12.5, 20.0],
            },
        ];
        let metadata = [("booking_id".to_owned(), Value::from("abc123"))];
        let line = EmfLine::<()> {
            timestamp_ms: 1_795_410_771_965,
            namespace: "ServerlessAirline",
            dimensions: [&fixed, &added],
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
    fn golden_line_with_facts_and_escaping() {
        #[derive(Serialize)]
        struct Facts {
            start_kind: &'static str,
        }
        let fixed = [Dimension::new("service", "quote\"d")];
        let metrics = [MetricSlice {
            name: "a\"b",
            unit: Unit::BytesPerSecond,
            resolution: Resolution::Standard,
            values: &[0.1, -3.0],
        }];
        let line = EmfLine {
            timestamp_ms: 1,
            namespace: "ns",
            dimensions: [&fixed, &[]],
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
}
