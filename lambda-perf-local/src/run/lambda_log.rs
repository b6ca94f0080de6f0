//! [`lambda_log`]: a run written as Lambda would log it to CloudWatch, in the text form
//! `aws logs tail` prints (`<timestamp> <log stream> <message>`), which `lambda-perf logs`
//! reads back.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::logs::format_timestamp;
use crate::pricing::billed_ms;
use crate::report::{
    FailedInit, NoReplyKind, OUT_OF_MEMORY_ERROR_TYPE, OUT_OF_MEMORY_MESSAGE, Report,
    ReportedInvocation, RunRecord, Status, failed_inits, init_on_demand, runtime_exit_error,
};

/// Where a line goes among the lines of the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Start,
    Output,
    End,
}

struct Entry<'a> {
    at: Instant,
    rank: Rank,
    stream: &'a str,
    message: String,
}

/// How long after a runtime asked for its next event the harness may still be reading what
/// it wrote before asking (its output is read from a pipe, by a task of its own). A line read
/// later was written later, by a thread the request did not stop: the harness, unlike
/// Lambda, does not freeze a runtime waiting in `/next`.
const READ_LAG: Duration = Duration::from_millis(100);

/// When each process waited in `/next`, by process index: from each release of an
/// invocation (its request for the next event) to the next hand-out to it, if one came; in
/// order. One pass over the invocations, however many processes the run had.
fn idle_spells(record: &RunRecord) -> HashMap<usize, Vec<(Instant, Option<Instant>)>> {
    let mut by_process: HashMap<usize, (Vec<Instant>, Vec<Instant>)> = HashMap::new();
    for run in &record.invocations {
        let (handed_out, released) = by_process.entry(run.process).or_default();
        handed_out.extend(run.handed_out_at);
        // An answered invocation that no request for work ended (on Managed Instances, all
        // of them) ends at its answer: the END goes there, and so does this spell.
        released.extend(
            run.released_at
                .or(run.ended_at.filter(|_| run.reply.is_ok())),
        );
    }
    by_process
        .into_iter()
        .map(|(process, (mut handed_out, mut released))| {
            handed_out.sort_unstable();
            released.sort_unstable();
            let spells = released
                .into_iter()
                .map(|released| {
                    let next = handed_out.partition_point(|&at| at < released);
                    (released, handed_out.get(next).copied())
                })
                .collect();
            (process, spells)
        })
        .collect()
}

/// When a line the harness read at `read_at` was written, as far as the log's order goes: a
/// line read just after its runtime asked for work (within [`READ_LAG`], before the next
/// hand-out) was written before that request and read a little later, so it belongs before
/// the `END` of the invocation the request released. Any other keeps the time it was read.
fn written_by(read_at: Instant, idle: &[(Instant, Option<Instant>)]) -> Instant {
    let after = idle.partition_point(|&(released, _)| released <= read_at);
    match after.checked_sub(1).map(|spell| idle[spell]) {
        Some((released, next))
            if read_at.duration_since(released) <= READ_LAG
                && next.is_none_or(|next| read_at < next) =>
        {
            released
        }
        _ => read_at,
    }
}

/// When each process failed, by process index, in order: the ends of its invocations that
/// failed in its init, and whether it exited there (rather than reporting an init error), and
/// the ends of those it exited in (or the kernel killed it for memory in) once handed out,
/// all exits.
fn process_failures(
    record: &RunRecord,
    failed: &[Option<FailedInit>],
) -> HashMap<usize, Vec<(Instant, bool)>> {
    let mut by_process: HashMap<usize, Vec<(Instant, bool)>> = HashMap::new();
    for (run, failed) in record.invocations.iter().zip(failed) {
        let Some(ended) = run.ended_at else {
            continue;
        };
        let exited_in_it = run.handed_out_at.is_some()
            && matches!(
                &run.reply,
                Err(failure)
                    if matches!(failure.kind, NoReplyKind::ProcessExited | NoReplyKind::OutOfMemory)
            );
        let failure = if failed.is_some() {
            (ended, run.reply.is_err())
        } else if exited_in_it {
            (ended, true)
        } else {
            continue;
        };
        by_process.entry(run.process).or_default().push(failure);
    }
    for failures in by_process.values_mut() {
        failures.sort_unstable();
    }
    by_process
}

