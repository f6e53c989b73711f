#!/usr/bin/env bash
# Installs what building, mounting and testing infisicalfs need on Debian 12
# with the Swift toolchain: libfuse3, OpenSSL's libcrypto, libcurl and SQLite
# (headers and runtime), fuse3's tools, python3 for the tests' helpers, curl
# for scripts/bench.sh and the examples, jq for examples/crypto-session and
# the views' tests, vim and nano, which the editor tests run on a mount, and
# attr (getfattr, setfattr) for the extended attributes' tests.
# Asks apt only when something is missing.
set -euo pipefail

packages=(libfuse3-dev fuse3 libssl-dev libcurl4-openssl-dev libsqlite3-dev python3 pkg-config curl jq vim nano attr)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -e /dev/fuse ]]; then
  echo "install-deps: /dev/fuse is missing; load the fuse module (modprobe fuse) to mount" >&2
fi
