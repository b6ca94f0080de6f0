//! [`OutputLog`]: the function's stdout and stderr, line by line, with CloudWatch EMF lines
//! told apart from plain log lines.

use std::fmt;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::Notify;

/// The longest line kept whole: a longer one is split into lines of this length, as Lambda's
/// log capture splits long lines (256 KiB), so that output without an end of line cannot
/// grow the harness's memory without bound.
pub(crate) const MAX_LINE_BYTES: usize = 256 * 1024;

/// How much plain (non-EMF) output a log keeps, counting each line's text and
/// [`LINE_COST`]: past it, further plain lines are counted but not kept (the last few still
/// are, for error messages), so that a function that logs without end (a loop printing,
/// `yes`) cannot take the harness's memory over a long timeout. EMF lines, whose facts and
/// metrics the report needs, have a budget of their own ([`MAX_EMF_BYTES`]).
pub(crate) const MAX_PLAIN_BYTES: usize = 256 * 1024 * 1024;

/// What keeping one line costs beyond its text (the line's record and its allocation).
const LINE_COST: usize = 128;

/// How much EMF output a log keeps, counting each line as [`emf_cost`]: past it, further EMF
/// lines are counted but not kept, like plain lines past [`MAX_PLAIN_BYTES`], so that a
/// function printing EMF lines without end cannot take the harness's memory either. Far
/// above what a run's invocations write (hundreds of thousands of lines).
pub(crate) const MAX_EMF_BYTES: usize = 512 * 1024 * 1024;

/// What keeping an EMF line costs: its text, and its parsed document (a few times the text,
/// and about 3 KB however short the text: a map's nodes).
fn emf_cost(text: &str) -> usize {
    3 * text.len() + 3 * 1024
}

/// How many of the plain lines not kept are still kept last, for error messages.
const DROPPED_TAIL: usize = 20;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl fmt::Display for OutputStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        })
    }
}

/// What a line is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LineKind {
    /// A CloudWatch Embedded Metric Format document: a stdout line that parses as a JSON
    /// object with an `_aws` key.
    Emf(Value),
    /// Anything else.
    Log,
}

/// One line of output (without its line terminator; invalid UTF-8 is replaced).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OutputLine {
    /// The pipe it came from.
    pub stream: OutputStream,
    /// The text.
    pub text: String,
    /// When the harness read it.
    pub received_at: Instant,
    /// EMF or plain log.
    pub kind: LineKind,
}

impl OutputLine {
    /// Builds a line, classifying it: only stdout lines that parse as a JSON object with an
    /// `_aws` key are [`LineKind::Emf`].
    pub fn new(stream: OutputStream, text: impl Into<String>, received_at: Instant) -> Self {
        let text = text.into();
        let kind = match stream {
            OutputStream::Stdout => classify(&text),
            OutputStream::Stderr => LineKind::Log,
        };
        Self {
            stream,
            text,
            received_at,
            kind,
        }
    }

    /// The parsed EMF document, if this is an EMF line.
    pub fn emf(&self) -> Option<&Value> {
        match &self.kind {
            LineKind::Emf(value) => Some(value),
            LineKind::Log => None,
        }
    }

    /// Whether this is an EMF line.
    pub fn is_emf(&self) -> bool {
        self.emf().is_some()
    }
}

impl fmt::Display for OutputLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stream, self.text)
    }
}

fn classify(text: &str) -> LineKind {
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return LineKind::Log;
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(value) if value.get("_aws").is_some() => LineKind::Emf(value),
        _ => LineKind::Log,
    }
}

#[derive(Default)]
struct LogState {
    lines: Vec<OutputLine>,
    /// Readers attached and not yet at end of file.
    open_streams: usize,
    /// What the plain lines kept cost (see [`MAX_PLAIN_BYTES`]).
    plain_bytes: usize,
    /// What the EMF lines kept cost (see [`MAX_EMF_BYTES`]).
    emf_bytes: usize,
    /// How many plain lines were not kept.
    dropped: usize,
    /// How many EMF lines were not kept.
    dropped_emf: usize,
    /// The last plain lines not kept, oldest first (at most [`DROPPED_TAIL`]).
    dropped_tail: std::collections::VecDeque<OutputLine>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<LogState>,
    changed: Notify,
}

/// How a wait on the log ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// The condition held.
    Satisfied,
    /// Every stream reached end of file without the condition holding.
    Closed,
}

/// A shared, append-only log of a process's output. Cloning gives another handle to the
/// same log.
#[derive(Clone, Default)]
pub struct OutputLog {
    inner: Arc<Inner>,
}

impl fmt::Debug for OutputLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("OutputLog")
            .field("lines", &state.lines.len())
            .field("open_streams", &state.open_streams)
            .finish()
    }
}

