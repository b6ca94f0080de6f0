//! What an EMF line starts with: its namespace and the dimensions written before the set's
//! own. An output's configured ones are fixed at setup and carry an identity, which stands for
//! them in the directive cache's key instead of their text.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use super::dimension::Dimension;

/// The next identity a [`FixedHead`] takes: each is given once in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A namespace and leading dimensions fixed at setup (an output's configured ones), with an
/// identity no other value of this type has. Neither part can change after construction, so
/// the identity stands for both.
#[derive(Debug)]
pub(crate) struct FixedHead {
    /// `None` only once every identity was given (never, in practice).
    id: Option<NonZeroU64>,
    namespace: String,
    dimensions: Vec<Dimension>,
}

impl FixedHead {
    pub(crate) fn new(namespace: String, dimensions: Vec<Dimension>) -> Self {
        // Counts up from 1 and stops short of wrapping: no identity is given twice.
        let id = NEXT_ID
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1))
            .ok()
            .and_then(NonZeroU64::new);
        Self {
            id,
            namespace,
            dimensions,
        }
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    pub(crate) fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }
}

/// A line's namespace and leading dimensions: a [`FixedHead`]'s, with its identity, or any
/// others, without one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head<'a> {
    pub(super) namespace: &'a str,
    pub(super) dimensions: &'a [Dimension],
    /// The identity of the [`FixedHead`] the namespace and dimensions are, if any.
    id: Option<NonZeroU64>,
}

impl<'a> Head<'a> {
    /// A namespace and dimensions not fixed at setup: spelled out in the directive key.
    pub(crate) fn new(namespace: &'a str, dimensions: &'a [Dimension]) -> Self {
        Self {
            namespace,
            dimensions,
            id: None,
        }
    }

    /// What stands for the namespace and the dimensions in the directive key: the identity of
    /// the [`FixedHead`] they are (the same identity, the same text), or `None` when they must
    /// be spelled out.
    pub(super) fn id(&self) -> Option<NonZeroU64> {
        self.id
    }
}

impl<'a> From<&'a FixedHead> for Head<'a> {
    fn from(fixed: &'a FixedHead) -> Self {
        Self {
            namespace: &fixed.namespace,
            dimensions: &fixed.dimensions,
            id: fixed.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_head_has_its_own_identity() {
        let first = FixedHead::new("ns".into(), Vec::new());
        let second = FixedHead::new("ns".into(), Vec::new());
        assert!(Head::from(&first).id().is_some());
        assert_ne!(Head::from(&first).id(), Head::from(&second).id());
        assert_eq!(Head::from(&first).id(), Head::from(&first).id());
        assert_eq!(Head::new("ns", &[]).id(), None);
    }
}
