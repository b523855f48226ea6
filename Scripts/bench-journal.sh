#!/usr/bin/env bash
# Durability benchmarks (docs/benchmarks.md): mutations per second and per fsync and latency
# with --fsync always / interval / never; p99 latency while a snapshot of a large state is
# written; recovery time and resident memory for a large state.
#   Scripts/bench-journal.sh [ACCOUNTS] [TRANSACTIONS]     (defaults 1000000 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-1000000}
transactions=${2:-10000000}
duration=${BENCH_SECONDS:-10}
swift build -c release --product tallyd >/dev/null
swift build -c release --product tally >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/tally-bench-XXXXXX)
trap 'jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$work"' EXIT
export TALLY_SOCKET="$work/tally.sock"

start() {  # start ARGS...: a tallyd on a fresh log, waits until it answers
  : >"$work/tallyd.log"
  "$bin/tallyd" --data-dir "$work/data" --socket "$TALLY_SOCKET" "$@" >>"$work/tallyd.log" 2>&1 &
  pid=$!
  for _ in $(seq 6000); do
    grep -q "tallyd serving" "$work/tallyd.log" && return
    kill -0 "$pid" 2>/dev/null || { cat "$work/tallyd.log"; exit 1; }
    sleep 0.1
  done
  echo "tallyd did not start"; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status"; }
journal_line() { grep -o 'records=[0-9]* .*fsyncs=[0-9]*' "$work/tallyd.log" | tr -d ',' || true; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== durable credits: --fsync always / interval / never (release build, ${duration} s each)"
for mode in always interval never; do
  for shape in "1 32" "16 32"; do
    set -- $shape
    rm -rf "$work/data"; start --fsync "$mode" --snapshot-interval 0
    line=$("$bin/tally" bench --mix credit --depth "$1" --connections "$2" --duration "$duration")
    stop
    records=$(grep -o 'records: [0-9]*\|records=[0-9]*' "$work/tallyd.log" | tail -1 | grep -o '[0-9]*' || echo 0)
    fsyncs=$(grep -o 'fsyncs=[0-9]*' "$work/tallyd.log" | tail -1 | grep -o '[0-9]*' || echo 0)
    per=$([ "${fsyncs:-0}" -gt 0 ] && echo "$(( records / fsyncs )) records/fsync" || echo "no fsyncs")
    echo "fsync $mode: $line; journal $records records, $fsyncs fsyncs ($per)"
  done
done

echo "== a state of $accounts accounts and $transactions transactions"
rm -rf "$work/data"; start --fsync always --snapshot-interval 0 --snapshot-journal-mib 0
passes=$(( transactions / accounts ))
"$bin/tally" bench --fill "$accounts" --passes "$passes" --connections 8
echo "resident memory with the state loaded: $(rss)"
echo "== p99 credit latency (depth 1, 8 connections) without and with snapshots being written"
"$bin/tally" bench --mix credit --depth 1 --connections 8 --duration "$duration" --users "$accounts"
( end=$((SECONDS + duration)); n=0; while [ $SECONDS -lt $end ]; do "$bin/tally" snapshot --timeout-ms 600000 >/dev/null; n=$((n+1)); done; echo "snapshots written during the run: $n" ) &
snapper=$!
"$bin/tally" bench --mix credit --depth 1 --connections 8 --duration "$duration" --users "$accounts"
wait "$snapper"
ls -la "$work/data"/snapshot-* | awk '{print "snapshot file: " $5 " bytes"}' | tail -1
stop
echo "== recovery"
start --fsync always --snapshot-interval 0 --snapshot-journal-mib 0
grep -A4 "recovered" "$work/tallyd.log" | grep -v "data directory id" | head -4
echo "resident memory after recovery from the snapshot: $(rss)"
"$bin/tally" bench --fill "$accounts" --passes 1 --connections 8 >/dev/null
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
start --fsync always --snapshot-interval 0 --snapshot-journal-mib 0
echo "after kill -9 with $accounts journal records since the snapshot:"
grep -A4 "recovered" "$work/tallyd.log" | grep -v "data directory id" | head -4
echo "resident memory: $(rss)"
stop
