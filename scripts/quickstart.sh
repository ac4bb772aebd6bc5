#!/usr/bin/env bash
# One entry point for the README's quick start and for CI:
#   bash scripts/quickstart.sh demo   set up, then open the app on the bundled demo data set
#   bash scripts/quickstart.sh test   set up, then run the whole test suite (what CI runs)
# Set-up is idempotent: a virtual environment in .venv with the project installed in it.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-demo}"
shift || true

log() { printf '\033[1m[mmgpvae]\033[0m %s\n' "$*" >&2; }

system_packages() {
    # Xvfb + Mesa + the xcb libraries Qt needs (tests run the real window on a virtual screen).
    local pkgs="xvfb libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 \
libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 \
libdbus-1-3 libfontconfig1"
    if command -v Xvfb >/dev/null && ldconfig -p | grep -q libxcb-cursor; then return 0; fi
    if ! command -v apt-get >/dev/null; then
        log "no apt-get: install Xvfb, Mesa and Qt's xcb libraries with your package manager"
        return 0
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing Xvfb, Mesa and Qt's xcb libraries (apt-get)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
}

python_env() {
    local py="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        "$py" -m venv .venv
    fi
    if ! .venv/bin/python -c "import torch" 2>/dev/null; then
        # A pinned CPU-friendly torch first: a bare 'torch' can pull a multi-GB CUDA build.
        log "installing torch"
        .venv/bin/pip install -q "torch==2.13.0" || .venv/bin/pip install -q torch
    fi
    if ! .venv/bin/python -c "import mmgpvae_core, mmgpvae_gui, pytestqt" 2>/dev/null \
        || [ pyproject.toml -nt .venv/.installed ]; then
        log "installing MM-GPVAE Studio and its dependencies"
        .venv/bin/pip install -q -e ".[test]"
        touch .venv/.installed
    fi
}

case "$what" in
    demo)
        python_env
        exec .venv/bin/mmgpvae-gui --demo "$@"
        ;;
    test)
        if [ "$(uname)" = "Linux" ]; then system_packages; fi
        python_env
        export QT_API=pyside6
        .venv/bin/ruff check mmgpvae_core mmgpvae_gui tests benchmarks
        .venv/bin/python scripts/check_layers.py
        exec .venv/bin/python -X faulthandler -m pytest -p no:cacheprovider "$@"
        ;;
    *)
        echo "usage: bash scripts/quickstart.sh demo|test [args]" >&2
        exit 2
        ;;
esac
