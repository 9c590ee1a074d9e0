#!/bin/bash
# Run every libFuzzer target of a -Dfuzz=true build for a short while, seeded
# with its module's corpus (copied: new inputs never land in the source tree).
#   tests/fuzz/run_all.sh BUILD_DIR [SECONDS]     (docs/fuzzing.md: long runs)
set -uo pipefail
build=$1 secs=${2:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
for exe in $(find "$build/tests/unit" -maxdepth 2 -type f -name 'fuzz_*' -perm -u+x | sort); do
  name=$(basename "$exe") module=$(basename "$(dirname "$exe")")
  grep -qa "INFO: Seed:" "$exe" || continue   # a corpus replayer, not a libFuzzer binary
  work=$(mktemp -d)
  seeds=()
  for d in "$root/tests/unit/$module"/corpus*; do [ -d "$d" ] && seeds+=("$d"); done
  if "$exe" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=0 \
       -artifact_prefix="$work/" "$work" "${seeds[@]}" > "$work/log" 2>&1; then
    pass=$((pass+1)); echo "ok: $module/$name ($(grep -c . "$work/log") log lines)"
  else
    fail=$((fail+1)); echo "FAIL: $module/$name"; tail -30 "$work/log"
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
  fi
  rm -rf "$work"
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
