//! [`LogsReport::build`]: from log files to the figures.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::pricing::PriceTable;
use crate::report::facts::Facts;
use crate::report::{Distribution, EXIT_ERROR_TYPE, nearest_rank};

use super::file::{self, LogFile};
use super::input::{LogEvent, read_file};
use super::model::{
    ClientInit, EnvironmentReuse, InitSideBySide, LambdaPerfFigures, LineCounts, LogsReport,
    MalformedLine,
};
use super::prices::{self, LogsPricing, Priced, PricingFacts};
use super::record::{PlatformReport, Record, read};
use super::status_lines::{self, Place};

/// How many malformed lines a report quotes.
const MALFORMED_EXAMPLES: usize = 5;
/// How many characters of a malformed line it keeps.
const EXCERPT_CHARS: usize = 160;

/// One attempt of a request, as lambda-perf's EMF lines tell it: its request id and the log
/// stream (execution environment) they were read in. The retries of an asynchronous
/// invocation keep its request id, and run in another environment or later in the same: one
/// in another environment is an attempt of its own.
type Attempt = (String, Option<String>);

/// What one attempt's EMF lines said, and when they were seen.
#[derive(Default)]
struct Seen {
    facts: Option<Facts>,
    first_ms: Option<f64>,
    last_ms: Option<f64>,
}

impl Seen {
    /// Adds what one more of its EMF lines (or another reading of them) said.
    fn add(&mut self, facts: Option<Facts>, first_ms: Option<f64>, last_ms: Option<f64>) {
        self.facts = match (self.facts.take(), facts) {
            (Some(known), Some(line)) => Some(Facts::merged(known, line)),
            (known, line) => known.or(line),
        };
        if let Some(first) = first_ms {
            self.first_ms = Some(self.first_ms.map_or(first, |known| known.min(first)));
        }
        if let Some(last) = last_ms {
            self.last_ms = Some(self.last_ms.map_or(last, |known| known.max(last)));
        }
    }
}

