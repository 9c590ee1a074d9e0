#!/bin/bash
# Integration: run the real kflcap on a capture through net_pcap with
# --record-all and check every stream file against the input with tshark.
#   record_all.sh KFLCAP PCAP "LCORE-ARGS" [checker options]  (e.g. "-l 0-1")
set -euo pipefail
kflcap=$1 pcap=$2 lcores=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/eal_args.sh" "ra$(basename "$pcap" | tr -c 'a-z0-9' _ | cut -c1-20)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$kflcap" $lcores --no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$pcap" -- --record-all --no-snapshot --out "$out" --mbufs 8192 --flow-table-size 4096 \
  --status-interval 0 > "$out/kflcap.log" 2>&1 || { cat "$out/kflcap.log"; exit 1; }
cat "$out/kflcap.log"
grep -q "kflcap summary" "$out/kflcap.log"
python3 "$here/check_record_all.py" "$pcap" "$out/live" "$@"
