//! The directive of the latest EMF line, kept for the next one.
//!
//! From `,"CloudWatchMetrics"` to the last dimension's value, a line depends only on its
//! namespace, its dimensions and its metric definitions: the same from one warm invocation to
//! the next. The cache compares what the directive depends on (a copy, not a scan for
//! escapes) and copies the bytes it wrote last time when nothing changed. A line with a fixed
//! head, no dimensions of its own and `'static` metric names only (an invocation's line, most
//! often) is recognised sooner, by the head's identity and the names' addresses, without its
//! key being written.

use std::num::NonZeroU64;

use super::set::MetricSlice;
use super::{Resolution, Unit};

/// Keys longer than this (a directive of many long names) are not kept: such a directive is
/// written anew each time. The directive itself is at most a few bytes per key byte longer.
const KEPT_BYTES: usize = 16 * 1024;

/// What the directive of a line with a fixed head and no dimensions of its own depends on,
/// besides its metric definitions: the identity of the head (its namespace and dimensions).
#[derive(Clone, Copy, Debug)]
pub(crate) struct QuickKey<'a> {
    /// The identity of the line's [`FixedHead`](super::head::FixedHead).
    pub(crate) head: NonZeroU64,
    /// The line's metrics, whose definitions the directive lists.
    pub(crate) metrics: &'a [MetricSlice<'a>],
}

/// A metric definition with a `'static` name: the same address and length, the same text,
/// which never changes (as the metric set's retired metrics rely on too).
#[derive(Clone, Copy, Debug)]
struct StaticDefinition {
    name: &'static str,
    unit: Unit,
    resolution: Resolution,
}

impl StaticDefinition {
    /// `metric`'s definition, if its name is `'static`.
    fn of(metric: &MetricSlice<'_>) -> Option<Self> {
        Some(Self {
            name: metric.static_name?,
            unit: metric.unit,
            resolution: metric.resolution,
        })
    }

    /// Whether `metric` is defined so: its name at the same address, with the same length.
    fn defines(&self, metric: &MetricSlice<'_>) -> bool {
        metric
            .static_name
            .is_some_and(|name| std::ptr::eq(name, self.name))
            && metric.unit == self.unit
            && metric.resolution == self.resolution
    }
}

/// What comes before each metric's values in a line, `,"name":[`, written with the directive
/// that lists the same metrics, in the same order, and kept with it.
#[derive(Debug, Default)]
pub(crate) struct ValueKeys {
    text: Vec<u8>,
    /// Where each metric's text ends in `text`.
    ends: Vec<usize>,
}

impl ValueKeys {
    /// Adds the next metric's text, as `write` writes it.
    pub(crate) fn push(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.text);
        self.ends.push(self.text.len());
    }

    /// The text of the metric at `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        self.text.get(start..end)
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// The directive bytes of the latest line written through the cache, with what they depend
/// on.
#[derive(Debug, Default)]
pub(crate) struct DirectiveCache {
    /// What `bytes` were written from.
    key: Vec<u8>,
    /// The key of the line being written, compared with `key`.
    candidate: Vec<u8>,
    bytes: Vec<u8>,
    /// The text before each metric's values, for the metrics `bytes` list.
    value_keys: ValueKeys,
    /// The head `bytes` were written for, when they were written for a [`QuickKey`] with
    /// `'static` names only; then `quick_definitions` are its metrics' definitions.
    quick_head: Option<NonZeroU64>,
    quick_definitions: Vec<StaticDefinition>,
}

impl DirectiveCache {
    pub(crate) const fn new() -> Self {
        Self {
            key: Vec::new(),
            candidate: Vec::new(),
            bytes: Vec::new(),
            value_keys: ValueKeys {
                text: Vec::new(),
                ends: Vec::new(),
            },
            quick_head: None,
            quick_definitions: Vec::new(),
        }
    }

