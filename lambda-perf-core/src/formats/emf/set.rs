//! The metrics one invocation records: validated as they are added, written when it ends.

use std::borrow::Cow;

use serde_json::Value;

use super::dimension::Dimension;
use super::validate::{self, MAX_DIMENSIONS, RESERVED_KEYS};
use super::{KeyKind, MetricsError, Resolution, Unit};

/// Most metric definitions in one EMF directive, and most values per metric in one line.
pub(crate) const MAX_PER_LINE: usize = 100;

/// One metric and every value recorded for it.
#[derive(Debug)]
pub(crate) struct MetricEntry {
    pub(crate) name: Cow<'static, str>,
    pub(crate) unit: Unit,
    pub(crate) resolution: Resolution,
    pub(crate) values: Vec<f64>,
}

/// One value of a metric, with the unit and resolution it is recorded with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recorded {
    unit: Unit,
    resolution: Resolution,
    value: f64,
    /// Whether CloudWatch accepts the value: found where it is recorded, so that for a
    /// literal (most values are) it is known while compiling. Checked where the value was
    /// checked before, so that errors come in the same order.
    accepted: bool,
}

impl Recorded {
    /// Inlined where the value is recorded.
    #[inline]
    pub(crate) fn new(unit: Unit, resolution: Resolution, value: f64) -> Self {
        Self {
            unit,
            resolution,
            value,
            accepted: validate::accepts_value(value),
        }
    }

    /// Refuses the value of metric `name` if CloudWatch does not accept it.
    #[inline]
    fn check_value(&self, name: &str) -> Result<(), MetricsError> {
        if self.accepted {
            Ok(())
        } else {
            Err(validate::value_error(name, self.value))
        }
    }
}

impl MetricEntry {
    /// Whether this (retired) metric is named by `name`: the same `'static` text, at the same
    /// address and of the same length.
    #[inline]
    fn is_named(&self, name: &'static str) -> bool {
        match self.name {
            Cow::Borrowed(known) => std::ptr::eq(known, name),
            Cow::Owned(_) => false,
        }
    }

    /// Adds a value to this metric, named `name`: refused if it is no value CloudWatch
    /// takes, or if its unit or resolution differs from this metric's.
    #[inline]
    fn record(&mut self, name: &str, recorded: Recorded) -> Result<(), MetricsError> {
        recorded.check_value(name)?;
        if self.unit != recorded.unit || self.resolution != recorded.resolution {
            return Err(conflict(name, self, recorded));
        }
        self.values.push(recorded.value);
        Ok(())
    }

    /// This metric with `values` (some of its own), as one line writes it.
    #[inline]
    fn slice<'a>(&'a self, values: &'a [f64]) -> MetricSlice<'a> {
        MetricSlice {
            name: &self.name,
            static_name: match self.name {
                Cow::Borrowed(name) => Some(name),
                Cow::Owned(_) => None,
            },
            unit: self.unit,
            resolution: self.resolution,
            values,
        }
    }
}

/// A metric with the values that go into one EMF line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetricSlice<'a> {
    pub(crate) name: &'a str,
    /// The name again when it is `'static` text (a literal, mostly): what the directive cache
    /// recognises it by, by address.
    pub(crate) static_name: Option<&'static str>,
    pub(crate) unit: Unit,
    pub(crate) resolution: Resolution,
    pub(crate) values: &'a [f64],
}

/// Metrics, dimensions and metadata of one invocation (or one single-metric line).
///
/// `fixed` dimensions (the `service` and default dimensions from the configuration) are
/// passed in, so that limits and collisions account for them without copying them.
#[derive(Debug, Default)]
pub(crate) struct MetricSet {
    /// This set's metrics (the first `live`), then retired ones: metrics of earlier
    /// invocations with `'static` names, kept with their emptied value lists when the set is
    /// cleared. Such text never changes, so a name at the same address with the same length
    /// was found valid (and not reserved) before: a literal name recorded again is revived
    /// without being checked or allocated again.
    metrics: Vec<MetricEntry>,
    /// How many of `metrics` are this set's.
    live: usize,
    dimensions: Vec<Dimension>,
    metadata: Vec<(String, Value)>,
    /// Whether metadata was added or changed since a line was last taken with values
    /// ([`take_values`](Self::take_values)): what no line has carried yet.
    metadata_unwritten: bool,
    /// Emptied value lists of cleared metrics, reused by the next ones (no allocation once
    /// warm).
    spare_values: Vec<Vec<f64>>,
}

/// Most retired metrics a set keeps.
const RETIRED: usize = 16;
/// Most emptied value lists a set keeps for the next metrics.
const KEPT_SPARES: usize = 128;
/// Most values a kept value list has room for (8 KiB).
const KEPT_VALUES: usize = 1024;

impl MetricSet {
    /// This set's metrics, without the retired ones.
    fn live(&self) -> &[MetricEntry] {
        &self.metrics[..self.live]
    }

    /// Whether no value is recorded (no line to write).
    pub(crate) fn is_empty(&self) -> bool {
        self.live().iter().all(|metric| metric.values.is_empty())
    }

    /// Whether metadata was added that no line carries: the set has no value to write it
    /// with, because it never had a metric, or because the values it had were taken (by the
    /// timeout line) before the metadata was added. CloudWatch has nothing to publish it with.
    pub(crate) fn has_metadata_alone(&self) -> bool {
        self.metadata_unwritten && !self.metadata.is_empty() && self.is_empty()
    }

