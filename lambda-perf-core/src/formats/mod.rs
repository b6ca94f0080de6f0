//! The bottom layer: pure models and serializers of what lambda-perf writes — EMF lines,
//! X-Ray documents, log lines, ids and trace headers, failures, times. Nothing here knows
//! that an invocation exists; everything here can be tested with values alone.

#[cfg(test)]
pub(crate) mod any_json;
pub(crate) mod capped;
pub(crate) mod checked_json;
pub(crate) mod emf;
pub(crate) mod error_chain;
pub(crate) mod faas_trigger;
pub(crate) mod failure;
pub(crate) mod json;
pub(crate) mod json_text;
#[cfg(feature = "tracing")]
pub(crate) mod log;
pub(crate) mod padded;
pub(crate) mod read_back;
pub(crate) mod time;
pub(crate) mod xray;
