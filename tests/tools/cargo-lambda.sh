#!/usr/bin/env bash
# cargo-lambda for tests/tests/cargo_lambda.rs: a prebuilt binary shipped in its PyPI wheel
# (with the `ziglang` wheel it depends on), installed into a venv. Prints the venv's bin/
# directory, which holds `cargo-lambda`. Idempotent, under a lock; the test runs it on first
# use. Nothing is downloaded at test time: `cargo lambda watch` builds with the host
# toolchain and never fetches zig.
#
#   venv: ${CARGO_TARGET_DIR:-<workspace>/target}/cargo-lambda-venv
#   CARGO_LAMBDA_VERSION=...   another version (default 1.9.2, the one the test was written
#                              against)
tool="cargo-lambda (PyPI)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

venv="$target/cargo-lambda-venv"
version="${CARGO_LAMBDA_VERSION:-1.9.2}"
installed() {
    [ -x "$venv/bin/cargo-lambda" ] &&
        "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -qF " $version"
}

if ! installed; then
    lock cargo-lambda
    if ! installed; then
        python_venv "$venv"
        pip_install "$venv" "cargo-lambda==$version"
        installed || fail "cargo-lambda $version does not run from $venv after pip install"
    fi
fi
echo "$venv/bin"