    /// Empties the set for another invocation, keeping what it allocated: its metrics with
    /// `'static` names are retired (at most [`RETIRED`], this set's first), the value lists of
    /// the others kept apart (at most [`KEPT_SPARES`]). A value list that grew past
    /// [`KEPT_VALUES`] is let go: one large invocation does not hold its memory for every
    /// later one.
    pub(crate) fn clear(&mut self) {
        let mut retired = 0;
        let spare_values = &mut self.spare_values;
        self.metrics.retain_mut(|metric| {
            if metric.values.capacity() > KEPT_VALUES {
                metric.values = Vec::new();
            } else {
                metric.values.clear();
            }
            if matches!(metric.name, Cow::Borrowed(_)) && retired < RETIRED {
                retired += 1;
                true
            } else {
                if spare_values.len() < KEPT_SPARES {
                    spare_values.push(std::mem::take(&mut metric.values));
                }
                false
            }
        });
        self.live = 0;
        self.dimensions.clear();
        self.metadata.clear();
        self.metadata_unwritten = false;
    }

    /// The values recorded so far, with the dimensions and metadata, as a set of their own;
    /// this set keeps its metrics' definitions, dimensions and metadata, and records only
    /// later values from now on (so no value is written twice).
    pub(crate) fn take_values(&mut self) -> Self {
        let metrics: Vec<MetricEntry> = self.metrics[..self.live]
            .iter_mut()
            .map(|metric| MetricEntry {
                name: metric.name.clone(),
                unit: metric.unit,
                resolution: metric.resolution,
                values: std::mem::take(&mut metric.values),
            })
            .collect();
        let taken = Self {
            live: metrics.len(),
            metrics,
            dimensions: self.dimensions.clone(),
            metadata: self.metadata.clone(),
            metadata_unwritten: self.metadata_unwritten,
            spare_values: Vec::new(),
        };
        // The taken values' line carries the metadata as it stands.
        if !taken.is_empty() {
            self.metadata_unwritten = false;
        }
        taken
    }

    pub(crate) fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    pub(crate) fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// Records one value of a metric.
    #[inline]
    pub(crate) fn add_metric(
        &mut self,
        fixed: &[Dimension],
        name: Cow<'static, str>,
        unit: Unit,
        resolution: Resolution,
        value: f64,
    ) -> Result<(), MetricsError> {
        let recorded = Recorded::new(unit, resolution, value);
        match name {
            Cow::Borrowed(name) => self.add_static_metric(fixed, name, recorded),
            Cow::Owned(name) => self.add_owned_metric(fixed, name, recorded),
        }
    }

    /// [`add_metric`](Self::add_metric) of a metric named by `'static` text (a literal,
    /// mostly), handed over as the text itself: such a name may be one of the retired ones.
    ///
    /// Inlined where it is called for the case of nearly every invocation: the name is that
    /// of the next retired metric (metrics recorded in the order of the invocation before),
    /// and none of this set's.
    #[inline(always)]
    pub(crate) fn add_static_metric(
        &mut self,
        fixed: &[Dimension],
        name: &'static str,
        recorded: Recorded,
    ) -> Result<(), MetricsError> {
        let next_retired = self.metrics.get(self.live);
        if next_retired.is_some_and(|retired| retired.is_named(name)) && !self.has_live(name) {
            return self.revive_checked(fixed, self.live, name, recorded);
        }
        self.add_static_metric_apart(fixed, name, recorded)
    }

    /// [`add_static_metric`](Self::add_static_metric) of a name that is not the next retired
    /// one, or that this set has.
    #[inline(never)]
    fn add_static_metric_apart(
        &mut self,
        fixed: &[Dimension],
        name: &'static str,
        recorded: Recorded,
    ) -> Result<(), MetricsError> {
        if let Some(entry) = self.live_entry(name) {
            return entry.record(name, recorded);
        }
        if let Some(index) = self.retired_index(name) {
            return self.revive_checked(fixed, index, name, recorded);
        }
        self.add_new_metric(fixed, Cow::Borrowed(name), recorded)
    }

    /// Revives the retired metric at `index`, named `name`, with a value checked here: the
    /// name was valid and not reserved when it was first recorded; no metric of this set has
    /// it (looked for before). Always inlined: in the common case, where it is called.
    #[inline(always)]
    fn revive_checked(
        &mut self,
        fixed: &[Dimension],
        index: usize,
        name: &'static str,
        recorded: Recorded,
    ) -> Result<(), MetricsError> {
        recorded.check_value(name)?;
        if let Some(existing) = self.other_key_kind(fixed, name) {
            return Err(collision(name, existing, KeyKind::Metric));
        }
        self.revive(index, recorded);
        Ok(())
    }

    /// [`add_metric`](Self::add_metric) of a metric named by a `String`: never a retired one.
    #[inline(never)]
    pub(crate) fn add_owned_metric(
        &mut self,
        fixed: &[Dimension],
        name: String,
        recorded: Recorded,
    ) -> Result<(), MetricsError> {
        if let Some(entry) = self.live_entry(&name) {
            return entry.record(&name, recorded);
        }
        self.add_new_metric(fixed, Cow::Owned(name), recorded)
    }

    /// Whether this set has a metric named `name`.
    #[inline]
    fn has_live(&self, name: &str) -> bool {
        self.live().iter().any(|entry| entry.name == name)
    }

