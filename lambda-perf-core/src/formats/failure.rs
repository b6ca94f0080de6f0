//! An error or panic described for the records: its type and its message (not `{}` as
//! Powertools records an error).

use std::any::Any;
use std::fmt;

use serde_json::{Value, json};

use super::error_chain::ErrorChain;

/// An error or panic, described by its type and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub(crate) kind: String,
    pub(crate) message: String,
}

impl Failure {
    /// A failure of type `kind` with `message`.
    pub(crate) fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// Describes a handler error. The runtime's own error types (`lambda_runtime::Error`,
    /// `Diagnostic`, strings, I/O errors) give their message, the errors with their sources'
    /// ([`ErrorChain`]); any other type its `Debug`.
    pub(crate) fn from_error<E: fmt::Debug + 'static>(error: &E) -> Self {
        let any: &dyn Any = error;
        if let Some(error) = any.downcast_ref::<lambda_runtime::Error>() {
            Self::new("lambda_runtime::Error", chain_text(&**error))
        } else if let Some(diagnostic) = any.downcast_ref::<lambda_runtime::Diagnostic>() {
            Self::new(&diagnostic.error_type, &diagnostic.error_message)
        } else if let Some(message) = any.downcast_ref::<String>() {
            Self::new("String", message)
        } else if let Some(message) = any.downcast_ref::<&str>() {
            Self::new("&str", *message)
        } else if let Some(error) = any.downcast_ref::<std::io::Error>() {
            Self::new("std::io::Error", chain_text(error))
        } else {
            Self::from_debug(error)
        }
    }

    /// Describes an error by its `Debug`.
    pub(crate) fn from_debug<E: fmt::Debug + ?Sized>(error: &E) -> Self {
        Self::new(short_type_name::<E>(), format!("{error:?}"))
    }

    /// Describes an error by its `Display`.
    pub(crate) fn from_display<E: fmt::Display + ?Sized>(error: &E) -> Self {
        Self::new(short_type_name::<E>(), error.to_string())
    }

    /// Describes an error by its type alone.
    pub(crate) fn from_type<E: ?Sized>() -> Self {
        Self::new(short_type_name::<E>(), String::new())
    }

    /// Describes a panic by its payload.
    pub(crate) fn from_panic(panic: &(dyn Any + Send)) -> Self {
        Self::new("panic", panic_message(panic))
    }

    /// The description of an error whose `Debug` (or a response whose `Serialize`) panicked.
    pub(crate) fn describing_panicked(panic: &(dyn Any + Send)) -> Self {
        Self::new(
            "unknown",
            format!("describing the result panicked: {}", panic_message(panic)),
        )
    }

    /// The type (`PaymentDeclined`, `panic`, `lambda_runtime::Error`).
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `{"type": …, "message": …}`.
    pub(crate) fn to_value(&self) -> Value {
        json!({ "type": self.kind, "message": self.message })
    }
}

/// Why a value's `Serialize` gave no JSON, kept as it came and worded only when shown
/// (`Display`): a failure counted on every invocation is worded once, for its one-time warning.
#[derive(Debug)]
pub(crate) enum NotSerialized {
    /// Its `Serialize` failed: `serde_json`'s error.
    Failed(serde_json::Error),
    /// Its `Serialize` wrote what is not JSON.
    NotJson,
    /// Its `Serialize` panicked: the payload.
    Panicked(Box<dyn Any + Send>),
}

impl fmt::Display for NotSerialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(error) => error.fmt(f),
            Self::NotJson => f.write_str(
                "its Serialize wrote what is not JSON (a map key without its value, a value \
                 without its key, elements past a length of zero, a container left open, or \
                 more after an error)",
            ),
            Self::Panicked(panic) => {
                write!(f, "its Serialize panicked: {}", panic_message(&**panic))
            }
        }
    }
}

/// Why a value's `Debug` text (a `%` field's `Display`) could not be written: that user code
/// returned an error or panicked. Shown where the text would have been: `<formatting
/// failed>`, `<formatting panicked: message>`.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))] // used by the `tracing` layers
pub(crate) enum DebugFailure {
    Failed,
    Panicked(Box<dyn Any + Send>),
}

impl fmt::Display for DebugFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed => f.write_str("<formatting failed>"),
            Self::Panicked(panic) => {
                write!(f, "<formatting panicked: {}>", panic_message(&**panic))
            }
        }
    }
}

/// An error and its sources as text ([`ErrorChain`]); `<formatting failed>` if a `Display` in
/// the chain returned an error (where `to_string` would panic).
fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    match fmt::write(&mut text, format_args!("{}", ErrorChain(error))) {
        Ok(()) => text,
        Err(fmt::Error) => DebugFailure::Failed.to_string(),
    }
}

/// A panic payload's message.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// `my_crate::errors::PaymentError` → `PaymentError` (generic arguments kept).
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    let short = base.rsplit("::").next().unwrap_or(base);
    format!("{short}{}", &full[base.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct PaymentDeclined {
        #[allow(dead_code)] // shown by Debug only
        code: u32,
    }

    struct PaymentError;

    #[test]
    fn errors_keep_type_and_message() {
        let boxed: lambda_runtime::Error = "card expired".into();
        assert_eq!(
            Failure::from_error(&boxed),
            Failure::new("lambda_runtime::Error", "card expired")
        );
        let custom = PaymentDeclined { code: 51 };
        assert_eq!(
            Failure::from_error(&custom),
            Failure::new("PaymentDeclined", "PaymentDeclined { code: 51 }")
        );
        let diagnostic = lambda_runtime::Diagnostic {
            error_type: "Payment.Declined".into(),
            error_message: "no funds".into(),
        };
        assert_eq!(Failure::from_error(&diagnostic).kind(), "Payment.Declined");
        assert_eq!(
            Failure::from_error(&"plain".to_owned()).to_value(),
            json!({ "type": "String", "message": "plain" })
        );
    }

    /// An error whose `Display` returns an error.
    #[derive(Debug)]
    struct FailingDisplay;

    impl fmt::Display for FailingDisplay {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }

    impl std::error::Error for FailingDisplay {}

    #[test]
    fn a_handler_error_whose_display_fails_is_described_without_a_panic() {
        let boxed: lambda_runtime::Error = Box::new(FailingDisplay);
        assert_eq!(
            Failure::from_error(&boxed),
            Failure::new("lambda_runtime::Error", "<formatting failed>")
        );
    }

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(short_type_name::<PaymentError>(), "PaymentError");
        assert_eq!(short_type_name::<std::io::Error>(), "Error");
        assert_eq!(
            short_type_name::<Box<dyn std::error::Error + Send + Sync>>(),
            "Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
        );
    }

    #[test]
    fn panics_give_their_message() {
        let payload: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(
            Failure::from_panic(&*payload),
            Failure::new("panic", "boom")
        );
        let payload: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(&*payload), "Box<dyn Any>");
    }
}
