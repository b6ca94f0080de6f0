//! Each example is a crate of its own: copied out of the workspace into a temp dir, with
//! lambda-perf-core pointed at this checkout by path and nothing else changed, it builds and
//! its tests pass. (Inside the workspace, `workspace = true` dependencies would hide
//! versions and features in the root manifest; the examples have none.)

mod support;

use support::standalone::{Standalone, workspace};

/// Copies `examples/<name>` out, then `cargo build` and `cargo test` there.
fn builds_and_passes_its_tests_when_copied_out(name: &str) {
    let example = workspace().join("examples").join(name);
    let manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
    assert!(
        !manifest.contains("workspace = true") && !manifest.contains(".workspace"),
        "{name}'s Cargo.toml inherits from the workspace:\n{manifest}"
    );
    let copy = Standalone::new(&manifest);
    copy.copy_tree(&example);
    copy.cargo(&["build"]);
    let output = copy.cargo(&["test"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("test result: ok.") && !stdout.contains("running 0 tests"),
        "{name}: its tests did not run:\n{stdout}"
    );
}

#[test]
fn basic_layer() {
    builds_and_passes_its_tests_when_copied_out("basic-layer");
}

#[test]
fn macro_handler() {
    builds_and_passes_its_tests_when_copied_out("macro-handler");
}

#[test]
fn lazy_clients() {
    builds_and_passes_its_tests_when_copied_out("lazy-clients");
}

#[test]
fn http_axum() {
    builds_and_passes_its_tests_when_copied_out("http-axum");
}

#[test]
fn opentelemetry() {
    builds_and_passes_its_tests_when_copied_out("opentelemetry");
}

#[test]
fn every_example_is_covered() {
    let mut examples: Vec<String> = std::fs::read_dir(workspace().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    examples.sort();
    assert_eq!(
        examples,
        [
            "basic-layer",
            "http-axum",
            "lazy-clients",
            "macro-handler",
            "opentelemetry"
        ],
        "a new example needs its copied-out test here"
    );
}

/// The README says the examples test themselves with `test_util::Recorder`: each one's tests
/// run its handler behind the recorder, instrumentation included, not the bare handler only.
#[test]
fn every_example_tests_itself_with_the_recorder() {
    for entry in std::fs::read_dir(workspace().join("examples")).unwrap() {
        let example = entry.unwrap().path();
        let manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
        let dev_dependencies = manifest
            .split_once("[dev-dependencies]")
            .map(|(_, after)| after)
            .unwrap_or_default();
        assert!(
            dev_dependencies.contains("\"test-util\""),
            "{}: no test-util in its dev-dependencies",
            example.display()
        );
        let main = std::fs::read_to_string(example.join("src/main.rs")).unwrap();
        let tests = main.split_once("#[cfg(test)]").map(|(_, tests)| tests);
        assert!(
            tests.is_some_and(|tests| tests.contains("Recorder::")),
            "{}: its tests do not run it behind the recorder",
            example.display()
        );
    }
}
