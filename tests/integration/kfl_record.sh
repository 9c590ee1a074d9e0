#!/bin/bash
# Integration: KFL-triggered recording of whole streams, checked with tshark.
#   kfl_record.sh KFLCAP PCAP|gen-http|gen-traffic 'KFL' 'TSHARK-FILTER' [kflcap options] [-- checker options]
set -euo pipefail
kflcap=$1 pcap=$2 kfl=$3 tflt=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "$pcap" = gen-http ]; then
  pcap=$out/gen.pcap
  python3 "$here/gen_http.py" "$pcap" --streams 2000 > "$out/streams.txt"
elif [ "$pcap" = gen-traffic ]; then
  pcap=$out/gen.pcap
  python3 "$here/gen_traffic.py" "$pcap" --flows 300 --seed 7
fi
kopts=() copts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do kopts+=("$1"); shift; done
[ "${1:-}" = -- ] && { shift; copts=("$@"); }
. "$here/eal_args.sh" "kfl$$"
"$kflcap" -l 0-1 --no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$pcap" -- --kfl "$kfl" --no-snapshot --out "$out/rec" --mbufs 65536 --status-interval 0 \
  "${kopts[@]}" > "$out/kflcap.log" 2>&1 || { cat "$out/kflcap.log"; exit 1; }
grep -E "recording|retention|writer|hand-off" "$out/kflcap.log"
python3 "$here/check_kfl_record.py" "$pcap" "$out/rec/live" "$tflt" "${copts[@]}"
