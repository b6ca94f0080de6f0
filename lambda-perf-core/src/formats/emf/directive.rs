//! The directive of the latest EMF line, kept for the next one.
//!
//! From `,"CloudWatchMetrics"` to the last dimension's value, a line depends only on its
//! namespace, its dimensions and its metric definitions: the same from one warm invocation to
//! the next. The cache compares what the directive depends on (a copy, not a scan for
//! escapes) and copies the bytes it wrote last time when nothing changed.

/// Keys longer than this (a directive of many long names) are not kept: such a directive is
/// written anew each time. The directive itself is at most a few bytes per key byte longer.
const KEPT_BYTES: usize = 16 * 1024;

/// The directive bytes of the latest line written through the cache, with what they depend
/// on.
#[derive(Debug, Default)]
pub(crate) struct DirectiveCache {
    /// What `bytes` were written from.
    key: Vec<u8>,
    /// The key of the line being written, compared with `key`.
    candidate: Vec<u8>,
    bytes: Vec<u8>,
}

impl DirectiveCache {
    pub(crate) const fn new() -> Self {
        Self {
            key: Vec::new(),
            candidate: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// Appends a line's directive to `out`: the kept bytes when `write_key` writes the key
    /// they were written for (the latest line's namespace, dimensions and definitions), else
    /// what `write_directive` writes, kept for the next line.
    pub(crate) fn write(
        &mut self,
        out: &mut Vec<u8>,
        write_key: impl FnOnce(&mut Vec<u8>),
        write_directive: impl FnOnce(&mut Vec<u8>),
    ) {
        self.candidate.clear();
        write_key(&mut self.candidate);
        if self.candidate.len() > KEPT_BYTES {
            // Too large to keep (hundreds of long names): written as it is, every time.
            self.candidate = Vec::new();
            write_directive(out);
            return;
        }
        if self.candidate != self.key {
            self.bytes.clear();
            write_directive(&mut self.bytes);
            std::mem::swap(&mut self.key, &mut self.candidate);
        }
        out.extend_from_slice(&self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(directives: &mut DirectiveCache, key: &[u8], bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut wrote = false;
        directives.write(
            &mut out,
            |into| into.extend_from_slice(key),
            |into| {
                wrote = true;
                into.extend_from_slice(bytes);
            },
        );
        (out, wrote)
    }

    #[test]
    fn a_directive_is_written_once_per_key_in_a_row() {
        let mut directives = DirectiveCache::new();
        assert_eq!(written(&mut directives, b"a", b"A"), (b"A".to_vec(), true));
        assert_eq!(
            written(&mut directives, b"a", b"ignored"),
            (b"A".to_vec(), false)
        );
        assert_eq!(
            written(&mut directives, b"ab", b"AB"),
            (b"AB".to_vec(), true)
        );
        assert_eq!(
            written(&mut directives, b"a", b"A2"),
            (b"A2".to_vec(), true)
        );
        let large = vec![b'x'; KEPT_BYTES + 1];
        for _ in 0..2 {
            let (out, wrote) = written(&mut directives, &large, b"L");
            assert_eq!(
                (out, wrote),
                (b"L".to_vec(), true),
                "written anew each time"
            );
        }
        assert!(
            directives.candidate.capacity() <= KEPT_BYTES,
            "a large key is not kept"
        );
        // The directive kept before is still there.
        assert_eq!(
            written(&mut directives, b"a", b"no"),
            (b"A2".to_vec(), false)
        );
        // A key that ends where the kept one goes on, or goes on past it, is another key.
        assert!(written(&mut directives, b"", b"E").1, "written anew");
        assert!(written(&mut directives, b"a", b"A3").1, "written anew");
        assert!(written(&mut directives, b"ab", b"AB2").1, "written anew");
    }
}
