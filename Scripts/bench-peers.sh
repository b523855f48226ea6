#!/usr/bin/env bash
# Tally beside its peers (docs/benchmarks.md, "Tally beside Redis, PostgreSQL and a raw socket"):
# the same workload shapes, in one run on this machine, on Unix sockets only, against
#   - tallyd (release build; --fsync always, and --fsync never for the usage consumes),
#   - PostgreSQL (Debian's; synchronous_commit on, fsync on): a spend is one transaction of a
#     conditional UPDATE of the balance and an INSERT of the history row,
#   - Redis (Debian's) with Lua scripts called by EVALSHA: the daily-limit check-and-consume with
#     persistence off, the spend with appendonly yes + appendfsync always,
#   - pingpong: a C echo over a Unix socket, the floor for a round trip.
# Load comes from C programs of one shape (threads x pipeline depth, p50/p99/p99.9): tally-bench,
# redis-bench, pg-bench and pingpong (Clients/c, `make -C Clients/c bench peers`).
# Shapes: durable spends at 32 connections x depth 1 (beside them, at the same shape, Tally's
# GetBalance and the ping-pong: what any call costs there), and pipelined at 4 x 64; pipelined usage consumes at 4 x 64 and
# 32 x 16; an unpipelined round trip at 1 x 1 (GetBalance against the ping-pong, Redis GET and
# PING and a PostgreSQL SELECT for context); pipelined reads at 4 x 64 (GetBalance, Redis GET).
# Prints the raw lines, then one table of absolute figures, server CPU per call and ratios to
# Tally, and whether each bar in docs/benchmarks.md is met (durable spends against
# PostgreSQL and Redis + Lua, consumes against Redis + Lua).
#   Scripts/bench-peers.sh
# Installs what is missing with apt-get (redis-server, postgresql, libhiredis-dev, libpq-dev, the
# C build tools). Starts every server in a temporary directory (Redis with port 0, PostgreSQL
# with listen_addresses '', both on sockets in that directory; PostgreSQL as the postgres user
# when run as root) and stops and removes all of it on exit, failure or Ctrl-C included.
# Environment: BENCH_SECONDS (5 per run), BENCH_USERS (10000), BENCH_SCRATCH_PATH (swift build's
# scratch path, default .build), TALLYD (a tallyd binary to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-5}
users=${BENCH_USERS:-10000}
scratch=${BENCH_SCRATCH_PATH:-.build}
started=$SECONDS

work=$(mktemp -d /tmp/tally-peers-XXXXXX)
chmod 755 "$work"             # the PostgreSQL user must reach its directory inside
pids=()                       # every process started here (tallyd, redis-server), stopped on exit
pg_data= pg_user= made_user= pgbin= policy_made=
sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "$pg_data" ] && as_pg "$pgbin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$made_user" ] && userdel "$made_user" 2>/dev/null
  [ -n "$policy_made" ] && $sudo rm -f /usr/sbin/policy-rc.d
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- packages ----------------------------------------------------------------------------------
need=(redis-server redis-tools postgresql libhiredis-dev libpq-dev build-essential pkg-config libprotobuf-c-dev)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (apt-get)"
  # Packages must not start their own system-wide servers: this script starts its own, and stops
  # what it started. policy-rc.d refuses service starts during the install (if none is in place).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod 755 /usr/sbin/policy-rc.d && policy_made=1
  fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } \
      >"$work/apt.log" 2>&1; then
    tail -20 "$work/apt.log" >&2
    echo "bench-peers: apt-get could not install ${missing[*]}: install them by hand and run this again" >&2
    exit 1
  fi
  [ -n "$policy_made" ] && { $sudo rm -f /usr/sbin/policy-rc.d; policy_made=; }
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "bench-peers: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }

# --- builds ------------------------------------------------------------------------------------
echo "== building: tallyd (release, scratch path $scratch) and Clients/c's tally-bench and peers"
if [ -n "${TALLYD:-}" ]; then
  tallyd=$TALLYD
