#!/usr/bin/env bash
# Side-by-side throughput of tallyd at an older commit and at the working tree, alternating runs
# on this machine with the same client, so noise hits both alike (docs/benchmarks.md):
#   Scripts/bench-ab.sh OLD_REF [ROUNDS]          (default 3 rounds, 6 s per run)
# Shapes: durable credits at 32 connections x depth 1, pipelined balance reads at 4 x 16.
set -euo pipefail
cd "$(dirname "$0")/.."
old_ref=${1:?usage: Scripts/bench-ab.sh OLD_REF [ROUNDS]}
rounds=${2:-3}
seconds=${BENCH_SECONDS:-6}
old_tree=$(mktemp -d /tmp/tally-ab-old-XXXXXX)
work=$(mktemp -d /tmp/tally-ab-XXXXXX)
trap 'jobs -p | xargs -r kill -9 2>/dev/null; git worktree remove --force "$old_tree" 2>/dev/null; rm -rf "$work"' EXIT
git worktree add -q --detach "$old_tree" "$old_ref"
echo "== building $old_ref and the working tree (release)"
(cd "$old_tree" && swift build -c release --product tallyd --scratch-path "$old_tree/.build-ab" >/dev/null)
swift build -c release --product tallyd >/dev/null
swift build -c release --product tally >/dev/null
new_bin=$(swift build -c release --show-bin-path)
old_bin=$(cd "$old_tree" && swift build -c release --scratch-path "$old_tree/.build-ab" --show-bin-path)

run() {  # run TALLYD MIX DEPTH CONNECTIONS: one bench line against a fresh tallyd
  rm -rf "$work/data" "$work/s"
  "$1" --data-dir "$work/data" --socket "$work/s" --snapshot-interval 0 --log-level error >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 200); do [ -S "$work/s" ] && break; sleep 0.05; done
  "$new_bin/tally" bench --socket "$work/s" --mix "$2" --depth "$3" --connections "$4" --duration "$seconds" | tail -1
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
rate() { sed -n 's/.* \([0-9]*\) calls\/s.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== $(nproc) cores; $rounds rounds of ${seconds} s, alternating $old_ref and the working tree"
for shape in "credit 1 32" "balance 16 4"; do
  set -- $shape
  old_rates=(); new_rates=()
  for _ in $(seq "$rounds"); do
    old_rates+=("$(run "$old_bin/tallyd" "$1" "$2" "$3" | rate)")
    new_rates+=("$(run "$new_bin/tallyd" "$1" "$2" "$3" | rate)")
  done
  old_median=$(printf '%s\n' "${old_rates[@]}" | median)
  new_median=$(printf '%s\n' "${new_rates[@]}" | median)
  echo "$1 x depth $2 x $3 connections: $old_ref ${old_rates[*]} (median $old_median) | now ${new_rates[*]} (median $new_median) | ratio $(awk -v a="$new_median" -v b="$old_median" 'BEGIN {printf "%.2f", a / b}')"
done
