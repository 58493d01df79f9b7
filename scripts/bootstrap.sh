#!/usr/bin/env bash
# Make this checkout ready to run: the project's virtualenv and the system tools named as arguments.
#
#   scripts/bootstrap.sh [--no-venv] [TOOL...]
#
#   TOOL      a command the caller needs (redis-server, redis-cli, sipp, ...). Missing ones are installed
#             with apt-get (root only): see PACKAGE below for the command -> Debian package map.
#   --no-venv only the tools; leave .venv alone.
#
# The virtualenv is .venv (python3 -m venv); `pip install -e '.[test,compile]'` runs when pyproject.toml is
# newer than .venv/.installed-stamp. Then scripts/compile.py compiles the routing core with mypyc when its
# build is missing or older than its sources (gcc and the Python headers are apt-installed if missing). Idempotent, and quick when there is nothing to do (no network, no apt).
#
# Services: packages installed here never start their system service (redis-server on 6379, prometheus,
# kamailio): while apt-get runs, a /usr/sbin/policy-rc.d that denies service starts is put in place (unless
# one exists already) and removed afterwards. Omniroute never uses the system Redis on 6379.
#
# Environment: PYTHON (default python3) is the interpreter the venv is made from.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

VENV=$ROOT/.venv
STAMP=$VENV/.installed-stamp
PYTHON=${PYTHON:-python3}

# command -> Debian 12 package
declare -A PACKAGE=(
    [redis-server]=redis-server
    [redis-cli]=redis-tools
    [sipp]=sip-tester
    [espeak-ng]=espeak-ng
    [sox]=sox
    [chromium]=chromium
    [chromedriver]=chromium-driver
    [promtool]=prometheus
    [kamailio]=kamailio
    [make]=make
    [python3]=python3
)

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

# --- arguments -----------------------------------------------------------------------------------------
want_venv=1
tools=()
for arg in "$@"; do
    case $arg in
        --no-venv) want_venv=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $arg" ;;
        *)
            [ -n "${PACKAGE[$arg]:-}" ] ||
                die "don't know which Debian package provides '$arg': add it to PACKAGE in scripts/bootstrap.sh"
            tools+=("$arg")
            ;;
    esac
done

# One bootstrap at a time per checkout (two `make test` at once must not run pip or apt side by side).
if mkdir -p "$ROOT/.omniroute" 2>/dev/null && { exec 9>"$ROOT/.omniroute/bootstrap.lock"; } 2>/dev/null; then
    if ! flock -n 9; then
        say "waiting for another bootstrap of this checkout to finish..."
        flock 9
    fi
fi

# --- system tools ----------------------------------------------------------------------------------------
missing_pkgs=()
add_pkg() {
    local p
    for p in "${missing_pkgs[@]}"; do [ "$p" = "$1" ] && return 0; done
    missing_pkgs+=("$1")
}
for tool in "${tools[@]}"; do
    have "$tool" || add_pkg "${PACKAGE[$tool]}"
done

# The venv needs a Python >= 3.11 with venv/ensurepip (Debian splits that into python3-venv).
python_ok() {
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}
if [ $want_venv = 1 ] && [ ! -x "$VENV/bin/python" ]; then
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        [ "$PYTHON" = python3 ] || die "$PYTHON not found"
        add_pkg python3
        add_pkg python3-venv
    elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        if [ "$(command -v "$PYTHON")" = /usr/bin/python3 ]; then
            add_pkg python3-venv
        else
            die "$PYTHON ($(command -v "$PYTHON")) has no working venv/ensurepip module"
        fi
    fi
fi

policy_rc_d_ours=0
cleanup() {
    if [ $policy_rc_d_ours = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

apt_install() {
    local pkgs=("$@") failed=() p
    if [ "$(id -u)" -ne 0 ]; then
        die "missing package(s): ${pkgs[*]}. Install them as root: apt-get install -y ${pkgs[*]}   (or run this script as root)"
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "missing package(s): ${pkgs[*]}, and there is no apt-get here (Debian 12 expected): install them by hand"
    local marker="# written by omniroute scripts/bootstrap.sh while apt-get runs"
    # (a copy left by a bootstrap that was killed is ours too)
    if [ ! -e /usr/sbin/policy-rc.d ] || grep -qxF "$marker" /usr/sbin/policy-rc.d 2>/dev/null; then
        # Keep apt from starting the packages' services (and from failing where there is no init system).
        printf '#!/bin/sh\n%s\nexit 101\n' "$marker" >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_rc_d_ours=1
    fi
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
    say "installing ${pkgs[*]} (apt-get update, then install)"
    "${apt[@]}" -qq update >&2 ||
        die "apt-get update failed (needed to install package(s): ${pkgs[*]})"
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" -y -qq --no-install-recommends install "${pkgs[@]}" >&2; then
        # Find out which package(s) failed, to name them.
        for p in "${pkgs[@]}"; do
            DEBIAN_FRONTEND=noninteractive "${apt[@]}" -y -qq --no-install-recommends install "$p" >&2 ||
                failed+=("$p")
        done
        [ ${#failed[@]} -eq 0 ] || die "apt-get install failed for package(s): ${failed[*]}"
    fi
}

if [ ${#missing_pkgs[@]} -gt 0 ]; then
    apt_install "${missing_pkgs[@]}"
    for tool in "${tools[@]}"; do
        have "$tool" || die "'$tool' is still missing after installing package ${PACKAGE[$tool]}"
    done
fi

# --- virtualenv ---------------------------------------------------------------------------------------
[ $want_venv = 1 ] || exit 0

if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
    say "$VENV is broken or older than Python 3.11: recreating it"
    rm -rf "$VENV"
fi
if [ ! -e "$VENV" ]; then
    python_ok || die "Python >= 3.11 is required; $PYTHON is $("$PYTHON" -V 2>&1 || echo missing)"
    say "creating $VENV with $("$PYTHON" -V 2>&1) ($(command -v "$PYTHON"))"
    "$PYTHON" -m venv "$VENV" || { rm -rf "$VENV"; die "python3 -m venv failed"; }
fi
if [ ! -e "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    say "installing omniroute and its test dependencies into .venv (pip install -e '.[test,compile]')"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test,compile]' ||
        die "pip install -e '.[test,compile]' failed (see the messages above)"
    touch "$STAMP"
fi

# --- the compiled routing core (mypyc; router/compiled.py) --------------------------------------------
if ! "$VENV/bin/python" scripts/compile.py --check 2>/dev/null; then
    compile_pkgs=()
    have gcc || have cc || compile_pkgs+=(gcc)
    "$VENV/bin/python" -c 'import pathlib, sys, sysconfig; sys.exit(not (pathlib.Path(sysconfig.get_paths()["include"]) / "Python.h").exists())' ||
        compile_pkgs+=(python3-dev)
    if [ ${#compile_pkgs[@]} -gt 0 ]; then
        apt_install "${compile_pkgs[@]}"
    fi
    "$VENV/bin/python" scripts/compile.py || die "compiling the routing core failed (see the messages above)"
fi
