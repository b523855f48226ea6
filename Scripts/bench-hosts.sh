#!/usr/bin/env bash
# Several hosts (docs/benchmarks.md, "Several hosts"): durable spends through PostgreSQL's command
# log, with one tallyd node and with three, beside one tallyd on its file journal and beside
# PostgreSQL alone doing the same spends (pg-bench's rows of Scripts/bench-peers.sh), in one run
# on this machine, on Unix sockets only. Every spend is 1 token, 32 connections x depth 1 in all
# (the three nodes share them: 11 + 11 + 10), then pipelined at 4 x 64.
#   Scripts/bench-hosts.sh
# Installs postgresql and libpq-dev if missing (apt-get). PostgreSQL runs with synchronous_commit
# and fsync on (its defaults), as the postgres user when run as root, in a temporary directory;
# everything started is stopped and removed on exit. Server CPU per call counts tallyd's threads
# (every node's) and PostgreSQL's processes together.
# Environment: BENCH_SECONDS (5 per run), BENCH_USERS (10000), BENCH_SCRATCH_PATH (swift build's
# scratch path, default .build), TALLYD (a release tallyd to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
. Scripts/lib/bench-figures.sh
seconds=${BENCH_SECONDS:-5}
users=${BENCH_USERS:-10000}
scratch=${BENCH_SCRATCH_PATH:-.build}

work=$(mktemp -d /tmp/tally-hosts-bench-XXXXXX)
chmod 755 "$work"  # PostgreSQL's user must reach its directory inside
pids=()
pg_data=
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$pg_data" ] && as_pg "$pgbin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=()
for p in postgresql libpq-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  Scripts/setup.sh >/dev/null  # postgresql, without starting a system-wide server
  sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
  dpkg -s libpq-dev >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libpq-dev >/dev/null
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

echo "== building tallyd (release) and Clients/c's tally-bench and pg-bench"
if [ -z "${TALLYD:-}" ]; then
  swift build -c release --scratch-path "$scratch" --product tallyd >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
  TALLYD=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/tallyd
fi
make -s -C Clients/c build/tally-bench build/pg-bench >"$work/make.log" 2>&1 || { tail -30 "$work/make.log"; exit 1; }
cbin=Clients/c/build

wait_for() {  # wait_for WHAT COMMAND...: until COMMAND succeeds (60 s)
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench-hosts: $what did not start" >&2; return 1
}

