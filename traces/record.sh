#!/bin/bash
# Re-records the bundled traces on this machine (root: tracefs, ptrace, pagemap).
#   traces/record.sh [NAME...]     NAME: googletest-build python-tests shell-heavy pgbench-server
# Installs the Debian packages a workload needs when missing. Each trace is written to
# traces/NAME.rmt; `rmaplab replay traces/NAME.rmt --scheme all` replays it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rmaplab=${RMAPLAB:-$root/build/rmaplab}
work=$(mktemp -d /tmp/rmaplab-record.XXXXXX)
pg_bin=/usr/lib/postgresql/15/bin pg_data=""
pg_stop() {  # on every exit path: a server left running would outlive the recording
  [ -n "$pg_data" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1
  return 0
}
trap 'pg_stop; rm -rf "$work"' EXIT

[ "$(id -u)" = 0 ] || { echo "record.sh: needs root" >&2; exit 1; }
[ -x "$rmaplab" ] || { echo "record.sh: $rmaplab not built (make build)" >&2; exit 1; }

need() {  # need PACKAGE...: install the Debian packages that are missing
  local missing=""
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
}

record() {  # record NAME COMMAND...
  local name=$1; shift
  echo "== recording $name: $*"
  "$rmaplab" record -o "$here/$name.rmt" -- "$@"
  ls -l "$here/$name.rmt"
}

# A C/C++ build: `make -j2` of GoogleTest and GoogleMock (Debian's googletest sources).
googletest-build() {
  need googletest cmake make g++
  cmake -S /usr/src/googletest -B "$work/gt" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release >/dev/null
  record googletest-build make -C "$work/gt" -j2 --no-print-directory
}

# An interpreter test run: part of CPython's own regression suite (Debian's python3.11).
python-tests() {
  need python3.11 libpython3.11-testsuite
  record python-tests /usr/bin/python3.11 -m test -q test_json test_textwrap test_heapq \
    test_subprocess test_threading -m 'test_call*' -m 'test_check_*' -m 'test_run*' \
    -m 'test_json*' -m 'test_*wrap*' -m 'test_heap*' -m 'test_various_ops*' -m 'test_join*'
}

# A shell-heavy script: pipelines, command substitutions, subshells (many fork+exec).
shell-heavy() {
  need bash coreutils findutils gawk sed grep
  record shell-heavy /bin/bash "$here/workloads/shell-heavy.sh"
}

# A forking server under load: PostgreSQL, a new backend process per connection
# (pgbench -C), started, loaded and stopped inside the recording.
pgbench-server() {
  need postgresql-15 postgresql-contrib
  local bin=$pg_bin data="$work/pgdata" sock="$work/sock"
  pg_data=$data
  mkdir -p "$sock" && chown postgres "$work" "$sock"
  runuser -u postgres -- "$bin/initdb" -D "$data" -A trust >/dev/null
  cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$sock'
shared_buffers = 16MB
max_connections = 20
huge_pages = off
fsync = off
CONF
  cat >"$work/pgbench.sh" <<SH
set -e
"$bin/pg_ctl" -D "$data" -l "$work/pg.log" -w start >/dev/null
pgbench -h "$sock" -i -s 1 -q postgres 2>/dev/null
pgbench -h "$sock" -C -c 4 -j 2 -t 60 -S postgres | grep -E 'tps|number of transactions actually'
"$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
SH
  chown postgres "$work/pgbench.sh"
  record pgbench-server runuser -u postgres -- /bin/sh "$work/pgbench.sh"
}

all=(googletest-build python-tests shell-heavy pgbench-server)
for name in "${@:-${all[@]}}"; do
  case " ${all[*]} " in *" $name "*) "$name" ;; *) echo "record.sh: unknown trace $name" >&2; exit 2 ;; esac
done
