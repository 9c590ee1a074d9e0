#!/bin/bash
# Install everything kflcap needs to build, test and run on Debian 12, and
# reserve hugepages. Idempotent; run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

PKGS=(
  build-essential clang lld llvm pkg-config meson ninja-build python3 python3-pyelftools
  dpdk dpdk-dev libdpdk-dev
  libcjson-dev libcurl4-openssl-dev libssl-dev openssl zlib1g-dev libpcap-dev libre2-dev
  tshark wireshark-common tcpdump iproute2 ethtool curl procps kmod
)
# Node.js runs the storage test services; keep a node that is already there
# (it may come with its own npm), else take Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; the default (no) is fine.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

"$here/hugepages.sh" || true
