//! Structured logs: every `tracing` event becomes one line on stdout — a flat JSON object
//! with Powertools Logger's keys, or readable text — carrying, inside an invocation, the
//! invocation's keys. [`init`](crate::init) installs it; this module holds its parts.
//!
//! ```text
//! {"timestamp":"2026-11-23T05:16:18.886Z","level":"INFO","message":"order placed",
//!  "target":"orders","service":"orders","cold_start":true,"start_kind":"cold",
//!  "function_name":"orders-fn","function_memory_size":128,
//!  "function_arn":"arn:aws:lambda:us-east-1:123456789012:function:orders-fn",
//!  "function_request_id":"8476a536-e9f4-11e8-9739-2dfe598c3fcd",
//!  "xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","order":7}
//! ```
//!
//! # The keys
//!
//! | key | value |
//! |---|---|
//! | `timestamp` | RFC 3339 in UTC with milliseconds |
//! | `level` | `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE` |
//! | `message` | the event's message (`""` without one) |
//! | `target` | the event's target (its module path unless given) |
//! | `service` | the invocation's service (`POWERTOOLS_SERVICE_NAME`, `service_undefined`) |
//! | `sampling_rate` | the sample rate, when `POWERTOOLS_LOGGER_SAMPLE_RATE` is set above 0 |
//! | `cold_start` | a boolean: the invocation waited for init (`cold`, `restart`) |
//! | `start_kind` | `cold`, `warm`, `restart`, `prewarmed` or `restored` |
//! | `function_name`, `function_memory_size`, `function_arn` | from the invocation's Lambda context; the size a number of MB |
//! | `function_request_id` | the Lambda request id |
//! | `xray_trace_id` | the trace header's `Root` id alone (`1-5759e988-bd862e3fe1be46a994272793`), sampled or not |
//! | the event's fields, its spans' fields | at the top level, with their JSON types |
//!
//! The keys are those Powertools for TypeScript writes (its level names and timestamps too),
//! `function_memory_size` a number, as in Python's; Python's `location` (`function:line`) is
//! not written: `target` says where a line comes from, and `start_kind` is lambda-perf's own.
//!
//! From `service` on, the keys are an invocation's: a line written outside one (init code,
//! a plain `tokio::spawn`) has none of them, and a value the context lacks is left out
//! rather than written empty. Inside one — on the handler's task and on every task that
//! carries the invocation (see [the current invocation](crate#the-current-invocation)) —
//! each line carries its own invocation's keys, however many run at once.
//!
//! Fields keep their JSON types: `order = 7` is the number 7, `ratio = 1.0` the number
//! `1.0` (a float is written as `serde_json` writes one), `paid = true` a boolean,
//! `user = "ann"` a string, `%id` its `Display` text and `?tags` its `Debug` text (one that
//! panics or returns an error is written `<formatting panicked: …>` or `<formatting failed>`,
//! as the X-Ray layer writes it: the line stays valid, the `info!` does not panic). A span's
//! fields are on every line written inside it, when the level filter lets the span through
//! (as with `tracing-subscriber`'s filters: under `AWS_LAMBDA_LOG_LEVEL=WARN`, an `INFO`
//! span's fields are on none); an event's field wins over a span's of the same name, an
//! inner span's over an outer one's. A field named like one of the keys
//! above is written as `fields.<name>` (`fields.level`), never over the key.
//!
//! A line is at most 256,000 bytes, as an EMF line is: Lambda's log capture splits longer
//! lines into pieces that are not JSON. A line that would be longer — a huge field, message
//! or logged event — has its longest values replaced by a marker with their size and a
//! preview, `{"lambda_perf_truncated":{"preview":"…","size_bytes":300002}}`, until it fits;
//! the keys above and the smaller values stay as they are (but for a `log` record's target
//! too long for any line, which is cut to fit, ending in `…`). Each such line is counted
//! (`logs.line_trimmed` in `lambda_perf.dropped`) and the first one warned of on stderr.
//!
//! With `LAMBDA_PERF_LOG_FORMAT=Text` (or
//! [`InitBuilder::log_format`](crate::InitBuilder::log_format)) a line reads
//! `2026-11-23T05:16:18.886Z<TAB>8476a536-…<TAB>INFO<TAB>orders: order placed order=7`
//! (no request id column outside an invocation; line breaks in values escaped). Lambda's
//! `AWS_LAMBDA_LOG_FORMAT`, `Text` on every function left at its default log format, does not
//! turn the JSON lines off: as in Powertools, they are JSON whatever it says.
//!
//! # Levels
//!
//! The level is `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls), else
//! `POWERTOOLS_LOG_LEVEL` (or its older name `LOG_LEVEL`), else `RUST_LOG`, else `INFO`; a
//! level given to [`InitBuilder::log_level`](crate::InitBuilder::log_level) comes after
//! `AWS_LAMBDA_LOG_LEVEL`, before the others. The transport crates a function
//! pulls in — `hyper`, `hyper_util`, `h2`, `tower`, `tokio`, `lambda_runtime` and its API
//! client, `lambda_http`, `rustls`, `reqwest`, the AWS SDK's `aws_smithy_*` and
//! `aws_config`, … — stay at `WARN` unless named: `RUST_LOG=info,hyper=debug` (or
//! [`InitBuilder::target_level`](crate::InitBuilder::target_level)) hears hyper's debug
//! lines. `RUST_LOG` is read in its common forms — `level`, `target=level`, `target`,
//! comma-separated, a target covering the modules under it — without a regex engine; span
//! and field filters are skipped with a warning.
//!
//! `POWERTOOLS_LOGGER_SAMPLE_RATE=0.1` writes `DEBUG` lines for a tenth of the invocations,
//! decided per invocation from its request id (every task of a sampled invocation agrees),
//! and adds `sampling_rate` to the invocation's lines. Outside an invocation nothing is
//! sampled.
//!
//! Only `tracing` events are written: records of the `log` crate reach the log lines once
//! `tracing-log`'s `LogTracer` forwards them, each with its own `target` (not `log`) and
//! without the `log.target`, `log.module_path`, `log.file` and `log.line` fields
//! `tracing-log` adds.
//!
//! # EMF lines stay as they are
//!
//! Log lines and EMF lines share stdout and never mix: each is written whole, with one
//! `write(2)` under the stdout lock, so no line is ever cut into by another, also when
//! invocations run at once; EMF lines are never wrapped in a log line.

mod event;
mod filter;
mod layer;
mod level;
mod resolved;
mod trimmed;
mod visit;
mod writer;

pub(crate) use self::event::enable as enable_event_logging;
pub use self::event::log_event;
pub(crate) use self::filter::LogFilter;
pub(crate) use self::layer::LogLayer;
pub(crate) use self::level::filter_from_tracing;
pub(crate) use self::resolved::ResolvedLogs;
pub use crate::formats::log::LogFormat;
