#!/usr/bin/env bash
# Several hosts, one ledger: three tallyd nodes on one PostgreSQL command log, under load, through
# kill -9 of a node, kill -9 of PostgreSQL and a standby's promotion (several_hosts.py says what
# is checked). Starts its own PostgreSQL servers on Unix sockets in a temporary directory.
#   Tests/SeveralHosts/run.sh [PATH_TO_TALLYD]      (default: $TALLYD)
# Environment: SEED (else a random one, printed), SEVERAL_HOSTS_SECONDS (load per phase, 6).
# Needs Debian's postgresql (Scripts/setup.sh installs it) and Python with protobuf: the Python
# client's venv (Clients/python/test.sh makes it), else one made here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tallyd=${1:-${TALLYD:-}}
[ -n "$tallyd" ] && [ -x "$tallyd" ] || { echo "usage: $0 PATH_TO_TALLYD (or set TALLYD)" >&2; exit 2; }
python=${TALLY_PY_VENV:-$repo/Clients/python/.venv}/bin/python
if [ ! -x "$python" ]; then
  venv=$(mktemp -d /tmp/tally-hosts-venv-XXXXXX)
  trap 'rm -rf "$venv"' EXIT
  python3 -m venv "$venv" && "$venv/bin/python" -m pip install -q --disable-pip-version-check protobuf==7.36.2
  python=$venv/bin/python
fi
seed=()
[ -n "${SEED:-}" ] && seed=(--seed "$SEED")
exec "$python" "$here/several_hosts.py" --tallyd "$tallyd" --seconds "${SEVERAL_HOSTS_SECONDS:-6}" "${seed[@]}"
