#!/bin/bash
# The main job on the bundled sample: install, reserve hugepages, build, then
# replay a real capture (HTTP browsing with DNS) through net_pcap, record the
# streams matching 'http or dns', and ship the snapshot to ./demo-out/archive
# (local storage, no cloud account). Ends with the recorded items as a table.
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
  --vdev "net_pcap0,rx_pcap=$sample" -- --kfl 'http or dns' --items "$out/items.jsonl" --out "$out"

echo
echo "demo: snapshot shipped to $out/archive:"
find "$out/archive" -type f | sed 's/^/  /'
snap=$(find "$out/archive" -name '*.pcap' | head -1)
echo "demo: $(capinfos -c -M "$snap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}') packets in $snap"
echo "demo: the recorded HTTP exchanges, read back offline with kflcap-query:"
"$root/build/app/query/kflcap-query" -q --kfl 'http' -r "$snap" --table
