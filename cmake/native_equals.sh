#!/usr/bin/env bash
# native_equals.sh RMAPLAB SCENARIO EXPECTED OUT: `rmaplab native` on SCENARIO equals
# EXPECTED. Exit 77 (skipped) with the reason where native runs are impossible.
set -u
rmaplab=$1 scenario=$2 expected=$3 out=$4
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: native runs need root (pagemap PFNs, /proc/kpagecount, tracefs)"; exit 77
fi
mkdir -p "$(dirname "$out")"
err=$("$rmaplab" native "$scenario" -o "$out" 2>&1 >/dev/null) || { echo "rmaplab native failed: $err"; exit 1; }
if grep -q "kernel object counts absent" <<<"$err"; then echo "kernel counts absent as root: $err"; exit 1; fi
"$rmaplab" diff "$expected" "$out"
