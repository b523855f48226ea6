#!/usr/bin/env bash
# Daily limits (docs/benchmarks.md): consume against spend, credit, balance and reserve-settle,
# side by side in one run on one machine, each mix against a fresh release tallyd:
#   one connection at depth 1 (unpipelined: calls/s, p50 and p99 latency), 32 connections at
#   depth 1, and 4 connections at depth 64 (pipelined: calls/s); with --fsync always and never.
# Rounds alternate the mixes (in a rotated order); one table gives each figure's median and the
# ratios to spend. Beside the client's view, tallyd's own CPU time per call (user + system, all its
# threads, from /proc/PID/stat), which other load on a shared machine disturbs less than calls/s.
#   Scripts/bench-usage.sh
# Environment: BENCH_SECONDS (5 per run), BENCH_ROUNDS (3), BENCH_FSYNC ("always never"),
# BENCH_MIXES ("consume spend credit balance reserve-settle"; ratios are against spend),
# BENCH_SCRATCH_PATH (swift build's scratch path, default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
modes=(${BENCH_FSYNC:-always never})
mixes=(${BENCH_MIXES:-consume spend credit balance reserve-settle})
scratch=${BENCH_SCRATCH_PATH:-.build}
shapes=("1 1" "32 1" "4 64")  # connections depth

swift build -c release --scratch-path "$scratch" --product tallyd >/dev/null
swift build -c release --scratch-path "$scratch" --product tally >/dev/null
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
work=$(mktemp -d /tmp/tally-bench-usage-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
sock="$work/tally.sock"

start() {  # start FSYNC: a tallyd on a fresh data directory; waits until it answers
  rm -rf "$work/data" "$sock"
  : >"$work/tallyd.log"
  "$bin/tallyd" --data-dir "$work/data" --socket "$sock" --fsync "$1" --snapshot-interval 0 \
    --snapshot-journal-mib 0 --log-level error >>"$work/tallyd.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q "tallyd serving" "$work/tallyd.log" && return
    kill -0 "$pid" 2>/dev/null || { cat "$work/tallyd.log"; exit 1; }
    sleep 0.05
  done
  echo "tallyd did not start"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }  # tallyd's user + system time, in clock ticks
hz=$(getconf CLK_TCK)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() {  # field NAME < bench line: calls/s, p50, p99 or notok
  case $1 in
    rate) sed -n 's/.* \([0-9]*\) calls\/s.*/\1/p' ;;
    p50) sed -n 's/.* p50 \([0-9]*\) .*/\1/p' ;;
    p99) sed -n 's/.* p99 \([0-9]*\) .*/\1/p' ;;
    notok) sed -n 's/.* \([0-9]*\) not OK.*/\1/p' ;;
    cpu) sed -n 's/.* tallyd cpu \([0-9.]*\) us\/call.*/\1/p' ;;
  esac
}

echo "== $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== release build; $rounds rounds of ${seconds} s per run; mixes ${mixes[*]}; a fresh tallyd per run"
declare -A results  # "mode|shape|mix" -> one bench line per round, newline-separated
for mode in "${modes[@]}"; do
  for round in $(seq "$rounds"); do
    for shape in "${shapes[@]}"; do
      set -- $shape
      n=${#mixes[@]}
      for i in $(seq 0 $((n - 1))); do
        mix=${mixes[$(( (i + round - 1) % n ))]}  # a rotated order each round
        start "$mode"
        # A run of no calls first does the set-up alone (spend credits its users, consume and
        # reserve-settle raise the limit): its CPU time is taken off the timed run's, which
        # does the same set-up again.
        t0=$(cpu_ticks)
        "$bin/tally" bench --socket "$sock" --mix "$mix" --connections 1 --duration 0 >/dev/null
        t1=$(cpu_ticks)
        line=$("$bin/tally" bench --socket "$sock" --mix "$mix" --connections "$1" --depth "$2" --duration "$seconds" | tail -1)
        t2=$(cpu_ticks)
        stop
        calls=$(printf '%s' "$line" | sed -n 's/.*s: \([0-9]*\) calls,.*/\1/p')
        cpu=$(awk -v a="$t2" -v b="$t1" -v c="$t0" -v n="$calls" -v hz="$hz" 'BEGIN {printf "%.1f", ((a - b) - (b - c)) / hz * 1e6 / n}')
        line+="; tallyd cpu $cpu us/call"
        echo "fsync $mode, round $round: $line"
        results["$mode|$shape|$mix"]+="$line"$'\n'
      done
    done
  done
done

stat() {  # stat MODE SHAPE MIX FIELD: the median of FIELD over the rounds
  printf '%s' "${results["$1|$2|$3"]}" | field "$4" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else printf "-"}'; }

echo
echo "== medians over $rounds rounds of ${seconds} s; calls/s counts reserve-settle's reserves and settles alike (two calls a cycle);"
echo "== latency is per call, send to answer; tallyd CPU is its user + system time per call, every thread, set-up excluded"
echo "| --fsync | connections x depth | mix | calls/s | calls/s vs spend | p50 µs | p99 µs | tallyd CPU µs/call | CPU vs spend |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
notok=0
for mode in "${modes[@]}"; do
  for shape in "${shapes[@]}"; do
    set -- $shape
    spend_rate=$(stat "$mode" "$shape" spend rate)
    spend_cpu=$(stat "$mode" "$shape" spend cpu)
    for mix in "${mixes[@]}"; do
      rate=$(stat "$mode" "$shape" "$mix" rate)
      cpu=$(stat "$mode" "$shape" "$mix" cpu)
      echo "| $mode | $1 x $2 | $mix | $rate | $(ratio "$rate" "$spend_rate") | $(stat "$mode" "$shape" "$mix" p50) | $(stat "$mode" "$shape" "$mix" p99) | $cpu | $(ratio "$cpu" "$spend_cpu") |"
      for v in $(printf '%s' "${results["$mode|$shape|$mix"]}" | field notok); do notok=$((notok + v)); done
    done
  done
done
echo
echo "calls not answered OK (refused or failed), all runs together: $notok"
