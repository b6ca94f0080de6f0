//! Crates outside this workspace, as a user writes them: a directory of their own (in the
//! system's temp dir, so no workspace manifest above them), lambda-perf-core pointed at this
//! checkout by path, built with plain `cargo`.
//!
//! They share one target dir, `target/standalone`, so only the first build is a cold one,
//! and they start from this workspace's `Cargo.lock`, so they resolve the same versions and
//! build offline when the registry cache has them (`--offline` first, online if that fails).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use toml::{Table, Value};

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace root")
}

/// A crate of its own in a temp dir.
pub struct Standalone {
    dir: tempfile::TempDir,
}

impl Standalone {
    /// A crate with `manifest` as its `Cargo.toml` (its `lambda-perf-core` dependency, in the
    /// path or git form, pointed at this checkout) and this workspace's `Cargo.lock`.
    pub fn new(manifest: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("lambda-perf-standalone-")
            .tempdir()
            .expect("a temp dir");
        let crate_ = Self { dir };
        crate_.write("Cargo.toml", &point_at_checkout(manifest));
        std::fs::copy(
            workspace().join("Cargo.lock"),
            crate_.path().join("Cargo.lock"),
        )
        .expect("copying Cargo.lock");
        crate_
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file, creating its directories.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("creating dirs");
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
    }

    /// Copies every file under `from` (but `Cargo.toml`, which [`new`](Self::new) wrote)
    /// into the crate.
    pub fn copy_tree(&self, from: &Path) {
        copy_tree(from, self.path());
    }

    /// Runs `cargo <args>` in the crate (`--offline` first, online if that fails for want
    /// of a package) and fails the test with cargo's output unless it succeeds.
    pub fn cargo(&self, args: &[&str]) -> Output {
        let offline = self.run_cargo(args, true);
        let stderr = String::from_utf8_lossy(&offline.stderr);
        let output = if !offline.status.success()
            && (stderr.contains("offline") || stderr.contains("download"))
        {
            self.run_cargo(args, false)
        } else {
            offline
        };
        assert!(
            output.status.success(),
            "`cargo {}` failed in a copy at {} (kept):\n{}\n{}",
            args.join(" "),
            self.keep().display(),
            String::from_utf8_lossy(&output.stderr),
            // A failing test's panic is on stdout.
            String::from_utf8_lossy(&output.stdout)
        );
        output
    }

    /// The path of its binary `name` as `cargo build` (the dev profile) leaves it.
    pub fn binary(&self, name: &str) -> PathBuf {
        target_dir()
            .join("debug")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }

    fn run_cargo(&self, args: &[&str], offline: bool) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(args)
            .args(offline.then_some("--offline"))
            .current_dir(self.path())
            .env("CARGO_TARGET_DIR", target_dir())
            .env("CARGO_TERM_COLOR", "never")
            // Nothing of the outer build leaks into this one.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
        command
            .output()
            .unwrap_or_else(|error| panic!("running cargo {args:?}: {error}"))
    }

    /// Keeps the crate's directory (for a failure message) and returns its path.
    fn keep(&self) -> PathBuf {
        let path = self.path().to_owned();
        let kept = path.with_extension("kept");
        if copy_all(&path, &kept).is_ok() {
            kept
        } else {
            path
        }
    }
}

/// `target/standalone` of this workspace (or of `CARGO_TARGET_DIR` as the tests were built).
fn target_dir() -> PathBuf {
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    workspace().join(target).join("standalone")
}

/// `manifest` with its `lambda-perf-core` dependency (path or git form, in any dependency
/// table, under its own name or renamed with `package = "lambda-perf-core"`) replaced by a
/// path to this checkout's, its other keys (features) kept. Fails the test when the manifest
/// names lambda-perf-core by a registry version only: that form does not build until the
/// crate is published.
pub fn point_at_checkout(manifest: &str) -> String {
    let mut table: Table = manifest
        .parse()
        .unwrap_or_else(|error| panic!("not a TOML manifest ({error}):\n{manifest}"));
    let core = workspace().join("lambda-perf-core");
    let mut found = false;
    for section in ["dependencies", "dev-dependencies"] {
        let Some(Value::Table(dependencies)) = table.get_mut(section) else {
            continue;
        };
        let renamed = dependencies.iter().find_map(|(name, dependency)| {
            (dependency.get("package").and_then(Value::as_str) == Some("lambda-perf-core"))
                .then(|| name.clone())
        });
        let name = renamed.unwrap_or_else(|| "lambda-perf-core".to_owned());
        let Some(dependency) = dependencies.get_mut(&name) else {
            continue;
        };
        let Value::Table(dependency) = dependency else {
            panic!(
                "lambda-perf-core = {dependency} is a registry version: it is not on crates.io \
                 yet, give the path or git form"
            );
        };
        assert!(
            dependency.remove("path").is_some() || dependency.remove("git").is_some(),
            "lambda-perf-core = {dependency} has neither path nor git"
        );
        dependency.remove("branch");
        dependency.remove("rev");
        dependency.remove("tag");
        dependency.insert("path".into(), Value::String(core.display().to_string()));
        found = true;
    }
    assert!(found, "no lambda-perf-core dependency in:\n{manifest}");
    toml::to_string(&table).expect("a manifest serializes")
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("reading a directory") {
        let entry = entry.expect("a directory entry");
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("a file type").is_dir() {
            std::fs::create_dir_all(&target).expect("creating a directory");
            copy_tree(&source, &target);
        } else if entry.file_name() != "Cargo.toml" {
            std::fs::copy(&source, &target).expect("copying a file");
        }
    }
}

fn copy_all(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_all(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
