//! `lambda-perf`: run a Lambda function locally, as Lambda would, and see its cold starts,
//! traces and metrics.
//!
//! ```text
//! lambda-perf demo                         # a bundled function through a scripted scenario
//! lambda-perf run -n 10 -- target/debug/my-function
//! lambda-perf run --restart-after 3 --json -- ./bootstrap
//! lambda-perf run --memory 512 --log-out run.log -- ./bootstrap
//! lambda-perf tune --memory 128,512,1769 -- ./bootstrap
//! lambda-perf logs exported.json
//! ```

mod cli;
mod demo;
mod demo_function;
mod function_args;
mod logs;
mod present;
mod run;
mod tune;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // The bundled demo function: this binary, started by `demo` in another role.
        Command::DemoFunction => demo_function::main(),
        Command::Run(args) => block_on(run::run(args)),
        Command::Tune(args) => block_on(tune::run(args)),
        Command::Logs(args) => logs::run(&args),
        Command::Demo(args) => block_on(demo::run(args)),
    }
}

fn block_on(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(error) => present::fail(&format!("cannot start the async runtime: {error}")),
    }
}
