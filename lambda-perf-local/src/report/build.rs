//! [`Report::build`]: from what a run recorded to the report model.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::emulator::{AnswerSummary, ErrorDocument, OutputStream, TraceHeader};

use super::emf;
use super::facts::{Facts, FactsByRequest};
use super::failed_init::failed_inits;
use super::metrics::MetricAggregator;
use super::model::{Report, ReportedInvocation, ReportedProcess, Status, Subsegment};
use super::no_reply::{NoReply, NoReplyKind, OUT_OF_MEMORY_ERROR_TYPE, OUT_OF_MEMORY_MESSAGE};
use super::problem::{Problem, ProblemKind};
use super::record::{RecordedInvocation, RecordedProcess, RecordedReply, RunRecord};
use super::resources::mb;
use super::tally;
use super::timeline;
use super::tree::{Orphan, TraceIndex};
use super::xray::{self, Doc};
use crate::pricing::billed_ms;
use lambda_perf_core::InitializationType;

impl Report {
    /// Builds the report of a run: matches each invocation with its EMF facts (by request
    /// id) and its X-Ray trace (by the `Root` of its trace header), aggregates the metrics,
    /// computes the summary and lists every problem found.
    pub fn build(record: &RunRecord) -> Self {
        let mut problems = Vec::new();
        let mut facts = FactsByRequest::default();
        let mut metrics = MetricAggregator::default();
        let mut served: HashMap<usize, usize> = HashMap::new();
        for run in &record.invocations {
            *served.entry(run.process).or_default() += 1;
        }
        let processes: Vec<ReportedProcess> = record
            .processes
            .iter()
            .map(|process| {
                let invocations = served.get(&process.index).copied().unwrap_or(0);
                read_output(
                    process,
                    invocations,
                    &mut facts,
                    &mut metrics,
                    &mut problems,
                )
            })
            .collect();

        let mut traces = TraceIndex::default();
        for (i, datagram) in record.datagrams.iter().enumerate() {
            let location = format!("datagram {}", i + 1);
            let raw = String::from_utf8_lossy(&datagram.raw);
            match &datagram.document {
                Err(reason) => problems.push(
                    Problem::new(ProblemKind::InvalidXRay, location, reason.clone())
                        .with_excerpt(&raw),
                ),
                Ok(document) => {
                    let read = xray::read(document, i);
                    for (at, reasons) in read.invalid {
                        let location = if at.is_empty() {
                            location.clone()
                        } else {
                            format!("{location}, {at}")
                        };
                        problems.push(
                            Problem::new(ProblemKind::InvalidXRay, location, reasons.join("; "))
                                .with_excerpt(&raw),
                        );
                    }
                    read.docs.into_iter().for_each(|doc| traces.add(doc));
                }
            }
        }

        let (platform_inits, restores) = platform_starts(record);
        let init_billed = init_on_demand(record);
        // On demand, Lambda logs and bills an invocation whose init failed with the init as
        // its duration (see `failed_init`); not said of the other initialization types.
        let failed = if init_billed {
            failed_inits(record)
        } else {
            vec![None; record.invocations.len()]
        };
        let mut invocations: Vec<ReportedInvocation> = record
            .invocations
            .iter()
            .zip(platform_inits.into_iter().zip(restores))
            .zip(failed)
            .map(|((run, (platform_init_ms, restore_duration_ms)), failed)| {
                let mut report = invocation(run, &facts, &mut traces, &mut problems);
                report.platform_init_ms = platform_init_ms;
                report.restore_duration_ms = restore_duration_ms;
                if let Some(failed) = failed {
                    report.duration_ms = Some(failed.init_ms);
                }
                if report.start_kind.is_none() {
                    // The function told nothing: a cold start as Lambda counts one, the
                    // first invocation of its process with its init billed on demand (an
                    // `Init Duration` in its `REPORT` line, which `lambda-perf logs` counts).
                    report.cold_start = platform_init_ms.is_some() && init_billed;
                }
                let billed_init = platform_init_ms.filter(|_| init_billed).unwrap_or(0.0);
                // Lambda's `Billed Duration` of a restore: the duration rounded up, plus the
                // `Billed Restore Duration`.
                let billed_restore = restore_duration_ms.map_or(0, billed_ms);
                report.billed_duration_ms = report
                    .duration_ms
                    .map(|d| billed_ms(d + billed_init) + billed_restore);
                report
            })
            .collect();
        timeline::place(&mut invocations, &record.invocations);

        for (trace, docs) in traces.unused() {
            problems.push(Problem::new(
                ProblemKind::UnmatchedTrace,
                format!("trace {trace}"),
                format!(
                    "{} subsegment(s) ({}) of a trace no invocation of this run had",
                    docs.len(),
                    some_names(docs)
                ),
            ));
        }

        let summary = tally::summary(&invocations, problems.len());
        let resources = tally::resources(record, &invocations, &processes);
        Self {
            function: record.function.clone(),
            invocations,
            processes,
            metrics: metrics.finish(),
            summary,
            resources,
            problems,
        }
    }
}

