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

use std::io::Write as _;
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

/// Runs `future` to its end, or until lambda-perf is interrupted (Ctrl-C, `SIGTERM`): then
/// the run is dropped, which kills the function's processes (each in a process group of its
/// own, which a terminal's Ctrl-C does not reach) instead of leaving them running.
fn block_on(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(async {
            tokio::select! {
                code = future => code,
                signal = interrupted() => {
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "lambda-perf: interrupted ({signal}): the function's processes were stopped"
                    );
                    ExitCode::from(INTERRUPTED)
                }
            }
        }),
        Err(error) => present::fail(&format!("cannot start the async runtime: {error}")),
    }
}

/// The exit code of an interrupted run (as a shell reports a process ended by `SIGINT`).
const INTERRUPTED: u8 = 130;

/// Resolves when lambda-perf is asked to stop: `SIGINT` (Ctrl-C) or, on Unix, `SIGTERM`.
/// Never, if those cannot be listened to.
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if result.is_err() {
                std::future::pending::<()>().await;
            }
            "SIGINT"
        }
        () = terminate => "SIGTERM",
    }
}
