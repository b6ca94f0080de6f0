//! An event's or a span's fields, recorded into [`LogFields`] with their JSON types kept:
//! `order = 7` is the number 7, `paid = true` a boolean, `%id` its `Display` text, `?tags`
//! its `Debug` text.

use std::fmt;

use tracing::Metadata;
use tracing::field::{Field, Visit};

use crate::formats::error_chain::ErrorChain;
use crate::formats::log::fields::LogFields;
use crate::invocation::panic::write_debug;

/// The target of the events `tracing-log`'s `LogTracer` makes of `log` records; the
/// record's own target is their `log.target` field.
const LOG_RECORD_TARGET: &str = "log";

/// The fields `tracing-log` adds to a `log` record's event, prefixed with this: where the
/// record came from, not values of the user's.
const LOG_RECORD_FIELDS: &str = "log.";

/// Whether an event is a `log` record forwarded by `tracing-log`'s `LogTracer` (its
/// callsites' target and their `log.target` field, as `tracing-log` checks it).
pub(crate) fn is_log_record(metadata: &Metadata<'_>) -> bool {
    metadata.target() == LOG_RECORD_TARGET && metadata.fields().field("log.target").is_some()
}

/// Records fields; an event's `message` is its message, a span's is a field like any other.
pub(crate) struct Recorder<'a> {
    pub(crate) fields: &'a mut LogFields,
    pub(crate) is_event: bool,
    /// A field whose `Debug` text is compact JSON already (the incoming event's), written as
    /// it is.
    pub(crate) json_field: Option<&'static str>,
    /// For a `log` record's event: where the record's own target goes; its `log.*` fields
    /// are not written.
    pub(crate) log_target: Option<&'a mut String>,
}

impl Recorder<'_> {
    /// Writes `value` as the event's message when `field` is an event's `message` (given as
    /// a number or a boolean, `tracing::info!(message = 5)`, it is still the message, as its
    /// text); returns whether it did.
    fn event_message(&mut self, field: &Field, value: &dyn fmt::Display) -> bool {
        let is_message = self.is_event && field.name() == "message";
        if is_message {
            self.fields.message(&format_args!("{value}"));
        }
        is_message
    }

    /// Whether `field` is one `tracing-log` added to a `log` record (taking the target).
    fn is_log_field(&mut self, field: &Field, value: Option<&str>) -> bool {
        let Some(target) = self.log_target.as_deref_mut() else {
            return false;
        };
        if !field.name().starts_with(LOG_RECORD_FIELDS) {
            return false;
        }
        if let (Some(value), "log.target") = (value, field.name()) {
            target.clear();
            target.push_str(value);
        }
        true
    }
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if !self.event_message(field, &value) {
            self.fields.float(field.name(), value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.event_message(field, &value) {
            self.fields.integer(field.name(), value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.is_log_field(field, None) && !self.event_message(field, &value) {
            self.fields.integer(field.name(), value);
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        if !self.event_message(field, &value) {
            self.fields.integer(field.name(), value);
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        if !self.event_message(field, &value) {
            self.fields.integer(field.name(), value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if !self.event_message(field, &value) {
            self.fields.bool(field.name(), value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.is_log_field(field, Some(value)) && !self.event_message(field, &value) {
            self.fields.str(field.name(), value);
        }
    }

    /// An error given as itself (`error = &err as &dyn Error`) is its message and its
    /// sources' ([`ErrorChain`]); one given with `%` is its `Display` alone.
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{}", ErrorChain(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        // The value's `Debug` is user code: one that panics or fails is described in the
        // line rather than turned into a panic of the user's `info!`.
        if self.is_event && name == "message" {
            self.fields.message_written(|out| write_debug(out, value));
        } else if self.json_field == Some(name) {
            let mut json = String::new();
            match write_debug(&mut json, value) {
                Ok(()) => self.fields.json(name, &json),
                // Described as a string, so that the line stays JSON.
                Err(failure) => self.fields.str(name, &failure.to_string()),
            }
        } else {
            self.fields
                .debug_written(name, |out| write_debug(out, value));
        }
    }
}
