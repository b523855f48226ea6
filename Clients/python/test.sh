#!/usr/bin/env bash
# Runs the tally_client tests against a real tallyd:
#   Clients/python/test.sh [PATH_TO_TALLYD]     (default: $TALLYD)
# Needs python3 with venv (Debian 12: apt-get install python3 python3-venv) and protoc for the
# freshness check of the generated modules (apt-get install protobuf-compiler). Creates a venv
# in Clients/python/.venv (reused while the pins below stay the same) with pinned protobuf and
# pytest (and mypy) from PyPI, checks that tally_client/_pb matches Protos/, then runs mypy and pytest -q.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tallyd=${1:-${TALLYD:-}}
[ -n "$tallyd" ] || { echo "usage: $0 PATH_TO_TALLYD (or set TALLYD)" >&2; exit 2; }
[ -x "$tallyd" ] || { echo "not an executable: $tallyd" >&2; exit 2; }
export TALLYD=$(cd "$(dirname "$tallyd")" && pwd)/$(basename "$tallyd")

PROTOBUF_VERSION=${TALLY_PY_PROTOBUF:-7.36.2}   # also passes with 4.21.12 (the floor in pyproject.toml)
PYTEST_VERSION=8.4.2
# The metrics test parses tallyd's /metrics with the Prometheus project's own text parser.
PROMETHEUS_CLIENT_VERSION=0.23.1
# mypy checks the client's own type hints (py.typed promises them) against the generated stubs.
MYPY_PINS="mypy==1.13.0 types-protobuf==5.29.1.20241207"
venv=${TALLY_PY_VENV:-$here/.venv}
pins="protobuf==$PROTOBUF_VERSION pytest==$PYTEST_VERSION prometheus_client==$PROMETHEUS_CLIENT_VERSION $MYPY_PINS"

started=$(date +%s)
command -v python3 >/dev/null || { echo "missing python3: apt-get install python3 python3-venv" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.tally-pins" 2>/dev/null)" != "$pins" ]; then
  echo "== venv $venv ($pins)"
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 1; }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $pins
  echo "$pins" > "$venv/.tally-pins"
fi

echo "== generated Python modules are fresh"
command -v protoc >/dev/null || { echo "missing protoc: apt-get install protobuf-compiler" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$here/gen-protos.sh" "$tmp/_pb"
diff -r -x __pycache__ "$tmp/_pb" "$here/tally_client/_pb" \
  || { echo "Clients/python/tally_client/_pb is stale: run Scripts/gen-protos.sh" >&2; exit 1; }

echo "== mypy (the client's type hints)"
cd "$here"
"$venv/bin/python" -m mypy --no-incremental

echo "== pytest (tallyd: $TALLYD)"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests
echo "python client tests passed in $(( $(date +%s) - started )) s"
