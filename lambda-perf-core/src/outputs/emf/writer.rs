//! Where EMF lines go: stdout in Lambda, or a writer supplied by the user.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use crate::drops;
use crate::warn::WarnOnce;

/// The destination of EMF lines. Each line is written with one `write_all` of a buffer that
/// ends in a newline, so lines from concurrent invocations never interleave on stdout.
#[derive(Clone, Default)]
pub(crate) enum EmfWriter {
    /// The process's stdout, which Lambda forwards to CloudWatch Logs.
    #[default]
    Stdout,
    /// A user-supplied writer (tests, a custom log pipeline).
    Custom(Arc<Mutex<dyn Write + Send>>),
}

static WRITE_FAILED: WarnOnce = WarnOnce::new();

impl EmfWriter {
    /// Writes complete lines; a failure (closed stdout, full disk) costs one warning, and
    /// every line lost is counted (`emf.write_failed`), for the next record that gets out.
    pub(crate) fn write_lines(&self, lines: &[u8]) {
        let result = match self {
            Self::Stdout => io::stdout().lock().write_all(lines),
            Self::Custom(writer) => match writer.lock() {
                Ok(mut writer) => writer.write_all(lines).and_then(|()| writer.flush()),
                Err(poisoned) => poisoned.into_inner().write_all(lines),
            },
        };
        if let Err(error) = result {
            for _ in lines.iter().filter(|&&byte| byte == b'\n') {
                drops::count("emf.write_failed");
            }
            WRITE_FAILED.warn(format_args!(
                "could not write EMF metrics ({error}); metrics are lost until the writer recovers"
            ));
        }
    }
}

impl fmt::Debug for EmfWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdout => f.write_str("Stdout"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}
