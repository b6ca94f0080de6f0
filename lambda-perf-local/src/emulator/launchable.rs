//! Whether a function's program can be started at all: checked before a run, so that a wrong
//! path, a file that is not executable or a script whose interpreter is missing is one clear
//! error naming the path, instead of a run of nothing; and, when the start itself fails, why
//! (a binary for another architecture, a file that is no program).

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::emulator::command::FunctionCommand;
use crate::emulator::program_head::{self, ProgramHead};

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
    /// A script whose `#!` interpreter exists but cannot be run (not an executable file).
    InterpreterNotExecutable {
        /// The program as given.
        program: PathBuf,
        /// The interpreter its `#!` line names.
        interpreter: String,
    },
    /// A binary built for another architecture (an `--arm64` build on an x86_64 machine):
    /// the kernel refused it.
    ForeignBinary {
        /// The program as given.
        program: PathBuf,
        /// Its architecture, as `std::env::consts::ARCH` spells it.
        architecture: String,
    },
    /// Neither a binary this machine runs nor a script with a `#!` line: the kernel refused
    /// it ("Exec format error").
    NotAProgram {
        /// The program as given.
        program: PathBuf,
    },
    /// The start failed otherwise.
    StartFailed {
        /// The program as given.
        program: PathBuf,
        /// The operating system's error.
        error: String,
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
            Self::InterpreterNotExecutable {
                program,
                interpreter,
            } => write!(
                f,
                "cannot run {}: its interpreter {interpreter} (from its #! line) is not an \
                 executable file",
                program.display()
            ),
            Self::ForeignBinary {
                program,
                architecture,
            } => write!(
                f,
                "cannot run {}: it is a binary for {architecture}, and this machine is {} \
                 (build it for this machine, e.g. without --arm64)",
                program.display(),
                std::env::consts::ARCH
            ),
            Self::NotAProgram { program } => write!(
                f,
                "cannot run {}: it is neither a binary for this machine nor a script with a #! \
                 line (Exec format error)",
                program.display()
            ),
            Self::StartFailed { program, error } => {
                write!(f, "cannot run {}: {error}", program.display())
            }
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
        if let Some(ProgramHead::Script(line)) = program_head::read(&file) {
            match interpreter_problem(&line) {
                Some(Interpreter::Missing(interpreter)) => {
                    return Err(NotLaunchable::MissingInterpreter {
                        program,
                        interpreter,
                    });
                }
                Some(Interpreter::NotExecutable(interpreter)) => {
                    return Err(NotLaunchable::InterpreterNotExecutable {
                        program,
                        interpreter,
                    });
                }
                None => {}
            }
        }
        Ok(file)
    }

    /// Why the program did not start, given the error of the attempt: "Exec format error"
    /// explained from the file's first bytes (a binary for another architecture, or no
    /// program at all), any other error as it is.
    pub fn start_error(&self, error: &io::Error) -> NotLaunchable {
        let program = self.program().to_owned();
        let refused = rustix::io::Errno::from_io_error(error) == Some(rustix::io::Errno::NOEXEC);
        let file = self.check_launchable().unwrap_or_else(|_| program.clone());
        match (refused, program_head::read(&file)) {
            (
                true,
                Some(ProgramHead::Elf {
                    architecture: Some(architecture),
                }),
            ) if architecture != std::env::consts::ARCH => NotLaunchable::ForeignBinary {
                program,
                architecture: architecture.to_owned(),
            },
            (true, Some(ProgramHead::Other)) => NotLaunchable::NotAProgram { program },
            _ => NotLaunchable::StartFailed {
                program,
                error: error.to_string(),
            },
        }
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

/// What is wrong with the interpreter of a script's `#!` line.
enum Interpreter {
    /// It does not exist (through `env`: `env` finds no such program on `PATH`).
    Missing(String),
    /// It exists, but is not an executable file.
    NotExecutable(String),
}

/// The trouble with the interpreter a `#!` line (without the `#!`) names, if any.
fn interpreter_problem(line: &str) -> Option<Interpreter> {
    let mut words = line.split_whitespace();
    let interpreter = words.next()?;
    let path = Path::new(interpreter);
    if !is_executable(path) {
        return Some(if path.exists() {
            Interpreter::NotExecutable(interpreter.to_owned())
        } else {
            Interpreter::Missing(interpreter.to_owned())
        });
    }
    if path.file_name() == Some(OsStr::new("env")) {
        // `#!/usr/bin/env [-S] [NAME=VALUE…] program …`
        let program = words.find(|word| !word.starts_with('-') && !word.contains('='))?;
        let found = if program.contains('/') {
            is_executable(Path::new(program))
        } else {
            on_path(OsStr::new(program)).is_some()
        };
        if !found {
            return Some(Interpreter::Missing(format!(
                "{program} (through {interpreter})"
            )));
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
        let interpreter = script(dir.path(), "interpreter", "#!/bin/sh\n", 0o644);
        let through = script(
            dir.path(),
            "through",
            &format!("#!{}\n", interpreter.display()),
            0o755,
        );
        assert_eq!(
            check(&through),
            Err(NotLaunchable::InterpreterNotExecutable {
                program: through.clone(),
                interpreter: interpreter.display().to_string()
            })
        );
        let good = script(dir.path(), "good", "#!/usr/bin/env sh\nexit 0\n", 0o755);
        assert_eq!(check(&good), Ok(good.clone()));
        let bare = FunctionCommand::new("no-such-program-lp").check_launchable();
        assert!(matches!(bare, Err(NotLaunchable::NotOnPath { .. })));
        assert!(FunctionCommand::new("sh").check_launchable().is_ok());
    }

    #[test]
    fn a_refused_start_is_explained_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // An ELF header for the other common architecture than this machine's.
        let (machine, architecture): (u16, &str) = if std::env::consts::ARCH == "aarch64" {
            (62, "x86_64")
        } else {
            (183, "aarch64")
        };
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.resize(18, 0);
        elf.extend_from_slice(&machine.to_le_bytes());
        elf.resize(64, 0);
        let foreign = dir.path().join("bootstrap");
        std::fs::write(&foreign, &elf).unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o755)).unwrap();
        let text = script(dir.path(), "text", "echo hello\n", 0o755);

        for (program, expected) in [
            (
                &foreign,
                NotLaunchable::ForeignBinary {
                    program: foreign.clone(),
                    architecture: architecture.to_owned(),
                },
            ),
            (
                &text,
                NotLaunchable::NotAProgram {
                    program: text.clone(),
                },
            ),
        ] {
            // What execve(2) says of both (unless binfmt_misc hands them to an emulator).
            let refused = io::Error::from_raw_os_error(rustix::io::Errno::NOEXEC.raw_os_error());
            assert_eq!(
                FunctionCommand::new(program).start_error(&refused),
                expected
            );
        }
        let message = NotLaunchable::ForeignBinary {
            program: foreign.clone(),
            architecture: "aarch64".into(),
        }
        .to_string();
        assert!(
            message.starts_with(&format!(
                "cannot run {}: it is a binary for aarch64",
                foreign.display()
            )),
            "{message}"
        );

        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(matches!(
            FunctionCommand::new(&text).start_error(&other),
            NotLaunchable::StartFailed { .. }
        ));
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