    /// This set's metric named `name`, if it has one.
    #[inline]
    fn live_entry(&mut self, name: &str) -> Option<&mut MetricEntry> {
        self.metrics[..self.live]
            .iter_mut()
            .find(|entry| entry.name == name)
    }

    /// Records the first value of a metric neither this set nor its retired ones have. Apart,
    /// so that recording a metric it has keeps to few registers.
    #[inline(never)]
    fn add_new_metric(
        &mut self,
        fixed: &[Dimension],
        name: Cow<'static, str>,
        recorded: Recorded,
    ) -> Result<(), MetricsError> {
        validate::metric_name(&name)?;
        recorded.check_value(&name)?;
        self.check_free(fixed, &name, KeyKind::Metric)?;
        let mut values = self.spare_values.pop().unwrap_or_default();
        values.push(recorded.value);
        self.metrics.push(MetricEntry {
            name,
            unit: recorded.unit,
            resolution: recorded.resolution,
            values,
        });
        // In front of the retired ones.
        let last = self.metrics.len() - 1;
        if last != self.live {
            self.metrics.swap(self.live, last);
        }
        self.live += 1;
        Ok(())
    }

    /// Where the retired metric named by `name` is.
    #[inline]
    fn retired_index(&self, name: &'static str) -> Option<usize> {
        self.metrics[self.live..]
            .iter()
            .position(|retired| retired.is_named(name))
            .map(|position| self.live + position)
    }

    /// Makes the retired metric at `index` this set's next one, with its first value.
    #[inline]
    fn revive(&mut self, index: usize, recorded: Recorded) {
        // Metrics recorded in the same order as before are revived in place.
        if index != self.live {
            self.metrics.swap(self.live, index);
        }
        let entry = &mut self.metrics[self.live];
        entry.unit = recorded.unit;
        entry.resolution = recorded.resolution;
        entry.values.push(recorded.value);
        self.live += 1;
    }

    /// Adds a dimension to the set, or replaces the value of one added before.
    pub(crate) fn add_dimension(
        &mut self,
        fixed: &[Dimension],
        name: Cow<'static, str>,
        value: Cow<'static, str>,
    ) -> Result<(), MetricsError> {
        validate::dimension(&name, &value)?;
        if let Some(existing) = self.dimensions.iter_mut().find(|d| d.name == name) {
            existing.value = value;
            return Ok(());
        }
        self.check_free(fixed, &name, KeyKind::Dimension)?;
        if fixed.len() + self.dimensions.len() >= MAX_DIMENSIONS {
            return Err(MetricsError::TooManyDimensions {
                name: name.into_owned(),
                limit: MAX_DIMENSIONS,
            });
        }
        self.dimensions.push(Dimension { name, value });
        Ok(())
    }

    /// Adds a metadata property, or replaces one added before.
    pub(crate) fn add_metadata(
        &mut self,
        fixed: &[Dimension],
        key: String,
        value: Value,
    ) -> Result<(), MetricsError> {
        validate::metadata_key(&key)?;
        if let Some(existing) = self.metadata.iter_mut().find(|(k, _)| *k == key) {
            existing.1 = value;
            self.metadata_unwritten = true;
            return Ok(());
        }
        self.check_free(fixed, &key, KeyKind::Metadata)?;
        self.metadata.push((key, value));
        self.metadata_unwritten = true;
        Ok(())
    }

    /// Fails if `key` is used by an entry of another kind (or is reserved). Inlined where
    /// keys are added, the error built apart.
    #[inline]
    fn check_free(
        &self,
        fixed: &[Dimension],
        key: &str,
        requested: KeyKind,
    ) -> Result<(), MetricsError> {
        match self.key_kind(fixed, key) {
            None => Ok(()),
            Some(existing) => Err(collision(key, existing, requested)),
        }
    }

    /// What `key` is used by, if anything (or whether it is reserved).
    fn key_kind(&self, fixed: &[Dimension], key: &str) -> Option<KeyKind> {
        if RESERVED_KEYS.contains(&key) {
            Some(KeyKind::Reserved)
        } else if self.live().iter().any(|m| m.name == key) {
            Some(KeyKind::Metric)
        } else {
            self.other_key_kind(fixed, key)
        }
    }

    /// What dimension or metadata property uses `key`, if any. Inlined where a retired
    /// metric is revived: for the few keys of most lines, a handful of comparisons.
    #[inline]
    fn other_key_kind(&self, fixed: &[Dimension], key: &str) -> Option<KeyKind> {
        let is_key = |dimension: &Dimension| dimension.name == key;
        if fixed.iter().any(is_key) || self.dimensions.iter().any(is_key) {
            Some(KeyKind::Dimension)
        } else if self.metadata.iter().any(|(k, _)| k == key) {
            Some(KeyKind::Metadata)
        } else {
            None
        }
    }

