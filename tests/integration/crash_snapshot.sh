#!/bin/bash
# Crash safety of the whole recorder: kflcap replays a generated HTTP capture
# for ever (net_pcap infinite_rx=1), records the streams whose KFL filter
# matches, snapshots every second and ships to file://. It is SIGKILLed at
# random moments, 1-4 s into recording (KC_CRASH_DELAYS="1.3 2.7 ..." repeats
# given ones), after a first, deterministic kill before any snapshot (kill 0:
# its schedule never fires). After each kill:
#   - the spool holds only complete entries (READY in every visible entry);
#   - a restart on a finite capture with the same --out exits 0 and leaves
#     the spool empty and OUT/rotating empty;
#   - every spool entry left by the killed run is in the archive exactly once
#     (one run folder), byte-identical, with capture, manifest and names;
#   - every stream file the killed run left in OUT/live or OUT/rotating went
#     into a snapshot: a rotating folder is a source of an entry committed
#     before the kill or "recovered" by the restart, a live file is a stream
#     of the restart's snapshot, and every packet they held (torn tail
#     excepted: it was never complete) is in an archived capture;
#   - no entry name is in two run folders, every capture opens (capinfos,
#     tshark), and kc-store-tool fetch reads the archive back identical.
#   crash_snapshot.sh KFLCAP KC_STORE_TOOL
set -uo pipefail
kflcap=$1 tool=$2
here=$(cd "$(dirname "$0")" && pwd)
for t in python3 tshark capinfos mergecap timeout; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
. "$here/eal_args.sh" "crs"
work=$(mktemp -d /tmp/kc-crash-snap.XXXXXX)
kpid=
prefixes=()
cleanup() {
  if [ -n "$kpid" ]; then kill -9 "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; fi
  local p
  for p in "${prefixes[@]:-}"; do [ -n "$p" ] && rm -rf "/var/run/dpdk/$p"; done
  [ -z "${KC_KEEP:-}" ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT
pass=0 fail=0
ck() { if "${@:2}"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

python3 "$here/gen_http.py" "$work/in.pcap" --streams 300 --seed 11 > /dev/null
out=$work/out
# Three short chunked-500 streams of the 300 (i = 9, 94, 99): net_pcap replays
# fast, so fewer recorded streams keep the files to write, merge and check few.
kfl='http and response.status == 500 and request.path.startsWith("/c/9")'
cron='* * * * * *'
run_kflcap() { # run_kflcap PREFIX VDEV-ARGS LOG [timeout prefix...]: in a subshell (exec)
  local pfx=$1 vdev=$2 log=$3; shift 3
  exec "$@" "$kflcap" -l 0-1 --no-pci --file-prefix "$pfx" "${EAL_MEM[@]}" --log-level=lib.eal:error \
    --vdev "net_pcap0,$vdev" -- --kfl "$kfl" --snapshot-cron "$cron" --out "$out" \
    --dest "file://$out/archive" --status-interval 0 > "$log" 2>&1
}

# Helper checks in Python (pcaplib reads pcap/pcapng, torn tails dropped).
cat > "$work/check.py" <<'EOF'
import collections, json, os, sys
sys.path.insert(0, sys.argv[1])
import pcaplib

def caps(d):
    for root, _, files in os.walk(d):
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")) and not f.startswith("."):
                yield os.path.join(root, f)

cmd = sys.argv[2]
if cmd == "subset":
    # subset OLD_DIR CAND_DIR...: every record of OLD_DIR's captures is in
    # one of the candidates' captures (multiset).
    want = collections.Counter()
    for p in caps(sys.argv[3]):
        for ts, d, _, _ in pcaplib.read_pcap(p):
            want[(ts, d)] += 1
    total = sum(want.values())
    for c in sys.argv[4:]:
        for p in caps(c):
            for ts, d, _, _ in pcaplib.read_pcap(p):
                k = (ts, d)
                if want.get(k):
                    want[k] -= 1
                    if want[k] == 0:
                        del want[k]
    missing = sum(want.values())
    print(f"{total} packets left by the killed run, {missing} missing from the archive")
    sys.exit(1 if missing else 0)
elif cmd == "sources":
    # sources DIR...: every manifest's sources and recovered folders
    for d in sys.argv[3:]:
        for root, _, files in os.walk(d):
            if "manifest.json" in files:
                m = json.load(open(os.path.join(root, "manifest.json")))
                for s in m.get("sources", []):
                    print("source", s)
                for s in m.get("recovered", []):
                    print("recovered", s)
elif cmd == "streams":
    # streams RUN_DIR: the stream file names the manifests below it list
    for root, _, files in os.walk(sys.argv[3]):
        if "manifest.json" in files:
            m = json.load(open(os.path.join(root, "manifest.json")))
            for s in m.get("streams", []):
                print(os.path.basename(s["source_file"]))
EOF
chk() { python3 "$work/check.py" "$here" "$@"; }

# Visible spool entries without READY (partial ones), and FAILED ones.
spool_partial() {
  local d bad=0
  for d in "$out/spool"/*/; do
    [ -d "$d" ] || continue
    if [ ! -f "$d/READY" ] || [ -f "$d/FAILED" ]; then echo "partial/failed entry: $d"; ls -la "$d"; bad=1; fi
  done
  return $bad
}
# archive_once: every entry name lives in exactly one run folder and holds a
# capture, a manifest and a name history, nothing else (a leftover .kc-tmp
# of an interrupted copy is reported as well).
# A snapshot is named after its second, so a run killed and restarted within
# one second can make two different snapshots of the same name, each in its
# own run folder: legitimate. A snapshot shipped twice has the same interval
# and the same capture: that is what must never happen.
snap_identity() { # snap_identity ENTRY_DIR: interval and capture of its manifest
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); c=m["capture"]; print(m["snapshot"], m["interval_start"], m["interval_end"], c["packets"], c["bytes_captured"])' "$1/manifest.json" 2>/dev/null ||
    echo "unreadable $1"
}
archive_once() {
  local a=$out/archive rc=0 e n
  [ -d "$a" ] || return 1
  while read -r e n; do
    [ "$n" -ne 1 ] || continue
    if [ "$(for d in "$a"/*/"$e"; do snap_identity "$d"; done | sort | uniq -d)" != "" ]; then
      echo "snapshot $e shipped more than once:"; ls -d "$a"/*/"$e"; rc=1
    fi
  done < <(find "$a" -mindepth 2 -maxdepth 2 -type d -printf '%f\n' | sort | uniq -c | awk '{print $2, $1}')
  for e in "$a"/*/*/; do
    n=$(basename "$e")
    if [ ! -f "$e/manifest.json" ] || [ ! -f "$e/name_resolution_history.json" ] ||
       [ -z "$(find "$e" -maxdepth 1 -name "$n.pcap*" -print -quit)" ]; then
      echo "incomplete snapshot in the archive: $e"; ls -la "$e"; rc=1
    fi
    if [ "$(find "$e" -maxdepth 1 -type f | wc -l)" -ne 3 ]; then
      echo "unexpected files in $e:"; ls -la "$e"; rc=1
    fi
  done
  return $rc
}
# same_entry SAVED ARCHIVE_ENTRY: every file READY lists is byte-identical.
same_entry() {
  local f rc=0
  while read -r f; do
    [ -n "$f" ] || continue
    cmp -s "$1/$f" "$2/$f" || { echo "differs or missing: $2/$f"; rc=1; }
  done < "$1/READY"
  return $rc
}

if [ -n "${KC_CRASH_DELAYS:-}" ]; then
  read -r -a delays <<< "$KC_CRASH_DELAYS"
else
  delays=()
  for i in 1 2 3 4 5; do delays+=("$((1 + RANDOM % 3)).$((RANDOM % 10))"); done
fi
echo "kill delays (s): ${delays[*]} (repeat with KC_CRASH_DELAYS=\"${delays[*]}\")"
# Kill 0 comes first, deterministic: a crash before the run's first snapshot
# (with the default 5-minute schedule, the common case), so that the restart
# finds the killed run's files in OUT/live under the stream ids it is about
# to use again.
delays=(first "${delays[@]}")
t0=$SECONDS
it=-1
for delay in "${delays[@]}"; do
  it=$((it + 1))
  cron='* * * * * *'
  if [ "$delay" = first ]; then delay=1.0 cron='0 0 0 1 1 *'; fi
  k="[kill $it after ${delay}s]"
  prefixes+=("${EAL_PREFIX}_k$it" "${EAL_PREFIX}_r$it")
  t1=$SECONDS
  run_kflcap "${EAL_PREFIX}_k$it" "rx_pcap=$work/in.pcap,infinite_rx=1" "$work/kill$it.log" &
  kpid=$!
  # The delay counts from the start of recording (EAL start-up takes a
  # while on a loaded machine).
  for i in $(seq 300); do grep -qs "writing to" "$work/kill$it.log" && break; sleep 0.1; done
  sleep "$delay"
  kill -9 "$kpid" 2>/dev/null; wait "$kpid" 2>/dev/null; kpid=
  cron='* * * * * *'
  rm -rf "/var/run/dpdk/${EAL_PREFIX}_k$it"

  # What the killed run left behind.
  old=$work/old$it
  mkdir -p "$old/live" "$old/rotating" "$old/spool"
  cp -a "$out/live/." "$old/live/" 2>/dev/null
  cp -a "$out/rotating/." "$old/rotating/" 2>/dev/null
  for e in "$out/spool"/*/; do [ -f "$e/READY" ] && cp -a "$e" "$old/spool/"; done
  nlive=$(find "$old/live" -name '*.pcap' | wc -l)
  mapfile -t rots < <(find "$old/rotating" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
  mapfile -t ents < <(find "$old/spool" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
  echo "$k left: $nlive stream files in live, ${#rots[@]} rotating folder(s), ${#ents[@]} spool entr(y/ies);" \
    "archive: $(find "$out/archive" -mindepth 2 -maxdepth 2 -type d 2>/dev/null | wc -l) snapshots"
  ck "$k spool holds no partial entry" spool_partial
  find "$out/archive" -type f 2>/dev/null | sort > "$work/before$it"

  # Restart on a finite capture, same OUT.
  (run_kflcap "${EAL_PREFIX}_r$it" "rx_pcap=$work/in.pcap" "$work/restart$it.log" timeout -s KILL 90)
  rc=$?
  rm -rf "/var/run/dpdk/${EAL_PREFIX}_r$it"
  ck "$k restart exits 0 (rc $rc)" test $rc -eq 0
  [ $rc -eq 0 ] || tail -20 "$work/restart$it.log"
  ck "$k spool empty after the restart" test -z "$(ls -A "$out/spool" 2>/dev/null)"
  ck "$k OUT/rotating empty" test -z "$(ls -A "$out/rotating" 2>/dev/null)"
  ck "$k every snapshot archived once, complete" archive_once
  for e in "${ents[@]}"; do
    # Folders of this name holding this very snapshot (see snap_identity).
    want=$(snap_identity "$old/spool/$e")
    where=()
    for d in $(find "$out/archive" -mindepth 2 -maxdepth 2 -type d -name "$e"); do
      [ "$(snap_identity "$d")" = "$want" ] && where+=("$d")
    done
    ck "$k spool entry $e archived once (${#where[@]})" test ${#where[@]} -eq 1
    [ ${#where[@]} -eq 1 ] && ck "$k spool entry $e byte-identical" same_entry "$old/spool/$e" "${where[0]}"
  done
  # The snapshots the restart made: the folders that appeared since the kill.
  find "$out/archive" -type f | sort | comm -13 "$work/before$it" - > "$work/new$it"
  mapfile -t newdirs < <(sed 's|/[^/]*$||' "$work/new$it" | sort -u)
  # A rotating folder from before the restart was either committed already
  # (a source of an entry the killed run left in the spool) or merged by
  # the restart (listed as "recovered").
  { chk sources "$old/spool" | grep '^source '
    [ ${#newdirs[@]} -gt 0 ] && chk sources "${newdirs[@]}" | grep '^recovered '
  } | awk '{print $2}' | sort -u > "$work/sources$it"
  for r in "${rots[@]}"; do
    # A rotating folder with no stream file may be dropped without a mention.
    [ -z "$(find "$old/rotating/$r" -name '*.pcap' -print -quit)" ] && continue
    ck "$k rotating/$r committed before the kill or recovered after it" grep -qx "$r" "$work/sources$it"
  done
  if [ "$nlive" -gt 0 ]; then
    for d in "${newdirs[@]}"; do chk streams "$d"; done | sort -u > "$work/streams$it"
    missing=$(find "$old/live" -name '*.pcap' -printf '%f\n' | sort | comm -23 - "$work/streams$it" | wc -l)
    ck "$k the $nlive stream files left in OUT/live are in a manifest after the restart ($missing missing)" \
      test $missing -eq 0
  fi
  ck "$k every packet the killed run wrote is archived" chk subset "$old" "${newdirs[@]:-/nonexistent}" "$old/spool"
  [ -z "${KC_KEEP:-}" ] && rm -rf "$old"
  echo "$k iteration took $((SECONDS - t1)) s"
done

mapfile -t all < <(find "$out/archive" -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' | sort)
ck "snapshots archived (${#all[@]})" test ${#all[@]} -ge ${#delays[@]}
bad=0
for c in "${all[@]}"; do capinfos "$c" > /dev/null 2>&1 || { echo "capinfos cannot read $c"; bad=$((bad + 1)); }; done
ck "every archived capture opens with capinfos ($bad bad)" test $bad -eq 0
if [ ${#all[@]} -gt 0 ]; then
  mergecap -F pcap -w "$work/all.pcap" "${all[@]}" 2>&1
  ck "tshark reads every archived capture, merged" tshark -n -r "$work/all.pcap" -q -z io,stat,0 >/dev/null
fi
"$tool" fetch --url "file://$out/archive" --out "$work/got" > "$work/fetch.out" 2>&1
ck "kc-store-tool fetch file:// exits 0" test $? -eq 0
ck "fetched archive identical" diff -r -x '*.kc-tmp' "$out/archive" "$work/got"
echo "elapsed $((SECONDS - t0)) s"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
