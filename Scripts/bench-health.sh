#!/usr/bin/env bash
# Admin/Health under overload (docs/benchmarks.md "Health under overload"): one release
# tallyd (--fsync always), 200 connections of pipelined spends at depth 16 (up to 3,200 calls
# queued, past the Writer's queue limit, so some are shed), and beside them two admin
# connections calling Admin/Health one call at a time, side by side: one on the main socket
# (served on the loop that serves the load) and one on the admin socket (--admin-socket, a loop
# of its own). Prints the three tally-bench lines; the bar is the admin-socket probe's p99 and
# max (a supervisor's probe must not wait behind the clients' calls).
#   Scripts/bench-health.sh
# Environment: HEALTH_SECONDS (20), TALLYD (a tallyd binary to use instead of building one),
# BENCH_SCRATCH_PATH (swift build's scratch path, default .build). Run as tallyd's own uid (or
# one with the admin role): Health is an admin method.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${HEALTH_SECONDS:-20}
. Scripts/lib/one-tallyd.sh health

"$TALLYD" --data-dir "$work/data" --socket "$work/s" --admin-socket "$work/a" --fsync always --log-level warning >"$work/tallyd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -S "$work/s" ] && break; sleep 0.05; done

echo "== load: spends, 200 connections x depth 16, $((seconds + 2)) s; probes: Admin/Health, 1 x 1 on each socket, $seconds s from 1 s in"
"$bench" --socket "$work/s" --mix spend --connections 200 --depth 16 --duration $((seconds + 2)) --users 10000 \
  >"$work/load.out" 2>&1 &
load=$!
sleep 1
"$bench" --socket "$work/s" --mix health --connections 1 --depth 1 --duration "$seconds" >"$work/main.out" 2>&1 &
main=$!
"$bench" --socket "$work/a" --mix health --connections 1 --depth 1 --duration "$seconds" >"$work/admin.out" 2>&1 || true
wait "$main" || true
wait "$load" || true
echo "load:                $(grep '^tally-bench' "$work/load.out" || tail -1 "$work/load.out")"
echo "probe, main socket:  $(grep '^tally-bench' "$work/main.out" || tail -1 "$work/main.out")"
echo "probe, admin socket: $(grep '^tally-bench' "$work/admin.out" || tail -1 "$work/admin.out")"
