#!/usr/bin/env bash
# native_equals.sh RMAPLAB SCENARIO EXPECTED OUT: `rmaplab native` on SCENARIO equals
# EXPECTED. Exit 77 (skipped) with the reason where native runs are impossible.
# EXPECTED was recorded on a kernel with a zero page; on a kernel without one
# (pvm_no_zero_page=1, docs/zero-page.md) read faults allocate folios instead, so the run
# is compared with the model told the same (`sim --zero-page no`), and EXPECTED with the
# model as recorded (`sim --zero-page yes`): both must hold.
set -u
rmaplab=$1 scenario=$2 expected=$3 out=$4
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: native runs need root (pagemap PFNs, /proc/kpagecount, tracefs)"; exit 77
fi
mkdir -p "$(dirname "$out")"
err=$("$rmaplab" native "$scenario" -o "$out" 2>&1 >/dev/null) || { echo "rmaplab native failed: $err"; exit 1; }
if grep -q "kernel object counts absent" <<<"$err"; then echo "kernel counts absent as root: $err"; exit 1; fi
if grep -q "maps no zero page" <<<"$err"; then
  echo "this kernel maps no zero page: native compared with 'sim --zero-page no'," \
       "the recorded observation with 'sim --zero-page yes'"
  "$rmaplab" sim "$scenario" --zero-page no -o "$out.nozero.sim.json" || exit 1
  "$rmaplab" diff "$out" "$out.nozero.sim.json" || exit 1
  "$rmaplab" sim "$scenario" --zero-page yes -o "$out.zero.sim.json" || exit 1
  exec "$rmaplab" diff "$expected" "$out.zero.sim.json"
fi
"$rmaplab" diff "$expected" "$out"
