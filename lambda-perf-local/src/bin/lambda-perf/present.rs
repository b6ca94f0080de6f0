//! Running a plan with a progress bar, then showing the report and choosing the exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lambda_perf_local::report::{OUT_OF_MEMORY_ERROR_TYPE, Report, render_html, render_terminal};
use lambda_perf_local::run::{
    EarlyStop, Plan, Runner, UNMEASURED_MAX_MEMORY_MB, execute, lambda_log, unmeasured_max_memory,
};
use serde::Serialize;

/// Exit code when the run finished but its output has problems.
const PROBLEMS: u8 = 1;
/// Exit code when the function failed (or the harness could not run it).
const FAILED: u8 = 2;

/// The options that say how the report is shown (`run`, `demo`).
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Write the report as JSON on stdout instead of the terminal report.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the report as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// How the report is shown, from those options.
pub(crate) struct Presentation {
    json: bool,
    html: Option<PathBuf>,
    progress: bool,
    /// Where to write the run as Lambda would log it.
    pub(crate) log_out: Option<PathBuf>,
}

impl From<&ReportArgs> for Presentation {
    fn from(args: &ReportArgs) -> Self {
        Self {
            json: args.json,
            html: args.html.clone(),
            progress: !args.no_progress,
            log_out: None,
        }
    }
}

/// The JSON document: the report, the failures of the function the run went on after, and
/// the failure that stopped the run, if any.
#[derive(Serialize)]
struct JsonOutput<'a> {
    #[serde(flatten)]
    report: &'a Report,
    /// The failures after which the runtime was started again, as Lambda starts it again.
    resets: ResetsJson<'a>,
    /// Why the run stopped early, if it did.
    fatal: Option<EarlyStopJson<'a>>,
}

#[derive(Serialize)]
struct ResetsJson<'a> {
    count: usize,
    restarted: usize,
    first: Option<EarlyStopJson<'a>>,
}

#[derive(Serialize)]
struct EarlyStopJson<'a> {
    message: String,
    last_lines: &'a [String],
}

impl<'a> EarlyStopJson<'a> {
    fn of(early_stop: &'a EarlyStop) -> Self {
        Self {
            message: first_line(early_stop),
            last_lines: early_stop.last_lines(),
        }
    }
}

impl Presentation {
    /// Runs `plan`, shows the report, and says how it went: 0 all good, 1 problems in the
    /// function's output, 2 the function failed.
    pub(crate) async fn run(&self, plan: &Plan, runner: &Runner) -> ExitCode {
        let bar = ProgressBar::with_draw_target(
            Some(plan.invocations() as u64),
            if self.progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} invocations {elapsed}")
        {
            bar.set_style(style);
        }
        let result = execute(plan, runner, &|done| bar.set_position(done as u64)).await;
        bar.finish_and_clear();
        // Nothing ran (the function could not even start): the error alone, no report.
        if result.record.processes.is_empty() {
            if let Some(early_stop) = &result.early_stop {
                return fail_with(early_stop);
            }
        }

        let report = Report::build(&result.record);
        if let Some(path) = &self.html {
            if let Err(error) = std::fs::write(path, render_html(&report)) {
                return fail(&format!("cannot write {}: {error}", path.display()));
            }
        }
        if let Some(path) = &self.log_out {
            if let Err(error) = std::fs::write(path, lambda_log(&result.record, &report)) {
                return fail(&format!("cannot write {}: {error}", path.display()));
            }
            let unmeasured = unmeasured_max_memory(&report);
            if unmeasured > 0 {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "lambda-perf: note: the peak memory of {unmeasured} invocation(s) was not \
                     measured (their process ended before it was read); {} gives them \
                     `Max Memory Used: {UNMEASURED_MAX_MEMORY_MB} MB`, the smallest figure Lambda writes",
                    path.display()
                );
            }
        }
        let shown = if self.json {
            let output = JsonOutput {
                report: &report,
                resets: ResetsJson {
                    count: result.resets.count,
                    restarted: result.resets.restarted,
                    first: result.resets.first.as_ref().map(EarlyStopJson::of),
                },
                fatal: result.early_stop.as_ref().map(EarlyStopJson::of),
            };
            serde_json::to_string_pretty(&output).map(|mut text| {
                text.push('\n');
                text
            })
        } else {
            let stdout = std::io::stdout();
            let width = terminal_width();
            Ok(render_terminal(&report, width, stdout.is_terminal()))
        };
        match shown {
            Ok(text) => {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Err(error) => return fail(&format!("cannot write the report: {error}")),
        }
        if let Some(early_stop) = &result.early_stop {
            return fail_with(early_stop);
        }
        let mut failed = false;
        if let Some(first) = &result.resets.first {
            let (count, restarted) = (result.resets.count, result.resets.restarted);
            // The last failure, in the run's last invocations, had nothing after it to
            // start the runtime again for.
            let went_on = if restarted == count {
                "; its runtime was started again, as Lambda does, and the run went on"
            } else if restarted == 0 {
                ", in the run's last invocation(s)"
            } else {
                "; its runtime was started again after each but the last, in the run's last \
                 invocation(s), as Lambda does, and the run went on"
            };
            let _ = writeln!(
                std::io::stderr().lock(),
                "lambda-perf: error: the function failed {count} time(s){went_on}. The first: \
                 {first}"
            );
            failed = true;
        }
        let out_of_memory = report.resources.out_of_memory;
        if out_of_memory > 0 {
            let _ = fail(&format!(
                "{out_of_memory} invocation(s) ran out of memory at {} MB ({OUT_OF_MEMORY_ERROR_TYPE})",
                report.resources.memory_size_mb
            ));
            failed = true;
        }
        if failed {
            return ExitCode::from(FAILED);
        }
        if report.problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(PROBLEMS)
        }
    }
}

fn first_line(early_stop: &EarlyStop) -> String {
    early_stop
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse().ok())
        .unwrap_or(100)
}

fn fail_with(early_stop: &EarlyStop) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "lambda-perf: error: {early_stop}");
    ExitCode::from(FAILED)
}

/// The renderings of a report of `logs` or `tune`.
pub(crate) struct Renderings<R> {
    pub(crate) html: fn(&R) -> String,
    pub(crate) terminal: fn(&R) -> String,
}

/// Shows a report of `logs` or `tune`: as an HTML page in `html` too when asked, then as JSON
/// (`json`) or as text on stdout. `Err` is the exit code of a write that failed, said on
/// stderr.
pub(crate) fn show_report<R: Serialize>(
    report: &R,
    render: Renderings<R>,
    html: Option<&Path>,
    json: bool,
) -> Result<(), ExitCode> {
    if let Some(path) = html {
        if let Err(error) = std::fs::write(path, (render.html)(report)) {
            return Err(fail(&format!("cannot write {}: {error}", path.display())));
        }
    }
    let text = if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => text + "\n",
            Err(error) => return Err(fail(&format!("cannot write the report: {error}"))),
        }
    } else {
        (render.terminal)(report)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// Says what went wrong on stderr and exits with 2.
pub(crate) fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "lambda-perf: error: {message}");
    ExitCode::from(FAILED)
}
