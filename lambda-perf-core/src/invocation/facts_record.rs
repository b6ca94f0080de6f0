//! How the `lambda_perf` facts of an invocation are written: the record, by hand, as its
//! derived `Serialize` would write it; and written once at the end for every output.

use std::ops::Range;

use serde::Serialize;

use super::StartKind;
use super::outcome::Outcome;
use super::resources::ResourceUse;
use crate::drops::Dropped;
use crate::formats::json::{
    Float, MemberKey, WriteJson, is_plain_text, push_bool, push_count, push_key, push_str, push_u64,
};
use crate::formats::padded::PaddedText;
use crate::formats::time::Millis;

/// The `lambda_perf` member of an EMF line. Durations are milliseconds with microsecond
/// precision.
#[derive(Debug, Serialize)]
pub(crate) struct FactsRecord<'a> {
    pub(super) start_kind: StartKind,
    pub(super) invocation: u64,
    pub(super) request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) idle_gap_ms: Option<Millis>,
    pub(super) environment_age_ms: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) init_duration_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) first_request_wait_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) duration_ms: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) deadline_headroom_ms: Option<Millis>,
    /// How it ended, by name ([`Outcome::as_str`]).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "outcome_name"
    )]
    pub(super) outcome: Option<&'a Outcome>,
    /// CPU time the process used during the invocation, in ms (when measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cpu_time_ms: Option<f64>,
    /// The process's peak resident memory, in MB (when measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) peak_rss_mb: Option<f64>,
    /// CPU time over duration (when measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cpu_ratio: Option<f64>,
    /// `cpu_ratio` over the vCPUs the memory size allots (when measured and the size is
    /// known): near 1, CPU-bound; near 0, waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cpu_allotment_used: Option<f64>,
    /// Set when the invocation ended after its deadline (Lambda Managed Instances do not
    /// stop an invocation at its deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) past_deadline: Option<bool>,
    /// What lambda-perf dropped or trimmed since the previous record of this kind, per cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dropped: Option<Dropped>,
}

/// An outcome as the record names it.
fn outcome_name<S: serde::Serializer>(
    outcome: &Option<&Outcome>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    outcome.map(Outcome::as_str).serialize(serializer)
}

