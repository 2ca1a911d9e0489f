#!/usr/bin/env bash
# The recovery table: the same work measured with each recovery behaviour under the same
# faults, then one report that puts them side by side (its "Recovery" section, recovery.csv,
# recovery.png and the recovery claims). See docs/FAULTS.md.
#
#   scripts/faults.sh [-- ARGS...]
#
# Runs `pushbench run --fault "$FAULT" --recovery B ARGS...` for B in $RECOVERIES into OUT/<B>,
# then `pushbench report OUT/<B>...` into OUT (index.html, report/), and prints the recovery table. Exits
# non-zero if a run or the report fails (a run that measured, exit 0, 3 or 5, still reports).
#
# Knobs (environment): FAULT (drop=5s), RECOVERIES ("resuming classic"), CLIENTS (200),
# RATE (10), DURATION (30s), OUT (results/faults-<UTC time>), FAULTS_NO_BUILD=1 (use the
# release binary as it is).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"
[ "${1:-}" = "--" ] && shift
FAULT="${FAULT:-drop=5s}"
RECOVERIES="${RECOVERIES:-resuming classic}"
CLIENTS="${CLIENTS:-200}"
RATE="${RATE:-10}"
DURATION="${DURATION:-30s}"
OUT="${OUT:-$root/results/faults-$(date -u +%Y%m%dT%H%M%SZ)}"

if [ "${FAULTS_NO_BUILD:-}" != 1 ]; then
    (cd "$root" && cargo build --release --bin pushbench)
fi
mkdir -p "$OUT"
dirs=()
status=0
for b in $RECOVERIES; do
    echo "== --fault $FAULT --recovery $b" >&2
    rc=0
    "$bin" run --fault "$FAULT" --recovery "$b" --clients "$CLIENTS" --rate "$RATE" \
        --duration "$DURATION" --no-report --out "$OUT/$b" "$@" || rc=$?
    case "$rc" in
        0 | 3 | 5) dirs+=("$OUT/$b") ;;
        *) echo "faults.sh: the $b run failed (exit $rc)" >&2; status=1 ;;
    esac
    [ "$rc" = 0 ] || [ "$status" != 0 ] || status=$rc
done
[ "${#dirs[@]}" -gt 0 ] || exit 1
"$bin" report "${dirs[@]}" --out "$OUT" || exit 1
echo "report: $OUT/index.html" >&2
if [ -f "$OUT/report/recovery.csv" ]; then
    column -s, -t < "$OUT/report/recovery.csv" || cat "$OUT/report/recovery.csv"
fi
exit "$status"