impl OutputLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends a line and wakes waiters. A plain (non-EMF) line past 256 MB of them, and an
    /// EMF line past 512 MB of them (each counted as what it costs parsed), is only counted
    /// ([`dropped_lines`](Self::dropped_lines)).
    pub fn push(&self, line: OutputLine) {
        let mut state = self.lock();
        if line.is_emf() {
            let cost = emf_cost(&line.text);
            if state.dropped_emf == 0 && state.emf_bytes + cost <= MAX_EMF_BYTES {
                state.emf_bytes += cost;
                state.lines.push(line);
            } else {
                state.dropped_emf += 1;
            }
        } else {
            let cost = line.text.len() + LINE_COST;
            if state.dropped == 0 && state.plain_bytes + cost <= MAX_PLAIN_BYTES {
                state.plain_bytes += cost;
                state.lines.push(line);
            } else {
                state.dropped += 1;
                if state.dropped_tail.len() == DROPPED_TAIL {
                    state.dropped_tail.pop_front();
                }
                state.dropped_tail.push_back(line);
            }
        }
        drop(state);
        self.inner.changed.notify_waiters();
    }

    /// How many lines were not kept: plain (non-EMF) lines past 256 MB of them (each line
    /// counted as its text and 128 bytes), EMF lines past 512 MB of them (each counted as
    /// what it costs parsed).
    pub fn dropped_lines(&self) -> usize {
        let state = self.lock();
        state.dropped + state.dropped_emf
    }

    /// How many of the [`dropped_lines`](Self::dropped_lines) were EMF lines.
    #[cfg(test)]
    fn dropped_emf_lines(&self) -> usize {
        self.lock().dropped_emf
    }

    /// Spawns a task that reads `reader` line by line into the log until end of file (or a
    /// read error); a line longer than 256 KiB comes as several. Must be called
    /// inside a tokio runtime.
    pub fn attach<R>(&self, stream: OutputStream, reader: R) -> tokio::task::JoinHandle<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        self.lock().open_streams += 1;
        let log = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let mut piece = (&mut reader).take(MAX_LINE_BYTES as u64);
                match piece.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        let text = String::from_utf8_lossy(line).into_owned();
                        log.push(OutputLine::new(stream, text, Instant::now()));
                    }
                }
            }
            let mut state = log.lock();
            state.open_streams = state.open_streams.saturating_sub(1);
            drop(state);
            log.inner.changed.notify_waiters();
        })
    }

    /// A snapshot of every line so far.
    pub fn lines(&self) -> Vec<OutputLine> {
        self.lock().lines.clone()
    }

    /// How many lines so far.
    pub fn len(&self) -> usize {
        self.lock().lines.len()
    }

    /// Whether no line was read yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parsed EMF documents so far, in order.
    pub fn emf_lines(&self) -> Vec<Value> {
        self.lock()
            .lines
            .iter()
            .filter_map(|line| line.emf().cloned())
            .collect()
    }

    /// The plain log lines (everything but EMF) so far.
    pub fn log_lines(&self) -> Vec<OutputLine> {
        self.lock()
            .lines
            .iter()
            .filter(|line| !line.is_emf())
            .cloned()
            .collect()
    }

    /// The last `n` lines rendered as `stdout: …` / `stderr: …`, for error messages (the
    /// latest, also when they were past what the log keeps).
    pub fn last_lines(&self, n: usize) -> Vec<String> {
        let state = self.lock();
        let from_tail = state.dropped_tail.len().min(n);
        let skip = state.lines.len().saturating_sub(n - from_tail);
        state.lines[skip..]
            .iter()
            .chain(
                state
                    .dropped_tail
                    .iter()
                    .skip(state.dropped_tail.len() - from_tail),
            )
            .map(ToString::to_string)
            .collect()
    }

    /// Whether every attached stream has reached end of file.
    pub fn is_closed(&self) -> bool {
        self.lock().open_streams == 0
    }

    /// Waits until `condition` holds for the lines read so far, or every stream is closed.
    pub(crate) async fn wait_until<F>(&self, mut condition: F) -> WaitEnd
    where
        F: FnMut(&[OutputLine]) -> bool,
    {
        loop {
            let mut changed = pin!(self.inner.changed.notified());
            changed.as_mut().enable();
            {
                let state = self.lock();
                if condition(&state.lines) {
                    return WaitEnd::Satisfied;
                }
                if state.open_streams == 0 {
                    return WaitEnd::Closed;
                }
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let now = Instant::now();
        let emf = OutputLine::new(
            OutputStream::Stdout,
            r#"{"_aws":{"Timestamp":1},"x":1}"#,
            now,
        );
        assert_eq!(emf.emf().and_then(|v| v.get("x")), Some(&Value::from(1)));
        for (stream, text) in [
            (OutputStream::Stderr, r#"{"_aws":{}}"#),
            (OutputStream::Stdout, r#"{"aws":{}}"#),
            (OutputStream::Stdout, r#"[{"_aws":{}}]"#),
            (OutputStream::Stdout, r#"{"_aws":"#),
            (OutputStream::Stdout, "hello"),
            (OutputStream::Stdout, ""),
        ] {
            let line = OutputLine::new(stream, text, now);
            assert_eq!(line.kind, LineKind::Log, "{stream} {text}");
        }
        assert_eq!(
            OutputLine::new(OutputStream::Stderr, "boom", now).to_string(),
            "stderr: boom"
        );
    }

    #[tokio::test]
    async fn reads_lines_until_eof() {
        let log = OutputLog::new();
        let data: &[u8] = b"{\"_aws\":{}}\r\nplain\n\xffbad utf8\nno newline at end";
        let reader = log.attach(OutputStream::Stdout, data);
        assert_eq!(
            log.wait_until(|lines| lines.len() >= 4).await,
            WaitEnd::Satisfied
        );
        reader.await.expect("reader task");
        assert!(log.is_closed());
        assert_eq!(
            log.wait_until(|lines| lines.len() >= 5).await,
            WaitEnd::Closed
        );
        let lines = log.lines();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].is_emf());
        assert_eq!(lines[1].text, "plain");
        assert_eq!(lines[2].text, "\u{fffd}bad utf8");
        assert_eq!(lines[3].text, "no newline at end");
        assert_eq!(log.emf_lines().len(), 1);
        assert_eq!(log.log_lines().len(), 3);
        assert_eq!(
            log.last_lines(2),
            ["stdout: \u{fffd}bad utf8", "stdout: no newline at end"]
        );
        assert_eq!(log.last_lines(100).len(), 4);
    }

    #[test]
    fn plain_lines_past_the_limit_are_counted_not_kept_but_emf_lines_are() {
        let log = OutputLog::new();
        let now = Instant::now();
        let big = "x".repeat(1024 * 1024 - LINE_COST);
        for _ in 0..MAX_PLAIN_BYTES / (1024 * 1024) {
            log.push(OutputLine::new(OutputStream::Stdout, big.clone(), now));
        }
        assert_eq!((log.len(), log.dropped_lines()), (256, 0));
        log.push(OutputLine::new(OutputStream::Stderr, "one more", now));
        log.push(OutputLine::new(OutputStream::Stdout, r#"{"_aws":{}}"#, now));
        for n in 0..30 {
            log.push(OutputLine::new(
                OutputStream::Stderr,
                format!("late {n}"),
                now,
            ));
        }
        assert_eq!((log.len(), log.dropped_lines()), (257, 31));
        assert_eq!(log.emf_lines().len(), 1);
        let last = log.last_lines(3);
        assert_eq!(
            last,
            ["stderr: late 27", "stderr: late 28", "stderr: late 29"]
        );
        let more = log.last_lines(22);
        assert_eq!(more.len(), 22);
        assert_eq!(more[1], "stdout: {\"_aws\":{}}");
        assert_eq!(more[2], "stderr: late 10");
    }

    #[test]
    fn emf_lines_past_their_budget_are_counted_not_kept() {
        let log = OutputLog::new();
        let now = Instant::now();
        let text = format!(r#"{{"_aws":{{}},"x":"{}"}}"#, "y".repeat(64 * 1024));
        let fit = MAX_EMF_BYTES / emf_cost(&text);
        for _ in 0..fit {
            log.push(OutputLine::new(OutputStream::Stdout, text.clone(), now));
        }
        assert_eq!((log.emf_lines().len(), log.dropped_lines()), (fit, 0));
        for _ in 0..3 {
            log.push(OutputLine::new(OutputStream::Stdout, text.clone(), now));
        }
        log.push(OutputLine::new(OutputStream::Stderr, "plain", now));
        assert_eq!(log.emf_lines().len(), fit);
        assert_eq!((log.dropped_lines(), log.dropped_emf_lines()), (3, 3));
        assert_eq!(
            log.log_lines().len(),
            1,
            "plain lines have their own budget"
        );
    }

    #[tokio::test]
    async fn a_line_longer_than_lambda_keeps_whole_comes_in_pieces() {
        let log = OutputLog::new();
        let mut data = vec![b'x'; 2 * MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nshort\n");
        log.attach(OutputStream::Stdout, std::io::Cursor::new(data))
            .await
            .expect("reader task");
        let lengths: Vec<usize> = log.lines().iter().map(|line| line.text.len()).collect();
        assert_eq!(lengths, [MAX_LINE_BYTES, MAX_LINE_BYTES, 10, 5]);
        assert_eq!(log.lines()[3].text, "short");
    }
}
