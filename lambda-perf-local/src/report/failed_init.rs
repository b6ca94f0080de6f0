//! [`failed_inits`]: the invocations of a run that failed in the init of their process (an
//! init error, or a runtime that exited before it asked for work), with what Lambda logs
//! of that init.
//!
//! On demand, Lambda tries a failed init again as part of the invocation ("Lambda retries
//! the Init phase at the time of the first function invocation",
//! <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>), and when
//! that fails too it logs the invocation as any other: an `INIT_REPORT … Phase: invoke
//! Status: error Error Type: …` line for the init that failed in it, `START`, `END`, and a
//! `REPORT` whose `Duration` holds that init, billed, with no `Init Duration`, and the init's
//! error type (`Status: error\tError Type: Runtime.InvalidEntrypoint` in
//! <https://github.com/nishidemasami/contactform-api/issues/29>). CloudWatch logs published
//! on GitHub show the whole sequence, e.g. a Node.js function's (tabs written `\t`):
//!
//! ```text
//! INIT_REPORT Init Duration: 1329.49 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.UserCodeSyntaxError
//! START RequestId: f8400400-dd9e-4025-b644-4c78df3287c7 Version: $LATEST
//! END RequestId: f8400400-dd9e-4025-b644-4c78df3287c7
//! REPORT RequestId: f8400400-dd9e-4025-b644-4c78df3287c7\tDuration: 1338.34 ms\tBilled Duration: 1339 ms\tMemory Size: 128 MB\tMax Memory Used: 71 MB\tStatus: error\tError Type: Runtime.UserCodeSyntaxError
//! ```
//!
//! and `Error Type: Runtime.ExitError` for a runtime that exited.
//!
//! The `Error Type` of an init error is the runtime's `Lambda-Runtime-Function-Error-Type`
//! header, not its body's `errorType`: the Runtime API keeps the header when it names a
//! runtime or function error (`(Runtime|Function)\.[A-Z][a-zA-Z]+`, found anywhere in it), else
//! reports `Function.Unknown` for one that starts `Function.` and `Runtime.Unknown` for any
//! other, or none (`GetValidRuntimeOrFunctionErrorType` of the Runtime Interface Emulator,
//! <https://github.com/aws/aws-lambda-runtime-interface-emulator>, which its init error
//! handler applies to that header). The Rust runtime sends `unhandled`: `Runtime.Unknown`.

use std::collections::HashMap;
use std::time::Instant;

use crate::emulator::AnswerSummary;

use super::no_reply::{NoReplyKind, OUT_OF_MEMORY_ERROR_TYPE};
use super::record::RunRecord;

/// The error type Lambda logs for a runtime that exited.
pub(crate) const EXIT_ERROR_TYPE: &str = "Runtime.ExitError";

/// The error type logged for an init error whose runtime named none Lambda logs as one (no
/// `Lambda-Runtime-Function-Error-Type` header, or one that names no runtime or function
/// error), or one with spaces or control characters, which would break the line: the type
/// Lambda itself logs for a failure it cannot name.
pub(crate) const UNKNOWN_ERROR_TYPE: &str = "Runtime.Unknown";

/// What Lambda logs for a `Lambda-Runtime-Function-Error-Type` header that starts
/// `Function.` but names no function error.
pub(crate) const UNKNOWN_FUNCTION_ERROR_TYPE: &str = "Function.Unknown";

/// An invocation's process failed in its init.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailedInit {
    /// What Lambda logs as its `Error Type`: the type the runtime reported in the
    /// `Lambda-Runtime-Function-Error-Type` header of its init error, as Lambda reads it
    /// ([`init_error_type`]), [`EXIT_ERROR_TYPE`] when it exited, or `Runtime.OutOfMemory`
    /// when the kernel killed it for memory.
    pub(crate) error_type: String,
    /// How long the init ran, from the process's start to its failure (ms): its
    /// `INIT_REPORT`'s `Init Duration`, and the invocation's `Duration`.
    pub(crate) init_ms: f64,
}

