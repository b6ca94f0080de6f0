//! Where lines go — EMF lines and log lines alike: stdout in Lambda, or a writer given in code.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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
                let was_mid_line = STDOUT_MID_LINE.load(Ordering::Relaxed);
                let mut mid_line = was_mid_line;
                let mut written = 0;
                let result = write_whole_lines(&mut RawStdout, &mut mid_line, lines, &mut written);
                // Written only when it changes: invocations at once on other cores read it
                // at every write, and a store would take its cache line from them each time.
                if mid_line != was_mid_line {
                    STDOUT_MID_LINE.store(mid_line, Ordering::Relaxed);
                }
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
        write_descriptor(libc::STDOUT_FILENO, buf)
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

impl WaitWritable for RawStdout {
    #[cfg(unix)]
    fn wait_writable(&mut self, timeout: Duration) -> bool {
        wait_descriptor_writable(libc::STDOUT_FILENO, timeout)
    }

    #[cfg(not(unix))]
    fn wait_writable(&mut self, timeout: Duration) -> bool {
        sleep_a_little(timeout)
    }
}

/// `buf`, or its start, written to file descriptor `fd` with one `write(2)`.
#[cfg(unix)]
fn write_descriptor(fd: libc::c_int, buf: &[u8]) -> io::Result<usize> {
    // No more than a `ssize_t` holds, as std writes.
    let len = buf.len().min(isize::MAX.unsigned_abs());
    // SAFETY: `buf` is valid for reads of `len` bytes for the whole call; the descriptor is
    // only written to, never closed or owned here.
    #[allow(unsafe_code)]
    let written = unsafe { libc::write(fd, buf.as_ptr().cast(), len) };
    // Negative only on an error, which errno then holds.
    usize::try_from(written).map_err(|_| io::Error::last_os_error())
}

/// Waits, with `poll(2)`, at most `timeout` for file descriptor `fd` to take more bytes (or
/// to fail, which the next write tells); whether it is worth writing again.
#[cfg(unix)]
fn wait_descriptor_writable(fd: libc::c_int, timeout: Duration) -> bool {
    let mut descriptor = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // In whole milliseconds, rounded up: a shorter wait would end before `timeout`.
    let millis =
        libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `descriptor` is one valid `pollfd`, borrowed for the call only.
    #[allow(unsafe_code)]
    let ready = unsafe { libc::poll(&raw mut descriptor, 1, millis) };
    ready > 0 || (ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted)
}

/// How long, at most, the rest of a line that has partly gone out waits for a writer that
/// would block (a non-blocking stdout whose pipe is full) to take it. Past it the line stays
/// cut, and is ended before the next line (see [`write_whole_lines`]): a reader that has
/// stopped reading does not hold the handler for longer.
const MID_LINE_WAIT: Duration = Duration::from_millis(100);

/// A writer whose writes may fail with `WouldBlock` (a non-blocking descriptor), and that
/// can wait until it takes bytes again.
trait WaitWritable: Write {
    /// Waits at most `timeout` until a write may take bytes again; `false`: not worth trying.
    fn wait_writable(&mut self, timeout: Duration) -> bool;
}

/// A writer given in code tells nothing of when it will take more: a short sleep, and
/// another try.
impl WaitWritable for dyn Write + Send {
    fn wait_writable(&mut self, timeout: Duration) -> bool {
        sleep_a_little(timeout)
    }
}

/// Sleeps a millisecond, or `timeout` when shorter.
fn sleep_a_little(timeout: Duration) -> bool {
    std::thread::sleep(timeout.min(Duration::from_millis(1)));
    true
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
///
/// A writer that would block (`WouldBlock`) once part of a line has gone out is waited for,
/// at most [`MID_LINE_WAIT`], to take the rest: the stream holds no cut line unless the
/// reader stops for longer. One that would block between lines is not: the lines not
/// started are lost, and counted by the caller.
fn write_counted(
    writer: &mut (impl WaitWritable + ?Sized),
    lines: &[u8],
    mid_line: &mut bool,
    written: &mut usize,
) -> io::Result<()> {
    let started = *written;
    let mut deadline = None;
    while *written < lines.len() {
        match writer.write(&lines[*written..]) {
            Ok(n) if n > 0 => {
                // A writer claiming more than it was given took what it was given.
                *written = written.saturating_add(n).min(lines.len());
                *mid_line = lines[*written - 1] != b'\n';
            }
            failed => {
                let cut_a_line = *mid_line && *written > started;
                again_or_fail(writer, failed, cut_a_line, &mut deadline)?;
            }
        }
    }
    Ok(())
}

/// After a write that took nothing: `Ok` to write again (interrupted; or would block with a
/// line this write cut, while the wait for room lasts), else the error that ends the write.
/// Out of line: a write that takes everything at once never comes here.
#[cold]
#[inline(never)]
fn again_or_fail(
    writer: &mut (impl WaitWritable + ?Sized),
    failed: io::Result<usize>,
    cut_a_line: bool,
    deadline: &mut Option<Instant>,
) -> io::Result<()> {
    let error = match failed {
        Ok(_) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
        Err(error) => error,
    };
    match error.kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::WouldBlock if cut_a_line => {
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + MID_LINE_WAIT);
            let left = deadline.saturating_duration_since(Instant::now());
            if !left.is_zero() && writer.wait_writable(left) {
                Ok(())
            } else {
                Err(error)
            }
        }
        _ => Err(error),
    }
}

