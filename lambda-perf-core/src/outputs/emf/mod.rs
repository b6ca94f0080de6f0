//! The EMF output: every metric line lambda-perf writes — the `ColdStart` line, a client's
//! `ClientInitDuration`, the invocation's own metrics and `SingleMetric`s — serialized into
//! a reused per-thread buffer and written with one `write(2)`.

mod writer;

use std::cell::RefCell;
use std::time::SystemTime;

use self::writer::write_emf_lines;
use crate::drops::{self, Report};
use crate::formats::emf::dimension::Dimension;
use crate::formats::emf::head::{FixedHead, Head};
use crate::formats::emf::set::MetricSet;
use crate::formats::emf::{
    Appended, DirectiveCache, MAX_LINE_BYTES, Resolution, Unit, append_facts_line, append_lines,
    validate,
};
use crate::formats::json::{WriteJson, push_str};
use crate::formats::time::{epoch_millis, millis_f64};
use crate::invocation::client_init::{InitRecord, Phase};
use crate::invocation::output::{Began, ClientInit, Ended, Output, OwnLine};
use crate::outputs::line_writer::LineWriter;
use crate::warn::WarnOnce;

/// Buffers that grew past this are not kept between invocations.
const KEPT_BUFFER_BYTES: usize = 64 * 1024;

static OVERSIZED: WarnOnce = WarnOnce::new();
static METADATA_ALONE: WarnOnce = WarnOnce::new();
static BAD_FUNCTION_NAME: WarnOnce = WarnOnce::new();
static COLD_START_DIMENSION: WarnOnce = WarnOnce::new();

/// The metrics of the `ColdStart` line.
const COLD_START_METRICS: [&str; 2] = ["ColdStart", "InitDuration"];

thread_local! {
    /// The line buffer and the latest directive, reused by the next lines of this thread.
    static SCRATCH: RefCell<(Vec<u8>, DirectiveCache)> =
        const { RefCell::new((Vec::new(), DirectiveCache::new())) };
}

/// Writes EMF lines: CloudWatch metrics from stdout, with no agent and no API call.
#[derive(Debug)]
pub(crate) struct EmfOutput {
    pub(crate) writer: LineWriter,
    /// The namespace, and the dimensions of every invocation's line: the default dimensions
    /// and `service` (the same as the invocation settings' `fixed_dimensions`).
    pub(crate) head: FixedHead,
    /// The `service` dimension of lines written outside an invocation.
    pub(crate) service: String,
    /// The `function_name` dimension of `ColdStart` when configured (else the context's).
    pub(crate) function_name: Option<String>,
    /// Whether cold and restart invocations write the `ColdStart` line.
    pub(crate) cold_start_metric: bool,
    /// Whether lines carry the invocation facts under `lambda_perf`.
    pub(crate) invocation_facts: bool,
}

impl EmfOutput {
    /// The lines an invocation's beginning writes when it writes any: the `ColdStart` line
    /// (`cold_start_line`), then one per client created at init.
    fn began_lines(&self, began: &Began<'_>, cold_start_line: bool) {
        let facts = began.facts.record(None);
        if cold_start_line {
            let dimensions = self.cold_start_dimensions(began);
            let init_ms = millis_f64(began.facts.init_duration());
            let mut set = MetricSet::default();
            for (name, unit, value) in [
                (COLD_START_METRICS[0], Unit::Count, 1.0),
                (COLD_START_METRICS[1], Unit::Milliseconds, init_ms),
            ] {
                // Fixed names, finite values, and dimensions that leave these names free:
                // these cannot fail.
                let _ = set.add_metric(&dimensions, name.into(), unit, Resolution::Standard, value);
            }
            let now = epoch_millis(SystemTime::now());
            let head = Head::new(self.head.namespace(), &dimensions);
            self.emit(now, head, &set, Some(&facts));
        }
        for record in began.init_clients {
            self.client_line(&began.settings.service, record, &facts);
        }
    }

    /// Writes every line `set` needs, in `head`'s namespace with its dimensions first,
    /// stamped `timestamp_ms` (epoch milliseconds); nothing for an empty set.
    fn emit(
        &self,
        timestamp_ms: u64,
        head: Head<'_>,
        set: &MetricSet,
        facts: Option<&dyn WriteJson>,
    ) {
        if !set.is_empty() {
            self.emit_lines(timestamp_ms, head, set, facts, facts);
        }
    }

