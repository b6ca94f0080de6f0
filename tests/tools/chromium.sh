#!/usr/bin/env bash
# Chromium for the report's screenshot test (lambda-perf-local/tests/report_html.rs): the one
# on this machine, else Debian's `chromium` package, installed with apt-get (as root).
# Prints the binary's path. Idempotent, under a lock; the test runs it on first use.
#
#   LAMBDA_PERF_CHROMIUM=/path/to/chromium   use that binary instead
tool="chromium"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${LAMBDA_PERF_CHROMIUM:-}" ]; then
    [ -f "$LAMBDA_PERF_CHROMIUM" ] && [ -x "$LAMBDA_PERF_CHROMIUM" ] ||
        fail "LAMBDA_PERF_CHROMIUM=$LAMBDA_PERF_CHROMIUM is not an executable file"
    echo "$LAMBDA_PERF_CHROMIUM"
    exit 0
fi

found() {
    local candidate
    for candidate in /usr/bin/chromium "$(command -v chromium 2>/dev/null)" \
        "$(command -v chromium-browser 2>/dev/null)"; do
        if [ -n "$candidate" ] && [ -f "$candidate" ] && [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if ! found >/dev/null; then
    lock chromium
    if ! found >/dev/null; then
        apt_install chromium
        found >/dev/null || fail "apt-get installed chromium, yet no chromium binary is on PATH"
    fi
fi
found
