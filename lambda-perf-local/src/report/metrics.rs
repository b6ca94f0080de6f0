//! [`MetricSeries`]: the metrics received in valid EMF lines, aggregated across lines.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every value received for one CloudWatch metric: one namespace, name, unit and set of
/// dimension values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricSeries {
    /// The namespace.
    pub namespace: String,
    /// The metric name.
    pub name: String,
    /// The unit (`None` when the line gave none).
    pub unit: String,
    /// The dimension values, by dimension name (empty for a metric without dimensions).
    pub dimensions: BTreeMap<String, String>,
    /// Whether it is a high-resolution metric (`StorageResolution: 1`).
    pub high_resolution: bool,
    /// Every value, in the order received.
    pub values: Vec<f64>,
    /// How many EMF lines carried it.
    pub lines: usize,
}

impl MetricSeries {
    /// The sum of the values.
    pub fn sum(&self) -> f64 {
        self.values.iter().sum()
    }

    /// The dimensions as `name=value` pairs joined by `, `.
    pub fn dimensions_text(&self) -> String {
        self.dimensions
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

type SeriesKey = (String, String, String, BTreeMap<String, String>);

/// Aggregates the metrics of valid EMF documents.
#[derive(Debug, Default)]
pub(crate) struct MetricAggregator {
    series: Vec<MetricSeries>,
    index: HashMap<SeriesKey, usize>,
}

impl MetricAggregator {
    /// Adds every metric of a valid EMF document (one series per dimension set of its
    /// directive).
    pub(crate) fn add(&mut self, document: &Value) {
        let directives = document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for directive in directives {
            let namespace = directive["Namespace"].as_str().unwrap_or_default();
            let sets = directive["Dimensions"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let metrics = directive["Metrics"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            for set in sets {
                let dimensions: BTreeMap<String, String> = set
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|name| {
                        let value = document[name].as_str().unwrap_or_default();
                        (name.to_owned(), value.to_owned())
                    })
                    .collect();
                for metric in metrics {
                    self.add_metric(document, namespace, metric, &dimensions);
                }
            }
        }
    }

    fn add_metric(
        &mut self,
        document: &Value,
        namespace: &str,
        metric: &Value,
        dimensions: &BTreeMap<String, String>,
    ) {
        let Some(name) = metric["Name"].as_str() else {
            return;
        };
        let unit = metric["Unit"].as_str().unwrap_or("None");
        let values: Vec<f64> = match &document[name] {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
            value => value.as_f64().into_iter().collect(),
        };
        let key = (
            namespace.to_owned(),
            name.to_owned(),
            unit.to_owned(),
            dimensions.clone(),
        );
        let at = *self.index.entry(key).or_insert_with(|| {
            self.series.push(MetricSeries {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                unit: unit.to_owned(),
                dimensions: dimensions.clone(),
                high_resolution: false,
                values: Vec::new(),
                lines: 0,
            });
            self.series.len() - 1
        });
        let series = &mut self.series[at];
        series.values.extend(values);
        series.lines += 1;
        series.high_resolution |= metric["StorageResolution"].as_u64() == Some(1);
    }

    /// The series, in order of first appearance.
    pub(crate) fn finish(self) -> Vec<MetricSeries> {
        self.series
    }
}
