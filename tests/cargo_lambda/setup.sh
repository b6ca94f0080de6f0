#!/usr/bin/env bash
# Creates the Python venv that tests/tests/cargo_lambda.rs runs `cargo lambda` from, and
# installs cargo-lambda (a prebuilt binary shipped in its PyPI wheel, plus the `ziglang` wheel
# it depends on) into it. Idempotent, quiet; works from any cwd. Nothing is downloaded at test
# time: `cargo lambda watch` builds with the host toolchain and never fetches zig.
#
#   venv: ${CARGO_TARGET_DIR:-<workspace>/target}/cargo-lambda-venv
#   the test runs `cargo lambda` with the venv's bin/ first on PATH
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$workspace/target}"
# A relative CARGO_TARGET_DIR is relative to the workspace root, as cargo reads it.
case "$target" in /*) ;; *) target="$workspace/$target" ;; esac
venv="$target/cargo-lambda-venv"
# Pinned to the version the test was written against; override to try another.
version="${CARGO_LAMBDA_VERSION:-1.9.2}"

installed() {
    [ -x "$venv/bin/cargo-lambda" ] &&
        "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -qF " $version"
}

installed && exit 0
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$target"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==$version"
installed || {
    echo "setup.sh: cargo-lambda $version did not install into $venv" >&2
    exit 1
}