    /// Calls `line` once per EMF line needed: at most 100 metrics per line and at most 100
    /// values per metric, as CloudWatch requires. Nothing is called for an empty set.
    pub(crate) fn for_each_line(&self, mut line: impl FnMut(&[MetricSlice<'_>])) {
        // One metric is its own line; a few more are batched on the stack, in no more slots
        // than needed (each is filled before use), more in a vector.
        match self.live() {
            [] => {}
            // One metric whose values fit one line (an invocation's line, most often): that
            // line, without a batch to gather.
            [metric] if metric.values.len() <= MAX_PER_LINE => {
                if !metric.values.is_empty() {
                    line(&[metric.slice(&metric.values)]);
                }
            }
            [_] => self.batched(&mut [MetricSlice::EMPTY; 1], line),
            metrics if metrics.len() <= STACK_BATCH => {
                self.batched(&mut [MetricSlice::EMPTY; STACK_BATCH], line);
            }
            metrics => {
                let slots = metrics.len().min(MAX_PER_LINE);
                self.batched(&mut vec![MetricSlice::EMPTY; slots], line);
            }
        }
    }

    /// [`for_each_line`](Self::for_each_line), each line gathered in `slots` (at least as
    /// many as the metrics, or [`MAX_PER_LINE`]).
    fn batched<'a>(
        &'a self,
        slots: &mut [MetricSlice<'a>],
        mut line: impl FnMut(&[MetricSlice<'_>]),
    ) {
        let mut batch = Batch { slots, len: 0 };
        // Round after round of at most 100 values of each metric, while one has more.
        let mut round = 0;
        let mut more = true;
        while more {
            more = false;
            for metric in self.live() {
                let Some(values) = metric.values.get(round * MAX_PER_LINE..) else {
                    continue;
                };
                if values.is_empty() {
                    continue;
                }
                more |= values.len() > MAX_PER_LINE;
                batch.push(metric.slice(&values[..values.len().min(MAX_PER_LINE)]));
                if batch.len() == MAX_PER_LINE {
                    line(batch.as_slice());
                    batch.clear();
                }
            }
            if !batch.is_empty() {
                line(batch.as_slice());
                batch.clear();
            }
            round += 1;
        }
    }
}

#[cfg(test)]
impl MetricSet {
    /// The names of the retired metrics.
    fn retired_names(&self) -> Vec<&str> {
        self.metrics[self.live..]
            .iter()
            .map(|metric| &*metric.name)
            .collect()
    }
}

/// The error of a metric recorded under the name of `existing` with another unit or
/// resolution.
#[cold]
fn conflict(name: &str, existing: &MetricEntry, recorded: Recorded) -> MetricsError {
    if existing.unit != recorded.unit {
        MetricsError::UnitConflict {
            name: name.to_owned(),
            existing: existing.unit,
            requested: recorded.unit,
        }
    } else {
        MetricsError::ResolutionConflict {
            name: name.to_owned(),
            existing: existing.resolution,
            requested: recorded.resolution,
        }
    }
}

/// The error of a `requested` key that an entry of kind `existing` uses.
#[cold]
fn collision(key: &str, existing: KeyKind, requested: KeyKind) -> MetricsError {
    MetricsError::KeyCollision {
        key: key.to_owned(),
        existing,
        requested,
    }
}

/// Most metrics of a line batched without allocating.
const STACK_BATCH: usize = 16;

impl MetricSlice<'static> {
    const EMPTY: Self = Self {
        name: "",
        static_name: None,
        unit: Unit::None,
        resolution: Resolution::Standard,
        values: &[],
    };
}

/// The metrics of the line being gathered, in fixed slots.
struct Batch<'s, 'a> {
    slots: &'s mut [MetricSlice<'a>],
    len: usize,
}

impl<'a> Batch<'_, 'a> {
    fn push(&mut self, metric: MetricSlice<'a>) {
        self.slots[self.len] = metric;
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn as_slice(&self) -> &[MetricSlice<'a>] {
        &self.slots[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Vec<Dimension> {
        vec![Dimension::new("service", "payment")]
    }

    fn count(set: &mut MetricSet, name: &str, value: f64) -> Result<(), MetricsError> {
        set.add_metric(
            &service(),
            Cow::Owned(name.to_owned()),
            Unit::Count,
            Resolution::Standard,
            value,
        )
    }

    #[test]
    fn values_taken_are_not_written_twice() {
        let mut set = MetricSet::default();
        count(&mut set, "Orders", 1.0).unwrap();
        let taken = set.take_values();
        assert!(set.is_empty() && !taken.is_empty());
        count(&mut set, "Orders", 2.0).unwrap();
        let values = |set: &MetricSet| {
            let mut all = Vec::new();
            set.for_each_line(|metrics| all.extend_from_slice(metrics[0].values));
            all
        };
        assert_eq!((values(&taken), values(&set)), (vec![1.0], vec![2.0]));
    }

    #[test]
    fn static_names_are_checked_once_and_invalid_ones_each_time() {
        fn add(set: &mut MetricSet, name: &'static str) -> Result<(), MetricsError> {
            set.add_metric(
                &service(),
                name.into(),
                Unit::Count,
                Resolution::Standard,
                1.0,
            )
        }
        // One text, so that names share an address and differ in length only.
        const TEXT: &str = "Orders\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut set = MetricSet::default();
        for _ in 0..2 {
            add(&mut set, &TEXT[..6]).unwrap();
            for invalid in [&TEXT[..7], &TEXT[..0]] {
                assert!(matches!(
                    add(&mut set, invalid),
                    Err(MetricsError::InvalidMetricName { .. })
                ));
            }
            set.clear();
        }
        assert_eq!(set.retired_names(), [&TEXT[..6]]);
        // Names past the ones kept are checked each time, and still accepted.
        for end in 8..9 + RETIRED {
            add(&mut set, &TEXT[7..end]).unwrap();
        }
        set.clear();
        assert_eq!(set.retired_names().len(), RETIRED);
        for end in 8..9 + RETIRED {
            add(&mut set, &TEXT[7..end]).unwrap();
        }
    }

    #[test]
    fn retired_metrics_are_recorded_again_as_new_ones() {
        fn add(set: &mut MetricSet, name: &'static str, unit: Unit) -> Result<(), MetricsError> {
            set.add_metric(&service(), name.into(), unit, Resolution::Standard, 1.0)
        }
        fn written(set: &MetricSet) -> Vec<(String, Unit, usize)> {
            let mut all = Vec::new();
            set.for_each_line(|line| {
                all.extend(
                    line.iter()
                        .map(|m| (m.name.to_owned(), m.unit, m.values.len())),
                );
            });
            all
        }
        // Bound once, so that each name is one address.
        let (first, second, third) = ("First", "Second", "Third");
        let mut set = MetricSet::default();
        add(&mut set, first, Unit::Count).unwrap();
        add(&mut set, second, Unit::Count).unwrap();
        set.add_metadata(&service(), third.into(), 1.into())
            .unwrap();
        set.clear();
        assert!(set.is_empty() && written(&set).is_empty());
        assert_eq!(set.retired_names(), [first, second]);
        // Retired metrics are no keys of the new set.
        set.add_dimension(&service(), first.into(), "x".into())
            .unwrap();
        // Written in the order of this set, with this set's unit.
        add(&mut set, second, Unit::Seconds).unwrap();
        assert_eq!(set.retired_names(), [first]);
        add(&mut set, second, Unit::Seconds).unwrap();
        add(&mut set, third, Unit::Count).unwrap();
        assert!(matches!(
            add(&mut set, second, Unit::Count),
            Err(MetricsError::UnitConflict { .. })
        ));
        assert_eq!(
            add(&mut set, first, Unit::Count),
            Err(collision(first, KeyKind::Dimension, KeyKind::Metric))
        );
        assert_eq!(
            written(&set),
            [
                (second.to_owned(), Unit::Seconds, 2),
                (third.to_owned(), Unit::Count, 1)
            ]
        );
        let taken = set.take_values();
        assert_eq!(written(&taken).len(), 2);
        set.clear();
        assert_eq!(set.retired_names(), [second, third, first]);
        set.add_metadata(&service(), second.into(), 1.into())
            .unwrap();
        let nan = set.add_metric(
            &service(),
            second.into(),
            Unit::Count,
            Resolution::Standard,
            f64::NAN,
        );
        assert!(matches!(nan, Err(MetricsError::NonFiniteValue { .. })));
        assert_eq!(
            add(&mut set, second, Unit::Count),
            Err(collision(second, KeyKind::Metadata, KeyKind::Metric))
        );
        assert!(set.has_metadata_alone());
    }

    /// What a set keeps between invocations stays small, whatever one invocation recorded:
    /// a long value list or many metrics are not held on to for every later one.
    #[test]
    fn a_large_invocation_leaves_no_large_set_behind() {
        let mut set = MetricSet::default();
        for _ in 0..100_000 {
            set.add_metric(
                &service(),
                "Big".into(),
                Unit::Count,
                Resolution::Standard,
                1.0,
            )
            .unwrap();
            count(&mut set, "BigOwned", 1.0).unwrap();
        }
        for metric in 0..10_000 {
            count(&mut set, &format!("M{metric}"), 1.0).unwrap();
        }
        set.clear();
        let kept_values: usize = set
            .metrics
            .iter()
            .map(|metric| metric.values.capacity())
            .chain(set.spare_values.iter().map(Vec::capacity))
            .sum();
        assert!(
            kept_values <= (RETIRED + KEPT_SPARES) * KEPT_VALUES,
            "{kept_values} values kept"
        );
        assert!(
            set.spare_values.len() <= KEPT_SPARES,
            "{}",
            set.spare_values.len()
        );
        // And the set still records as before.
        set.add_metric(
            &service(),
            "Big".into(),
            Unit::Count,
            Resolution::Standard,
            2.0,
        )
        .unwrap();
        let mut lines = Vec::new();
        set.for_each_line(|metrics| lines.push((metrics.len(), metrics[0].values.to_vec())));
        assert_eq!(lines, [(1, vec![2.0])]);
    }

    #[test]
    fn values_of_one_metric_accumulate() {
        let mut set = MetricSet::default();
        count(&mut set, "Orders", 1.0).unwrap();
        count(&mut set, "Orders", 2.0).unwrap();
        let mut lines = Vec::new();
        set.for_each_line(|metrics| lines.push(metrics[0].values.to_vec()));
        assert_eq!(lines, [vec![1.0, 2.0]]);
    }

    #[test]
    fn unit_and_resolution_cannot_change_under_one_name() {
        let mut set = MetricSet::default();
        count(&mut set, "Latency", 1.0).unwrap();
        let unit = set.add_metric(
            &service(),
            "Latency".into(),
            Unit::Milliseconds,
            Resolution::Standard,
            2.0,
        );
        assert_eq!(
            unit,
            Err(MetricsError::UnitConflict {
                name: "Latency".into(),
                existing: Unit::Count,
                requested: Unit::Milliseconds,
            })
        );
        let resolution = set.add_metric(
            &service(),
            "Latency".into(),
            Unit::Count,
            Resolution::High,
            2.0,
        );
        assert!(matches!(
            resolution,
            Err(MetricsError::ResolutionConflict { .. })
        ));
    }

    #[test]
    fn keys_do_not_collide_across_kinds() {
        let mut set = MetricSet::default();
        count(&mut set, "Latency", 1.0).unwrap();
        set.add_dimension(&service(), "route".into(), "/book".into())
            .unwrap();
        set.add_metadata(&service(), "booking_id".into(), "abc".into())
            .unwrap();

        let collision = |result: Result<(), MetricsError>| match result {
            Err(MetricsError::KeyCollision {
                existing,
                requested,
                ..
            }) => (existing, requested),
            other => panic!("expected a collision, got {other:?}"),
        };
        assert_eq!(
            collision(set.add_dimension(&service(), "Latency".into(), "x".into())),
            (KeyKind::Metric, KeyKind::Dimension)
        );
        assert_eq!(
            collision(count(&mut set, "route", 1.0)),
            (KeyKind::Dimension, KeyKind::Metric)
        );
        assert_eq!(
            collision(set.add_metadata(&service(), "service".into(), "x".into())),
            (KeyKind::Dimension, KeyKind::Metadata)
        );
        assert_eq!(
            collision(count(&mut set, "booking_id", 1.0)),
            (KeyKind::Metadata, KeyKind::Metric)
        );
        assert_eq!(
            collision(set.add_metadata(&service(), "lambda_perf".into(), 1.into())),
            (KeyKind::Reserved, KeyKind::Metadata)
        );
        assert_eq!(
            collision(count(&mut set, "_aws", 1.0)),
            (KeyKind::Reserved, KeyKind::Metric)
        );
    }

    #[test]
    fn thirty_dimensions_including_fixed_ones() {
        let mut set = MetricSet::default();
        for i in 0..29 {
            set.add_dimension(&service(), format!("d{i}").into(), "v".into())
                .unwrap();
        }
        assert_eq!(
            set.add_dimension(&service(), "d29".into(), "v".into()),
            Err(MetricsError::TooManyDimensions {
                name: "d29".into(),
                limit: 30
            })
        );
        // Replacing the value of an existing dimension is not a new dimension.
        set.add_dimension(&service(), "d3".into(), "w".into())
            .unwrap();
        assert_eq!(set.dimensions().len(), 29);
    }

    #[test]
    fn splits_past_100_values_and_100_metrics() {
        let mut set = MetricSet::default();
        for i in 0..250 {
            count(&mut set, "Many", f64::from(i)).unwrap();
        }
        for i in 0..150 {
            count(&mut set, &format!("M{i}"), 1.0).unwrap();
        }
        let mut lines: Vec<Vec<(String, usize)>> = Vec::new();
        set.for_each_line(|metrics| {
            lines.push(
                metrics
                    .iter()
                    .map(|m| (m.name.to_owned(), m.values.len()))
                    .collect(),
            );
        });
        let shape: Vec<(usize, usize)> = lines
            .iter()
            .map(|line| (line.len(), line.iter().map(|(_, n)| n).sum()))
            .collect();
        // Round 0: "Many" (100 values) + 150 single metrics = 151 metrics -> 100 + 51.
        // Rounds 1 and 2: the remaining 100 and 50 values of "Many".
        assert_eq!(shape, [(100, 199), (51, 51), (1, 100), (1, 50)]);
        assert!(lines.iter().flatten().all(|(_, n)| *n <= MAX_PER_LINE));
    }

    #[test]
    fn every_number_of_metrics_is_batched_whole() {
        // One metric, a few, as many as the stack holds, one more, and past a line's worth.
        for metrics in [1, 2, STACK_BATCH, STACK_BATCH + 1, MAX_PER_LINE + 1] {
            let mut set = MetricSet::default();
            for i in 0..metrics {
                count(&mut set, &format!("M{i}"), 1.0).unwrap();
                count(&mut set, &format!("M{i}"), 2.0).unwrap();
            }
            set.clear();
            for i in 0..metrics {
                count(&mut set, &format!("N{i}"), 3.0).unwrap();
            }
            let mut written = Vec::new();
            set.for_each_line(|line| {
                assert!(line.len() <= MAX_PER_LINE);
                written.extend(line.iter().map(|m| (m.name.to_owned(), m.values.to_vec())));
            });
            let expected: Vec<_> = (0..metrics).map(|i| (format!("N{i}"), vec![3.0])).collect();
            assert_eq!(written, expected, "{metrics} metrics");
        }
    }

    #[test]
    fn one_metric_is_written_as_the_batches_write_it() {
        type Line = Vec<(String, Option<*const u8>, Unit, Resolution, Vec<f64>)>;
        fn line(metrics: &[MetricSlice<'_>]) -> Line {
            metrics
                .iter()
                .map(|m| {
                    let name = m.static_name.map(str::as_ptr);
                    (
                        m.name.to_owned(),
                        name,
                        m.unit,
                        m.resolution,
                        m.values.to_vec(),
                    )
                })
                .collect()
        }
        // No value (all taken), around a line's worth, and past two lines' worth.
        let counts = [
            0,
            1,
            2,
            MAX_PER_LINE - 1,
            MAX_PER_LINE,
            MAX_PER_LINE + 1,
            201,
        ];
        for values in counts {
            for name in [Cow::Borrowed("Orders"), Cow::Owned("Orders".to_owned())] {
                let mut set = MetricSet::default();
                for value in 0..values.max(1) {
                    let (unit, resolution) = (Unit::Bytes, Resolution::High);
                    set.add_metric(&service(), name.clone(), unit, resolution, value as f64)
                        .unwrap();
                }
                if values == 0 {
                    let _ = set.take_values();
                }
                let (mut written, mut batched) = (Vec::new(), Vec::new());
                set.for_each_line(|metrics| written.push(line(metrics)));
                set.batched(&mut [MetricSlice::EMPTY; 1], |metrics| {
                    batched.push(line(metrics));
                });
                assert_eq!(written, batched, "{values} values of {name:?}");
                assert_eq!(written.len(), values.div_ceil(MAX_PER_LINE));
            }
        }
    }

    #[test]
    fn an_empty_set_writes_no_line() {
        let set = MetricSet::default();
        let mut calls = 0;
        set.for_each_line(|_| calls += 1);
        assert_eq!(calls, 0);
        assert!(set.is_empty());
    }
}

/// A set kept across invocations, its literal names retired when it is cleared and revived
/// when recorded again, behaves as a fresh set per invocation would.
#[cfg(test)]
mod kept_across_invocations {
    use super::*;

    type Written = Vec<Vec<(String, Option<usize>, Unit, Resolution, Vec<f64>)>>;

    fn written(set: &MetricSet) -> Written {
        let mut all = Vec::new();
        set.for_each_line(|line| {
            all.push(
                line.iter()
                    .map(|m| {
                        (
                            m.name.to_owned(),
                            m.static_name.map(|s| s.as_ptr() as usize * 1000 + s.len()),
                            m.unit,
                            m.resolution,
                            m.values.to_vec(),
                        )
                    })
                    .collect(),
            );
        });
        all
    }

    const TEXT: &str = "abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn a_retired_name_is_told_apart_from_a_longer_one_at_its_address() {
        let fixed = vec![Dimension::new("service", "payment")];
        let (a, ab) = (&TEXT[..1], &TEXT[..2]);
        let mut set = MetricSet::default();
        set.add_metric(&fixed, a.into(), Unit::Count, Resolution::Standard, 1.0)
            .unwrap();
        set.add_metric(&fixed, ab.into(), Unit::Seconds, Resolution::Standard, 1.0)
            .unwrap();
        set.clear();
        set.add_metric(&fixed, ab.into(), Unit::Seconds, Resolution::Standard, 2.0)
            .unwrap();
        set.add_metric(&fixed, a.into(), Unit::Count, Resolution::High, 3.0)
            .unwrap();
        let lines = written(&set);
        let names: Vec<_> = lines[0]
            .iter()
            .map(|m| (m.0.clone(), m.2, m.3, m.4.clone()))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "ab".to_owned(),
                    Unit::Seconds,
                    Resolution::Standard,
                    vec![2.0]
                ),
                ("a".to_owned(), Unit::Count, Resolution::High, vec![3.0])
            ]
        );
        assert!(matches!(
            set.add_metric(&fixed, a.into(), Unit::Count, Resolution::Standard, 1.0),
            Err(MetricsError::ResolutionConflict { .. })
        ));
    }

    /// The next retired metric is revived at once only for its own name: not for a shorter
    /// or longer text at its address, nor for a name this set already has; with the unit and
    /// resolution given now, the value and collisions checked as for a fresh set.
    #[test]
    fn the_next_retired_metric_is_revived_only_for_its_own_name() {
        let fixed = vec![Dimension::new("service", "payment")];
        let (a, ab, abc) = (&TEXT[..1], &TEXT[..2], &TEXT[..3]);
        let add = |set: &mut MetricSet, name: &'static str, unit: Unit, value: f64| {
            set.add_metric(&fixed, name.into(), unit, Resolution::Standard, value)
        };
        let mut set = MetricSet::default();
        add(&mut set, ab, Unit::Count, 1.0).unwrap();
        add(&mut set, abc, Unit::Count, 1.0).unwrap();
        set.clear();
        assert_eq!(set.retired_names(), [ab, abc]);
        // A longer text at the address of the next retired one is another (retired) metric,
        // a shorter one a new metric.
        add(&mut set, abc, Unit::Seconds, 3.0).unwrap();
        assert_eq!(set.retired_names(), [ab]);
        add(&mut set, a, Unit::Seconds, 2.0).unwrap();
        assert_eq!(set.retired_names(), [ab]);
        // The next retired one, under another unit than before, then again under another.
        add(&mut set, ab, Unit::Bytes, 4.0).unwrap();
        assert_eq!(
            add(&mut set, ab, Unit::Count, 5.0),
            Err(MetricsError::UnitConflict {
                name: "ab".into(),
                existing: Unit::Bytes,
                requested: Unit::Count,
            })
        );
        add(&mut set, ab, Unit::Bytes, 6.0).unwrap();
        assert_eq!(
            written(&set)[0]
                .iter()
                .map(|m| (m.0.clone(), m.2, m.4.clone()))
                .collect::<Vec<_>>(),
            [
                ("abc".to_owned(), Unit::Seconds, vec![3.0]),
                ("a".to_owned(), Unit::Seconds, vec![2.0]),
                ("ab".to_owned(), Unit::Bytes, vec![4.0, 6.0]),
            ]
        );
        set.clear();
        // A refused value, a dimension and a metadata property of its name: refused as a
        // fresh set refuses them, and the retired metric is still there afterwards.
        assert_eq!(set.retired_names(), [abc, a, ab]);
        let static_next = abc;
        assert!(matches!(
            add(&mut set, static_next, Unit::Count, f64::NAN),
            Err(MetricsError::NonFiniteValue { .. })
        ));
        assert!(matches!(
            add(&mut set, static_next, Unit::Count, 1e-300),
            Err(MetricsError::ValueOutOfRange { .. })
        ));
        set.add_dimension(&fixed, static_next.into(), "v".into())
            .unwrap();
        assert_eq!(
            add(&mut set, static_next, Unit::Count, 1.0),
            Err(collision(static_next, KeyKind::Dimension, KeyKind::Metric))
        );
        assert_eq!(set.retired_names(), [abc, a, ab]);
        assert!(set.is_empty());
        set.clear();
        set.add_metadata(&fixed, static_next.to_owned(), 1.into())
            .unwrap();
        assert_eq!(
            add(&mut set, static_next, Unit::Count, 1.0),
            Err(collision(static_next, KeyKind::Metadata, KeyKind::Metric))
        );
        set.clear();
        // A fixed dimension of its name (other fixed dimensions than before).
        let other_fixed = vec![Dimension::new(static_next, "x")];
        assert_eq!(
            set.add_metric(
                &other_fixed,
                static_next.into(),
                Unit::Count,
                Resolution::Standard,
                1.0
            ),
            Err(collision(static_next, KeyKind::Dimension, KeyKind::Metric))
        );
        // An owned name of the same text is no retired one, yet the same metric once live.
        add(&mut set, static_next, Unit::Count, 1.0).unwrap();
        set.add_metric(
            &fixed,
            static_next.to_owned().into(),
            Unit::Count,
            Resolution::Standard,
            2.0,
        )
        .unwrap();
        assert_eq!(written(&set)[0][0].4, [1.0, 2.0]);
    }

