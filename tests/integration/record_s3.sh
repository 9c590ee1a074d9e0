#!/bin/bash
# End-to-end to S3: kflcap records the streams with a 500 answer from a
# generated HTTP capture, snapshots every second and ships to s3:// (path
# style, an explicit region, access key on the command line, secret in the
# environment), twice:
#   sigv4: @20minutes/s3rver 5.0.0, which verifies every SigV4 signature;
#   sdk:   s3rver 3.7.1, read back with @aws-sdk/client-s3 as well.
# The objects are read back with kc-store-tool fetch and the merged captures
# checked with tshark (check_kfl_record.py): exactly the matching streams,
# each whole. Object names, manifests and the absence of the secret from
# every output are checked too.
#   record_s3.sh KFLCAP KC_STORE_TOOL
set -uo pipefail
kflcap=$1 tool=$2
here=$(cd "$(dirname "$0")" && pwd)
export KC_STORE_TOOL=$tool
for t in python3 tshark mergecap timeout; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
. "$here/../storage/lib.sh"
st_init
st_npm
set +e
work=$ST_TMP
. "$here/eal_args.sh" "rs3"
prefixes=()
cleanup() {
  local p
  for p in "${prefixes[@]:-}"; do [ -n "$p" ] && rm -rf "/var/run/dpdk/$p"; done
  st_cleanup
}
trap cleanup EXIT
pass=0 fail=0
ck() { if "${@:2}"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }

start_node() { # start_node NAME CMD...: sets PORT from its "listening" line
  local name=$1 i; shift
  # Created first: the polling sed must not race the redirection (set -e).
  : > "$work/$name.out"; : > "$work/$name.err"
  "$@" > "$work/$name.out" 2> "$work/$name.err" &
  ST_PIDS+=("$!")
  PORT=
  for i in $(seq 1 200); do
    PORT=$(sed -n 's/.*listening \(on \)\{0,1\}\(127\.0\.0\.1:\)\{0,1\}\([0-9][0-9]*\).*/\3/p' \
      "$work/$name.out" "$work/$name.err" 2>/dev/null | head -1)
    [ -n "$PORT" ] && break
    sleep 0.05
  done
  [ -n "$PORT" ] || { echo "$name did not start"; cat "$work/$name.err"; exit 1; }
}
mkdir -p "$work/s3data" "$work/s3vdata"
start_node s3rver node "$ST_DIR/node_modules/s3rver/bin/s3rver.js" -d "$work/s3data" -a 127.0.0.1 -p 0 \
  --configure-bucket snaps
SDK_EP="http://127.0.0.1:$PORT"
start_node s3v node -e "require('$ST_DIR/node_modules/@20minutes/s3rver/lib/cli').parseAsync(['node','s3rver',...process.argv.slice(1)])" \
  -- -d "$work/s3vdata" -a 127.0.0.1 -p 0 --configure-bucket snaps
SIGV4_EP="http://127.0.0.1:$PORT"

python3 "$here/gen_http.py" "$work/in.pcap" --streams 300 --seed 9 > /dev/null
SECRET=S3RVER  # both servers' built-in account (S3RVER / S3RVER)
: > "$work/all-output.log"