impl LogsReport {
    /// Reads `files` (either form, see [`crate::logs`]) and computes the report, pricing at
    /// `pricing` (an [`Architecture`](crate::pricing::Architecture): at its prices for the
    /// initialization type the logs state).
    pub fn build(files: &[LogFile], pricing: impl Into<LogsPricing>) -> Self {
        let mut lines = LineCounts::default();
        let mut reports: Vec<PlatformReport> = Vec::new();
        // The REPORTs read, by request id and text, with when they were logged and where read.
        let mut seen_reports: Repeats = HashMap::new();
        // The timeout lines read, likewise.
        let mut seen_timeouts: Repeats = HashMap::new();
        // Where each REPORT kept was read, and the timeout lines with where they were read.
        let mut report_places: Vec<Place> = Vec::new();
        // The log stream of each REPORT kept, to find its attempt's EMF facts.
        let mut report_streams: Vec<Option<String>> = Vec::new();
        let mut timeouts: Vec<(String, Place)> = Vec::new();
        // The `Runtime exited` lines read, likewise; kept with where they were read and the
        // error type of the line after each.
        let mut seen_exits: Repeats = HashMap::new();
        let mut exits: Vec<(String, Place, String)> = Vec::new();
        let mut index = 0;
        // A number for each log stream read, for the places of the lines.
        let mut stream_numbers: HashMap<String, usize> = HashMap::new();
        let mut previous_in_stream: HashMap<Option<usize>, usize> = HashMap::new();
        let mut seen: HashMap<Attempt, Seen> = HashMap::new();
        let mut order: Vec<Attempt> = Vec::new();
        let mut client_inits: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        // The EMF lines with client inits read, by text, as the REPORTs.
        let mut seen_client_inits: Repeats = HashMap::new();
        let mut pricing_facts = PricingFacts::default();
        for (file_index, file) in files.iter().enumerate() {
            let input = read_file(&file.name, &file.text);
            for (location, reason) in input.malformed {
                malformed(&mut lines, location, reason, None);
            }
            for event in input.events {
                lines.events += 1;
                index += 1;
                let next_stream = stream_numbers.len();
                let place = Place {
                    timestamp_ms: event.timestamp_ms,
                    index,
                    stream: event
                        .stream
                        .as_ref()
                        .map(|stream| *stream_numbers.entry(stream.clone()).or_insert(next_stream)),
                };
                // The line before this one in its log stream (streams are interleaved).
                let previous = previous_in_stream.insert(place.stream, index);
                match read(&event.message) {
                    Record::Report(report) => {
                        lines.platform += 1;
                        if first_read(&mut seen_reports, &report.request_id, &event, file_index) {
                            reports.push(report);
                            report_places.push(place);
                            report_streams.push(event.stream.clone());
                        } else {
                            lines.duplicate_reports += 1;
                        }
                    }
                    Record::TimedOut(request_id) => {
                        lines.platform += 1;
                        // Repeated with its REPORT by overlapping exports: read again, it
                        // would mark another attempt of its request.
                        if first_read(&mut seen_timeouts, &request_id, &event, file_index) {
                            timeouts.push((request_id, place));
                        }
                    }
                    Record::RuntimeExited(request_id) => {
                        lines.platform += 1;
                        if first_read(&mut seen_exits, &request_id, &event, file_index) {
                            exits.push((request_id, place, EXIT_ERROR_TYPE.to_owned()));
                        }
                    }
                    Record::RuntimeExitType(error_type) => {
                        lines.platform += 1;
                        // The type of the exit on the line before in its stream, if that
                        // one was kept.
                        // (Not the last exit kept: another stream's may have come since.)
                        if let Some(exit) = exits
                            .iter_mut()
                            .rev()
                            .find(|exit| Some(exit.1.index) == previous)
                        {
                            exit.2 = error_type;
                        }
                    }
                    Record::InitStart(kind) => {
                        lines.platform += 1;
                        if let Some(kind) = kind {
                            pricing_facts.init_starts.push((event.stream.clone(), kind));
                        }
                    }
                    Record::Start | Record::End | Record::OtherPlatform => lines.platform += 1,
                    Record::Output => lines.output += 1,
                    Record::Malformed(reason) => {
                        malformed(
                            &mut lines,
                            event.location.clone(),
                            reason,
                            Some(&event.message),
                        );
                    }
                    Record::Emf(emf) => {
                        lines.emf += 1;
                        // Read again from an overlapping export, its values are not new
                        // inits (its facts are merged into their attempt's alike).
                        if !emf.client_inits.is_empty()
                            && first_read(&mut seen_client_inits, "", &event, file_index)
                        {
                            for (client, value) in &emf.client_inits {
                                client_inits.entry(client.clone()).or_default().push(*value);
                            }
                        }
                        if let Some((request_id, facts)) = emf.facts {
                            let at = emf.timestamp_ms.or(event.timestamp_ms);
                            record_facts(&mut seen, &mut order, request_id, facts, &event, at);
                        }
                    }
                }
            }
        }
        // A text REPORT without `Status: timeout` (older ones have none) reads as a success:
        // the "Task timed out" line of its attempt says what it was.
        status_lines::mark(&mut reports, &report_places, &timeouts);
        // Likewise a REPORT without `Status: error`: the `Runtime exited` line of its attempt
        // says what it was, and the line after it its error type.
        let mut error_types: Vec<&str> = exits.iter().map(|exit| exit.2.as_str()).collect();
        error_types.sort_unstable();
        error_types.dedup();
        for error_type in error_types {
            let of_type: Vec<(String, Place)> = exits
                .iter()
                .filter(|exit| exit.2 == error_type)
                .map(|(request_id, place, _)| (request_id.clone(), *place))
                .collect();
            status_lines::mark_as(
                &mut reports,
                &report_places,
                &of_type,
                "error",
                Some(error_type),
            );
        }
        merge_unstreamed(&mut seen, &mut order);
        let priced = prices::price(&reports, &report_streams, &pricing_facts, pricing.into());
        let mut report = Self::platform_figures(&reports, priced);
        report.files = files.iter().map(|f| f.name.clone()).collect();
        report.lambda_perf =
            lambda_perf_figures(&reports, &report_streams, &seen, &order, client_inits);
        report.lines = lines;
        report
    }

