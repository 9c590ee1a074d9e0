#!/usr/bin/env bash
# End-to-end: lib/storage (through kc-store-tool) against s3rver 3.7.1 behind
# a fault proxy, and against @20minutes/s3rver 5.0.0, which verifies SigV4.
# Files must arrive byte-identical (read back by kc-store-tool fetch and by
# @aws-sdk/client-s3), exactly once, through faults and a crash.
case "$0" in */*) source "${0%/*}/lib.sh" ;; *) source ./lib.sh ;; esac
st_init
st_npm
LOG="$ST_TMP/all-output.log"
: > "$LOG"

start_node() { # start_node NAME CMD...: sets PORT from "listening <port>" lines
	local name=$1; shift
	# Created before the background start: the polling sed below must not
	# race the shell's redirection (sed exits 2 on a missing file, and
	# set -e would end the test there).
	: > "$ST_TMP/$name.out"; : > "$ST_TMP/$name.err"
	"$@" > "$ST_TMP/$name.out" 2> "$ST_TMP/$name.err" &
	ST_PIDS+=("$!")
	local i
	PORT=
	for i in $(seq 1 200); do
		PORT=$(sed -n 's/.*listening \(on \)\{0,1\}\(127\.0\.0\.1:\)\{0,1\}\([0-9][0-9]*\).*/\3/p' "$ST_TMP/$name.out" "$ST_TMP/$name.err" 2>/dev/null | head -1)
		[ -n "$PORT" ] && break
		sleep 0.05
	done
	[ -n "$PORT" ] || { echo "$name did not start"; cat "$ST_TMP/$name.err"; exit 1; }
}

mkdir -p "$ST_TMP/s3data" "$ST_TMP/s3vdata"
start_node s3rver node "$ST_DIR/node_modules/s3rver/bin/s3rver.js" -d "$ST_TMP/s3data" -a 127.0.0.1 -p 0 --configure-bucket snaps
S3_PORT=$PORT
start_node proxy node "$ST_DIR/s3-proxy.js" --target "$S3_PORT"
PX="http://127.0.0.1:$PORT"
start_node s3v node -e "require('$ST_DIR/node_modules/@20minutes/s3rver/lib/cli').parseAsync(['node','s3rver',...process.argv.slice(1)])" \
	-- -d "$ST_TMP/s3vdata" -a 127.0.0.1 -p 0 --configure-bucket snaps
SV="http://127.0.0.1:$PORT"
export KC_S3_SECRET_KEY=S3RVER

run_tool() {
	local name=$1; shift
	set +e
	"$KC_STORE_TOOL" "$@" > "$ST_TMP/$name.out" 2>&1
	TOOL_RC=$?
	set -e
	cat "$ST_TMP/$name.out" >> "$LOG"
}
stat_of() { sed -n "s/^storage\.$2=//p" "$ST_TMP/$1.out"; }
px() { curl -sf -X POST -H 'Content-Type: application/json' -d "${2:-{\}}" "$PX/_admin/$1" >/dev/null; }
pxstats() { curl -sf "$PX/_admin/stats"; }
S3ARGS=(--s3-path-style --s3-access-key S3RVER --s3-region us-east-1
	--s3-multipart-threshold 5242880 --s3-part-size 5242880)
upload() { # upload RUN NAME ENDPOINT [args]
	local run=$1 name=$2 ep=$3; shift 3
	run_tool "$name" upload --spool "$ST_TMP/spool-$run" --dest s3://snaps/pfx --s3-endpoint "$ep" "${S3ARGS[@]}" \
		--host rec1 --ip 127.0.0.1 --run-id "$run" --backoff-base-ms 50 --backoff-cap-ms 400 --rescan-ms 100 \
		--timeout-ms 60000 "$@"
}
verify() { # verify RUN ENDPOINT: fetch back + SDK readback
	local run=$1 ep=$2
	run_tool "fetch-$run" fetch --url "s3://snaps/pfx/rec1_127.0.0.1_$run" --out "$ST_TMP/got-$run" \
		--s3-endpoint "$ep" "${S3ARGS[@]}"
	[ "$TOOL_RC" -eq 0 ] || return 1
	same_tree "$ST_TMP/want-$run" "$ST_TMP/got-$run" || return 1
	# @aws-sdk/client-s3 3.1175's ListObjectsV2 gets SignatureDoesNotMatch
	# from @20minutes/s3rver 5.0.0 (a quirk of that fork's verifier), so the
	# SDK reads back through s3rver 3.7.1 only.
	[ "$ep" = "$SV" ] && return 0
	NODE_NO_WARNINGS=1 node "$ST_DIR/s3-readback.mjs" "$ep" snaps "pfx/rec1_127.0.0.1_$run/" > "$ST_TMP/sdk-$run.txt" || return 1
	(cd "$ST_TMP/want-$run" && find . -type f ! -name '.*' | sed 's|^\./||' | sort | while read -r f; do
		echo "pfx/rec1_127.0.0.1_$run/$f $(stat -c %s "$f") $(md5sum < "$f" | cut -d' ' -f1)"; done) > "$ST_TMP/exp-$run.txt"
	diff "$ST_TMP/exp-$run.txt" "$ST_TMP/sdk-$run.txt"
}
prep() {
	local run=$1 i
	mkdir -p "$ST_TMP/spool-$run"
	for i in $(seq 1 "$2"); do mkentry "$ST_TMP/spool-$run" "$(printf '%04d' "$i")" "$3" "$i$run"; done
	snapshot_spool "$ST_TMP/spool-$run" "$ST_TMP/want-$run"
}