else
  swift build -c release --scratch-path "$scratch" --product tallyd >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
  tallyd=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/tallyd
fi
make -C Clients/c bench peers >"$work/make.log" 2>&1 || { tail -30 "$work/make.log"; exit 1; }
cbin=Clients/c/build

# --- servers -----------------------------------------------------------------------------------
wait_for() {  # wait_for WHAT PID COMMAND...: until COMMAND succeeds (10 s), or the process died
  local what=$1 pid=$2; shift 2
  for _ in $(seq 200); do
    "$@" >/dev/null 2>&1 && return
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && { echo "bench-peers: $what exited at start" >&2; return 1; }
    sleep 0.05
  done
  echo "bench-peers: $what did not start" >&2; return 1
}

declare -A sock pid_of
start_tallyd() {  # start_tallyd NAME FSYNC
  local dir="$work/$1"; mkdir -p "$dir"
  sock[$1]="$dir/tally.sock"
  "$tallyd" --data-dir "$dir/data" --socket "${sock[$1]}" --fsync "$2" --snapshot-interval 0 \
    --snapshot-journal-mib 0 --log-level error >"$dir/log" 2>&1 &
  pids+=($!); pid_of[$1]=$!
  wait_for "tallyd --fsync $2" $! grep -q "tallyd serving" "$dir/log" || { cat "$dir/log"; exit 1; }
}
start_redis() {  # start_redis NAME CONFIG-LINES...
  local name=$1 dir="$work/$1"; shift; mkdir -p "$dir"
  sock[$name]="$dir/redis.sock"
  { echo "port 0"; echo "unixsocket ${sock[$name]}"; echo "unixsocketperm 700"; echo "dir $dir"
    echo 'save ""'; echo "daemonize no"; echo "logfile $dir/redis.log"; printf '%s\n' "$@"; } >"$dir/redis.conf"
  redis-server "$dir/redis.conf" &
  pids+=($!); pid_of[$name]=$!
  wait_for "redis-server ($name)" $! redis-cli -s "${sock[$name]}" ping || { cat "$dir/redis.log"; exit 1; }
}
start_postgres() {
  if [ "$(id -u)" -eq 0 ]; then  # initdb refuses root: the package's postgres user, or one of our own
    pg_user=postgres
    if ! id -u "$pg_user" >/dev/null 2>&1; then
      pg_user=tally-peers; useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"; made_user=$pg_user
    fi
  fi
  mkdir -p "$work/pg"; [ -n "$pg_user" ] && chown "$pg_user" "$work/pg"
  as_pg "$pgbin/initdb" -D "$work/pg/data" --auth=trust -U postgres -E UTF8 --locale=C --no-sync >"$work/pg/initdb.log" 2>&1 \
    || { cat "$work/pg/initdb.log"; exit 1; }
  pg_data="$work/pg/data"
  as_pg "$pgbin/pg_ctl" -D "$pg_data" -l "$work/pg/log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories='$work/pg' -c synchronous_commit=on -c fsync=on" \
    start >/dev/null || { cat "$work/pg/log"; exit 1; }
  sock[pg]="host=$work/pg dbname=postgres user=postgres"
}

echo "== starting servers in $work"
start_tallyd tally-always always
start_tallyd tally-never never
start_redis redis-off "appendonly no"
start_redis redis-always "appendonly yes" "appendfsync always"
start_postgres
echo "== $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
if commit=$(git rev-parse --short HEAD 2>/dev/null); then git diff --quiet HEAD 2>/dev/null || commit="$commit + uncommitted changes"; else commit="(not a git checkout)"; fi
echo "== tally $commit; $(redis-server --version | cut -d' ' -f1-3); $("$pgbin/postgres" --version)"
echo "== ${seconds} s per run, ${users} users, every operation 1 token"