/// The record's opening up to the invocation's index, `{"start_kind":"warm","invocation":`:
/// one fixed text, for what [`StartKind::as_str`] names.
fn opening(kind: StartKind) -> &'static PaddedText<40> {
    const COLD: PaddedText<40> = PaddedText::new(br#"{"start_kind":"cold","invocation":"#);
    const RESTART: PaddedText<40> = PaddedText::new(br#"{"start_kind":"restart","invocation":"#);
    const WARM: PaddedText<40> = PaddedText::new(br#"{"start_kind":"warm","invocation":"#);
    const PREWARMED: PaddedText<40> =
        PaddedText::new(br#"{"start_kind":"prewarmed","invocation":"#);
    const RESTORED: PaddedText<40> = PaddedText::new(br#"{"start_kind":"restored","invocation":"#);
    match kind {
        StartKind::Cold => &COLD,
        StartKind::Restart => &RESTART,
        StartKind::Warm => &WARM,
        StartKind::Prewarmed => &PREWARMED,
        StartKind::Restored => &RESTORED,
    }
}

/// The `outcome` member, `,"outcome":"success"`: one fixed text, for what
/// [`Outcome::as_str`] names.
fn outcome_member(outcome: &Outcome) -> &'static PaddedText<24> {
    const SUCCESS: PaddedText<24> = PaddedText::new(br#","outcome":"success""#);
    const ERROR: PaddedText<24> = PaddedText::new(br#","outcome":"error""#);
    const PANIC: PaddedText<24> = PaddedText::new(br#","outcome":"panic""#);
    const CANCELLED: PaddedText<24> = PaddedText::new(br#","outcome":"cancelled""#);
    const TIMEOUT: PaddedText<24> = PaddedText::new(br#","outcome":"timeout""#);
    match outcome {
        Outcome::Success(_) => &SUCCESS,
        Outcome::Error(_) => &ERROR,
        Outcome::Panic(_) => &PANIC,
        Outcome::Cancelled => &CANCELLED,
        Outcome::Timeout => &TIMEOUT,
    }
}

/// The `request_id` member, `,"request_id":"…"`. The ids Lambda gives are UUIDs, 36 bytes
/// that need no escape: those are copied at their fixed size, without a call; any other
/// (a test's, a future format's) is escaped as any string.
fn push_request_id(out: &mut Vec<u8>, id: &str) {
    const UUID_LEN: usize = 36;
    out.extend_from_slice(b",\"request_id\":");
    match <&[u8; UUID_LEN]>::try_from(id.as_bytes()) {
        Ok(uuid) if is_plain_text(uuid) => {
            out.push(b'"');
            out.extend_from_slice(uuid);
            out.push(b'"');
        }
        _ => push_str(out, id),
    }
}

/// The same JSON as the derived `Serialize`, written by hand: every invocation writes it.
impl WriteJson for FactsRecord<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        self.write_members(out, None);
        close_with_dropped(out, self.dropped.as_ref());
    }
}

impl FactsRecord<'_> {
    /// The opening brace and every member but `dropped` (the last one); returns where
    /// `init_duration_ms` is, with its comma, in `out` (an empty range without it). That
    /// member is copied from `kept_init` when it was kept for the same duration, and kept
    /// there otherwise.
    fn write_members(&self, out: &mut Vec<u8>, kept_init: Option<&mut KeptMember>) -> Range<usize> {
        /// `,"key":value`, with `member` the literal `,"key":`.
        fn member(out: &mut Vec<u8>, member: &[u8], value: Option<impl WriteJson>) {
            if let Some(value) = value {
                out.extend_from_slice(member);
                value.write_json(out);
            }
        }
        /// `,"key":duration`, when there is one (inlined, as what it calls is).
        #[inline(always)]
        fn millis(out: &mut Vec<u8>, key: &MemberKey, value: Option<Millis>) {
            if let Some(value) = value {
                value.write_member(out, key);
            }
        }
        const IDLE_GAP: MemberKey = MemberKey::new("idle_gap_ms");
        const ENVIRONMENT_AGE: MemberKey = MemberKey::new("environment_age_ms");
        const INIT_DURATION: MemberKey = MemberKey::new("init_duration_ms");
        const FIRST_REQUEST_WAIT: MemberKey = MemberKey::new("first_request_wait_ms");
        const DURATION: MemberKey = MemberKey::new("duration_ms");
        const DEADLINE_HEADROOM: MemberKey = MemberKey::new("deadline_headroom_ms");
        opening(self.start_kind).push_to(out);
        push_count(out, self.invocation);
        push_request_id(out, self.request_id);
        millis(out, &IDLE_GAP, self.idle_gap_ms);
        self.environment_age_ms.write_member(out, &ENVIRONMENT_AGE);
        let init_start = out.len();
        if let Some(init) = self.init_duration_ms {
            match kept_init {
                Some(kept) if kept.value == Some(init) => kept.push_to(out),
                kept => {
                    init.write_rare_member(out, &INIT_DURATION);
                    if let Some(kept) = kept {
                        kept.keep(init, &out[init_start..]);
                    }
                }
            }
        }
        let init_duration = init_start..out.len();
        if let Some(wait) = self.first_request_wait_ms {
            wait.write_rare_member(out, &FIRST_REQUEST_WAIT);
        }
        millis(out, &DURATION, self.duration_ms);
        millis(out, &DEADLINE_HEADROOM, self.deadline_headroom_ms);
        if let Some(outcome) = self.outcome {
            outcome_member(outcome).push_to(out);
        }
        member(out, b",\"cpu_time_ms\":", self.cpu_time_ms.map(Float));
        member(out, b",\"peak_rss_mb\":", self.peak_rss_mb.map(Float));
        member(out, b",\"cpu_ratio\":", self.cpu_ratio.map(Float));
        member(
            out,
            b",\"cpu_allotment_used\":",
            self.cpu_allotment_used.map(Float),
        );
        if let Some(past) = self.past_deadline {
            out.extend_from_slice(b",\"past_deadline\":");
            push_bool(out, past);
        }
        init_duration
    }
}

/// The `dropped` member, when there is one, and the closing brace. Inlined: most records
/// have no `dropped`, and then this is one byte.
#[inline]
fn close_with_dropped(out: &mut Vec<u8>, dropped: Option<&Dropped>) {
    if let Some(dropped) = dropped {
        write_dropped(out, dropped);
    }
    out.push(b'}');
}

/// The `dropped` member, its counts by cause.
fn write_dropped(out: &mut Vec<u8>, Dropped(counts): &Dropped) {
    out.extend_from_slice(b",\"dropped\":{");
    for (index, (cause, count)) in counts.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_key(out, cause);
        push_u64(out, *count);
    }
    out.push(b'}');
}

/// A duration member as last written (`,"init_duration_ms":3.685`), copied again while the
/// duration is the same: init's is, on every warm invocation of an environment.
#[derive(Debug)]
struct KeptMember {
    /// The duration `text` was written for; `None` when nothing is kept.
    value: Option<Millis>,
    text: PaddedText<{ KeptMember::SIZE }>,
}

impl KeptMember {
    /// Room for the longest member (a key of 20 bytes and the longest number).
    const SIZE: usize = 48;

    /// Appends the kept member: one copy of a fixed size, cut to length.
    fn push_to(&self, out: &mut Vec<u8>) {
        self.text.push_to(out);
    }

    /// Keeps `member`, written for `value` (nothing, if it does not fit).
    fn keep(&mut self, value: Millis, member: &[u8]) {
        self.value = None;
        if member.len() <= Self::SIZE {
            self.text = PaddedText::new(member);
            self.value = Some(value);
        }
    }
}

impl Default for KeptMember {
    fn default() -> Self {
        Self {
            value: None,
            text: PaddedText::new(b""),
        }
    }
}

/// The facts record of an invocation's end, written once for every output that carries it
/// (its EMF line, its handler subsegment): all of it but `dropped`, which each kind of record
/// reports on its own, and where `init_duration_ms` is, which a subsegment leaves out after
/// the first invocation.
#[derive(Debug, Default)]
pub(crate) struct WrittenFacts {
    members: Vec<u8>,
    init_duration: Range<usize>,
    /// The `init_duration_ms` member last written.
    kept_init: KeptMember,
}

impl WrittenFacts {
    /// Writes `record` (its `dropped` aside), in place of what was written before.
    pub(crate) fn write(&mut self, record: &FactsRecord<'_>) {
        self.members.clear();
        self.init_duration = record.write_members(&mut self.members, Some(&mut self.kept_init));
    }

    /// Nothing written: the record of an end that no output carries (an empty record, if
    /// one is asked for all the same).
    pub(crate) fn clear(&mut self) {
        self.members.clear();
        self.init_duration = 0..0;
    }

    /// The record as one output carries it: with the drops it reports, with or without
    /// init's duration.
    pub(crate) fn record(
        &self,
        dropped: Option<Dropped>,
        init_duration: bool,
    ) -> WrittenRecord<'_> {
        WrittenRecord {
            written: self,
            dropped,
            init_duration,
        }
    }
}

/// A [`WrittenFacts`] as one output carries it.
#[derive(Debug)]
pub(crate) struct WrittenRecord<'a> {
    written: &'a WrittenFacts,
    dropped: Option<Dropped>,
    init_duration: bool,
}

impl WrittenRecord<'_> {
    /// The drops it reports, given back (its record did not get out).
    pub(crate) fn into_dropped(self) -> Option<Dropped> {
        self.dropped
    }
}

impl WriteJson for WrittenRecord<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        let WrittenFacts {
            members,
            init_duration,
            ..
        } = self.written;
        if members.is_empty() {
            // Nothing written yet: an empty record (with its drops), never a broken one.
            out.push(b'{');
            let first = out.len();
            close_with_dropped(out, self.dropped.as_ref());
            if out.get(first) == Some(&b',') {
                out.remove(first);
            }
            return;
        }
        if self.init_duration {
            out.extend_from_slice(members);
        } else {
            out.extend_from_slice(&members[..init_duration.start]);
            out.extend_from_slice(&members[init_duration.end..]);
        }
        close_with_dropped(out, self.dropped.as_ref());
    }
}

