#!/usr/bin/env bash
# Run a test selection N times in a row under CPU load (two busy processes beside it), with
# faulthandler on, and count passes, failures and crashes (exit codes ≥ 128: a signal).
#   bash scripts/soak.sh 10                 # the GUI suite, 10 times
#   bash scripts/soak.sh 20 tests/gui/test_training.py tests/gui/test_soak.py
# Logs go to ${SOAK_LOGS:-/tmp/mmgpvae-soak}/run-K.log. Needs the .venv of scripts/quickstart.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
n="${1:-10}"
shift || true
[ "$#" -gt 0 ] || set -- tests/gui
logs="${SOAK_LOGS:-/tmp/mmgpvae-soak}"
mkdir -p "$logs"
busy() { python3 -c "while True: pass" & }
busy; b1=$!
busy; b2=$!
trap 'kill $b1 $b2 2>/dev/null' EXIT
passed=0 failed=0 crashed=0
for k in $(seq 1 "$n"); do
    start=$(date +%s)
    QT_API=pyside6 timeout 1800 .venv/bin/python -X faulthandler -m pytest -p no:cacheprovider -q \
        "$@" >"$logs/run-$k.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); what="passed"
    elif [ "$rc" -ge 124 ]; then crashed=$((crashed + 1)); what="CRASHED or hung (exit $rc)"
    else failed=$((failed + 1)); what="failed (exit $rc)"
    fi
    echo "run $k/$n: $what in ${took}s — $(tail -n 1 "$logs/run-$k.log")"
done
echo "soak: $passed passed, $failed failed, $crashed crashed of $n runs under load ($*)"
[ "$passed" -eq "$n" ]
