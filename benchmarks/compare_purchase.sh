#!/usr/bin/env bash
# Interleaved A/B of the purchase benchmark: a base commit against the working tree.
#
#   bash benchmarks/compare_purchase.sh [BASE] [ROUNDS]      (defaults: eec1baf, 3)
#   DBS=postgres bash benchmarks/compare_purchase.sh         (one database only)
#
# BASE is checked out in a temporary git worktree and run with this checkout's .venv
# (PYTHONPATH points at the worktree, so its own travelsim/ and benchmarks/ are used). Each
# round runs base then HEAD on PostgreSQL (TEST_PG_ADMIN_URL, default
# postgresql://postgres@127.0.0.1:5432/test) and on a SQLite file, so both sides see the same
# machine load; the machine's speed drifts within the hour, so only interleaved pairs compare.
# Prints the p50 of each run (the portal's own wall time, and its CPU time, which other load
# on the machine disturbs less) and, per database and side, the median of the rounds.
# eec1baf is the last commit before Stripe (the "before" of the purchase benchmark).
set -euo pipefail
BASE=${1:-eec1baf}
ROUNDS=${2:-3}
DBS=${DBS:-postgres sqlite}
PG=${TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/test}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
WT=$(mktemp -d /tmp/travelsim-base-XXXXXX)
trap 'git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || true' EXIT
git -C "$ROOT" worktree add -q --detach "$WT" "$BASE"
declare -A RESULTS CPU
run() {  # run <dir> <db>: prints "<wall p50> <cpu p50>" of the portal's own time (ms)
  local dir=$1 db=$2 extra=()
  [ "$db" = postgres ] && extra=(--postgres "$PG")
  (cd "$dir" && PYTHONPATH="$dir" "$PY" -m benchmarks.purchase "${extra[@]}" 2>&1) |
    awk '/portal own time/ && !w {wall = $5; w = 1} /portal CPU time/ && !c {cpu = $5; c = 1}
         END {print wall, cpu}'
}
for round in $(seq 1 "$ROUNDS"); do
  for db in $DBS; do
    for side in base head; do
      dir=$ROOT
      [ "$side" = base ] && dir=$WT
      read -r p50 cpu < <(run "$dir" "$db")
      echo "round $round  $db  $side  p50 ${p50} ms  cpu p50 ${cpu} ms"
      RESULTS[$db-$side]="${RESULTS[$db-$side]:-} $p50"
      CPU[$db-$side]="${CPU[$db-$side]:-} $cpu"
    done
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for db in $DBS; do
  for side in base head; do
    echo "median  $db  $side  $(echo "${RESULTS[$db-$side]}" | median) ms" \
      "(runs:${RESULTS[$db-$side]})  cpu $(echo "${CPU[$db-$side]}" | median) ms" \
      "(runs:${CPU[$db-$side]})"
  done
done
