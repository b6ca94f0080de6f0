//! `lambda-perf logs`: Logs Insights for cold starts, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use lambda_perf_core::InitializationType;
use lambda_perf_local::logs::{LogsPricing, LogsReport, render_logs_html, render_logs_terminal};
use lambda_perf_local::pricing::Architecture;

use crate::present;
use crate::run::InitType;

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Exported logs: the JSON of `aws logs filter-log-events`, text with one event a line
    /// (as `aws logs tail` prints, or `lambda-perf run --log-out` writes), an export to
    /// Amazon S3 or a Firehose delivery (gzip is decompressed); a directory is every file
    /// under it; `-` is standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The architecture whose prices apply, x86_64 or arm64.
    #[arg(long, value_name = "ARCH", default_value = "x86_64")]
    arch: Architecture,
    /// How Lambda initialized the function's environments, which chooses the prices:
    /// provisioned-concurrency prices its duration at the provisioned concurrency price (its
    /// spillover, invocations of environments initialized on demand, at on-demand prices),
    /// lambda-managed-instances its requests only. When not given, the one the logs state
    /// (JSON log format's platform.initStart), else on-demand.
    #[arg(long, value_enum)]
    init_type: Option<InitType>,
    /// Write the report as JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the report as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// `lambda-perf logs`.
pub(crate) fn run(args: &LogsArgs) -> ExitCode {
    let pricing = LogsPricing {
        architecture: args.arch,
        init_type: args.init_type.map(InitializationType::from),
    };
    let report = match LogsReport::read_files(&args.files, pricing) {
        Ok(report) => report,
        Err((path, error)) => return present::fail(&format!("cannot read {path}: {error}")),
    };
    let render = present::Renderings {
        html: render_logs_html,
        terminal: render_logs_terminal,
    };
    if let Err(code) = present::show_report(&report, render, args.html.as_deref(), args.json) {
        return code;
    }
    ExitCode::SUCCESS
}