    /// Reads the files at `paths` (a directory: every file under it; `-`: standard input,
    /// which can be read once) and computes the report.
    pub fn read_files(
        paths: &[impl AsRef<Path>],
        pricing: impl Into<LogsPricing>,
    ) -> Result<Self, (String, std::io::Error)> {
        let stdin = Path::new(file::STDIN);
        if paths.iter().filter(|path| path.as_ref() == stdin).count() > 1 {
            let error = std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "standard input is named more than once; it can be read once",
            );
            return Err((file::STDIN.to_owned(), error));
        }
        let mut files = Vec::new();
        for path in paths {
            files.extend(LogFile::read_all(path.as_ref())?);
        }
        Ok(Self::build(&files, pricing))
    }

    /// The figures of the platform's REPORTs.
    fn platform_figures(reports: &[PlatformReport], priced: Priced) -> Self {
        let count = reports.len();
        let values = |keep: &dyn Fn(&PlatformReport) -> Option<f64>| -> Vec<f64> {
            reports.iter().filter_map(keep).collect()
        };
        let cold = |r: &PlatformReport| r.init_duration_ms.is_some();
        let restored = |r: &PlatformReport| !cold(r) && r.restore_duration_ms.is_some();
        let warm = |r: &PlatformReport| !cold(r) && !restored(r);
        let cold_starts = reports.iter().filter(|r| cold(r)).count();
        let mut sizes: Vec<u32> = reports.iter().map(|r| r.memory_size_mb).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let heaviest = reports.iter().max_by(|a, b| {
            // Of alike peaks, the smallest size: the least headroom, whatever the order.
            a.max_memory_used_mb
                .total_cmp(&b.max_memory_used_mb)
                .then(b.memory_size_mb.cmp(&a.memory_size_mb))
        });
        // A SnapStart restore's `Billed Restore Duration` is already part of its `Billed
        // Duration` (Duration rounded up, plus the billed restore): counted once.
        let billed_gb_seconds: f64 = reports
            .iter()
            .map(|r| PriceTable::gb_seconds(r.billed_duration_ms, r.memory_size_mb))
            // Not `sum()`: the sum of no floats is -0.0, shown as `-0.0000 GB-s`.
            .fold(0.0, |total, gb_seconds| total + gb_seconds);
        let mut statuses = BTreeMap::new();
        for report in reports {
            let status = match &report.error_type {
                Some(kind) => format!("{}: {kind}", report.status),
                None => report.status.clone(),
            };
            *statuses.entry(status).or_insert(0) += 1;
        }
        Self {
            files: Vec::new(),
            invocations: count,
            cold_starts,
            cold_start_percent: percent(cold_starts, count),
            restores: reports
                .iter()
                .filter(|r| r.restore_duration_ms.is_some())
                .count(),
            init_duration_ms: Distribution::of(&values(&|r| r.init_duration_ms)),
            restore_duration_ms: Distribution::of(&values(&|r| r.restore_duration_ms)),
            duration_ms: Distribution::of(&values(&|r| Some(r.duration_ms))),
            cold_duration_ms: Distribution::of(&values(&|r| cold(r).then_some(r.duration_ms))),
            restored_duration_ms: Distribution::of(&values(&|r| {
                restored(r).then_some(r.duration_ms)
            })),
            warm_duration_ms: Distribution::of(&values(&|r| warm(r).then_some(r.duration_ms))),
            billed_duration_ms: Distribution::of(&values(&|r| Some(r.billed_duration_ms))),
            billed_restore_duration_ms: Distribution::of(&values(&|r| {
                r.billed_restore_duration_ms
            })),
            memory_size_mb: sizes.last().copied(),
            memory_sizes_mb: sizes,
            max_memory_used_mb: heaviest.map(|r| r.max_memory_used_mb),
            memory_headroom_mb: heaviest
                .map(|r| f64::from(r.memory_size_mb) - r.max_memory_used_mb),
            memory_headroom_percent: heaviest.map(|r| {
                (f64::from(r.memory_size_mb) - r.max_memory_used_mb) * 100.0
                    / f64::from(r.memory_size_mb)
            }),
            billed_gb_seconds,
            cost_usd: priced.cost_usd,
            prices: priced.prices,
            statuses,
            lambda_perf: None,
            lines: LineCounts::default(),
        }
    }
}

/// Platform lines read, by request id and text.
type Repeats = HashMap<(String, String), Readings>;

/// The log events of one request id and text read so far.
#[derive(Default)]
struct Readings {
    events: Vec<Reading>,
    /// The events with a time known to the millisecond, by their millisecond.
    by_millisecond: HashMap<i64, Vec<usize>>,
    /// The events with a known time, to the millisecond or to the second only, by their
    /// second.
    by_second: HashMap<i64, Vec<usize>>,
    /// The events first read without a time, in the order read (some may have one since).
    untimed: Vec<usize>,
    /// Per file, how far into `events`, and into `untimed`, every event was read in it (or,
    /// in `untimed`, has a time since): where to look for one it has not read. An event read
    /// in a file stays read in it, and one with a time keeps it.
    read_up_to: HashMap<usize, (usize, usize)>,
}

