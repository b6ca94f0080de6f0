//! One-time warnings on stderr.
//!
//! The failure policy: bad input and broken environments cost one warning, never a panic and
//! never a silent drop. Each [`WarnOnce`] prints the first time it is triggered and is silent
//! afterwards, so a bad call in a hot loop cannot flood the function's logs.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// A warning that is written to stderr at most once per process.
pub(crate) struct WarnOnce(AtomicBool);

impl WarnOnce {
    /// A warning that has not fired yet.
    pub(crate) const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// Writes `message` on the first call and returns `true`; later calls return `false`.
    pub(crate) fn warn(&self, message: impl fmt::Display) -> bool {
        if self.0.load(Ordering::Relaxed) || self.0.swap(true, Ordering::Relaxed) {
            return false;
        }
        write_warning(message);
        true
    }
}

/// Writes one warning line on stderr; a closed stderr is ignored.
pub(crate) fn write_warning(message: impl fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "lambda-perf: warning: {message}");
}

#[cfg(test)]
mod tests {
    use super::WarnOnce;

    #[test]
    fn fires_once() {
        let warning = WarnOnce::new();
        assert!(warning.warn("first"));
        assert!(!warning.warn("second"));
        assert!(!warning.warn("third"));
    }
}