    /// [`emit`](Self::emit) of a set known to have values: every line goes out here, the
    /// first with `facts`, any later one (a set too large for one line) with `later_facts`.
    /// Returns whether the first line went out. Inlined in both its callers, which share the
    /// one writer of the buffer (the closure below, out of line: where what it inlines gets
    /// its arguments). The facts are any kind of facts, behind `dyn WriteJson`: one copy of
    /// the line's writers serves them all.
    #[inline(always)]
    fn emit_lines(
        &self,
        timestamp_ms: u64,
        head: Head<'_>,
        set: &MetricSet,
        facts: Option<&dyn WriteJson>,
        later_facts: Option<&dyn WriteJson>,
    ) -> bool {
        let facts = facts.filter(|_| self.invocation_facts);
        let later_facts = later_facts.filter(|_| self.invocation_facts);
        let mut first_out = true;
        with_buffer(
            // The one copy of what writes the lines, shared by both callers.
            #[inline(never)]
            |buffer, directives| {
                let appended = append_lines(
                    buffer,
                    directives,
                    timestamp_ms,
                    head,
                    set,
                    facts,
                    later_facts,
                );
                first_out = self.write_appended(buffer, appended);
            },
        );
        first_out
    }

    /// Writes the lines appended to `buffer`, once what had to change for them to fit
    /// (`appended`) is counted and warned of. Returns whether the first went out.
    #[inline(always)]
    fn write_appended(&self, buffer: &[u8], appended: Appended) -> bool {
        for _ in 0..appended.without_metadata {
            drops::count("emf.metadata_trimmed");
        }
        for _ in 0..appended.unwritten {
            drops::count("emf.line_too_large");
        }
        if let Some(what_happened) = oversized(appended) {
            OVERSIZED.warn(format_args!(
                "an EMF line would have exceeded {MAX_LINE_BYTES} bytes; {what_happened} \
                 (counted in lambda_perf.dropped)"
            ));
        }
        // Nothing appended (every line too large even without its metadata): the facts, and
        // the drops they were to report, did not go out.
        !buffer.is_empty() && write_emf_lines(&self.writer, buffer)
    }

    /// The invocation's line (`outcome` and the facts in `lambda_perf`), if it has values, or
    /// if it corrects the watchdog's (see [`corrects_timeout_line`](Self::corrects_timeout_line)).
    fn invocation_line(&self, ended: &Ended<'_>) {
        if ended.metrics.is_empty() {
            if self.corrects_timeout_line(ended) {
                self.correction_line(ended);
            }
            return;
        }
        self.with_line_facts(ended, |facts, later_facts| {
            self.emit_lines(
                ended.at_epoch_nanos / 1_000_000,
                Head::from(&self.head),
                ended.metrics,
                Some(facts),
                Some(later_facts),
            )
        });
    }

    /// The line of an invocation that ended after the watchdog's line took its values: its
    /// facts alone, with its dimensions and metadata but none of its (taken) values.
    #[cold]
    #[inline(never)]
    fn correction_line(&self, ended: &Ended<'_>) {
        self.with_line_facts(ended, |facts, _| {
            let mut out = true;
            with_buffer(|buffer, directives| {
                let appended = append_facts_line(
                    buffer,
                    directives,
                    ended.at_epoch_nanos / 1_000_000,
                    Head::from(&self.head),
                    ended.metrics,
                    facts,
                );
                out = self.write_appended(buffer, appended);
            });
            out
        });
    }

    /// Writes the lines of an invocation's end with `write`, given the facts of its first
    /// line and of any later one; `write` says whether the first went out.
    #[inline(always)]
    fn with_line_facts(
        &self,
        ended: &Ended<'_>,
        write: impl FnOnce(&dyn WriteJson, &dyn WriteJson) -> bool,
    ) {
        // Drops are taken only by a line that will carry them.
        let dropped = self
            .invocation_facts
            .then(|| drops::take(Report::Emf))
            .flatten();
        // The drops are reported once: in the first line, when the metrics take more than one.
        let facts = ended.written_facts.record(dropped, true);
        let later_facts = ended.written_facts.record(None, true);
        // A line that did not get out reported nothing: its drops are the next line's.
        if !write(&facts, &later_facts) {
            if let Some(dropped) = facts.into_dropped() {
                drops::restore(Report::Emf, dropped);
            }
        }
    }

