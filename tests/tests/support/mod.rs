//! Shared pieces of the end-to-end tests: the function binaries, the schemas, and finding an
//! invocation's lines in a function's stdout.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

/// A test run again in a child process, whose stderr it reads (`lambda-perf-core`'s, shared).
#[path = "../../../lambda-perf-core/tests/common/child_process.rs"]
pub mod child_process;
pub mod otlp;
pub mod standalone;
pub mod tools;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lambda_perf_local::emulator::{
    ExecutionEnvironment, FunctionCommand, FunctionConfig, FunctionProcess, OutputLine, RuntimeApi,
};
use serde_json::Value;

/// How long any single wait for a function's output may take.
pub const WAIT: Duration = Duration::from_secs(20);

/// The binary of a function crate of this workspace whose package and binary are both `name`
/// (`examples/<name>`, `tests/workload-function`), built on first use with the same profile
/// as the tests.
pub fn workspace_function(name: &str) -> FunctionCommand {
    static BUILT: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(n, _)| n == name) {
        return FunctionCommand::new(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = escargot::CargoBuild::new()
        .manifest_path(workspace.join("Cargo.toml"))
        .package(name)
        .bin(name)
        .current_release()
        .run()
        .unwrap_or_else(|error| panic!("building the function {name}: {error}"));
    let path = binary.path().to_owned();
    built.push((name.to_owned(), path.clone()));
    FunctionCommand::new(path)
}

/// The scenario function of this crate (`src/bin/scenario-function.rs`).
pub fn scenario_function() -> FunctionCommand {
    FunctionCommand::new(env!("CARGO_BIN_EXE_scenario-function"))
}

/// A function running in a fresh environment under its own Runtime API.
pub struct Started {
    /// The Runtime API it polls.
    pub api: RuntimeApi,
    /// Its process.
    pub process: FunctionProcess,
    /// Its environment (kept alive: it owns the function's TMPDIR).
    pub environment: ExecutionEnvironment,
}

/// Starts `command` with `config` in a fresh environment.
pub async fn start(command: &FunctionCommand, config: &FunctionConfig) -> Started {
    let api = RuntimeApi::start().await.unwrap();
    let environment = ExecutionEnvironment::new().unwrap();
    let process = FunctionProcess::spawn(command, config, &environment, &api).unwrap();
    Started {
        api,
        process,
        environment,
    }
}

/// A Lambda environment with the Powertools settings the tests expect.
pub fn function_config() -> FunctionConfig {
    FunctionConfig::new()
        .with_function_name("orders-fn")
        .with_env("POWERTOOLS_SERVICE_NAME", "orders")
        .with_env("POWERTOOLS_METRICS_NAMESPACE", "Shop")
}

fn schema(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("specs")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Fails the test unless `line` validates against the CloudWatch EMF schema.
pub fn assert_valid_emf(line: &Value) {
    static EMF: OnceLock<jsonschema::Validator> = OnceLock::new();
    // The CloudWatch page publishes it as a draft-07 schema (`$id`s like `#/properties/_aws`).
    let validator =
        EMF.get_or_init(|| jsonschema::draft7::new(&schema("cloudwatch-emf-schema.json")).unwrap());
    let errors: Vec<String> = validator.iter_errors(line).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "invalid EMF line {line}: {errors:#?}");
}

/// Fails the test unless `document` validates against the X-Ray segment document schema.
pub fn assert_valid_xray(document: &Value) {
    static XRAY: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = XRAY.get_or_init(|| {
        jsonschema::draft4::new(&schema("xray-segmentdocument-schema-v1.0.0.json")).unwrap()
    });
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "invalid X-Ray document {document}: {errors:#?}"
    );
}

/// The EMF lines a function printed for one request id (its `lambda_perf.request_id`).
pub fn lines_of(process: &FunctionProcess, request_id: &str) -> Vec<Value> {
    process
        .emf_lines()
        .into_iter()
        .filter(|line| line["lambda_perf"]["request_id"] == request_id)
        .collect()
}

/// The lines of lambda-perf's warnings a function printed so far.
pub fn warnings(process: &FunctionProcess) -> Vec<String> {
    process
        .output()
        .into_iter()
        .filter(|line| line.text.contains("lambda-perf: warning"))
        .map(|line| line.text)
        .collect()
}

/// The `lambda_perf.dropped` count of `cause` in a record, an EMF line or a handler
/// subsegment (0 when absent).
pub fn dropped(record: &Value, cause: &str) -> u64 {
    record["lambda_perf"]["dropped"][cause]
        .as_u64()
        .or_else(|| record["metadata"]["lambda_perf"]["dropped"][cause].as_u64())
        .unwrap_or(0)
}

/// Whether an output line is the end-of-invocation EMF line of `request_id`.
pub fn is_end_line(line: &OutputLine, request_id: &str) -> bool {
    line.emf().is_some_and(|emf| {
        emf["lambda_perf"]["request_id"] == request_id
            && emf["lambda_perf"].get("outcome").is_some()
    })
}

/// Waits for the end-of-invocation EMF line of `request_id` and returns it.
pub async fn end_line(process: &FunctionProcess, request_id: &str) -> Value {
    end_output_line(process, request_id)
        .await
        .emf()
        .unwrap()
        .clone()
}

/// Waits for the end-of-invocation EMF line of `request_id` and returns it as it was read
/// (with when).
pub async fn end_output_line(process: &FunctionProcess, request_id: &str) -> OutputLine {
    process
        .wait_for_line(|line| is_end_line(line, request_id), WAIT)
        .await
        .unwrap_or_else(|error| panic!("no EMF line for {request_id}: {error}"))
}

/// The names of the metrics an EMF line defines.
pub fn metric_names(line: &Value) -> Vec<String> {
    line["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|directive| directive["Metrics"].as_array().unwrap())
        .map(|metric| metric["Name"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether an EMF line is a `ColdStart` line.
pub fn is_cold_start_line(line: &Value) -> bool {
    metric_names(line).iter().any(|name| name == "ColdStart")
}