# --- runs --------------------------------------------------------------------------------------
# Each row: id, shape, system, command. Rows of one shape run one after the other, so the
# machine's noise hits them alike; the first row of a shape is its Tally reference.
# Server CPU per call: the server's user + system CPU time (its threads, its live child
# processes and the children it reaped: PostgreSQL's backends) read from /proc before and after
# the run, divided by the calls the run answered. `srv=PID run ...` names the server; the
# ping-pong reports its forked echo server's CPU itself. A run's CPU includes its tool's setup
# (crediting the users: pipelined writes, a few percent of a run's calls at most).
declare -A line shape_of system_of cpu_of
order=()
. Scripts/lib/bench-figures.sh  # cpu_ticks, hz, commas, us
run() {  # run ID SHAPE SYSTEM COMMAND...
  local id=$1; shape_of[$id]=$2; system_of[$id]=$3; shift 3; order+=("$id")
  local out t0=
  [ -n "${srv:-}" ] && t0=$(cpu_ticks "$srv")
  out=$("$@" 2>"$work/run.err") || true
  line[$id]=$(printf '%s\n' "$out" | grep ' ops/s' | tail -1 || true)
  local ops; ops=$(sed -n 's/.*: \([0-9]*\) ops,.*/\1/p' <<<"${line[$id]}")
  local server_us=
  if [ -n "$t0" ]; then
    server_us=$(awk -v t="$(( $(cpu_ticks "$srv") - t0 ))" -v hz="$hz" 'BEGIN { print t * 1e6 / hz }')
  else
    server_us=$(printf '%s\n' "$out" | sed -n 's/.*server cpu \([0-9.]*\) us.*/\1/p' | tail -1)
  fi
  cpu_of[$id]=$(awk -v u="$server_us" -v o="$ops" 'BEGIN { if (u == "" || o + 0 == 0) print "-"; else printf "%.2f", u / o }')
  if [ -n "${line[$id]}" ]; then echo "[$id] ${line[$id]}"; else echo "[$id] FAILED: $(tr '\n' ' ' <"$work/run.err")"; fi
  [ -s "$work/run.err" ] && [ -n "${line[$id]}" ] && sed "s/^/[$id]   /" "$work/run.err"
  return 0
}
limit=$((seconds * 3 + 300))  # a run that hangs is stopped after this many seconds
tb() { local s=$1; shift; timeout "$limit" "$cbin/tally-bench" --socket "${sock[$s]}" --duration "$seconds" --users "$users" "$@"; }
rb() { local s=$1; shift; timeout "$limit" "$cbin/redis-bench" --socket "${sock[$s]}" --duration "$seconds" --users "$users" "$@"; }
pb() { timeout "$limit" "$cbin/pg-bench" --conninfo "${sock[pg]}" --duration "$seconds" --users "$users" "$@"; }

S1="durable spends, 32 conn x depth 1"
pg_pid=$(head -1 "$pg_data/postmaster.pid")
# The tables and users first, outside any measured run (a one-second read run).
pb --setup --mode get --connections 1 --duration 1 >/dev/null 2>"$work/setup.err" || { cat "$work/setup.err"; exit 1; }
srv=${pid_of[tally-always]} run spend.tally "$S1" "Tally, --fsync always" tb tally-always --mix spend --connections 32 --depth 1
srv=$pg_pid run spend.pg "$S1" "PostgreSQL, BEGIN/UPDATE/INSERT/COMMIT" pb --mode spend --connections 32
srv=$pg_pid run spend.pgcte "$S1" "PostgreSQL, one statement (CTE)" pb --mode spend-cte --connections 32
srv=${pid_of[redis-always]} run spend.redis "$S1" "Redis + Lua, appendfsync always" rb redis-always --mode spend --connections 32 --depth 1
# What any call costs at this shape: the cheapest Tally call (no journal, no change) and a C echo
# server that does nothing, both at 32 x 1 (the per-call floor under the spend bars).
srv=${pid_of[tally-always]} run spend.balance "$S1" "Tally GetBalance (a read: no journal, no change)" tb tally-always --mix balance --connections 32 --depth 1
run spend.floor "$S1" "C ping-pong, one blocking thread per connection" timeout "$limit" "$cbin/pingpong" --connections 32 --depth 1 --duration "$seconds"
S5="durable spends, 4 conn x depth 64"
srv=${pid_of[tally-always]} run spend4.tally "$S5" "Tally, --fsync always" tb tally-always --mix spend --connections 4 --depth 64
for cd in "4 64" "32 16"; do
  set -- $cd
  S="usage consumes, $1 conn x depth $2"
  srv=${pid_of[tally-always]} run "consume$1.tally" "$S" "Tally, --fsync always" tb tally-always --mix consume --connections "$1" --depth "$2"
  srv=${pid_of[tally-never]} run "consume$1.never" "$S" "Tally, --fsync never" tb tally-never --mix consume --connections "$1" --depth "$2"
  srv=${pid_of[redis-off]} run "consume$1.redis" "$S" "Redis + Lua EVALSHA, persistence off" rb redis-off --mode consume --connections "$1" --depth "$2"
