//! [`Problem`]: something wrong with the function's output or the run, listed in the report.

use serde::{Deserialize, Serialize};

/// What kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A stdout line that looks like EMF (contains `"_aws"`) but that CloudWatch would not
    /// extract metrics from.
    InvalidEmf,
    /// An X-Ray datagram the daemon would reject (bad header, not JSON), or a document with
    /// a required field missing or malformed (an id that is not 16 hex digits, a time that is
    /// not epoch seconds…).
    InvalidXRay,
    /// A subsegment whose `parent_id` is neither a subsegment of its trace nor the `Parent`
    /// of the invocation's trace header.
    OrphanSubsegment,
    /// X-Ray documents of a trace no invocation of the run had.
    UnmatchedTrace,
    /// `lambda_perf` facts that cannot be (a negative duration, a start kind lambda-perf does
    /// not report), shown as the function wrote them.
    InvalidFacts,
    /// Subsegments nested deeper than the report draws (a chain of parents longer than
    /// [`Subsegment::MAX_DEPTH`](super::Subsegment::MAX_DEPTH) levels): counted, not drawn.
    DeepSubsegments,
    /// An invocation the function failed without an answer: it timed out, or its runtime
    /// exited in it.
    FunctionFailure,
    /// An invocation the harness failed (an I/O error, a shutdown…).
    HarnessFailure,
}

impl ProblemKind {
    /// A short label: `invalid EMF`, `invalid X-Ray`, `orphan subsegment`,
    /// `unmatched trace`, `invalid lambda_perf facts`, `subsegments too deep`,
    /// `function failure`, `harness failure`.
    pub fn label(self) -> &'static str {
        match self {
            Self::InvalidEmf => "invalid EMF",
            Self::InvalidXRay => "invalid X-Ray",
            Self::OrphanSubsegment => "orphan subsegment",
            Self::UnmatchedTrace => "unmatched trace",
            Self::InvalidFacts => "invalid lambda_perf facts",
            Self::DeepSubsegments => "subsegments too deep",
            Self::FunctionFailure => "function failure",
            Self::HarnessFailure => "harness failure",
        }
    }
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// Its kind.
    pub kind: ProblemKind,
    /// Where: `process 0, output line 7`, `datagram 3`, `invocation 2`…
    pub location: String,
    /// What is wrong (several reasons are joined with `; `).
    pub message: String,
    /// The offending text, shortened, when there is one.
    pub excerpt: Option<String>,
    /// The invocation it concerns, when known.
    pub invocation: Option<usize>,
}

/// How many characters of an offending text a problem keeps.
const EXCERPT_CHARS: usize = 240;

impl Problem {
    pub(crate) fn new(
        kind: ProblemKind,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            location: location.into(),
            message: message.into(),
            excerpt: None,
            invocation: None,
        }
    }

    pub(crate) fn with_excerpt(mut self, text: &str) -> Self {
        self.excerpt = Some(shorten(text, EXCERPT_CHARS));
        self
    }

    pub(crate) fn with_invocation(mut self, index: usize) -> Self {
        self.invocation = Some(index);
        self
    }
}

/// How many characters of a value a problem's message quotes.
const QUOTE_CHARS: usize = 60;

/// `value` as a problem's message quotes it, cut to a few characters: a line of a megabyte
/// quoted whole in each of its reasons would make a message no one can read.
pub(crate) fn quote(value: impl std::fmt::Display) -> String {
    shorten(&value.to_string(), QUOTE_CHARS)
}

/// `text` cut to `max` characters, ending with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
