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
  mem=(-m 256 --huge-unlink); else mem=(--no-huge -m 512); fi
"$kflcap" -l 0-1 --no-pci --file-prefix "$prefix" "${mem[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$work/in.pcap,infinite_rx=1" -- --kfl 'udp and dst.port == 9999' --no-snapshot --out "$work/out" --status-interval 0 \
  > "$work/kflcap.log" 2>&1 & kpid=$!
# One query, retried: on a loaded machine the socket may answer late.
q() {
  local out i
  for i in $(seq 20); do
    out=$(echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | tail -1)
    case "$out" in *'": {'*) echo "$out"; return 0 ;; esac
    sleep 0.5
  done
  echo "telemetry: no answer to $1" >&2; cat "$work/kflcap.log" >&2; echo '{}'
}
for i in $(seq 300); do echo /kflcap/stats | dpdk-telemetry.py -f "$prefix" 2>/dev/null | grep -q rx_pkts && break; sleep 0.2; done
a=$(q /kflcap/stats); sleep 1; b=$(q /kflcap/stats); r=$(q /kflcap/recording); c=$(q /kflcap/config)
python3 - "$a" "$b" "$r" "$c" <<'PY'
import json, sys
a, b, r, c = (json.loads(x) for x in sys.argv[1:5])
a, b, r, c = (a.get("/kflcap/stats") or {}, b.get("/kflcap/stats") or {}, r.get("/kflcap/recording") or {},
              c.get("/kflcap/config") or {})
fails = 0
def check(cond, msg):
    global fails
    if not cond:
        fails += 1; print("FAIL:", msg)
check(b.get("rx_pkts", 0) > a.get("rx_pkts", 0) > 0, f"rx_pkts grows: {a.get('rx_pkts')} -> {b.get('rx_pkts')}")
check(b.get("flows_created", 0) > 0 and "decode_drop_non_ip" in b, "flow and decode counters present")
check(b.get("decode_drop_non_ip", 0) > 0, "ARP frames counted as non_ip")
check(r.get("filter") == "udp and dst.port == 9999" and r.get("filter_version") == 1, f"recording shows the filter: {r}")
check(b.get("matches", 0) > 0 and b.get("recorded_pkts", 0) > 0, "matches and recorded packets counted")
check(c.get("kfl") == "udp and dst.port == 9999" and c.get("workers") == 1, f"config: {c}")
print(f"{6 - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
PY