done
S4="pipelined reads, 4 conn x depth 64"
srv=${pid_of[tally-always]} run reads.tally "$S4" "Tally GetBalance" tb tally-always --mix balance --connections 4 --depth 64
srv=${pid_of[redis-off]} run reads.redis "$S4" "Redis GET" rb redis-off --mode get --connections 4 --depth 64
S3="round trip, 1 conn x depth 1"
srv=${pid_of[tally-always]} run rtt.tally "$S3" "Tally GetBalance" tb tally-always --mix balance --connections 1 --depth 1
run rtt.floor "$S3" "C ping-pong, 52/60-byte frames (floor)" timeout "$limit" "$cbin/pingpong" --connections 1 --depth 1 --duration "$seconds"
srv=${pid_of[redis-off]} run rtt.redisget "$S3" "Redis GET" rb redis-off --mode get --connections 1 --depth 1
srv=${pid_of[redis-off]} run rtt.redisping "$S3" "Redis PING" rb redis-off --mode ping --connections 1 --depth 1
srv=$pg_pid run rtt.pgget "$S3" "PostgreSQL SELECT (prepared)" pb --mode get --connections 1

# --- stop what was started -----------------------------------------------------------------------
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
as_pg "$pgbin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null && pg_data=

# --- the table ---------------------------------------------------------------------------------
field() {  # field ID rate|p50|p99|p999|errors
  local l=${line[$1]:-}
  [ -z "$l" ] && { echo "-"; return; }
  case $2 in
    rate) sed -n 's/.* \([0-9]*\) ops\/s.*/\1/p' <<<"$l" ;;
    p50) sed -n 's/.* p50 \([0-9.]*\) .*/\1/p' <<<"$l" ;;
    p99) sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' <<<"$l" ;;
    p999) sed -n 's/.* p99\.9 \([0-9.]*\) .*/\1/p' <<<"$l" ;;
    errors) sed -n 's/.* \([0-9]*\) errors.*/\1/p' <<<"$l" ;;
    max) sed -n 's/.* max \([0-9.]*\).*/\1/p' <<<"$l" ;;
  esac
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

echo
echo "== Tally beside its peers: ${seconds} s per run, ${users} users; latency in µs from send to answer"
echo "== 'Tally ÷ this': Tally's ops/s divided by this row's (above 1: Tally does more), and Tally's p50"
echo "== divided by this row's (above 1: Tally answers slower); the reference is each shape's first row"
echo
echo "| shape | system | ops/s | p50 µs | p99 µs | p99.9 µs | max µs | errors | server CPU µs/call | Tally ÷ this, ops/s | Tally ÷ this, p50 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
ref=
for id in "${order[@]}"; do
  case $id in *.tally) ref=$id ;; esac
  if [ "$id" = "$ref" ]; then r1="(reference)" r2="(reference)"
  else r1=$(div "$(field "$ref" rate)" "$(field "$id" rate)"); r2=$(div "$(field "$ref" p50)" "$(field "$id" p50)"); fi
  echo "| ${shape_of[$id]} | ${system_of[$id]} | $(commas "$(field "$id" rate)") | $(us "$(field "$id" p50)") | $(us "$(field "$id" p99)") | $(us "$(field "$id" p999)") | $(us "$(field "$id" max)") | $(field "$id" errors) | ${cpu_of[$id]} | $r1 | $r2 |"
