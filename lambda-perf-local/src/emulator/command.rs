//! [`FunctionCommand`]: the program (and arguments) that implements the function.

use std::env;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The function's executable and its arguments (the equivalent of a `bootstrap` file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCommand {
    program: PathBuf,
    args: Vec<OsString>,
}

impl FunctionCommand {
    /// Runs `program` (a path, or a bare name looked up in `PATH`).
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The arguments.
    pub fn arguments(&self) -> &[OsString] {
        &self.args
    }

    /// The program's file name, used as `_HANDLER`.
    pub fn handler(&self) -> OsString {
        self.program
            .file_name()
            .map_or_else(|| self.program.clone().into_os_string(), OsStr::to_owned)
    }

    /// The directory holding the program, used as `LAMBDA_TASK_ROOT` and, as on Lambda, as
    /// the function's working directory: its parent directory (made absolute), or for a bare
    /// name the `PATH` directory that holds it, or else the current directory.
    pub fn task_root(&self) -> PathBuf {
        let cwd = env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        if self.program.components().count() > 1 {
            let parent = self.program.parent().unwrap_or_else(|| Path::new("."));
            // Without the `.` components a relative path has (`./fn` from `./fn/bootstrap`).
            return cwd.join(parent).components().collect();
        }
        self.path_directory()
            .map(|dir| {
                if dir.is_absolute() {
                    dir
                } else {
                    cwd.join(dir)
                }
            })
            .unwrap_or(cwd)
    }

    /// Where its process runs: its [task root](Self::task_root), as on Lambda, for a program
    /// named by a path; for a bare name (`python3 app.py`, `cargo run`: a tool found in `PATH`
    /// rather than the function's own file), the caller's directory (`None`: inherited),
    /// where the arguments naming the function's files were written.
    pub fn working_directory(&self) -> Option<PathBuf> {
        (self.program.components().count() > 1).then(|| self.task_root())
    }

    /// The program as its process is started: a relative path made absolute against the
    /// current directory (the process runs in its [task root](Self::task_root), from where
    /// the relative path would name another file); a bare name (looked up in `PATH`) or an
    /// absolute path as it is.
    pub fn program_to_start(&self) -> PathBuf {
        if self.program.is_relative() && self.program.components().count() > 1 {
            if let Ok(cwd) = env::current_dir() {
                return cwd.join(&self.program).components().collect();
            }
        }
        self.program.clone()
    }

    /// The program's file: the path given, or for a bare name the file of that name in the
    /// first `PATH` directory holding one; `None` when there is no such file.
    pub fn program_file(&self) -> Option<PathBuf> {
        if self.program.components().count() > 1 {
            return self.program.is_file().then(|| self.program.clone());
        }
        self.path_directory().map(|dir| dir.join(&self.program))
    }

    /// The first `PATH` directory holding a file named like the program.
    fn path_directory(&self) -> Option<PathBuf> {
        env::var_os("PATH")
            .iter()
            .flat_map(env::split_paths)
            .find(|dir| dir.join(&self.program).is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_and_task_root() {
        let command = FunctionCommand::new("/opt/fn/bootstrap")
            .arg("--x")
            .args(["a", "b"]);
        assert_eq!(command.handler(), "bootstrap");
        assert_eq!(command.task_root(), PathBuf::from("/opt/fn"));
        assert_eq!(command.arguments().len(), 3);
        let sh = FunctionCommand::new("sh");
        assert_eq!(sh.handler(), "sh");
        assert!(sh.task_root().join("sh").is_file(), "{:?}", sh.task_root());
        assert!(sh.program_file().is_some_and(|file| file.ends_with("sh")));
        assert_eq!(command.program_file(), None, "no such file");
        assert_eq!(
            command.program_to_start(),
            PathBuf::from("/opt/fn/bootstrap")
        );
        assert_eq!(sh.program_to_start(), PathBuf::from("sh"));
        let relative = FunctionCommand::new("./target/debug/my-fn");
        let cwd = env::current_dir().unwrap();
        assert_eq!(relative.program_to_start(), cwd.join("target/debug/my-fn"));
        assert_eq!(relative.task_root(), cwd.join("target/debug"));
        assert_eq!(relative.working_directory(), Some(cwd.join("target/debug")));
        assert_eq!(command.working_directory(), Some(PathBuf::from("/opt/fn")));
        assert_eq!(
            sh.working_directory(),
            None,
            "a tool from PATH runs where it was asked"
        );
        assert_eq!(
            FunctionCommand::new("no-such-program-here").program_file(),
            None
        );
    }
}