/// One log event: the time it was logged at, when known, and the files it was read in
/// (their indices).
struct Reading {
    timestamp_ms: Option<f64>,
    /// Whether `timestamp_ms` is known to the second only (its milliseconds cut off).
    to_the_second: bool,
    files: Vec<usize>,
}

/// The second a time in milliseconds falls in.
fn second_of(timestamp_ms: f64) -> i64 {
    (timestamp_ms / 1000.0).floor() as i64
}

impl Readings {
    /// Remembers an event logged at `timestamp_ms` (known to the second only when
    /// `to_the_second`: `aws logs tail --format short` cuts the milliseconds off) and read in
    /// `file`; whether it is one not read before. It is a repeat of one logged at the same
    /// millisecond (`aws logs tail` prints microseconds), of one logged in the same second
    /// when either time is known to the second only, or, when a time is unknown, of one read
    /// in another file only: one file never holds the same log event twice, so alike lines
    /// without a time in one file are events alike (the attempts of a request that timed out
    /// each time).
    fn first_read(&mut self, timestamp_ms: Option<f64>, to_the_second: bool, file: usize) -> bool {
        let repeated = self.same_event(timestamp_ms, to_the_second, file);
        let index = repeated.unwrap_or(self.events.len());
        if repeated.is_none() {
            self.events.push(Reading {
                timestamp_ms: None,
                to_the_second: false,
                files: Vec::new(),
            });
            if timestamp_ms.is_none() {
                self.untimed.push(index);
            }
        }
        let reading = &mut self.events[index];
        if !reading.files.contains(&file) {
            reading.files.push(file);
        }
        let Some(at) = timestamp_ms else {
            return repeated.is_none();
        };
        match reading.timestamp_ms {
            None => {
                reading.timestamp_ms = Some(at);
                reading.to_the_second = to_the_second;
                self.by_second.entry(second_of(at)).or_default().push(index);
                if !to_the_second {
                    self.by_millisecond
                        .entry(at.round() as i64)
                        .or_default()
                        .push(index);
                }
            }
            // Known to the second, now to the millisecond (in the same second: its place in
            // `by_second` holds).
            Some(_) if reading.to_the_second && !to_the_second => {
                reading.timestamp_ms = Some(at);
                reading.to_the_second = false;
                self.by_millisecond
                    .entry(at.round() as i64)
                    .or_default()
                    .push(index);
            }
            Some(_) => {}
        }
        repeated.is_none()
    }

    /// The event read before that one logged at `timestamp_ms` (to the second only when
    /// `to_the_second`) and read in `file` repeats, if any (see [`Self::first_read`]).
    fn same_event(
        &mut self,
        timestamp_ms: Option<f64>,
        to_the_second: bool,
        file: usize,
    ) -> Option<usize> {
        let (events, untimed) = self.read_up_to.entry(file).or_default();
        let Some(at) = timestamp_ms else {
            while *events < self.events.len() && self.events[*events].files.contains(&file) {
                *events += 1;
            }
            return (*events < self.events.len()).then_some(*events);
        };
        // Within half a millisecond: in the bucket of its millisecond or a neighbour's.
        let millisecond = at.round() as i64;
        let timed = (!to_the_second)
            .then(|| {
                (millisecond.saturating_sub(1)..=millisecond.saturating_add(1))
                    .filter_map(|ms| self.by_millisecond.get(&ms))
                    .flatten()
                    .copied()
                    .find(|&index| {
                        self.events[index]
                            .timestamp_ms
                            .is_some_and(|seen| (seen - at).abs() < 0.5)
                    })
            })
            .flatten()
            // In the same second, when either time is known to the second only.
            .or_else(|| {
                self.by_second
                    .get(&second_of(at))?
                    .iter()
                    .copied()
                    .find(|&index| {
                        let event = &self.events[index];
                        (to_the_second || event.to_the_second)
                            && event
                                .timestamp_ms
                                .is_some_and(|seen| second_of(seen) == second_of(at))
                    })
            });
        if timed.is_some() {
            return timed;
        }
        while let Some(&index) = self.untimed.get(*untimed) {
            let event = &self.events[index];
            if event.timestamp_ms.is_none() && !event.files.contains(&file) {
                return Some(index);
            }
            *untimed += 1;
        }
        None
    }
}

