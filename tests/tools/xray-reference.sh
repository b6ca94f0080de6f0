#!/usr/bin/env bash
# The Python interpreter tests/tests/xray_reference.rs runs reference.py with: a venv with the
# official X-Ray SDK (aws-xray-sdk, from PyPI). Prints the interpreter's path. Idempotent,
# under a lock; the test runs it on first use.
#
#   venv: ${CARGO_TARGET_DIR:-<workspace>/target}/xray-reference-venv
#   XRAY_REFERENCE_PYTHON=/path/to/python   use that interpreter instead (it must have the SDK)
#   XRAY_REFERENCE_REQUIREMENT=...           another version (default aws-xray-sdk==2.15.0,
#                                            the one the comparison was written against)
tool="aws-xray-sdk (Python)"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${XRAY_REFERENCE_PYTHON:-}" ]; then
    "$XRAY_REFERENCE_PYTHON" -c 'import aws_xray_sdk' 2>/dev/null ||
        fail "XRAY_REFERENCE_PYTHON=$XRAY_REFERENCE_PYTHON cannot import aws_xray_sdk"
    echo "$XRAY_REFERENCE_PYTHON"
    exit 0
fi

venv="$target/xray-reference-venv"
requirement="${XRAY_REFERENCE_REQUIREMENT:-aws-xray-sdk==2.15.0}"
installed() { "$venv/bin/python" -c 'import aws_xray_sdk' 2>/dev/null; }

if ! installed; then
    lock xray-reference
    if ! installed; then
        python_venv "$venv"
        pip_install "$venv" "$requirement"
        installed || fail "aws_xray_sdk does not import in $venv after pip install"
    fi
fi
echo "$venv/bin/python"
