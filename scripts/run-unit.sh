#!/usr/bin/env bash
# run-unit.sh — run each Criterion unit-test binary given; fail if any fails.
# Prints one summary line "unit: N passed, N failed" at the end.
set -u
pass=0; fail=0
for t in "$@"; do
  if "$t" --jobs=2 >"$t.log" 2>&1; then pass=$((pass+1)); tail -n 1 "$t.log"
  else fail=$((fail+1)); echo "FAILED: $t"; cat "$t.log"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
