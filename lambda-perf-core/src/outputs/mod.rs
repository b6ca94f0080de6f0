//! The outputs, above the invocation core: each turns what the seam
//! ([`Output`](crate::invocation::output::Output)) tells it into bytes somewhere — EMF lines
//! on stdout, subsegment documents to the X-Ray daemon. An output knows no facade.

pub(crate) mod emf;
pub(crate) mod line_writer;
#[cfg(feature = "opentelemetry")]
pub(crate) mod otel;
pub(crate) mod xray;
