//! Shared by the tests that run `lambda-perf` on the workload function
//! (`tests/workload-function/`).

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use lambda_perf_local::sizing::Cgroups;
use serde_json::Value;

/// Runs the `lambda-perf` binary.
pub fn lambda_perf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambda-perf"))
        .args(args)
        .output()
        .expect("lambda-perf runs")
}

/// The workload function, built on first use with the same profile as the tests.
pub fn workload_function() -> String {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            escargot::CargoBuild::new()
                .manifest_path(workspace.join("Cargo.toml"))
                .package("workload-function")
                .bin("workload-function")
                .current_release()
                .run()
                .expect("the workload function builds")
                .path()
                .to_owned()
        })
        .display()
        .to_string()
}

/// Fails `test` unless this machine lets lambda-perf impose sizes (cgroups it can write, so
/// root): a test that cannot measure says so, it never passes quietly.
pub fn require_sizing(test: &str) {
    if let Err(error) = Cgroups::detect() {
        panic!("{test} needs cgroups lambda-perf can write (run the tests as root): {error}")
    }
}

/// A temporary file holding `text`.
pub fn file_with(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("written");
    file
}

/// A path in a temporary directory (kept while the directory lives).
pub fn temp_path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

/// Stdout parsed as JSON, or a panic showing both streams.
pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The numbers of `field` of every invocation of a run report that ended `ok` and is not
/// the first (cold) one.
pub fn warm(report: &Value, field: &str) -> Vec<f64> {
    report["invocations"]
        .as_array()
        .expect("invocations")
        .iter()
        .skip(1)
        .filter(|i| i["status"] == "ok")
        .filter_map(|i| i[field].as_f64())
        .collect()
}

/// The processes running `command` (its arguments exactly, as `/proc/<pid>/cmdline` holds
/// them); zombies, dead but not yet reaped, are not counted.
pub fn running(command: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = command
        .iter()
        .flat_map(|arg| [arg.as_bytes(), b"\0"].concat())
        .collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| cmdline == wanted)
        })
        .collect()
}

/// A `sleep` command line no other process runs: its seconds made of this test process's id
/// and `n`.
pub fn unique_sleep(n: u32) -> [String; 2] {
    [
        "sleep".to_owned(),
        format!("{}{n}", 40_000 + std::process::id()),
    ]
}

/// Waits up to 5 s until no process runs `command`; the pids still running it after that
/// (killed, so as not to outlive the test).
pub fn left_running(command: &[&str]) -> Vec<u32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let pids = running(command);
        if pids.is_empty() || std::time::Instant::now() > deadline {
            for pid in &pids {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            return pids;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
