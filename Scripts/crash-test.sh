#!/usr/bin/env bash
# kill -9 crash test against a real tallyd process: clients drive keyed mutations, tallyd is
# SIGKILLed at random moments (every other cycle while a snapshot is being written), restarted,
# and every acknowledged mutation must come back exactly once with the same answer, every
# balance must add up, and the invariants must hold. Prints cycles, mutations checked and lost.
#   Scripts/crash-test.sh [CYCLES]      (default 100; CI runs 20 inside the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests >/dev/null
TALLY_CRASH_CYCLES=${1:-100} swift test --skip-build --filter CrashTests 2>&1 | grep -E "crash test:|✘|✔ Test run|Test run"
