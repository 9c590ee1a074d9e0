#!/bin/bash
# Configure (once) and build kflcap. BUILD=dir (default build), extra meson
# options after the script name, e.g. scripts/build.sh -Dbuildtype=debug.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" "$@"
fi
ninja -C "$build"
