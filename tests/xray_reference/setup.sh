#!/usr/bin/env bash
# Creates the Python venv that tests/tests/xray_reference.rs runs reference.py with, and
# installs the official X-Ray SDK (aws-xray-sdk) into it. Idempotent; works from any cwd.
#
#   venv: ${CARGO_TARGET_DIR:-<workspace>/target}/xray-reference-venv
#   override the interpreter the test uses with XRAY_REFERENCE_PYTHON=/path/to/python
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$workspace/target}"
# A relative CARGO_TARGET_DIR is relative to the workspace root, as cargo reads it.
case "$target" in /*) ;; *) target="$workspace/$target" ;; esac
venv="$target/xray-reference-venv"
# Pinned to the version the comparison was written against; override to try another.
requirement="${XRAY_REFERENCE_REQUIREMENT:-aws-xray-sdk==2.15.0}"

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$target"
    "$python" -m venv "$venv"
fi
if "$venv/bin/python" -c 'import aws_xray_sdk' 2>/dev/null; then
    exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement"
"$venv/bin/python" -c 'import aws_xray_sdk' || {
    echo "setup.sh: aws-xray-sdk did not install into $venv" >&2
    exit 1
}
