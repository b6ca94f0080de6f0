//! The OTLP exporter as another crate of a function's build may compile it: with features
//! lambda-perf leaves off (`gzip-http`, which makes it compress by the compression variables
//! itself, and `grpc-tonic`, for a gRPC exporter of the function's own). lambda-perf asks the
//! exporter's builder what it can compress, to say what the exports really get; the answer
//! must be the build's, whatever else the environment says.

mod support;

use support::standalone::Standalone;

const MANIFEST: &str = r#"
[package]
name = "otel-exporter-features"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
lambda-perf-core = { path = "../lambda-perf/lambda-perf-core", features = ["opentelemetry"] }
# What the function's other crates turn on.
opentelemetry-otlp = { version = "0.33.1", default-features = false, features = ["http-proto", "trace", "gzip-http", "grpc-tonic"] }
"#;

/// Reads the environment it was started with, as a function's `main` does; the warnings go
/// to stderr.
const MAIN: &str = r#"
fn main() {
    let _layer = lambda_perf_core::PerfLayer::from_env();
}
"#;

/// The exporter's builder refuses a gRPC protocol on HTTP, and a malformed endpoint: neither
/// variable may make lambda-perf take the exporter for one that cannot compress. Here the
/// traces variable says ` none ` (with spaces the exporter does not read past) and the
/// generic one `gzip`: the exporter gzips, and the warning says so.
#[test]
fn what_the_exporter_compresses_is_known_whatever_the_protocol_and_endpoint_variables() {
    let copy = Standalone::new(MANIFEST);
    copy.write("src/main.rs", MAIN);
    copy.cargo(&["build", "--quiet"]);
    let binary = copy.binary("otel-exporter-features");
    let compression = [
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", " none "),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ];
    for other in [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://[::1:4318/v1/traces",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
    ] {
        let output = std::process::Command::new(&binary)
            .env_clear()
            .envs([
                ("LAMBDA_PERF_TRACES", "otlp"),
                ("POWERTOOLS_METRICS_NAMESPACE", "Shop"),
            ])
            .envs(compression)
            .envs([other])
            .output()
            .expect("running the function");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{other:?}:\n{stderr}");
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"))
            .collect();
        assert_eq!(warnings.len(), 1, "{other:?}:\n{stderr}");
        assert!(
            warnings[0].contains("which compresses exports itself in this build (gzip-http)")
                && warnings[0].ends_with("exports are compressed with gzip"),
            "{other:?}:\n{stderr}"
        );
    }
}
