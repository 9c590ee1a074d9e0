#!/bin/bash
# End-to-end, the seed workflow: RECORDING_KFL picks streams, snapshots roll
# every second while a capture is replayed, and each snapshot is shipped to a
# destination; the streams are read back from it and checked with tshark:
# exactly the streams with a 500 response, each whole (a stream spread over
# several snapshots is put back together by conversation).
#   record_e2e.sh KFLCAP KC_STORE_TOOL file|gcs KFLCAP-QUERY
set -uo pipefail
kflcap=$1 tool=$2 mode=$3 query=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
export KC_STORE_TOOL=$tool
if [ "$mode" = gcs ]; then
  . "$here/../storage/lib.sh"
  st_init
  st_npm
  st_start_gcs
  work=$ST_TMP
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
. "$here/eal_args.sh" "e2e$$"
python3 "$here/gen_http.py" "$work/in.pcap" --streams 300 --seed 9 > /dev/null
env=(RECORDING_KFL='http and response.status == 500')
opts=(--snapshot-cron '* * * * * *' --out "$work/out")
if [ "$mode" = gcs ]; then
  env+=(GCS_BUCKET=test-bucket/recordings GCS_SA_KEY_JSON="$work/key.json")
  opts+=(--gcs-endpoint "$GCS_URL")
fi
# Slow the replay a little so that several snapshots fall inside it.
env "${env[@]}" "$kflcap" -l 0-1 --no-pci --file-prefix "$EAL_PREFIX" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$work/in.pcap" -- "${opts[@]}" --status-interval 0 > "$work/kflcap.log" 2>&1
rc=$?
cat "$work/kflcap.log" | grep -E "recording|writer|storage|snapshot" || true
pass=0 fail=0
ck() { if "${@:2}"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
ck "kflcap exit 0" test $rc -eq 0
mkdir -p "$work/got"
if [ "$mode" = gcs ]; then
  "$tool" fetch --url gs://test-bucket/recordings --out "$work/got" --gcs-key "$work/key.json" \
    --gcs-endpoint "$GCS_URL" > "$work/fetch.out" 2>&1
  ck "fetch from the GCS test server" grep -q "fetched=" "$work/fetch.out"
else
  cp -r "$work/out/archive/." "$work/got/"
fi
ck "spool empty after the run" test -z "$(ls -A "$work/out/spool" 2>/dev/null | grep -v '^\.')"
mapfile -t caps < <(find "$work/got" -name '*.pcap' | sort)
mapfile -t mans < <(find "$work/got" -name 'manifest.json' | sort)
mapfile -t names < <(find "$work/got" -name 'name_resolution_history.json' | sort)
ck "at least one snapshot (got ${#caps[@]})" test ${#caps[@]} -ge 1
ck "a manifest and a name history with every snapshot" test ${#mans[@]} -eq ${#caps[@]} -a ${#names[@]} -eq ${#caps[@]}
ck "object names <prefix>/<host>_<ip>_<run>/<entry>/<file>" \
  bash -c "find '$work/got' -name '*.pcap' | grep -qE '/[^/]+_[0-9a-fA-F.:]+_[0-9]+-[0-9]+/[0-9]+/[0-9]+\.pcap$'"
if [ ${#caps[@]} -ge 1 ]; then
  mergecap -F pcap -w "$work/all.pcap" "${caps[@]}"
  python3 "$here/check_kfl_record.py" "$work/in.pcap" "$work/all.pcap" 'http.response.code == 500' > "$work/k.txt"
  ck "snapshots hold exactly the matching streams, whole" test $? -eq 0
  tail -2 "$work/k.txt"
  ck "manifest names the matching item" grep -q '"matched":.*-> 500' "${mans[@]}"
fi
if [ "$mode" = gcs ]; then
  # The seed's "point it at the bucket and investigate offline".
  a=$(GCS_SA_KEY_JSON="$work/key.json" "$query" -q --kfl 'http and response.status == 500' \
        -r gs://test-bucket/recordings --gcs-endpoint "$GCS_URL" | wc -l)
  b=$("$query" -q --kfl 'http and response.status == 500' -r "$work/got" | wc -l)
  ck "kflcap-query -r gs:// finds the 500s ($a, locally $b)" test "$a" -gt 0 -a "$a" = "$b"
fi
ck "no private key in the log" bash -c "! grep -q 'PRIVATE KEY' '$work/kflcap.log'"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