/// Writes `lines` after a line a failed write left unfinished has been ended (`mid_line`),
/// so that the cut line, lost, does not take the first of `lines` with it; `mid_line` says
/// afterwards whether this write left one, and `written` how many bytes of `lines` went out.
fn write_whole_lines(
    writer: &mut (impl WaitWritable + ?Sized),
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

    /// The write end of a pipe, made not to block: what a non-blocking stdout is. Closed
    /// when dropped; the read end is its reader's.
    #[cfg(unix)]
    struct NonBlockingPipe(libc::c_int);

    /// A pipe: its non-blocking write end, and its read end.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn non_blocking_pipe() -> (NonBlockingPipe, libc::c_int) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: flags of a descriptor made here.
        unsafe {
            let flags = libc::fcntl(fds[1], libc::F_GETFL);
            assert_eq!(
                libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK),
                0
            );
        }
        (NonBlockingPipe(fds[1]), fds[0])
    }

    #[cfg(unix)]
    impl NonBlockingPipe {
        /// Fills the pipe with whole lines until it takes no more; how many bytes.
        fn fill(&mut self) -> usize {
            let mut filled = 0;
            loop {
                match write_descriptor(self.0, b"filler\n") {
                    Ok(n) => filled += n,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return filled,
                    Err(error) => panic!("{error}"),
                }
            }
        }
    }

    /// Reads at most `len` bytes from `read`, fewer at the end of the stream.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn read_up_to(read: libc::c_int, len: usize) -> Vec<u8> {
        let mut taken = Vec::new();
        let mut chunk = [0_u8; 65_536];
        while taken.len() < len {
            let want = chunk.len().min(len - taken.len());
            // SAFETY: `chunk` is valid for writes of `want` bytes.
            let n = unsafe { libc::read(read, chunk.as_mut_ptr().cast(), want) };
            match usize::try_from(n).expect("read") {
                0 => break,
                n => taken.extend_from_slice(&chunk[..n]),
            }
        }
        taken
    }

    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn close(fd: libc::c_int) {
        // SAFETY: a descriptor the test made, closed once.
        unsafe { libc::close(fd) };
    }

    #[cfg(unix)]
    impl Drop for NonBlockingPipe {
        fn drop(&mut self) {
            close(self.0);
        }
    }

    #[cfg(unix)]
    impl Write for NonBlockingPipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            write_descriptor(self.0, buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[cfg(unix)]
    impl WaitWritable for NonBlockingPipe {
        fn wait_writable(&mut self, timeout: Duration) -> bool {
            wait_descriptor_writable(self.0, timeout)
        }
    }

    /// A line of `len` bytes, its newline included, that is one JSON object.
    fn json_line(len: usize) -> Vec<u8> {
        let mut line = b"{\"a\":\"".to_vec();
        line.resize(len - 3, b'x');
        line.extend_from_slice(b"\"}\n");
        line
    }

    /// A non-blocking stdout whose pipe fills while a line goes out: the rest of the line
    /// waits for the reader, and the stream holds whole lines only.
    #[cfg(unix)]
    #[test]
    fn a_line_partly_taken_by_a_full_pipe_is_finished_once_the_reader_reads() {
        let (mut pipe, read) = non_blocking_pipe();
        pipe.fill();
        let line = json_line(20_000);
        // Room for part of the line first, then, a little later, for the rest.
        let mut taken = read_up_to(read, 8192);
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            taken.extend(read_up_to(read, usize::MAX));
            close(read);
            taken
        });
        let (mut mid_line, mut written) = (false, 0);
        let result = write_whole_lines(&mut pipe, &mut mid_line, &line, &mut written);
        drop(pipe);
        let taken = String::from_utf8(reader.join().unwrap()).unwrap();
        result.unwrap();
        assert_eq!((mid_line, written), (false, line.len()));
        let (filler, last) = taken.trim_end().rsplit_once('\n').unwrap();
        assert!(filler.lines().all(|filler| filler == "filler"));
        serde_json::from_str::<serde_json::Value>(last).expect("one whole JSON line");
    }

    /// A full pipe that takes nothing of a line loses that line whole, at once; one whose
    /// reader stops with part of a line out is given up after [`MID_LINE_WAIT`], not waited
    /// for for ever.
    #[cfg(unix)]
    #[test]
    fn a_full_pipe_whose_reader_stops_is_waited_for_only_so_long() {
        let (mut pipe, read) = non_blocking_pipe();
        pipe.fill();
        let (mut mid_line, mut written) = (false, 0);
        let begun = Instant::now();
        let failed = write_whole_lines(&mut pipe, &mut mid_line, &json_line(100), &mut written);
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!((mid_line, written), (false, 0));
        assert!(begun.elapsed() < MID_LINE_WAIT, "{:?}", begun.elapsed());

        read_up_to(read, 4096);
        let begun = Instant::now();
        let failed = write_whole_lines(&mut pipe, &mut mid_line, &json_line(100_000), &mut written);
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert!(mid_line && written > 0, "{written}");
        assert!(begun.elapsed() >= MID_LINE_WAIT, "{:?}", begun.elapsed());
        close(read);
    }

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
