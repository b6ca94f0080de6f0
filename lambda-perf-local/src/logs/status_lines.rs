//! Which REPORT a platform line that tells an invocation's status is about: a `Task timed
//! out` line, or a `Runtime exited` line (with the error type on the line after it). A text
//! REPORT older than the `Status` field reads as a success, and its request's line says what
//! it was. The retries of an asynchronous invocation keep its request id, so the line is
//! about one REPORT, not all of that id's: the attempt it ended, whose REPORT Lambda logs
//! just before a timeout line, just after a runtime's exit.

use std::collections::HashMap;

use super::record::PlatformReport;

/// Where a line was read: its log timestamp, when known, and its place among all the lines
/// read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Place {
    pub(crate) timestamp_ms: Option<f64>,
    pub(crate) index: usize,
    /// The log stream (execution environment) it was read in, when known, by a number that
    /// names it among the files read.
    pub(crate) stream: Option<usize>,
}

impl Place {
    /// Whether this line comes after `other`: by timestamp when both have one, else by place.
    fn after(self, other: Self) -> bool {
        match (self.timestamp_ms, other.timestamp_ms) {
            (Some(this), Some(that)) if this != that => this > that,
            _ => self.index > other.index,
        }
    }

    /// How far this line is from `other`: in milliseconds when both have a timestamp, and
    /// in lines read.
    fn distance(self, other: Self) -> (Option<f64>, usize) {
        let time = match (self.timestamp_ms, other.timestamp_ms) {
            (Some(this), Some(that)) => Some((this - that).abs()),
            _ => None,
        };
        (time, self.index.abs_diff(other.index))
    }
}

/// Marks as timeouts the REPORTs the `timeouts` lines (request id, place) are about. Lambda
/// logs a timeout's REPORT, then its `<timestamp> <request id> Task timed out after …` line
/// (a retry of the same request id comes a minute or more later). See [`mark_as`].
pub(crate) fn mark(reports: &mut [PlatformReport], places: &[Place], timeouts: &[(String, Place)]) {
    mark_as(reports, places, timeouts, "timeout", None);
}

/// Marks with `status` (and `error_type`, if any) the REPORTs the `lines` (request id,
/// place) are about. Each line claims one REPORT of its request that no other line claimed,
/// one that logged no status (and no line marked yet) or logged `status` (then it is that
/// line's own): of the last before it and the first after it, the nearer (in time, else in
/// lines read; the one before when neither is nearer). Lambda logs the line in the log
/// stream of the attempt it is about: when the log streams of a request's lines and REPORTs
/// are all known, a line claims a REPORT of its own stream only (not the retry, in another
/// environment, of an attempt whose REPORT the logs do not hold). Only a REPORT that logged
/// no status changes. `places` are the REPORTs' places, in the order of `reports`.
pub(crate) fn mark_as(
    reports: &mut [PlatformReport],
    places: &[Place],
    lines: &[(String, Place)],
    status: &str,
    error_type: Option<&str>,
) {
    // Each request's lines, in the order read, and the REPORTs of it a line may claim, so
    // that a line is matched against its request's REPORTs, not against all of them.
    let mut lines_of: HashMap<&str, Vec<Place>> = HashMap::new();
    for (request_id, line) in lines {
        lines_of.entry(request_id.as_str()).or_default().push(*line);
    }
    let mut claimable: HashMap<&str, Vec<usize>> = lines_of
        .keys()
        .map(|&request_id| (request_id, Vec::new()))
        .collect();
    for (index, report) in reports.iter().enumerate() {
        let open = if report.status_logged {
            report.status == status
        } else {
            report.status == UNMARKED
        };
        if !open {
            continue;
        }
        if let Some(indices) = claimable.get_mut(report.request_id.as_str()) {
            indices.push(index);
        }
    }
    for (request_id, lines) in &lines_of {
        let candidates = &claimable[request_id];
        let streamed = lines.iter().all(|line| line.stream.is_some())
            && candidates
                .iter()
                .all(|&index| places[index].stream.is_some());
        let claimed: Vec<usize> = if streamed {
            // By stream, each grouped once: a request's lines may be many.
            let mut candidates_of: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
            for &index in candidates {
                candidates_of
                    .entry(places[index].stream)
                    .or_default()
                    .push(index);
            }
            let mut lines_of_stream: HashMap<Option<usize>, Vec<Place>> = HashMap::new();
            for line in lines {
                lines_of_stream.entry(line.stream).or_default().push(*line);
            }
            lines_of_stream
                .iter()
                .flat_map(|(stream, lines)| {
                    let candidates = candidates_of.get(stream).map_or(&[][..], Vec::as_slice);
                    claims(candidates, places, lines)
                })
                .collect()
        } else {
            claims(candidates, places, lines)
        };
        for index in claimed {
            let report = &mut reports[index];
            if !report.status_logged {
                status.clone_into(&mut report.status);
                if let Some(error_type) = error_type {
                    report.error_type = Some(error_type.to_owned());
                }
            }
        }
    }
}

