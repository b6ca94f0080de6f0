//! Fixed texts appended without a call: a text of any length up to a bound, padded to the
//! bound, is one copy of a constant size (a few vector moves) cut to length, where a copy of
//! its own length is a call to `memcpy`.

/// `text` padded with zeros to `N` bytes, and its length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PaddedText<const N: usize> {
    padded: [u8; N],
    len: usize,
}

impl<const N: usize> PaddedText<N> {
    /// `text`, which must fit: checked while compiling where the value is a constant (as every
    /// caller's is), else when it is made.
    pub(crate) const fn new(text: &[u8]) -> Self {
        assert!(text.len() <= N, "a text too long to pad");
        let mut padded = [0; N];
        let mut at = 0;
        while at < text.len() {
            padded[at] = text[at];
            at += 1;
        }
        Self {
            padded,
            len: text.len(),
        }
    }

    /// Appends the text: all `N` bytes, then cut to its length.
    #[inline]
    pub(crate) fn push_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.padded);
        out.truncate(out.len() - (N - self.len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_text_alone() {
        const PADDED: PaddedText<8> = PaddedText::new(b"abc");
        let mut out = b"x".to_vec();
        PADDED.push_to(&mut out);
        PaddedText::<3>::new(b"def").push_to(&mut out);
        PaddedText::<4>::new(b"").push_to(&mut out);
        assert_eq!(out, b"xabcdef");
    }
}
