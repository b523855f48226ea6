#!/usr/bin/env bash
# Admin/Health under overload (issue 20, docs/benchmarks.md "Health under overload"): one release
# tallyd (--fsync always), 200 connections of pipelined spends at depth 16 (up to 3,200 calls
# queued, past the Writer's queue limit, so some are shed), and beside them one admin
# connection calling Admin/Health one call at a time. Prints both tally-bench lines; the bar is
# the probe's p99 and max (a supervisor's probe must not wait behind the queue of calls).
#   Scripts/bench-health.sh
# Environment: HEALTH_SECONDS (20), TALLYD (a tallyd binary to use instead of building one),
# BENCH_SCRATCH_PATH (swift build's scratch path, default .build). Run as tallyd's own uid (or
# one with the admin role): Health is an admin method.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${HEALTH_SECONDS:-20}
. Scripts/lib/one-tallyd.sh health

"$TALLYD" --data-dir "$work/data" --socket "$work/s" --fsync always --log-level warning >"$work/tallyd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -S "$work/s" ] && break; sleep 0.05; done

echo "== load: spends, 200 connections x depth 16, $((seconds + 2)) s; probe: Admin/Health, 1 x 1, $seconds s from 1 s in"
"$bench" --socket "$work/s" --mix spend --connections 200 --depth 16 --duration $((seconds + 2)) --users 10000 \
  >"$work/load.out" 2>&1 &
load=$!
sleep 1
"$bench" --socket "$work/s" --mix health --connections 1 --depth 1 --duration "$seconds" >"$work/probe.out" 2>&1 || true
wait "$load" || true
echo "load:  $(grep '^tally-bench' "$work/load.out" || tail -1 "$work/load.out")"
echo "probe: $(grep '^tally-bench' "$work/probe.out" || tail -1 "$work/probe.out")"