/// The status of a REPORT that logged none, before a line marks it.
const UNMARKED: &str = "success";

/// The REPORTs the `lines` of one request claim, each line in turn (see [`mark_as`]):
/// `candidates` are the request's REPORTs a line may claim (indices into `places`), in the
/// order read.
fn claims(candidates: &[usize], places: &[Place], lines: &[Place]) -> Vec<usize> {
    let all = || {
        candidates
            .iter()
            .map(|&index| places[index])
            .chain(lines.iter().copied())
    };
    let timed = all().filter(|place| place.timestamp_ms.is_some()).count();
    if timed != 0 && timed != candidates.len() + lines.len() {
        return claims_by_scanning(candidates, places, lines);
    }
    // All with a time, or none: [`Place::after`] orders them by time, then by place.
    let order = |a: Place, b: Place| {
        let time = |place: Place| place.timestamp_ms.unwrap_or(0.0);
        time(a).total_cmp(&time(b)).then(a.index.cmp(&b.index))
    };
    let mut sorted = candidates.to_vec();
    sorted.sort_by(|&a, &b| order(places[a], places[b]));
    let mut left = Unclaimed::new(sorted.len());
    let mut claimed = Vec::new();
    for &line in lines {
        let at = sorted.partition_point(|&index| order(places[index], line).is_lt());
        let claim = match (left.before(at), left.at_or_after(at)) {
            (Some(before), Some(after)) => {
                if nearer(sorted[before], sorted[after], places, line) == sorted[before] {
                    Some(before)
                } else {
                    Some(after)
                }
            }
            (before, after) => before.or(after),
        };
        if let Some(position) = claim {
            left.remove(position);
            claimed.push(sorted[position]);
        }
    }
    claimed
}

/// [`claims`] when some of the lines and REPORTs have a time and others have none: each line
/// looks at every candidate.
fn claims_by_scanning(candidates: &[usize], places: &[Place], lines: &[Place]) -> Vec<usize> {
    let mut taken = vec![false; candidates.len()];
    let mut claimed = Vec::new();
    for &line in lines {
        let mut first_after: Option<usize> = None;
        let mut last_before: Option<usize> = None;
        for (n, &index) in candidates.iter().enumerate() {
            let place = places[index];
            if taken[n] {
                continue;
            }
            if place.after(line) {
                if first_after.is_none_or(|best| places[candidates[best]].after(place)) {
                    first_after = Some(n);
                }
            } else if last_before.is_none_or(|best| place.after(places[candidates[best]])) {
                last_before = Some(n);
            }
        }
        let claim = match (last_before, first_after) {
            (Some(before), Some(after)) => {
                let nearest = nearer(candidates[before], candidates[after], places, line);
                Some(if nearest == candidates[before] {
                    before
                } else {
                    after
                })
            }
            (before, after) => before.or(after),
        };
        if let Some(n) = claim {
            taken[n] = true;
            claimed.push(candidates[n]);
        }
    }
    claimed
}

