//! The CloudWatch Embedded Metric Format: names and values checked against CloudWatch's
//! limits, the metrics of one record, and the serializer of its lines.

pub(crate) mod dimension;
mod directive;
mod error;
pub(crate) mod head;
mod line;
mod lines;
pub(crate) mod set;
mod unit;
pub(crate) mod validate;

pub(crate) use self::directive::DirectiveCache;
pub use self::error::{KeyKind, MetricsError};
pub(crate) use self::lines::{Appended, MAX_LINE_BYTES, append_facts_line, append_lines};
pub use self::unit::{Resolution, Unit};