/// How many distinct names [`some_names`] lists.
const NAMES_LISTED: usize = 5;

/// The distinct names of `docs`, in order of arrival: the first few, then how many others.
fn some_names(docs: &[Doc]) -> String {
    let mut distinct = HashSet::new();
    let mut listed: Vec<&str> = Vec::new();
    for doc in docs {
        if distinct.insert(doc.name.as_str()) && listed.len() < NAMES_LISTED {
            listed.push(&doc.name);
        }
    }
    let others = distinct.len() - listed.len();
    if others == 0 {
        listed.join(", ")
    } else {
        format!("{} and {others} other name(s)", listed.join(", "))
    }
}

/// Whether the run's environments were initialized on demand, so that a process's init is
/// part of its first invocation (billed with it, its `Init Duration` in its `REPORT` line).
/// Provisioned concurrency, SnapStart and Managed Instances initialize ahead of the
/// invocations and bill their init apart; any other value is on demand, as the function
/// itself takes it (lambda-perf-core warns).
pub(crate) fn init_on_demand(record: &RunRecord) -> bool {
    !matches!(
        record.initialization_type(),
        Some(
            InitializationType::ProvisionedConcurrency
                | InitializationType::SnapStart
                | InitializationType::ManagedInstances
        )
    )
}

/// The platform's init and SnapStart restore of each invocation (in run order): for the
/// first invocation each process got, the time from the process's start to that hand-out,
/// and in a `snap-start` run, from its snapshot's restore (if its runtime asked for one).
fn platform_starts(record: &RunRecord) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let mut inits = vec![None; record.invocations.len()];
    let mut restores = vec![None; record.invocations.len()];
    let snap_start = record.initialization_type() == Some(InitializationType::SnapStart);
    // Each process's first hand-out (the earliest; of equal ones, the first in run order), in
    // one pass over the invocations.
    let mut firsts: HashMap<usize, (usize, Instant)> = HashMap::new();
    for (n, run) in record.invocations.iter().enumerate() {
        let Some(at) = run.handed_out_at else {
            continue;
        };
        firsts
            .entry(run.process)
            .and_modify(|first| {
                if at < first.1 {
                    *first = (n, at);
                }
            })
            .or_insert((n, at));
    }
    for process in &record.processes {
        let Some(spawned_at) = process.spawned_at else {
            continue;
        };
        if let Some(&(n, handed_out_at)) = firsts.get(&process.index) {
            inits[n] = Some(millis(handed_out_at.saturating_duration_since(spawned_at)));
            restores[n] = process
                .restored_at
                .filter(|_| snap_start)
                .map(|restored_at| millis(handed_out_at.saturating_duration_since(restored_at)));
        }
    }
    (inits, restores)
}

