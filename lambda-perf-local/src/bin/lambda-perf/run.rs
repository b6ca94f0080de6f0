//! `lambda-perf run`: a function binary under the embedded Runtime API and X-Ray daemon.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use lambda_perf_core::InitializationType;
use lambda_perf_local::run::{Plan, RunOptions, several_at_once};
use lambda_perf_local::sizing::{MemorySize, Sizing};

use crate::function_args::{FunctionArgs, INITIALIZATION_TYPE_VAR, MEMORY_SIZE_VAR};
use crate::present::{self, Presentation, ReportArgs};

/// `AWS_LAMBDA_INITIALIZATION_TYPE` for the function.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum InitType {
    /// `on-demand`
    OnDemand,
    /// `provisioned-concurrency`
    ProvisionedConcurrency,
    /// `snap-start`
    SnapStart,
    /// `lambda-managed-instances`
    #[value(name = "lambda-managed-instances")]
    ManagedInstances,
}

impl From<InitType> for InitializationType {
    fn from(init_type: InitType) -> Self {
        match init_type {
            InitType::OnDemand => Self::OnDemand,
            InitType::ProvisionedConcurrency => Self::ProvisionedConcurrency,
            InitType::SnapStart => Self::SnapStart,
            InitType::ManagedInstances => Self::ManagedInstances,
        }
    }
}

/// The options of `lambda-perf run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// How many invocations (1 to 1,000,000).
    #[arg(short = 'n', long, default_value_t = 5, value_parser = invocation_count)]
    invocations: usize,
    /// How many invocations at once (sets AWS_LAMBDA_MAX_CONCURRENCY); above 1, one process
    /// takes them at once, as only Lambda Managed Instances do: a lambda-managed-instances run.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Idle time between invocations, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    idle_ms: u64,
    /// Restart the function process after every N invocations, keeping its environment (a
    /// partial cold start).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    restart_after: Option<usize>,
    /// Start a fresh execution environment after every N invocations (a full cold start).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    fresh_environment_after: Option<usize>,
    /// How Lambda initialized the environment (on-demand when not given).
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

/// A count of invocations, 1 or more: 0 would ask for nothing (no invocation, a restart
/// after none), which is refused rather than silently ignored.
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be 1 or more".to_owned()),
        Ok(count) => Ok(count),
        Err(error) => Err(error.to_string()),
    }
}

/// The most invocations one run makes: the run plans each one up front and keeps each one's
/// record for the report (a few hundred bytes), so a count far beyond this would take the
/// machine's memory and abort rather than run.
const MOST_INVOCATIONS: usize = 1_000_000;

/// A count of invocations, from 1 to [`MOST_INVOCATIONS`].
fn invocation_count(value: &str) -> Result<usize, String> {
    match at_least_one(value)? {
        count if count > MOST_INVOCATIONS => Err(format!(
            "must be at most {MOST_INVOCATIONS} (a run keeps a record of each invocation)"
        )),
        count => Ok(count),
    }
}

/// `lambda-perf run`.
pub(crate) async fn run(args: RunArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.sampling) {
        return present::fail("--sampling takes a fraction from 0 to 1");
    }
    for (given, option, var) in [
        (args.memory.is_some(), "--memory", MEMORY_SIZE_VAR),
        (
            args.init_type.is_some(),
            "--init-type",
            INITIALIZATION_TYPE_VAR,
        ),
    ] {
        if given && args.function.env_sets(var) {
            return present::fail(&format!(
                "{option} and --env {var} both set {var}: give one"
            ));
        }
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
        let kind = InitializationType::from(init_type);
        runner.config = runner.config.with_initialization_type(kind.as_str());
    }
    if args.concurrency > 1 {
        // The function is told how many invocations it may get at once, also when the run
        // makes fewer than that (`-n 1 -c 4`); which makes the run a Managed Instances one.
        let untyped = runner.config.initialization_type().is_none();
        let config = runner
            .config
            .clone()
            .with_max_concurrency(u32::from(args.concurrency));
        match several_at_once(config) {
            Ok(config) => runner.config = config,
            Err(refused) => {
                let given = if args.init_type.is_some() {
                    format!("--init-type {}", refused.initialization_type)
                } else {
                    format!(
                        "--env {INITIALIZATION_TYPE_VAR}={}",
                        refused.initialization_type
                    )
                };
                return present::fail(&format!(
                    "-c {} with {given}: {refused}; drop -c, or run it as Managed Instances \
                     (--init-type {})",
                    args.concurrency,
                    InitializationType::ManagedInstances.as_str()
                ));
            }
        }
        if untyped {
            let _ = writeln!(
                std::io::stderr().lock(),
                "lambda-perf: note: -c {concurrency} runs up to {concurrency} invocations at \
                 once in one process, as only Lambda Managed Instances do: the run is theirs \
                 (--init-type {}), reported and billed as such",
                InitializationType::ManagedInstances.as_str(),
                concurrency = args.concurrency,
            );
        }
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
