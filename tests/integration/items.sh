#!/bin/bash
# Integration: the item log of a capture compared with tshark's decode.
#   items.sh KFLCAP PCAP [check_items options]
set -euo pipefail
kflcap=$1 pcap=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. "$here/eal_args.sh" "it$$"
"$kflcap" -l 0-1 --no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$pcap" -- --items "$out/items.jsonl" --out "$out/rec" --status-interval 0 \
  > "$out/kflcap.log" 2>&1 || { cat "$out/kflcap.log"; exit 1; }
grep -E "recording|dissect|HTTP|DNS|TLS|http1" "$out/kflcap.log" || true
python3 "$here/check_items.py" "$pcap" "$out/items.jsonl" "$@"