/// When a line the harness read at `read_at` was written, if before a failure of its
/// process (`failures`, in order, see [`process_failures`]): a process that exited wrote
/// everything it did before its exit, however late the harness read it; after an init error,
/// a line read within [`READ_LAG`] was written before it too. Such a line goes before the
/// platform's lines of that failure, at its time.
fn written_before_failure(read_at: Instant, failures: &[(Instant, bool)]) -> Option<Instant> {
    let after = failures.partition_point(|&(failed_at, _)| failed_at <= read_at);
    let (failed_at, exited) = failures[..after].last().copied()?;
    (exited || read_at.duration_since(failed_at) <= READ_LAG).then_some(failed_at)
}

/// The `Max Memory Used` written for an invocation whose peak was not measured (an unsized
/// process that ended before it was read, which only a cgroup counts after): Lambda writes a
/// figure in every `REPORT`, in whole MB, and this is the smallest above 0 MB (which would
/// read as measured). [`unmeasured_max_memory`] says how many lines carry it.
pub const UNMEASURED_MAX_MEMORY_MB: u64 = 1;

/// How many `REPORT` lines of [`lambda_log`] carry [`UNMEASURED_MAX_MEMORY_MB`] for want of
/// a measured peak (an invocation killed for memory used its whole size: that one is known).
pub fn unmeasured_max_memory(report: &Report) -> usize {
    report
        .invocations
        .iter()
        .filter(|invocation| {
            invocation.max_memory_used_mb.is_none() && invocation.status != Status::OutOfMemory
        })
        .count()
}

