#!/bin/bash
# End-to-end, live: a veth pair whose far end sits in a network namespace this
# test creates, an HTTP server and a UDP echo in that namespace, curl and a UDP
# client on the near end, and kflcap reading the near end with net_af_packet
# (single queue: software fan-out to 2 workers). tcpdump records the same
# interface; every conversation kflcap wrote must hold exactly the packets
# tcpdump saw for it, byte for byte. Traffic never leaves this machine.
#   live_veth.sh KFLCAP
set -uo pipefail
kflcap=$1
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
command -v ip >/dev/null && command -v ethtool >/dev/null && command -v tcpdump >/dev/null && command -v curl >/dev/null ||
  { echo "SKIP: needs iproute2, tcpdump, curl"; exit 77; }
. "$here/eal_args.sh" live
id=$$
ns=kc_ns_$id vc=kcc$((id % 100000)) vs=kcs$((id % 100000))
net=10.$((77 + id % 50)).$((id % 200)).
work=$(mktemp -d)
cleanup() {
  [ -n "${kpid:-}" ] && kill -INT "$kpid" 2>/dev/null
  [ -n "${tpid:-}" ] && kill "$tpid" 2>/dev/null
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip link del "$vc" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$here/veth_lib.sh"
kc_veth_up "$ns" "$vc" "$vs" "$net"
mkdir -p "$work/www"; head -c 200000 /dev/urandom > "$work/www/blob.bin"; echo hello > "$work/www/index.html"
ip netns exec "$ns" python3 -m http.server 8080 --bind "${net}2" --directory "$work/www" >/dev/null 2>&1 &
ip netns exec "$ns" python3 -c "
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('${net}2',5353))
while True:
    d,a=s.recvfrom(2048); s.sendto(d[::-1],a)" >/dev/null 2>&1 &

tcpdump -i "$vc" -w "$work/tcpdump.pcap" -U -s 0 "tcp or udp" >/dev/null 2>&1 & tpid=$!
"$kflcap" --lcores 0@0,1@1,2@1 --no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_af_packet0,iface=$vc" -- --record-all --no-snapshot --out "$work/out" --mbufs 8192 --status-interval 0 \
  > "$work/kflcap.log" 2>&1 & kpid=$!
for i in $(seq 50); do grep -q "writing to" "$work/kflcap.log" && break; sleep 0.2; done
sleep 1
for i in $(seq 5); do curl -s -o /dev/null "http://${net}2:8080/index.html" || echo "curl failed"; done
curl -s -o "$work/blob.out" "http://${net}2:8080/blob.bin"
python3 -c "
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
for i in range(3):
    s.sendto(b'ping %d'%i,('${net}2',5353)); s.recv(2048)"
sleep 2
kill -INT "$kpid"; wait "$kpid"; krc=$?; kpid=
sleep 0.5; kill "$tpid"; wait "$tpid" 2>/dev/null; tpid=
cat "$work/kflcap.log"
[ $krc -eq 0 ] || { echo "FAIL: kflcap exited $krc"; exit 1; }
cmp -s "$work/blob.out" "$work/www/blob.bin" || { echo "FAIL: download corrupted"; exit 1; }
python3 - "$work/tcpdump.pcap" "$work/out/live" "$here" <<'PY'
import collections, os, sys
sys.path.insert(0, sys.argv[3])
import pcaplib
ref = collections.defaultdict(list)
for ts, d, wire, lt in pcaplib.read_pcap(sys.argv[1]):
    f = pcaplib.flow_of(d)
    if f and f[0] != "frag":
        ref[f].append(d)
ours = {}
for name in [n for n in os.listdir(sys.argv[2]) if n.endswith(".pcap")]:
    pk = [d for _, d, _, _ in pcaplib.read_pcap(os.path.join(sys.argv[2], name))]
    flows = {pcaplib.flow_of(d) for d in pk}
    assert len(flows) == 1, f"{name}: {len(flows)} conversations"
    ours[flows.pop()] = pk
fails = 0
tcp = [f for f in ref if f[0] == 6]
udp = [f for f in ref if f[0] == 17]
def check(cond, msg):
    global fails
    if not cond:
        fails += 1
        print("FAIL:", msg)
check(len(tcp) == 6, f"expected 6 TCP conversations on the wire, tcpdump saw {len(tcp)}")
check(len(udp) >= 1, "expected the UDP exchange on the wire")
for f, pk in ref.items():
    check(f in ours, f"conversation {f[0]} {f[1][1]}<->{f[2][1]} not recorded")
    if f in ours:
        check(collections.Counter(ours[f]) == collections.Counter(pk),
              f"conversation {f[1][1]}<->{f[2][1]}: {len(ours[f])} packets recorded, tcpdump saw {len(pk)}")
check(set(ours) <= set(ref), "recorded a conversation tcpdump did not see")
print(f"{len(ref)} conversations compared; {len(ref) - fails if fails < len(ref) else 0} passed, {fails} failed")
sys.exit(1 if fails else 0)
PY