    /// Whether the end of an invocation writes its line with no value left to carry: the
    /// timeout watchdog wrote one near the deadline, saying `timeout` (with the duration of its
    /// moment), and the invocation ended after all; without this line, that would be the last
    /// word of the EMF lines on it. Only when the lines carry the facts, which are all it says.
    fn corrects_timeout_line(&self, ended: &Ended<'_>) -> bool {
        ended.corrects_timeout_line && self.invocation_facts
    }

    /// `function_name`, the default dimensions and `service`: the `ColdStart` line's.
    fn cold_start_dimensions(&self, began: &Began<'_>) -> Vec<Dimension> {
        let fixed = self.head.dimensions();
        let mut dimensions = Vec::with_capacity(1 + fixed.len());
        let function_name = self
            .function_name
            .as_deref()
            .or_else(|| Some(began.context_function_name).filter(|name| !name.is_empty()));
        if let Some(name) = function_name {
            match validate::dimension("function_name", name) {
                Ok(()) => dimensions.push(Dimension::new("function_name", name.to_owned())),
                Err(error) => {
                    drops::count("emf.invalid_function_name");
                    BAD_FUNCTION_NAME.warn(format_args!(
                        "the ColdStart metric is written without function_name: {error}"
                    ));
                }
            }
        }
        // The line's own keys come first: a default dimension named like one of them, or one
        // past CloudWatch's 30 (with `function_name` and `service`), is left out of this line.
        let room = validate::MAX_DIMENSIONS - dimensions.len();
        let mut defaults = 0;
        for dimension in fixed {
            let taken = dimension.name != "service"
                && (COLD_START_METRICS.contains(&&*dimension.name)
                    || dimensions.iter().any(|d| d.name == dimension.name)
                    || defaults + 1 >= room);
            if taken {
                drops::count("emf.cold_start_dimension_left_out");
                COLD_START_DIMENSION.warn(format_args!(
                    "the default dimension {:?} is left out of the ColdStart line, which \
                     needs function_name and service within 30 dimensions and uses the keys \
                     ColdStart and InitDuration (counted in lambda_perf.dropped)",
                    dimension.name
                ));
                continue;
            }
            if dimension.name != "service" {
                defaults += 1;
            }
            dimensions.push(dimension.clone());
        }
        dimensions
    }

    /// A client's `ClientInitDuration`, in a line of its own with the dimensions `service` and
    /// `client` (whenever it was created), and `facts`.
    fn client_line<F: WriteJson>(&self, service: &str, record: &InitRecord, facts: &F) {
        static BAD_CLIENT_NAME: WarnOnce = WarnOnce::new();
        // A failed creation has no duration worth a metric; one made before a snapshot was
        // paid for by no environment restored from it.
        if record.error.is_some() || record.phase == Phase::Snapshot {
            return;
        }
        if let Err(error) = validate::dimension("client", record.client) {
            drops::count("emf.invalid_client_name");
            BAD_CLIENT_NAME.warn(format_args!(
                "ClientInitDuration of a lazy client is not written: {error}"
            ));
            return;
        }
        let dimensions = [
            Dimension::new("service", service.to_owned()),
            Dimension::new("client", record.client),
        ];
        let mut set = MetricSet::default();
        let metric = set.add_metric(
            &dimensions,
            "ClientInitDuration".into(),
            Unit::Milliseconds,
            Resolution::Standard,
            millis_f64(record.duration),
        );
        if metric.is_ok() {
            let now = epoch_millis(SystemTime::now());
            let head = Head::new(self.head.namespace(), &dimensions);
            self.emit(now, head, &set, Some(facts));
        }
    }
}

/// What the `lambda_perf` member of a client's line says when no invocation waited for it.
struct Unattributed {
    phase: Phase,
}

impl WriteJson for Unattributed {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"phase\":");
        push_str(out, self.phase.as_str());
        out.push(b'}');
    }
}

