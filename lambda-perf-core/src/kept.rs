//! Texts kept for the life of the process: what every invocation borrows instead of copying
//! (the service annotation, the metadata names of captured values), set up once.

use std::sync::{Mutex, PoisonError};

/// `text` kept for the life of the process, once per distinct text (a process has one
/// service and one handler name, or a few): what every invocation's records borrow instead
/// of copying it (the service annotation, the metadata names of captured values).
pub(crate) fn kept(text: &str) -> &'static str {
    static KEPT: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(text) = kept.iter().find(|kept| **kept == text) {
        return text;
    }
    let text: &'static str = Box::leak(text.into());
    kept.push(text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_kept_once() {
        let first = kept(&String::from("kept once"));
        let second = kept(&String::from("kept once"));
        assert!(std::ptr::eq(first, second));
        assert_eq!(first, "kept once");
        assert!(!std::ptr::eq(first, kept("kept twice")));
    }
}
