//! Starting a sized function inside its cgroup: the child process joins the cgroup between
//! `fork` and `exec`, then `exec`s the function's program itself. The program's first
//! instruction runs under its limits, and a program the kernel refuses (a binary for another
//! architecture, a text file that is no script) fails the spawn with the kernel's own error,
//! as an unsized start does: it is neither started by a shell instead nor mistaken for a
//! function that failed its init.
//!
//! What the child runs there runs in a copy of a multi-threaded process, where only
//! async-signal-safe calls are sound: it allocates nothing and takes no lock. Every string and
//! array of pointers it needs is built beforehand, in the harness; the child only calls
//! `write` (to join, and to say which join failed) and `execve`. It `exec`s the program itself
//! rather than returning to the standard library's `execvp`, which runs `/bin/sh` on a file
//! the kernel refuses as no program.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::pipe::PipeFlags;
use tokio::process::Command;

use crate::emulator::command::FunctionCommand;
use crate::sizing::FunctionCgroup;

/// The `PATH` a bare program name is looked up in when the function's environment has none
/// (what `execvp` uses then).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Makes `process` (built for `command`, with the environment `vars`) join `cgroup` in the
/// child and `exec` the program there. Returns what explains a failed spawn afterwards.
pub(crate) fn install(
    process: &mut Command,
    command: &FunctionCommand,
    vars: &BTreeMap<OsString, OsString>,
    cgroup: &FunctionCgroup,
) -> io::Result<JoinReport> {
    let procs_files = cgroup.procs_files();
    let procs = procs_files
        .iter()
        .map(|file| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(file)
                .map(OwnedFd::from)
                .map_err(|error| cannot_join(file, &error))
        })
        .collect::<io::Result<Vec<_>>>()?;
    // Both ends close on `exec`; reading never blocks.
    let (failed_join, failed_join_writer) =
        rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    let path_var = vars.get(OsStr::new("PATH")).map(OsString::as_os_str);
    let program = command.program_to_start();
    let steps = ChildSteps {
        procs,
        failed_join: failed_join_writer,
        program: c_string(executable(&program, path_var).into_os_string())?,
        argv: NullTerminated::new(
            std::iter::once(program.as_os_str().to_owned())
                .chain(command.arguments().iter().cloned())
                .map(c_string)
                .collect::<io::Result<_>>()?,
        ),
        envp: NullTerminated::new(
            vars.iter()
                .map(|(key, value)| {
                    let mut pair = key.clone();
                    pair.push("=");
                    pair.push(value);
                    c_string(pair)
                })
                .collect::<io::Result<_>>()?,
        ),
    };
    // SAFETY: `ChildSteps::run` is async-signal-safe (see the module docs): it makes system
    // calls only, on values built before the fork and owned by the closure.
    #[allow(unsafe_code)]
    unsafe {
        process.pre_exec(move || steps.run());
    }
    Ok(JoinReport {
        procs_files,
        failed_join,
    })
}

/// Says, after a failed spawn, whether joining the cgroup failed (the child names the file
/// on a pipe) or the program's start did.
pub(crate) struct JoinReport {
    procs_files: Vec<PathBuf>,
    failed_join: OwnedFd,
}

impl JoinReport {
    /// The error of a failed spawn: for a cgroup the child could not join, one naming its
    /// file; else the start's error as it is (for
    /// [`FunctionCommand::start_error`](crate::emulator::FunctionCommand::start_error)).
    pub(crate) fn explain(&self, error: io::Error) -> io::Error {
        let mut index = [0_u8];
        match rustix::io::read(&self.failed_join, &mut index) {
            Ok(1) => match self.procs_files.get(usize::from(index[0])) {
                Some(file) => cannot_join(file, &error),
                None => error,
            },
            _ => error,
        }
    }
}

fn cannot_join(procs: &Path, error: &io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("cannot move the function into {}: {error}", procs.display()),
    )
}

/// What the child does between `fork` and `exec`.
struct ChildSteps {
    /// The `cgroup.procs` files to join, open for writing.
    procs: Vec<OwnedFd>,
    /// The write end of [`JoinReport::failed_join`].
    failed_join: OwnedFd,
    program: CString,
    argv: NullTerminated,
    envp: NullTerminated,
}

