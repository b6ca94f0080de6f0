//! Where a bench's layer keeps its start marker. Included with `#[path]` by the benches.

/// A directory of its own for the layer's start marker, removed when dropped (also when the
/// bench returns without measuring).
pub(crate) fn marker_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("lambda-perf-bench-")
        .tempdir()
        .unwrap()
}