    /// Appends a line's directive to `out`: the kept bytes when they were written for `quick`
    /// (the line's directive in a form recognised at a glance, if it has one), or when
    /// `write_key` writes the key they were written for (the latest line's namespace,
    /// dimensions and definitions); else what `write_directive` writes, kept for the next
    /// line with the value keys it writes (when it is given where). Returns the value keys of
    /// the line's metrics when they are kept.
    pub(crate) fn write(
        &mut self,
        out: &mut Vec<u8>,
        quick: Option<QuickKey<'_>>,
        write_key: impl FnOnce(&mut Vec<u8>),
        write_directive: impl FnOnce(&mut Vec<u8>, Option<&mut ValueKeys>),
    ) -> Option<&ValueKeys> {
        if quick.is_some_and(|quick| self.recognises(quick)) {
            out.extend_from_slice(&self.bytes);
            return Some(&self.value_keys);
        }
        self.candidate.clear();
        write_key(&mut self.candidate);
        if self.candidate.len() > KEPT_BYTES {
            // Too large to keep (hundreds of long names): written as it is, every time.
            self.candidate = Vec::new();
            write_directive(out, None);
            return None;
        }
        if self.candidate != self.key {
            self.bytes.clear();
            self.value_keys.clear();
            write_directive(&mut self.bytes, Some(&mut self.value_keys));
            std::mem::swap(&mut self.key, &mut self.candidate);
        }
        self.remember(quick);
        out.extend_from_slice(&self.bytes);
        Some(&self.value_keys)
    }

    /// Whether the kept bytes were written for `quick`: the same head, and the same
    /// definitions with `'static` names.
    fn recognises(&self, quick: QuickKey<'_>) -> bool {
        self.quick_head == Some(quick.head)
            && self.quick_definitions.len() == quick.metrics.len()
            && self
                .quick_definitions
                .iter()
                .zip(quick.metrics)
                .all(|(definition, metric)| definition.defines(metric))
    }