/// The run as Lambda would log it: each process's output interleaved, by time, with a
/// `START`, `END` and `REPORT` line per invocation that carry what the run measured (the
/// duration, the billed duration, the memory size, the process's peak memory so far (see
/// [`UNMEASURED_MAX_MEMORY_MB`]) and, on the first invocation of a process initialized on
/// demand, the platform's init). A runtime that exited during an invocation is logged as
/// Lambda logs one, before that invocation's `END` (`RequestId: … Error: Runtime exited
/// with error: exit status 1`, then
/// `Runtime.ExitError`; each invocation that was in it gets its own two lines), and so is an
/// out-of-memory kill (`… signal: killed`, then `Runtime.OutOfMemory`), a timeout (`Task timed
/// out after …`, after the `REPORT`) and, initialized on demand, an invocation whose process
/// failed in its init: an `INIT_REPORT … Phase: invoke Status: error Error Type: …` line,
/// then its `START`, the two lines of the exit when its runtime exited (or of the kill when
/// it was killed for memory), `END` and `REPORT` with that error, as Lambda logs an init it retried in the invocation that failed again.
/// Each line goes to the log stream of its execution environment.
///
/// `report` must be [`Report::build`] of `record`.
pub fn lambda_log(record: &RunRecord, report: &Report) -> String {
    let streams: HashMap<usize, &str> = record
        .processes
        .iter()
        .rev()
        .map(|process| (process.index, process.log_stream.as_str()))
        .collect();
    let stream_of = |process: usize| streams.get(&process).copied().unwrap_or("");
    let exit_statuses: HashMap<usize, ExitStatus> = record
        .processes
        .iter()
        .rev()
        .filter_map(|process| Some((process.index, process.exit_status?)))
        .collect();
    let mut entries: Vec<Entry<'_>> = Vec::new();
    let spells = idle_spells(record);
    let failed = if init_on_demand(record) {
        failed_inits(record)
    } else {
        vec![None; record.invocations.len()]
    };
    let failures = process_failures(record, &failed);
    for process in &record.processes {
        let idle = spells.get(&process.index).map_or(&[][..], Vec::as_slice);
        let failures = failures.get(&process.index).map_or(&[][..], Vec::as_slice);
        for line in &process.output {
            let at = written_before_failure(line.received_at, failures)
                .unwrap_or_else(|| written_by(line.received_at, idle));
            entries.push(Entry {
                at,
                rank: Rank::Output,
                stream: &process.log_stream,
                message: line.text.clone(),
            });
        }
    }
    let version = record.config.version();
    for ((run, invocation), failed) in record
        .invocations
        .iter()
        .zip(&report.invocations)
        .zip(&failed)
    {
        let stream = stream_of(run.process);
        // Lambda's two lines of a runtime that exited in the invocation, or was killed for
        // memory in it.
        let exit_lines = match &run.reply {
            Err(failure) if failure.kind == NoReplyKind::ProcessExited => {
                let status = exit_statuses.get(&run.process).copied();
                Some(runtime_exit_error(&run.request_id, status))
            }
            Err(failure) if failure.kind == NoReplyKind::OutOfMemory => Some([
                format!(
                    "RequestId: {} Error: {OUT_OF_MEMORY_MESSAGE}",
                    run.request_id
                ),
                OUT_OF_MEMORY_ERROR_TYPE.to_owned(),
            ]),
            _ => None,
        };
        if let (Some(failed), Some(ended)) = (failed, run.ended_at) {
            failed_init_lines(
                &mut entries,
                record,
                invocation,
                failed,
                exit_lines,
                ended,
                stream,
            );
            continue;
        }
        let Some(started) = run.handed_out_at else {
            continue;
        };
        entries.push(Entry {
            at: started,
            rank: Rank::Start,
            stream,
            message: start_line(&run.request_id, version),
        });
        // Lambda's END and REPORT come when the runtime asks for its next event: after
        // what it wrote once it had answered.
        let Some(ended) = run.released_at.or(run.ended_at) else {
            continue;
        };
        let mut end = |message: String| {
            entries.push(Entry {
                at: ended,
                rank: Rank::End,
                stream,
                message,
            });
        };
        for line in exit_lines.into_iter().flatten() {
            end(line);
        }
        end(end_line(&run.request_id));
        let duration_ms = invocation
            .duration_ms
            .unwrap_or_else(|| ended.saturating_duration_since(started).as_secs_f64() * 1000.0);
        end(report_line(record, invocation, duration_ms, None));
        if invocation.status == Status::Timeout {
            // Lambda's own line, with its own timestamp (to the millisecond, `Z`) and the
            // time the invocation ran.
            let stamp = format_timestamp(record.clock.epoch_ms(ended));
            end(format!(
                "{}Z {} Task timed out after {:.2} seconds",
                &stamp[..23],
                run.request_id,
                duration_ms / 1000.0
            ));
        }
    }
    // A stable sort: lines of the same instant and rank keep the order they were pushed in.
    entries.sort_by_key(|entry| (entry.at, entry.rank));
    let mut out = String::new();
    for entry in entries {
        let time = format_timestamp(record.clock.epoch_ms(entry.at));
        if entry.stream.is_empty() {
            let _ = writeln!(out, "{time} {}", entry.message);
        } else {
            let _ = writeln!(out, "{time} {} {}", entry.stream, entry.message);
        }
    }
    out
}