/// Whether `event`, a platform line of `request_id` read in the file `file`, is read for the
/// first time, not as a repeat of one in `seen` (the same log event in overlapping exports:
/// [`Readings::first_read`]). Remembers it.
fn first_read(seen: &mut Repeats, request_id: &str, event: &LogEvent, file: usize) -> bool {
    let text = event.message.trim_end();
    // A JSON record as `aws logs tail --format json` prints it (read back re-serialized) is
    // the same text as Lambda wrote it: compared as JSON.
    let text = if text.starts_with('{') {
        serde_json::from_str::<serde_json::Value>(text)
            .map_or_else(|_| text.to_owned(), |value| value.to_string())
    } else {
        text.to_owned()
    };
    let key = (request_id.to_owned(), text);
    seen.entry(key)
        .or_default()
        .first_read(event.timestamp_ms, event.to_the_second, file)
}

/// Counts a malformed line, quoting the first few.
fn malformed(lines: &mut LineCounts, location: String, reason: String, text: Option<&str>) {
    lines.malformed += 1;
    if lines.malformed_examples.len() < MALFORMED_EXAMPLES {
        lines.malformed_examples.push(MalformedLine {
            location,
            reason,
            excerpt: text.map(excerpt),
        });
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(EXCERPT_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// Merges one EMF line's facts into what is known of its attempt ([`Facts::merged`]).
fn record_facts(
    seen: &mut HashMap<Attempt, Seen>,
    order: &mut Vec<Attempt>,
    request_id: String,
    facts: Facts,
    event: &LogEvent,
    at: Option<f64>,
) {
    let attempt = (request_id, event.stream.clone());
    let entry = seen.entry(attempt.clone()).or_insert_with(|| {
        order.push(attempt);
        Seen::default()
    });
    entry.add(Some(facts), at, at);
}

/// EMF lines read without a log stream (text that does not print it) beside the same lines
/// read with one (an overlapping export in another form): when their request has exactly
/// one attempt read with a stream, they are that attempt's, merged into it, not an
/// invocation of their own. With several, which one they repeat is not known: they stay
/// apart.
fn merge_unstreamed(seen: &mut HashMap<Attempt, Seen>, order: &mut Vec<Attempt>) {
    let mut streamed: HashMap<String, Vec<Attempt>> = HashMap::new();
    for attempt in order.iter().filter(|(_, stream)| stream.is_some()) {
        streamed
            .entry(attempt.0.clone())
            .or_default()
            .push(attempt.clone());
    }
    order.retain(|attempt| {
        let Some([only]) = streamed.get(&attempt.0).map(Vec::as_slice) else {
            return true;
        };
        if attempt == only {
            return true;
        }
        if let Some(unstreamed) = seen.remove(attempt) {
            let entry = seen.entry(only.clone()).or_default();
            entry.add(unstreamed.facts, unstreamed.first_ms, unstreamed.last_ms);
        }
        false
    });
}

/// lambda-perf's figures; `report_streams` are the log streams of `reports`, in their order.
fn lambda_perf_figures(
    reports: &[PlatformReport],
    report_streams: &[Option<String>],
    seen: &HashMap<Attempt, Seen>,
    order: &[Attempt],
    client_inits: BTreeMap<String, Vec<f64>>,
) -> Option<LambdaPerfFigures> {
    if seen.is_empty() && client_inits.is_empty() {
        return None;
    }
    let facts = |attempt: &Attempt| seen.get(attempt).and_then(|s| s.facts.as_ref());
    let mut attempts_of: HashMap<&str, Vec<&Attempt>> = HashMap::new();
    for attempt in order {
        attempts_of
            .entry(attempt.0.as_str())
            .or_default()
            .push(attempt);
    }
    // A REPORT's attempt: the one of its request in its log stream, else its request's only
    // one (a REPORT read without its stream, the EMF lines with it, or the other way round).
    let facts_of_report = |report: &PlatformReport, stream: &Option<String>| {
        let attempt = (report.request_id.clone(), stream.clone());
        if seen.contains_key(&attempt) {
            return facts(&attempt);
        }
        match attempts_of.get(report.request_id.as_str())?.as_slice() {
            // Both with a stream: another environment's attempt, not this one.
            [only] if stream.is_none() || only.1.is_none() => facts(only),
            _ => None,
        }
    };
    let mut start_kinds: BTreeMap<String, usize> = BTreeMap::new();
    for id in order {
        if let Some(kind) = facts(id).and_then(|f| f.start_kind.clone()) {
            *start_kinds.entry(kind).or_insert(0) += 1;
        }
    }
    let first_invocation = |f: &Facts| f.invocation == Some(1);
    let in_process_init: Vec<f64> = order
        .iter()
        .filter_map(facts)
        .filter(|f| first_invocation(f))
        .filter_map(|f| f.init_duration_ms)
        .collect();
    let pairs: Vec<(f64, f64)> = reports
        .iter()
        .zip(report_streams)
        .filter_map(|(report, stream)| {
            let platform = report.init_duration_ms?;
            let own = facts_of_report(report, stream)
                .filter(|f| first_invocation(f))?
                .init_duration_ms?;
            Some((platform, own))
        })
        .collect();
    let platform: Vec<f64> = pairs.iter().map(|(p, _)| *p).collect();
    let own: Vec<f64> = pairs.iter().map(|(_, o)| *o).collect();
    let differences: Vec<f64> = pairs.iter().map(|(p, o)| p - o).collect();
    let init_side_by_side = match (
        Distribution::of(&platform),
        Distribution::of(&own),
        nearest_rank(&differences, 50.0),
    ) {
        (Some(platform_ms), Some(in_process_ms), Some(difference_p50_ms)) => Some(InitSideBySide {
            pairs: pairs.len(),
            platform_ms,
            in_process_ms,
            difference_p50_ms,
        }),
        _ => None,
    };
    let client_init_ms = client_inits
        .into_iter()
        .filter_map(|(client, values)| {
            Some(ClientInit {
                duration_ms: Distribution::of(&values)?,
                client,
            })
        })
        .collect();
    let measured = |value: fn(&Facts) -> Option<f64>| -> Vec<f64> {
        order.iter().filter_map(facts).filter_map(value).collect()
    };
    Some(LambdaPerfFigures {
        invocations: seen.values().filter(|s| s.facts.is_some()).count(),
        restarts: start_kinds.get("restart").copied().unwrap_or(0),
        prewarmed: start_kinds.get("prewarmed").copied().unwrap_or(0),
        start_kinds,
        init_duration_ms: Distribution::of(&in_process_init),
        init_side_by_side,
        client_init_ms,
        cpu_allotment_used: Distribution::of(&measured(|f| f.cpu_allotment_used)),
        cpu_ratio: Distribution::of(&measured(|f| f.cpu_ratio)),
        reuse: reuse(seen, order),
    })
}

/// Environment reuse: lifetimes per log stream, idle gaps of warm starts.
fn reuse(seen: &HashMap<Attempt, Seen>, order: &[Attempt]) -> EnvironmentReuse {
    let warm_gaps: Vec<f64> = order
        .iter()
        .filter_map(|attempt| seen.get(attempt)?.facts.as_ref())
        .filter(|f| f.start_kind.as_deref() == Some("warm"))
        .filter_map(|f| f.idle_gap_ms)
        .collect();
    let mut environments: BTreeMap<&str, (f64, f64, usize)> = BTreeMap::new();
    let mut without_stream = 0;
    for attempt in order {
        let Some(entry) = seen.get(attempt) else {
            continue;
        };
        match (&attempt.1, entry.first_ms, entry.last_ms) {
            (Some(stream), Some(first), Some(last)) => {
                let slot = environments
                    .entry(stream.as_str())
                    .or_insert((first, last, 0));
                slot.0 = slot.0.min(first);
                slot.1 = slot.1.max(last);
                slot.2 += 1;
            }
            _ => without_stream += 1,
        }
    }
    let note = if environments.is_empty() {
        Some(
            "environment lifetimes need log stream names: the JSON of filter-log-events, \
             aws logs tail's default format, an export to S3 or a Firehose delivery"
                .to_owned(),
        )
    } else if without_stream > 0 {
        Some(format!(
            "{without_stream} invocation(s) without a log stream or a timestamp are not in the \
             lifetimes"
        ))
    } else {
        None
    };
    let lifetimes: Vec<f64> = environments
        .values()
        .map(|(first, last, _)| last - first)
        .collect();
    let counts: Vec<f64> = environments.values().map(|(_, _, n)| *n as f64).collect();
    EnvironmentReuse {
        environments: (!environments.is_empty()).then_some(environments.len()),
        lifetime_ms: Distribution::of(&lifetimes),
        invocations_per_environment: Distribution::of(&counts),
        longest_reused_idle_gap_ms: warm_gaps.iter().copied().reduce(f64::max),
        idle_gap_ms: Distribution::of(&warm_gaps),
        note,
    }
}
