#!/bin/bash
# Integration: dpdk-telemetry.py reads kflcap's counters during a run.
#   telemetry.sh KFLCAP
set -uo pipefail
kflcap=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v dpdk-telemetry.py >/dev/null || { echo "SKIP: dpdk-telemetry.py missing"; exit 77; }
work=$(mktemp -d)
prefix=kc_tel_$$
trap 'kill -INT $kpid 2>/dev/null; wait $kpid 2>/dev/null; rm -rf "$work"' EXIT
python3 "$here/gen_traffic.py" "$work/in.pcap" --flows 100
# Telemetry needs the runtime directory, so no --in-memory here.
if grep -q hugetlbfs /proc/mounts && [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 256 ]; then
  mem=(-m 256); else mem=(--no-huge -m 512); fi
"$kflcap" -l 0-1 --no-pci --file-prefix "$prefix" --huge-unlink "${mem[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$work/in.pcap,infinite_rx=1" -- --kfl 'udp and dst.port == 9999' --no-snapshot --out "$work/out" --status-interval 0 \
  > "$work/kflcap.log" 2>&1 & kpid=$!
q() { echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | tail -1; }
for i in $(seq 100); do q /kflcap/stats | grep -q rx_pkts && break; sleep 0.2; done
a=$(q /kflcap/stats); sleep 1; b=$(q /kflcap/stats); r=$(q /kflcap/recording); c=$(q /kflcap/config)
python3 - "$a" "$b" "$r" "$c" <<'PY'
import json, sys
a, b, r, c = (json.loads(x) for x in sys.argv[1:5])
a, b, r, c = a["/kflcap/stats"], b["/kflcap/stats"], r["/kflcap/recording"], c["/kflcap/config"]
fails = 0
def check(cond, msg):
    global fails
    if not cond:
        fails += 1; print("FAIL:", msg)
check(b["rx_pkts"] > a["rx_pkts"] > 0, f"rx_pkts grows: {a['rx_pkts']} -> {b['rx_pkts']}")
check(b["flows_created"] > 0 and "decode_drop_non_ip" in b, "flow and decode counters present")
check(b["decode_drop_non_ip"] > 0, "ARP frames counted as non_ip")
check(r["filter"] == "udp and dst.port == 9999" and r["filter_version"] == 1, f"recording shows the filter: {r}")
check(b["matches"] > 0 and b["recorded_pkts"] > 0, "matches and recorded packets counted")
check(c["kfl"] == "udp and dst.port == 9999" and c["workers"] == 1, f"config: {c}")
print(f"{6 - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
PY
