#!/bin/sh
# Integration test of kflcap-query (--check, --items): exit statuses, output
# lines, the stderr summary, limit() and redact().
# usage: test_kflcap_query.sh /path/to/kflcap-query /path/to/items.jsonl
Q=$1
ITEMS=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect_rc() { # want got what
	if [ "$1" = "$2" ]; then ok; else bad "$3: exit $2, want $1"; fi
}
expect_eq() { # want got what
	if [ "$1" = "$2" ]; then ok; else bad "$3: got [$2] want [$1]"; fi
}
expect_grep() { # pattern file what
	if grep -q -- "$1" "$2"; then ok; else bad "$3: no [$1] in $(cat "$2")"; fi
}

# --check
out=$("$Q" --check 'http  and(response.status==500)' 2>"$T/err"); rc=$?
expect_rc 0 $rc "check valid"
expect_eq 'http and (response.status == 500)' "$out" "check normalised"
"$Q" --check 'http && dns' >"$T/out" 2>"$T/err"; rc=$?
expect_rc 1 $rc "check invalid"
expect_grep "column 6" "$T/err" "check column"
expect_grep "expected 'and'" "$T/err" "check expected"
expect_grep '^       \^$' "$T/err" "check caret"
expect_eq 0 "$(wc -c <"$T/out")" "check invalid prints nothing on stdout"
out=$("$Q" --check '' 2>/dev/null); rc=$?
expect_rc 0 $rc "check empty filter"
expect_eq '' "$out" "check empty normalised"

# usage
"$Q" >/dev/null 2>&1; expect_rc 2 $? "no mode"
"$Q" --check http --items x >/dev/null 2>&1; expect_rc 2 $? "two modes"
"$Q" --check http extra >/dev/null 2>&1; expect_rc 2 $? "extra argument"
"$Q" --check >/dev/null 2>&1; expect_rc 2 $? "missing argument"
"$Q" --kfl http >/dev/null 2>&1; expect_rc 2 $? "kfl without items"
"$Q" --help >"$T/out" 2>&1; expect_rc 0 $? "help"
expect_grep "exit status" "$T/out" "help text"
v=$("$Q" --version); expect_rc 0 $? "version"
case "$v" in "kflcap-query "*) ok ;; *) bad "version text [$v]" ;; esac

# --items
"$Q" --kfl http --items "$ITEMS" >"$T/out" 2>"$T/err"; rc=$?
expect_rc 0 $rc "items http"
expect_eq 2 "$(wc -l <"$T/out")" "items http: two HTTP items"
expect_eq "$(sed -n 1p "$ITEMS")" "$(sed -n 1p "$T/out")" "items: lines printed verbatim"
expect_grep "3 items, 2 matched, 2 malformed, 1 blank" "$T/err" "items summary"
expect_grep "items.jsonl:3: malformed JSON" "$T/err" "malformed line reported"
expect_grep "items.jsonl:5: not a JSON object" "$T/err" "non-object reported"

"$Q" --kfl 'dns and response.answers.*.ip == "10.101.46.75"' --items - <"$ITEMS" >"$T/out" 2>/dev/null
expect_rc 0 $? "items stdin"
expect_eq "$(sed -n 2p "$ITEMS")" "$(cat "$T/out")" "items dns from stdin"

"$Q" --kfl 'http and response.status == 500' --items "$ITEMS" >"$T/out" 2>/dev/null
expect_eq 1 "$(wc -l <"$T/out")" "status 500"
expect_grep '"/api/orders"' "$T/out" "status 500 item"

"$Q" --items "$ITEMS" >"$T/out" 2>/dev/null
expect_eq 3 "$(wc -l <"$T/out")" "no --kfl: everything"

"$Q" -q --kfl 'limit(1)' --items "$ITEMS" >"$T/out" 2>"$T/err"
expect_eq 1 "$(wc -l <"$T/out")" "limit(1)"
expect_eq 0 "$(wc -c <"$T/err")" "--quiet"

"$Q" --kfl 'redact("..Authorization") and request.headers.Authorization == "[REDACTED]"' \
	--items "$ITEMS" >"$T/out" 2>/dev/null
expect_eq 1 "$(wc -l <"$T/out")" "redact: later comparison sees the redacted value"
if grep -q s3cret "$T/out"; then bad "secret printed"; else ok; fi
expect_grep '"Authorization":"\[REDACTED\]"' "$T/out" "redacted output"

"$Q" --kfl 'request.missing == "x"' --items "$ITEMS" >"$T/out" 2>/dev/null
expect_eq 0 "$(wc -l <"$T/out")" "collapse: no match"

"$Q" --kfl 'http &&' --items "$ITEMS" >/dev/null 2>"$T/err"; expect_rc 1 $? "items invalid filter"
expect_grep "column 6" "$T/err" "items invalid filter message"
"$Q" --kfl http --items "$T/nope.jsonl" >/dev/null 2>"$T/err"; expect_rc 1 $? "missing file"
expect_grep "nope.jsonl" "$T/err" "missing file named"

# a long junk line and binary bytes never crash
head -c 200000 /dev/urandom >"$T/junk"
"$Q" --kfl http --items "$T/junk" >/dev/null 2>&1; expect_rc 0 $? "binary input"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
