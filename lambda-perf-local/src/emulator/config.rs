//! [`FunctionConfig`]: the Lambda configuration a function process sees as environment
//! variables.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::net::SocketAddr;

use crate::emulator::command::FunctionCommand;
use crate::emulator::environment::ExecutionEnvironment;

/// Variables copied from the harness's own environment when set.
pub const INHERITED_VARS: [&str; 4] = ["PATH", "RUST_BACKTRACE", "RUST_LOG", "LLVM_PROFILE_FILE"];

/// The function's Lambda configuration, turned into its environment by
/// [`environment`](Self::environment).
///
/// Defaults: name `lambda-perf-local-fn`, 128 MB, version `$LATEST`, region `us-east-1`, log
/// group `/aws/lambda/<name>`, log stream derived from the execution environment,
/// `AWS_LAMBDA_INITIALIZATION_TYPE=on-demand` (Lambda always sets it), no
/// `AWS_LAMBDA_MAX_CONCURRENCY` or `AWS_XRAY_DAEMON_ADDRESS` (with which come
/// `_AWS_XRAY_DAEMON_ADDRESS`, `_AWS_XRAY_DAEMON_PORT` and
/// `AWS_XRAY_CONTEXT_MISSING=LOG_ERROR`, as on Lambda). As on Lambda, a SnapStart function
/// (`snap-start`) gets no `AWS_LAMBDA_LOG_GROUP_NAME` or `AWS_LAMBDA_LOG_STREAM_NAME`: its
/// snapshot is restored into many environments, whose streams it cannot know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    function_name: String,
    memory_mb: u32,
    version: String,
    log_group: Option<String>,
    log_stream: Option<String>,
    region: String,
    initialization_type: Option<String>,
    max_concurrency: Option<u32>,
    xray_daemon_address: Option<String>,
    extra_env: Vec<(OsString, OsString)>,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        Self {
            function_name: "lambda-perf-local-fn".to_owned(),
            memory_mb: 128,
            version: "$LATEST".to_owned(),
            log_group: None,
            log_stream: None,
            region: "us-east-1".to_owned(),
            initialization_type: None,
            max_concurrency: None,
            xray_daemon_address: None,
            extra_env: Vec::new(),
        }
    }
}

