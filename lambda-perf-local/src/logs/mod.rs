//! `lambda-perf logs`: the CloudWatch Logs Insights questions about cold starts, answered
//! offline from a function's exported logs.
//!
//! # Input
//!
//! Each file is either the JSON `aws logs filter-log-events` writes (`{"events": [...]}`, or
//! the array of events alone; several pages one after the other, or in one array as `jq -s`
//! gathers them, are read in turn, and an export cut short or damaged is counted as
//! malformed, not read as text), or the messages of a CloudWatch Logs subscription as Amazon
//! Data Firehose delivers them (`{"messageType": "DATA_MESSAGE", "logStream": …,
//! "logEvents": [...]}` one after the other; `CONTROL_MESSAGE`s are skipped), or text with one
//! log event a line (one whose first line is a record of the function's own that holds an
//! `events` or `logEvents` array too: keys no export has beside it, or no `messageType`, and
//! items that are not log events with a `message` and a numeric `timestamp`), with or
//! without the prefix `aws logs tail` prints (`<timestamp> <log stream> ` by default, `<timestamp> ` with `--format short`; with `--format json`, a message
//! that is entirely JSON, every record of Lambda's JSON log format and every EMF line, is
//! printed indented on the lines after the prefix and read whole) or an export to Amazon S3
//! writes (`<timestamp> `). `lambda-perf run --log-out FILE` writes the text form. A gzip file (an
//! export to S3, a Firehose delivery) is decompressed first, whatever its name; a directory is
//! every file under it, in the order of their paths; a file where an export to S3 puts it
//! (`…/2025/01/02/[$LATEST]0123abcd/000000.gz`) is of the log stream its path names. Files
//! are UTF-8, or UTF-16 with its byte order mark (Windows PowerShell's `>`); a byte order
//! mark is skipped. The lines read:
//!
//! - Lambda's platform lines: `START`, `END` and `REPORT` with `Duration`, `Billed Duration`,
//!   `Memory Size`, `Max Memory Used`, `Init Duration`, `Restore Duration`, `Billed Restore
//!   Duration`, `Status` and `Error Type`, in text (tab- or space-separated) or as the JSON
//!   records of the JSON log format (`platform.start`, `platform.runtimeDone`,
//!   `platform.report` with `durationMs`, `billedDurationMs`, `memorySizeMB`,
//!   `maxMemoryUsedMB`, `initDurationMs`, `restoreDurationMs`, `billedRestoreDurationMs`).
//!   `INIT_START`, `INIT_REPORT`, SnapStart's `RESTORE_START` and `RESTORE_REPORT`, `XRAY`
//!   lines and other `platform.*` records are counted as platform lines, and so are the lines
//!   that tell an invocation's status apart from its `REPORT`: `<request id> Task timed out
//!   after … seconds`, and `RequestId: <request id> Error: Runtime exited …` with the error
//!   type on the line after it (`Runtime.ExitError`, `Runtime.OutOfMemory`).
//! - CloudWatch EMF lines, and in them lambda-perf's `lambda_perf` facts (start kind,
//!   invocation index, idle gap, init duration and, with `LAMBDA_PERF_RESOURCE_USAGE`, the
//!   CPU ratio and the share of its memory size's CPU each invocation used) and
//!   `ClientInitDuration` values.
//! - Anything else is the function's own output.
//!
//! A line that claims to be a platform or EMF line but cannot be read (a `REPORT` without
//! `Billed Duration` or with a figure that is negative or above 10¹² ms or MB, an EMF line
//! that is not JSON, a `REPORT` behind text that is no log prefix, as `aws … --output text`,
//! `yaml` or `table` write it…) is **malformed**: counted, the first few
//! quoted with their location, never fatal.
//!
//! # Rules
//!
//! - An **invocation** is a `REPORT`. The same `REPORT` read twice (the same text for the
//!   same request id, logged at the same millisecond, in the same second when a time is
//!   printed to the second only (`aws logs tail --format short`) or, when a time is unknown,
//!   read in another file: overlapping exports) is counted once, and the repeats reported (a `Task
//!   timed out` line read twice likewise marks one attempt); the retries of a failed
//!   asynchronous invocation, which keep its request id, each have a `REPORT` of their own
//!   and are invocations, as Lambda bills them. A file never holds the same log event twice:
//!   alike `REPORT`s without times in one file (attempts that timed out alike) are each an
//!   invocation. The `ClientInitDuration` values of an EMF line read twice count once, by the
//!   same rule. A **cold start** is an invocation whose `REPORT` has an `Init
//!   Duration`, as in the Logs Insights query `count(@initDuration)`; a `Restore Duration`
//!   (SnapStart) is counted apart.
//! - An invocation's **status** is its `REPORT`'s `Status` (with its `Error Type`). A text
//!   `REPORT` older than that field reads as a success, unless a line of its attempt says
//!   otherwise: its `Task timed out` line (logged after it) makes it a `timeout`, its
//!   `Runtime exited` line (logged before its `END`) an `error` of the type on the line
//!   after that one. Such a line is logged in its attempt's log stream: where the log
//!   streams are known, it is about no `REPORT` of another stream (the retry, in another
//!   environment, of an attempt whose `REPORT` the logs do not hold).
//! - `init_duration_ms` is the platform's own figure, `REPORT`'s `Init Duration`, never
//!   lambda-perf's in-process one. Where both exist for a cold start, both are shown side by
//!   side ([`InitSideBySide`]).
//! - Percentiles are **nearest-rank**: the p-th percentile of n values is the value at rank
//!   ⌈p/100 × n⌉ in ascending order ([`nearest_rank`](crate::report::nearest_rank)).
//! - `duration_ms` covers every invocation; `cold_duration_ms` the cold starts,
//!   `restored_duration_ms` SnapStart's restores (an environment's first invocation, after
//!   its restore rather than an init), `warm_duration_ms` the others.
//! - Memory: `memory_size_mb` is the configured size (the largest when there are several),
//!   `max_memory_used_mb` the largest `Max Memory Used`, the headroom the difference for
//!   that invocation.
//! - Cost uses x86_64 prices unless arm64 is asked for ([`crate::pricing`]): the GB-seconds
//!   of `Billed Duration` times `Memory Size` (1 GB = 1024 MB), plus the request charge per
//!   invocation, with no free tier; at the prices of the initialization type asked for
//!   ([`LogsPricing`]), else of the one the logs state, else on demand (see [`LogsPricing`]
//!   for provisioned concurrency's spillover and Managed Instances), the report saying
//!   which. `Billed Duration` is taken as logged: since August 2025 it includes the INIT
//!   phase of on-demand cold starts. A SnapStart restore's `Billed Restore
//!   Duration` (the runtime's load and the after-restore hooks) is already part of its
//!   `Billed Duration`, which is its `Duration` rounded up plus that: it is shown, not added
//!   again. SnapStart's own charges for caching and restoring snapshots, which the logs do not show,
//!   are not included.
//! - lambda-perf's EMF lines are an invocation's by their request id and log stream: a
//!   retry in another environment is an invocation of its own there too, while a retry later
//!   in the same environment, and every attempt when no log stream is named, shares its
//!   first attempt's facts. Lines read without a log stream beside the same lines read with
//!   one (overlapping exports in two forms) are counted once when their request has one
//!   attempt with a log stream, apart when it has several.
//! - Environment reuse comes from lambda-perf's EMF lines, when present: an environment is a
//!   log stream (Lambda writes one per execution environment); its **lifetime** runs from
//!   the first to the last invocation seen in it (EMF `Timestamp`s, else the log events'
//!   timestamps); the **idle gaps** are those lambda-perf measured before each `warm` start,
//!   and the **longest reused idle gap** the longest of them: an environment idle that long
//!   was still reused. Without log stream names there are no lifetimes, and the report says
//!   so.
//!
//! ```
//! use lambda_perf_local::logs::{LogFile, LogsReport};
//! use lambda_perf_local::pricing::Architecture;
//!
//! let text = "\
//! START RequestId: r-1 Version: $LATEST
//! END RequestId: r-1
//! REPORT RequestId: r-1\tDuration: 12.50 ms\tBilled Duration: 141 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB\tInit Duration: 128.21 ms
//! REPORT RequestId: r-2\tDuration: 2.10 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB
//! REPORT RequestId: r-3\tDuration: broken";
//! let file = LogFile { name: "fn.log".into(), text: text.into() };
//! let report = LogsReport::build(&[file], Architecture::X86_64);
//! assert_eq!((report.invocations, report.cold_starts), (2, 1));
//! assert_eq!(report.init_duration_ms.unwrap().p50, 128.21);
//! assert_eq!(report.max_memory_used_mb, Some(31.0));
//! // (141 + 3) ms at 128 MB = 0.144 s × 0.125 GB
//! assert!((report.billed_gb_seconds - 0.018).abs() < 1e-12);
//! assert_eq!(report.lines.malformed, 1);
//! ```

mod analyze;
mod file;
mod html;
mod input;
mod model;
mod prices;
mod record;
mod status_lines;
mod terminal;
mod timestamp;

pub use self::file::LogFile;
pub use self::html::render_logs_html;
pub use self::model::{
    ClientInit, EnvironmentReuse, InitSideBySide, LambdaPerfFigures, LineCounts, LogsReport,
    MalformedLine, Prices,
};
pub use self::prices::LogsPricing;
pub use self::terminal::render_logs_terminal;
pub use self::timestamp::{format_timestamp, parse_timestamp};