impl ChildSteps {
    /// Joins the cgroup, then `exec`s the program; returns only on failure (which the spawn
    /// then returns). Async-signal-safe: system calls only, no allocation.
    fn run(&self) -> io::Result<()> {
        for (index, procs) in self.procs.iter().enumerate() {
            // "0" is the writing process itself.
            if let Err(errno) = rustix::io::write(procs, b"0") {
                let index = u8::try_from(index).unwrap_or(u8::MAX);
                let _ = rustix::io::write(&self.failed_join, &[index]);
                return Err(errno.into());
            }
        }
        // SAFETY: a NUL-terminated string and two NULL-terminated arrays of pointers to
        // NUL-terminated strings, all owned by `self` and so alive for the call.
        #[allow(unsafe_code)]
        unsafe {
            libc::execve(
                self.program.as_ptr(),
                self.argv.as_ptr(),
                self.envp.as_ptr(),
            );
        }
        Err(io::Error::last_os_error())
    }
}

/// Strings, and the NULL-terminated array of pointers to them that `execve` takes.
struct NullTerminated {
    /// Owns what `pointers` points to (a `CString`'s buffer stays put when it moves).
    _strings: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into the buffers of the strings this value owns, which are never
// changed or freed while it lives; they are only ever read.
#[allow(unsafe_code)]
unsafe impl Send for NullTerminated {}
// SAFETY: as for `Send`: nothing is ever written through the pointers.
#[allow(unsafe_code)]
unsafe impl Sync for NullTerminated {}

impl NullTerminated {
    fn new(strings: Vec<CString>) -> Self {
        let pointers = strings
            .iter()
            .map(|string| string.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Self {
            _strings: strings,
            pointers,
        }
    }

    fn as_ptr(&self) -> *const *const libc::c_char {
        self.pointers.as_ptr()
    }
}

fn c_string(text: OsString) -> io::Result<CString> {
    CString::new(text.into_vec()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a program, argument or environment variable holds a NUL byte",
        )
    })
}

/// The file `execvp` would run for `program`: a path (any name with a `/`) as it is, a bare
/// name from the first directory of the function's `PATH` holding an executable file of that
/// name (the name itself when none does, which then fails to start as it would there).
fn executable(program: &Path, path_var: Option<&OsStr>) -> PathBuf {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return program.to_owned();
    }
    let path_var = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| program.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spawns `program` through [`install`] into `cgroup`, expecting the spawn to fail.
    fn failed_start(program: &Path, cgroup: &FunctionCgroup) -> io::Error {
        let command = FunctionCommand::new(program);
        let mut process = Command::new(command.program());
        let report = install(&mut process, &command, &BTreeMap::new(), cgroup).unwrap();
        let error = process.spawn().expect_err("the start fails");
        report.explain(error)
    }

    #[tokio::test]
    async fn a_failed_join_names_the_cgroup_and_a_failed_start_is_the_kernels_error() {
        let dir = tempfile::tempdir().unwrap();
        let cgroup_dir = dir.path().join("cgroup");
        std::fs::create_dir(&cgroup_dir).unwrap();
        // Every write to it fails (ENOSPC), as a join the kernel refuses does.
        std::os::unix::fs::symlink("/dev/full", cgroup_dir.join("cgroup.procs")).unwrap();
        let refusing = FunctionCgroup::at(cgroup_dir.clone());
        let error = failed_start(Path::new("/bin/true"), &refusing);
        assert_eq!(
            error.to_string(),
            format!(
                "cannot move the function into {}: {}",
                cgroup_dir.join("cgroup.procs").display(),
                io::Error::from(rustix::io::Errno::NOSPC)
            )
        );

        let joinable_dir = dir.path().join("joinable");
        std::fs::create_dir(&joinable_dir).unwrap();
        std::fs::write(joinable_dir.join("cgroup.procs"), "").unwrap();
        let joinable = FunctionCgroup::at(joinable_dir.clone());
        let text = dir.path().join("notes");
        std::fs::write(&text, "echo hello\n").unwrap();
        std::fs::set_permissions(&text, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = failed_start(&text, &joinable);
        // Refused by the kernel, not run by a shell; the cgroup was joined first.
        assert_eq!(
            rustix::io::Errno::from_io_error(&error),
            Some(rustix::io::Errno::NOEXEC),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(joinable_dir.join("cgroup.procs")).unwrap(),
            "0"
        );
        std::fs::remove_file(joinable_dir.join("cgroup.procs")).unwrap();
        std::fs::remove_file(cgroup_dir.join("cgroup.procs")).unwrap();
    }

    #[test]
    fn a_bare_name_is_looked_up_in_the_functions_path() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("bootstrap");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_var =
            std::env::join_paths(["/nonexistent-lp", dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(executable(Path::new("bootstrap"), Some(&path_var)), program);
        assert_eq!(
            executable(Path::new("no-such-program-lp"), Some(&path_var)),
            Path::new("no-such-program-lp")
        );
        assert_eq!(
            executable(Path::new("./bootstrap"), None),
            Path::new("./bootstrap")
        );
        assert!(executable(Path::new("sh"), None).is_absolute());
    }
}
