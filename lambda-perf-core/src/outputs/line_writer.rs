//! Where lines go — EMF lines and log lines alike: stdout in Lambda, or a writer given in code.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::drops;
use crate::invocation::panic;

/// Whether a failed write left stdout in the middle of a line (read and written under the
/// stdout lock).
static STDOUT_MID_LINE: AtomicBool = AtomicBool::new(false);

/// The destination of lines. Each call writes its buffer (complete lines, each ending in a
/// newline) with one `write_all` under the stdout lock, so lines written by concurrent
/// invocations, tasks and threads — EMF and log lines together, and lines user code prints
/// through std's `Stdout` (for part of one, see [`RawStdout`]) — never interleave mid-line.
#[derive(Clone, Default)]
pub(crate) enum LineWriter {
    /// The process's stdout, which Lambda forwards to CloudWatch Logs: its file descriptor,
    /// not std's `Stdout` (see [`RawStdout`]).
    #[default]
    Stdout,
    /// A writer given in code (tests, a custom pipeline).
    Custom(Arc<Mutex<Custom<dyn Write + Send>>>),
}

/// A writer given in code, and whether a failed write left it in the middle of a line.
pub(crate) struct Custom<W: ?Sized> {
    mid_line: bool,
    writer: W,
}

impl LineWriter {
    /// A writer given in code.
    pub(crate) fn custom(writer: impl Write + Send + 'static) -> Self {
        Self::Custom(Arc::new(Mutex::new(Custom {
            mid_line: false,
            writer,
        })))
    }

    /// Writes complete lines at once; a custom writer is flushed after them. A custom writer
    /// that panics fails the write like an I/O error (the callers count and warn): it is user
    /// code, which may run where the handler's response waits to be posted.
    pub(crate) fn write_lines(&self, lines: &[u8]) -> Result<(), WriteFailed> {
        match self {
            Self::Stdout => {
                // Held for what it excludes (every other writer through std's `Stdout`), not
                // written through (see `RawStdout`).
                let _stdout = io::stdout().lock();
                let mut mid_line = STDOUT_MID_LINE.load(Ordering::Relaxed);
                let mut written = 0;
                let result = write_whole_lines(&mut RawStdout, &mut mid_line, lines, &mut written);
                STDOUT_MID_LINE.store(mid_line, Ordering::Relaxed);
                result.map_err(|error| WriteFailed { error, written })
            }
            Self::Custom(writer) => {
                let Some(_writing) = Writing::enter(writer) else {
                    return Err(WriteFailed {
                        error: written_from_inside(),
                        written: 0,
                    });
                };
                // Kept outside the writer's call, so that a writer panicking after it took
                // some of the lines still leaves what went out known.
                let mut written = 0;
                panic::catch(|| write_custom(writer, lines, &mut written))
                    .unwrap_or_else(|_| Err(panicked()))
                    .map_err(|error| WriteFailed { error, written })
            }
        }
    }
}

/// The process's standard output, written with `write(2)` on its file descriptor (under
/// std's stdout lock, held by the caller): not through std's `Stdout`, whose line buffer may
/// hold the start of a line that user code printed without its newline (`print!("abc")`).
/// `Stdout` writes that first, before the next lines given to it, so the two would share a
/// line on the pipe (`abc{"_aws":...}`), and CloudWatch would not read it as EMF. Written
/// here, a line stays whole; the printed text goes out with its own newline, after it.
/// Only text std still holds waits so: text it has written already (flushed by user code, or
/// a partial line longer than its buffer, 1 KiB) is on fd 1 before the line, unseen here, and
/// the line still goes on after it. (Elsewhere than on Unix, where Lambda never runs,
/// through `Stdout`.)
struct RawStdout;

