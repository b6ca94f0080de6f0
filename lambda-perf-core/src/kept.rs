//! Texts kept for the life of the process: what every invocation borrows instead of copying
//! (the service annotation, the metadata names of captured values), set up once.

use std::sync::{Mutex, PoisonError};

/// Most distinct texts the process keeps. A process builds its layers with one service and
/// one handler name, or a few; one that builds them with ever new names stops keeping them
/// here, and its invocations copy those names instead, rather than it leaking memory without
/// bound.
const MOST: usize = 64;

/// `text` kept for the life of the process, once per distinct text; `None` once [`MOST`]
/// texts are kept and `text` is not one of them.
pub(crate) fn kept(text: &str) -> Option<&'static str> {
    static KEPT: Mutex<Kept> = Mutex::new(Kept::new(MOST));
    KEPT.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .keep(text)
}

/// Distinct texts kept, up to a number of them.
struct Kept {
    texts: Vec<&'static str>,
    most: usize,
}

impl Kept {
    const fn new(most: usize) -> Self {
        Self {
            texts: Vec::new(),
            most,
        }
    }

    fn keep(&mut self, text: &str) -> Option<&'static str> {
        if let Some(kept) = self.texts.iter().find(|kept| **kept == text) {
            return Some(kept);
        }
        if self.texts.len() >= self.most {
            return None;
        }
        let kept: &'static str = Box::leak(text.into());
        self.texts.push(kept);
        Some(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_kept_once() {
        let mut kept = Kept::new(MOST);
        let first = kept.keep(&String::from("kept once")).unwrap();
        let second = kept.keep(&String::from("kept once")).unwrap();
        assert!(std::ptr::eq(first, second));
        assert_eq!(first, "kept once");
    }

    #[test]
    fn no_more_texts_are_kept_than_the_most() {
        let mut kept = Kept::new(2);
        let first = kept.keep("a").unwrap();
        assert!(kept.keep("b").is_some());
        assert_eq!(kept.keep("c"), None, "a third text");
        assert!(
            std::ptr::eq(kept.keep("a").unwrap(), first),
            "kept ones still found"
        );
    }
}