/// Positions `0..n`, some of them removed: the nearest left on either side of a position,
/// found in about constant time (links that skip the removed ones, halved as they are
/// followed).
struct Unclaimed {
    /// From each position, towards the first left at or after it; `n` is the end.
    right: Vec<usize>,
    /// Likewise towards the last left before a position, one place on: `left[p + 1]` is
    /// position `p`'s, `0` the start.
    left: Vec<usize>,
}

impl Unclaimed {
    fn new(n: usize) -> Self {
        Self {
            right: (0..=n).collect(),
            left: (0..=n).collect(),
        }
    }

    /// Where the links from `at` lead, shortening them on the way.
    fn follow(links: &mut [usize], mut at: usize) -> usize {
        while links[at] != at {
            links[at] = links[links[at]];
            at = links[at];
        }
        at
    }

    /// The first position left at or after `at`.
    fn at_or_after(&mut self, at: usize) -> Option<usize> {
        let found = Self::follow(&mut self.right, at);
        (found + 1 < self.right.len()).then_some(found)
    }

    /// The last position left before `at`.
    fn before(&mut self, at: usize) -> Option<usize> {
        Self::follow(&mut self.left, at).checked_sub(1)
    }

    fn remove(&mut self, position: usize) {
        self.right[position] = position + 1;
        self.left[position + 1] = position;
    }
}

