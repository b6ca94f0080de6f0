//! Tools from outside Rust that a few tests need, installed on first use by the scripts in
//! `tests/tools/` (idempotent, under a lock).

use std::path::PathBuf;
use std::process::Command;

/// Runs `tests/tools/<name>.sh` and returns the path it printed (the tool, ready to use).
/// Fails the test with the installer's reason when the tool cannot be had: a test that
/// needs a tool never passes without it.
pub fn install(name: &str) -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = workspace
        .join("tests")
        .join("tools")
        .join(format!("{name}.sh"));
    let mut command = Command::new("bash");
    command.arg(&script);
    // Where the build put its target dir, when it was not the default.
    if std::env::var_os("CARGO_TARGET_DIR").is_none()
        && let Some(target) = option_env!("CARGO_TARGET_DIR")
    {
        command.env("CARGO_TARGET_DIR", target);
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("running bash {}: {error}", script.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "this test needs {name}, which is not installed and could not be: {}",
        stderr.trim()
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout.lines().last().unwrap_or_default().trim();
    assert!(
        !path.is_empty(),
        "{} printed no path; stderr: {stderr}",
        script.display()
    );
    PathBuf::from(path)
}