/// For each invocation of `record` (in run order), whether its process failed in its init:
/// one that was never handed out and got the init error of its process, or whose process
/// exited (or was killed for memory: `Runtime.OutOfMemory`) before it had handed out any
/// invocation. Every such invocation of a process shares
/// its failure, at the first of their ends.
pub(crate) fn failed_inits(record: &RunRecord) -> Vec<Option<FailedInit>> {
    let mut first_hand_out: HashMap<usize, Instant> = HashMap::new();
    for run in &record.invocations {
        if let Some(at) = run.handed_out_at {
            first_hand_out
                .entry(run.process)
                .and_modify(|first| *first = (*first).min(at))
                .or_insert(at);
        }
    }
    let failures: Vec<Option<(String, Instant)>> = record
        .invocations
        .iter()
        .map(|run| {
            let ended = run.ended_at.filter(|_| run.handed_out_at.is_none())?;
            let error_type = match &run.reply {
                Ok(reply) => match &reply.answer {
                    AnswerSummary::InitError { error_type, .. } => {
                        init_error_type(error_type.as_deref())
                    }
                    _ => return None,
                },
                Err(failure)
                    if matches!(
                        failure.kind,
                        NoReplyKind::ProcessExited | NoReplyKind::OutOfMemory
                    ) =>
                {
                    let had_work = first_hand_out
                        .get(&run.process)
                        .is_some_and(|first| *first <= ended);
                    if had_work {
                        return None;
                    }
                    if failure.kind == NoReplyKind::OutOfMemory {
                        OUT_OF_MEMORY_ERROR_TYPE.to_owned()
                    } else {
                        EXIT_ERROR_TYPE.to_owned()
                    }
                }
                Err(_) => return None,
            };
            Some((error_type, ended))
        })
        .collect();
    let mut failed_at: HashMap<usize, Instant> = HashMap::new();
    for (run, failure) in record.invocations.iter().zip(&failures) {
        if let Some((_, ended)) = failure {
            failed_at
                .entry(run.process)
                .and_modify(|first| *first = (*first).min(*ended))
                .or_insert(*ended);
        }
    }
    let mut spawned: HashMap<usize, Instant> = HashMap::new();
    for process in &record.processes {
        if let Some(at) = process.spawned_at {
            spawned.entry(process.index).or_insert(at);
        }
    }
    record
        .invocations
        .iter()
        .zip(failures)
        .map(|(run, failure)| {
            let (error_type, _) = failure?;
            let started = spawned.get(&run.process)?;
            let failed = failed_at.get(&run.process)?;
            Some(FailedInit {
                error_type,
                init_ms: failed.saturating_duration_since(*started).as_secs_f64() * 1000.0,
            })
        })
        .collect()
}

/// The error type Lambda logs for an init error whose `Lambda-Runtime-Function-Error-Type`
/// header was `header`: the header when it names a runtime or function error (and a log
/// line can carry it), else [`UNKNOWN_FUNCTION_ERROR_TYPE`] for one that starts `Function.`,
/// else [`UNKNOWN_ERROR_TYPE`].
fn init_error_type(header: Option<&str>) -> String {
    let header = header.map_or("", str::trim);
    if names_runtime_or_function_error(header) {
        return loggable(header);
    }
    if header.starts_with("Function.") {
        return UNKNOWN_FUNCTION_ERROR_TYPE.to_owned();
    }
    UNKNOWN_ERROR_TYPE.to_owned()
}

/// Whether `value` holds `(Runtime|Function)\.[A-Z][a-zA-Z]+` anywhere, as the Runtime API's
/// check finds it (unanchored).
fn names_runtime_or_function_error(value: &str) -> bool {
    ["Runtime.", "Function."].iter().any(|prefix| {
        value.match_indices(prefix).any(|(at, _)| {
            let mut rest = value[at + prefix.len()..].chars();
            rest.next().is_some_and(|c| c.is_ascii_uppercase())
                && rest.next().is_some_and(|c| c.is_ascii_alphabetic())
        })
    })
}

/// `error_type` as a log line can carry it, else [`UNKNOWN_ERROR_TYPE`].
fn loggable(error_type: &str) -> String {
    let carried = !error_type.is_empty()
        && error_type.len() <= 200
        && !error_type
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if carried {
        error_type
    } else {
        UNKNOWN_ERROR_TYPE
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_type_of_an_init_error_is_its_header_as_lambda_reads_it() {
        for kept in [
            "Runtime.ImportModuleError",
            "Runtime.UserCodeSyntaxError",
            "Function.ConfigMissing",
            " Runtime.ExitError\n",
            // Found anywhere, as the Runtime API's unanchored check finds it.
            "MyRuntime.Failed",
        ] {
            assert_eq!(init_error_type(Some(kept)), kept.trim(), "{kept:?}");
        }
        for unknown in [
            None,
            Some(""),
            // The Rust runtime's.
            Some("unhandled"),
            Some("Unhandled"),
            // A body's `errorType` Lambda never logs as such.
            Some("Config.Missing"),
            Some("alloc::boxed::Box<dyn core::error::Error + Send + Sync>"),
            Some("Runtime.lowercase"),
            Some("Runtime.X"),
            // Names one, but no line could carry it.
            Some("Runtime.Bad\tType"),
            Some("Runtime.Bad\u{1b}Type"),
        ] {
            assert_eq!(init_error_type(unknown), UNKNOWN_ERROR_TYPE, "{unknown:?}");
        }
        assert_eq!(
            init_error_type(Some(&format!("Runtime.Long{}", "x".repeat(200)))),
            UNKNOWN_ERROR_TYPE
        );
        for function in ["Function.", "Function.lower", "Function.B"] {
            assert_eq!(
                init_error_type(Some(function)),
                UNKNOWN_FUNCTION_ERROR_TYPE,
                "{function:?}"
            );
        }
    }
}
