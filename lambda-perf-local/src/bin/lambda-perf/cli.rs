//! The command line: `lambda-perf run [OPTIONS] -- <function command>`, `lambda-perf demo`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand, ValueEnum};
use lambda_perf_local::run::{Plan, RunOptions, Runner};
use lambda_perf_local::{FunctionCommand, FunctionConfig};

use crate::present::{self, Presentation};

/// Run a Lambda function locally and see its cold starts, traces and metrics.
#[derive(Debug, Parser)]
#[command(name = "lambda-perf", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a function binary under an embedded Lambda Runtime API and X-Ray daemon.
    Run(RunArgs),
    /// Run the bundled demo function through a scripted scenario (cold, warm, error,
    /// restart, concurrent, fresh environment). Builds nothing, needs nothing.
    Demo(ReportArgs),
    /// The bundled demo function itself (started by `demo`).
    #[command(hide = true)]
    DemoFunction,
}

/// How the report is shown.
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

/// `AWS_LAMBDA_INITIALIZATION_TYPE` for the function.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum InitType {
    /// `on-demand`
    OnDemand,
    /// `provisioned-concurrency`
    ProvisionedConcurrency,
    /// `snap-start`
    SnapStart,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// How many invocations.
    #[arg(short = 'n', long, default_value_t = 5)]
    invocations: usize,
    /// How many invocations at once (sets AWS_LAMBDA_MAX_CONCURRENCY).
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// A JSON file with the event to send (default `{}`).
    #[arg(short, long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// Idle time between invocations, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    idle_ms: u64,
    /// Restart the function process after every N invocations, keeping its environment (a
    /// partial cold start).
    #[arg(long, value_name = "N")]
    restart_after: Option<usize>,
    /// Start a fresh execution environment after every N invocations (a full cold start).
    #[arg(long, value_name = "N")]
    fresh_environment_after: Option<usize>,
    /// How Lambda initialized the environment.
    #[arg(long, value_enum)]
    init_type: Option<InitType>,
    /// The fraction of invocations sampled for X-Ray, from 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    sampling: f64,
    /// Each invocation's timeout, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// How long the function may take to ask for its first invocation, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    init_timeout: u64,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`; default: the program's file name).
    #[arg(long)]
    function_name: Option<String>,
    /// An environment variable for the function, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    #[command(flatten)]
    report: ReportArgs,
    /// The function's command line (after `--`).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// `lambda-perf run`.
pub(crate) async fn run(args: RunArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.sampling) {
        return present::fail("--sampling takes a fraction from 0 to 1");
    }
    let event = match &args.event {
        None => Bytes::from_static(b"{}"),
        Some(path) => match std::fs::read(path) {
            Ok(bytes) if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() => {
                Bytes::from(bytes)
            }
            Ok(_) => return present::fail(&format!("{} is not JSON", path.display())),
            Err(error) => {
                return present::fail(&format!("cannot read {}: {error}", path.display()));
            }
        },
    };
    let options = RunOptions {
        invocations: args.invocations,
        concurrency: usize::from(args.concurrency),
        event,
        idle: Duration::from_millis(args.idle_ms),
        restart_after: args.restart_after,
        fresh_environment_after: args.fresh_environment_after,
        sampling: args.sampling,
    };
    let Some((program, arguments)) = args.command.split_first() else {
        return present::fail("give the function's command after --");
    };
    let command = FunctionCommand::new(program).args(arguments.iter().cloned());
    // A program that cannot start is one line naming it, not a report of nothing.
    if let Err(error) = command.check_launchable() {
        return present::fail(&error.to_string());
    }
    let name = args.function_name.clone().unwrap_or_else(|| {
        std::path::Path::new(program).file_name().map_or_else(
            || "function".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        )
    });
    let mut config = FunctionConfig::new().with_function_name(name);
    if let Some(init_type) = args.init_type {
        let value = match init_type {
            InitType::OnDemand => "on-demand",
            InitType::ProvisionedConcurrency => "provisioned-concurrency",
            InitType::SnapStart => "snap-start",
        };
        config = config.with_initialization_type(value);
    }
    for (key, value) in &args.env {
        config = config.with_env(key, value);
    }
    let runner = Runner {
        command,
        config,
        timeout: Duration::from_secs(args.timeout.max(1)),
        init_timeout: Duration::from_secs(args.init_timeout.max(1)),
    };
    let presentation = Presentation::from(&args.report);
    presentation
        .run(&Plan::from_options(&options), &runner)
        .await
}
