# Shared helpers for the storage end-to-end scripts (sourced, bash).
# Every service listens on 127.0.0.1 with an OS-chosen port and is stopped on
# exit. Usage: source lib.sh; st_init; ...
set -euo pipefail

case "${BASH_SOURCE[0]}" in */*) ST_DIR=${BASH_SOURCE[0]%/*} ;; *) ST_DIR=. ;; esac
ST_DIR=$(cd "$ST_DIR" && pwd)
: "${KC_STORE_TOOL:?KC_STORE_TOOL must point to the kc-store-tool binary}"
ST_PIDS=()
ST_FAILS=0
ST_PASSES=0

st_skip() { echo "SKIP: $*"; exit 77; }
st_cleanup() {
	local p
	for p in "${ST_PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	[ -n "${ST_TMP:-}" ] && [ -z "${ST_KEEP:-}" ] && rm -rf "$ST_TMP"
	return 0
}

st_init() {
	command -v node >/dev/null 2>&1 || st_skip "node is not installed"
	command -v openssl >/dev/null 2>&1 || st_skip "openssl is not installed"
	command -v curl >/dev/null 2>&1 || st_skip "curl is not installed"
	ST_TMP=$(mktemp -d /tmp/kc-storage-e2e.XXXXXX)
	trap st_cleanup EXIT
}

# npm ci into tests/storage once (the registry is reachable in CI).
st_npm() {
	if [ ! -d "$ST_DIR/node_modules/@google-cloud/storage" ] || [ ! -d "$ST_DIR/node_modules/s3rver" ]; then
		command -v npm >/dev/null 2>&1 || st_skip "npm is not installed"
		npm ci --prefix "$ST_DIR" --no-audit --no-fund >/dev/null 2>&1 || {
			echo "npm ci failed"; exit 1; }
	fi
}

ok() { ST_PASSES=$((ST_PASSES + 1)); echo "ok: $*"; }
fail() { ST_FAILS=$((ST_FAILS + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
st_done() {
	echo "$ST_PASSES passed, $ST_FAILS failed"
	[ "$ST_FAILS" -eq 0 ]
}

# A service-account key generated now (never a committed one):
# $ST_TMP/sa.pem, sa.pub, and key.json built with token_uri = $1.
st_gen_key() {
	local token_uri=$1
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$ST_TMP/sa.pem" 2>/dev/null
	openssl pkey -in "$ST_TMP/sa.pem" -pubout -out "$ST_TMP/sa.pub" 2>/dev/null
	node -e '
		const fs = require("fs");
		const [pem, uri, out] = process.argv.slice(1);
		fs.writeFileSync(out, JSON.stringify({
			type: "service_account", project_id: "kflcap-test",
			private_key_id: "kid-0001", private_key: fs.readFileSync(pem, "utf8"),
			client_email: "recorder@kflcap-test.iam.gserviceaccount.com",
			client_id: "1", token_uri: uri }, null, 2), { mode: 0o600 });
	' "$ST_TMP/sa.pem" "$token_uri" "$ST_TMP/key.json"
	chmod 600 "$ST_TMP/key.json"
}

# Start gcs-server.js; sets GCS_PORT, GCS_URL, GCS_PID. Key needs the port,
# so: start with the public key, then write key.json pointing at it.
st_start_gcs() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$ST_TMP/sa.pem" 2>/dev/null
	openssl pkey -in "$ST_TMP/sa.pem" -pubout -out "$ST_TMP/sa.pub" 2>/dev/null
	# Created first: the polling sed must not race the redirection (set -e).
	: > "$ST_TMP/gcs.out"; : > "$ST_TMP/gcs.err"
	node "$ST_DIR/gcs-server.js" --pubkey "$ST_TMP/sa.pub" --bucket test-bucket --bucket other-bucket \
		--email recorder@kflcap-test.iam.gserviceaccount.com --kid kid-0001 \
		> "$ST_TMP/gcs.out" 2> "$ST_TMP/gcs.err" &
	GCS_PID=$!
	ST_PIDS+=("$GCS_PID")
	local i
	for i in $(seq 1 100); do
		GCS_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$ST_TMP/gcs.out" 2>/dev/null)
		[ -n "$GCS_PORT" ] && break
		sleep 0.05
	done
	[ -n "$GCS_PORT" ] || { echo "gcs-server did not start"; cat "$ST_TMP/gcs.err"; exit 1; }
	GCS_URL="http://127.0.0.1:$GCS_PORT"
	node -e '
		const fs = require("fs");
		const [pem, uri, out] = process.argv.slice(1);
		fs.writeFileSync(out, JSON.stringify({
			type: "service_account", project_id: "kflcap-test",
			private_key_id: "kid-0001", private_key: fs.readFileSync(pem, "utf8"),
			client_email: "recorder@kflcap-test.iam.gserviceaccount.com",
			client_id: "1", token_uri: uri }, null, 2), { mode: 0o600 });
	' "$ST_TMP/sa.pem" "$GCS_URL/token" "$ST_TMP/key.json"
}

gcs_admin() { # gcs_admin PATH [JSON]
	curl -sf -X POST -H 'Content-Type: application/json' -d "${2:-{\}}" "$GCS_URL/_admin/$1" >/dev/null
}
gcs_stats() { curl -sf "$GCS_URL/_admin/stats"; }
gcs_objects() { curl -sf "$GCS_URL/_admin/objects"; }
json_get() { # json_get JSON EXPR (JS expression on `j`)
	node -e 'const j = JSON.parse(process.argv[1]); const v = eval(process.argv[2]); console.log(v === undefined ? "" : v);' "$1" "$2"
}

# Deterministic pseudo-random file of $2 bytes, seed $3.
mkdata() {
	node -e '
		const [p, n, seed] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
		const b = Buffer.alloc(n); let x = (seed * 2654435761) >>> 0 || 1;
		for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; b[i] = x & 0xff; }
		require("fs").writeFileSync(p, b);
	' "$1" "$2" "$3"
}

# mkentry SPOOL NAME PCAP_BYTES SEED: a READY spool entry with 3 files.
mkentry() {
	local d="$1/$2"
	mkdir -p "$1/.tmp-$2"
	mkdata "$1/.tmp-$2/$2.pcap.gz" "$3" "$4"
	echo "{\"snapshot\":\"$2\",\"seed\":$4}" > "$1/.tmp-$2/manifest.json"
	echo "{\"names\":[],\"seed\":$4}" > "$1/.tmp-$2/name_resolution_history.json"
	: > "$1/.tmp-$2/READY"
	mv "$1/.tmp-$2" "$d"
}

# Copy of every spool entry before the upload, to compare with downloads.
snapshot_spool() { rm -rf "$2"; cp -a "$1" "$2"; find "$2" -name 'READY' -delete; find "$2" -name '.*' -delete 2>/dev/null || true; }

# same_tree A B: every file of A exists in B byte-identical, and B has no more.
same_tree() {
	local a=$1 b=$2 f
	(cd "$a" && find . -type f ! -name '.*' | sort) > "$ST_TMP/ta"
	(cd "$b" && find . -type f ! -name '.*' | sort) > "$ST_TMP/tb"
	if ! diff -q "$ST_TMP/ta" "$ST_TMP/tb" >/dev/null; then
		diff "$ST_TMP/ta" "$ST_TMP/tb" | head -20
		return 1
	fi
	while read -r f; do
		cmp -s "$a/$f" "$b/$f" || { echo "differs: $f"; return 1; }
	done < "$ST_TMP/ta"
}

spool_empty() { [ -z "$(find "$1" -mindepth 1 -maxdepth 1 ! -name '.*' -print -quit)" ]; }
