//! The function and how to run it: the options `run` and `tune` share.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use lambda_perf_core::InitializationType;
use lambda_perf_local::emulator::{FunctionCommand, FunctionConfig};
use lambda_perf_local::pricing::Architecture;
use lambda_perf_local::run::Runner;
use lambda_perf_local::sizing::MemorySize;

/// The function and how to run it, shared by `run` and `tune`.
#[derive(Debug, Args)]
pub(crate) struct FunctionArgs {
    /// A JSON file with the event to send (default `{}`), smaller than 6 MB as Lambda takes it.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) event: Option<PathBuf>,
    /// Each invocation's timeout, in seconds (1 to 900, as Lambda takes).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=900))]
    pub(crate) timeout: u64,
    /// How long the function may take to ask for its first invocation, in seconds (1 to
    /// 900).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=900))]
    pub(crate) init_timeout: u64,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`; 1 to 64 letters, digits, hyphens
    /// and underscores, as Lambda takes; default: the program's file name, its other
    /// characters made hyphens).
    #[arg(long, value_parser = parse_function_name)]
    pub(crate) function_name: Option<String>,
    /// An environment variable for the function, `KEY=VALUE` (repeatable).
    /// AWS_LAMBDA_FUNCTION_MEMORY_SIZE and AWS_LAMBDA_INITIALIZATION_TYPE set the function's
    /// configuration, which the report and the billing follow (`run` only, and not beside
    /// `--memory` or `--init-type`); AWS_REGION its region (its ARN follows). The other
    /// variables Lambda reserves and sets itself (AWS_LAMBDA_FUNCTION_NAME,
    /// AWS_LAMBDA_RUNTIME_API, _HANDLER, …) are refused.
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

/// Lambda takes a synchronous invocation's payload only when it is smaller than this: "Request
/// must be smaller than 6291456 bytes for the InvokeFunction operation".
const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

impl FunctionArgs {
    /// The event to send: the file's JSON, or `{}`.
    pub(crate) fn event(&self) -> Result<Bytes, String> {
        let Some(path) = &self.event else {
            return Ok(Bytes::from_static(b"{}"));
        };
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() >= MAX_EVENT_BYTES => Err(format!(
                "{} is {} bytes: Lambda refuses an invocation whose payload is not smaller \
                 than {MAX_EVENT_BYTES} bytes (6 MB)",
                path.display(),
                bytes.len()
            )),
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
        // The name goes into the invoked function's ARN, a header the runtime must read.
        let name = self.function_name.clone().unwrap_or_else(|| {
            Path::new(program)
                .file_name()
                .map(|name| function_name_from(&name.to_string_lossy()))
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "function".to_owned())
        });
        let mut config = FunctionConfig::new().with_function_name(name);
        for (key, value) in &self.env {
            // The memory size and the initialization type are the configuration's, which the
            // report, the billing and the log follow, not extra variables behind their back.
            config = match key.as_str() {
                MEMORY_SIZE_VAR => match value.parse::<MemorySize>() {
                    Ok(memory) => config.with_memory_mb(memory.mb()),
                    Err(error) => return Err(format!("--env {key}={value}: {error}")),
                },
                INITIALIZATION_TYPE_VAR if is_initialization_type(value) => {
                    config.with_initialization_type(value)
                }
                INITIALIZATION_TYPE_VAR => {
                    let known: Vec<&str> = InitializationType::ALL
                        .iter()
                        .map(|kind| kind.as_str())
                        .collect();
                    return Err(format!(
                        "--env {key}={value}: {value:?} is not an initialization type Lambda \
                         sets: {}",
                        known.join(", ")
                    ));
                }
                // The region is the function's too: its ARN and `AWS_DEFAULT_REGION` follow.
                REGION_VAR => config.with_region(value),
                reserved if RESERVED_VARS.contains(&reserved) => {
                    let instead = match reserved {
                        "AWS_LAMBDA_FUNCTION_NAME" => "; name the function with --function-name",
                        "AWS_DEFAULT_REGION" => "; --env AWS_REGION=… sets both",
                        _ => "",
                    };
                    return Err(format!(
                        "--env {key}={value}: Lambda reserves {key} and sets it itself, as \
                         lambda-perf does{instead}"
                    ));
                }
                _ => config.with_env(key, value),
            };
        }
        let mut runner = Runner::new(command, config);
        runner.timeout = Duration::from_secs(self.timeout);
        runner.init_timeout = Duration::from_secs(self.init_timeout);
        runner.architecture = self.arch;
        runner.package = self.package.clone();
        Ok(runner)
    }
}

/// The function's memory size, which `--env` may set instead of `--memory` (unimposed).
pub(crate) const MEMORY_SIZE_VAR: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// How Lambda initialized the environment, which `--env` may set instead of `--init-type`.
pub(crate) const INITIALIZATION_TYPE_VAR: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
/// The function's region, which `--env` may set: `AWS_DEFAULT_REGION` and its ARN follow.
const REGION_VAR: &str = "AWS_REGION";
/// Variables Lambda reserves (a function's configuration cannot set them) and lambda-perf
/// sets as Lambda would: given with `--env` they would contradict what else the function is
/// told (its ARN, its log group) or cut it off from the Runtime API. The memory size, the
/// initialization type and the region are configuration (above); the credentials, which
/// Lambda takes from the execution role, are the caller's to give.
const RESERVED_VARS: [&str; 11] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
/// Whether `value` is one Lambda gives [`INITIALIZATION_TYPE_VAR`], exactly as it writes it:
/// any other would be billed as none of them (its init left out of the bill, at on-demand
/// prices).
fn is_initialization_type(value: &str) -> bool {
    InitializationType::parse(value).is_some_and(|kind| kind.as_str() == value)
}

impl FunctionArgs {
    /// Whether `--env` sets `key`.
    pub(crate) fn env_sets(&self, key: &str) -> bool {
        self.env.iter().any(|(k, _)| k == key)
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

/// A character Lambda takes in a function name.
fn is_function_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// The longest function name Lambda takes.
const MAX_FUNCTION_NAME: usize = 64;

fn parse_function_name(text: &str) -> Result<String, String> {
    if (1..=MAX_FUNCTION_NAME).contains(&text.chars().count())
        && text.chars().all(is_function_name_char)
    {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a Lambda function name: 1 to {MAX_FUNCTION_NAME} letters, digits, \
             hyphens and underscores"
        ))
    }
}

/// A function name made of a file name: the characters Lambda does not take become hyphens.
fn function_name_from(file_name: &str) -> String {
    file_name
        .chars()
        .map(|c| if is_function_name_char(c) { c } else { '-' })
        .take(MAX_FUNCTION_NAME)
        .collect()
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}
