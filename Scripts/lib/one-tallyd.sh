# Sourced by the benchmark scripts that run one release tallyd: a scratch directory removed on
# exit (tallyd killed with it), the release build unless TALLYD names one, and tally-bench.
# Sets: work, scratch, TALLYD, bench; the caller starts tallyd and sets pid.
# Usage: . Scripts/lib/one-tallyd.sh NAME   (the scratch directory is /tmp/tally-NAME-XXXXXX)
scratch=${BENCH_SCRATCH_PATH:-.build}
work=$(mktemp -d "/tmp/tally-$1-XXXXXX")
pid=
cleanup() {
  set +e
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${TALLYD:-}" ]; then
  echo "== building tallyd (release)"
  swift build -c release --scratch-path "$scratch" --product tallyd >/dev/null
  TALLYD="$scratch/release/tallyd"
fi
make -s -C Clients/c bench >/dev/null
bench=Clients/c/build/tally-bench
