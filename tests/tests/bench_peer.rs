//! The Powertools for Python peer of `bench/run` (`bench/powertools/handler_bench.py`),
//! run with a stand-in for the `aws_lambda_powertools` package: measured as Lambda's Python
//! runtime runs a handler, each EMF line it prints reaches stdout's file descriptor in the
//! invocation that printed it (as lambda-perf's line does), not in a later one's.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `Metrics.log_metrics` prints one EMF-sized line after the handler, as Powertools' flush
/// does, and fails the invocation when the line has not reached the file by then.
const STAND_IN: &str = r#"
import functools, os, sys

class Metrics:
    def __init__(self, **_):
        pass
    def add_metric(self, **_):
        pass
    def log_metrics(self, handler):
        @functools.wraps(handler)
        def wrapper(event, context):
            response = handler(event, context)
            before = os.fstat(1).st_size
            print("{" + "x" * 300 + "}")
            after = os.fstat(1).st_size
            if after <= before:
                raise RuntimeError("the EMF line did not reach stdout's descriptor in its invocation")
            return response
        return wrapper

class Tracer:
    def __init__(self, **_):
        pass
    def capture_lambda_handler(self, handler):
        return handler
    def put_annotation(self, **_):
        pass
"#;

#[test]
fn each_emf_line_of_the_python_peer_is_written_in_its_own_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let package = dir.path().join("aws_lambda_powertools");
    fs::create_dir_all(package.join("metrics")).unwrap();
    fs::write(package.join("__init__.py"), STAND_IN).unwrap();
    fs::write(
        package.join("metrics/__init__.py"),
        "class MetricUnit:\n    Count = 'Count'\n",
    )
    .unwrap();
    let stdout = fs::File::create(dir.path().join("stdout")).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/powertools/handler_bench.py");
    let output = Command::new("python3")
        .arg(&script)
        .args(["instrumented", "50", "5"])
        .env("PYTHONPATH", dir.path())
        // As on a machine whose environment does not ask Python for unbuffered streams.
        .env_remove("PYTHONUNBUFFERED")
        .stdout(Stdio::from(stdout))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = fs::read_to_string(dir.path().join("stdout")).unwrap();
    assert_eq!(lines.lines().count(), 55);
}
