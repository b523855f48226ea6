#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (docs/security.md): the frame decoder, Request and
# payload decoding, and the Ledger's validation and application. Builds Fuzz/ (a package of its
# own, so the main build never sees -sanitize=fuzzer), then runs each target for
# SECONDS_PER_TARGET on a temporary copy of its seed corpus in Fuzz/corpus/<target>/.
# Exits non-zero on any crash, leak or timeout, naming the input and how to reproduce it.
#
#   Scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
scratch=.build-fuzz  # never .build: `swift build` of the main package may be running there
flags=(-c release --package-path Fuzz --scratch-path "$scratch"
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
  -Xswiftc -enable-testing)  # FuzzRequest uses @testable import TallyServer

started=$(date +%s)
echo "== building the fuzzers"
# SwiftPM keeps the fuzz package's list of source files in its build database and does not
# see a file added under Sources/ since (the build then fails to find the new types): start the
# database afresh whenever the list of files changed.
listing=$(find Sources -name '*.swift' | sort | md5sum)
if [ "$(cat "$scratch/sources.md5" 2>/dev/null)" != "$listing" ]; then
  rm -f "$scratch/build.db" "$scratch/release.yaml"
fi
swift build "${flags[@]}"
mkdir -p "$scratch" && echo "$listing" > "$scratch/sources.md5"
bin=$(swift build "${flags[@]}" --show-bin-path)
echo "built in $(( $(date +%s) - started )) s"

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
artifacts=$scratch/artifacts  # crash inputs outlive the run (and stay out of git)
mkdir -p "$artifacts"
# Swift's own crash backtracer confuses ASan; libFuzzer reports the crash itself.
export SWIFT_BACKTRACE=enable=no
failed=0
for target in frame request ledger; do
  exe="$bin/Fuzz${target^}"
  max_len=4096; [ "$target" = ledger ] && max_len=1024  # ~100 commands
  mkdir -p "$work/$target" "$artifacts/$target"
  cp Fuzz/corpus/"$target"/* "$work/$target/"
  seeds=$(ls "$work/$target" | wc -l)
  log=$work/$target.log
  status=0
  "$exe" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$target/" "$work/$target" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(ls "$work/$target" | wc -l)
  echo "fuzz $target: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus $seeds -> $corpus"
  if [ "$status" -ne 0 ]; then
    failed=1
    grep -E 'Fatal error|ERROR: |SUMMARY' "$log" | head -5 | cut -c1-400 || true
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "FAILED: $target exited $status; input: ${crash:-none written}"
    [ -n "$crash" ] && echo "reproduce: SWIFT_BACKTRACE=enable=no $exe $crash"
    cp "$log" "$artifacts/$target/last.log"; echo "full log: $artifacts/$target/last.log"
  fi
done
echo "fuzzing done in $(( $(date +%s) - started )) s"
exit $failed
