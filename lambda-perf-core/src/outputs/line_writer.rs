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
    pub(crate) fn write_lines(&self, lines: &[u8]) -> Result<(), WriteFailed> {
        match self {
            Self::Stdout => write_counted(&mut io::stdout().lock(), lines),
            Self::Custom(writer) => panic::catch(|| write_custom(writer, lines))
                .unwrap_or_else(|_| Err(WriteFailed::none_out(panicked()))),
        }
    }
}

/// A write that failed: why, and how many of its bytes went out before it did.
#[derive(Debug)]
pub(crate) struct WriteFailed {
    pub(crate) error: io::Error,
    /// Bytes the writer took before the error (0 when unknown): the lines they complete
    /// are out, the rest lost.
    pub(crate) written: usize,
}

impl WriteFailed {
    /// A failure after which none of the lines can be taken as out.
    fn none_out(error: io::Error) -> Self {
        Self { error, written: 0 }
    }

    /// What the failed write of `lines` lost: those past the last line that went out whole.
    pub(crate) fn lost<'a>(&self, lines: &'a [u8]) -> &'a [u8] {
        let out = &lines[..self.written.min(lines.len())];
        let whole = out
            .iter()
            .rposition(|&byte| byte == b'\n')
            .map_or(0, |end| end + 1);
        &lines[whole..]
    }
}

/// `write_all`, saying how far it got when it fails.
fn write_counted(writer: &mut (impl Write + ?Sized), lines: &[u8]) -> Result<(), WriteFailed> {
    let mut written = 0;
    while written < lines.len() {
        match writer.write(&lines[written..]) {
            Ok(0) => {
                let error = io::Error::from(io::ErrorKind::WriteZero);
                return Err(WriteFailed { error, written });
            }
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(WriteFailed { error, written }),
        }
    }
    Ok(())
}

/// Writes and flushes; a writer whose lock a panic poisoned (one caught here) is used as it
/// is, and flushed as always, or a buffering writer would keep every later line. A failed
/// flush loses every line: none can be taken as out.
fn write_custom(writer: &Mutex<dyn Write + Send>, lines: &[u8]) -> Result<(), WriteFailed> {
    let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
    write_counted(&mut *writer, lines)?;
    writer.flush().map_err(WriteFailed::none_out)
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
