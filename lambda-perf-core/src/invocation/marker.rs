//! The environment marker: a file in the temp dir that outlives the runtime process but not
//! the execution environment, so a restarted process can tell a reused environment from a new
//! one.
//!
//! The marker is created with `create_new` (`O_CREAT|O_EXCL`), mode 0600, and is never followed
//! through a symlink: creation refuses an existing path of any kind, and reading uses
//! `O_NOFOLLOW|O_NONBLOCK` and accepts only a regular file. It holds the environment's start
//! time in epoch milliseconds and, on a second line, the environment's identity (Lambda's log
//! stream name, unique per execution environment) when there is one: a marker left by another
//! environment — on a developer's machine, whose `/tmp` outlives runs — is replaced, not
//! mistaken for a restart.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::formats::time::epoch_millis;

/// The marker's file name inside the temp dir.
pub(crate) const MARKER_FILE: &str = ".lambda-perf-environment";

/// What the first invocation of a process found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    /// No marker existed: this process is the first in the environment. It created the marker.
    Created,
    /// A marker from an earlier process in this environment, with the environment's start.
    Existing {
        /// When the environment started (the first process's start).
        environment_start: SystemTime,
    },
}

/// Creates the marker in `dir`, or reads the one an earlier process of this environment
/// created. `identity` names the environment, when known.
pub(crate) fn claim(
    dir: &Path,
    process_start: SystemTime,
    identity: Option<&str>,
) -> io::Result<Marker> {
    let path = dir.join(MARKER_FILE);
    // As it reads back: the marker's lines are trimmed.
    let identity = identity.map(str::trim);
    let create = || -> io::Result<Marker> {
        let mut file = open(&path, true)?;
        let content = format!(
            "{}\n{}",
            epoch_millis(process_start),
            identity.unwrap_or("")
        );
        file.write_all(content.as_bytes())?;
        Ok(Marker::Created)
    };
    match create() {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let (environment_start, marked) =
                read(&path, MARKER_LIMIT + identity.map_or(0, str::len))?;
            match (identity, marked) {
                (Some(identity), Some(marked)) if identity != marked => {
                    // Another environment's marker: this is a new environment.
                    std::fs::remove_file(&path)?;
                    create()
                }
                _ => Ok(Marker::Existing { environment_start }),
            }
        }
        other => other,
    }
}

/// How much of a marker is read besides the identity it is compared with.
const MARKER_LIMIT: usize = 1024;

/// The environment's start and identity from an existing marker (its first `limit` bytes);
/// no identity for an empty one, which a process of this environment left when it died (or
/// could not write, the temp dir full) between creating and writing it: whatever identity it
/// had is unknown, and the environment is taken to be the same (on Lambda, only a process of
/// it could have left it in its temp dir).
fn read(path: &Path, limit: usize) -> io::Result<(SystemTime, Option<String>)> {
    let file = open(path, false)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the marker path is not a regular file",
        ));
    }
    // Bytes that are not text are not a marker of this environment either: they are read as
    // such (a mismatched identity), not refused.
    let mut bytes = Vec::new();
    file.take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)?;
    if bytes.is_empty() {
        return Ok((metadata.modified()?, None));
    }
    let text = String::from_utf8_lossy(&bytes);
    let (millis, identity) = text.split_once('\n').unwrap_or((&text, ""));
    let start = match millis.trim().parse::<u64>() {
        Ok(millis) => UNIX_EPOCH + Duration::from_millis(millis),
        // A time that does not read (a marker written in part): its time is the file's
        // modification time.
        Err(_) => metadata.modified()?,
    };
    Ok((start, Some(identity.trim().to_owned())))
}

