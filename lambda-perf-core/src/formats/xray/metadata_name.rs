//! A metadata namespace or key: any text, or one kept with its JSON string written once.
//!
//! The namespace and keys of a captured response or error are the same in every invocation:
//! kept at setup ([`MetadataName::kept`]) with their JSON strings, they are copied into every
//! datagram as they are instead of being checked for escapes each time. Both forms are the
//! same text to everything else: compared, merged into one namespace and serialized by their
//! text alone.

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::formats::json::is_plain_text;
use crate::kept::kept;

/// A metadata namespace or key.
#[derive(Clone, Debug)]
pub(crate) enum MetadataName {
    /// Any text: escaped as JSON needs when written.
    Text(Cow<'static, str>),
    /// A text that needs no escape in a JSON string, with that string (the text between
    /// quotes), both kept for the life of the process (see [`MetadataName::kept`]).
    Plain {
        text: &'static str,
        quoted: &'static str,
    },
}

impl MetadataName {
    /// `text` kept for the life of the process ([`kept`]), and its JSON string with it when
    /// nothing in it needs an escape: for a name every invocation uses, set up once, so that
    /// its datagrams neither check it nor quote it again. A text the process no longer keeps
    /// (it keeps a few) is held as a copy, which each invocation copies again.
    pub(crate) fn kept(text: String) -> Self {
        Self::kept_by(text, kept)
    }

    /// [`MetadataName::kept`], with the texts kept by `keep` (`None`: not kept).
    pub(super) fn kept_by(
        text: String,
        mut keep: impl FnMut(&str) -> Option<&'static str>,
    ) -> Self {
        let Some(kept_text) = keep(&text) else {
            return Self::Text(Cow::Owned(text));
        };
        if is_plain_text(text.as_bytes()) {
            if let Some(quoted) = keep(&format!("\"{text}\"")) {
                return Self::Plain {
                    text: kept_text,
                    quoted,
                };
            }
        }
        Self::Text(Cow::Borrowed(kept_text))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Text(text) => text,
            Self::Plain { text, .. } => text,
        }
    }
}

impl std::ops::Deref for MetadataName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for MetadataName {
    fn from(text: &'static str) -> Self {
        Self::Text(Cow::Borrowed(text))
    }
}

impl From<String> for MetadataName {
    fn from(text: String) -> Self {
        Self::Text(Cow::Owned(text))
    }
}

impl From<Cow<'static, str>> for MetadataName {
    fn from(text: Cow<'static, str>) -> Self {
        Self::Text(text)
    }
}

/// Names are equal when their texts are, whichever form they have.
impl PartialEq for MetadataName {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.as_str(), other.as_str());
        // At once, without comparing bytes, when they are the same string.
        std::ptr::eq(a, b) || a == b
    }
}

impl PartialEq<str> for MetadataName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Display for MetadataName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MetadataName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A keeper of texts with room for `room` of them, as the process's is until it is full.
#[cfg(test)]
pub(super) fn keeper(mut room: usize) -> impl FnMut(&str) -> Option<&'static str> {
    move |text| {
        room = room.checked_sub(1)?;
        Some(&*Box::leak(text.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_texts_that_need_no_escape_are_plain() {
        for (text, plain) in [
            ("orders", true),
            ("## handler response", true),
            ("é ✓", true),
            ("", true),
            ("quote \"", false),
            ("back\\slash", false),
            ("line\n", false),
        ] {
            let name = MetadataName::kept_by(text.to_owned(), keeper(2));
            match &name {
                MetadataName::Plain { quoted, .. } => {
                    assert!(plain, "{text:?}");
                    assert_eq!(*quoted, serde_json::to_string(text).unwrap());
                }
                MetadataName::Text(_) => assert!(!plain, "{text:?}"),
            }
            assert_eq!(name, MetadataName::from(text.to_owned()));
            assert_eq!(*name, *text);
            assert_eq!(
                serde_json::to_string(&name).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    /// Once the process keeps no more texts, a name is held as a copy (or, when its quoted
    /// form could not be kept, as its kept text alone): the same name all the same.
    #[test]
    fn a_name_the_process_cannot_keep_is_the_same_name() {
        for text in ["orders", "quote \""] {
            let not_kept = MetadataName::kept_by(text.to_owned(), keeper(0));
            assert!(
                matches!(&not_kept, MetadataName::Text(Cow::Owned(_))),
                "{not_kept:?}"
            );
            let text_alone = MetadataName::kept_by(text.to_owned(), keeper(1));
            assert!(
                matches!(&text_alone, MetadataName::Text(Cow::Borrowed(_))),
                "{text_alone:?}"
            );
            let kept = MetadataName::kept_by(text.to_owned(), keeper(2));
            for name in [&not_kept, &text_alone] {
                assert_eq!(*name, kept);
                assert_eq!(
                    serde_json::to_string(name).unwrap(),
                    serde_json::to_string(&kept).unwrap()
                );
            }
        }
    }
}
