#!/usr/bin/env bash
# tallyd's CPU per call: utime + stime (/proc/PID/stat fields 14 and 15) around one tally bench
# run against a fresh tallyd, divided by the calls answered. Steadier than throughput on a
# shared machine (docs/benchmarks.md); alternate two builds to compare them.
#   Scripts/bench-cpu.sh TALLYD MIX DEPTH CONNECTIONS     (BENCH_SECONDS, default 6)
# TALLYD: a tallyd binary (swift build -c release --product tallyd). MIX: as tally bench --mix.
set -euo pipefail
cd "$(dirname "$0")/.."
tallyd=${1:?usage: Scripts/bench-cpu.sh TALLYD MIX DEPTH CONNECTIONS}
mix=${2:?mix}; depth=${3:?depth}; connections=${4:?connections}
seconds=${BENCH_SECONDS:-6}
swift build -c release --product tally >/dev/null
tally="$(swift build -c release --show-bin-path)/tally"
work=$(mktemp -d /tmp/tally-cpu-XXXXXX)
"$tallyd" --data-dir "$work/d" --socket "$work/s" --snapshot-interval 0 --log-level error >/dev/null 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do [ -S "$work/s" ] && break; sleep 0.05; done
bench() { "$tally" bench --socket "$work/s" --mix "$mix" --depth "$depth" --connections "$connections" --duration "$1" | tail -1; }
bench 2 >/dev/null  # warm up
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(ticks)
line=$(bench "$seconds")
after=$(ticks)
calls=$(echo "$line" | sed -n 's/.*: \([0-9]*\) calls,.*/\1/p')
hz=$(getconf CLK_TCK)
echo "$(basename "$tallyd") $mix ${depth}x$connections: $(awk -v a="$before" -v b="$after" -v c="$calls" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) * 1000000 / hz / c}') us/call ($calls calls)"