    /// A long-lived set, cleared between invocations, against a fresh set per invocation:
    /// random metrics (literal and owned names, reserved and invalid ones, changing units and
    /// resolutions, more than a line's values), dimensions and metadata; the same results,
    /// lines and takes, and what the cleared set keeps stays bounded and empty.
    #[test]
    fn a_long_lived_set_does_what_a_fresh_set_per_invocation_does() {
        const MORE: &str = "Orders Latency service _aws lambda_perf Bad\nName M0 M1 M2 M3 M4 M5 M6 M7 M8 M9 N0 N1 N2 N3 N4 N5 N6 N7 N8 N9";
        let mut pool: Vec<&'static str> = MORE.split(' ').collect();
        pool.extend([
            &TEXT[..1],
            &TEXT[..2],
            &TEXT[..3],
            &TEXT[1..3],
            "Orders",
            "",
        ]);
        let fixed = vec![Dimension::new("service", "payment")];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as usize) % n
        };
        let mut long = MetricSet::default();
        for invocation in 0..3000 {
            let mut fresh = MetricSet::default();
            if invocation % 97 == 0 {
                for i in 0..120 {
                    let n = format!("X{i}");
                    long.add_metric(
                        &fixed,
                        n.clone().into(),
                        Unit::Count,
                        Resolution::Standard,
                        1.0,
                    )
                    .unwrap();
                    fresh
                        .add_metric(&fixed, n.into(), Unit::Count, Resolution::Standard, 1.0)
                        .unwrap();
                }
            }
            let ops = next(40);
            for _ in 0..ops {
                let name = pool[next(pool.len())];
                let unit = [Unit::Count, Unit::Seconds][next(2)];
                let resolution = [Resolution::Standard, Resolution::High][next(2)];
                // Not NaN: NaN != NaN would fail the comparison of equal errors.
                let value = [1.0, 2.0, f64::INFINITY, 1e200][next(4)];
                let kind = next(20);
                let (a, b) = match kind {
                    0..=11 => {
                        let many = if next(30) == 0 { 150 } else { 1 };
                        let mut r = (Ok(()), Ok(()));
                        for _ in 0..many {
                            r = (
                                long.add_metric(&fixed, name.into(), unit, resolution, value),
                                fresh.add_metric(&fixed, name.into(), unit, resolution, value),
                            );
                        }
                        r
                    }
                    12..=13 => (
                        long.add_metric(&fixed, name.to_owned().into(), unit, resolution, value),
                        fresh.add_metric(&fixed, name.to_owned().into(), unit, resolution, value),
                    ),
                    14..=15 => (
                        long.add_dimension(&fixed, name.into(), "v".into()),
                        fresh.add_dimension(&fixed, name.into(), "v".into()),
                    ),
                    16..=17 => (
                        long.add_metadata(&fixed, name.to_owned(), 1.into()),
                        fresh.add_metadata(&fixed, name.to_owned(), 1.into()),
                    ),
                    _ => {
                        let (taken, taken_fresh) = (long.take_values(), fresh.take_values());
                        assert_eq!(written(&taken), written(&taken_fresh));
                        assert_eq!(taken.is_empty(), taken_fresh.is_empty());
                        assert_eq!(taken.has_metadata_alone(), taken_fresh.has_metadata_alone());
                        (Ok(()), Ok(()))
                    }
                };
                assert_eq!(a, b, "invocation {invocation}, {name:?} kind {kind}");
            }
            assert_eq!(written(&long), written(&fresh), "invocation {invocation}");
            assert_eq!(long.is_empty(), fresh.is_empty());
            assert_eq!(long.has_metadata_alone(), fresh.has_metadata_alone());
            assert_eq!(long.dimensions().len(), fresh.dimensions().len());
            assert_eq!(long.metadata(), fresh.metadata());
            long.clear();
            assert!(long.metrics.len() <= RETIRED);
            assert!(long.metrics.iter().all(|m| m.values.is_empty()));
        }
    }
}