impl FunctionConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn with_function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// Sets `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB).
    pub fn with_memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// Sets `AWS_LAMBDA_FUNCTION_VERSION`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Sets `AWS_LAMBDA_LOG_GROUP_NAME` (not given to a SnapStart function, as on Lambda).
    pub fn with_log_group(mut self, log_group: impl Into<String>) -> Self {
        self.log_group = Some(log_group.into());
        self
    }

    /// Sets `AWS_LAMBDA_LOG_STREAM_NAME` (not given to a SnapStart function, as on Lambda).
    pub fn with_log_stream(mut self, log_stream: impl Into<String>) -> Self {
        self.log_stream = Some(log_stream.into());
        self
    }

    /// Sets `AWS_REGION` and `AWS_DEFAULT_REGION`.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets `AWS_LAMBDA_INITIALIZATION_TYPE` (`on-demand`, the default,
    /// `provisioned-concurrency`, `snap-start`, …).
    pub fn with_initialization_type(mut self, initialization_type: impl Into<String>) -> Self {
        self.initialization_type = Some(initialization_type.into());
        self
    }

    /// Sets `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda Managed Instances).
    pub fn with_max_concurrency(mut self, max_concurrency: u32) -> Self {
        self.max_concurrency = Some(max_concurrency);
        self
    }

    /// Sets `AWS_XRAY_DAEMON_ADDRESS` (e.g. `127.0.0.1:2000`), and with it, as Lambda does,
    /// `_AWS_XRAY_DAEMON_ADDRESS` and `_AWS_XRAY_DAEMON_PORT` (its host and port) and
    /// `AWS_XRAY_CONTEXT_MISSING=LOG_ERROR`.
    pub fn with_xray_daemon_address(mut self, address: impl Into<String>) -> Self {
        self.xray_daemon_address = Some(address.into());
        self
    }

    /// Adds an extra environment variable; extras are applied last and may override any
    /// variable set by the harness.
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// The function name.
    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    /// The memory size in MB.
    pub fn memory_mb(&self) -> u32 {
        self.memory_mb
    }

    /// The function version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The initialization type, if set (the function sees `on-demand` when not).
    pub fn initialization_type(&self) -> Option<&str> {
        self.initialization_type.as_deref()
    }

    /// The maximum concurrency, if set.
    pub fn max_concurrency(&self) -> Option<u32> {
        self.max_concurrency
    }

    /// The X-Ray daemon address, if set.
    pub fn xray_daemon_address(&self) -> Option<&str> {
        self.xray_daemon_address.as_deref()
    }

    /// The extra environment variables, in the order added.
    pub fn extra_env(&self) -> &[(OsString, OsString)] {
        &self.extra_env
    }

    /// The log group name: the one set, or `/aws/lambda/<function name>`.
    pub fn log_group_name(&self) -> String {
        self.log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{}", self.function_name))
    }

    /// The log stream name: the one set, or the environment's
    /// [`log_stream_name`](ExecutionEnvironment::log_stream_name).
    pub fn log_stream_name(&self, environment: &ExecutionEnvironment) -> String {
        self.log_stream
            .clone()
            .unwrap_or_else(|| environment.log_stream_name(&self.version))
    }

    /// `arn:aws:lambda:<region>:123456789012:function:<name>`, the default
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:123456789012:function:{}",
            self.region, self.function_name
        )
    }

    /// The complete environment of the function process: [`INHERITED_VARS`] from the
    /// harness, then `TMPDIR`, the Lambda variables, the optional ones that are set, and the
    /// extra variables last (they may override anything).
    pub fn environment(
        &self,
        command: &FunctionCommand,
        environment: &ExecutionEnvironment,
        runtime_api: SocketAddr,
    ) -> BTreeMap<OsString, OsString> {
        let mut vars: BTreeMap<OsString, OsString> = BTreeMap::new();
        for name in INHERITED_VARS {
            if let Some(value) = env::var_os(name) {
                vars.insert(name.into(), value);
            }
        }
        let mut set = |key: &str, value: OsString| {
            vars.insert(key.into(), value);
        };
        set("TMPDIR", environment.tmpdir().into());
        set("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string().into());
        set(
            "AWS_LAMBDA_FUNCTION_NAME",
            self.function_name.clone().into(),
        );
        set(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            self.memory_mb.to_string().into(),
        );
        set("AWS_LAMBDA_FUNCTION_VERSION", self.version.clone().into());
        let initialization_type = self.initialization_type.as_deref().unwrap_or("on-demand");
        set("AWS_LAMBDA_INITIALIZATION_TYPE", initialization_type.into());
        // "Not available in Lambda SnapStart functions" (Lambda's list of its variables).
        if initialization_type != "snap-start" {
            set("AWS_LAMBDA_LOG_GROUP_NAME", self.log_group_name().into());
            set(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                self.log_stream_name(environment).into(),
            );
        }
        set("AWS_REGION", self.region.clone().into());
        set("AWS_DEFAULT_REGION", self.region.clone().into());
        set("LAMBDA_TASK_ROOT", command.task_root().into());
        // An OS-only runtime's runtime is the function's own program.
        set("LAMBDA_RUNTIME_DIR", command.task_root().into());
        set("_HANDLER", command.handler());
        set("TZ", "UTC".into());
        // What Lambda sets on a function left at its default log format (seen in the
        // environment real functions print at start; `JSON` once the format is switched).
        set("AWS_LAMBDA_LOG_FORMAT", "Text".into());
        if let Some(max) = self.max_concurrency {
            set("AWS_LAMBDA_MAX_CONCURRENCY", max.to_string().into());
        }
        if let Some(address) = &self.xray_daemon_address {
            set("AWS_XRAY_DAEMON_ADDRESS", address.clone().into());
            // Lambda sets these beside it: the daemon's host and port apart (read by some
            // tracers and OpenTelemetry exporters), and X-Ray SDKs told to log, not throw,
            // when work is traced outside an invocation.
            if let Some((host, port)) = address
                .rsplit_once(':')
                .filter(|(host, port)| !host.contains(' ') && port.parse::<u16>().is_ok())
            {
                set("_AWS_XRAY_DAEMON_ADDRESS", host.into());
                set("_AWS_XRAY_DAEMON_PORT", port.into());
            }
            set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
        }
        for (key, value) in &self.extra_env {
            vars.insert(key.clone(), value.clone());
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(vars: &'a BTreeMap<OsString, OsString>, key: &str) -> Option<&'a str> {
        vars.get(&OsString::from(key)).and_then(|v| v.to_str())
    }

    #[test]
    fn environment_has_lambda_vars_and_extras_override() {
        let environment = ExecutionEnvironment::new().expect("temp dir");
        let command = FunctionCommand::new("/var/task/bootstrap");
        let addr: SocketAddr = "127.0.0.1:9001".parse().expect("addr");
        let config = FunctionConfig::new()
            .with_function_name("demo")
            .with_memory_mb(256)
            .with_max_concurrency(4)
            .with_env("TZ", "Europe/Paris")
            .with_env("EXTRA", "1");
        let vars = config.environment(&command, &environment, addr);
        assert_eq!(get(&vars, "AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get(&vars, "AWS_LAMBDA_FUNCTION_NAME"), Some("demo"));
        assert_eq!(get(&vars, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("256"));
        assert_eq!(get(&vars, "AWS_LAMBDA_FUNCTION_VERSION"), Some("$LATEST"));
        assert_eq!(
            get(&vars, "AWS_LAMBDA_LOG_GROUP_NAME"),
            Some("/aws/lambda/demo")
        );
        assert_eq!(get(&vars, "AWS_REGION"), Some("us-east-1"));
        assert_eq!(get(&vars, "AWS_DEFAULT_REGION"), Some("us-east-1"));
        assert_eq!(get(&vars, "LAMBDA_TASK_ROOT"), Some("/var/task"));
        assert_eq!(get(&vars, "_HANDLER"), Some("bootstrap"));
        assert_eq!(get(&vars, "AWS_LAMBDA_MAX_CONCURRENCY"), Some("4"));
        assert_eq!(get(&vars, "TZ"), Some("Europe/Paris"));
        assert_eq!(get(&vars, "AWS_LAMBDA_LOG_FORMAT"), Some("Text"));
        assert_eq!(get(&vars, "EXTRA"), Some("1"));
        assert_eq!(get(&vars, "TMPDIR"), environment.tmpdir().to_str());
        assert_eq!(
            get(&vars, "AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("on-demand")
        );
        assert_eq!(get(&vars, "AWS_XRAY_DAEMON_ADDRESS"), None);
        assert!(
            get(&vars, "AWS_LAMBDA_LOG_STREAM_NAME").is_some_and(|s| s.ends_with(environment.id()))
        );
        assert_eq!(
            config.function_arn(),
            "arn:aws:lambda:us-east-1:123456789012:function:demo"
        );
    }

    #[test]
    fn a_snap_start_function_has_no_log_group_or_stream() {
        let environment = ExecutionEnvironment::new().expect("temp dir");
        let command = FunctionCommand::new("/var/task/bootstrap");
        let addr: SocketAddr = "127.0.0.1:9001".parse().expect("addr");
        for (kind, logs_named) in [
            ("snap-start", false),
            ("provisioned-concurrency", true),
            ("on-demand", true),
        ] {
            let config = FunctionConfig::new().with_initialization_type(kind);
            let vars = config.environment(&command, &environment, addr);
            assert_eq!(get(&vars, "AWS_LAMBDA_INITIALIZATION_TYPE"), Some(kind));
            for name in ["AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"] {
                assert_eq!(get(&vars, name).is_some(), logs_named, "{kind}: {name}");
            }
        }
    }
}
