#!/bin/bash
# The main job on the bundled sample: install, reserve hugepages, build, then
# record a real capture (HTTP browsing with DNS) replayed through net_pcap,
# into ./demo-out (local storage, no cloud account).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
BUILD=$root/build "$root/scripts/build.sh" -Dbuildtype=release

sample=${1:-$root/tests/data/record/zeek-wikipedia.pcap}
out=${DEMO_OUT:-$root/demo-out}
rm -rf "$out"
if grep -q hugetlbfs /proc/mounts && [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 256 ]; then
  mem=(-m 512)
else
  echo "demo: no hugepages available, running with --no-huge" >&2
  mem=(--no-huge -m 512)
fi
"$root/build/app/kflcap/kflcap" -l 0-1 --no-pci --file-prefix kflcap_demo "${mem[@]}" \
  --vdev "net_pcap0,rx_pcap=$sample" -- --record-all --out "$out"

echo
echo "demo: $(ls "$out/live" | wc -l) stream pcaps in $out/live, e.g.:"
for f in $(ls "$out/live" | head -5); do
  printf '  %-28s %s\n' "$f" "$(capinfos -c -M "$out/live/$f" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2 " packets"}')"
done
