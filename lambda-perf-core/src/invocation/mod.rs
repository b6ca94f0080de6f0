//! The invocation core, above the formats: how an invocation started, what is known about
//! it, which invocation the running code works for, and its life from beginning to end.
//! It tells the outputs what happened through one seam ([`output::Output`]) and knows no
//! output itself.

pub(crate) mod client_init;
pub(crate) mod clock;
pub(crate) mod current;
pub(crate) mod deferral;
pub(crate) mod facts;
pub(crate) mod facts_record;
#[cfg(feature = "tracing")]
pub(crate) mod function_context;
pub(crate) mod handler_span;
mod initialization_type;
pub(crate) mod instrumentation;
pub(crate) mod just_failed;
pub(crate) mod lifecycle;
pub(crate) mod marker;
pub(crate) mod outcome;
pub(crate) mod output;
pub(crate) mod panic;
mod pool;
pub(crate) mod readiness;
pub(crate) mod redaction;
pub(crate) mod resources;
mod response_buffer;
pub(crate) mod response_check;
pub(crate) mod settings;
mod start_kind;
pub(crate) mod start_tracker;
pub(crate) mod trace;
mod wall_clock;
mod watchdog;

pub use self::initialization_type::InitializationType;
pub use self::redaction::Captured;
pub use self::start_kind::StartKind;