/// Reads a process's output: facts and metrics from EMF lines, a problem per broken one.
fn read_output(
    process: &RecordedProcess,
    invocations: usize,
    facts: &mut FactsByRequest,
    metrics: &mut MetricAggregator,
    problems: &mut Vec<Problem>,
) -> ReportedProcess {
    let mut report = ReportedProcess {
        index: process.index,
        environment: process.environment,
        exit: process.exit.clone(),
        stopped_by_harness: process.stopped_by_harness,
        invocations,
        stdout_lines: 0,
        stderr_lines: 0,
        emf_lines: 0,
        peak_memory_mb: process.peak_memory_bytes.map(mb),
        memory_limit_mb: process.memory_limit_bytes.map(mb),
        out_of_memory: process.out_of_memory,
        last_stderr: Vec::new(),
        dropped_output_lines: process.dropped_output_lines,
    };
    let stderr = process
        .output
        .iter()
        .filter(|line| line.stream == OutputStream::Stderr);
    let skip = stderr
        .clone()
        .count()
        .saturating_sub(ReportedProcess::STDERR_LINES);
    report.last_stderr = stderr.skip(skip).map(|line| line.text.clone()).collect();
    for (n, line) in process.output.iter().enumerate() {
        if line.stream == OutputStream::Stderr {
            report.stderr_lines += 1;
            continue;
        }
        report.stdout_lines += 1;
        if !emf::looks_like_emf(&line.text) {
            continue;
        }
        let location = || format!("process {}, output line {}", process.index, n + 1);
        let mut add_facts = |document: &serde_json::Value, problems: &mut Vec<Problem>| {
            facts.add(document);
            let impossible = Facts::impossible(&document["lambda_perf"]);
            if !impossible.is_empty() {
                problems.push(
                    Problem::new(ProblemKind::InvalidFacts, location(), impossible.join("; "))
                        .with_excerpt(&line.text),
                );
            }
        };
        match emf::check(&line.text) {
            Ok(document) => {
                report.emf_lines += 1;
                add_facts(&document, problems);
                metrics.add(&document);
            }
            Err(reasons) => {
                // Facts are still worth having from a line CloudWatch would reject.
                if let Ok(document) = serde_json::from_str(emf::document_text(&line.text)) {
                    add_facts(&document, problems);
                }
                problems.push(
                    Problem::new(ProblemKind::InvalidEmf, location(), reasons.join("; "))
                        .with_excerpt(&line.text),
                );
            }
        }
    }
    report
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Reports one invocation.
fn invocation(
    run: &RecordedInvocation,
    facts: &FactsByRequest,
    traces: &mut TraceIndex,
    problems: &mut Vec<Problem>,
) -> ReportedInvocation {
    let header_text = run
        .trace_header
        .as_deref()
        .or_else(|| run.reply.as_ref().ok()?.trace_header.as_deref());
    let header = header_text.and_then(TraceHeader::parse);
    let tree = header
        .as_ref()
        .map(|header| traces.tree(&header.root, &header.parent))
        .unwrap_or_default();
    for orphan in &tree.orphans {
        problems.push(orphan_problem(orphan, run, header.as_ref()));
    }
    for deep in &tree.too_deep {
        problems.push(
            Problem::new(
                ProblemKind::DeepSubsegments,
                format!("datagram {}, invocation {}", deep.datagram + 1, run.index),
                format!(
                    "{} subsegment(s) nested under {:?} ({}), more than {} levels deep, are \
                     not drawn",
                    deep.hidden,
                    deep.name,
                    deep.id,
                    Subsegment::MAX_DEPTH
                ),
            )
            .with_invocation(run.index),
        );
    }

    // The facts: from EMF, else from the handler subsegment's metadata and annotations.
    let xray_facts = tree.handler.as_ref().map(|handler| {
        let annotated = Facts {
            start_kind: handler
                .annotations
                .get("StartKind")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            ..Facts::default()
        };
        handler.facts.clone().unwrap_or_default().or(annotated)
    });
    let facts = match (facts.get(&run.request_id).cloned(), xray_facts) {
        (Some(emf), Some(xray)) => emf.or(xray),
        (emf, xray) => emf.or(xray).unwrap_or_default(),
    };

    let response_ms = run
        .reply
        .as_ref()
        .ok()
        .and_then(RecordedReply::duration)
        .map(millis);
    let (status, error, duration_ms) = match &run.reply {
        Ok(reply) => {
            let (status, error) = answered(reply);
            // Lambda's invocation lasts until the runtime asks for its next event.
            let released = reply
                .handed_out_at
                .zip(run.released_at)
                .map(|(start, end)| millis(end.saturating_duration_since(start)));
            (status, error, released.or(response_ms))
        }
        Err(failure) if failure.kind == NoReplyKind::OutOfMemory => {
            // The function's failure, as Lambda reports it; not a problem of the harness.
            let duration = run
                .handed_out_at
                .zip(run.ended_at)
                .map(|(start, end)| millis(end.saturating_duration_since(start)));
            (
                Status::OutOfMemory,
                Some(format!(
                    "{OUT_OF_MEMORY_ERROR_TYPE}: {OUT_OF_MEMORY_MESSAGE}"
                )),
                duration,
            )
        }
        Err(failure) => {
            // A timed-out invocation lasted until its timeout, one the function's process
            // exited in until the exit (`Runtime.ExitError`), and Lambda bills them so.
            let ran = matches!(
                failure.kind,
                NoReplyKind::Timeout | NoReplyKind::ProcessExited
            );
            let duration = ran
                .then(|| run.handed_out_at.zip(run.ended_at))
                .flatten()
                .map(|(start, end)| millis(end.saturating_duration_since(start)));
            // The function's failure, as Lambda reports it, unless the harness failed.
            let kind = if ran {
                ProblemKind::FunctionFailure
            } else {
                ProblemKind::HarnessFailure
            };
            problems.push(
                Problem::new(
                    kind,
                    format!("invocation {} ({})", run.index, run.request_id),
                    failure.message.clone(),
                )
                .with_invocation(run.index),
            );
            (
                failure_status(failure),
                Some(failure.message.clone()),
                duration,
            )
        }
    };
    ReportedInvocation {
        index: run.index,
        request_id: run.request_id.clone(),
        process: run.process,
        environment: run.environment,
        cold_start: facts.is_cold_start(),
        start_kind: facts.start_kind.clone(),
        duration_ms,
        response_ms,
        started_ms: None,
        concurrent_with: Vec::new(),
        function_duration_ms: facts.duration_ms,
        init_duration_ms: facts
            .init_duration_ms
            .filter(|_| facts.invocation == Some(1)),
        platform_init_ms: None,
        restore_duration_ms: None,
        billed_duration_ms: None,
        max_memory_used_mb: run.max_memory_used_bytes.map(mb),
        idle_gap_ms: facts.idle_gap_ms,
        status,
        error,
        trace_id: header.map(|h| h.root),
        subsegments: tree.roots,
    }
}

/// The status and error of an invocation that got a reply.
fn answered(reply: &RecordedReply) -> (Status, Option<String>) {
    match &reply.answer {
        AnswerSummary::Response { .. } => (Status::Ok, None),
        AnswerSummary::Error { error_type, error } => {
            let kind = error.error_type.as_deref().or(error_type.as_deref());
            (Status::Error, Some(describe(kind, error)))
        }
        AnswerSummary::InitError { error, .. } => (
            Status::InitError,
            Some(describe(error.error_type.as_deref(), error)),
        ),
    }
}

/// `type: message`, or the message alone when the type is a Rust type path (the Rust runtime
/// reports `alloc::boxed::Box<dyn core::error::Error + …>` for most errors), which says
/// nothing a reader needs.
fn describe(kind: Option<&str>, error: &ErrorDocument) -> String {
    match (kind, error.error_message.as_deref()) {
        (Some(kind), Some(message)) if !kind.contains("::") && !kind.contains('<') => {
            format!("{kind}: {message}")
        }
        (_, Some(message)) => message.to_owned(),
        _ => error.to_string(),
    }
}

fn failure_status(failure: &NoReply) -> Status {
    match failure.kind {
        NoReplyKind::Timeout => Status::Timeout,
        NoReplyKind::OutOfMemory => Status::OutOfMemory,
        NoReplyKind::ProcessExited => Status::ExitError,
        NoReplyKind::Other => Status::HarnessError,
    }
}

fn orphan_problem(
    orphan: &Orphan,
    run: &RecordedInvocation,
    header: Option<&TraceHeader>,
) -> Problem {
    let parent = orphan.parent_id.as_deref().unwrap_or("none");
    let message = if orphan.in_cycle {
        format!(
            "subsegment {:?} ({}) is in a loop of parents (parent_id {parent})",
            orphan.name, orphan.id
        )
    } else {
        format!(
            "subsegment {:?} ({}) has parent_id {parent}, neither a subsegment of the trace \
             nor the trace header's Parent {}",
            orphan.name,
            orphan.id,
            header.map_or("?", |h| h.parent.as_str())
        )
    };
    Problem::new(
        ProblemKind::OrphanSubsegment,
        format!("datagram {}, invocation {}", orphan.datagram + 1, run.index),
        message,
    )
    .with_invocation(run.index)
}
