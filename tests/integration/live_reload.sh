#!/bin/bash
# End-to-end, live: SIGHUP swaps the recording filter without a restart.
# curl fetches /a and /b over a veth pair into a namespace this test makes;
# kflcap (net_af_packet) records with kfl 'request.path == "/a"', snapshots
# every second; the config file then says '/b' and kflcap gets SIGHUP. The
# shipped snapshots must hold exactly the /a streams from before the change
# and the /b streams from after it (read back with kflcap-query -r).
#   live_reload.sh KFLCAP KFLCAP-QUERY
set -uo pipefail
kflcap=$1 query=$2
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v ip >/dev/null && command -v ethtool >/dev/null && command -v curl >/dev/null || { echo "SKIP: tools"; exit 77; }
. "$here/eal_args.sh" reload
id=$$
ns=kc_rl_$id vc=kcr$((id % 100000)) vs=kct$((id % 100000))
net=10.$((130 + id % 50)).$((id % 200)).
work=$(mktemp -d)
cleanup() {
  [ -n "${kpid:-}" ] && kill -INT "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip link del "$vc" 2>/dev/null; ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$here/veth_lib.sh"
kc_veth_up "$ns" "$vc" "$vs" "$net"
mkdir -p "$work/www"; echo A > "$work/www/a"; echo B > "$work/www/b"
ip netns exec "$ns" python3 -m http.server 8080 --bind "${net}2" --directory "$work/www" >/dev/null 2>&1 &
echo '{"kfl": "request.path == \"/a\""}' > "$work/kflcap.json"
"$kflcap" -l 0-1 --no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_af_packet0,iface=$vc" -- --config "$work/kflcap.json" --out "$work/out" \
  --snapshot-cron '* * * * * *' --status-interval 0 > "$work/kflcap.log" 2>&1 & kpid=$!
for i in $(seq 100); do grep -q "writing to" "$work/kflcap.log" && break; sleep 0.1; done
sleep 1
get() { curl -s -o /dev/null "http://${net}2:8080/$1"; }
for i in 1 2 3; do get a; get b; done
sleep 1.5
echo '{"kfl": "request.path == \"/b\""}' > "$work/kflcap.json"
kill -HUP "$kpid"
for i in $(seq 50); do grep -q "filter version 2" "$work/kflcap.log" && break; sleep 0.1; done
sleep 0.5
for i in 1 2; do get a; get b; done
sleep 2
kill -INT "$kpid"; wait "$kpid"; krc=$?; kpid=
grep -E "reload|recording|writer|snapshot" "$work/kflcap.log"
pass=0 fail=0
ck() { if "${@:2}"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
ck "kflcap exit 0" test $krc -eq 0
ck "reload logged" grep -q "reload: filter version 2" "$work/kflcap.log"
mapfile -t caps < <(find "$work/out/archive" -name '*.pcap' | sort)
ck "several snapshots (${#caps[@]})" test ${#caps[@]} -ge 2
paths=$(for c in "${caps[@]}"; do "$query" -q -r "$c"; done | python3 -c '
import json, sys
for l in sys.stdin:
    it = json.loads(l)
    if it["protocol"]["abbr"] == "HTTP":
        print(it["timestamp"], it["request"]["path"])' | sort -n | awk '{print $2}' | tr '\n' ' ')
echo "recorded requests in time order: $paths"
ck "3 /a streams before the reload, then 2 /b streams after it" test "$paths" = "/a /a /a /b /b "
ck "manifests name the filter version that matched" bash -c "grep -h '\"matched\"' \$(find '$work/out/archive' -name manifest.json) | grep -c 'filter v2' | grep -qx 2"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
