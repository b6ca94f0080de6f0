//! Where lines go — EMF lines and log lines alike: stdout in Lambda, or a writer given in code.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use crate::invocation::panic;

/// The destination of lines. Each call writes its buffer (complete lines, each ending in a
/// newline) with one `write_all` under the stdout lock, so lines written by concurrent
/// invocations, tasks and threads — EMF and log lines together — never interleave mid-line.
#[derive(Clone, Default)]
pub(crate) enum LineWriter {
    /// The process's stdout, which Lambda forwards to CloudWatch Logs.
    #[default]
    Stdout,
    /// A writer given in code (tests, a custom pipeline).
    Custom(Arc<Mutex<dyn Write + Send>>),
}

impl LineWriter {
    /// A writer given in code.
    pub(crate) fn custom(writer: impl Write + Send + 'static) -> Self {
        Self::Custom(Arc::new(Mutex::new(writer)))
    }

    /// Writes complete lines at once; a custom writer is flushed after them. A custom writer
    /// that panics fails the write like an I/O error (the callers count and warn): it is user
    /// code, which may run where the handler's response waits to be posted.
    pub(crate) fn write_lines(&self, lines: &[u8]) -> io::Result<()> {
        match self {
            Self::Stdout => io::stdout().lock().write_all(lines),
            Self::Custom(writer) => {
                panic::catch(|| write_custom(writer, lines)).unwrap_or_else(|_| Err(panicked()))
            }
        }
    }
}

/// Writes and flushes; a writer whose lock a panic poisoned (one caught here) is used as it
/// is, and flushed as always, or a buffering writer would keep every later line.
fn write_custom(writer: &Mutex<dyn Write + Send>, lines: &[u8]) -> io::Result<()> {
    let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
    writer.write_all(lines).and_then(|()| writer.flush())
}

/// The error of a write whose writer panicked.
#[cold]
fn panicked() -> io::Error {
    io::Error::other("the writer panicked")
}

impl fmt::Debug for LineWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdout => f.write_str("Stdout"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}
