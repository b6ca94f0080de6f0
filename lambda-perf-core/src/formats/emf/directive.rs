//! The directive of the latest EMF line, kept for the next one.
//!
//! From `,"CloudWatchMetrics"` to the last dimension's value, a line depends only on its
//! namespace, its dimensions and its metric definitions: the same from one warm invocation to
//! the next. The cache compares what the directive depends on with what the kept bytes were
//! written from, part by part and without copying it (nor scanning it for escapes), and
//! copies the bytes it wrote last time when nothing changed.

/// Keys longer than this (a directive of many long names) are not kept: such a directive is
/// written anew each time. The directive itself is at most a few bytes per key byte longer.
const KEPT_BYTES: usize = 16 * 1024;

/// Where a directive's key goes, part by part: into a buffer, or compared with a kept one.
pub(crate) trait KeyParts {
    /// The next part of the key: a length or a count.
    fn number(&mut self, number: usize);
    /// The next part of the key: text.
    fn text(&mut self, text: &[u8]);
}

impl KeyParts for Vec<u8> {
    #[inline]
    fn number(&mut self, number: usize) {
        self.extend_from_slice(&number.to_ne_bytes());
    }

    #[inline]
    fn text(&mut self, text: &[u8]) {
        self.extend_from_slice(text);
    }
}

/// Compares a key, as it is given part by part, with a kept one.
struct SameKey<'a> {
    /// What is left of the kept key to compare.
    rest: &'a [u8],
    /// Whether every part so far matched.
    same: bool,
}

impl SameKey<'_> {
    /// Takes the next `N` bytes of the kept key, when it has them.
    #[inline]
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.rest.split_first_chunk::<N>()?;
        self.rest = tail;
        Some(*head)
    }
}

impl KeyParts for SameKey<'_> {
    #[inline]
    fn number(&mut self, number: usize) {
        let kept = self
            .take::<{ size_of::<usize>() }>()
            .map(usize::from_ne_bytes);
        self.same &= kept == Some(number);
    }

    #[inline]
    fn text(&mut self, text: &[u8]) {
        match self.rest.split_at_checked(text.len()) {
            Some((head, tail)) if head == text => self.rest = tail,
            _ => self.same = false,
        }
    }
}

/// What a directive is written from: its key, the parts it depends on (given to the cache
/// part by part), and the directive itself.
pub(crate) trait Directive {
    /// Gives `key` the parts this directive depends on, each length before its text.
    fn write_key(&self, key: &mut impl KeyParts);
    /// Writes the directive to `out`.
    fn write_directive(&self, out: &mut Vec<u8>);
}

/// The directive bytes of the latest line written through the cache, with what they depend
/// on.
#[derive(Debug, Default)]
pub(crate) struct DirectiveCache {
    /// What `bytes` were written from.
    key: Vec<u8>,
    bytes: Vec<u8>,
}

impl DirectiveCache {
    pub(crate) const fn new() -> Self {
        Self {
            key: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// Writes `directive` to `out`: the kept bytes when its key is the kept one, else as it
    /// writes itself (kept for next time).
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, directive: &impl Directive) {
        let mut same = SameKey {
            rest: &self.key,
            same: !self.key.is_empty(),
        };
        directive.write_key(&mut same);
        if same.same && same.rest.is_empty() {
            out.extend_from_slice(&self.bytes);
            return;
        }
        self.key.clear();
        directive.write_key(&mut self.key);
        self.bytes.clear();
        if self.key.len() > KEPT_BYTES {
            // Too large to keep (hundreds of long names): written as it is, every time.
            self.key = Vec::new();
            directive.write_directive(out);
            return;
        }
        directive.write_directive(&mut self.bytes);
        out.extend_from_slice(&self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directive of one text part, `key`, written as `bytes`.
    struct Fixed<'a> {
        key: &'a [u8],
        bytes: &'a [u8],
        wrote: std::cell::Cell<bool>,
    }

    impl Directive for Fixed<'_> {
        fn write_key(&self, key: &mut impl KeyParts) {
            key.number(self.key.len());
            key.text(self.key);
        }

        fn write_directive(&self, out: &mut Vec<u8>) {
            self.wrote.set(true);
            out.extend_from_slice(self.bytes);
        }
    }

    fn written(directives: &mut DirectiveCache, key: &[u8], bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let directive = Fixed {
            key,
            bytes,
            wrote: std::cell::Cell::new(false),
        };
        directives.write(&mut out, &directive);
        (out, directive.wrote.get())
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
            directives.key.capacity() <= KEPT_BYTES,
            "a large key is not kept"
        );
        // Nor is a key that ends where a kept one goes on, or that goes on past it.
        assert!(written(&mut directives, b"a", b"A3").1, "written anew");
        assert!(written(&mut directives, b"", b"E").1, "written anew");
        assert!(written(&mut directives, b"a", b"A4").1, "written anew");
        assert!(written(&mut directives, b"ab", b"AB2").1, "written anew");
    }
}
