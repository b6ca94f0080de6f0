//! Whether a bench binary was started to measure. Included with `#[path]` by the benches whose
//! own measurements run after (or instead of) criterion's.

/// `cargo bench` passes `--bench`; `cargo test --benches` does not, and a listing passes
/// `--list`: then nothing is measured.
pub(crate) fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|arg| arg == "--bench")
        && !args.iter().any(|arg| arg == "--test" || arg == "--list")
}
