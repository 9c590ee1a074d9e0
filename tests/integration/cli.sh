#!/bin/bash
# Integration: kflcap's command line: help, version, and every set-up error
# gives one clear message and a non-zero exit.
set -uo pipefail
kflcap=$1
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data/record
. "$here/eal_args.sh" cli
pass=0 fail=0
expect() { # expect NAME WANT_RC PATTERN -- CMD...
  local name=$1 want=$2 pat=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if { [ "$want" = 0 ] && [ $rc -eq 0 ]; } || { [ "$want" != 0 ] && [ $rc -ne 0 ]; }; then
    if printf '%s' "$out" | grep -qE -- "$pat"; then pass=$((pass+1)); return; fi
  fi
  fail=$((fail+1)); echo "FAIL: $name (rc=$rc)"; printf '%s\n' "$out" | tail -5
}
eal=(--no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error)
expect help 0 "--record-all" -- "$kflcap" --help
expect version 0 "^kflcap [0-9]" -- "$kflcap" --version
expect bad-option 1 "unknown option" -- "$kflcap" -l 0 "${eal[@]}" -- --no-such-option
expect bad-number 1 "key 'mbufs': value 'x12': not an unsigned decimal integer" -- "$kflcap" -l 0 "${eal[@]}" -- --mbufs x12
expect out-of-range 1 "out of range" -- "$kflcap" -l 0 "${eal[@]}" -- --flow-table-size 1
expect ring-pow2 1 "not a power of two" -- "$kflcap" -l 0 "${eal[@]}" -- --ring-size 1000
expect no-ports 1 "no ports" -- "$kflcap" -l 0 "${eal[@]}" -- --out "$(mktemp -d)"
cfg=$(mktemp); echo '{"kfl": "http", "bogus": 1}' > "$cfg"
expect config-unknown-key 1 "config file .*: unknown key 'bogus'" -- "$kflcap" -- --print-config --config "$cfg"
echo '{"kfl": "http and (", "record_all": false}' > "$cfg"
expect bad-filter 1 "kfl" -- "$kflcap" -l 0 "${eal[@]}" --vdev "net_pcap0,rx_pcap=$data/zeek-wikipedia.pcap" -- --config "$cfg"
echo '{"kfl": "dns", "gcs_sa_key_json": "{\"private_key\": \"SECRET-KEY-MATERIAL\"}"}' > "$cfg"
expect print-config-masks 0 '"gcs_sa_key_json":[[:space:]]*"\*\*\*"' -- "$kflcap" -- --print-config --config "$cfg"
out=$("$kflcap" -- --print-config --config "$cfg" 2>&1)
if printf '%s' "$out" | grep -q SECRET-KEY-MATERIAL; then fail=$((fail+1)); echo "FAIL: secret printed"; else pass=$((pass+1)); fi
expect env-override 0 '"kfl":[[:space:]]*"http or dns"' -- env RECORDING_KFL='http or dns' "$kflcap" -- --print-config
expect cli-over-env 0 '"kfl":[[:space:]]*"tcp"' -- env RECORDING_KFL='http or dns' "$kflcap" -- --print-config --kfl tcp
rm -f "$cfg"
expect bad-eal 1 "EAL initialisation failed" -- "$kflcap" --no-such-eal-flag
ro=$(mktemp -d); chmod 500 "$ro"
if [ "$(id -u)" = 0 ]; then ro=/proc/kflcap-not-writable; fi
expect unwritable-out 1 "cannot create|not writable" -- "$kflcap" -l 0 "${eal[@]}" \
  --vdev "net_pcap0,rx_pcap=$data/zeek-wikipedia.pcap" -- --out "$ro"
# A capture whose third record is corrupt: the readable packets are recorded, no crash.
out=$(mktemp -d)
expect corrupt-pcap 0 "kflcap summary" -- "$kflcap" -l 0 "${eal[@]}" \
  --vdev "net_pcap0,rx_pcap=$data/suricata-fuzz-corrupt-record.pcap" -- --record-all --out "$out"
rm -rf "$out"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
