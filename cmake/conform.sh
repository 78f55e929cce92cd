#!/usr/bin/env bash
# conform.sh RMAPLAB DIR...: `rmaplab conform` holds the model to the kernel. Exit 77
# (skipped) with the reason where native runs are impossible.
set -u
rmaplab=$1; shift
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: native runs need root (pagemap PFNs, /proc/kpagecount, tracefs)"; exit 77
fi
exec "$rmaplab" conform "$@" -j 2
