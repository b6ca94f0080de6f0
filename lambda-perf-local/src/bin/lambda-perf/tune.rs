//! `lambda-perf tune`: the sweep over memory sizes with a progress bar, then the table, JSON
//! or HTML.

use std::io::{Write, stderr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lambda_perf_local::sizing::{Cgroups, MemorySize};
use lambda_perf_local::tune::{TuneOptions, render_tune_html, render_tune_terminal, tune};

use crate::function_args::{FunctionArgs, INITIALIZATION_TYPE_VAR, MEMORY_SIZE_VAR};
use crate::present;

#[derive(Debug, Args)]
pub(crate) struct TuneArgs {
    /// The memory sizes to measure, in MB, comma-separated.
    #[arg(
        long,
        value_name = "MB,MB,…",
        value_delimiter = ',',
        default_value = "128,256,512,1024,1769,3008"
    )]
    memory: Vec<MemorySize>,
    /// Invocations per size: the first is a cold start, the others warm.
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(2..))]
    invocations: u16,
    /// The share of invocations that are cold starts, in percent, for the cost per million
    /// invocations (`lambda-perf logs` gives it from production logs).
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0)]
    cold_start_percent: f64,
    /// Write the results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also draw the duration and cost curves against memory in a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    function: FunctionArgs,
}

/// `lambda-perf tune`.
pub(crate) async fn run(args: TuneArgs) -> ExitCode {
    if !(0.0..=100.0).contains(&args.cold_start_percent) {
        return present::fail("--cold-start-percent takes a percentage from 0 to 100");
    }
    if args.function.env_sets(MEMORY_SIZE_VAR) {
        return present::fail(&format!(
            "tune: --env {MEMORY_SIZE_VAR}: the sweep sets it to each size of --memory in turn"
        ));
    }
    if args.function.env_sets(INITIALIZATION_TYPE_VAR) {
        return present::fail(&format!(
            "tune: --env {INITIALIZATION_TYPE_VAR}: tune prices on-demand invocations, their \
             init billed (lambda-perf run --init-type prices the others)"
        ));
    }
    let (event, runner) = match (args.function.event(), args.function.runner()) {
        (Ok(event), Ok(runner)) => (event, runner),
        (Err(message), _) | (_, Err(message)) => return present::fail(&message),
    };
    let cgroups = match Cgroups::detect() {
        Ok(cgroups) => Arc::new(cgroups),
        Err(error) => return present::fail(&format!("tune: {error}")),
    };
    let options = TuneOptions {
        sizes: args.memory.clone(),
        invocations: usize::from(args.invocations),
        event,
        cold_start_percent: args.cold_start_percent,
    };
    let mut sizes: Vec<MemorySize> = args.memory.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let total = sizes.len() * usize::from(args.invocations);
    let bar = ProgressBar::with_draw_target(
        Some(total as u64),
        if args.no_progress {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {bar:30} {pos}/{len} invocations at {msg} {elapsed}",
    ) {
        bar.set_style(style);
    }
    let report = tune(&runner, cgroups, &options, &|progress| {
        bar.set_message(progress.memory.to_string());
        bar.set_position(progress.done as u64);
    })
    .await;
    bar.finish_and_clear();
    let render = present::Renderings {
        html: render_tune_html,
        terminal: render_tune_terminal,
    };
    if let Err(code) = present::show_report(&report, render, args.html.as_deref(), args.json) {
        return code;
    }
    if report.cheapest.is_none() {
        let _ = writeln!(
            stderr().lock(),
            "lambda-perf: error: no size answered every invocation"
        );
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}