#[cfg(unix)]
fn open(path: &Path, create: bool) -> io::Result<File> {
    use std::fs::OpenOptions;
    use std::os::unix::fs::OpenOptionsExt;

    let mut options = OpenOptions::new();
    if create {
        options.write(true).create_new(true).mode(0o600);
    } else {
        options.read(true);
    }
    options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

#[cfg(not(unix))]
fn open(_path: &Path, _create: bool) -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the environment marker needs a Unix file system",
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn start() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_410_771_965)
    }

    #[test]
    fn first_claim_creates_a_private_marker_and_the_second_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(claim(dir.path(), start(), None).unwrap(), Marker::Created);
        let path = dir.path().join(MARKER_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1795410771965\n");
        assert_eq!(
            claim(dir.path(), SystemTime::now(), None).unwrap(),
            Marker::Existing {
                environment_start: start()
            }
        );
    }

    #[test]
    fn another_environments_marker_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let stream = "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef";
        assert_eq!(
            claim(dir.path(), start(), Some(stream)).unwrap(),
            Marker::Created
        );
        // The same environment: a restart.
        assert!(matches!(
            claim(dir.path(), SystemTime::now(), Some(stream)).unwrap(),
            Marker::Existing { .. }
        ));
        // Another environment (or a local run without identity) left it: a new environment.
        assert_eq!(
            claim(dir.path(), SystemTime::now(), Some("another-stream")).unwrap(),
            Marker::Created
        );
        let content = std::fs::read_to_string(dir.path().join(MARKER_FILE)).unwrap();
        assert!(content.ends_with("\nanother-stream"), "{content:?}");
        // Without an identity of its own, a process trusts the marker it finds.
        assert!(matches!(
            claim(dir.path(), SystemTime::now(), None).unwrap(),
            Marker::Existing { .. }
        ));
    }

    #[test]
    fn a_symlink_at_the_marker_path_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "do not touch").unwrap();
        symlink(&target, dir.path().join(MARKER_FILE)).unwrap();

        let error = claim(dir.path(), start(), None).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ELOOP), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "do not touch");
    }

    #[test]
    fn a_dangling_symlink_is_not_created_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        symlink(&target, dir.path().join(MARKER_FILE)).unwrap();
        assert!(claim(dir.path(), start(), None).is_err());
        assert!(!target.exists());
    }

    #[test]
    fn a_directory_or_fifo_at_the_marker_path_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(MARKER_FILE)).unwrap();
        assert!(claim(dir.path(), start(), None).is_err());

        let fifo_dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(fifo_dir.path().join(MARKER_FILE))
            .status()
            .unwrap();
        assert!(status.success());
        let error = claim(fifo_dir.path(), start(), None).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_marker_that_is_not_text_is_another_environments() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER_FILE), [0xff, 0xfe, b'\n', 0xc3]).unwrap();
        assert_eq!(
            claim(dir.path(), start(), Some("this-stream")).unwrap(),
            Marker::Created
        );
        let content = std::fs::read_to_string(dir.path().join(MARKER_FILE)).unwrap();
        assert_eq!(content, "1795410771965\nthis-stream");
    }

    #[test]
    fn a_marker_without_a_time_falls_back_to_its_modification_time() {
        // Modified long before now and before `start()`: neither could pass for it.
        let modified = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // Empty (left by a process that died before writing it), or with a time that does
        // not read (written in part) and this environment's identity.
        for (content, identity) in [("", None), ("1795x\nthis-stream", Some("this-stream"))] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(MARKER_FILE);
            std::fs::write(&path, content).unwrap();
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(modified)
                .unwrap();
            assert_eq!(
                claim(dir.path(), start(), identity).unwrap(),
                Marker::Existing {
                    environment_start: modified
                },
                "{content:?}"
            );
        }
    }

    #[test]
    fn an_empty_marker_is_this_environments_whatever_the_identity() {
        // Left by an earlier process of this environment that created the marker and then
        // could not write it (it died in between, or the temp dir was full): on Lambda, where
        // every process knows its identity, still a restart.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER_FILE), "").unwrap();
        let stream = "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef";
        assert!(
            matches!(
                claim(dir.path(), start(), Some(stream)).unwrap(),
                Marker::Existing { .. }
            ),
            "an empty marker is taken for another environment's"
        );
    }

    #[test]
    fn an_identity_with_surrounding_space_or_a_long_one_is_still_this_environments() {
        // The identity comes from the environment as it is: a restarted process of the same
        // environment must recognise its marker whatever the value looks like.
        let long = "s".repeat(4096);
        for identity in ["stream-with-space ", " \tpadded\n", long.as_str()] {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(
                claim(dir.path(), start(), Some(identity)).unwrap(),
                Marker::Created
            );
            assert_eq!(
                claim(dir.path(), SystemTime::now(), Some(identity)).unwrap(),
                Marker::Existing {
                    environment_start: start()
                },
                "a restart with identity {:?} was taken for a new environment",
                &identity[..identity.len().min(40)]
            );
        }
    }

    #[test]
    fn a_symlinked_temp_dir_is_used_normally() {
        let real = tempfile::tempdir().unwrap();
        let links = tempfile::tempdir().unwrap();
        let linked_dir = links.path().join("tmp");
        symlink(real.path(), &linked_dir).unwrap();
        assert_eq!(claim(&linked_dir, start(), None).unwrap(), Marker::Created);
        assert!(real.path().join(MARKER_FILE).is_file());
    }
}