    /// Remembers `quick` as what the kept bytes were written for, when its names are all
    /// `'static`; else that they have no quick key.
    fn remember(&mut self, quick: Option<QuickKey<'_>>) {
        self.quick_head = None;
        self.quick_definitions.clear();
        let Some(quick) = quick else {
            return;
        };
        for metric in quick.metrics {
            let Some(definition) = StaticDefinition::of(metric) else {
                self.quick_definitions.clear();
                return;
            };
            self.quick_definitions.push(definition);
        }
        self.quick_head = Some(quick.head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(directives: &mut DirectiveCache, key: &[u8], bytes: &[u8]) -> (Vec<u8>, bool) {
        let (out, _, wrote) = written_quick(directives, None, key, bytes);
        (out, wrote)
    }

    /// What `directives` append for a line of `quick` (if any), `key` and `bytes`, whether
    /// the key was written, and whether the directive was.
    fn written_quick(
        directives: &mut DirectiveCache,
        quick: Option<QuickKey<'_>>,
        key: &[u8],
        bytes: &[u8],
    ) -> (Vec<u8>, bool, bool) {
        let mut out = Vec::new();
        let (mut keyed, mut wrote) = (false, false);
        directives.write(
            &mut out,
            quick,
            |into| {
                keyed = true;
                into.extend_from_slice(key);
            },
            |into, _| {
                wrote = true;
                into.extend_from_slice(bytes);
            },
        );
        (out, keyed, wrote)
    }

    fn metric<'a>(name: &'a str, static_name: Option<&'static str>, unit: Unit) -> MetricSlice<'a> {
        MetricSlice {
            name,
            static_name,
            unit,
            resolution: Resolution::Standard,
            values: &[1.0],
        }
    }

    #[test]
    fn a_quick_key_is_recognised_by_its_head_and_the_addresses_of_its_names() {
        // One text, so that names share an address and differ in length only, and the same
        // name is found at another address.
        const TEXT: &str = "OrdersOrders";
        let (orders, elsewhere, prefix) = (&TEXT[..6], &TEXT[6..], &TEXT[..5]);
        let head = NonZeroU64::new(1).unwrap();
        let other_head = NonZeroU64::new(2).unwrap();
        let mut directives = DirectiveCache::new();
        let quick = |head, metrics| Some(QuickKey { head, metrics });
        let kept = [metric(orders, Some(orders), Unit::Count)];
        assert_eq!(
            written_quick(&mut directives, quick(head, &kept), b"k", b"D"),
            (b"D".to_vec(), true, true)
        );
        assert_eq!(
            written_quick(&mut directives, quick(head, &kept), b"k", b"no"),
            (b"D".to_vec(), false, false),
            "recognised without its key"
        );
        // Not recognised right after `kept` was: the key decides, whatever it is.
        let high_resolution = [MetricSlice {
            resolution: Resolution::High,
            ..kept[0]
        }];
        let not_static = [metric(orders, None, Unit::Count)];
        let two = [kept[0], kept[0]];
        let unlike: [(NonZeroU64, &[MetricSlice<'_>]); 8] = [
            (head, &[metric(elsewhere, Some(elsewhere), Unit::Count)]),
            (head, &[metric(prefix, Some(prefix), Unit::Count)]),
            (head, &[metric(orders, Some(orders), Unit::Bytes)]),
            (head, &high_resolution),
            (head, &not_static),
            (other_head, &kept),
            (head, &two),
            (head, &[]),
        ];
        for (line_head, metrics) in unlike {
            written_quick(&mut directives, quick(head, &kept), b"k", b"");
            let (_, keyed, _) = written_quick(&mut directives, quick(head, &kept), b"k", b"");
            assert!(!keyed, "`kept` is the line recognised");
            let (_, keyed, _) =
                written_quick(&mut directives, quick(line_head, metrics), b"k", b"");
            assert!(keyed, "{line_head} {metrics:?}");
        }
        // The latest line written is the one recognised: its key the same, its bytes kept.
        assert_eq!(
            written_quick(&mut directives, quick(head, &kept), b"k", b"no"),
            (b"D".to_vec(), true, false)
        );
        assert_eq!(
            written_quick(&mut directives, quick(head, &kept), b"k", b"no"),
            (b"D".to_vec(), false, false)
        );
        // A line without a quick key, or with a name that is not `'static`, leaves none.
        written_quick(&mut directives, None, b"k", b"");
        let (_, keyed, _) = written_quick(&mut directives, quick(head, &kept), b"k", b"");
        assert!(keyed, "after a line without a quick key");
        written_quick(&mut directives, quick(head, &not_static), b"k", b"");
        let (_, keyed, _) = written_quick(&mut directives, quick(head, &kept), b"k", b"");
        assert!(keyed, "after a name that is not 'static");
        // A directive too large to keep leaves the kept one, and its quick key, in place.
        let large = vec![b'x'; KEPT_BYTES + 1];
        written_quick(&mut directives, quick(other_head, &kept), &large, b"L");
        assert_eq!(
            written_quick(&mut directives, quick(head, &kept), b"k", b"no"),
            (b"D".to_vec(), false, false)
        );
    }

    #[test]
    fn value_keys_are_kept_with_their_directive() {
        let mut directives = DirectiveCache::new();
        let write = |directives: &mut DirectiveCache, key: &[u8], names: &[&str]| {
            let mut out = Vec::new();
            let kept = directives.write(
                &mut out,
                None,
                |into| into.extend_from_slice(key),
                |_, value_keys| {
                    if let Some(value_keys) = value_keys {
                        for name in names {
                            value_keys.push(|into| into.extend_from_slice(name.as_bytes()));
                        }
                    }
                },
            );
            kept.map(|kept| {
                (0..3)
                    .map(|index| kept.get(index).map(<[u8]>::to_vec))
                    .collect::<Vec<_>>()
            })
        };
        let (a, bc) = (Some(b"a".to_vec()), Some(b"bc".to_vec()));
        let kept = Some(vec![a.clone(), bc.clone(), None]);
        assert_eq!(write(&mut directives, b"k", &["a", "bc"]), kept);
        assert_eq!(write(&mut directives, b"k", &["ignored"]), kept, "kept");
        assert_eq!(
            write(&mut directives, b"other", &["c"]),
            Some(vec![Some(b"c".to_vec()), None, None])
        );
        let large = vec![b'x'; KEPT_BYTES + 1];
        assert_eq!(write(&mut directives, &large, &["a"]), None, "not kept");
    }

    #[test]
    fn a_directive_is_written_once_per_key_in_a_row() {
        let mut directives = DirectiveCache::new();
        assert_eq!(written(&mut directives, b"a", b"A"), (b"A".to_vec(), true));
        assert_eq!(
            written(&mut directives, b"a", b"ignored"),
            (b"A".to_vec(), false)
        );
        assert_eq!(
            written(&mut directives, b"ab", b"AB"),
            (b"AB".to_vec(), true)
        );
        assert_eq!(
            written(&mut directives, b"a", b"A2"),
            (b"A2".to_vec(), true)
        );
        let large = vec![b'x'; KEPT_BYTES + 1];
        for _ in 0..2 {
            let (out, wrote) = written(&mut directives, &large, b"L");
            assert_eq!(
                (out, wrote),
                (b"L".to_vec(), true),
                "written anew each time"
            );
        }
        assert!(
            directives.candidate.capacity() <= KEPT_BYTES,
            "a large key is not kept"
        );
        // The directive kept before is still there.
        assert_eq!(
            written(&mut directives, b"a", b"no"),
            (b"A2".to_vec(), false)
        );
        // A key that ends where the kept one goes on, or goes on past it, is another key.
        assert!(written(&mut directives, b"", b"E").1, "written anew");
        assert!(written(&mut directives, b"a", b"A3").1, "written anew");
        assert!(written(&mut directives, b"ab", b"AB2").1, "written anew");
    }
}
