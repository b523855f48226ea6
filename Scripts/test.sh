#!/usr/bin/env bash
# Every test: the Swift suites (unit, property, end-to-end over a real socket), the generated C
# code's freshness and compilation, the C client (libtally) under valgrind and the Python client
# against a real tallyd, three tallyd nodes sharing a PostgreSQL command log (several hosts),
# the README's CLI session against a real tallyd process, and each
# libFuzzer target for 20 s (TALLY_FUZZ_SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh

started=$(date +%s)
echo "== swift build"
swift build --build-tests
echo "== swift test"
# A bound far above its usual 4-6 minutes: a hung run fails here with its name instead of using
# up CI's limit. Whatever tallyd or tally a failed run left behind (tests start them in their
# own process groups) is stopped, so nothing outlives the run.
bin="$(swift build --show-bin-path)"
if ! timeout --kill-after=30 "${TALLY_SWIFT_TEST_TIMEOUT:-1800}" swift test --skip-build; then
  echo "swift test failed or ran past ${TALLY_SWIFT_TEST_TIMEOUT:-1800} s"
  pkill -KILL -f "^$bin/(TallyPackageTests|tally)" || true
  exit 1
fi

echo "== generated C code is fresh and compiles"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd Protos && protoc-c --c_out="$tmp" $(find tally/v1 -name '*.proto' | sort))
diff -r "$tmp" Clients/c/generated || { echo "Clients/c/generated is stale: run Scripts/gen-protos.sh"; exit 1; }
for f in Clients/c/generated/tally/v1/*.pb-c.c; do
  cc -std=c99 -Wall -Werror -c "$f" -I Clients/c/generated -o "$tmp/$(basename "$f" .c).o"
done

tallyd="$bin/tallyd"
echo "== C client: libtally tests under valgrind"
make -C Clients/c -s all test-valgrind TALLYD="$tallyd"
echo "== Python client: pytest against a real tallyd"
Clients/python/test.sh "$tallyd"
echo "== conformance: the Swift (in swift test), C and Python clients answer one scenario identically"
Clients/conformance/run.sh "$tallyd"

echo "== several hosts: three tallyd nodes on one PostgreSQL command log"
Tests/SeveralHosts/run.sh "$tallyd"

echo "== CLI session against a real tallyd"
Scripts/smoke.sh

echo "== fuzzing, briefly (Scripts/fuzz.sh SECONDS runs longer)"
Scripts/fuzz.sh "${TALLY_FUZZ_SECONDS:-20}"
echo "all tests passed in $(( $(date +%s) - started )) s"
