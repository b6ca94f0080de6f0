//! Whether a function's program can be started at all: checked before a run, so that a wrong
//! path, a file that is not executable or a script whose interpreter is missing is one clear
//! error naming the path, instead of a run of nothing.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::emulator::command::FunctionCommand;

/// Why a function's program cannot be started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotLaunchable {
    /// No file at the path given.
    Missing {
        /// The program as given.
        program: PathBuf,
    },
    /// A bare name that no `PATH` directory holds.
    NotOnPath {
        /// The program as given.
        program: PathBuf,
    },
    /// The path is a directory.
    Directory {
        /// The program as given.
        program: PathBuf,
    },
    /// The file has no execute permission.
    NotExecutable {
        /// The program as given.
        program: PathBuf,
    },
    /// A script whose `#!` interpreter does not exist.
    MissingInterpreter {
        /// The program as given.
        program: PathBuf,
        /// The interpreter its `#!` line names.
        interpreter: String,
    },
}

impl fmt::Display for NotLaunchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { program } => {
                write!(f, "cannot run {}: no such file", program.display())
            }
            Self::NotOnPath { program } => write!(
                f,
                "cannot run {}: no such program on PATH (give a path, e.g. ./{})",
                program.display(),
                program.display()
            ),
            Self::Directory { program } => {
                write!(f, "cannot run {}: it is a directory", program.display())
            }
            Self::NotExecutable { program } => write!(
                f,
                "cannot run {}: it is not executable (chmod +x {})",
                program.display(),
                program.display()
            ),
            Self::MissingInterpreter {
                program,
                interpreter,
            } => write!(
                f,
                "cannot run {}: its interpreter {interpreter} (from its #! line) does not exist",
                program.display()
            ),
        }
    }
}

impl std::error::Error for NotLaunchable {}

impl FunctionCommand {
    /// Checks that the program can be started: the file exists (or a bare name is on
    /// `PATH`), is a file, is executable, and, for a script, that its `#!` interpreter
    /// exists. Returns the file that would run.
    ///
    /// ```
    /// use lambda_perf_local::emulator::{FunctionCommand, NotLaunchable};
    ///
    /// assert!(FunctionCommand::new("sh").check_launchable().is_ok());
    /// let error = FunctionCommand::new("target/debug/no-such-fn").check_launchable();
    /// assert!(matches!(error, Err(NotLaunchable::Missing { .. })));
    /// ```
    pub fn check_launchable(&self) -> Result<PathBuf, NotLaunchable> {
        let program = self.program().to_owned();
        let file = if program.components().count() > 1 {
            if !program.exists() {
                return Err(NotLaunchable::Missing { program });
            }
            program.clone()
        } else {
            match on_path(program.as_os_str()) {
                Some(file) => file,
                None => return Err(NotLaunchable::NotOnPath { program }),
            }
        };
        if file.is_dir() {
            return Err(NotLaunchable::Directory { program });
        }
        if !is_executable(&file) {
            return Err(NotLaunchable::NotExecutable { program });
        }
        if let Some(interpreter) = missing_interpreter(&file) {
            return Err(NotLaunchable::MissingInterpreter {
                program,
                interpreter,
            });
        }
        Ok(file)
    }
}

/// The first executable file named `name` in a `PATH` directory.
fn on_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file() && is_executable(candidate))
}

fn is_executable(file: &Path) -> bool {
    std::fs::metadata(file)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The interpreter named by the `#!` line of `file` when it does not exist (through
/// `env`, the program `env` would look up on `PATH`); `None` for a binary, a script whose
/// interpreter exists, or a file that cannot be read (the start will say why).
fn missing_interpreter(file: &Path) -> Option<String> {
    let mut head = [0_u8; 256];
    let read = std::fs::File::open(file).ok()?.read(&mut head).ok()?;
    let line = head[..read].strip_prefix(b"#!")?;
    let line = line.split(|byte| *byte == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let interpreter = words.next()?;
    if !is_executable(Path::new(interpreter)) {
        return Some(interpreter.to_owned());
    }
    if Path::new(interpreter).file_name() == Some(OsStr::new("env")) {
        // `#!/usr/bin/env [-S] [NAME=VALUE…] program …`
        let program = words.find(|word| !word.starts_with('-') && !word.contains('='))?;
        let found = if program.contains('/') {
            is_executable(Path::new(program))
        } else {
            on_path(OsStr::new(program)).is_some()
        };
        if !found {
            return Some(format!("{program} (through {interpreter})"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn check(program: &Path) -> Result<PathBuf, NotLaunchable> {
        FunctionCommand::new(program).check_launchable()
    }

    #[test]
    fn every_way_a_program_cannot_start_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(
            check(&missing),
            Err(NotLaunchable::Missing {
                program: missing.clone()
            })
        );
        assert_eq!(
            check(dir.path()),
            Err(NotLaunchable::Directory {
                program: dir.path().to_owned()
            })
        );
        let plain = script(dir.path(), "plain", "#!/bin/sh\n", 0o644);
        assert_eq!(
            check(&plain),
            Err(NotLaunchable::NotExecutable {
                program: plain.clone()
            })
        );
        let bad = script(dir.path(), "bad", "#!/no/such/python -u\nprint()\n", 0o755);
        assert_eq!(
            check(&bad),
            Err(NotLaunchable::MissingInterpreter {
                program: bad.clone(),
                interpreter: "/no/such/python".into()
            })
        );
        let env = script(
            dir.path(),
            "env",
            "#!/usr/bin/env -S no-such-interpreter-lp --flag\n",
            0o755,
        );
        assert!(
            matches!(check(&env), Err(NotLaunchable::MissingInterpreter { interpreter, .. })
                if interpreter == "no-such-interpreter-lp (through /usr/bin/env)"),
            "{:?}",
            check(&env)
        );
        let good = script(dir.path(), "good", "#!/usr/bin/env sh\nexit 0\n", 0o755);
        assert_eq!(check(&good), Ok(good.clone()));
        let bare = FunctionCommand::new("no-such-program-lp").check_launchable();
        assert!(matches!(bare, Err(NotLaunchable::NotOnPath { .. })));
        assert!(FunctionCommand::new("sh").check_launchable().is_ok());
    }

    #[test]
    fn messages_name_the_path_given() {
        let program = PathBuf::from("target/debug/basic-layr");
        let message = NotLaunchable::Missing {
            program: program.clone(),
        }
        .to_string();
        assert_eq!(message, "cannot run target/debug/basic-layr: no such file");
        let message = NotLaunchable::MissingInterpreter {
            program,
            interpreter: "/usr/bin/python9".into(),
        }
        .to_string();
        assert!(message.contains("target/debug/basic-layr") && message.contains("python9"));
    }
}
