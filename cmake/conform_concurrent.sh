#!/usr/bin/env bash
# conform_concurrent.sh RMAPLAB SHARED_SCENARIOS: two native scenarios started at the same
# moment by `conform -j 2`, in fresh processes, ROUNDS times. Each must stay equal to its
# kernel observation (the tracers must not count each other's objects), and under
# `make test-asan` no run may leak: libtracefs 1.6's unlocked static caches leaked a strdup'd
# path when two threads opened instances at once (fixed by native::LibtracefsMutex). Without
# the lock the race hit 2 of 40 runs (once tracer start-up got fast), so the sanitizer build's
# 60 rounds miss it with probability ~5 %; the plain build runs 5 rounds. It also caught a
# second race: native::TracingDir's getmntent() shares one static buffer between threads
# (glibc's scanf pushback buffer leaked, 1 run in ~20-40); it now uses getmntent_r.
set -u
rmaplab=$1; shared=$2; rounds=${3:-10}
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: native runs need root (pagemap PFNs, /proc/kpagecount, tracefs)"; exit 77
fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for s in basic-write-fault fork-cow; do
  cp "$shared/$s.rmap" "$shared/$s.native.json" "$dir/" || exit 1
done
for i in $(seq "$rounds"); do
  if ! "$rmaplab" conform "$dir" -j 2 > "$dir/out" 2>&1; then
    echo "round $i failed:"; cat "$dir/out"; exit 1
  fi
done
echo "$rounds rounds of two concurrent native scenarios: equal, no sanitizer report"