impl FactsRecord<'_> {
    /// Adds what the process used during the invocation, when it was measured (in place: the
    /// record is too large to move for it).
    pub(crate) fn add_resources(&mut self, resources: Option<ResourceUse>) {
        if let Some(resources) = resources {
            self.cpu_time_ms = Some(resources.cpu_time_ms);
            self.peak_rss_mb = Some(resources.peak_rss_mb);
            self.cpu_ratio = Some(resources.cpu_ratio);
            self.cpu_allotment_used = resources.cpu_allotment_used;
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `record` as it writes itself.
    pub(in crate::invocation) fn written(record: &FactsRecord<'_>) -> String {
        let mut out = Vec::new();
        record.write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn any_millis() -> impl Strategy<Value = Option<Millis>> {
        prop_oneof![
            Just(None),
            (0u64..10_000_000_000).prop_map(|micros| Some(Millis::from_micros(micros))),
            any::<u64>().prop_map(|micros| Some(Millis::from_micros(micros))),
        ]
    }

    fn any_float() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            Just(None),
            (0u64..10_000_000).prop_map(|n| Some(n as f64 / 7.0)),
            any::<f64>().prop_map(Some)
        ]
    }

    fn any_start_kind() -> impl Strategy<Value = StartKind> {
        prop_oneof![
            Just(StartKind::Cold),
            Just(StartKind::Restart),
            Just(StartKind::Warm),
            Just(StartKind::Prewarmed),
            Just(StartKind::Restored),
        ]
    }

    /// Every outcome, or none (not ended yet).
    fn any_outcome() -> impl Strategy<Value = Option<Outcome>> {
        use crate::formats::failure::Failure;
        prop_oneof![
            Just(None),
            Just(Some(Outcome::Success(None))),
            Just(Some(Outcome::Error(None))),
            Just(Some(Outcome::Panic(Failure::new("panic", "boom")))),
            Just(Some(Outcome::Cancelled)),
            Just(Some(Outcome::Timeout)),
        ]
    }

    prop_compose! {
        /// A record without its request id and outcome, which it borrows: they come with it.
        fn any_record()(
            start_kind in any_start_kind(),
            request_id in prop_oneof![
                any::<String>(),
                // Lambda's ids (UUIDs), and others of their length, some to escape.
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[ -~\"\\\\\\x00-\\x1f]{34,38}",
            ],
            invocation in prop_oneof![0u64..100_000_000, any::<u64>()],
            idle_gap_ms in any_millis(),
            environment_age_micros in any::<u64>(),
            init_duration_ms in any_millis(),
            first_request_wait_ms in any_millis(),
            duration_ms in any_millis(),
            deadline_headroom_ms in any_millis(),
            outcome in any_outcome(),
            resources in (any_float(), any_float(), any_float(), any_float()),
            past_deadline in proptest::option::of(any::<bool>()),
            dropped in proptest::option::of(proptest::collection::vec(
                (prop_oneof![Just("emf.a"), Just("xray.\"quoted\"")], any::<u64>()), 0..3)),
        ) -> (String, Option<Outcome>, FactsRecord<'static>) {
            let record = FactsRecord {
                start_kind,
                invocation,
                request_id: "",
                idle_gap_ms,
                environment_age_ms: Millis::from_micros(environment_age_micros),
                init_duration_ms,
                first_request_wait_ms,
                duration_ms,
                deadline_headroom_ms,
                outcome: None,
                cpu_time_ms: resources.0,
                peak_rss_mb: resources.1,
                cpu_ratio: resources.2,
                cpu_allotment_used: resources.3,
                past_deadline,
                dropped: dropped.map(Dropped),
            };
            (request_id, outcome, record)
        }
    }

    #[test]
    fn nothing_written_yet_reads_as_an_empty_record() {
        let unwritten = WrittenFacts::default();
        let mut out = Vec::new();
        unwritten.record(None, true).write_json(&mut out);
        unwritten
            .record(Some(Dropped(vec![("emf.a", 2)])), false)
            .write_json(&mut out);
        assert_eq!(out, br#"{}{"dropped":{"emf.a":2}}"#);
    }

    /// The second invocation's record, warm, with `request_id`, an environment age and
    /// nothing else.
    fn warm_record(request_id: &str) -> FactsRecord<'_> {
        FactsRecord {
            start_kind: StartKind::Warm,
            invocation: 2,
            request_id,
            idle_gap_ms: None,
            environment_age_ms: Millis::from_micros(5),
            init_duration_ms: None,
            first_request_wait_ms: None,
            duration_ms: None,
            deadline_headroom_ms: None,
            outcome: None,
            cpu_time_ms: None,
            peak_rss_mb: None,
            cpu_ratio: None,
            cpu_allotment_used: None,
            past_deadline: None,
            dropped: None,
        }
    }

    #[test]
    fn a_kept_init_duration_is_written_again_only_for_the_same_duration() {
        let record = |init: Option<u64>| FactsRecord {
            init_duration_ms: init.map(Millis::from_micros),
            duration_ms: Some(Millis::from_micros(1)),
            ..warm_record("r")
        };
        let mut once = WrittenFacts::default();
        for init in [
            Some(3_685),
            Some(3_685),
            Some(12),
            None,
            Some(12),
            Some(3_685),
        ] {
            once.write(&record(init));
            let mut out = Vec::new();
            once.record(None, true).write_json(&mut out);
            let expected = serde_json::to_string(&record(init)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{init:?}");
        }
    }

    #[test]
    fn request_ids_of_a_uuids_length_are_escaped_as_serde_escapes_them() {
        let uuid = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
        let mut ids = vec![uuid.to_owned(), format!("{}é", &uuid[..34])];
        for at in 0..uuid.len() {
            for escaped in ['"', '\\', '\n', '\u{0}', '\u{1f}'] {
                let mut id = uuid.to_owned();
                id.replace_range(at..=at, &escaped.to_string());
                ids.push(id);
            }
        }
        for id in &ids {
            let record = warm_record(id);
            assert_eq!(
                written(&record),
                serde_json::to_string(&record).unwrap(),
                "{id:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn written_once_as_each_output_would_write_it(
            (request_id, outcome, record) in any_record(),
            init_duration in any::<bool>(),
            dropped in proptest::option::of(proptest::collection::vec(
                (prop_oneof![Just("emf.a"), Just("xray.b")], any::<u64>()), 1..3)),
        ) {
            let record = FactsRecord {
                request_id: &request_id,
                outcome: outcome.as_ref(),
                dropped: None,
                ..record
            };
            let mut once = WrittenFacts::default();
            let earlier = FactsRecord { request_id: "an earlier one", dropped: None, ..record };
            once.write(&earlier);
            once.write(&record);
            let expected = FactsRecord {
                init_duration_ms: record.init_duration_ms.filter(|_| init_duration),
                dropped: dropped.clone().map(Dropped),
                ..record
            };
            let mut out = Vec::new();
            once.record(dropped.map(Dropped), init_duration).write_json(&mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&expected).unwrap());
        }


        #[test]
        fn written_by_hand_as_serde_writes_it((request_id, outcome, record) in any_record()) {
            let record = FactsRecord { request_id: &request_id, outcome: outcome.as_ref(), ..record };
            prop_assert_eq!(written(&record), serde_json::to_string(&record).unwrap());
        }
    }
}