# --- PostgreSQL: one server; the log of each tallyd setup in a database of its own -------------
mkdir -p "$work/pg"; [ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg/data" --auth=trust -U postgres -E UTF8 --locale=C >"$work/pg/initdb.log" 2>&1 \
  || { cat "$work/pg/initdb.log"; exit 1; }
pg_data="$work/pg/data"
as_pg "$pgbin/pg_ctl" -D "$pg_data" -l "$work/pg/log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$work/pg' -c synchronous_commit=on -c fsync=on -c max_connections=200" \
  start >/dev/null || { cat "$work/pg/log"; exit 1; }
pg_pid=$(head -1 "$pg_data/postmaster.pid")
for db in one three; do as_pg "$pgbin/createdb" -h "$work/pg" -U postgres "$db"; done

declare -A sock
node_pids=()
start_tallyd() {  # start_tallyd NAME ARGS...: a tallyd in $work/NAME
  local name=$1 dir="$work/$1"; shift; mkdir -p "$dir"
  sock[$name]="$dir/tally.sock"
  "$TALLYD" --data-dir "$dir/data" --socket "${sock[$name]}" --snapshot-interval 0 --snapshot-journal-mib 0 \
    --log-level error "$@" >"$dir/log" 2>&1 &
  pids+=($!); node_pids+=($!)
  wait_for "tallyd $name" test -S "${sock[$name]}" || { cat "$dir/log"; exit 1; }
}
start_tallyd file --fsync always
file_pid=${node_pids[-1]}
start_tallyd one --journal "postgresql://postgres@/one?host=$work/pg"
one_pid=${node_pids[-1]}
three_pids=()
for n in a b c; do
  start_tallyd "three-$n" --journal "postgresql://postgres@/three?host=$work/pg"
  three_pids+=("${node_pids[-1]}")
done

echo "== $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
if commit=$(git rev-parse --short HEAD 2>/dev/null); then git diff --quiet HEAD 2>/dev/null || commit="$commit + uncommitted changes"; else commit="(not a git checkout)"; fi
echo "== tally $commit; $("$pgbin/postgres" --version); ${seconds} s per run, ${users} users, every spend 1 token"

# --- runs --------------------------------------------------------------------------------------
# A row: its load generators run side by side (one per socket), their ops added up and the worst
# of their percentiles kept; server CPU is read from /proc around the run for the PIDs named.
limit=$((seconds * 3 + 300))
rows=()
declare -A row_text
measure() {  # measure ID SYSTEM "PIDS" COMMAND-LINE...: each command line one generator
  local id=$1 system=$2 servers=$3; shift 3
  local t0=0 p
  for p in $servers; do t0=$((t0 + $(cpu_ticks "$p"))); done
  local i=0 outs=()
  for cmd in "$@"; do
    eval "timeout $limit $cmd" >"$work/$id.$i.out" 2>"$work/$id.$i.err" &
    outs+=("$!"); i=$((i + 1))
  done
  for p in "${outs[@]}"; do wait "$p" || true; done
  local t1=0
  for p in $servers; do t1=$((t1 + $(cpu_ticks "$p"))); done
  local ops=0 rate=0 p50=0 p99=0 max=0 errors=0 line
  for ((j = 0; j < i; j++)); do
    line=$(grep ' ops/s' "$work/$id.$j.out" | tail -1 || true)
    if [ -z "$line" ]; then echo "[$id] FAILED: $(tr '\n' ' ' <"$work/$id.$j.err")"; row_text[$id]="| $system | failed | | | | | |"; rows+=("$id"); return 0; fi
    echo "[$id] $line"
    ops=$((ops + $(sed -n 's/.*: \([0-9]*\) ops,.*/\1/p' <<<"$line")))
    rate=$((rate + $(sed -n 's/.* \([0-9]*\) ops\/s.*/\1/p' <<<"$line")))
    errors=$((errors + $(sed -n 's/.* \([0-9]*\) errors.*/\1/p' <<<"$line")))
    p50=$(awk -v a="$p50" -v b="$(sed -n 's/.* p50 \([0-9.]*\) .*/\1/p' <<<"$line")" 'BEGIN { print (b > a ? b : a) }')
    p99=$(awk -v a="$p99" -v b="$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' <<<"$line")" 'BEGIN { print (b > a ? b : a) }')
    max=$(awk -v a="$max" -v b="$(sed -n 's/.* max \([0-9.]*\).*/\1/p' <<<"$line")" 'BEGIN { print (b > a ? b : a) }')
  done
  local cpu; cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v o="$ops" 'BEGIN { if (o == 0) print "-"; else printf "%.1f", t * 1e6 / hz / o }')
  row_text[$id]="| $system | $(commas "$rate") | $(us "$p50") | $(us "$p99") | $(us "$max") | $errors | $cpu |"
  rows+=("$id")
}
tb() { echo "$cbin/tally-bench --socket ${sock[$1]} --duration $seconds --users $users --mix spend --connections $2 --depth $3"; }
pb() { echo "$cbin/pg-bench --conninfo 'host=$work/pg dbname=postgres user=postgres' --duration $seconds --users $users --mode $1 --connections $2"; }
# pg-bench's tables and users, outside any measured run.
eval "$(pb get 1) --setup --duration 1" >/dev/null 2>"$work/setup.err" || { cat "$work/setup.err"; exit 1; }

for shape in "32 1" "4 64"; do
  set -- $shape
  c=$1 d=$2
  echo "== durable spends, $c connections x depth $d"
  measure "file.$c" "tallyd, file journal (--fsync always)" "$file_pid" "$(tb file "$c" "$d")"
  measure "one.$c" "1 tallyd node, PostgreSQL command log" "$one_pid $pg_pid" "$(tb one "$c" "$d")"
  third=$((c / 3)); rest=$((c - 2 * third))
  measure "three.$c" "3 tallyd nodes, PostgreSQL command log" "${three_pids[*]} $pg_pid" \
    "$(tb three-a "$rest" "$d")" "$(tb three-b "$third" "$d")" "$(tb three-c "$third" "$d")"
  if [ "$d" = 1 ]; then
    measure "pg.$c" "PostgreSQL alone, BEGIN/UPDATE/INSERT/COMMIT" "$pg_pid" "$(pb spend "$c")"
    measure "pgcte.$c" "PostgreSQL alone, one statement (CTE)" "$pg_pid" "$(pb spend-cte "$c")"
  fi
done

echo
echo "== Several hosts: durable spends, ${seconds} s per run, ${users} users; latency in µs from send to answer"
echo "== (three nodes: the sum of their ops/s, the worst of their percentiles); server CPU: tallyd's and PostgreSQL's"
echo
echo "| shape | system | spends/s | p50 µs | p99 µs | max µs | errors | server CPU µs/spend |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for id in "${rows[@]}"; do
  case $id in *.32) shape="32 x 1" ;; *) shape="4 x 64" ;; esac
  echo "| $shape ${row_text[$id]}"
done
