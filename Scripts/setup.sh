#!/usr/bin/env bash
# Installs the Debian packages the tests and the proto generation need, if missing.
# (Building and running tallyd needs only the Swift toolchain.)
set -euo pipefail
# tzdata: daily-limit time zones; make, pkg-config, valgrind: the C client; python3-venv: the Python client;
# postgresql: the several-hosts test (its own servers; none is started system-wide)
packages=(protobuf-compiler protobuf-c-compiler libprotobuf-c-dev gcc make pkg-config valgrind tzdata python3 python3-venv postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  # Packages must not start system-wide servers (postgresql would): policy-rc.d refuses service
  # starts during the install, if none is in place already.
  policy_made=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod 755 /usr/sbin/policy-rc.d && policy_made=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -n "$policy_made" ] && $sudo rm -f /usr/sbin/policy-rc.d
fi
