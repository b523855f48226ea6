#!/usr/bin/env bash
# The README's CLI session against a real tallyd process: credit, spend, balance, a refusal,
# Ctrl-C (SIGINT), restart, and the balance is still there; then kill -9, backup, verify, restore;
# then the configuration file's checks. Between them, the README's chat-gateway day (tally usage, tally limits).
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
start() {  # waits for this start's "tallyd serving" line (a stale socket file may already exist)
  local before; before=$(grep -c "tallyd serving" "$work/tallyd.log" 2>/dev/null || true)
  (cd "$work" && exec "$bin/tallyd" >>"$work/tallyd.log" 2>&1) &
  pid=$!
  for _ in $(seq 100); do
    [ "$(grep -c "tallyd serving" "$work/tallyd.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return
    sleep 0.1
  done
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
# A negative amount is an amount, not an option: the same answer as after `--`, nothing applied.
check "negative amount" "INVALID_ARGUMENT AMOUNT_NOT_POSITIVE: amount must be a positive whole number of tokens, got -5" "$bin/tally" credit alice -5
check "negative amount with options" '"reason":"AMOUNT_NOT_POSITIVE"' "$bin/tally" spend alice -5 --key neg --json
if "$bin/tally" spend alice 500 >/dev/null 2>&1; then failed=$((failed + 1)); echo "FAIL refusal exited 0"; else passed=$((passed + 1)); fi
check "json" '"available":"70"' "$bin/tally" balance alice --json
# Arguments that are not UTF-8 are refused by name, not repaired into U+FFFD and sent.
check "bytes refused" "argument 2 ('\\xff\\xfe') is not valid UTF-8; nothing was sent" "$bin/tally" credit $'\xff\xfe' 5
"$bin/tally" credit alice 7 --key $'q\xfe' >/dev/null 2>&1; status=$?
if [ $status = 64 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL bytes exit status: $status, wanted 64"; fi
check "nothing credited for them" "0 available" "$bin/tally" balance $'\uFFFD\uFFFD'
check "nor under the key" "alice: 70 available" "$bin/tally" balance alice
check "health" "invariants: all hold" "$bin/tally" health --check-invariants
# Exit statuses by class (README): a precondition 1, an invalid request 65, not found 66.
for want in "1 spend alice 500" "65 credit alice 0" "66 transaction 999999"; do
  set -- $want; expected=$1; shift
  "$bin/tally" "$@" >/dev/null 2>&1; status=$?
  if [ $status = "$expected" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL exit status of tally $*: $status, wanted $expected"; fi
done
# Versions, and a failed connect in words (exit 69), as JSON with --json.
check "tally --version" "tally 0." "$bin/tally" --version
check "tallyd --version" "(protocol 1)" "$bin/tallyd" --version
check "tallyd --help shows the serving flags" "--snapshot-interval" "$bin/tallyd" --help
check "did you mean" "unknown command 'consum' for 'tally usage'; did you mean 'tally usage consume'?" "$bin/tally" usage consum bob 1
"$bin/tally" balanse alice >/dev/null 2>&1; status=$?
if [ $status = 64 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL typo exit status: $status, wanted 64"; fi
check "no socket" "cannot connect to tallyd at $work/none.sock: no socket there (is tallyd running" "$bin/tally" balance alice --socket "$work/none.sock"
out=$("$bin/tally" balance alice --json --socket "$work/none.sock" 2>&1 >/dev/null); status=$?
if [ $status = 69 ] && python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["reason"] == "CANNOT_CONNECT", e' "$out"; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL connect error as JSON (exit $status): $out"; fi
# The README's purchase: a package, a purchase completed twice, credited once.
check "package" "saved starter: Starter, 1000 tokens + 100 bonus for 9.99 USD" "$bin/tally" package save starter --name Starter --tokens 1000 --bonus 100 --price-cents 999
check "purchase start" "pending" "$bin/tally" purchase start carol starter pi_123
check "purchase complete" "1100 available" "$bin/tally" purchase complete pi_123
check "purchase again" "already done" "$bin/tally" purchase complete pi_123
check "purchased balance" "carol: 1100 available" "$bin/tally" balance carol
# A prediction: two commitments, resolved once (asking again answers the same summary).
check "commit yes" "pays 750, active" "$bin/tally" commit carol rain yes 300 --odds 2.5
check "committed" "carol: 800 available, 300 committed" "$bin/tally" balance carol
check "commit no" "staked 100 on no of rain" "$bin/tally" commit carol rain no 100 --odds 1.5
check "resolve" "rain resolved yes: 1 winner paid 750, 1 loser: 100 collected, 0 commitments refunded 0" "$bin/tally" resolve rain yes
check "resolve again" "(already: the same summary)" "$bin/tally" resolve rain yes
check "after resolve" "carol: 1450 available, 0 committed" "$bin/tally" balance carol
check "commitments" "commitment 2: carol staked 100 on no of rain" "$bin/tally" commitments --prediction rain
# The README's priced actions: the tier's price, then the membership's.
check "price trial" "generate-post: trial 5" "$bin/tally" price set generate-post trial 5
check "price subscribed" "generate-post: subscribed 2, trial 5" "$bin/tally" price set generate-post subscribed 2
check "spend action" "spent 5 from carol for generate-post at the trial price" "$bin/tally" spend carol --action generate-post
check "membership" "carol is on subscribed (membership until" "$bin/tally" membership set carol subscribed --days 30
check "spend action member" "spent 2 from carol for generate-post at the subscribed price" "$bin/tally" spend carol --action generate-post
# tallyd's message names the RPC; the CLI says which of its commands calls it.
check "unknown action" "NOT_FOUND ACTION_NOT_FOUND: action 'dance' has no price; an admin sets one with \`tally price set\`" "$bin/tally" spend carol --action dance
# The audit log has every attempt, the refusals too, with the caller's role, in aligned columns.
check "audit" "(admin)  /tally.v1.Actions/Spend  carol  NOT_FOUND ACTION_NOT_FOUND" "$bin/tally" audit --refused --limit 1
out=$("$bin/tally" audit --limit 20)
if [ "$(awk '/\/tally.v1./ { print index($0, "/tally.v1.") }' <<<"$out" | sort -u | wc -l)" = 1 ] && [ "$(wc -l <<<"$out")" -ge 10 ]; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL audit columns: the method column does not line up:"; echo "$out"; fi
check "health journal" "bytes on disk" "$bin/tally" health
check "reconcile" "every balance agrees with history" "$bin/tally" reconcile
# The README's chat-gateway day.
check "usage check" "used 0, reserved 0 of 10000 (trial), 10000 remaining" "$bin/tally" usage check bob
check "usage reserve" "reservation 1: 3000 tokens for bob" "$bin/tally" usage reserve bob 3000
check "usage settle" "used 3400, reserved 0 of 10000 (trial), 6600 remaining" "$bin/tally" usage settle 1 3400
check "usage refused" "DAILY_LIMIT_EXCEEDED" "$bin/tally" usage consume bob 7000
check "usage fits" "used 10000" "$bin/tally" usage consume bob 6600
# (Etc/UTC rather than the README's Berlin: the same days as UTC, so the checks below hold at any hour.)
check "usage zone" "days start at midnight in Etc/UTC" "$bin/tally" limits zone Etc/UTC
check "usage history" "total 10000" "$bin/tally" usage history bob
# Usage calls are counted, not audited one by one (tallyd --audit-usage-calls audits them).
check "usage refusals" "usage refusals since start: DAILY_LIMIT_EXCEEDED 1" "$bin/tally" health
stop
[ -S "$TALLY_SOCKET" ] && { failed=$((failed + 1)); echo "FAIL socket file left after clean shutdown"; }
start
check "after restart" "alice: 70 available" "$bin/tally" balance alice
check "usage after restart" "used 10000" "$bin/tally" usage check bob
check "zone after restart" "Etc/UTC" "$bin/tally" limits
check "recovered" "recovered 2 accounts, 9 transactions" cat "$work/tallyd.log"
# A kill -9 right after an acknowledged credit: the journal has it.
check "credit before crash" "75 available" "$bin/tally" credit alice 5
kill -9 "$pid"; wait "$pid" 2>/dev/null
start
check "after kill -9" "alice: 75 available" "$bin/tally" balance alice
check "replayed" "1 record(s) replayed" cat "$work/tallyd.log"
check "backup" "backup $work/backup.tally: 2 accounts" "$bin/tally" backup "$work/backup.tally"
stop
check "verify" "OK" "$bin/tallyd" verify "$work/tally-data"
check "restore" "restored 2 accounts" "$bin/tallyd" restore "$work/backup.tally" --data-dir "$work/restored"
# 23 records: the refused consume above is counted, not audited, so it wrote none.
# 28 records: the CLI sends every mutation with an idempotency key (its own when --key is not
# given), so the day's refused consume and the exit-status checks' refused spend are remembered
# under their keys, and the invalid credits (and the negative amounts) are audited refusals: each journaled.
check "verify backup" "through journal record 28" "$bin/tallyd" verify "$work/backup.tally"
# The restored directory serves the state as of the backup.
export TALLY_SOCKET="$work/restored.sock"
(cd "$work" && exec "$bin/tallyd" --data-dir "$work/restored" --socket "$TALLY_SOCKET" >>"$work/restored.log" 2>&1) &
pid=$!
for _ in $(seq 100); do grep -q "tallyd serving" "$work/restored.log" 2>/dev/null && break; sleep 0.1; done
check "restored serves" "alice: 75 available" "$bin/tally" balance alice
stop

# The configuration file: checked before use, refused by name when wrong.
printf '[[access]]\nuser = "nobody"\nrole = "read-only"\n[rate_limits]\nspend = { per_second = 5 }\n[usage]\ntime_zone = "Asia/Tokyo"\n[usage.tiers]\npro = 500\n' >"$work/tallyd.toml"
check "check-config" "uid 65534 read-only" "$bin/tallyd" check-config "$work/tallyd.toml"
check "check-config usage" "tiers pro 500; zone Asia/Tokyo" "$bin/tallyd" check-config "$work/tallyd.toml"
printf '[[access]]\nuid = 7\nrole = "superuser"\n' >"$work/bad.toml"
check "bad config refused" "unknown role 'superuser'" "$bin/tallyd" --config "$work/bad.toml" --data-dir "$work/unused" --socket "$work/unused.sock"
# check-config applies [usage] by the Ledger's rules, as start-up does: both refuse a default
# tier without a limit.
printf '[usage]\ndefault_tier = "gold"\n' >"$work/gold.toml"
check "check-config agrees with start-up" "TIER_NOT_FOUND: tier 'gold' has no limit" "$bin/tallyd" check-config "$work/gold.toml"
check "start-up refuses it too" "TIER_NOT_FOUND: tier 'gold' has no limit" "$bin/tallyd" --config "$work/gold.toml" --data-dir "$work/unused" --socket "$work/unused.sock"
if "$bin/tallyd" check-config "$work/gold.toml" >/dev/null 2>&1; then
  failed=$((failed + 1)); echo "FAIL check-config exit status: 0 for a file start-up refuses"; else passed=$((passed + 1)); fi
rm -rf "$work"
echo "smoke: $passed passed, $failed failed"
[ $failed = 0 ]