/// Of the REPORTs at `before` and `after` (indices into `places`), the one nearer `line`: in
/// time when both distances are known and differ, else in lines read, else the one before.
fn nearer(before: usize, after: usize, places: &[Place], line: Place) -> usize {
    let (before_ms, before_lines) = places[before].distance(line);
    let (after_ms, after_lines) = places[after].distance(line);
    match (before_ms, after_ms) {
        (Some(before_ms), Some(after_ms)) if before_ms != after_ms => {
            if after_ms < before_ms {
                after
            } else {
                before
            }
        }
        _ if after_lines < before_lines => after,
        _ => before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::record::{Record, read};

    fn report(request_id: &str, status: Option<&str>) -> PlatformReport {
        let mut line = format!(
            "REPORT RequestId: {request_id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 20 MB\t"
        );
        if let Some(status) = status {
            line.push_str(&format!("Status: {status}\t"));
        }
        match read(&line) {
            Record::Report(report) => report,
            other => panic!("{other:?}"),
        }
    }

    fn at(timestamp_ms: Option<f64>, index: usize) -> Place {
        Place {
            timestamp_ms,
            index,
            stream: None,
        }
    }

    /// `reports` once [`mark`] ran over them, on a thread of its own; `None` when that took
    /// over a minute (a search gone quadratic).
    fn marked_within_a_minute(
        mut reports: Vec<PlatformReport>,
        places: Vec<Place>,
        timeouts: Vec<(String, Place)>,
    ) -> Option<Vec<PlatformReport>> {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            mark(&mut reports, &places, &timeouts);
            let _ = done.send(reports);
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .ok()
    }

    fn statuses(reports: &[PlatformReport]) -> Vec<&str> {
        reports.iter().map(|r| r.status.as_str()).collect()
    }

    #[test]
    fn a_timeout_marks_the_attempt_it_ended_not_the_retries_of_its_request() {
        // An asynchronous invocation times out, then its retry (same id) succeeds; another
        // request in between.
        let mut reports = vec![
            report("r-1", None),
            report("r-2", None),
            report("r-1", None),
        ];
        let places = [
            at(Some(3_001.0), 1),
            at(Some(3_500.0), 2),
            at(Some(63_200.0), 4),
        ];
        let timeouts = [("r-1".to_owned(), at(Some(3_000.0), 0))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "success", "success"]);

        // The retry timed out instead: its own line, after the first REPORT.
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(Some(1_000.0), 0), at(Some(63_200.0), 2)];
        let timeouts = [("r-1".to_owned(), at(Some(63_199.0), 1))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["success", "timeout"]);
    }

    #[test]
    fn a_line_after_a_report_that_logged_timeout_is_its_own_not_the_retrys() {
        // Today's REPORT says `Status: timeout`, and Lambda's line follows it (at the same
        // millisecond); the retry a minute later succeeds.
        let mut reports = vec![report("r-1", Some("timeout")), report("r-1", None)];
        let places = [at(Some(3_000.0), 0), at(Some(63_200.0), 2)];
        let timeouts = [("r-1".to_owned(), at(Some(3_000.0), 1))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "success"]);

        // The retry timed out too: each line claims its own attempt.
        let mut reports = vec![report("r-1", Some("timeout")), report("r-1", None)];
        let timeouts = [
            ("r-1".to_owned(), at(Some(3_000.0), 1)),
            ("r-1".to_owned(), at(Some(63_200.0), 3)),
        ];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "timeout"]);
    }

    #[test]
    fn a_line_between_two_reports_of_its_request_claims_the_nearer() {
        // Logs older than the `Status` field, in Lambda's order: the REPORT, its line, and
        // the retry a minute later.
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(Some(3_000.0), 0), at(Some(63_200.0), 2)];
        let timeouts = [("r-1".to_owned(), at(Some(3_000.0), 1))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "success"]);

        // Without timestamps, the nearer in lines read (a retry has its own START first).
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(None, 0), at(None, 4)];
        let timeouts = [("r-1".to_owned(), at(None, 1))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "success"]);

        // A line just before the retry's REPORT is the retry's.
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(None, 0), at(None, 4)];
        let timeouts = [("r-1".to_owned(), at(None, 3))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["success", "timeout"]);
    }

    #[test]
    fn without_timestamps_the_order_of_the_lines_decides_and_logged_statuses_stand() {
        let mut reports = vec![
            report("r-1", None),
            report("r-1", None),
            report("r-1", Some("error")),
        ];
        let places = [at(None, 0), at(None, 2), at(None, 4)];
        let timeouts = [("r-1".to_owned(), at(None, 3))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["success", "timeout", "error"]);

        // A line after every REPORT of its request (an export cut there) marks the last one;
        // two lines mark two attempts.
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(None, 0), at(None, 1)];
        let timeouts = [
            ("r-1".to_owned(), at(None, 5)),
            ("r-1".to_owned(), at(None, 6)),
        ];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "timeout"]);

        // A REPORT that says another status is never re-marked, nor claimed.
        let mut reports = vec![report("r-1", Some("success"))];
        mark(
            &mut reports,
            &[at(None, 1)],
            &[("r-1".to_owned(), at(None, 0))],
        );
        assert_eq!(statuses(&reports), ["success"]);
    }

    /// A day of a busy function's logs: each timeout line is matched against the REPORTs of
    /// its own request, not against every REPORT read (about three minutes for this many, in
    /// a debug build).
    #[test]
    fn many_timeouts_among_many_reports_are_marked_in_linear_time() {
        const REPORTS: usize = 200_000;
        let template = report("r", None);
        let reports: Vec<PlatformReport> = (0..REPORTS)
            .map(|n| PlatformReport {
                request_id: format!("r-{n}"),
                ..template.clone()
            })
            .collect();
        let places: Vec<Place> = (0..REPORTS).map(|n| at(None, 2 * n + 1)).collect();
        let timeouts: Vec<(String, Place)> = (0..REPORTS)
            .step_by(4)
            .map(|n| (format!("r-{n}"), at(None, 2 * n)))
            .collect();
        let reports = marked_within_a_minute(reports, places, timeouts)
            .expect("marking 50,000 timeouts among 200,000 REPORTs took over a minute");
        let marked = reports.iter().filter(|r| r.status == "timeout").count();
        assert_eq!(marked, REPORTS / 4);
        assert_eq!(reports[4].status, "timeout");
        assert_eq!(reports[5].status, "success");
    }

    #[test]
    fn lines_and_reports_with_a_time_and_without_are_matched_one_by_one() {
        // A REPORT with its time, the line without (read from another file), and the
        // reverse: the order of the lines read decides.
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(Some(3_000.0), 0), at(None, 5)];
        let timeouts = [("r-1".to_owned(), at(None, 1))];
        mark(&mut reports, &places, &timeouts);
        assert_eq!(statuses(&reports), ["timeout", "success"]);
    }

    #[test]
    fn the_reports_claimed_are_those_a_line_finds_looking_at_every_one() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        for round in 0..2_000 {
            let timed = round % 2 == 0;
            let count = 1 + next(8) as usize;
            // The places read, shuffled.
            let mut indices: Vec<usize> = (0..2 * count).collect();
            for n in (1..indices.len()).rev() {
                indices.swap(n, next(n as u64 + 1) as usize);
            }
            let mut places: Vec<Place> = indices
                .into_iter()
                .map(|index| {
                    let time = timed.then(|| (next(6) * 1_000) as f64);
                    at(time, index)
                })
                .collect();
            // Some lines, some REPORTs, in any order.
            let lines: Vec<Place> = places.split_off(count);
            let lines = &lines[..next(count as u64 + 1) as usize];
            let candidates: Vec<usize> = (0..count).collect();
            assert_eq!(
                claims(&candidates, &places, lines),
                claims_by_scanning(&candidates, &places, lines),
                "{places:?} {lines:?}"
            );
        }
    }

    /// Lines and REPORTs of one request many times over (a hostile file of alike
    /// attempts): each line finds its REPORT without looking at every one.
    #[test]
    fn many_timeouts_of_one_request_are_marked_in_linear_time() {
        const ATTEMPTS: usize = 100_000;
        for timed in [false, true] {
            let reports = vec![report("r-1", None); ATTEMPTS];
            let time = |n: usize| timed.then_some(n as f64);
            let places: Vec<Place> = (0..ATTEMPTS).map(|n| at(time(2 * n), 2 * n)).collect();
            let timeouts: Vec<(String, Place)> = (0..ATTEMPTS)
                .map(|n| ("r-1".to_owned(), at(time(2 * n + 1), 2 * n + 1)))
                .collect();
            let reports = marked_within_a_minute(reports, places, timeouts)
                .expect("marking 100,000 timeouts of one request took over a minute");
            assert!(reports.iter().all(|r| r.status == "timeout"));
        }
    }

    #[test]
    fn a_runtime_exit_marks_the_report_after_it_and_a_timeout_keeps_its_own() {
        // Logs older than the `Status` field: an attempt whose runtime exited (its line just
        // before its REPORT), a retry a minute later that timed out (its line after).
        let mut reports = vec![report("r-1", None), report("r-1", None)];
        let places = [at(Some(1_000.0), 1), at(Some(63_000.0), 3)];
        let timeouts = [("r-1".to_owned(), at(Some(63_000.0), 4))];
        mark(&mut reports, &places, &timeouts);
        let exits = [("r-1".to_owned(), at(Some(1_000.0), 0))];
        mark_as(
            &mut reports,
            &places,
            &exits,
            "error",
            Some("Runtime.ExitError"),
        );
        assert_eq!(statuses(&reports), ["error", "timeout"]);
        assert_eq!(reports[0].error_type.as_deref(), Some("Runtime.ExitError"));
        assert_eq!(reports[1].error_type, None);

        // Today's REPORT says `Status: error`: the line is its own, and leaves the retry.
        let mut reports = vec![report("r-1", Some("error")), report("r-1", None)];
        mark_as(
            &mut reports,
            &places,
            &exits,
            "error",
            Some("Runtime.ExitError"),
        );
        assert_eq!(statuses(&reports), ["error", "success"]);
        assert_eq!(reports[0].error_type, None, "as logged");
    }
}
