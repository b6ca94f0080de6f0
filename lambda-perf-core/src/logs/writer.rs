//! Where log lines go: stdout in Lambda, or a writer supplied in code.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::warn::WarnOnce;

/// The destination of log lines. Each line is written with one `write_all` of a buffer that
/// ends in a newline, under the stdout lock — the same rule as EMF lines — so log lines and
/// EMF lines never interleave mid-line, whichever tasks and threads write them.
#[derive(Clone, Default)]
pub(crate) enum LogWriter {
    /// The process's stdout, which Lambda forwards to CloudWatch Logs.
    #[default]
    Stdout,
    /// A writer given in code (tests, a custom pipeline).
    Custom(Arc<Mutex<dyn Write + Send>>),
}

static WRITE_FAILED: WarnOnce = WarnOnce::new();

impl LogWriter {
    /// A writer given in code.
    pub(crate) fn custom(writer: impl Write + Send + 'static) -> Self {
        Self::Custom(Arc::new(Mutex::new(writer)))
    }

    /// Writes one or more complete lines; a failure costs one warning on stderr.
    pub(crate) fn write_lines(&self, lines: &[u8]) {
        let result = match self {
            Self::Stdout => io::stdout().lock().write_all(lines),
            Self::Custom(writer) => match writer.lock() {
                Ok(mut writer) => writer.write_all(lines).and_then(|()| writer.flush()),
                Err(poisoned) => poisoned.into_inner().write_all(lines),
            },
        };
        if let Err(error) = result {
            WRITE_FAILED.warn(format_args!(
                "could not write a log line ({error}); log lines are lost until the writer \
                 recovers"
            ));
        }
    }
}

impl fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdout => f.write_str("Stdout"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}
