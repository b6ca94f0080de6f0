//! [`runtime_exit_error`]: what Lambda logs of a runtime that exited during an invocation.
//!
//! When the function's process ends while an invocation is in it (it exits, or a signal
//! kills it), Lambda writes two lines to the function's log before that invocation's `END`:
//!
//! ```text
//! RequestId: 9c0d1e8a-7f6b-4d3c-a2b1-0e9f8d7c6b5a Error: Runtime exited with error: exit status 1
//! Runtime.ExitError
//! ```
//!
//! The words after `Runtime exited with error:` are those of Lambda's init, written in Go
//! (`ProcessTermination.String()` of the supervisor in
//! <https://github.com/aws/aws-lambda-runtime-interface-emulator>, which keeps the wording of
//! Go's `exec.ExitError`): `exit status 1`, or `signal: ` and Go's name of the signal
//! (`signal: killed`, `signal: segmentation fault`, `signal: aborted`…), never a core dump.
//! An exit with status 0 is no error to Go: Lambda says `Runtime exited without providing a
//! reason` instead. An out-of-memory kill is logged the same way, with `Runtime.OutOfMemory`
//! on the second line ([`OUT_OF_MEMORY_ERROR_TYPE`]).
//!
//! [`OUT_OF_MEMORY_ERROR_TYPE`]: super::OUT_OF_MEMORY_ERROR_TYPE

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::failed_init::EXIT_ERROR_TYPE;

/// The names Go gives the Linux signals (`syscall.Signal.String()`, the same table on x86_64
/// and arm64), by number; a signal past them is `signal <number>`.
const SIGNAL_NAMES: [&str; 31] = [
    "hangup",
    "interrupt",
    "quit",
    "illegal instruction",
    "trace/breakpoint trap",
    "aborted",
    "bus error",
    "floating point exception",
    "killed",
    "user defined signal 1",
    "segmentation fault",
    "user defined signal 2",
    "broken pipe",
    "alarm clock",
    "terminated",
    "stack fault",
    "child exited",
    "continued",
    "stopped (signal)",
    "stopped",
    "stopped (tty input)",
    "stopped (tty output)",
    "urgent I/O condition",
    "CPU time limit exceeded",
    "file size limit exceeded",
    "virtual timer expired",
    "profiling timer expired",
    "window changed",
    "I/O possible",
    "power failure",
    "bad system call",
];

/// A signal as Go names it: `killed` for 9, `segmentation fault` for 11, `signal 34` for
/// one it has no name for.
fn signal_name(signal: i32) -> String {
    usize::try_from(signal)
        .ok()
        .and_then(|number| number.checked_sub(1))
        .and_then(|index| SIGNAL_NAMES.get(index))
        .map_or_else(|| format!("signal {signal}"), |name| (*name).to_owned())
}

/// How a process ended, as Lambda words it: `exit status 1`, `signal: killed`, `signal:
/// segmentation fault`. A status that is neither an exit nor a signal (none a process that
/// ended has) reads as Lambda's supervisor reads one: `signal: killed`.
fn lambda_exit_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exit status {code}")
    } else if let Some(signal) = status.signal() {
        format!("signal: {}", signal_name(signal))
    } else {
        "signal: killed".to_owned()
    }
}

/// What Lambda says of a runtime that ended with `status`: `Runtime exited with error: …`,
/// or, when it exited with status 0 (or how it ended is unknown), `Runtime exited without
/// providing a reason`.
fn runtime_exit_message(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) if !status.success() => {
            format!("Runtime exited with error: {}", lambda_exit_status(status))
        }
        _ => "Runtime exited without providing a reason".to_owned(),
    }
}

/// Lambda's two lines for invocation `request_id`, whose runtime ended with `status` (`None`:
/// unknown), in order.
pub(crate) fn runtime_exit_error(request_id: &str, status: Option<ExitStatus>) -> [String; 2] {
    [
        format!(
            "RequestId: {request_id} Error: {}",
            runtime_exit_message(status)
        ),
        EXIT_ERROR_TYPE.to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wait status as the kernel gives it: the exit code in the second byte, else the
    /// signal in the low seven bits and the core dump in the eighth.
    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn killed_by(signal: i32, core_dumped: bool) -> ExitStatus {
        ExitStatus::from_raw(signal | if core_dumped { 0x80 } else { 0 })
    }

    #[test]
    fn exits_and_signals_are_worded_as_lambda_words_them() {
        assert_eq!(lambda_exit_status(exited(1)), "exit status 1");
        assert_eq!(lambda_exit_status(exited(255)), "exit status 255");
        assert_eq!(lambda_exit_status(killed_by(9, false)), "signal: killed");
        assert_eq!(
            lambda_exit_status(killed_by(11, false)),
            "signal: segmentation fault"
        );
        assert_eq!(lambda_exit_status(killed_by(6, false)), "signal: aborted");
        assert_eq!(
            lambda_exit_status(killed_by(15, false)),
            "signal: terminated"
        );
        assert_eq!(lambda_exit_status(killed_by(7, false)), "signal: bus error");
        assert_eq!(
            lambda_exit_status(killed_by(31, false)),
            "signal: bad system call"
        );
        assert_eq!(
            lambda_exit_status(killed_by(34, false)),
            "signal: signal 34"
        );
        // Lambda's supervisor does not say whether the kernel dumped a core.
        assert_eq!(
            lambda_exit_status(killed_by(11, true)),
            "signal: segmentation fault"
        );
    }

    #[test]
    fn the_two_lines_name_the_invocation_and_the_exit() {
        assert_eq!(
            runtime_exit_error("r-1", Some(exited(1))),
            [
                "RequestId: r-1 Error: Runtime exited with error: exit status 1",
                "Runtime.ExitError"
            ]
        );
        assert_eq!(
            runtime_exit_error("r-2", Some(killed_by(6, true))),
            [
                "RequestId: r-2 Error: Runtime exited with error: signal: aborted",
                "Runtime.ExitError"
            ]
        );
    }

    /// An exit with status 0 is no error to Go's `exec`: Lambda gives no reason.
    #[test]
    fn an_exit_with_status_0_or_unknown_provides_no_reason() {
        for status in [Some(exited(0)), None] {
            assert_eq!(
                runtime_exit_error("r-3", status)[0],
                "RequestId: r-3 Error: Runtime exited without providing a reason"
            );
        }
    }
}
