//! The command line: `lambda-perf run [OPTIONS] -- <function command>`, `lambda-perf tune`,
//! `lambda-perf logs`, `lambda-perf demo`.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand, ValueEnum};
use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
use lambda_perf_local::pricing::Architecture;
use lambda_perf_local::run::{Plan, RunOptions, Runner};
use lambda_perf_local::sizing::{MemorySize, Sizing};

use crate::logs::LogsArgs;
use crate::present::{self, Presentation};
use crate::tune::TuneArgs;

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
    /// Power Tuning, locally: run the function at several memory sizes and price each.
    Tune(TuneArgs),
    /// Read a function's exported CloudWatch Logs: cold starts, init, durations, memory,
    /// cost.
    Logs(LogsArgs),
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

/// The function and how to run it, shared by `run` and `tune`.
#[derive(Debug, Args)]
pub(crate) struct FunctionArgs {
    /// A JSON file with the event to send (default `{}`).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) event: Option<PathBuf>,
    /// Each invocation's timeout, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub(crate) timeout: u64,
    /// How long the function may take to ask for its first invocation, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub(crate) init_timeout: u64,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`; default: the program's file name).
    #[arg(long)]
    pub(crate) function_name: Option<String>,
    /// An environment variable for the function, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub(crate) env: Vec<(String, String)>,
    /// The architecture whose Lambda prices apply, x86_64 or arm64 (it chooses the price
    /// table only: the function runs on this machine's CPU).
    #[arg(long, value_name = "ARCH", default_value = "x86_64")]
    pub(crate) arch: Architecture,
    /// The deployment package (a zip) whose size the report states beside the binary's.
    #[arg(long, value_name = "ZIP")]
    pub(crate) package: Option<PathBuf>,
    /// The function's command line (after `--`).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

impl FunctionArgs {
    /// The event to send: the file's JSON, or `{}`.
    pub(crate) fn event(&self) -> Result<Bytes, String> {
        let Some(path) = &self.event else {
            return Ok(Bytes::from_static(b"{}"));
        };
        match std::fs::read(path) {
            Ok(bytes) if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() => {
                Ok(Bytes::from(bytes))
            }
            Ok(_) => Err(format!("{} is not JSON", path.display())),
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }

    /// The runner of the function, not yet sized.
    pub(crate) fn runner(&self) -> Result<Runner, String> {
        let Some((program, arguments)) = self.command.split_first() else {
            return Err("give the function's command after --".to_owned());
        };
        if let Some(package) = &self.package {
            check_zip(package)?;
        }
        let command = FunctionCommand::new(program).args(arguments.iter().cloned());
        // A program that cannot start is one line naming it, not a report of nothing.
        command
            .check_launchable()
            .map_err(|error| error.to_string())?;
        let name = self.function_name.clone().unwrap_or_else(|| {
            Path::new(program).file_name().map_or_else(
                || "function".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            )
        });
        let mut config = FunctionConfig::new().with_function_name(name);
        for (key, value) in &self.env {
            config = config.with_env(key, value);
        }
        let mut runner = Runner::new(command, config);
        runner.timeout = Duration::from_secs(self.timeout.max(1));
        runner.init_timeout = Duration::from_secs(self.init_timeout.max(1));
        runner.architecture = self.arch;
        runner.package = self.package.clone();
        Ok(runner)
    }
}

/// A zip file starts with a local file header (`PK\x03\x04`), or is empty (`PK\x05\x06`).
fn check_zip(path: &Path) -> Result<(), String> {
    let mut magic = [0_u8; 4];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut magic))
        .map_err(|error| format!("cannot read the package {}: {error}", path.display()))?;
    if magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06" {
        Ok(())
    } else {
        Err(format!("the package {} is not a zip file", path.display()))
    }
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// How many invocations.
    #[arg(short = 'n', long, default_value_t = 5)]
    invocations: usize,
    /// How many invocations at once (sets AWS_LAMBDA_MAX_CONCURRENCY).
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
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
    /// Size the function as Lambda would at this memory size (MB, 128 to 10240): memory
    /// capped at MB, CPU at MB/1769 of a core (6 at most), with cgroups v2 or v1 (usually
    /// needs root); sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    #[arg(long, value_name = "MB")]
    memory: Option<MemorySize>,
    /// Also write the run as Lambda would log it (START, END, REPORT lines among the
    /// function's output) to FILE, for `lambda-perf logs`.
    #[arg(long, value_name = "FILE")]
    log_out: Option<PathBuf>,
    #[command(flatten)]
    function: FunctionArgs,
    #[command(flatten)]
    report: ReportArgs,
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
    let event = match args.function.event() {
        Ok(event) => event,
        Err(message) => return present::fail(&message),
    };
    let mut runner = match args.function.runner() {
        Ok(runner) => runner,
        Err(message) => return present::fail(&message),
    };
    if let Some(memory) = args.memory {
        match Sizing::new(memory) {
            Ok(sizing) => runner.sizing = Some(sizing),
            Err(error) => return present::fail(&format!("--memory {}: {error}", memory.mb())),
        }
    }
    if let Some(init_type) = args.init_type {
        let value = match init_type {
            InitType::OnDemand => "on-demand",
            InitType::ProvisionedConcurrency => "provisioned-concurrency",
            InitType::SnapStart => "snap-start",
        };
        runner.config = runner.config.with_initialization_type(value);
    }
    let options = RunOptions {
        invocations: args.invocations,
        concurrency: usize::from(args.concurrency),
        event,
        idle: Duration::from_millis(args.idle_ms),
        restart_after: args.restart_after,
        fresh_environment_after: args.fresh_environment_after,
        sampling: args.sampling,
    };
    let mut presentation = Presentation::from(&args.report);
    presentation.log_out = args.log_out;
    presentation
        .run(&Plan::from_options(&options), &runner)
        .await
}
