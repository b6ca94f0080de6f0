//! A dimension: a name and a value that split a metric into separate CloudWatch series.

use std::borrow::Cow;

/// One dimension of an EMF dimension set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dimension {
    pub(crate) name: Cow<'static, str>,
    pub(crate) value: Cow<'static, str>,
}

impl Dimension {
    pub(crate) fn new(
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}
