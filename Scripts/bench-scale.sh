#!/usr/bin/env bash
# Steadiness at scale (docs/benchmarks.md "Steady at scale"): long runs against one
# release tallyd with --fsync always and a snapshot every 5 s, 100,000 users:
#   - usage consumes at 4 connections x depth 64, then durable spends at 32 x 1;
#   - for each: the latency distribution up to the max, whether the run ended on time, and the
#     calls slower than 50 ms grouped by the moment they were sent (a stall of the whole server
#     shows as every connection slow at one moment);
#   - tallyd's resident memory after each run, per user and per transaction it holds.
# Prints each bar with its figure:
#   max latency <= 50 ms; p99.9 <= 10x p50; each run ends within 1 % of its duration.
#   Scripts/bench-scale.sh
# Environment: SCALE_SECONDS (60 per run), SCALE_USERS (100000), TALLYD (a tallyd binary to use
# instead of building one), BENCH_SCRATCH_PATH (swift build's scratch path, default .build),
# SCALE_CPUS=split (tallyd on CPU 0, tally-bench on CPU 1, with taskset: on a 2-core machine the
# load generator's threads and tallyd's otherwise preempt each other, which sets the p99.9;
# docs/benchmarks.md, "Steady at scale at 8e2e1a3").
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SCALE_SECONDS:-60}
users=${SCALE_USERS:-100000}
. Scripts/lib/one-tallyd.sh scale

tallyd_cpus=() bench_cpus=()
if [ "${SCALE_CPUS:-}" = split ]; then
  tallyd_cpus=(taskset -c 0) bench_cpus=(taskset -c 1)
  echo "== tallyd on CPU 0, tally-bench on CPU 1"
fi
"${tallyd_cpus[@]}" "$TALLYD" --data-dir "$work/data" --socket "$work/s" --fsync always --snapshot-interval 5 \
  --log-level warning >"$work/tallyd.log" 2>&1 &
pid=$!
for _ in $(seq 200); do [ -S "$work/s" ] && break; sleep 0.05; done
idle=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

verdict() { if [ "$1" = 1 ]; then echo yes; else echo NO; fi; }

run() {  # name mix connections depth
  local name=$1 mix=$2 conn=$3 depth=$4
  echo "== $name: $conn connections x depth $depth, $seconds s, $users users, a snapshot every 5 s"
  "${bench_cpus[@]}" "$bench" --socket "$work/s" --mix "$mix" --connections "$conn" --depth "$depth" --duration "$seconds" \
    --users "$users" --slow-us 50000 >"$work/$name.out" 2>"$work/$name.slow" || true
  cat "$work/$name.out"
  local line took p50 p999 max
  line=$(grep "^tally-bench" "$work/$name.out")
  took=$(sed -n 's/.*, \([0-9.]*\) s, .*/\1/p' <<<"$line")
  p50=$(sed -n 's/.* p50 \([0-9.]*\) .*/\1/p' <<<"$line")
  p999=$(sed -n 's/.* p99.9 \([0-9.]*\) .*/\1/p' <<<"$line")
  max=$(sed -n 's/.* max \([0-9.]*\).*/\1/p' <<<"$line")
  if [ -s "$work/$name.slow" ]; then
    echo "   calls over 50 ms, by when they were sent (s into the run): count, slowest ms"
    awk '{t=sprintf("%.1f", $6); n[t]++; if ($13 + 0 > m[t] + 0) m[t]=$13} END {for (t in n) printf "     %6s s: %d calls, up to %s ms\n", t, n[t], m[t]}' \
      "$work/$name.slow" | sort -n -k1 | head -20
  fi
  local rss
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "   tallyd RSS $((rss / 1024)) MiB ($(((rss - idle) / 1024)) MiB above idle)"
  echo "   bar: max latency <= 50 ms: $(verdict "$(awk -v m="$max" 'BEGIN {print (m <= 50000)}')") (max ${max} us)"
  echo "   bar: p99.9 <= 10x p50: $(verdict "$(awk -v a="$p999" -v b="$p50" 'BEGIN {print (a <= 10 * b)}')") (p99.9 ${p999} us = $(awk -v a="$p999" -v b="$p50" 'BEGIN {printf "%.1f", a / b}')x p50 ${p50} us)"
  echo "   bar: ends within 1 % of ${seconds} s: $(verdict "$(awk -v t="$took" -v s="$seconds" 'BEGIN {print (t <= s * 1.01)}')") (${took} s)"
}

run consumes consume 4 64
run spends spend 32 1
# What the memory holds, from tallyd itself (the tally CLI built beside tallyd, if there is one).
cli="$(dirname "$TALLYD")/tally"
if [ -x "$cli" ]; then
  echo "== what tallyd holds now"
  "$cli" health --socket "$work/s" | grep -E "accounts|audit" | sed 's/^/   /' || true
fi
if grep -q "slow Writer turn" "$work/tallyd.log"; then
  echo "== tallyd logged slow Writer turns:"
  grep "slow Writer turn" "$work/tallyd.log" | head -10
fi
