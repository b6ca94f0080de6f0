//! CloudWatch metric units and storage resolution.

use std::fmt;
use std::str::FromStr;

use super::MetricsError;

macro_rules! units {
    ($($variant:ident => $text:literal,)*) => {
        /// A CloudWatch metric unit: exactly the 27 strings CloudWatch accepts.
        ///
        /// ```
        /// use lambda_perf_core::metrics::Unit;
        ///
        /// assert_eq!(Unit::BytesPerSecond.as_str(), "Bytes/Second");
        /// assert_eq!("Milliseconds".parse::<Unit>(), Ok(Unit::Milliseconds));
        /// assert!("Millis".parse::<Unit>().is_err());
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Unit {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )*
        }

        impl Unit {
            /// Every unit, in CloudWatch's order.
            pub const ALL: &'static [Unit] = &[$(Unit::$variant),*];

            /// A number of its own for each unit (its place in [`Unit::ALL`]).
            pub(crate) const fn code(self) -> u8 {
                self as u8
            }

            /// The unit as CloudWatch spells it.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Unit::$variant => $text,)*
                }
            }
        }

        impl FromStr for Unit {
            type Err = MetricsError;

            /// Parses CloudWatch's spelling of a unit (`"Count/Second"`); anything else is
            /// [`MetricsError::UnknownUnit`].
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Unit::$variant),)*
                    _ => Err(MetricsError::UnknownUnit { unit: text.to_owned() }),
                }
            }
        }
    };
}

units! {
    Seconds => "Seconds",
    Microseconds => "Microseconds",
    Milliseconds => "Milliseconds",
    Bytes => "Bytes",
    Kilobytes => "Kilobytes",
    Megabytes => "Megabytes",
    Gigabytes => "Gigabytes",
    Terabytes => "Terabytes",
    Bits => "Bits",
    Kilobits => "Kilobits",
    Megabits => "Megabits",
    Gigabits => "Gigabits",
    Terabits => "Terabits",
    Percent => "Percent",
    Count => "Count",
    BytesPerSecond => "Bytes/Second",
    KilobytesPerSecond => "Kilobytes/Second",
    MegabytesPerSecond => "Megabytes/Second",
    GigabytesPerSecond => "Gigabytes/Second",
    TerabytesPerSecond => "Terabytes/Second",
    BitsPerSecond => "Bits/Second",
    KilobitsPerSecond => "Kilobits/Second",
    MegabitsPerSecond => "Megabits/Second",
    GigabitsPerSecond => "Gigabits/Second",
    TerabitsPerSecond => "Terabits/Second",
    CountPerSecond => "Count/Second",
    None => "None",
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How finely CloudWatch stores a metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resolution {
    /// One-minute resolution (`StorageResolution` 60, CloudWatch's default; not written).
    #[default]
    Standard,
    /// One-second resolution (`StorageResolution` 1).
    High,
}

impl Resolution {
    /// The `StorageResolution` value in seconds.
    #[must_use]
    pub const fn seconds(self) -> u8 {
        match self {
            Self::Standard => 60,
            Self::High => 1,
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standard => f.write_str("standard (60 s)"),
            Self::High => f.write_str("high (1 s)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Unit;

    #[test]
    fn there_are_exactly_27_units_and_each_round_trips() {
        assert_eq!(Unit::ALL.len(), 27);
        for unit in Unit::ALL {
            assert_eq!(unit.as_str().parse::<Unit>(), Ok(*unit));
        }
    }

    #[test]
    fn each_unit_has_a_code_of_its_own() {
        for (index, unit) in Unit::ALL.iter().enumerate() {
            assert_eq!(usize::from(unit.code()), index, "{unit:?}");
        }
    }

    #[test]
    fn unknown_units_are_typed_errors() {
        for text in ["Millis", "count", "", "Bytes/second"] {
            assert!(text.parse::<Unit>().is_err(), "{text:?} must be rejected");
        }
    }
}