impl Write for RawStdout {
    #[cfg(unix)]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // No more than a `ssize_t` holds, as std writes.
        let len = buf.len().min(isize::MAX.unsigned_abs());
        // SAFETY: `buf` is valid for reads of `len` bytes for the whole call; the descriptor
        // is only written to, never closed or owned here.
        #[allow(unsafe_code)]
        let written = unsafe { libc::write(libc::STDOUT_FILENO, buf.as_ptr().cast(), len) };
        // Negative only on an error, which errno then holds.
        usize::try_from(written).map_err(|_| io::Error::last_os_error())
    }

    #[cfg(not(unix))]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Reentrant: the caller holds it already.
        io::stdout().lock().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
    /// Counts the lines the failed write of `lines` lost as drops of `cause`; what it lost.
    pub(crate) fn count_lost<'a>(&self, lines: &'a [u8], cause: &'static str) -> &'a [u8] {
        let lost = self.lost(lines);
        drops::count_many(cause, drops::lines_in(lost));
        lost
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

/// `write_all`, keeping how far it got (`written`) and whether that is in the middle of a
/// line (`mid_line`) up to date after every write the writer takes: both still hold when the
/// writer fails, or panics, at a later one.
fn write_counted(
    writer: &mut (impl Write + ?Sized),
    lines: &[u8],
    mid_line: &mut bool,
    written: &mut usize,
) -> io::Result<()> {
    while *written < lines.len() {
        match writer.write(&lines[*written..]) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                // A writer claiming more than it was given took what it was given.
                *written = written.saturating_add(n).min(lines.len());
                *mid_line = lines[*written - 1] != b'\n';
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Writes `lines` after a line a failed write left unfinished has been ended (`mid_line`),
/// so that the cut line, lost, does not take the first of `lines` with it; `mid_line` says
/// afterwards whether this write left one, and `written` how many bytes of `lines` went out.
fn write_whole_lines(
    writer: &mut (impl Write + ?Sized),
    mid_line: &mut bool,
    lines: &[u8],
    written: &mut usize,
) -> io::Result<()> {
    if *mid_line {
        write_counted(writer, b"\n", mid_line, &mut 0)?;
    }
    write_counted(writer, lines, mid_line, written)
}

/// Writes and flushes; a writer whose lock a panic poisoned (one caught here) is used as it
/// is, and flushed as always, or a buffering writer would keep every later line. A failed
/// flush loses every line: none can be taken as out.
fn write_custom(
    custom: &Mutex<Custom<dyn Write + Send>>,
    lines: &[u8],
    written: &mut usize,
) -> io::Result<()> {
    let mut custom = custom.lock().unwrap_or_else(PoisonError::into_inner);
    let Custom { mid_line, writer } = &mut *custom;
    write_whole_lines(writer, mid_line, lines, written)?;
    *written = 0;
    writer.flush()
}

thread_local! {
    /// The writer given in code this thread is inside a write to, the innermost (its
    /// address; 0: none).
    static WRITING: Cell<usize> = const { Cell::new(0) };
}

/// This thread inside a write to one writer given in code. A line written to that writer
/// from inside its own write — the writer logs through `tracing`, say, under `init`'s global
/// subscriber — would wait for the writer's lock, which this thread holds, for ever: it is
/// refused instead ([`written_from_inside`]), and counted and warned about as any failed
/// write. Lines to other writers still go out. Only the innermost write is known: a writer
/// that writes to a second one, which writes back to the first, is not caught (one cell read
/// and written per line, rather than a list).
struct Writing(usize);

impl Writing {
    /// `None` when this thread is inside a write to `writer` already.
    #[inline]
    fn enter(writer: &Arc<Mutex<Custom<dyn Write + Send>>>) -> Option<Self> {
        let address = Arc::as_ptr(writer).cast::<()>().addr();
        // Thread teardown: nothing to tell from.
        let outer = WRITING
            .try_with(|writing| writing.replace(address))
            .unwrap_or(0);
        if outer == address {
            return None;
        }
        Some(Self(outer))
    }
}

impl Drop for Writing {
    #[inline]
    fn drop(&mut self) {
        let _ = WRITING.try_with(|writing| writing.set(self.0));
    }
}

/// The error of a line written to a writer from inside that writer's own write.
#[cold]
fn written_from_inside() -> io::Error {
    io::Error::other(
        "the line was written from inside the writer's own write (does the writer log?): \
         it would wait for itself",
    )
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

/// A writer that takes nothing (a closed pipe), for the tests of what a failed write costs.
#[cfg(test)]
pub(crate) struct Closed;

#[cfg(test)]
impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a [`BreaksOnce`] writer breaks.
#[cfg(test)]
#[derive(Clone, Copy)]
pub(crate) enum Break {
    /// A write fails (a full disk).
    Fails,
    /// A write panics (a writer given in code with a bug).
    Panics,
}

/// A writer that takes `room` bytes, breaks once at the write after them, then takes every
/// byte; what it took is in `taken`. For the tests of what a failed write costs.
#[cfg(test)]
pub(crate) struct BreaksOnce {
    pub(crate) room: Option<usize>,
    pub(crate) breaks: Break,
    pub(crate) taken: Arc<Mutex<Vec<u8>>>,
}

#[cfg(test)]
impl Write for BreaksOnce {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.room {
            Some(0) => {
                self.room = None;
                match self.breaks {
                    Break::Fails => return Err(io::Error::from(io::ErrorKind::StorageFull)),
                    Break::Panics => panic!("the writer broke"),
                }
            }
            Some(room) => {
                let n = buf.len().min(room);
                self.room = Some(room - n);
                n
            }
            None => buf.len(),
        };
        self.taken.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes, from inside each write, one line to `to` (itself, or another writer), and
    /// keeps what that inner write said.
    struct WritesFromInside {
        to: Arc<Mutex<Option<LineWriter>>>,
        inner: Arc<Mutex<Vec<bool>>>,
    }

    impl Write for WritesFromInside {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let to = self.to.lock().unwrap().clone();
            if let Some(to) = to {
                let ok = to.write_lines(b"inner\n").is_ok();
                self.inner.lock().unwrap().push(ok);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A line written to a writer from inside its own write would wait for the writer's lock
    /// for ever: it fails (and the write it is inside goes out); to another writer it goes out.
    #[test]
    fn a_line_written_from_inside_its_own_writer_fails_instead_of_waiting() {
        let to = Arc::new(Mutex::new(None));
        let inner = Arc::new(Mutex::new(Vec::new()));
        let writer = LineWriter::custom(WritesFromInside {
            to: Arc::clone(&to),
            inner: Arc::clone(&inner),
        });
        *to.lock().unwrap() = Some(writer.clone());
        writer.write_lines(b"outer\n").unwrap();
        writer.write_lines(b"outer\n").unwrap();
        assert_eq!(*inner.lock().unwrap(), [false, false]);

        let other = LineWriter::custom(io::sink());
        *to.lock().unwrap() = Some(other);
        writer.write_lines(b"outer\n").unwrap();
        assert_eq!(*inner.lock().unwrap(), [false, false, true]);
    }

    #[test]
    fn a_line_cut_short_by_a_failed_write_does_not_swallow_the_next() {
        let taken = Arc::new(Mutex::new(Vec::new()));
        let writer = LineWriter::custom(BreaksOnce {
            room: Some(5),
            breaks: Break::Fails,
            taken: Arc::clone(&taken),
        });
        let failed = writer.write_lines(b"{\"a\":1}\n").unwrap_err();
        assert_eq!(failed.written, 5);
        writer.write_lines(b"{\"b\":2}\n").unwrap();
        let taken = String::from_utf8(taken.lock().unwrap().clone()).unwrap();
        let last = taken.lines().last().unwrap();
        assert_eq!(last, r#"{"b":2}"#, "{taken:?}");
    }

    #[test]
    fn a_writer_that_panics_mid_line_neither_swallows_the_next_line_nor_counts_whole_ones_lost() {
        let taken = Arc::new(Mutex::new(Vec::new()));
        let writer = LineWriter::custom(BreaksOnce {
            room: Some(13),
            breaks: Break::Panics,
            taken: Arc::clone(&taken),
        });
        let lines = b"{\"a\":1}\n{\"b\":2}\n";
        let failed = writer.write_lines(lines).unwrap_err();
        // The first line went out whole: only the second is lost.
        assert_eq!(failed.lost(lines), b"{\"b\":2}\n");
        writer.write_lines(b"{\"c\":3}\n").unwrap();
        let taken = String::from_utf8(taken.lock().unwrap().clone()).unwrap();
        let last = taken.lines().last().unwrap();
        assert_eq!(last, r#"{"c":3}"#, "{taken:?}");
    }
}