for target in sigv4 sdk; do
  if [ $target = sigv4 ]; then ep=$SIGV4_EP region=eu-west-3; else ep=$SDK_EP region=us-east-1; fi
  t="[$target]"
  out=$work/out-$target
  prefixes+=("${EAL_PREFIX}_$target")
  # The secret only in the environment, never on a command line.
  KFLCAP_S3_SECRET_KEY=$SECRET RECORDING_KFL='http and response.status == 500' timeout -s KILL 90 \
    "$kflcap" -l 0-1 --no-pci --file-prefix "${EAL_PREFIX}_$target" "${EAL_MEM[@]}" --log-level=lib.eal:error \
    --vdev "net_pcap0,rx_pcap=$work/in.pcap" -- --snapshot-cron '* * * * * *' --out "$out" \
    --dest "s3://snaps/rec-$target" --s3-endpoint "$ep" --s3-region "$region" --s3-path-style \
    --s3-access-key S3RVER --status-interval 0 > "$work/kflcap-$target.log" 2>&1
  rc=$?
  cat "$work/kflcap-$target.log" >> "$work/all-output.log"
  grep -E "storage|snapshot" "$work/kflcap-$target.log" | grep -v "^  " | head -20
  ck "$t kflcap exits 0 (rc $rc)" test $rc -eq 0
  ck "$t no storage error" bash -c "! grep -q 'storage error' '$work/kflcap-$target.log'"
  ck "$t spool empty after the run" test -z "$(ls -A "$out/spool" 2>/dev/null)"

  got=$work/got-$target
  KC_S3_SECRET_KEY=$SECRET "$tool" fetch --url "s3://snaps/rec-$target" --out "$got" --s3-endpoint "$ep" \
    --s3-region "$region" --s3-path-style --s3-access-key S3RVER > "$work/fetch-$target.out" 2>&1
  ck "$t kc-store-tool fetch exits 0" test $? -eq 0
  cat "$work/fetch-$target.out" >> "$work/all-output.log"
  mapfile -t caps < <(find "$got" -name '*.pcap' | sort)
  mapfile -t mans < <(find "$got" -name 'manifest.json' | sort)
  mapfile -t names < <(find "$got" -name 'name_resolution_history.json' | sort)
  ck "$t at least one snapshot (got ${#caps[@]})" test ${#caps[@]} -ge 1
  ck "$t a manifest and a name history with every snapshot" \
    test ${#mans[@]} -eq ${#caps[@]} -a ${#names[@]} -eq ${#caps[@]}
  bad=0
  for c in "${caps[@]}"; do
    d=$(dirname "$c")
    [ -f "$d/manifest.json" ] && [ -f "$d/name_resolution_history.json" ] || bad=$((bad + 1))
  done
  ck "$t each snapshot's three files in one folder ($bad not)" test $bad -eq 0
  ck "$t object names <host>_<ip>_<run>/<entry>/<file>" \
    bash -c "find '$got' -name '*.pcap' | grep -qE '^$got/[^/]+_[0-9a-fA-F.:]+_[0-9]+-[0-9]+/[0-9]+/[0-9]+\.pcap$'"
  ck "$t exactly one run folder" test "$(find "$got" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 1
  if [ ${#caps[@]} -ge 1 ]; then
    mergecap -F pcap -w "$work/all-$target.pcap" "${caps[@]}"
    python3 "$here/check_kfl_record.py" "$work/in.pcap" "$work/all-$target.pcap" 'http.response.code == 500' \
      > "$work/k-$target.txt"
    ck "$t snapshots hold exactly the matching streams, whole" test $? -eq 0
    tail -2 "$work/k-$target.txt" | sed 's/^/  check_kfl_record: /'
    ck "$t manifest names the matching item" grep -q '"matched":.*-> 500' "${mans[@]}"
    ck "$t every manifest names the configured filter" python3 -c '
import json, sys
sys.exit(any(json.load(open(m))["filter"]["kfl"] != "http and response.status == 500" for m in sys.argv[1:]))' "${mans[@]}"
  fi
  if [ $target = sdk ]; then
    # An independent reader: the AWS SDK lists and reads every object.
    NODE_NO_WARNINGS=1 node "$ST_DIR/s3-readback.mjs" "$ep" snaps "rec-$target/" > "$work/sdk.txt" 2>&1
    ck "$t @aws-sdk/client-s3 reads every object" test $? -eq 0
    (cd "$got" && find . -type f | sed 's|^\./||' | sort | while read -r f; do
      echo "rec-$target/$f $(stat -c %s "$f") $(md5sum < "$f" | cut -d' ' -f1)"; done) > "$work/exp-sdk.txt"
    ck "$t SDK and kc-store-tool agree on every object (names, sizes, MD5)" diff "$work/exp-sdk.txt" "$work/sdk.txt"
  fi
done
# Negative control: the verifying server refuses a wrong secret, kflcap says
# so once, ships nothing and keeps the snapshot in its spool.
prefixes+=("${EAL_PREFIX}_bad")
KFLCAP_S3_SECRET_KEY=WRONG-SECRET-4711 RECORDING_KFL='http and response.status == 500' timeout -s KILL 90 \
  "$kflcap" -l 0-1 --no-pci --file-prefix "${EAL_PREFIX}_bad" "${EAL_MEM[@]}" --log-level=lib.eal:error \
  --vdev "net_pcap0,rx_pcap=$work/in.pcap" -- --snapshot-cron '0 0 0 1 1 *' --out "$work/out-bad" \
  --dest "s3://snaps/rec-bad" --s3-endpoint "$SIGV4_EP" --s3-region eu-west-3 --s3-path-style \
  --s3-access-key S3RVER --status-interval 0 > "$work/kflcap-bad.log" 2>&1
ck "[wrong secret] refused with 403 SignatureDoesNotMatch" grep -q "403 (SignatureDoesNotMatch" "$work/kflcap-bad.log"
ck "[wrong secret] snapshot kept in the spool" test -n "$(find "$work/out-bad/spool" -mindepth 2 -name READY)"
ck "[wrong secret] nothing stored" test -z "$(find "$work/s3vdata" -path '*rec-bad*' -type f)"
ck "[wrong secret] the secret is not printed" bash -c "! grep -q WRONG-SECRET-4711 '$work/kflcap-bad.log'"
# The secret is "S3RVER" like the access key, so look for it outside the
# access key's own mentions, and for a test secret in --print-config.
ck "the secret appears in no output" \
  test "$(grep -o 'S3RVER' "$work/all-output.log" | wc -l)" -eq "$(grep -o 's3_access_key=S3RVER' "$work/all-output.log" | wc -l)"
KFLCAP_S3_SECRET_KEY=TOPSECRET-S3-VALUE "$kflcap" -- --print-config --dest s3://snaps/x --s3-access-key AK \
  > "$work/print.txt" 2>&1
ck "--print-config masks the S3 secret" bash -c "grep -q '^s3_secret_key\|s3_secret_key' '$work/print.txt' && ! grep -q TOPSECRET '$work/print.txt'"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
