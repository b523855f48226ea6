#!/usr/bin/env bash
# Installs the Debian packages the tests and the proto generation need, if missing.
# (Building and running tallyd needs only the Swift toolchain.)
set -euo pipefail
# tzdata: daily-limit time zones; make, pkg-config, valgrind: the C client; python3-venv: the Python client
packages=(protobuf-compiler protobuf-c-compiler libprotobuf-c-dev gcc make pkg-config valgrind tzdata python3 python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
