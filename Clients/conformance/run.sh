#!/usr/bin/env bash
# Runs the conformance scenario (scenario.txt) through the C and the Python client, each against
# its own fresh tallyd, and compares both transcripts with expected.txt (README.md here). The
# Swift client runs the same scenario in `swift test --filter ConformanceTests`.
#   Clients/conformance/run.sh [--update] PATH_TO_TALLYD
# Exits 1, printing the differences, if either transcript differs from expected.txt.
# --update: if the C and Python transcripts agree, writes them to expected.txt (review the diff
# against docs/protocol.md before committing it).
# Needs cc, make, libprotobuf-c-dev and a python with Google's protobuf package: TALLY_PYTHON,
# else Clients/python/.venv (Clients/python/test.sh makes it), else python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
tallyd=${1:-${TALLYD:-}}
[ -n "$tallyd" ] || { echo "usage: $0 [--update] PATH_TO_TALLYD" >&2; exit 2; }
[ -x "$tallyd" ] || { echo "not an executable: $tallyd" >&2; exit 2; }
started=$(date +%s)

python=${TALLY_PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/Clients/python/.venv/bin/python" ]; then python=$root/Clients/python/.venv/bin/python; else python=python3; fi
fi
"$python" -c 'import google.protobuf' 2>/dev/null || {
  echo "$python has no protobuf package: run Clients/python/test.sh once (it makes Clients/python/.venv) or set TALLY_PYTHON" >&2
  exit 2
}
make -C "$root/Clients/c" -s conformance

work=$(mktemp -d /tmp/tally-conf-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# run NAME COMMAND...: a fresh tallyd in $work/NAME, then COMMAND SOCKET TRANSCRIPT against it.
run() {
  local name=$1; shift
  local dir=$work/$name
  mkdir -p "$dir"
  "$tallyd" --socket "$dir/s.sock" --data-dir "$dir/data" --fsync never >"$dir/tallyd.log" 2>&1 &
  pid=$!
  local tries=0
  while [ ! -S "$dir/s.sock" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "tallyd exited at start:" >&2; cat "$dir/tallyd.log" >&2; pid=; exit 1; }
    tries=$((tries + 1))
    [ $tries -le 600 ] || { echo "tallyd did not open $dir/s.sock in 60 s" >&2; exit 1; }
    sleep 0.1
  done
  "$@" "$dir/s.sock" "$work/$name.txt" || { echo "the $name client's run failed" >&2; exit 1; }
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pid=
  [ $status -eq 0 ] || { echo "tallyd ($name) exited with $status:" >&2; tail -n 20 "$dir/tallyd.log" >&2; exit 1; }
}

run c "$root/Clients/c/build/tests/conformance" "$here/scenario.txt"
SCENARIO=$here/scenario.txt run python "$python" "$here/run.py"

if [ $update -eq 1 ]; then
  diff -u --label c "$work/c.txt" --label python "$work/python.txt" \
    || { echo "the C and Python transcripts differ: expected.txt not written" >&2; exit 1; }
  cp "$work/c.txt" "$here/expected.txt"
  echo "wrote $here/expected.txt ($(wc -l <"$here/expected.txt") steps): review it against docs/protocol.md"
  exit 0
fi

failed=0
for name in c python; do
  if ! diff -u --label expected.txt "$here/expected.txt" --label "$name" "$work/$name.txt"; then
    echo "conformance: the $name client's transcript differs from Clients/conformance/expected.txt" >&2
    failed=1
  fi
done
[ $failed -eq 0 ] || exit 1
echo "conformance: C and Python transcripts match expected.txt ($(wc -l <"$here/expected.txt") lines) in $(( $(date +%s) - started )) s"
