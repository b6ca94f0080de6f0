# Shared by the installers in this directory (sourced, not run). Each installer puts one tool
# the tests need where the tests look for it, prints that path as its last stdout line, and
# exits 0; or it says on stderr exactly what it could not install and why, and exits 1.
#
# Tests run the installers on first use, several at once (nextest runs tests in parallel
# processes), so every installer is idempotent and installs under a lock.
#
#   tool="name of the tool"; source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$tools_dir/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$workspace/target}"
# A relative CARGO_TARGET_DIR is relative to the workspace root, as cargo reads it.
case "$target" in /*) ;; *) target="$workspace/$target" ;; esac

# Says what could not be installed and why, and exits 1.
fail() {
    echo "could not install $tool: $*" >&2
    exit 1
}

# Holds an exclusive lock named $1 under the target dir until the installer exits.
lock() {
    mkdir -p "$target/tools"
    exec 9>"$target/tools/$1.lock"
    flock 9
}

# Installs Debian packages with apt-get; fails with the reason when that is impossible (no
# apt-get, not root) or apt-get fails.
apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        fail "it needs the Debian package(s) $*, and this machine has no apt-get"
    [ "$(id -u)" = 0 ] ||
        fail "it needs the Debian package(s) $*, and apt-get needs root (this is uid $(id -u)): run \`sudo apt-get install $*\`"
    local log="$target/tools/apt-get.log"
    mkdir -p "$target/tools"
    # One apt-get of these installers at a time (two tests may each need a package at once;
    # they share the log), released when the installer exits. Another apt-get on the machine
    # is waited for on dpkg's own lock.
    exec 8>"$target/tools/apt-get.lock"
    flock 8
    local options=(-qq -o DPkg::Lock::Timeout=600)
    echo "installing $* with apt-get (once; log in $log)" >&2
    # `update` takes the package lists' lock, which dpkg's timeout may not cover: while
    # another apt-get (unattended-upgrades, on a fresh machine) holds it, try again, for up
    # to 10 minutes.
    local attempt=0
    until DEBIAN_FRONTEND=noninteractive apt-get "${options[@]}" update >"$log" 2>&1; do
        attempt=$((attempt + 1))
        if ! grep -q "Could not get lock" "$log" || [ "$attempt" -ge 60 ]; then
            fail "apt-get update failed: $(tail -n 5 "$log" | tr '\n' ' ')"
        fi
        sleep 10
    done
    DEBIAN_FRONTEND=noninteractive apt-get "${options[@]}" install -y \
        --no-install-recommends "$@" >>"$log" 2>&1 ||
        fail "apt-get install $* failed: $(tail -n 5 "$log" | tr '\n' ' ')"
}

# Creates the Python venv $1 (if it has no interpreter yet) with `${PYTHON:-python3}`. A
# Debian python3 without its venv module gets python3-venv first, when that is possible.
python_venv() {
    local venv="$1" python="${PYTHON:-python3}"
    [ -x "$venv/bin/python" ] && return 0
    command -v "$python" >/dev/null 2>&1 || fail "it needs Python 3 ($python is not on PATH)"
    mkdir -p "$(dirname "$venv")"
    if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
        rm -rf "$venv"
        apt_install python3-venv
        "$python" -m venv "$venv" || fail "\`$python -m venv $venv\` failed"
    fi
}

# Installs the PyPI requirement $2 into the venv $1, quietly.
pip_install() {
    local venv="$1" requirement="$2" log
    log="$target/tools/pip-$(basename "$venv").log"
    mkdir -p "$target/tools"
    echo "installing $requirement from PyPI into $venv (once; log in $log)" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check "$requirement" >"$log" 2>&1 ||
        fail "pip install $requirement failed: $(tail -n 5 "$log" | tr '\n' ' ')"
}
