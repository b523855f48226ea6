#!/usr/bin/env bash
# What watches cost the writes beside them (docs/benchmarks.md, "Watches beside a write load"):
# one tallyd; rounds alternate a `tally bench` write load alone and the same load with 1,000
# balance watches open (one connection each, one per user the load writes: every change is
# sent to one watcher) plus one watch of every user that never reads. Per run: calls/s, tallyd's
# CPU per call, p50 / p99 / max latency, tallyd's VmRSS after the run, and what the watchers
# read (and how the never-reading one ended). Medians last.
#   Scripts/bench-watch.sh [ROUNDS]     (BENCH_SECONDS 8, WATCHERS 1000, LOAD_USERS = WATCHERS,
#                                         MIX credit, CONNECTIONS 32, DEPTH 1)
# LOAD_USERS 10000 spreads the load over ten times as many users as are watched: one change in
# ten is then sent to a watcher. PER_CONNECTION 100 puts 100 watches on each connection (10
# connections for 1,000), as app servers holding many watches would. TALLYD: another tallyd
# binary to measure (default: this checkout's release build).
# Needs a release build (swift build -c release) and make -C Clients/c bench.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${BENCH_SECONDS:-8}
watchers=${WATCHERS:-1000}
load_users=${LOAD_USERS:-$watchers}
mix=${MIX:-credit}
connections=${CONNECTIONS:-32}
per_connection=${PER_CONNECTION:-1}
depth=${DEPTH:-1}
swift build -c release --product tallyd >/dev/null
swift build -c release --product tally >/dev/null
bin="$(swift build -c release --show-bin-path)"
tallyd=${TALLYD:-$bin/tallyd}
make -C Clients/c -s bench >/dev/null
watch_bin=Clients/c/build/tally-watchers

work=$(mktemp -d /tmp/tally-watch-XXXXXX)
"$tallyd" --data-dir "$work/d" --socket "$work/s" --log-level error \
  --max-connections 4096 --max-connections-per-uid 4096 ${TALLYD_ARGS:-} >"$work/tallyd.log" 2>&1 &
pid=$!
wpid=
trap '[ -n "$wpid" ] && kill -TERM $wpid 2>/dev/null; kill -TERM $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do [ -S "$work/s" ] && break; sleep 0.05; done

bench() { "$bin/tally" bench --socket "$work/s" --mix "$mix" --users "$load_users" --depth "$depth" --connections "$connections" --duration "$1" | tail -1; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
hz=$(getconf CLK_TCK)
bench 2 >/dev/null  # warm up, and every user exists

results=$work/results
: >"$results"
run() {  # run KIND: one measured bench run, with or without the watchers
  local kind=$1 watch_line="-"
  if [ "$kind" = watched ]; then
    "$watch_bin" "$work/s" "$watchers" --per-connection "$per_connection" --never-read >"$work/watchers.out" 2>&1 &
    wpid=$!
    for _ in $(seq 600); do grep -q "watches open" "$work/watchers.out" 2>/dev/null && break; sleep 0.05; done
  fi
  local before after line calls wbefore=0 wafter=0
  before=$(ticks)
  [ "$kind" = watched ] && wbefore=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
  line=$(bench "$seconds")
  after=$(ticks)
  [ "$kind" = watched ] && wafter=$(awk '{print $14 + $15}' "/proc/$wpid/stat")
  local mem
  mem=$(rss)
  if [ "$kind" = watched ]; then
    kill -TERM "$wpid"; wait "$wpid" || true; wpid=
    watch_line="watchers' CPU $(awk -v a="$wbefore" -v b="$wafter" -v hz="$hz" -v s="$seconds" 'BEGIN {printf "%.0f%%", (b - a) * 100 / hz / s}'); $(tail -1 "$work/watchers.out" | sed 's/^tally-watchers: //')"
  fi
  calls=$(echo "$line" | sed -n 's/.*: \([0-9]*\) calls,.*/\1/p')
  local rate p50 p99 max cpu
  rate=$(echo "$line" | sed -n 's/.* \([0-9]*\) calls\/s.*/\1/p')
  p50=$(echo "$line" | sed -n 's/.*p50 \([0-9]*\).*/\1/p')
  p99=$(echo "$line" | sed -n 's/.* p99 \([0-9]*\).*/\1/p')
  max=$(echo "$line" | sed -n 's/.*max \([0-9]*\).*/\1/p')
  cpu=$(awk -v a="$before" -v b="$after" -v c="$calls" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1000000 / hz / c}')
  printf '%-8s %8s calls/s %7s us/call  p50 %6s us  p99 %7s us  max %8s us  rss %6s MiB  %s\n' \
    "$kind" "$rate" "$cpu" "$p50" "$p99" "$max" "$((mem / 1024))" "$watch_line"
  echo "$kind $rate $cpu $p99 $((mem / 1024))" >>"$results"
}

echo "$(basename "$tallyd"): tally bench --mix $mix --users $load_users --connections $connections --depth $depth, ${seconds} s a run; watched: $watchers watches ($per_connection a connection) + 1 never reading"
for _ in $(seq "$rounds"); do
  run alone
  run watched
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for kind in alone watched; do
  r=$(awk -v k=$kind '$1 == k {print $2}' "$results" | median)
  c=$(awk -v k=$kind '$1 == k {print $3}' "$results" | median)
  p=$(awk -v k=$kind '$1 == k {print $4}' "$results" | median)
  m=$(awk -v k=$kind '$1 == k {print $5}' "$results" | median)
  echo "median $kind: $r calls/s, $c us/call, p99 $p us, rss $m MiB"
done
