#!/usr/bin/env bash
# The README's CLI session against a real tallyd process: credit, spend, balance, a refusal,
# Ctrl-C (SIGINT), restart, and the balance is still there.
set -uo pipefail
cd "$(dirname "$0")/.."
swift build --product tallyd >/dev/null && swift build --product tally >/dev/null || exit 1
bin=$(swift build --show-bin-path)
work=$(mktemp -d /tmp/tally-smoke-XXXXXX)
export TALLY_SOCKET="$work/tally.sock"
passed=0; failed=0
check() {  # check NAME EXPECTED-SUBSTRING COMMAND...
  local name=$1 want=$2; shift 2
  local out; out=$("$@" 2>&1); local status=$?
  if [[ "$out" == *"$want"* ]]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL $name: wanted '$want', got (exit $status): $out"; fi
}
start() {
  (cd "$work" && exec "$bin/tallyd" >>"$work/tallyd.log" 2>&1) &
  pid=$!
  for _ in $(seq 100); do [ -S "$TALLY_SOCKET" ] && return; sleep 0.1; done
  echo "tallyd did not start:"; cat "$work/tallyd.log"; exit 1
}
stop() {
  kill -INT "$pid"; wait "$pid"; local status=$?
  [ $status = 0 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL tallyd exited $status"; }
}

start
check "credit" "100 available" "$bin/tally" credit alice 100
check "spend" "70 available" "$bin/tally" spend alice 30
check "balance" "alice: 70 available" "$bin/tally" balance alice
check "refusal" "430 missing" "$bin/tally" spend alice 500
if "$bin/tally" spend alice 500 >/dev/null 2>&1; then failed=$((failed + 1)); echo "FAIL refusal exited 0"; else passed=$((passed + 1)); fi
check "json" '"available":"70"' "$bin/tally" balance alice --json
stop
[ -S "$TALLY_SOCKET" ] && { failed=$((failed + 1)); echo "FAIL socket file left after clean shutdown"; }
start
check "after restart" "alice: 70 available" "$bin/tally" balance alice
check "loaded" "loaded snapshot: 1 accounts" cat "$work/tallyd.log"
stop
rm -rf "$work"
echo "smoke: $passed passed, $failed failed"
[ $failed = 0 ]
