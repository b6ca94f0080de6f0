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
