//! `bench/run`, the one command behind `BENCHMARKS.md`, run on a copy of its scripts with
//! stand-ins for the tools it calls (`cargo`, `npm`, `node`, the peers' Python): a step that
//! fails must leave its figures out of the report, not report what an earlier run left
//! behind, and the run must say which commit, with or without changes, it measured.
//!
//! The stand-ins measure nothing: `cargo bench --bench end_to_end` writes an init figure for
//! each binary bench/run hands it; every other build fails or does nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn executable(path: &Path, text: &str) {
    write(path, text);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `cargo`: the minimal function builds but for the variants in `$STUB_FAIL_BUILDS`; the
/// end-to-end bench writes an init figure (1 ms, one round) for each binary it is given; every other
/// bench does nothing, every other build fails.
const CARGO: &str = r#"#!/usr/bin/env bash
args=" $* "
case "$args" in
    *" bench "*"--bench end_to_end"*)
        python3 - <<'PY'
import json, os
init = {}
for entry in filter(None, os.environ.get("LAMBDA_PERF_BENCH_INIT_BINARIES", "").split(",")):
    name, _, path = entry.partition("=")
    init[name] = {"samples": 1, "median_us": 1000.0, "p90_us": 1000.0, "mean_us": 1000.0, "rounds_us": [1000.0], "path": path}
with open(os.environ["LAMBDA_PERF_BENCH_OUT"], "w") as out:
    json.dump({"client_latency": {}, "client_latency_quiet_sinks": {}, "init": init}, out)
PY
        ;;
    *" bench "*) exit 0 ;;
    *" build "*"-p minimal-function "*)
        variant=bare
        case "$args" in *"--features perf "*) variant=perf ;; *"--features otel "*) variant=otel ;; esac
        case ",${STUB_FAIL_BUILDS:-}," in *",$variant,"*) echo "stub: $variant fails" >&2; exit 1 ;; esac
        mkdir -p "$CARGO_TARGET_DIR/release"
        printf '#!/bin/sh\n# %s\n' "$variant" >"$CARGO_TARGET_DIR/release/minimal-function"
        chmod +x "$CARGO_TARGET_DIR/release/minimal-function"
        ;;
    *) echo "stub: cargo $* is not built here" >&2; exit 1 ;;
esac
"#;

/// The Powertools for Python environment: the pinned versions installed, every measurement
/// failing (that peer is skipped).
const PEER_PYTHON: &str = r#"#!/usr/bin/env bash
case "$*" in
    "-m pip show aws-lambda-powertools") echo "Version: 3.37.0" ;;
    "-m pip show aws-xray-sdk") echo "Version: 2.15.0" ;;
    "--version") echo "Python 0" ;;
    *) echo "stub: no measurement" >&2; exit 1 ;;
esac
"#;

/// `node`: answers as handler_bench.mjs would (a measurement of 5 µs).
const NODE: &str = r#"#!/usr/bin/env bash
if [ "$1" = --version ]; then echo v0.0.0; exit 0; fi
echo '{"mode": "x", "invocations": 1, "mean_us": 5.0, "median_us": 5.0}' >&2
"#;

/// A copy of the repository's bench scripts in a directory of its own (its own git
/// repository, one commit), with the stand-ins in `stubs/`; returns (root, stubs).
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = workspace().join("bench");
    for file in [
        "run",
        "report.py",
        "criterion.py",
        "powertools/peer.py",
        "powertools/handler_bench.py",
        "powertools/handler_bench.mjs",
    ] {
        let to = root.join("bench").join(file);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(source.join(file), &to).unwrap();
    }
    // One bench target, without required features.
    write(
        &root.join("lambda-perf-core/Cargo.toml"),
        "[package]\nname = \"lambda-perf-core\"\n",
    );
    write(&root.join("lambda-perf-core/benches/one.rs"), "");
    let stubs = root.join("stubs");
    executable(&stubs.join("cargo"), CARGO);
    executable(&stubs.join("node"), NODE);
    executable(
        &stubs.join("npm"),
        "#!/bin/sh\necho 'stub: offline' >&2\nexit 1\n",
    );
    executable(&root.join("target/bench/py/bin/python"), PEER_PYTHON);
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@example.com",
            ])
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "bench scripts"]);
    (dir, stubs)
}

/// Runs `bench/run --quick` in `root` with the stand-ins first on the PATH; returns the
/// BENCHMARKS.md it wrote.
fn bench_run(root: &Path, stubs: &Path, env: &[(&str, &str)]) -> String {
    let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap());
    let output = Command::new("bash")
        .arg(root.join("bench/run"))
        .arg("--quick")
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bench/run: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    fs::read_to_string(root.join("BENCHMARKS.md")).unwrap()
}

fn line_starting<'a>(report: &'a str, start: &str) -> &'a str {
    report
        .lines()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{report}"))
}

#[test]
fn a_minimal_function_that_fails_to_build_has_no_init_figure_from_an_earlier_build() {
    let (dir, stubs) = setup();
    let root = dir.path();
    // What an earlier run built, with the feature.
    executable(
        &root.join("target/bench/bin/minimal-otel"),
        "#!/bin/sh\n# an earlier build\n",
    );
    let report = bench_run(root, &stubs, &[("STUB_FAIL_BUILDS", "otel")]);
    let init = &report[report.find("## Init").unwrap()..report.find("## Binary size").unwrap()];
    assert!(
        init.contains("| lambda-perf, `opentelemetry` feature | n/a | n/a | n/a |"),
        "{init}"
    );
    // Its size row too, and no sentence about its init.
    assert!(!report.contains("Its init:"), "{report}");
    // The builds that ran are measured.
    assert!(
        report.contains(
            "| lambda-perf | 1.000 ms | 1.000 ms | +0.000 ms (0% confidence interval +0.000 ms \
             to +0.000 ms, over 1 rounds) |"
        ),
        "{report}"
    );
}

#[test]
fn a_typescript_peer_that_fails_to_install_is_skipped_not_measured_at_an_earlier_version() {
    let (dir, stubs) = setup();
    let root = dir.path();
    // What an earlier run installed, at another version than the pinned one.
    for package in ["tracer", "metrics"] {
        write(
            &root.join(format!(
                "target/bench/node/node_modules/@aws-lambda-powertools/{package}/package.json"
            )),
            "{\n  \"name\": \"x\",\n  \"version\": \"2.0.0\"\n}\n",
        );
    }
    let report = bench_run(root, &stubs, &[]);
    assert!(
        report.contains("_Powertools for TypeScript: skipped"),
        "{report}"
    );
    assert_eq!(
        line_starting(&report, "| Powertools for TypeScript 2"),
        "| Powertools for TypeScript 2.36.0 | n/a | n/a | | | |",
        "{report}"
    );
}

#[test]
fn staged_changes_are_named_beside_the_commit() {
    let (dir, stubs) = setup();
    let root = dir.path();
    let clean = bench_run(root, &stubs, &[]);
    let commit = line_starting(&clean, "| commit |").to_owned();
    assert!(!commit.contains("uncommitted"), "{commit}");
    fs::write(root.join("lambda-perf-core/benches/one.rs"), "// changed\n").unwrap();
    let status = Command::new("git")
        .args(["add", "lambda-perf-core/benches/one.rs"])
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success());
    let staged = bench_run(root, &stubs, &[]);
    assert!(
        line_starting(&staged, "| commit |").contains("(with uncommitted changes)"),
        "{}",
        line_starting(&staged, "| commit |")
    );
}
