//! The command line: `lambda-perf run [OPTIONS] -- <function command>`, `lambda-perf tune`,
//! `lambda-perf logs`, `lambda-perf demo`.

use clap::{Parser, Subcommand};

use crate::logs::LogsArgs;
use crate::present::ReportArgs;
use crate::run::RunArgs;
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
