#!/usr/bin/env bash
# End-to-end: lib/storage (through kc-store-tool) against gcs-server.js.
# Every file must reach the bucket byte-identical, exactly once, through
# faults, a crash and restarts; secrets must not appear in any output.
# Needs KC_STORE_TOOL; skips (77) without node.
case "$0" in */*) source "${0%/*}/lib.sh" ;; *) source ./lib.sh ;; esac
st_init
st_start_gcs
LOG="$ST_TMP/all-output.log"   # every output of every run, for the leak check
: > "$LOG"

# run_tool NAME ARGS...: kc-store-tool with output kept in $ST_TMP/NAME.out
run_tool() {
	local name=$1; shift
	set +e
	"$KC_STORE_TOOL" "$@" > "$ST_TMP/$name.out" 2>&1
	TOOL_RC=$?
	set -e
	cat "$ST_TMP/$name.out" >> "$LOG"
}
stat_of() { sed -n "s/^storage\.$2=//p" "$ST_TMP/$1.out"; }

# upload RUN NAME [extra args]: upload spool $ST_TMP/spool-RUN under run-id RUN
upload() {
	local run=$1 name=$2; shift 2
	run_tool "$name" upload --spool "$ST_TMP/spool-$run" --dest gs://test-bucket/snaps \
		--gcs-key "$ST_TMP/key.json" --gcs-endpoint "$GCS_URL" --gcs-chunk 262144 \
		--host rec1 --ip 127.0.0.1 --run-id "$run" --backoff-base-ms 50 --backoff-cap-ms 400 \
		--rescan-ms 100 --timeout-ms 60000 "$@"
}
# verify RUN: fetch the run's objects back and compare with the spool copy
verify() {
	local run=$1
	run_tool "fetch-$run" fetch --url "gs://test-bucket/snaps/rec1_127.0.0.1_$run" --out "$ST_TMP/got-$run" \
		--gcs-key "$ST_TMP/key.json" --gcs-endpoint "$GCS_URL"
	[ "$TOOL_RC" -eq 0 ] && same_tree "$ST_TMP/want-$run" "$ST_TMP/got-$run"
}
once() { # every object of the run created exactly once
	local n
	n=$(json_get "$(gcs_objects)" "j.filter(o => o.name.includes('_$1/')).filter(o => o.creates !== 1).length")
	[ "$n" = "0" ]
}
count_objs() { json_get "$(gcs_objects)" "j.filter(o => o.name.includes('_$1/')).length"; }
prep() { # prep RUN ENTRIES SIZE: spool with ENTRIES entries of SIZE-byte pcaps
	local run=$1 i
	mkdir -p "$ST_TMP/spool-$run"
	for i in $(seq 1 "$2"); do mkentry "$ST_TMP/spool-$run" "$(printf '%04d' "$i")" "$3" "$i$run"; done
	snapshot_spool "$ST_TMP/spool-$run" "$ST_TMP/want-$run"
}

# 1. Plain upload: sizes across the 256 KiB chunk rule, an empty file.
prep 1 3 700001
mkdata "$ST_TMP/spool-1/0002/empty.bin" 0 0; cp "$ST_TMP/spool-1/0002/empty.bin" "$ST_TMP/want-1/0002/"
upload 1 up1
check "basic: exit 0" test "$TOOL_RC" -eq 0
check "basic: spool empty" spool_empty "$ST_TMP/spool-1"
check "basic: byte-identical" verify 1
check "basic: exactly once" once 1
check "basic: 10 objects" test "$(count_objs 1)" -eq 10
check "basic: one token" test "$(stat_of up1 token_fetches)" -eq 1

# 2. Bursts of 503 and 429 on chunks, initiations and the token endpoint.
prep 2 2 600000
gcs_admin fault '{"kind":"status","code":503,"match":"chunk","count":3}'
gcs_admin fault '{"kind":"status","code":429,"match":"init","count":2}'
gcs_admin fault '{"kind":"status","code":503,"match":"token","count":1}'
upload 2 up2
check "503/429: exit 0" test "$TOOL_RC" -eq 0
check "503/429: retries counted" test "$(stat_of up2 retries)" -ge 6
check "503/429: byte-identical" verify 2
check "503/429: exactly once" once 2

# 3. Connection reset in the middle of a chunk (twice).
prep 3 1 1500000
gcs_admin fault '{"kind":"reset","match":"chunk","count":2,"skip":1}'
upload 3 up3 --gcs-chunk 524288
check "reset: exit 0" test "$TOOL_RC" -eq 0
check "reset: byte-identical" verify 3
check "reset: exactly once" once 3

# 4. The server keeps fewer bytes than were sent.
prep 4 1 1300000
gcs_admin fault '{"kind":"short","keep":262144,"match":"chunk","count":2}'
upload 4 up4 --gcs-chunk 786432
check "short: exit 0" test "$TOOL_RC" -eq 0
check "short: byte-identical" verify 4
check "short: exactly once" once 4

# 5. Token revoked mid-upload: one 401, one renewal, then success.
prep 5 2 300000
gcs_admin reset-stats
gcs_admin fault '{"kind":"expire-token","match":"init","skip":2}'
upload 5 up5
check "token expiry: exit 0" test "$TOOL_RC" -eq 0
check "token expiry: renewed once" test "$(stat_of up5 token_fetches)" -eq 2
check "token expiry: one 401" test "$(json_get "$(gcs_stats)" "j.status['401']")" -eq 1
check "token expiry: byte-identical" verify 5

# 6. Lost answer on the final chunk, then the session expires: the retry
#    meets ifGenerationMatch=0 (412) and compares size + crc32c.
prep 6 1 400000
gcs_admin fault '{"kind":"drop-response","match":"chunk","skip":1}'
gcs_admin fault '{"kind":"expire-session","match":"query"}'
upload 6 up6
check "lost answer: exit 0" test "$TOOL_RC" -eq 0
check "lost answer: 412 resolved as present" test "$(stat_of up6 already_present)" -eq 1
check "lost answer: byte-identical" verify 6
check "lost answer: exactly once" once 6

# 7. A different object already has the name: 412, compared, kept as FAILED.
prep 7 1 1000
curl -sf -X POST --data-binary 'other bytes' "$GCS_URL/_admin/put?bucket=test-bucket&name=snaps/rec1_127.0.0.1_7/0001/manifest.json" >/dev/null
upload 7 up7
check "conflict: exit 1" test "$TOOL_RC" -eq 1
check "conflict: FAILED kept" test -s "$ST_TMP/spool-7/0001/FAILED"
check "conflict: integrity counted" test "$(stat_of up7 fail_integrity)" -eq 1
check "conflict: clear error" grep -q "a different object already exists" "$ST_TMP/up7.out"

# 8. Destination down for a while (3 s): retries with backoff, then success.
prep 8 1 300000
gcs_admin down '{"ms":3000}'
upload 8 up8 --retry-max 30 --backoff-base-ms 100 --backoff-cap-ms 500
check "down: exit 0" test "$TOOL_RC" -eq 0
check "down: retried" test "$(stat_of up8 retries)" -ge 3
check "down: byte-identical" verify 8

# 9. Wrong credentials: another key with the same email. One clear error,
#    one token request, nothing retried, spool kept.
prep 9 2 1000
cp "$ST_TMP/key.json" "$ST_TMP/key-good.json"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$ST_TMP/bad.pem" 2>/dev/null
node -e 'const fs=require("fs");const k=JSON.parse(fs.readFileSync(process.argv[1]));k.private_key=fs.readFileSync(process.argv[2],"utf8");fs.writeFileSync(process.argv[3],JSON.stringify(k));' \
	"$ST_TMP/key.json" "$ST_TMP/bad.pem" "$ST_TMP/key-bad.json"
gcs_admin reset-stats
run_tool up9 upload --spool "$ST_TMP/spool-9" --dest gs://test-bucket/snaps --gcs-key "$ST_TMP/key-bad.json" \
	--gcs-endpoint "$GCS_URL" --host rec1 --ip 127.0.0.1 --run-id 9 --backoff-base-ms 50 --timeout-ms 20000
check "bad key: exit 1" test "$TOOL_RC" -eq 1
check "bad key: clear error" grep -q "invalid_grant: Invalid JWT Signature" "$ST_TMP/up9.out"
check "bad key: one request" test "$(json_get "$(gcs_stats)" "j.requests")" -eq 1
check "bad key: halted" test "$(stat_of up9 halted)" -eq 1
check "bad key: spool kept" test -f "$ST_TMP/spool-9/0002/READY"
# Unknown bucket: one clear error too.
run_tool up9b upload --spool "$ST_TMP/spool-9" --dest gs://no-such-bucket/snaps --gcs-key "$ST_TMP/key.json" \
	--gcs-endpoint "$GCS_URL" --host rec1 --ip 127.0.0.1 --run-id 9 --timeout-ms 20000
check "no bucket: exit 1" test "$TOOL_RC" -eq 1
check "no bucket: clear error" grep -q "no such bucket" "$ST_TMP/up9b.out"

# 9c. The token endpoint refuses once (a key revoked, then fixed; a clock
#     put right): uploads pause, then resume by themselves after
#     auth_retry_ms without a restart, and the spool arrives whole.
prep 11 2 300000
gcs_admin reset-stats
gcs_admin expire-tokens
gcs_admin fault '{"kind":"status","code":403,"match":"token","count":1}'
upload 11 up11 --auth-retry-ms 1500 --until-empty --timeout-ms 30000
check "auth pause: exit 0" test "$TOOL_RC" -eq 0
check "auth pause: refusal counted" test "$(stat_of up11 fail_auth)" -eq 1
check "auth pause: paused, then retried" grep -q "retrying uploads after the credential" "$ST_TMP/up11.out"
check "auth pause: byte-identical" verify 11
check "auth pause: exactly once" once 11

# 10. Crash: SIGKILL the uploader mid-upload three times, restart each time.
prep 10 3 3000000
gcs_admin delay '{"ms":100}'
for k in 1 2 3; do
	"$KC_STORE_TOOL" upload --spool "$ST_TMP/spool-10" --dest gs://test-bucket/snaps --gcs-key "$ST_TMP/key.json" \
		--gcs-endpoint "$GCS_URL" --gcs-chunk 262144 --host rec1 --ip 127.0.0.1 --run-id 10 \
		--timeout-ms 60000 >> "$ST_TMP/crash.out" 2>&1 &
	pid=$!
	# Kill once a session is in flight (its sidecar exists), at a varying
	# point of it; the last kill comes right after a session starts.
	for i in $(seq 1 200); do
		[ -n "$(find "$ST_TMP/spool-10" -name '.gcs.*' -print -quit)" ] && break
		sleep 0.05
	done
	[ "$k" -lt 3 ] && sleep 0.$((k * 2))
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
cat "$ST_TMP/crash.out" >> "$LOG"
check "crash: a session sidecar survived" test -n "$(find "$ST_TMP/spool-10" -name '.gcs.*' -print -quit)"
gcs_admin delay '{"ms":0}'
upload 10 up10
check "crash: exit 0 after restart" test "$TOOL_RC" -eq 0
check "crash: session resumed" test "$(stat_of up10 sessions_resumed)" -ge 1
check "crash: byte-identical" verify 10
check "crash: exactly once" once 10
check "crash: 9 objects" test "$(count_objs 10)" -eq 9

# 11. Fetch pages through a listing.
gcs_admin max-results '{"n":2}'
rm -rf "$ST_TMP/got-1"
check "fetch paging: byte-identical" verify 1
gcs_admin max-results '{"n":1000}'

# 12. Spool quota policies.
prep 12 3 400000
run_tool q1 admit --spool "$ST_TMP/spool-12" --bytes 300000 --quota-bytes 1048576 --quota-policy refuse-new
check "quota refuse-new: exit 4" test "$TOOL_RC" -eq 4
check "quota refuse-new: counted" test "$(stat_of q1 quota_refused)" -eq 1
check "quota refuse-new: logged" grep -q "refused \[policy refuse-new\]" "$ST_TMP/q1.out"
run_tool q2 admit --spool "$ST_TMP/spool-12" --bytes 300000 --quota-bytes 1048576 --quota-policy drop-oldest
check "quota drop-oldest: exit 0" test "$TOOL_RC" -eq 0
# 3 x ~401 KB in a 1 MiB quota: room for 300000 more needs two drops.
check "quota drop-oldest: two dropped" test "$(stat_of q2 quota_dropped)" -eq 2
check "quota drop-oldest: oldest gone" test ! -e "$ST_TMP/spool-12/0001" -a ! -e "$ST_TMP/spool-12/0002"
check "quota drop-oldest: newer kept" test -e "$ST_TMP/spool-12/0003/READY"

# 13. print-config masks the key.
run_tool cfg print-config --dest gs://test-bucket/snaps --gcs-key "$ST_TMP/key.json" --gcs-endpoint "$GCS_URL"
check "print-config: masked" grep -q "gcs_key=<set: recorder@kflcap-test.iam.gserviceaccount.com>" "$ST_TMP/cfg.out"

# 14. Bounded stop: with every chunk answer delayed 700 ms, stop(300 ms)
#     returns within about a second, the spool and session are kept, and the
#     next start finishes the upload.
prep 14 1 2000000
gcs_admin delay '{"ms":700}'
run_tool stop14 upload --spool "$ST_TMP/spool-14" --dest gs://test-bucket/snaps --gcs-key "$ST_TMP/key.json" \
	--gcs-endpoint "$GCS_URL" --gcs-chunk 262144 --host rec1 --ip 127.0.0.1 --run-id 14 \
	--stop-after-ms 1000 --stop-timeout-ms 300
gcs_admin delay '{"ms":0}'
check "stop: entries left (exit 1)" test "$TOOL_RC" -eq 1
check "stop: bounded (< 1500 ms)" test "$(sed -n 's/^stop_ms=//p' "$ST_TMP/stop14.out")" -lt 1500
check "stop: spool and session kept" test -f "$ST_TMP/spool-14/0001/READY" -a -n "$(find "$ST_TMP/spool-14" -name '.gcs.*' -print -quit)"
upload 14 up14
check "stop: resumed to completion" test "$TOOL_RC" -eq 0
check "stop: byte-identical" verify 14
check "stop: exactly once" once 14

# 15. TLS: peers are verified; a CA bundle (ca_file) admits a test server.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kflcap test CA" \
	-keyout "$ST_TMP/ca.key" -out "$ST_TMP/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$ST_TMP/tls.key" -out "$ST_TMP/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$ST_TMP/san.ext"
openssl x509 -req -in "$ST_TMP/tls.csr" -CA "$ST_TMP/ca.pem" -CAkey "$ST_TMP/ca.key" -CAcreateserial \
	-days 2 -extfile "$ST_TMP/san.ext" -out "$ST_TMP/tls.pem" 2>/dev/null
: > "$ST_TMP/gcs-tls.out" # before the start: the polling sed must not race the redirection
node "$ST_DIR/gcs-server.js" --pubkey "$ST_TMP/sa.pub" --bucket test-bucket \
	--tls-key "$ST_TMP/tls.key" --tls-cert "$ST_TMP/tls.pem" > "$ST_TMP/gcs-tls.out" 2>&1 &
ST_PIDS+=("$!")
for i in $(seq 1 100); do TLS_PORT=$(sed -n 's/^listening //p' "$ST_TMP/gcs-tls.out"); [ -n "$TLS_PORT" ] && break; sleep 0.05; done
node -e 'const fs=require("fs");const k=JSON.parse(fs.readFileSync(process.argv[1]));k.token_uri=process.argv[2];fs.writeFileSync(process.argv[3],JSON.stringify(k));' \
	"$ST_TMP/key-good.json" "https://127.0.0.1:$TLS_PORT/token" "$ST_TMP/key-tls.json"
prep 15 1 300000
run_tool tls1 upload --spool "$ST_TMP/spool-15" --dest gs://test-bucket/snaps --gcs-key "$ST_TMP/key-tls.json" \
	--gcs-endpoint "https://127.0.0.1:$TLS_PORT" --host rec1 --ip 127.0.0.1 --run-id 15 \
	--retry-max 1 --timeout-ms 1500
check "tls: unknown CA refused" test "$TOOL_RC" -ne 0 -a -f "$ST_TMP/spool-15/0001/READY"
check "tls: certificate error reported" grep -q -i "certificate" "$ST_TMP/tls1.out"
run_tool tls2 upload --spool "$ST_TMP/spool-15" --dest gs://test-bucket/snaps --gcs-key "$ST_TMP/key-tls.json" \
	--gcs-endpoint "https://127.0.0.1:$TLS_PORT" --host rec1 --ip 127.0.0.1 --run-id 15 \
	--ca-file "$ST_TMP/ca.pem" --timeout-ms 20000
check "tls: with ca_file: exit 0" test "$TOOL_RC" -eq 0
check "tls: spool empty" spool_empty "$ST_TMP/spool-15"

# 16. No secret in any output: key body, every issued token, session ids.
cat "$ST_TMP/gcs.err" >> "$LOG"
leak=0
# Positive control: the same search finds a key line in the key file itself.
check "leak check can see key lines" grep -qF -- "$(sed -n 5p "$ST_TMP/sa.pem")" "$ST_TMP/key-good.json"
while read -r line; do
	case "$line" in -----*) continue ;; esac
	grep -qF -- "$line" "$LOG" && { echo "key line leaked: ${line:0:6}..."; leak=1; }
done < "$ST_TMP/sa.pem"
for t in $(json_get "$(curl -sf "$GCS_URL/_admin/tokens")" "j.join(' ')"); do
	grep -qF "$t" "$LOG" && { echo "token leaked"; leak=1; }
done
grep -q "upload_id=" "$LOG" && { echo "session URI leaked"; leak=1; }
check "no secrets in outputs" test "$leak" -eq 0

st_done
