//! Which REPORT a `Task timed out` line is about: a text REPORT older than the `Status` field
//! reads as a success, and its request's timeout line says what it was. The retries of an
//! asynchronous invocation keep its request id, so the line is about one REPORT, not all of
//! that id's: the attempt it ended, whose REPORT Lambda logs just before it.

use std::collections::HashMap;

use super::record::PlatformReport;

/// Where a line was read: its log timestamp, when known, and its place among all the lines
/// read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Place {
    pub(crate) timestamp_ms: Option<f64>,
    pub(crate) index: usize,
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
/// (a retry of the same request id comes a minute or more later). Each line claims one
/// REPORT of its request that no other line claimed, one that logged no status or logged
/// `Status: timeout` (then it is that line's own): of the last before it and the first after
/// it, the nearer (in time, else in lines read; the one before when neither is nearer).
/// Only a REPORT that logged no status changes, to `timeout`. `places` are the REPORTs'
/// places, in the order of `reports`.
pub(crate) fn mark(reports: &mut [PlatformReport], places: &[Place], timeouts: &[(String, Place)]) {
    // The REPORTs of each request a line is about, so that a line is matched against its
    // request's REPORTs, not against all of them.
    let mut of_request: HashMap<&str, Vec<usize>> = timeouts
        .iter()
        .map(|(request_id, _)| (request_id.as_str(), Vec::new()))
        .collect();
    for (index, report) in reports.iter().enumerate() {
        if let Some(indices) = of_request.get_mut(report.request_id.as_str()) {
            indices.push(index);
        }
    }
    let mut claimed = vec![false; reports.len()];
    for (request_id, line) in timeouts {
        let mut first_after: Option<usize> = None;
        let mut last_before: Option<usize> = None;
        for &index in &of_request[request_id.as_str()] {
            let (report, place) = (&reports[index], places[index]);
            let candidate =
                !claimed[index] && (!report.status_logged || report.status == "timeout");
            if !candidate {
                continue;
            }
            if place.after(*line) {
                if first_after.is_none_or(|best| places[best].after(place)) {
                    first_after = Some(index);
                }
            } else if last_before.is_none_or(|best| place.after(places[best])) {
                last_before = Some(index);
            }
        }
        let claim = match (last_before, first_after) {
            (Some(before), Some(after)) => Some(nearer(before, after, places, *line)),
            (before, after) => before.or(after),
        };
        if let Some(index) = claim {
            claimed[index] = true;
            if !reports[index].status_logged {
                "timeout".clone_into(&mut reports[index].status);
            }
        }
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
        }
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
        let mut reports: Vec<PlatformReport> = (0..REPORTS)
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
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            mark(&mut reports, &places, &timeouts);
            let _ = done.send(reports);
        });
        let reports = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("marking 50,000 timeouts among 200,000 REPORTs took over a minute");
        let marked = reports.iter().filter(|r| r.status == "timeout").count();
        assert_eq!(marked, REPORTS / 4);
        assert_eq!(reports[4].status, "timeout");
        assert_eq!(reports[5].status, "success");
    }
}
