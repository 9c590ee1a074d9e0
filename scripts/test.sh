#!/bin/bash
# The test command (README, .ci/run): installs what is needed, builds kflcap
# three ways and passes every test:
#   1. release build: every suite (unit, integration, storage, ...)
#   2. debug build with ASan+UBSan: the unit suites
#   3. clang libFuzzer build: a short run of every fuzz target (tests/fuzz/run_all.sh)
# Ends with one line "N passed, N failed" over all three.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"

jobs=${KFLCAP_TEST_JOBS:-2}
status=0

BUILD=$root/build "$root/scripts/build.sh" -Dbuildtype=release
meson test -C build --print-errorlogs --num-processes "$jobs" || status=1

BUILD=$root/build-asan "$root/scripts/build.sh" -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs --num-processes "$jobs" || status=1

CC=clang CXX=clang++ BUILD=$root/build-fuzz "$root/scripts/build.sh" -Dfuzz=true -Dbuildtype=debug
bash "$root/tests/fuzz/run_all.sh" "$root/build-fuzz" "${KFLCAP_FUZZ_SECONDS:-10}" | tee "$root/build-fuzz/fuzz.log" || status=1

python3 - "$root" <<'PY'
import json, os, sys
ok = bad = skip = 0
for b in ("build", "build-asan", "build-fuzz"):
    p = os.path.join(sys.argv[1], b, "meson-logs", "testlog.json")
    if not os.path.exists(p):
        continue
    for line in open(p):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif r == "SKIP":
            skip += 1
        else:
            bad += 1
fz = os.path.join(sys.argv[1], "build-fuzz", "fuzz.log")
if os.path.exists(fz):
    for line in open(fz):
        if line.startswith("ok: "):
            ok += 1
        elif line.startswith("FAIL: "):
            bad += 1
print(f"{ok} passed, {bad} failed, {skip} skipped")
PY
exit $status
