//! [`ExecutionEnvironment`]: a simulated Lambda execution environment (its `/tmp`).

use std::fmt;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use tempfile::TempDir;

use crate::emulator::ids::{random_hex, utc_date};

/// A simulated Lambda execution environment.
///
/// It owns a temporary directory that the function sees as `TMPDIR` (its `/tmp`). Restarting
/// the function process in the same environment (a crash and restart inside one sandbox)
/// reuses the directory and its contents; a fresh environment (a new cold start on a new
/// sandbox) is a new `ExecutionEnvironment`. The directory is deleted on drop.
pub struct ExecutionEnvironment {
    dir: TempDir,
    id: String,
    created_at: SystemTime,
}

impl fmt::Debug for ExecutionEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionEnvironment")
            .field("id", &self.id)
            .field("tmpdir", &self.dir.path())
            .finish()
    }
}

impl ExecutionEnvironment {
    /// Creates a new environment with an empty temporary directory.
    pub fn new() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("lambda-perf-env-")
            .tempdir()?;
        Ok(Self {
            dir,
            id: random_hex(32),
            created_at: SystemTime::now(),
        })
    }

    /// The function's `TMPDIR`.
    pub fn tmpdir(&self) -> &Path {
        self.dir.path()
    }

    /// A random 32 hex digit id, used in the default log stream name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the environment was created.
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// The log stream name Lambda would use for this environment:
    /// `YYYY/MM/DD/[<version>]<id>`.
    pub fn log_stream_name(&self, version: &str) -> String {
        let (year, month, day) = utc_date(self.created_at);
        format!("{year:04}/{month:02}/{day:02}/[{version}]{}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_distinct_and_clean_up() {
        let first = ExecutionEnvironment::new().expect("temp dir");
        let second = ExecutionEnvironment::new().expect("temp dir");
        assert!(first.tmpdir().is_dir());
        assert_ne!(first.tmpdir(), second.tmpdir());
        assert_ne!(first.id(), second.id());
        let stream = first.log_stream_name("$LATEST");
        assert!(
            stream.ends_with(&format!("/[$LATEST]{}", first.id())),
            "{stream}"
        );
        assert_eq!(stream.split('/').count(), 4);
        let path = first.tmpdir().to_owned();
        drop(first);
        assert!(!path.exists());
    }
}