impl Output for EmfOutput {
    /// `ColdStart` (Count, 1) and `InitDuration` (Milliseconds) in their own line with the
    /// dimensions `function_name`, the default dimensions and `service`, before the handler
    /// runs, for `cold` and `restart` invocations only; then the `ClientInitDuration` line of
    /// each client created at init.
    #[inline]
    fn invocation_began(&self, began: &Began<'_>) {
        let cold_start_line = self.cold_start_metric && began.facts.is_cold_start();
        // A warm invocation writes nothing: found where it is called, without a call.
        if cold_start_line || !began.init_clients.is_empty() {
            self.began_lines(began, cold_start_line);
        }
    }

    /// Writes nothing for a warm invocation without init clients.
    fn needs_every_beginning(&self) -> bool {
        false
    }

    /// `ClientInitDuration` for a client created inside an invocation (which waited for it),
    /// with that invocation's facts; or outside one, with the phase it ran in.
    fn client_initialized(&self, init: &ClientInit<'_>) {
        match init.invocation {
            Some((facts, settings)) => {
                self.client_line(&settings.service, init.record, &facts.record(None));
            }
            // Init-phase clients are written with the first invocation (`invocation_began`).
            None if init.record.phase == Phase::Init => {}
            None => {
                let phase = Unattributed {
                    phase: init.record.phase,
                };
                self.client_line(&self.service, init.record, &phase);
            }
        }
    }

    /// The invocation's line, as it stands, with the outcome `timeout`.
    fn deadline_near(&self, so_far: &Ended<'_>) {
        self.invocation_line(so_far);
    }

    /// The invocation's line; metadata added without any metric value to carry it (none
    /// recorded, or none after the timeout line with the facts left out of the lines) is not
    /// written (as in Powertools, a line needs a metric), and that is counted, with one
    /// warning. After the timeout line, the line that says how the invocation ended carries
    /// it.
    fn invocation_ended(&self, ended: &Ended<'_>) {
        if ended.metrics.has_metadata_alone() && !self.corrects_timeout_line(ended) {
            drops::count("emf.metadata_without_metrics");
            METADATA_ALONE.warn(format_args!(
                "metrics metadata was added in an invocation that recorded no metric (or none \
                 after its timeout line); no EMF line carries it (counted in \
                 lambda_perf.dropped)"
            ));
        }
        self.invocation_line(ended);
    }

    fn own_line(&self, line: &OwnLine<'_>) {
        let namespace = line.namespace.unwrap_or(self.head.namespace());
        let now = epoch_millis(SystemTime::now());
        self.emit(now, Head::new(namespace, line.fixed), line.metrics, None);
    }
}

/// `f` with this thread's line buffer (emptied) and directive cache: inlined, and so is the
/// thread-local access, where `f` (not inlined) is called.
#[inline(always)]
fn with_buffer(f: impl FnOnce(&mut Vec<u8>, &mut DirectiveCache)) {
    let mut f = Some(f);
    let _ = SCRATCH.try_with(|cell| {
        if let Ok(mut scratch) = cell.try_borrow_mut() {
            let (buffer, directives) = &mut *scratch;
            buffer.clear();
            if let Some(f) = f.take() {
                f(buffer, directives);
            }
            if buffer.capacity() > KEPT_BUFFER_BYTES {
                *buffer = Vec::new();
            }
        }
    });
    // Only during thread teardown or re-entrancy, never on the common path.
    if let Some(f) = f {
        f(&mut Vec::new(), &mut DirectiveCache::new());
    }
}

/// What became of lines too large as they were, for the one warning: a line not written at
/// all is said so, even when another only lost its metadata.
fn oversized(appended: Appended) -> Option<&'static str> {
    if appended.unwritten > 0 {
        Some(
            "even without its metadata properties, with one metric value, it did not fit and was not written",
        )
    } else if appended.without_metadata > 0 {
        Some("it was written without its metadata properties")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oversize_warning_says_whether_a_line_was_written() {
        let lost = Appended {
            without_metadata: 1,
            unwritten: 1,
        };
        assert!(oversized(lost).unwrap().contains("not written"));
        let trimmed = Appended {
            without_metadata: 1,
            unwritten: 0,
        };
        assert!(
            oversized(trimmed)
                .unwrap()
                .contains("written without its metadata")
        );
        assert_eq!(oversized(Appended::default()), None);
    }
}
