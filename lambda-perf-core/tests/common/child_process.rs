//! A test run again in a child process, for what only a process of its own shows: its stderr,
//! where lambda-perf's one-time warnings go.

/// Whether this process is the child a test started with [`warnings_of_child`] (`marker` set).
pub(crate) fn is_child(marker: &str) -> bool {
    std::env::var_os(marker).is_some()
}

/// Runs `test` of this test binary again in a child process with the variable `marker` set,
/// asserts that it passed, and returns the lambda-perf warnings on its stderr that contain
/// `about`, with the whole stderr to show when an assertion on them fails.
pub(crate) fn warnings_of_child(test: &str, marker: &str, about: &str) -> (Vec<String>, String) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture"])
        .env(marker, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{stderr}"
    );
    let warnings = stderr
        .lines()
        .filter(|line| line.starts_with("lambda-perf: warning") && line.contains(about))
        .map(str::to_owned)
        .collect();
    (warnings, stderr)
}
