#!/bin/sh
# Starts a throwaway tallyd in a temporary directory, runs a command against it (with
# TALLY_SOCKET and TALLY_TEST_DIR set), stops tallyd with SIGTERM and removes the directory.
# Fails if the command fails or tallyd does not exit cleanly.
#   usage: tests/run-tests.sh TALLYD COMMAND [ARGS...]
set -u
tallyd=${1:?usage: run-tests.sh TALLYD COMMAND [ARGS...]}
shift
if ! command -v "$tallyd" >/dev/null 2>&1; then
  echo "run-tests: no tallyd at '$tallyd' (make test TALLYD=/path/to/tallyd)" >&2
  exit 2
fi
work=$(mktemp -d /tmp/libtally-XXXXXX) || exit 2
sock=$work/tally.sock
pid= queued_pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$queued_pid" ] && kill -TERM "$queued_pid" 2>/dev/null && wait "$queued_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$tallyd" --socket "$sock" --data-dir "$work/data" --fsync never >"$work/tallyd.log" 2>&1 &
pid=$!
tries=0
while [ ! -S "$sock" ]; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run-tests: tallyd exited at start:" >&2; cat "$work/tallyd.log" >&2; pid=; exit 2
  fi
  tries=$((tries + 1))
  if [ $tries -gt 600 ]; then echo "run-tests: tallyd did not open $sock in 60 s" >&2; exit 2; fi
  sleep 0.1
done

# A second tallyd with connections on their own threads (--io-threads 2): there, calls queue at
# the Writer behind other connections' batches, which is where a server-side deadline can pass
# (test_server_deadline). The first one serves connections on the Writer's loop (the default).
queued=$work/queued.sock
"$tallyd" --socket "$queued" --data-dir "$work/queued-data" --fsync never --io-threads 2 >"$work/queued.log" 2>&1 &
queued_pid=$!
for _ in $(seq 600); do [ -S "$queued" ] && break; sleep 0.1; done
[ -S "$queued" ] || { echo "run-tests: the --io-threads tallyd did not start:" >&2; cat "$work/queued.log" >&2; exit 2; }

TALLY_SOCKET=$sock TALLY_SOCKET_QUEUED=$queued TALLY_TEST_DIR=$work "$@"
status=$?

kill -TERM "$pid"
wait "$pid"
tallyd_status=$?
pid=
if [ $tallyd_status -ne 0 ]; then
  echo "run-tests: tallyd exited with status $tallyd_status; its log:" >&2
  tail -n 30 "$work/tallyd.log" >&2
  [ $status -eq 0 ] && status=1
fi
exit $status
