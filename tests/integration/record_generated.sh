#!/bin/bash
# Integration: generated interleaved TCP/UDP/VLAN/IPv6/fragment traffic,
# recorded with --record-all in the given lcore layout.
#   record_generated.sh KFLCAP "LCORE-ARGS"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pcap=$(mktemp --suffix=.pcap)
trap 'rm -f "$pcap"' EXIT
python3 "$here/gen_traffic.py" "$pcap" --flows 300 --seed 7
"$here/record_all.sh" "$1" "$pcap" "$2" --streams-equal