done

echo
echo "== the bars (docs/benchmarks.md)"
verdict() { awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { if (a == "-" || b == "-") print "unknown (a run failed)"; else if ((op == ">=" && a + 0 >= b + 0) || (op == "<=" && a + 0 <= b + 0)) print "yes"; else print "NO" }'; }
times() { awk -v a="$1" -v k="$2" 'BEGIN { print a == "-" ? "-" : k * a }'; }
t=$(field spend.tally rate); p=$(field spend.pg rate); pc=$(field spend.pgcte rate); r=$(field spend.redis rate)
echo "- durable spends/s at 32 x 1 >= 10x PostgreSQL (BEGIN/UPDATE/INSERT/COMMIT): $(verdict "$t" "$(times "$p" 10)" ">=") — Tally $(commas "$t")/s = $(div "$t" "$p")x PostgreSQL's $(commas "$p")/s (and $(div "$t" "$pc")x the one-statement form's $(commas "$pc")/s)"
echo "- durable spends/s at 32 x 1 >= 2x Redis + Lua (appendfsync always): $(verdict "$t" "$(times "$r" 2)" ">=") — Tally $(commas "$t")/s = $(div "$t" "$r")x Redis's $(commas "$r")/s"
echo "  (the ceiling at 32 x 1: Tally's GetBalance $(commas "$(field spend.balance rate)")/s, the C ping-pong $(commas "$(field spend.floor rate)")/s)"
for c in 4 32; do
  t=$(field "consume$c.tally" rate); n=$(field "consume$c.never" rate); r=$(field "consume$c.redis" rate)
  echo "- consumes/s (${shape_of[consume$c.tally]#usage consumes, }), --fsync always >= 1.5x Redis + Lua (persistence off): $(verdict "$t" "$(times "$r" 1.5)" ">=") — $(commas "$t")/s = $(div "$t" "$r")x Redis's $(commas "$r")/s (--fsync never: $(commas "$n")/s = $(div "$n" "$r")x)"
done
t=$(field rtt.tally p50); f=$(field rtt.floor p50)
echo "- GetBalance p50 at 1 x 1 <= 1.5x the C ping-pong floor: $(verdict "$t" "$(times "$f" 1.5)" "<=") — Tally $(us "$t") µs = $(div "$t" "$f")x the floor's $(us "$f") µs"
echo "- tallyd CPU per call: consume (4 x 64, --fsync always) <= 3 µs: $(verdict "${cpu_of[consume4.tally]}" 3 "<=") (${cpu_of[consume4.tally]} µs; 32 x 16: ${cpu_of[consume32.tally]} µs); durable spend (32 x 1) <= 8 µs: $(verdict "${cpu_of[spend.tally]}" 8 "<=") (${cpu_of[spend.tally]} µs; at 32 x 1 a GetBalance costs ${cpu_of[spend.balance]} µs and the do-nothing ping-pong ${cpu_of[spend.floor]} µs; spends pipelined 4 x 64: ${cpu_of[spend4.tally]} µs); GetBalance (4 x 64) <= 2 µs: $(verdict "${cpu_of[reads.tally]}" 2 "<=") (${cpu_of[reads.tally]} µs; 1 x 1: ${cpu_of[rtt.tally]} µs, the floor's ${cpu_of[rtt.floor]} µs)"
echo
echo "== done in $((SECONDS - started)) s; everything started here is stopped and $work is removed"
