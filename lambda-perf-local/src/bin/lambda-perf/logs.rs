//! `lambda-perf logs`: Logs Insights for cold starts, offline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use lambda_perf_local::logs::{LogsReport, render_logs_html, render_logs_terminal};
use lambda_perf_local::pricing::Architecture;

use crate::present;

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Exported logs: the JSON of `aws logs filter-log-events`, or text with one event a
    /// line (as `aws logs tail` prints, or `lambda-perf run --log-out` writes).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The architecture whose prices apply, x86_64 or arm64.
    #[arg(long, value_name = "ARCH", default_value = "x86_64")]
    arch: Architecture,
    /// Write the report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the report as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// `lambda-perf logs`.
pub(crate) fn run(args: &LogsArgs) -> ExitCode {
    let report = match LogsReport::read_files(&args.files, args.arch) {
        Ok(report) => report,
        Err((path, error)) => return present::fail(&format!("cannot read {path}: {error}")),
    };
    if let Some(path) = &args.html {
        if let Err(error) = std::fs::write(path, render_logs_html(&report)) {
            return present::fail(&format!("cannot write {}: {error}", path.display()));
        }
    }
    let text = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => text + "\n",
            Err(error) => return present::fail(&format!("cannot write the report: {error}")),
        }
    } else {
        render_logs_terminal(&report)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}
