#!/usr/bin/env bash
# nni-lista's two entry points. Each sets up .venv on first use (or when pyproject.toml
# changed), then runs:
#   ./run.sh main   the main job: a short evolution search on a small problem, against LISTA
#   ./run.sh test   the test suite (extra arguments go to pytest)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.nni-lista-setup

setup() {
    local want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return
    fi
    echo "setting up $VENV (first run: a few minutes)..." >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # The installers' own notices go to a log, shown only when something fails.
    local log=$VENV/setup.log
    if ! {
        "$VENV/bin/python" -m pip install --quiet --upgrade pip &&
        # torch first and pinned: 2.13.0 is the CPU build; an unpinned resolve pulls CUDA (GBs).
        "$VENV/bin/python" -m pip install --quiet torch==2.13.0 &&
        "$VENV/bin/python" -m pip install --quiet -e '.[test]'
    } > "$log" 2>&1; then
        echo "setting up $VENV failed; the last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    echo "$want" > "$STAMP"
}

# The deepinv extra lives in its own environment: it needs torch 2.14.1 (torchvision), .venv keeps
# the CPU build 2.13.0. tests/test_deepinv.py runs its round trip there.
DEEPINV_VENV=.venv-deepinv
setup_deepinv() {
    local want stamp=$DEEPINV_VENV/.nni-lista-setup
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    echo "setting up $DEEPINV_VENV for the deepinv extra (first run: a few minutes, 5.6 GB)..." >&2
    [ -x "$DEEPINV_VENV/bin/python" ] || "$PYTHON" -m venv "$DEEPINV_VENV"
    local log=$DEEPINV_VENV/setup.log
    if ! {
        "$DEEPINV_VENV/bin/python" -m pip install --quiet --upgrade pip &&
        "$DEEPINV_VENV/bin/python" -m pip install --quiet -e '.[deepinv]'
    } > "$log" 2>&1; then
        echo "setting up $DEEPINV_VENV failed; the last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
}

# The web UI test drives Debian's headless Chromium; install it (as root, with apt) when missing.
browser() {
    [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's chromium and chromium-driver for the web UI test..." >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "the web UI test needs /usr/bin/chromium and /usr/bin/chromedriver: sudo apt-get install chromium chromium-driver" >&2
    fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    main)
        setup
        exec "$VENV/bin/nni-lista" search --strategy evolution --m 100 --n 200 --layers 8 \
            --budget 16 --protocol e2e --max-steps 1500 --eval-every 250 --out runs/main "$@"
        ;;
    test)
        setup
        setup_deepinv
        browser
        exec "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        echo "usage: ./run.sh main|test [args...]" >&2
        exit 2
        ;;
esac
