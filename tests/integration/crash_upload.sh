#!/bin/bash
# Crash safety of the upload: kflcap ships a snapshot larger than one GCS
# chunk (8 MiB) to the GCS test server (tests/storage/gcs-server.js), whose
# chunk answers are slowed down, and is SIGKILLed twice in the middle:
#   kill 1: the first chunk sent, its answer pending (the server keeps it);
#   kill 2: after the restart resumed the session (status query) and sent
#           the last chunk, its answer pending (the server finishes the
#           object; the client never hears of it).
# A third run, at full speed, must finish: every snapshot the spool held
# arrives exactly once (one run folder, each object created once), complete
# and byte-identical (kc-store-tool fetch), and the spool ends empty.
#   crash_upload.sh KFLCAP KC_STORE_TOOL
set -uo pipefail
kflcap=$1 tool=$2
here=$(cd "$(dirname "$0")" && pwd)
export KC_STORE_TOOL=$tool
for t in python3 capinfos timeout; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
. "$here/../storage/lib.sh"
st_init
st_npm
st_start_gcs
set +e
work=$ST_TMP
. "$here/eal_args.sh" "cru"
kpid=
prefixes=()
cleanup() {
  # kpid may be timeout(1) wrapping kflcap: its child too.
  if [ -n "$kpid" ]; then kill -9 $(pgrep -P "$kpid") "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; fi
  local p
  for p in "${prefixes[@]:-}"; do [ -n "$p" ] && rm -rf "/var/run/dpdk/$p"; done
  st_cleanup
}
trap cleanup EXIT
pass=0 fail=0
ck() { if "${@:2}"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

# big.pcap: six HTTP streams with 1.5 MB responses in full-size segments
# (9 MB, few stream files: a quick merge, a two-chunk upload).
python3 - "$here" "$work/big.pcap" <<'EOF'
import random, sys
sys.path.insert(0, sys.argv[1])
from gen_http import Conv
from gen_traffic import Capture
rng = random.Random(7)
cap = Capture()
for i in range(6):
    c = Conv(cap, rng, 30000 + i, 8080, 1_700_000_000_000_000 + i * 1000)
    c.open()
    c.pkt(True, 0x18, f"GET /big/{i} HTTP/1.1\r\nHost: svc.test\r\n\r\n".encode())
    body = bytes(rng.randrange(256) for _ in range(1448)) * 1036
    c.pkt(False, 0x18, f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    for off in range(0, len(body), 1448):
        c.pkt(False, 0x10, body[off:off + 1448])
        if off % (1448 * 8) == 0:
            c.pkt(True, 0x10)
    c.pkt(True, 0x10)
    c.close()
cap.write(sys.argv[2])
EOF
python3 "$here/gen_http.py" "$work/small.pcap" --streams 20 --seed 4 > /dev/null
out=$work/out
dest=gs://test-bucket/crash
run() { # run N PCAP [timeout...]: kflcap in the background, sets kpid
  local n=$1 pcap=$2; shift 2
  prefixes+=("${EAL_PREFIX}_$n")
  "$@" "$kflcap" -l 0-1 --no-pci --file-prefix "${EAL_PREFIX}_$n" "${EAL_MEM[@]}" --log-level=lib.eal:error \
    --vdev "net_pcap0,rx_pcap=$pcap" -- --record-all --snapshot-cron '0 0 0 1 1 *' --out "$out" \
    --dest "$dest" --gcs-endpoint "$GCS_URL" --gcs-sa-key-json "$work/key.json" \
    --upload-backoff-base-ms 100 --upload-backoff-max-ms 1000 --status-interval 0 > "$work/run$n.log" 2>&1 &
  kpid=$!
}
chunks() { json_get "$(gcs_stats)" "j.byKind.chunk || 0"; }
queries() { json_get "$(gcs_stats)" "j.byKind.query || 0"; }
inits() { json_get "$(gcs_stats)" "j.byKind.init || 0"; }
wait_for() { # wait_for SECONDS CMD...: poll every 0.1 s (eval '...' to re-expand)
  local n=$(($1 * 10)); shift
  while [ $n -gt 0 ]; do "$@" && return 0; n=$((n - 1)); sleep 0.1; done
  return 1
}
kill_now() { kill -9 "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; kpid=; }
save_spool() { # save_spool DIR: copy of every complete entry
  local e
  mkdir -p "$1"
  for e in "$out/spool"/*/; do [ -f "$e/READY" ] && cp -a "$e" "$1/"; done
}
has_session() { [ -n "$(find "$out/spool" -name '.gcs.*' -print -quit 2>/dev/null)" ]; }

gcs_admin delay '{"ms":3000}'
# Kill 1: while the first chunk's answer is held back.
c0=$(chunks)
run 1 "$work/big.pcap"
ck "run 1: an upload session starts" wait_for 60 has_session
ck "run 1: the first chunk is on its way" wait_for 20 eval '[ "$(chunks)" -gt "$c0" ]'
sleep 1
kill_now
save_spool "$work/spool1"
mapfile -t ent1 < <(ls "$work/spool1")
big=$(find "$work/spool1" -name '*.pcap' -size +8M | head -1)
ck "run 1: the snapshot is larger than one chunk (${ent1[*]})" test -n "$big"
ck "run 1: killed before the upload finished" test -f "$out/spool/${ent1[0]}/READY"
sleep 2.5  # the server stores the chunk it was holding back

# Kill 2: the restart resumes the session; kill it with its last chunk pending.
q0=$(queries) c0=$(chunks)
run 2 "$work/small.pcap"
ck "run 2: the session is resumed (status query)" wait_for 30 eval '[ "$(queries)" -gt "$q0" ]'
ck "run 2: the next chunk is on its way" wait_for 20 eval '[ "$(chunks)" -gt "$c0" ]'
ck "run 2: no new upload session (resumed, not restarted)" test "$(inits)" -eq 1
sleep 1
kill_now
save_spool "$work/spool2"
sleep 2.5  # the server finishes the object it was holding back
echo "server: $(gcs_stats)"
# Run 3: full speed, to the end.
gcs_admin delay '{"ms":0}'
run 3 "$work/small.pcap" timeout -s KILL 90
wait "$kpid"; rc=$?; kpid=
ck "run 3 exits 0 (rc $rc)" test $rc -eq 0
[ $rc -eq 0 ] || tail -20 "$work/run3.log"
ck "spool empty after run 3" test -z "$(ls -A "$out/spool" 2>/dev/null)"
grep -h "storage" "$work/run1.log" "$work/run2.log" "$work/run3.log" | sed 's/^/  /'

"$tool" fetch --url "$dest" --out "$work/got" --gcs-key "$work/key.json" --gcs-endpoint "$GCS_URL" \
  > "$work/fetch.out" 2>&1
ck "kc-store-tool fetch exits 0" test $? -eq 0
declare -A seen=()
for s in "$work/spool1" "$work/spool2"; do
  for e in "$s"/*/; do
    e=$(basename "$e")
    [ -n "${seen[$e]:-}" ] && continue
    seen[$e]=1
    mapfile -t where < <(find "$work/got" -mindepth 2 -maxdepth 2 -type d -name "$e")
    ck "entry $e arrives in one run folder (${#where[@]}: $(for w in "${where[@]}"; do echo -n "$(basename "$(dirname "$w")") "; done))" \
      test ${#where[@]} -eq 1
    while read -r f; do
      [ -n "$f" ] || continue
      mapfile -t copies < <(find "$work/got" -path "*/$e/$f")
      ck "entry $e: $f arrives once (${#copies[@]})" test ${#copies[@]} -eq 1
      [ ${#copies[@]} -ge 1 ] && ck "entry $e: $f byte-identical" cmp "$s/$e/$f" "${copies[0]}"
    done < "$s/$e/READY"
  done
done
bad=0
for d in "$work/got"/*/*/; do
  e=$(basename "$d")
  if [ ! -f "$d/manifest.json" ] || [ ! -f "$d/name_resolution_history.json" ] || [ ! -f "$d/$e.pcap" ]; then
    echo "incomplete snapshot: $d: $(ls "$d")"; bad=$((bad + 1))
  fi
done
ck "every archived snapshot is complete in its folder ($bad incomplete)" test $bad -eq 0
ck "every object created once" test "$(json_get "$(gcs_objects)" "j.filter(o => o.creates !== 1).length")" = 0
bad=0
for c in $(find "$work/got" -name '*.pcap'); do capinfos "$c" > /dev/null 2>&1 || { echo "unreadable: $c"; bad=$((bad + 1)); }; done
ck "every fetched capture opens ($bad bad)" test $bad -eq 0
ck "the big capture went through whole" bash -c "cmp -s '$big' \"\$(find '$work/got' -name '$(basename "$big")' | head -1)\""
ck "no private key in the logs" bash -c "! grep -q 'PRIVATE KEY' '$work'/run*.log"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
