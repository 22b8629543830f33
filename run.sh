#!/usr/bin/env bash
# nni-lista's two entry points. Each sets up .venv on first use (or when pyproject.toml
# changed), then runs:
#   ./run.sh main   the main job: a short evolution search on a small problem, against LISTA
#   ./run.sh test   the test suite (extra arguments go to pytest)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
# The deepinv extra lives in its own environment: it needs torch 2.14.1 (torchvision), .venv keeps
# the CPU build 2.13.0. tests/test_deepinv.py runs its round trip there.
DEEPINV_VENV=.venv-deepinv

# install_steps DIR STEP...: pip itself upgraded, then one `pip install` per STEP (its words split
# on spaces, without globbing '.[test]'), stopping at the first that fails
install_steps() {
    local dir=$1 step
    shift
    "$dir/bin/python" -m pip install --quiet --upgrade pip || return 1
    for step in "$@"; do
        local -a words
        read -r -a words <<< "$step"
        "$dir/bin/python" -m pip install --quiet "${words[@]}" || return 1
    done
}

# make_venv DIR WHAT STEP...: set up the environment DIR (WHAT says which, in the message) with
# install_steps, unless it was set up from this pyproject.toml already. The installers' own
# notices go to DIR/setup.log, shown only when something fails.
make_venv() {
    local dir=$1 what=$2 want
    shift 2
    local stamp=$dir/.nni-lista-setup log=$dir/setup.log
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    echo "setting up $dir$what..." >&2
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    if ! install_steps "$dir" "$@" > "$log" 2>&1; then
        echo "setting up $dir failed; the last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
}

# torch first and pinned: 2.13.0 is the CPU build; an unpinned resolve pulls CUDA (GBs).
setup() { make_venv "$VENV" " (first run: a few minutes)" "torch==2.13.0" "-e .[test]"; }
setup_deepinv() { make_venv "$DEEPINV_VENV" " for the deepinv extra (first run: a few minutes, 5.6 GB)" "-e .[deepinv]"; }

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