/// The lines of an invocation whose process failed in its init, all at its end (`ended`),
/// in this order and after what the process wrote by then: Lambda's `INIT_REPORT` for the
/// init it retried in the invocation and that failed again, then `START`, the `Runtime
/// exited …` lines (`exited`) when the runtime exited in that init (or was killed for
/// memory), `END` and `REPORT`. The
/// harness tries that init once: where Lambda, in a new environment, first tries it in the
/// init phase and logs an `INIT_REPORT … Phase: init` line for that too, this log has only
/// the one it failed in.
fn failed_init_lines<'a>(
    entries: &mut Vec<Entry<'a>>,
    record: &RunRecord,
    invocation: &ReportedInvocation,
    failed: &FailedInit,
    exited: Option<[String; 2]>,
    ended: Instant,
    stream: &'a str,
) {
    // All ranked as ends, after the output of the same instant; the sort keeps their order.
    let mut push = |message: String| {
        entries.push(Entry {
            at: ended,
            rank: Rank::End,
            stream,
            message,
        });
    };
    push(format!(
        "INIT_REPORT Init Duration: {:.2} ms\tPhase: invoke\tStatus: error\tError Type: {}",
        failed.init_ms, failed.error_type
    ));
    push(start_line(&invocation.request_id, record.config.version()));
    for line in exited.into_iter().flatten() {
        push(line);
    }
    push(end_line(&invocation.request_id));
    let duration_ms = invocation.duration_ms.unwrap_or(failed.init_ms);
    push(report_line(
        record,
        invocation,
        duration_ms,
        Some(&failed.error_type),
    ));
}

/// `START RequestId: … Version: …`, as Lambda writes it.
fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

/// `END RequestId: …`, as Lambda writes it.
fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// `REPORT RequestId: … Duration: …`, its fields separated by tabs as Lambda writes it;
/// with `Status: error` and `init_error` as its `Error Type` for an invocation whose init
/// failed.
fn report_line(
    record: &RunRecord,
    invocation: &ReportedInvocation,
    duration_ms: f64,
    init_error: Option<&str>,
) -> String {
    let on_demand_init = invocation
        .platform_init_ms
        .filter(|_| init_on_demand(record));
    let billed = invocation
        .billed_duration_ms
        .unwrap_or_else(|| billed_ms(duration_ms + on_demand_init.unwrap_or(0.0)));
    let used = match (invocation.max_memory_used_mb, invocation.status) {
        (Some(mb), _) => mb.ceil() as u64,
        // Killed at its limit: all of its size was used, as Lambda writes it.
        (None, Status::OutOfMemory) => u64::from(record.config.memory_mb()),
        (None, _) => UNMEASURED_MAX_MEMORY_MB,
    };
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed} ms\t\
         Memory Size: {} MB\tMax Memory Used: {used} MB",
        invocation.request_id,
        record.config.memory_mb(),
    );
    // Only an init on demand is part of an invocation: provisioned concurrency, SnapStart
    // and Managed Instances initialize ahead, and Lambda's `REPORT` lines carry no
    // `Init Duration` for them (which `lambda-perf logs` would count as a cold start).
    if let Some(init) = on_demand_init {
        let _ = write!(line, "\tInit Duration: {init:.2} ms");
    }
    // A SnapStart restore, as Lambda reports one in its `REPORT` line (the billed part is
    // already in `Billed Duration`).
    if let Some(restore) = invocation.restore_duration_ms {
        let _ = write!(
            line,
            "\tRestore Duration: {restore:.2} ms\tBilled Restore Duration: {} ms",
            billed_ms(restore)
        );
    }
    if let Some(error_type) = init_error {
        let _ = write!(line, "\tStatus: error\tError Type: {error_type}");
        return line;
    }
    match invocation.status {
        Status::OutOfMemory => {
            let _ = write!(
                line,
                "\tStatus: error\tError Type: {OUT_OF_MEMORY_ERROR_TYPE}"
            );
        }
        Status::Timeout => line.push_str("\tStatus: timeout"),
        // A failure of the harness has no line of Lambda's: logged as the exit it stands for.
        Status::ExitError | Status::HarnessError => {
            line.push_str("\tStatus: error\tError Type: Runtime.ExitError");
        }
        _ => {}
    }
    line
}
