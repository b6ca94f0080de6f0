//! X-Ray trace headers (`Lambda-Runtime-Trace-Id`).
//!
//! Format: `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`, optionally
//! followed by other keys such as `Lineage=…`.

use std::fmt;
use std::time::SystemTime;

use crate::emulator::ids::{random_hex, since_epoch};

/// A parsed or generated X-Ray trace header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// The trace id, e.g. `1-5759e988-bd862e3fe1be46a994272793`.
    pub root: String,
    /// The id of the parent segment (16 hex digits).
    pub parent: String,
    /// Whether `Sampled=1` is set.
    pub sampled: bool,
}

impl TraceHeader {
    /// Generates a fresh sampled header: a root id stamped with the current time, a random
    /// parent id and `Sampled=1`.
    pub fn generate() -> Self {
        Self::generate_at(SystemTime::now(), true)
    }

    /// Generates a fresh header with the given sampling decision, stamped at `now`.
    pub fn generate_at(now: SystemTime, sampled: bool) -> Self {
        let secs = u32::try_from(since_epoch(now).as_secs()).unwrap_or(u32::MAX);
        Self {
            root: format!("1-{secs:08x}-{}", random_hex(24)),
            parent: random_hex(16),
            sampled,
        }
    }

    /// Parses a header value. `Root` and `Parent` are required; `Sampled` is `true` only for
    /// `Sampled=1`; other keys are ignored. Returns `None` when a required key is missing.
    pub fn parse(value: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for part in value.split(';') {
            let Some((key, val)) = part.trim().split_once('=') else {
                continue;
            };
            match key.trim() {
                "Root" => root = Some(val.trim().to_owned()),
                "Parent" => parent = Some(val.trim().to_owned()),
                "Sampled" => sampled = val.trim() == "1",
                _ => {}
            }
        }
        Some(Self {
            root: root?,
            parent: parent?,
            sampled,
        })
    }

    /// Whether the header has the exact shape Lambda uses: `1-<8 hex>-<24 hex>` root and a
    /// 16 hex digit parent, all lowercase.
    pub fn is_well_formed(&self) -> bool {
        let parts: Vec<&str> = self.root.split('-').collect();
        parts.len() == 3
            && parts[0] == "1"
            && is_lower_hex(parts[1], 8)
            && is_lower_hex(parts[2], 24)
            && is_lower_hex(&self.parent, 16)
    }
}

fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Root={};Parent={};Sampled={}",
            self.root,
            self.parent,
            u8::from(self.sampled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn generated_header_is_well_formed_and_round_trips() {
        let at = UNIX_EPOCH + Duration::from_secs(0x5759_e988);
        let header = TraceHeader::generate_at(at, true);
        assert!(header.is_well_formed(), "{header}");
        assert!(header.root.starts_with("1-5759e988-"));
        let text = header.to_string();
        assert!(text.ends_with(";Sampled=1"), "{text}");
        assert_eq!(TraceHeader::parse(&text), Some(header.clone()));
        assert_ne!(TraceHeader::generate().root, TraceHeader::generate().root);
        let unsampled = TraceHeader::generate_at(at, false).to_string();
        assert!(unsampled.ends_with(";Sampled=0"));
    }

    #[test]
    fn parse_is_lenient_but_requires_root_and_parent() {
        let parsed = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=25:a87bd80c:1",
        )
        .expect("valid header");
        assert!(parsed.sampled && parsed.is_well_formed());
        assert!(
            !TraceHeader::parse("Root=1-a-b;Parent=x;Sampled=?")
                .expect("parses")
                .sampled
        );
        assert!(
            !TraceHeader::parse("Root=1-a-b;Parent=x")
                .expect("parses")
                .is_well_formed()
        );
        assert_eq!(TraceHeader::parse("Root=1-a-b"), None);
        assert_eq!(TraceHeader::parse("garbage"), None);
        assert_eq!(TraceHeader::parse(""), None);
    }
}
