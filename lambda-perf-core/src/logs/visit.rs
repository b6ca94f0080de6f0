//! An event's or a span's fields, recorded into [`LogFields`] with their JSON types kept:
//! `order = 7` is the number 7, `paid = true` a boolean, `%id` its `Display` text, `?tags`
//! its `Debug` text.

use std::fmt;

use tracing::field::{Field, Visit};

use crate::formats::log::fields::LogFields;

/// Records fields; an event's `message` is its message, a span's is a field like any other.
pub(crate) struct Recorder<'a> {
    pub(crate) fields: &'a mut LogFields,
    pub(crate) is_event: bool,
    /// A field whose `Debug` text is compact JSON already (the incoming event's), written as
    /// it is.
    pub(crate) json_field: Option<&'static str>,
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.float(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.integer(field.name(), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.integer(field.name(), value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.fields.integer(field.name(), value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.fields.integer(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.bool(field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.is_event && field.name() == "message" {
            self.fields.message(&format_args!("{value}"));
        } else {
            self.fields.str(field.name(), value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if self.is_event && name == "message" {
            self.fields.message(value);
        } else if self.json_field == Some(name) {
            self.fields.json(name, &format!("{value:?}"));
        } else {
            self.fields.debug(name, value);
        }
    }
}