# 1. Single PUTs and a multipart upload (12 MB = 3 parts of 5 MiB) on the
#    SigV4-verifying server: every request's signature is checked.
prep 1 2 100000
mkdata "$ST_TMP/spool-1/0001/big.pcap.gz" 12000000 7; cp "$ST_TMP/spool-1/0001/big.pcap.gz" "$ST_TMP/want-1/0001/"
upload 1 up1 "$SV"
check "sigv4 server: exit 0" test "$TOOL_RC" -eq 0
check "sigv4 server: spool empty" spool_empty "$ST_TMP/spool-1"
check "sigv4 server: byte-identical (fetch)" verify 1 "$SV"

# 2. Wrong secret: 403 SignatureDoesNotMatch, one request, halted, kept.
prep 2 2 1000
KC_S3_SECRET_KEY=wrong-secret run_tool up2 upload --spool "$ST_TMP/spool-2" --dest s3://snaps/pfx --s3-endpoint "$SV" \
	"${S3ARGS[@]}" --host rec1 --ip 127.0.0.1 --run-id 2 --timeout-ms 20000
check "wrong secret: exit 1" test "$TOOL_RC" -eq 1
check "wrong secret: clear error" grep -q "403 (SignatureDoesNotMatch" "$ST_TMP/up2.out"
check "wrong secret: one request" test "$(stat_of up2 requests)" -eq 1
check "wrong secret: spool kept" test -f "$ST_TMP/spool-2/0001/READY"

# 3. Faults through the proxy: 503 bursts on PUT and parts, a reset mid-part,
#    Complete answering 200 with <Error>.
prep 3 2 200000
mkdata "$ST_TMP/spool-3/0002/big.pcap.gz" 11000000 9; cp "$ST_TMP/spool-3/0002/big.pcap.gz" "$ST_TMP/want-3/0002/"
px fault '{"kind":"status","code":503,"match":"put","count":3}'
px fault '{"kind":"status","code":500,"match":"part","count":2}'
px fault '{"kind":"reset","match":"part","skip":1}'
px fault '{"kind":"complete-error","match":"complete"}'
upload 3 up3 "$PX"
check "faults: exit 0" test "$TOOL_RC" -eq 0
check "faults: retries counted" test "$(stat_of up3 retries)" -ge 7
check "faults: Complete retried" test "$(json_get "$(pxstats)" "j.byKind.complete")" -ge 2
check "faults: byte-identical (fetch + SDK)" verify 3 "$PX"

# 4. Destination down for 2 s.
prep 4 1 50000
px down '{"ms":2000}'
upload 4 up4 "$PX" --retry-max 30 --backoff-base-ms 100 --backoff-cap-ms 500
check "down: exit 0" test "$TOOL_RC" -eq 0
check "down: byte-identical" verify 4 "$PX"

# 5. Crash: SIGKILL during a multipart upload, then restart.
prep 5 2 100000
mkdata "$ST_TMP/spool-5/0001/big.pcap.gz" 16000000 5; cp "$ST_TMP/spool-5/0001/big.pcap.gz" "$ST_TMP/want-5/0001/"
px fault '{"kind":"status","code":503,"match":"part","count":1000}'
"$KC_STORE_TOOL" upload --spool "$ST_TMP/spool-5" --dest s3://snaps/pfx --s3-endpoint "$PX" "${S3ARGS[@]}" \
	--host rec1 --ip 127.0.0.1 --run-id 5 --backoff-base-ms 100 --timeout-ms 60000 >> "$ST_TMP/crash.out" 2>&1 &
pid=$!
for i in $(seq 1 100); do [ -n "$(find "$ST_TMP/spool-5" -name '.s3.*' -print -quit)" ] && break; sleep 0.05; done
check "crash: UploadId persisted before the kill" test -n "$(find "$ST_TMP/spool-5" -name '.s3.*' -print -quit)"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
cat "$ST_TMP/crash.out" >> "$LOG"
px reset-stats
upload 5 up5 "$PX"
check "crash: exit 0 after restart" test "$TOOL_RC" -eq 0
check "crash: old upload aborted" test "$(json_get "$(pxstats)" "j.byKind.abort")" -ge 1
check "crash: byte-identical" verify 5 "$PX"

# 6. The secret never appears in an output.
check "no secret in outputs" test "$(grep -c 'S3RVER' "$LOG" | head -1)" -eq "$(grep -c 's3_access_key=S3RVER' "$LOG" | head -1)"
run_tool cfg print-config --dest s3://snaps/pfx --s3-access-key AKIDTEST --s3-secret-key TOPSECRETVALUE
check "print-config masks the secret" test "$(grep -c TOPSECRETVALUE "$ST_TMP/cfg.out")" -eq 0

st_done
